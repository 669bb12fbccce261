/* ringexec_run: `ringexec run`, one command on the server as if it were here.
 *
 * Owns the run command line, the process/start request it becomes (argv,
 * cwd, env and envPolicy, PTY and size, timeout) and what a refused start
 * means as an exit code (125/126/127, as docker run). Following the process
 * is ringexec_follow's job; --detach only prints where it runs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringexec.h"
#include "ringexec_follow.h"
#include "ringexec_term.h"

#define RUN_ID_MAX 64		/* the processId: the program's name, this long at most */
#define RUN_TIMEOUT_MAX 86400	/* seconds; the server's timeoutMs limit */

static const char run_usage[] =
	"Usage: ringexec run [OPTION]... [--] CMD [ARG]...\n"
	"Run CMD on the server: its output comes here, its exit status is ringexec's\n"
	"(128+N when signal N ended it).\n"
	"\n"
	"  -t, --tty               give it a PTY sized like this terminal; this terminal goes\n"
	"                          into raw mode and every key is sent (stdin must be a\n"
	"                          terminal for that; else add -i to send stdin)\n"
	"  -i, --interactive       send stdin to it; end of input closes its stdin\n"
	"  -C, --cwd DIR           its working directory (relative: to the server's own);\n"
	"                          default: the server's working directory\n"
	"  -e, --env K=V           set K in its environment; K alone takes K's value from\n"
	"                          here (skipped when unset); repeatable\n"
	"      --env-inherit MODE  what it inherits of the server's environment: all (less\n"
	"                          names matching *KEY*, *SECRET*, *TOKEN*), core (HOME,\n"
	"                          LANG, LC_ALL, LC_CTYPE, LOGNAME, PATH, SHELL, TEMP, TMP,\n"
	"                          TMPDIR, USER; the default) or none (only -e); -e wins\n"
	"      --timeout S         kill it after S seconds (1 to 86400); ringexec exits 124\n"
	"  -d, --detach            start it, print SESSION PROCESS, and leave it running; it\n"
	"                          is killed when the server's --session-ttl passes without\n"
	"                          a `ringexec attach`\n"
	"      --url URL           the server: ws://IP:PORT or unix:///path (default\n"
	"                          $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	"      --token-file FILE   the bearer token (default $RINGEXEC_AUTH_TOKEN)\n"
	"  -h, --help              this text\n"
	"\n"
	"With -t, TERM is passed from here. Ctrl-C (SIGINT) in pipe mode interrupts the\n"
	"process; SIGTERM or SIGHUP to ringexec is passed on and ringexec leaves at once.\n"
	"Exit status: the process's; 124 after --timeout; 125 when ringexec or the server\n"
	"failed; 126 when CMD cannot be executed; 127 when CMD was not found.\n";

struct run_opts {
	bool tty, interactive, detach;
	const char *cwd;
	const char *inherit;
	unsigned timeout_s;
	json_t *env;		/* -e, in order */
	char **argv;
};

enum { RUN_OPT_INHERIT = 0x200, RUN_OPT_TIMEOUT };

static int run_add_env(struct run_opts *ro, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *key;

	if (eq == kv || !kv[0])
		return -1;
	if (!eq) {
		const char *v = getenv(kv);

		if (v)
			json_object_set_new(ro->env, kv, json_string(v));
		return 0;
	}
	key = strndup(kv, (size_t)(eq - kv));
	if (!key)
		return -1;
	json_object_set_new(ro->env, key, json_string(eq + 1));
	free(key);
	return 0;
}

/* Parse argv into ro. -1: exit with *code (help or a usage error). */
static int run_parse(struct cli *cli, struct run_opts *ro, int argc, char **argv, int *code)
{
	static const struct option longs[] = {
		{ "tty", no_argument, NULL, 't' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "cwd", required_argument, NULL, 'C' },
		{ "env", required_argument, NULL, 'e' },
		{ "env-inherit", required_argument, NULL, RUN_OPT_INHERIT },
		{ "timeout", required_argument, NULL, RUN_OPT_TIMEOUT },
		{ "detach", no_argument, NULL, 'd' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*code = CLI_EXIT_RUN;
	optind = 0;	/* 0: glibc forgets main's "+" ordering too */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:tiC:e:dh", longs, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 't': ro->tty = true; break;
		case 'i': ro->interactive = true; break;
		case 'd': ro->detach = true; break;
		case 'C': ro->cwd = optarg; break;
		case 'e':
			if (run_add_env(ro, optarg) < 0) {
				cli_usage_error("run", "bad -e '%s' (expected K=V or K)", optarg);
				return -1;
			}
			break;
		case RUN_OPT_INHERIT:
			if (strcmp(optarg, "all") && strcmp(optarg, "core") && strcmp(optarg, "none")) {
				cli_usage_error("run", "--env-inherit takes all, core or none, not '%s'",
						optarg);
				return -1;
			}
			ro->inherit = optarg;
			break;
		case RUN_OPT_TIMEOUT:
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > RUN_TIMEOUT_MAX) {
				cli_usage_error("run", "--timeout takes whole seconds from 1 to %d, not '%s'",
						RUN_TIMEOUT_MAX, optarg);
				return -1;
			}
			ro->timeout_s = (unsigned)v;
			break;
		case 'h':
			fputs(run_usage, stdout);
			*code = CLI_EXIT_OK;
			return -1;
		case ':':
			cli_usage_error("run", "option '%s' needs a value", argv[optind - 1]);
			return -1;
		case '?':
			cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
			return -1;
		default:
			if (!cli_common_opt(cli, opt, optarg)) {
				cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
				return -1;
			}
		}
	}
	if (optind >= argc) {
		cli_usage_error("run", "no command given");
		return -1;
	}
	ro->argv = argv + optind;
	return 0;
}

/* The processId: the program's base name (the session is new, so it is unique). */
static void run_process_id(const char *prog, char *id, size_t size)
{
	const char *base = strrchr(prog, '/');

	base = base ? base + 1 : prog;
	if (!*base)
		base = "process";
	snprintf(id, size, "%.*s", RUN_ID_MAX, base);
}

static json_t *run_start_params(const struct run_opts *ro, const char *id, const char *cwd_uri,
				bool forward_stdin)
{
	json_t *argv = json_array(), *p;
	const char *term = getenv("TERM");

	for (char **a = ro->argv; *a; a++)
		json_array_append_new(argv, json_string(*a));
	if (ro->tty && term && !json_object_get(ro->env, "TERM"))
		json_object_set_new(ro->env, "TERM", json_string(term));
	p = json_pack("{s:s, s:o, s:s, s:O, s:b, s:b}", "processId", id, "argv", argv, "cwd",
		      cwd_uri, "env", ro->env, "tty", ro->tty, "pipeStdin",
		      forward_stdin && !ro->tty);
	if (strcmp(ro->inherit, "none") != 0)
		json_object_set_new(p, "envPolicy",
				    json_pack("{s:s, s:b, s:[], s:[], s:{}}", "inherit", ro->inherit,
					      "ignoreDefaultExcludes", 0, "exclude", "includeOnly",
					      "set"));
	if (ro->tty) {
		unsigned rows = 24, cols = 80;

		term_size(&rows, &cols);
		json_object_set_new(p, "size", json_pack("{s:I, s:I}", "rows", (json_int_t)rows,
							 "cols", (json_int_t)cols));
	}
	if (ro->timeout_s)
		json_object_set_new(p, "timeoutMs", json_integer((json_int_t)ro->timeout_s * 1000));
	return p;
}

/* A refused start as an exit code: the OS error of the exec, as a shell says it. */
static int run_start_failure(int code, const char *msg)
{
	if (code != -32603 || !msg)
		return CLI_EXIT_RUN;
	if (strstr(msg, "(os error 2)"))	/* ENOENT */
		return CLI_EXIT_NOTFOUND;
	if (strstr(msg, "(os error 13)") || strstr(msg, "(os error 8)") ||	/* EACCES, ENOEXEC */
	    strstr(msg, "(os error 21)") || strstr(msg, "(os error 20)"))	/* EISDIR, ENOTDIR */
		return CLI_EXIT_NOEXEC;
	return CLI_EXIT_RUN;
}

/* After a start failed with ENOENT, EACCES or ENOTDIR: was it the cwd? */
static bool run_cwd_missing(struct rpc *r, const char *cwd_uri)
{
	json_t *resp = rpc_call(r, "fs/getMetadata", json_pack("{s:s}", "path", cwd_uri),
				CLI_CALL_MS);
	json_t *res = json_object_get(resp, "result");
	bool missing = resp && (!res || !json_is_true(json_object_get(res, "isDirectory")));

	json_decref(resp);
	return missing;
}

/* process/start; on a refusal prints the server's message (naming the
 * command, or the cwd when that was what failed) and sets *code. */
static bool run_start(struct rpc *r, json_t *params, const char *prog, const char *cwd,
		      const char *cwd_shown, int *code)
{
	json_t *resp = rpc_call(r, "process/start", params, CLI_CALL_MS), *err;
	char why[128];
	const char *msg;

	if (!resp) {
		cli_error("process/start: %s", rpc_close_code(r) >= 0
						       ? cli_lost_reason(r, why, sizeof(why))
						       : "no answer from the server");
		*code = CLI_EXIT_RUN;
		return false;
	}
	if (json_object_get(resp, "result")) {
		json_decref(resp);
		return true;
	}
	err = json_object_get(resp, "error");
	msg = json_string_value(json_object_get(err, "message"));
	*code = run_start_failure((int)json_integer_value(json_object_get(err, "code")), msg);
	if (*code != CLI_EXIT_RUN && run_cwd_missing(r, cwd)) {
		cli_error("working directory %s: %s", cwd_shown, msg);
		*code = CLI_EXIT_RUN;
	} else {
		cli_error("%s: %s", prog, msg ? msg : "process/start failed");
	}
	json_decref(resp);
	return false;
}

int cli_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts ro = { .inherit = "core", .env = json_object() };
	struct rpc *r = NULL;
	json_t *init = NULL, *params;
	const char *session, *server_cwd;
	char id[RUN_ID_MAX + 1], *cwd = NULL;
	bool stdin_tty = isatty(0), forward;
	int code, sigfd = -1;

	if (run_parse(cli, &ro, argc, argv, &code) < 0)
		goto out;
	code = CLI_EXIT_RUN;
	if (cli_open(cli, NULL, &r, &init) < 0)
		goto out;
	session = json_string_value(json_object_get(init, "sessionId"));
	server_cwd = json_string_value(
		json_object_get(json_object_get(init, "environmentInfo"), "cwd"));
	if (!server_cwd || strncmp(server_cwd, "file:///", 8) != 0)
		server_cwd = "file:///";
	cwd = ro.cwd ? cli_file_uri(ro.cwd, server_cwd) : strdup(server_cwd);
	if (!session || !cwd) {
		cli_error("initialize: %s", session ? "out of memory" : "the server sent no sessionId");
		goto out;
	}
	run_process_id(ro.argv[0], id, sizeof(id));
	forward = !ro.detach && (ro.interactive || (ro.tty && stdin_tty));
	params = run_start_params(&ro, id, cwd, forward);
	if (!ro.detach && (sigfd = follow_signals_open()) < 0) {
		cli_error("signalfd: %s", strerror(-sigfd));
		json_decref(params);
		goto out;
	}
	if (!run_start(r, params, ro.argv[0], cwd, ro.cwd ? ro.cwd : cwd, &code))
		goto out;
	if (ro.detach) {
		printf("%s %s\n", session, id);
		fflush(stdout);
		if (isatty(2))
			fprintf(stderr, "ringexec: detached; follow it with: ringexec attach %s %s\n",
				session, id);
		rpc_close(r, 1000, CLI_CALL_MS);
		r = NULL;
		code = CLI_EXIT_OK;
		goto out;
	}
	struct follow_opts fo = {
		.url = cli->url, .session_id = session, .process_id = id, .tty = ro.tty,
		.raw = ro.tty && stdin_tty, .forward_stdin = forward, .timeout_s = ro.timeout_s,
		.sigfd = sigfd,
	};
	code = follow_run(r, &fo);	/* closes r and sigfd */
	r = NULL;
	sigfd = -1;
out:
	follow_signals_close(sigfd);
	rpc_free(r);
	json_decref(init);
	json_decref(ro.env);
	free(cwd);
	return code;
}
