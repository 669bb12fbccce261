/* tap: the TAP runner the test programs share.
 *
 * Owns the plan line, one "ok"/"not ok" line per case, "# " diagnostics (all
 * on stdout, flushed per line) and a per-case alarm() watchdog that reports
 * a hung case as "not ok" and exits instead of letting the harness time out.
 */
#include "tap.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAP_DEFAULT_TIMEOUT_S 60

int tap_case_failed;
static bool tap_case_skipped;
static char tap_skip_reason[256];
static char tap_timeout_line[512];
static size_t tap_timeout_len;

/* Print text as "# " lines, one per line of text. */
static void tap_comment(const char *prefix, const char *text)
{
	const char *p = text;

	fputs(prefix, stdout);
	for (;;) {
		const char *nl = strchr(p, '\n');

		if (!nl) {
			fputs(p, stdout);
			break;
		}
		fwrite(p, 1, (size_t)(nl - p), stdout);
		fputs("\n# ", stdout);
		p = nl + 1;
	}
	fputc('\n', stdout);
	fflush(stdout);
}

void tap_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	char *msg = NULL, *text = NULL;
	int n;

	tap_case_failed = 1;
	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
	}
	n = asprintf(&text, "FAIL %s:%d: %s%s%s", file, line, expr, msg ? ": " : "",
		     msg ? msg : "");
	tap_comment("# ", n < 0 ? expr : text);
	free(msg);
	if (n >= 0)
		free(text);
}

void tap_diag(const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	tap_comment("# ", msg ? msg : fmt);
	free(msg);
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	tap_case_skipped = true;
	va_start(ap, fmt);
	vsnprintf(tap_skip_reason, sizeof(tap_skip_reason), fmt, ap);
	va_end(ap);
	for (char *p = tap_skip_reason; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

static void tap_on_alarm(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, tap_timeout_line, tap_timeout_len) < 0)
		_exit(1);
	_exit(1);
}

static unsigned tap_timeout_s(void)
{
	const char *e = getenv("TAP_CASE_TIMEOUT");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 && v < 100000 ? (unsigned)v : TAP_DEFAULT_TIMEOUT_S;
}

static bool tap_selected(int argc, char **argv, const char *name)
{
	if (argc <= 1)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int tap_main(int argc, char **argv, const struct tap_case *cases)
{
	struct sigaction sa = { .sa_handler = tap_on_alarm };
	unsigned timeout = tap_timeout_s();
	int ncases = 0, nsel = 0, n = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);	/* a dropped peer is an error value, not a death */
	sigaction(SIGALRM, &sa, NULL);

	while (cases[ncases].name)
		ncases++;
	for (int i = 1; i < argc; i++) {
		bool known = false;

		for (int k = 0; k < ncases; k++)
			known = known || !strcmp(argv[i], cases[k].name);
		if (!known) {
			fprintf(stderr, "%s: no case named %s; cases:", argv[0], argv[i]);
			for (int k = 0; k < ncases; k++)
				fprintf(stderr, " %s", cases[k].name);
			fputc('\n', stderr);
			return 2;
		}
	}
	for (int k = 0; k < ncases; k++)
		nsel += tap_selected(argc, argv, cases[k].name);

	printf("1..%d\n", nsel);
	fflush(stdout);
	for (int k = 0; k < ncases; k++) {
		const struct tap_case *tc = &cases[k];
		int len;

		if (!tap_selected(argc, argv, tc->name))
			continue;
		n++;
		tap_case_failed = 0;
		tap_case_skipped = false;
		tap_skip_reason[0] = '\0';
		len = snprintf(tap_timeout_line, sizeof(tap_timeout_line),
			       "# case %s ran past its %u s watchdog\nnot ok %d - %s # timed out\n",
			       tc->name, timeout, n, tc->name);
		tap_timeout_len = len < 0 ? 0 :
				  (size_t)len < sizeof(tap_timeout_line) ? (size_t)len :
				  sizeof(tap_timeout_line) - 1;
		fflush(stdout);
		alarm(timeout);
		tc->fn();
		alarm(0);
		if (tap_case_failed) {
			failed++;
			printf("not ok %d - %s\n", n, tc->name);
		} else if (tap_case_skipped) {
			printf("ok %d - %s # SKIP %s\n", n, tc->name, tap_skip_reason);
		} else {
			printf("ok %d - %s\n", n, tc->name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
