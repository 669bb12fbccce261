/* ringexec_proc: `ringexec ps` and `ringexec kill`, a session's processes.
 *
 * Owns listing a session's processes (process/list) as a table, finding one
 * of them by id, and turning a signal name as people write it (TERM,
 * SIGTERM, 15, terminate) into the protocol's name for process/signal. A
 * session's processes are visible only to that session, so both resume it
 * (--session or $RINGEXEC_SESSION); it must not be attached elsewhere.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ringexec.h"

static const char ps_usage[] =
	"Usage: ringexec ps [OPTION]...\n"
	"List the processes of a session: id, state, exit status, pid on the server, PTY or\n"
	"not, start time and command.\n"
	"\n"
	"  -S, --session ID        the session (default $RINGEXEC_SESSION), as `ringexec\n"
	"                          run --detach` printed it; it must not be attached\n"
	"      --url URL           the server (default $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	"      --token-file FILE   the bearer token (default $RINGEXEC_AUTH_TOKEN)\n"
	"  -h, --help              this text\n";

static const char kill_usage[] =
	"Usage: ringexec kill [OPTION]... PROCESS\n"
	"Send a signal to PROCESS (its whole process group) in a session.\n"
	"\n"
	"  -s, --signal NAME       TERM (default), INT, KILL, HUP, QUIT, USR1, USR2, STOP,\n"
	"                          CONT; also SIGTERM, 15, or the protocol's names\n"
	"                          (terminate, interrupt, kill, hangup, quit, user1, user2,\n"
	"                          stop, continue)\n"
	"  -S, --session ID        the session (default $RINGEXEC_SESSION)\n"
	"      --url URL           the server (default $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	"      --token-file FILE   the bearer token (default $RINGEXEC_AUTH_TOKEN)\n"
	"  -h, --help              this text\n";

const char *cli_session(const struct cli *cli, const char *cmd)
{
	const char *s = cli->session ? cli->session : getenv("RINGEXEC_SESSION");

	if (!s || !*s)
		cli_usage_error(cmd, "no session: a session's processes are visible only to it "
				     "(--session ID or RINGEXEC_SESSION; `ringexec run --detach` "
				     "prints the id)");
	return s && *s ? s : NULL;
}

json_t *cli_find_process(struct rpc *r, const char *session, const char *id)
{
	json_t *res = cli_call(r, "process/list", "process/list", json_object(), NULL);
	json_t *list, *p, *found = NULL;
	size_t i;

	if (!res)
		return NULL;
	list = json_object_get(res, "processes");
	if (!id && json_array_size(list) == 1)
		found = json_array_get(list, 0);
	json_array_foreach(list, i, p) {
		const char *pid = json_string_value(json_object_get(p, "processId"));

		if (id && pid && !strcmp(pid, id))
			found = p;
	}
	if (found)
		json_incref(found);
	else if (id)
		cli_error("no process %s in session %s", id, session);
	else
		cli_error("session %s has %zu processes: name one (ringexec ps --session %s)",
			  session, json_array_size(list), session);
	json_decref(res);
	return found;
}

/* Parse the options of ps and kill (kill also takes -s). -1: exit with *code. */
static int proc_parse(struct cli *cli, const char *cmd, const char *usage, int argc, char **argv,
		      const char **signame, int *code)
{
	static const struct option longs[] = {
		{ "session", required_argument, NULL, 'S' },
		{ "signal", required_argument, NULL, 's' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*code = CLI_EXIT_USAGE;
	optind = 0;	/* 0: glibc forgets main's "+" ordering too */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, signame ? ":S:s:h" : ":S:h", longs, NULL)) != -1) {
		if (opt == 's' && signame) {
			*signame = optarg;
		} else if (opt == 'S') {
			cli->session = optarg;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			*code = CLI_EXIT_OK;
			return -1;
		} else if (opt == ':') {
			cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		} else if (!cli_common_opt(cli, opt, optarg)) {
			cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	return 0;
}

static void ps_print(json_t *list)
{
	int idw = 7;
	json_t *p;
	size_t i;

	json_array_foreach(list, i, p) {
		int n = (int)strlen(json_string_value(json_object_get(p, "processId")) ?: "");

		if (n > idw)
			idw = n;
	}
	printf("%-*s  %-8s %4s  %7s  %-3s  %-8s  %s\n", idw, "PROCESS", "STATE", "EXIT", "PID",
	       "TTY", "STARTED", "COMMAND");
	json_array_foreach(list, i, p) {
		json_t *code = json_object_get(p, "exitCode"), *arg;
		time_t t = (time_t)(json_integer_value(json_object_get(p, "startedAtMs")) / 1000);
		char exitbuf[16] = "-", when[16] = "-";
		struct tm tm;
		size_t k;

		if (json_is_integer(code))
			snprintf(exitbuf, sizeof(exitbuf), "%lld", (long long)json_integer_value(code));
		if (t && localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("%-*s  %-8s %4s  %7lld  %-3s  %-8s ", idw,
		       json_string_value(json_object_get(p, "processId")) ?: "?",
		       json_string_value(json_object_get(p, "state")) ?: "?", exitbuf,
		       (long long)json_integer_value(json_object_get(p, "pid")),
		       json_is_true(json_object_get(p, "tty")) ? "yes" : "no", when);
		json_array_foreach(json_object_get(p, "argv"), k, arg)
			printf(" %s", json_string_value(arg) ?: "");
		putchar('\n');
	}
}

int cli_ps(struct cli *cli, int argc, char **argv)
{
	const char *session;
	struct rpc *r;
	json_t *res;
	int code;

	if (proc_parse(cli, "ps", ps_usage, argc, argv, NULL, &code) < 0)
		return code;
	if (optind < argc) {
		cli_usage_error("ps", "unexpected argument '%s'", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (!(session = cli_session(cli, "ps")))
		return CLI_EXIT_USAGE;
	if (cli_open(cli, session, &r, NULL) < 0)
		return CLI_EXIT_FAIL;
	res = cli_call(r, "process/list", "process/list", json_object(), NULL);
	if (res)
		ps_print(json_object_get(res, "processes"));
	json_decref(res);
	rpc_close(r, 1000, CLI_CALL_MS);
	return res ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* The protocol's name for a signal as written on a command line, or NULL. */
static const char *kill_signal_name(const char *s)
{
	static const struct {
		const char *proto, *sys;
		int num;
	} sigs[] = {
		{ "terminate", "TERM", 15 }, { "interrupt", "INT", 2 }, { "kill", "KILL", 9 },
		{ "hangup", "HUP", 1 },	     { "quit", "QUIT", 3 },	{ "user1", "USR1", 10 },
		{ "user2", "USR2", 12 },     { "stop", "STOP", 19 },	{ "continue", "CONT", 18 },
	};
	const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	char *end;
	long num = strtol(s, &end, 10);
	bool numeric = isdigit((unsigned char)s[0]) && *end == '\0';

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcasecmp(s, sigs[i].proto) || !strcasecmp(name, sigs[i].sys) ||
		    (numeric && num == sigs[i].num))
			return sigs[i].proto;
	return NULL;
}

int cli_kill(struct cli *cli, int argc, char **argv)
{
	const char *session, *signame = "TERM", *sig, *state;
	struct rpc *r;
	json_t *proc, *res = NULL;
	int code;

	if (proc_parse(cli, "kill", kill_usage, argc, argv, &signame, &code) < 0)
		return code;
	if (optind != argc - 1) {
		cli_usage_error("kill", optind >= argc ? "no process given" : "too many arguments");
		return CLI_EXIT_USAGE;
	}
	if (!(sig = kill_signal_name(signame))) {
		cli_usage_error("kill", "unknown signal '%s'", signame);
		return CLI_EXIT_USAGE;
	}
	if (!(session = cli_session(cli, "kill")))
		return CLI_EXIT_USAGE;
	if (cli_open(cli, session, &r, NULL) < 0)
		return CLI_EXIT_FAIL;
	proc = cli_find_process(r, session, argv[optind]);
	state = json_string_value(json_object_get(proc, "state"));
	if (proc && state && (!strcmp(state, "exited") || !strcmp(state, "closed")))
		cli_error("process %s has already exited (status %lld)", argv[optind],
			  (long long)json_integer_value(json_object_get(proc, "exitCode")));
	else if (proc)
		res = cli_call(r, "process/signal", "process/signal",
			       json_pack("{s:s, s:s}", "processId", argv[optind], "signal", sig),
			       NULL);
	json_decref(proc);
	json_decref(res);
	rpc_close(r, 1000, CLI_CALL_MS);
	return res ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
