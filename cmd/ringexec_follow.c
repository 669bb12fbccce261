/* ringexec_follow: the poll() loop that stays with one remote process.
 *
 * Owns the follow state: the next seq to show, the process/read in flight
 * (to replay missed output or fill a gap), the process/write requests in
 * flight (at most FOLLOW_MAX_WRITES: the server answers a write only once it
 * has room, so this is the back-pressure on local stdin), the signalfd, and
 * raw mode while it runs (set aside while SIGTSTP stops us). One poll()
 * waits on the socket, stdin and the signals together; nothing else blocks
 * except writing output to a slow stdout (which is where the server's
 * back-pressure should land) and a send to a server that does not read. It
 * must not print while raw mode is on.
 */
#include "ringexec_follow.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ringexec.h"
#include "ringexec_term.h"

#define FOLLOW_IN_CHUNK (64u << 10)	/* one read of stdin, one process/write */
#define FOLLOW_MAX_WRITES 16		/* process/write requests unanswered at once */
#define FOLLOW_CLOSE_MS 1000		/* waiting for the server's close frame */
#define FOLLOW_RAW_WATCH_MS 500		/* raw mode rechecked this long after a SIGCONT */
#define FOLLOW_RAW_POLL_MS 10

enum follow_in { IN_OFF, IN_OPEN, IN_DONE };

struct follow {
	struct rpc *r;
	const struct follow_opts *o;
	int sigfd;
	uint64_t next_seq;	/* the seq of the next event to show */
	int64_t read_id;	/* the process/read in flight, -1 if none */
	bool exited, closed, timed_out;
	int exit_code;
	enum follow_in in;
	int64_t writes[FOLLOW_MAX_WRITES];	/* ids of unanswered process/write */
	unsigned nwrites;
	uint64_t write_count;	/* for writeIds */
	int leave;		/* >= 0: stop following and exit with this */
	char *inbuf;
	int64_t raw_watch_until;	/* after a SIGCONT: keep raw mode until then */
};

/* ---- requests ---- */

static int64_t follow_send(struct follow *f, const char *method, json_t *params)
{
	json_object_set_new(params, "processId", json_string(f->o->process_id));
	return rpc_send(f->r, method, params);
}

static void follow_signal(struct follow *f, const char *name)
{
	follow_send(f, "process/signal", json_pack("{s:s}", "signal", name));
}

static void follow_resize(struct follow *f)
{
	unsigned rows, cols;

	if (f->o->tty && term_size(&rows, &cols))
		follow_send(f, "process/resize", json_pack("{s:I, s:I}", "rows", (json_int_t)rows,
							   "cols", (json_int_t)cols));
}

/* Ask for everything after the last event shown (once at a time). */
static void follow_request_read(struct follow *f)
{
	if (f->read_id >= 0)
		return;
	f->read_id = follow_send(f, "process/read",
				 json_pack("{s:I}", "afterSeq", (json_int_t)(f->next_seq - 1)));
}

static void follow_write(struct follow *f, const char *data, size_t len, bool close_stdin)
{
	char *b64 = rpc_b64(data, len), wid[32];
	json_t *params;
	int64_t id;

	if (!b64) {
		f->in = IN_DONE;
		return;
	}
	snprintf(wid, sizeof(wid), "w%llu", (unsigned long long)++f->write_count);
	params = json_pack("{s:s, s:s}", "chunk", b64, "writeId", wid);
	free(b64);
	if (close_stdin)
		json_object_set_new(params, "closeStdin", json_true());
	id = follow_send(f, "process/write", params);
	assert(f->nwrites < FOLLOW_MAX_WRITES);	/* stdin is polled only below it */
	if (id >= 0)
		f->writes[f->nwrites++] = id;
}

/* ---- what the server sends ---- */

/* One output chunk (base64) of stream to stdout or stderr. */
static void follow_output(struct follow *f, const char *stream, const char *chunk)
{
	size_t n = 0;
	char *bytes = chunk ? rpc_unb64(chunk, &n) : NULL;
	int fd = stream && !strcmp(stream, "stderr") ? 2 : 1;

	if (bytes && !cli_write_all(fd, bytes, n) && f->leave < 0) {
		/* Our reader went away: end the process as a pipe's SIGPIPE would. */
		follow_signal(f, "terminate");
		f->leave = 128 + SIGPIPE;
	}
	free(bytes);
}

/* Is the event with this seq the next one to show? A later one means
 * something was missed: process/read fetches it (and what came since). */
static bool follow_take_seq(struct follow *f, json_t *params)
{
	json_t *sj = json_object_get(params, "seq");
	uint64_t seq = json_is_integer(sj) ? (uint64_t)json_integer_value(sj) : 0;

	if (seq < f->next_seq)
		return false;
	if (seq > f->next_seq) {
		follow_request_read(f);
		return false;
	}
	f->next_seq++;
	return true;
}

static void follow_exited(struct follow *f, json_t *code, bool timed_out)
{
	if (f->exited)
		return;
	f->exited = true;
	f->exit_code = json_is_integer(code) ? (int)json_integer_value(code) : CLI_EXIT_RUN;
	f->timed_out = timed_out;
}

static void follow_on_note(struct follow *f, const char *method, json_t *params)
{
	const char *pid = json_string_value(json_object_get(params, "processId"));

	if (!pid || strcmp(pid, f->o->process_id) != 0 || !follow_take_seq(f, params))
		return;
	if (!strcmp(method, "process/output"))
		follow_output(f, json_string_value(json_object_get(params, "stream")),
			      json_string_value(json_object_get(params, "chunk")));
	else if (!strcmp(method, "process/exited"))
		follow_exited(f, json_object_get(params, "exitCode"),
			      json_is_true(json_object_get(params, "timedOut")));
	else if (!strcmp(method, "process/closed"))
		f->closed = true;
}

/* The answer to our process/read: the chunks we had not shown, then where
 * the process's events stand (nextSeq covers its exit and close events). */
static void follow_on_read(struct follow *f, json_t *resp)
{
	json_t *res = json_object_get(resp, "result"), *chunk, *next;
	size_t i;

	f->read_id = -1;
	if (!res) {
		term_restore();
		cli_error("reading the output of %s: %s", f->o->process_id,
			  json_string_value(json_object_get(json_object_get(resp, "error"),
							    "message")) ?: "error");
		f->leave = CLI_EXIT_RUN;
		return;
	}
	json_array_foreach(json_object_get(res, "chunks"), i, chunk) {
		json_t *sj = json_object_get(chunk, "seq");
		uint64_t seq = json_is_integer(sj) ? (uint64_t)json_integer_value(sj) : 0;

		if (seq < f->next_seq)
			continue;
		follow_output(f, json_string_value(json_object_get(chunk, "stream")),
			      json_string_value(json_object_get(chunk, "chunk")));
		f->next_seq = seq + 1;
	}
	next = json_object_get(res, "nextSeq");
	if (json_is_integer(next) && (uint64_t)json_integer_value(next) > f->next_seq)
		f->next_seq = (uint64_t)json_integer_value(next);
	if (json_is_true(json_object_get(res, "exited")))
		follow_exited(f, json_object_get(res, "exitCode"), false);
	if (json_is_true(json_object_get(res, "closed")))
		f->closed = true;
}

static void follow_on_write_reply(struct follow *f, unsigned slot, json_t *resp)
{
	const char *status =
		json_string_value(json_object_get(json_object_get(resp, "result"), "status"));

	f->writes[slot] = f->writes[--f->nwrites];
	if (!status || strcmp(status, "accepted") != 0)
		f->in = IN_DONE;	/* stdinClosed, or an error: stop reading stdin */
}

static void follow_on_message(struct follow *f, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *idj = json_object_get(msg, "id");
	int64_t id;

	if (method && !idj) {
		follow_on_note(f, method, json_object_get(msg, "params"));
		return;
	}
	if (!json_is_integer(idj))
		return;
	id = json_integer_value(idj);
	if (id == f->read_id) {
		follow_on_read(f, msg);
		return;
	}
	for (unsigned i = 0; i < f->nwrites; i++) {
		if (f->writes[i] == id) {
			follow_on_write_reply(f, i, msg);
			return;
		}
	}
	/* Answers to process/signal and process/resize need nothing. */
}

/* ---- local input and signals ---- */

static void follow_on_stdin(struct follow *f)
{
	ssize_t n = read(0, f->inbuf, FOLLOW_IN_CHUNK);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		follow_write(f, f->inbuf, (size_t)n, false);
		return;
	}
	/* EOF (or the terminal is gone): the process's stdin ends too. */
	follow_write(f, "", 0, true);
	f->in = IN_DONE;
}

static void follow_on_signal(struct follow *f)
{
	struct signalfd_siginfo si;

	while (read(f->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGWINCH:
			follow_resize(f);
			break;
		case SIGTSTP:	/* Ctrl-Z in pipe mode, or kill -TSTP: stop as asked */
			term_pause();
			kill(getpid(), SIGSTOP);
			__attribute__((fallthrough));	/* running again */
		case SIGCONT:	/* back from a stop: the shell may have reset the terminal */
			if (f->o->raw) {
				term_raw_reapply();
				/* bash restores the job's saved modes when it
				 * continues it, possibly after we set ours:
				 * look again for a little while. */
				f->raw_watch_until = wsc_now_ms() + FOLLOW_RAW_WATCH_MS;
			}
			follow_resize(f);
			break;
		case SIGINT:
			follow_signal(f, "interrupt");
			break;
		case SIGQUIT:
			follow_signal(f, "quit");
			break;
		case SIGTERM:
		case SIGHUP:
			/* Pass it on and leave at once; a process that ignores it
			 * lives until the server's session TTL. */
			follow_signal(f, si.ssi_signo == SIGTERM ? "terminate" : "hangup");
			f->leave = 128 + (int)si.ssi_signo;
			return;
		}
	}
}

static sigset_t follow_old_mask;	/* the mask before follow_signals_open() */

int follow_signals_open(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGCONT);
	sigaddset(&set, SIGTSTP);
	if (sigprocmask(SIG_BLOCK, &set, &follow_old_mask) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		fd = -errno;
		sigprocmask(SIG_SETMASK, &follow_old_mask, NULL);
	}
	return fd;
}

void follow_signals_close(int sigfd)
{
	if (sigfd < 0)
		return;
	close(sigfd);
	sigprocmask(SIG_SETMASK, &follow_old_mask, NULL);
}

/* ---- the loop ---- */

/* Take every message already here (some may have been read during a send,
 * where poll() cannot see them). false once the connection is gone or a
 * send failed (what we send would be lost). */
static bool follow_drain(struct follow *f)
{
	json_t *msg;

	while (f->leave < 0 && !f->closed && (msg = rpc_next(f->r, 0))) {
		follow_on_message(f, msg);
		json_decref(msg);
	}
	return rpc_close_code(f->r) < 0 && rpc_fail_error(f->r) == 0;
}

static void follow_loop(struct follow *f)
{
	while (f->leave < 0 && !f->closed) {
		struct pollfd p[3];
		nfds_t n = 0;
		int in_slot = -1;

		if (!follow_drain(f)) {
			char why[128];

			term_restore();
			cli_error("connection to %s lost: %s; process %s keeps running until its "
				  "session expires: ringexec attach %s %s --after-seq %llu",
				  f->o->url, cli_lost_reason(f->r, why, sizeof(why)),
				  f->o->process_id, f->o->session_id, f->o->process_id,
				  (unsigned long long)(f->next_seq - 1));
			f->leave = CLI_EXIT_RUN;
			return;
		}
		if (f->leave >= 0 || f->closed)
			return;
		p[n++] = (struct pollfd){ .fd = wsc_fd(rpc_wsc(f->r)), .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = f->sigfd, .events = POLLIN };
		if (f->in == IN_OPEN && f->nwrites < FOLLOW_MAX_WRITES) {
			in_slot = (int)n;
			p[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		}
		int timeout = -1;
		if (f->raw_watch_until) {
			int64_t left = f->raw_watch_until - wsc_now_ms();
			if (left <= 0)
				f->raw_watch_until = 0;
			else
				timeout = left < FOLLOW_RAW_POLL_MS ? (int)left : FOLLOW_RAW_POLL_MS;
			term_raw_recheck();
		}
		if (poll(p, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			term_restore();
			cli_error("poll: %s", strerror(errno));
			f->leave = CLI_EXIT_RUN;
			return;
		}
		if (p[1].revents)
			follow_on_signal(f);
		if (f->leave < 0 && in_slot >= 0 && p[in_slot].revents)
			follow_on_stdin(f);
	}
}

/* The exit code once the loop has ended. */
static int follow_result(struct follow *f)
{
	if (f->leave >= 0)
		return f->leave;
	if (f->timed_out) {
		if (f->o->timeout_s)
			cli_error("%s timed out after %u s and was killed", f->o->process_id,
				  f->o->timeout_s);
		else
			cli_error("%s timed out and was killed", f->o->process_id);
		return CLI_EXIT_TIMEOUT;
	}
	return f->exited ? f->exit_code : CLI_EXIT_RUN;
}

int follow_run(struct rpc *r, const struct follow_opts *o)
{
	struct follow f = { .r = r, .o = o, .next_seq = o->after_seq + 1, .read_id = -1,
			    .in = o->forward_stdin ? IN_OPEN : IN_OFF, .leave = -1 };
	int code;

	f.inbuf = malloc(FOLLOW_IN_CHUNK);
	f.sigfd = o->sigfd >= 0 ? o->sigfd : follow_signals_open();
	if (!f.inbuf || f.sigfd < 0) {
		cli_error("setting up: %s", f.inbuf ? strerror(-f.sigfd) : "out of memory");
		follow_signals_close(f.sigfd);
		free(f.inbuf);
		rpc_free(r);
		return CLI_EXIT_RUN;
	}
	if (o->raw) {
		term_raw_enter(0);	/* not a terminal after all: go on cooked */
		follow_resize(&f);	/* attach: the size of this terminal, not the last one's */
	}
	if (o->replay)
		follow_request_read(&f);
	follow_loop(&f);
	term_restore();
	code = follow_result(&f);
	if (rpc_close_code(r) < 0 && rpc_fail_error(r) == 0)
		rpc_close(r, 1000, FOLLOW_CLOSE_MS);	/* after what we sent was read */
	else
		rpc_free(r);
	follow_signals_close(f.sigfd);
	free(f.inbuf);
	return code;
}
