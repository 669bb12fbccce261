/* failalloc: allocation failures on demand, for unit tests of ENOMEM paths.
 *
 * A test built from failalloc_tests in tests/meson.build sends every
 * malloc, calloc, realloc, strdup and strndup (and getrandom) of the
 * objects it links (the project's static libraries and the test itself; not
 * libc's or jansson's own) through these wrappers, which fail on request.
 * No LD_PRELOAD.
 */
#ifndef RINGEXEC_FAILALLOC_H
#define RINGEXEC_FAILALLOC_H

/* From now on the next n allocations succeed and every later one fails
 * (n = 0: all fail); n < 0: none fails. Resets the counters. */
void failalloc_set(long n);
/* From now on only the allocation after the next n fails (n >= 0), the
 * others succeed. Resets the counters. */
void failalloc_one(long n);
/* Allocations asked for since the last failalloc_set(), and how many failed. */
long failalloc_count(void);
long failalloc_failed(void);
/* getrandom() fails with err from now on (0: works again). */
void failalloc_getrandom(int err);

#endif
