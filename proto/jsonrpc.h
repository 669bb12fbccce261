/* jsonrpc: the codex dialect of JSON-RPC 2.0 envelopes.
 *
 * Classifies one incoming message (request, notification, response, or
 * invalid with the parser's reason) and writes outgoing results, errors and
 * notifications. The server never sends a "jsonrpc" member and ignores one
 * that arrives. Ids are strings or signed 64-bit integers, echoed with the
 * same JSON type. A \u0000 in a string is decoded like any other character.
 * Pure: buffers in, buffers out.
 */
#ifndef RINGEXEC_JSONRPC_H
#define RINGEXEC_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "jsonw.h"

#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
#define RPC_SESSION_ATTACHED -32010

enum rpc_kind { RPC_REQUEST, RPC_NOTIFICATION, RPC_RESPONSE, RPC_INVALID };

struct rpc_id {
	bool is_str;		/* string id, else integer */
	int64_t num;		/* the integer id */
	char *str;		/* the string id (borrowed in a parsed msg, owned when copied) */
	size_t len;		/* its length */
};

struct rpc_msg {
	enum rpc_kind kind;
	json_t *root;		/* the parsed message, owned */
	const char *method;	/* request/notification: borrowed from root */
	size_t method_len;	/* its length (it may hold a NUL byte) */
	struct rpc_id id;	/* request: borrowed from root */
	json_t *params;		/* borrowed; NULL when absent or null */
	char reason[200];	/* RPC_INVALID: why, in the parser's words */
	/* An object key held a NUL byte (jansson cannot keep one, so it was
	 * decoded as U+FFFD): where its object sits, "params.env" or "" for
	 * the envelope itself. nul_key_found says whether there was one. */
	bool nul_key_found;
	char nul_key_in[96];
};

/* Parse one message. Always fills m (kind RPC_INVALID with a reason on
 * failure); release with rpc_msg_free(). Strings may hold NUL bytes
 * (\u0000): use their lengths. */
void rpc_parse(const char *data, size_t len, struct rpc_msg *m);
void rpc_msg_free(struct rpc_msg *m);

/* Deep copy of an id (for replies sent after the message is freed). 0 or -ENOMEM. */
int rpc_id_copy(struct rpc_id *dst, const struct rpc_id *src);
void rpc_id_free(struct rpc_id *id);

/* {"error":{"code":C,"message":M},"id":ID}; id NULL means -1. False when it
 * could not be written whole (ENOMEM): b then holds a part of it. */
bool rpc_write_error(struct buf *b, const struct rpc_id *id, int code, const char *message);
/* {"id":ID,"result": ... } around a value the caller writes. */
void rpc_result_begin(struct jw *w, const struct rpc_id *id);
void rpc_result_end(struct jw *w);
/* {"method":M,"params": ... } around a value the caller writes. */
void rpc_notification_begin(struct jw *w, const char *method);
void rpc_notification_end(struct jw *w);

#endif
