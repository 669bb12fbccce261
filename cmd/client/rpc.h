/* rpc: JSON-RPC calls over a wsc connection, for ringexec, tests and examples.
 *
 * rpc_call() sends a request with a fresh integer id and waits for the
 * response with that id; every other message that arrives meanwhile
 * (notifications, other responses) is kept in a backlog, in arrival order,
 * for rpc_next() and rpc_wait_notification() to hand out later.
 *
 * A binary output frame (PROTOCOL §5a, after initialize asked with
 * "binaryOutput": true) is handed out as the process/output notification
 * it stands for, with "raw" (the bytes: a jansson string, use
 * json_string_length) in place of "chunk", and "binaryFrame": true beside
 * "method". Binary frames of another kind are skipped.
 */
#ifndef RINGEXEC_RPC_H
#define RINGEXEC_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsc.h"

struct rpc;

struct rpc *rpc_new(struct wsc *c);	/* takes ownership of c */
void rpc_free(struct rpc *r);		/* aborts the connection */
/* Clean close (close frame with code, wait up to timeout_ms for the peer's), then free. */
void rpc_close(struct rpc *r, int code, int timeout_ms);
struct wsc *rpc_wsc(struct rpc *r);

/* Send {"id":N,"method":method,"params":params} (params stolen; NULL: no params
 * member). Returns N, or -1 on send failure. */
int64_t rpc_send(struct rpc *r, const char *method, json_t *params);
/* Wait for the response with this id; the whole message ({"id","result"} or
 * {"id","error"}), new reference, or NULL on timeout/close. */
json_t *rpc_wait_response(struct rpc *r, int64_t id, int timeout_ms);
/* Send the notification {"method":method,"params":params} (params stolen;
 * NULL: {}). 0 or -errno. */
int rpc_notify(struct rpc *r, const char *method, json_t *params);
/* rpc_send + rpc_wait_response. */
json_t *rpc_call(struct rpc *r, const char *method, json_t *params, int timeout_ms);
/* The "result" of a successful call (new reference), NULL on error/timeout. */
json_t *rpc_result(struct rpc *r, const char *method, json_t *params, int timeout_ms);

/* The next message of any kind (backlog first), new reference; NULL on timeout/close.
 * timeout_ms 0 never waits: it takes what is buffered or readable now, so a
 * program with its own poll() loop on wsc_fd() calls it until it returns NULL
 * (bytes may have been buffered during a send, where poll() cannot see them). */
json_t *rpc_next(struct rpc *r, int timeout_ms);
/* The next notification with this method (NULL: any) whose params.processId equals
 * process_id (NULL: any); skipped messages stay in the backlog. New reference. */
json_t *rpc_wait_notification(struct rpc *r, const char *method, const char *process_id,
			      int timeout_ms);

/* initialize {"clientName":"ringexec-tests"} + initialized. 0 or -1. */
int rpc_handshake(struct rpc *r);
/* wsc_connect + rpc_new + rpc_handshake. NULL on failure. */
struct rpc *rpc_open(const char *url);

/* Helpers for process tests. */
/* Start argv (NULL-terminated) with env {"PATH":"/usr/bin:/bin"}, cwd "/",
 * tty/pipe_stdin as given; returns the whole response message. */
json_t *rpc_start(struct rpc *r, const char *process_id, const char *const *argv,
		  int tty, int pipe_stdin);
/* Collect a process's notifications until process/closed (or timeout):
 * output bytes of every stream concatenated in arrival order into *out
 * (malloc'd, NUL-terminated, *out_len), the exit code in *exit_code (or
 * INT_MIN if no exited came). Any out-pointer may be NULL. Notifications of
 * this process already in the backlog are taken first; others stay there.
 * Returns 0 when closed arrived, -1 on timeout/close. Checks nothing itself;
 * rpc_collect_full() also gives the streams apart and the seqs. */
int rpc_collect(struct rpc *r, const char *process_id, char **out, size_t *out_len,
		int *exit_code, int timeout_ms);

/* What rpc_collect_full() gathered; every buffer malloc'd and NUL-terminated,
 * even after a timeout (then holding what came). Free with rpc_output_free()
 * (all may be the same buffer as out or err when only one stream spoke). */
struct rpc_output {
	char *all;		/* every stream, arrival order */
	size_t all_len;
	char *out;		/* "stdout" and "pty" chunks */
	size_t out_len;
	char *err;		/* "stderr" chunks */
	size_t err_len;
	size_t chunks;		/* process/output notifications seen */
	size_t binary_chunks;	/* of those, binary output frames */
	int exit_code;		/* INT_MIN if no exited came (or exitCode was null) */
	json_t *exited;		/* params of process/exited (new reference) or NULL */
	int64_t first_seq;	/* seq of the first notification taken, -1 if none */
	int64_t exited_seq;	/* -1 if none */
	int64_t closed_seq;	/* -1 if none */
	int seq_errors;		/* seqs not consecutive, or events after closed */
	int bad_chunks;		/* output whose chunk/stream did not decode */
	bool closed;		/* process/closed arrived */
};
int rpc_collect_full(struct rpc *r, const char *process_id, struct rpc_output *o,
		     int timeout_ms);
void rpc_output_free(struct rpc_output *o);

/* After rpc_next/rpc_wait_* returned NULL because the connection closed:
 * the peer's close code (0 for EOF without a close frame); -1 while open. */
int rpc_close_code(const struct rpc *r);
/* The -errno that failed the connection (a send or a receive), 0 if none. */
int rpc_fail_error(const struct rpc *r);
/* quiet: no "rpc: ..." diagnostics on stderr (a program with its own messages). */
void rpc_set_quiet(struct rpc *r, bool quiet);
/* Binary messages received on the connection so far (of any kind). */
size_t rpc_binary_msgs(const struct rpc *r);

/* Base64 helpers for tests (malloc'd results). */
char *rpc_b64(const void *data, size_t len);
void *rpc_unb64(const char *s, size_t *len);

#endif
