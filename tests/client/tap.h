/* tap: a tiny TAP producer for the test programs.
 *
 * A test program lists its cases in a table and calls tap_main(). Each case
 * is one TAP line: "ok N - name" when none of its CHECKs failed. CHECK
 * prints the failed expression and location as a TAP comment and marks the
 * case failed; REQUIRE does the same and returns from the case.
 */
#ifndef RINGEXEC_TAP_H
#define RINGEXEC_TAP_H

#include <stdio.h>

struct tap_case {
	const char *name;
	void (*fn)(void);
};

extern int tap_case_failed;

void tap_fail(const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Print a "# ..." diagnostic line (stdout, flushed). */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Mark the running case skipped ("ok N - name # SKIP reason"); return from it after. */
void tap_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs each case (or only those named in argv[1..]), prints TAP, returns the exit status.
 * cases ends with an entry whose name is NULL. Each case has a watchdog
 * ($TAP_CASE_TIMEOUT seconds, default 60): past it, "not ok" and exit 1. */
int tap_main(int argc, char **argv, const struct tap_case *cases);

#define CHECK(cond) do { if (!(cond)) tap_fail(__FILE__, __LINE__, #cond, NULL); } while (0)
#define CHECKF(cond, ...) do { if (!(cond)) tap_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)
#define REQUIRE(cond) do { if (!(cond)) { tap_fail(__FILE__, __LINE__, #cond, NULL); return; } } while (0)
#define REQUIREF(cond, ...) do { if (!(cond)) { tap_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); return; } } while (0)

#endif
