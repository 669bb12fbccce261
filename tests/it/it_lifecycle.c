/* it_lifecycle: how processes end and what the server leaves behind.
 *
 * Covers process/terminate (running, again after close, unknown, graceMs, an exited
 * process whose group still holds its output), session isolation between connections,
 * a dropped connection killing its processes (--session-ttl 0) and the server serving
 * on, no leaked fds or unreaped children after many starts (orphans included), entry
 * removal after --retain-ms, and SIGTERM: close 1001, processes gone, exit 0.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "procfs.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response or one short process */

static struct server srv;
static bool srv_started;

/* ---- helpers ---- */

static struct rpc *open_conn(const struct server *s)
{
	return s->pid > 0 ? rpc_open(s->url) : NULL;
}

/* process/start params: cwd "/", env {"PATH":"/usr/bin:/bin"}. */
static json_t *start_params(const char *id, const char *const *argv, bool tty)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_pack("{s:s, s:o, s:s, s:{s:s}, s:b}", "processId", id, "argv", a, "cwd", "/",
			 "env", "PATH", "/usr/bin:/bin", "tty", tty);
}

/* Start; true when the result is exactly {"processId":id,"sandboxType":"none"}. */
static bool start_ok(struct rpc *r, json_t *params)
{
	char id[300];
	json_t *resp;
	bool ok;

	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(params, "processId")) ?: "");
	resp = rpc_call(r, "process/start", params, T_MS);
	ok = result_eq(resp, json_pack("{s:s, s:s}", "processId", id, "sandboxType", "none"));
	if (!ok)
		tap_diag("start %s: %s", id, js(resp));
	json_decref(resp);
	return ok;
}

static json_t *terminate_call(struct rpc *r, const char *id)
{
	return rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", id), T_MS);
}

/* Output of id gathered until it holds a newline; returns the number before it. */
static long first_line_number(struct rpc *r, const char *id)
{
	int64_t deadline = wsc_now_ms() + T_MS;
	char buf[256] = "";
	size_t len = 0;

	while (!memchr(buf, '\n', len)) {
		json_t *m = rpc_wait_notification(r, "process/output", id, left_ms(deadline));
		const char *c = json_string_value(json_object_get(json_object_get(m, "params"),
								  "chunk"));
		size_t n = 0;
		char *bytes = c ? rpc_unb64(c, &n) : NULL;

		json_decref(m);
		if (!m)
			return -1;
		if (bytes && len + n < sizeof(buf)) {
			memcpy(buf + len, bytes, n);
			len += n;
			buf[len] = '\0';
		}
		free(bytes);
	}
	return strtol(buf, NULL, 10);
}

/* A shell that prints its pid and becomes `sleep 30`; its pid, or -1. */
static pid_t start_sleeper(struct rpc *r, const char *id, bool ignore_term)
{
	const char *argv[] = { "sh", "-c",
		ignore_term ? "trap '' TERM; echo $$; exec sleep 30" : "echo $$; exec sleep 30",
		NULL };
	long pid;

	if (!start_ok(r, start_params(id, argv, false)))
		return -1;
	pid = first_line_number(r, id);
	return pid > 1 ? (pid_t)pid : -1;
}

static bool no_children_within(pid_t pid, int timeout_ms, char *buf, size_t size)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	for (;;) {
		children_of(pid, buf, size);
		if (!buf[0])
			return true;
		if (wsc_now_ms() >= deadline)
			return false;
		poll(NULL, 0, 10);
	}
}

/* ---- terminate ---- */

static void terminate_running_process(void)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct rpc *r = open_conn(&srv);
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("t", argv, false)));
	resp = terminate_call(r, "t");
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "t", &o, T_MS) == 0);
	CHECKF(o.exit_code == 137 && str_is(json_object_get(o.exited, "signal"), "SIGKILL") &&
	       json_is_false(json_object_get(o.exited, "timedOut")) && o.first_seq == 1 &&
	       o.closed_seq == 2, "exited %s, closed seq %lld", js(o.exited),
	       (long long)o.closed_seq);
	rpc_output_free(&o);
	resp = terminate_call(r, "t");
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 0));
	json_decref(resp);
	resp = terminate_call(r, "nope");
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 0));
	json_decref(resp);
	rpc_free(r);
}

static void terminate_with_grace(void)
{
	static const char *const polite[] = { "sh", "-c",
		"trap 'echo term; exit 3' TERM; echo ready; while :; do sleep 0.05; done", NULL };
	static const char *const stubborn[] = { "sh", "-c",
		"trap '' TERM; echo ready; while :; do sleep 0.05; done", NULL };
	struct rpc *r = open_conn(&srv);
	struct rpc_output o;
	json_t *resp;
	int64_t t0, dt;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("g1", polite, false)));
	resp = rpc_wait_notification(r, "process/output", "g1", T_MS);
	CHECK(resp != NULL);
	json_decref(resp);
	resp = rpc_call(r, "process/terminate",
			json_pack("{s:s, s:i}", "processId", "g1", "graceMs", 2000), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "g1", &o, T_MS) == 0);
	CHECKF(strcmp(o.out, "term\n") == 0 && o.exit_code == 3, "output \"%s\" exited %s",
	       o.all, js(o.exited));
	rpc_output_free(&o);

	REQUIRE(start_ok(r, start_params("g2", stubborn, false)));
	resp = rpc_wait_notification(r, "process/output", "g2", T_MS);
	CHECK(resp != NULL);
	json_decref(resp);
	t0 = wsc_now_ms();
	resp = rpc_call(r, "process/terminate",
			json_pack("{s:s, s:i}", "processId", "g2", "graceMs", 300), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "g2", &o, T_MS) == 0);
	dt = wsc_now_ms() - t0;
	CHECKF(o.exit_code == 137, "exited %s", js(o.exited));
	CHECKF(dt >= 250 && dt < 2500, "SIGKILL came after %lld ms (graceMs 300)", (long long)dt);
	rpc_output_free(&o);
	rpc_free(r);
}

static void terminate_exited_process_kills_its_group(void)
{
	static const char *const argv[] = { "sh", "-c", "sleep 30 & echo $!; exit 0", NULL };
	struct rpc *r = open_conn(&srv);
	struct rpc_output o;
	json_t *resp, *m;
	long pid;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("x", argv, false)));
	pid = first_line_number(r, "x");
	REQUIRE(pid > 1);
	m = rpc_wait_notification(r, "process/exited", "x", T_MS);
	CHECKF(m && json_integer_value(json_object_get(json_object_get(m, "params"), "exitCode")) ==
	       0, "exited: %s", js(m));
	json_decref(m);
	CHECKF(kill((pid_t)pid, 0) == 0, "background sleep %ld already gone", pid);
	/* Exited, so not running; the group still gets SIGKILL and the entry closes. */
	resp = terminate_call(r, "x");
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 0));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "x", &o, T_MS) == 0);
	CHECKF(o.closed, "no process/closed after terminate");
	rpc_output_free(&o);
	CHECKF(pid_gone_within((pid_t)pid, T_MS), "background sleep %ld still exists", pid);
	rpc_free(r);
}

/* ---- sessions and connections ---- */

static void sessions_do_not_share_processes(void)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	static const char *const t[] = { "true", NULL };
	struct rpc *a = open_conn(&srv), *b = open_conn(&srv);
	struct rpc_output o;
	json_t *resp;

	if (!a || !b) {
		rpc_free(a);
		rpc_free(b);
		REQUIRE(a && b);
	}
	REQUIRE(start_ok(a, start_params("p", argv, false)));
	resp = rpc_call(b, "process/read", json_pack("{s:s}", "processId", "p"), T_MS);
	CHECK_ERR(resp, -32600, "unknown process id p");
	json_decref(resp);
	resp = terminate_call(b, "p");
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 0));
	json_decref(resp);
	CHECK(start_ok(b, start_params("p", t, false)));
	CHECK(rpc_collect_full(b, "p", &o, T_MS) == 0 && o.exit_code == 0);
	rpc_output_free(&o);
	/* a's process still runs. */
	resp = terminate_call(a, "p");
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	rpc_free(a);
	rpc_free(b);
}

static void dropped_connection_kills_processes(void)
{
	struct rpc *a, *b;
	struct wsc *c;
	char sid[64] = "", want[128];
	json_t *res, *resp;
	pid_t pid;
	struct rpc_output o;
	static const char *const t[] = { "true", NULL };

	REQUIRE(srv_started);
	REQUIRE(wsc_connect(&c, srv.url, NULL, T_MS) == 0);
	a = rpc_new(c);
	REQUIRE(a);
	res = rpc_result(a, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	snprintf(sid, sizeof(sid), "%s",
		 json_string_value(json_object_get(res, "sessionId")) ?: "");
	json_decref(res);
	REQUIRE(sid[0]);
	{
		static const char note[] = "{\"method\":\"initialized\"}";

		REQUIRE(wsc_send_text(c, note, strlen(note)) == 0);
	}
	pid = start_sleeper(a, "s", false);
	if (pid <= 0)
		rpc_free(a);
	REQUIRE(pid > 0);
	CHECKF(kill(pid, 0) == 0, "sleeper %d not running", (int)pid);
	rpc_free(a);	/* no close frame: the socket just goes */
	CHECKF(pid_gone_within(pid, 5000), "pid %d still exists 5 s after the drop", (int)pid);

	/* --session-ttl 0: nothing to resume. */
	REQUIRE(wsc_connect(&c, srv.url, NULL, T_MS) == 0);
	b = rpc_new(c);
	REQUIRE(b);
	resp = rpc_call(b, "initialize",
			json_pack("{s:s, s:s}", "clientName", "it", "resumeSessionId", sid), T_MS);
	snprintf(want, sizeof(want), "unknown session id %s", sid);
	CHECK_ERR(resp, -32600, want);
	json_decref(resp);
	rpc_free(b);

	/* The server serves on. */
	b = open_conn(&srv);
	REQUIRE(b);
	CHECK(start_ok(b, start_params("t", t, false)));
	CHECK(rpc_collect_full(b, "t", &o, T_MS) == 0 && o.exit_code == 0);
	rpc_output_free(&o);
	rpc_free(b);
}

static void no_leaked_fds_or_children(void)
{
	enum { N = 100, NTTY = 20 };
	static const char *const t[] = { "true", NULL };
	static const char *const orphan[] = { "sh", "-c",
		"sleep 0.3 </dev/null >/dev/null 2>&1 & echo $!", NULL };
	struct rpc *idle = open_conn(&srv), *r;
	char kids[512];
	int base, now, good = 0;
	int64_t req[N + NTTY];
	struct rpc_output o;
	long opid;

	REQUIRE(idle);
	/* Warm up once, then take the baseline with one idle connection open. */
	CHECK(start_ok(idle, start_params("warm", t, false)));
	CHECK(rpc_collect_full(idle, "warm", &o, T_MS) == 0);
	rpc_output_free(&o);
	base = count_fds(srv.pid);
	REQUIRE(base > 0);

	r = open_conn(&srv);
	if (!r)
		rpc_free(idle);
	REQUIRE(r);
	for (int i = 0; i < N + NTTY; i++) {
		char id[16];

		snprintf(id, sizeof(id), "n%03d", i);
		req[i] = rpc_send(r, "process/start", start_params(id, t, i >= N));
	}
	for (int i = 0; i < N + NTTY; i++) {
		char id[16];
		json_t *resp = req[i] > 0 ? rpc_wait_response(r, req[i], T_MS) : NULL;

		snprintf(id, sizeof(id), "n%03d", i);
		if (json_object_get(resp, "result") && rpc_collect_full(r, id, &o, T_MS) == 0) {
			good += o.exit_code == 0;
			if (o.exit_code != 0)
				tap_diag("%s exited %s", id, js(o.exited));
			rpc_output_free(&o);
		} else {
			tap_diag("%s: %s", id, js(resp));
		}
		json_decref(resp);
	}
	CHECKF(good == N + NTTY, "%d of %d ran to exit 0 and closed", good, N + NTTY);
	/* Every closed process has been reaped. */
	children_of(srv.pid, kids, sizeof(kids));
	CHECKF(kids[0] == '\0', "server children after all closed: %s", kids);

	/* An orphaned grandchild is reaped by the subreaper. */
	CHECK(start_ok(r, start_params("orphan", orphan, false)));
	opid = first_line_number(r, "orphan");
	CHECK(rpc_collect_full(r, "orphan", &o, T_MS) == 0);
	rpc_output_free(&o);
	CHECKF(opid > 1 && pid_gone_within((pid_t)opid, 3000), "orphan %ld not reaped", opid);
	CHECKF(no_children_within(srv.pid, 3000, kids, sizeof(kids)),
	       "server children: %s", kids);

	rpc_free(r);	/* the connection goes; its fds must go with it */
	{
		int64_t deadline = wsc_now_ms() + 3000;

		while ((now = count_fds(srv.pid)) != base && wsc_now_ms() < deadline)
			poll(NULL, 0, 10);
	}
	CHECKF(now == base, "server fds: %d before, %d after", base, now);
	if (now != base)
		dump_fds(srv.pid);
	rpc_free(idle);
}

static void retained_entry_removed_after_retain_ms(void)
{
	static const char *const t[] = { "true", NULL };
	struct server s;
	struct rpc *r;
	struct rpc_output o;
	json_t *resp = NULL;
	int64_t deadline;
	int st;

	REQUIRE(server_start(&s, (const char *[]){ "--session-ttl", "0", "--retain-ms", "300",
						    NULL }) == 0);
	r = open_conn(&s);
	if (r) {
		CHECK(start_ok(r, start_params("r", t, false)));
		CHECK(rpc_collect_full(r, "r", &o, T_MS) == 0);
		rpc_output_free(&o);
		/* Right after close it is still there. */
		resp = rpc_call(r, "process/read", json_pack("{s:s}", "processId", "r"), T_MS);
		CHECKF(json_is_true(json_object_get(json_object_get(resp, "result"), "closed")),
		       "read right after close: %s", js(resp));
		json_decref(resp);
		resp = rpc_call(r, "process/start", start_params("r", t, false), T_MS);
		CHECK_ERR(resp, -32600, "process r already exists");
		json_decref(resp);
		/* Then it goes, and the id is free again. */
		deadline = wsc_now_ms() + 3000;
		for (resp = NULL;;) {
			resp = rpc_call(r, "process/read", json_pack("{s:s}", "processId", "r"),
					T_MS);
			if (err_code(resp) != INT_MIN || wsc_now_ms() >= deadline)
				break;
			json_decref(resp);
			poll(NULL, 0, 20);
		}
		CHECK_ERR(resp, -32600, "unknown process id r");
		json_decref(resp);
		CHECK(start_ok(r, start_params("r", t, false)));
		rpc_free(r);
	}
	CHECK(r != NULL);
	st = server_stop(&s);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait status 0x%x", st);
}

static void sigterm_closes_1001_and_kills_processes(void)
{
	struct server s;
	struct rpc *r;
	pid_t pids[4] = { -1, -1, -1, -1 };
	int st, close_code;
	json_t *m;

	REQUIRE(server_start(&s, (const char *[]){ "--session-ttl", "0", NULL }) == 0);
	r = open_conn(&s);
	if (r) {
		pids[0] = start_sleeper(r, "a", false);
		pids[1] = start_sleeper(r, "b", false);
		pids[2] = start_sleeper(r, "c", false);
		pids[3] = start_sleeper(r, "stubborn", true);	/* needs the SIGKILL */
	}
	st = server_stop(&s);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait status 0x%x", st);
	REQUIRE(r);
	/* Whatever came before, the connection ends with a 1001 close. */
	while ((m = rpc_next(r, T_MS)) != NULL)
		json_decref(m);
	close_code = rpc_close_code(r);
	CHECKF(close_code == 1001, "close code %d", close_code);
	for (int i = 0; i < 4; i++) {
		CHECKF(pids[i] > 0, "sleeper %d did not start", i);
		if (pids[i] > 0)
			CHECKF(pid_gone_within(pids[i], 5000), "sleeper %d (pid %d) survived",
			       i, (int)pids[i]);
	}
	rpc_free(r);
}

static void server_exits_0_on_sigterm(void)
{
	int st;

	REQUIRE(srv_started && srv.pid > 0);
	st = server_stop(&srv);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait status 0x%x", st);
}

static const struct tap_case cases[] = {
	{ "terminate_running_process", terminate_running_process },
	{ "terminate_with_grace", terminate_with_grace },
	{ "terminate_exited_process_kills_its_group", terminate_exited_process_kills_its_group },
	{ "sessions_do_not_share_processes", sessions_do_not_share_processes },
	{ "dropped_connection_kills_processes", dropped_connection_kills_processes },
	{ "no_leaked_fds_or_children", no_leaked_fds_or_children },
	{ "retained_entry_removed_after_retain_ms", retained_entry_removed_after_retain_ms },
	{ "sigterm_closes_1001_and_kills_processes", sigterm_closes_1001_and_kills_processes },
	{ "server_exits_0_on_sigterm", server_exits_0_on_sigterm },
	{ NULL, NULL }
};

int main(int argc, char **argv)
{
	int rc;

	srv_started = server_start(&srv, (const char *[]){ "--session-ttl", "0", NULL }) == 0;
	rc = tap_main(argc, argv, cases);
	if (srv.pid > 0)
		server_stop(&srv);
	return rc;
}
