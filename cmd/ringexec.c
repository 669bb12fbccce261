/* ringexec: the command-line client of ringexecd.
 *
 * Owns main: the global options (--url, --token-file, --version, --help),
 * the table of subcommands and their one-line summaries, and the process's
 * signal state (SIGPIPE ignored: a closed reader is an error value). Each
 * subcommand lives in cmd/ringexec_<job>.c and returns the exit code.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringexec.h"
#include "ringexec_version.h"

static const struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *summary;
} cli_cmds[] = {
	{ "run", cli_run, "run a command on the server (-t: in a PTY, like ssh -t)" },
	{ "attach", cli_attach, "follow a detached process again, missed output first" },
	{ "ps", cli_ps, "list the processes of a session" },
	{ "kill", cli_kill, "send a signal to a process of a session" },
	{ "cp", cli_cp, "copy a file to or from the server" },
	{ "health", cli_health, "ask whether the server is ready (/readyz)" },
};

static void cli_main_usage(FILE *out)
{
	fputs("Usage: ringexec [--url URL] [--token-file FILE] COMMAND [ARG]...\n"
	      "The command-line client of ringexecd, a low-latency exec host.\n\nCommands:\n",
	      out);
	for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		fprintf(out, "  %-8s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
	fputs("\nOptions (before or after COMMAND):\n"
	      "  --url URL          the server: ws://IP:PORT, ws://[IPv6]:PORT or unix:///path\n"
	      "                     (default $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	      "  --token-file FILE  the bearer token, when the server needs one (default\n"
	      "                     $RINGEXEC_AUTH_TOKEN)\n"
	      "  --version          print the version\n"
	      "  -h, --help         this text; `ringexec COMMAND --help` for each command\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "version", no_argument, NULL, 'V' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .url = getenv("RINGEXEC_URL") };
	char *help[3] = { NULL, (char *)"--help", NULL };
	int opt;

	if (!cli.url || !*cli.url)
		cli.url = CLI_DEFAULT_URL;
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", longs, NULL)) != -1) {
		if (opt == 'h') {
			cli_main_usage(stdout);
			return CLI_EXIT_OK;
		}
		if (opt == 'V') {
			printf("ringexec %s\n", RINGEXEC_VERSION);
			return CLI_EXIT_OK;
		}
		if (opt == ':' || !cli_common_opt(&cli, opt, optarg)) {
			cli_error("%s '%s'\nTry 'ringexec --help'.",
				  opt == ':' ? "no value for" : "unknown option", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_main_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 >= argc) {
			cli_main_usage(stdout);
			return CLI_EXIT_OK;
		}
		help[0] = argv[optind + 1];
		argc = 2;
		argv = help;
		optind = 0;
	}
	for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		if (!strcmp(argv[optind], cli_cmds[i].name))
			return cli_cmds[i].fn(&cli, argc - optind, argv + optind);
	cli_error("unknown command '%s'\nTry 'ringexec --help'.", argv[optind]);
	return CLI_EXIT_USAGE;
}
