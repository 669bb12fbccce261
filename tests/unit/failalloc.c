/* failalloc: the --wrap'd allocators (see failalloc.h). */
#include "failalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
ssize_t __real_getrandom(void *buf, size_t len, unsigned flags);

static long failalloc_left = -1;	/* allocations that still succeed; < 0: all */
static bool failalloc_only_one;		/* after that one, all succeed again */
static long failalloc_seen, failalloc_fails;

void failalloc_set(long n)
{
	failalloc_left = n;
	failalloc_only_one = false;
	failalloc_seen = failalloc_fails = 0;
}

void failalloc_one(long n)
{
	failalloc_set(n);
	failalloc_only_one = true;
}

long failalloc_count(void)
{
	return failalloc_seen;
}

long failalloc_failed(void)
{
	return failalloc_fails;
}

/* Whether this allocation fails. */
static bool failalloc_now(void)
{
	failalloc_seen++;
	if (failalloc_left < 0)
		return false;
	if (failalloc_left > 0) {
		failalloc_left--;
		return false;
	}
	failalloc_fails++;
	if (failalloc_only_one)
		failalloc_left = -1;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return failalloc_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return failalloc_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return failalloc_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return failalloc_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return failalloc_now() ? NULL : __real_strndup(s, n);
}

static int failalloc_random_err;

void failalloc_getrandom(int err)
{
	failalloc_random_err = err;
}

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
	if (failalloc_random_err) {
		errno = failalloc_random_err;
		return -1;
	}
	return __real_getrandom(buf, len, flags);
}
