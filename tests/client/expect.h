/* expect: the checks integration tests make on JSON-RPC replies.
 *
 * Small predicates over jansson values (is this the error with that code
 * and text? is the result exactly this?) and the CHECK_* macros that print
 * what came instead, for tap.h cases.
 */
#ifndef RINGEXEC_EXPECT_H
#define RINGEXEC_EXPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tap.h"

/* Compact JSON of j for diagnostics, "(nothing)" for NULL (4 rotating buffers). */
const char *js(const json_t *j);
/* Milliseconds left until deadline (a wsc_now_ms() value), at least 0. */
int left_ms(int64_t deadline);
/* The error code of a reply, INT_MIN when it is not an error. */
int err_code(const json_t *resp);
/* The error message of a reply, or NULL. */
const char *err_msg(const json_t *resp);
/* resp is the error code with exactly msg (any message when msg is NULL). */
bool is_err(const json_t *resp, int code, const char *msg);
/* resp's result equals want (want is stolen). */
bool result_eq(const json_t *resp, json_t *want);
/* j is a JSON string equal to s. */
bool str_is(const json_t *j, const char *s);

#define CHECK_ERR(resp, code, msg) \
	CHECKF(is_err(resp, code, msg), "got %s; want error %d \"%s\"", js(resp), code, msg)
#define CHECK_RESULT(resp, want) \
	CHECKF(result_eq(resp, want), "got %s; want result %s", js(resp), #want)

#endif
