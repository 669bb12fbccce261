/* ringexec_attach: `ringexec attach`, back to a process of a detached session.
 *
 * Owns resuming the session (initialize with resumeSessionId), finding the
 * process (process/list) and following it from --after-seq on: the output
 * it missed comes first (process/read), then what it writes from now on. A
 * PTY process gets this terminal in raw mode and its keys, as `run -t` does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringexec.h"
#include "ringexec_follow.h"

static const char attach_usage[] =
	"Usage: ringexec attach [OPTION]... SESSION [PROCESS]\n"
	"Resume SESSION (as `ringexec run --detach` printed it) and follow PROCESS (may be\n"
	"left out when the session has one): the output it wrote since --after-seq comes\n"
	"first, then what it writes from now on; its exit status is ringexec's.\n"
	"\n"
	"      --after-seq N       show only output after event N (default 0: all that the\n"
	"                          server kept, at most its --retain-bytes)\n"
	"  -i, --interactive       send stdin to it (a PTY process gets this terminal's keys\n"
	"                          without -i when stdin is a terminal)\n"
	"      --url URL           the server (default $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	"      --token-file FILE   the bearer token (default $RINGEXEC_AUTH_TOKEN)\n"
	"  -h, --help              this text\n"
	"\n"
	"A session is attached to one connection at a time. When ringexec leaves, the\n"
	"session is detached again and the server's --session-ttl starts over.\n";

enum { ATTACH_OPT_AFTER = 0x200 };

int cli_attach(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "after-seq", required_argument, NULL, ATTACH_OPT_AFTER },
		{ "interactive", no_argument, NULL, 'i' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long after = 0;
	bool interactive = false, tty;
	struct rpc *r = NULL;
	json_t *proc = NULL;
	char *end, *id;
	int opt, code = CLI_EXIT_RUN;

	optind = 0;	/* 0: glibc forgets main's "+" ordering too */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ih", longs, NULL)) != -1) {
		switch (opt) {
		case ATTACH_OPT_AFTER:
			errno = 0;
			after = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				cli_usage_error("attach", "--after-seq takes a seq number, not '%s'", optarg);
				return CLI_EXIT_RUN;
			}
			break;
		case 'i':
			interactive = true;
			break;
		case 'h':
			fputs(attach_usage, stdout);
			return CLI_EXIT_OK;
		case ':':
			cli_usage_error("attach", "option '%s' needs a value", argv[optind - 1]);
			return CLI_EXIT_RUN;
		default:
			if (!cli_common_opt(cli, opt, optarg)) {
				cli_usage_error("attach", "unknown option '%s'", argv[optind - 1]);
				return CLI_EXIT_RUN;
			}
		}
	}
	if (optind >= argc || argc - optind > 2) {
		cli_usage_error("attach", optind >= argc ? "no session given" : "too many arguments");
		return CLI_EXIT_RUN;
	}
	if (cli_open(cli, argv[optind], &r, NULL) < 0)
		return CLI_EXIT_RUN;
	proc = cli_find_process(r, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL);
	if (!proc) {
		rpc_close(r, 1000, CLI_CALL_MS);
		return CLI_EXIT_RUN;
	}
	id = strdup(json_string_value(json_object_get(proc, "processId")));
	tty = json_is_true(json_object_get(proc, "tty"));
	json_decref(proc);
	if (!id) {
		rpc_free(r);
		return CLI_EXIT_RUN;
	}
	struct follow_opts fo = {
		.url = cli->url, .session_id = argv[optind], .process_id = id, .tty = tty,
		.raw = tty && isatty(0), .forward_stdin = interactive || (tty && isatty(0)),
		.after_seq = after, .replay = true, .sigfd = -1,
	};
	code = follow_run(r, &fo);
	free(id);
	return code;
}
