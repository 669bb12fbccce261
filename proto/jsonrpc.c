/* jsonrpc: envelope classification and encoding (see jsonrpc.h).
 *
 * Classification is by key presence: "method" with "id" is a request (the
 * id must be a string or an integer), "method" alone a notification, "id"
 * with "result" or "error" a response. Anything else is invalid and
 * answered by the caller with -32600 and id -1.
 */
#include "jsonrpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_SHAPE_REASON "data did not match any variant of untagged enum JSONRPCMessage"

static void rpc_invalid(struct rpc_msg *m, const char *reason)
{
	m->kind = RPC_INVALID;
	snprintf(m->reason, sizeof(m->reason), "%s", reason);
}

void rpc_parse(const char *data, size_t len, struct rpc_msg *m)
{
	json_error_t err;

	memset(m, 0, sizeof(*m));
	m->root = json_loadb(data, len, JSON_DECODE_ANY, &err);
	if (!m->root) {
		snprintf(m->reason, sizeof(m->reason), "%s at line %d column %d", err.text,
			 err.line, err.column);
		m->kind = RPC_INVALID;
		return;
	}
	if (!json_is_object(m->root))
		return rpc_invalid(m, RPC_SHAPE_REASON);

	json_t *method = json_object_get(m->root, "method");
	json_t *id = json_object_get(m->root, "id");
	if (method) {
		if (!json_is_string(method))
			return rpc_invalid(m, RPC_SHAPE_REASON);
		m->method = json_string_value(method);
		json_t *params = json_object_get(m->root, "params");
		m->params = json_is_null(params) ? NULL : params;
		if (!id) {
			m->kind = RPC_NOTIFICATION;
			return;
		}
		if (json_is_string(id)) {
			m->id.is_str = true;
			m->id.str = (char *)json_string_value(id);
			m->id.len = json_string_length(id);
		} else if (json_is_integer(id)) {
			m->id.num = json_integer_value(id);
		} else {
			return rpc_invalid(m, "invalid request id: expected a string or an integer");
		}
		m->kind = RPC_REQUEST;
		return;
	}
	if (id && (json_object_get(m->root, "result") || json_object_get(m->root, "error"))) {
		m->kind = RPC_RESPONSE;
		return;
	}
	rpc_invalid(m, RPC_SHAPE_REASON);
}

void rpc_msg_free(struct rpc_msg *m)
{
	json_decref(m->root);
	m->root = NULL;
}

int rpc_id_copy(struct rpc_id *dst, const struct rpc_id *src)
{
	*dst = *src;
	if (!src->is_str)
		return 0;
	dst->str = malloc(src->len + 1);
	if (!dst->str)
		return -ENOMEM;
	memcpy(dst->str, src->str, src->len);
	dst->str[src->len] = '\0';
	return 0;
}

void rpc_id_free(struct rpc_id *id)
{
	if (id->is_str)
		free(id->str);
	id->str = NULL;
}

static void rpc_write_id(struct jw *w, const struct rpc_id *id)
{
	if (!id)
		jw_i64(w, -1);
	else if (id->is_str)
		jw_str(w, id->str, id->len);
	else
		jw_i64(w, id->num);
}

void rpc_write_error(struct buf *b, const struct rpc_id *id, int code, const char *message)
{
	struct jw w;
	jw_init(&w, b);
	jw_obj_open(&w);
	jw_key(&w, "error");
	jw_obj_open(&w);
	jw_key(&w, "code");
	jw_i64(&w, code);
	jw_key(&w, "message");
	jw_cstr(&w, message);
	jw_obj_close(&w);
	jw_key(&w, "id");
	rpc_write_id(&w, id);
	jw_obj_close(&w);
}

void rpc_result_begin(struct jw *w, const struct rpc_id *id)
{
	jw_obj_open(w);
	jw_key(w, "id");
	rpc_write_id(w, id);
	jw_key(w, "result");
}

void rpc_result_end(struct jw *w)
{
	jw_obj_close(w);
}

void rpc_notification_begin(struct jw *w, const char *method)
{
	jw_obj_open(w);
	jw_key(w, "method");
	jw_cstr(w, method);
	jw_key(w, "params");
}

void rpc_notification_end(struct jw *w)
{
	jw_obj_close(w);
}
