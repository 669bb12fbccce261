/* jsonrpc: envelope classification and encoding (see jsonrpc.h).
 *
 * Classification is by key presence: "method" with "id" is a request (the
 * id must be a string or an integer), "method" alone a notification, "id"
 * with "result" or "error" a response. Anything else is invalid and
 * answered by the caller with -32600 and id -1.
 *
 * Valid JSON is always decoded, \u0000 included (JSON_ALLOW_NUL). Object
 * keys are the one place jansson cannot hold a NUL: such a message is
 * decoded once more with those escapes masked, and says where the key was,
 * so the request is still answered by its id.
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

/* ---- object keys with \u0000 ---- */

#define RPC_KEY_DEPTH 64	/* deeper than this, a NUL key is not looked for */

struct rpc_level {
	bool object;		/* an object (else an array) */
	bool expect_key;	/* the next string is a member's key */
	size_t key, key_len;	/* the current member's key, as raw text */
};

/* The string starting at data[i] (just past its quote): its end (the
 * closing quote, or len) and whether it holds a \u0000 escape. */
static size_t rpc_scan_string(const char *data, size_t len, size_t i, bool *nul)
{
	*nul = false;
	while (i < len && data[i] != '"') {
		if (data[i] != '\\') {
			i++;
			continue;
		}
		if (i + 5 < len && data[i + 1] == 'u' && memcmp(data + i + 2, "0000", 4) == 0)
			*nul = true;
		i += 2;
	}
	return i < len ? i : len;
}

/* Name the object holding the key at depth d (levels[0..d)): "params.env". */
static void rpc_key_place(const char *data, const struct rpc_level *lv, size_t d, char *out,
			  size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t k = 0; k + 1 < d && o + 1 < n; k++) {
		int w = lv[k].object ? snprintf(out + o, n - o, "%s%.*s", o ? "." : "",
						(int)(lv[k].key_len > 40 ? 40 : lv[k].key_len),
						data + lv[k].key)
				     : snprintf(out + o, n - o, "[]");
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* A copy of data with every \u0000 inside an object key turned into
 * \ufffd (same length), and in place the first such key's object; NULL
 * when no key holds one, when nesting is too deep to tell, or on ENOMEM. */
static char *rpc_mask_nul_keys(const char *data, size_t len, char *place, size_t n)
{
	struct rpc_level lv[RPC_KEY_DEPTH];
	size_t d = 0;
	char *copy = NULL;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		if (c == '{' || c == '[') {
			if (d == RPC_KEY_DEPTH)
				goto none;
			lv[d++] = (struct rpc_level){ .object = c == '{', .expect_key = c == '{' };
		} else if ((c == '}' || c == ']') && d > 0) {
			d--;
		} else if (c == ',' && d > 0 && lv[d - 1].object) {
			lv[d - 1].expect_key = true;
		} else if (c == '"') {
			bool nul;
			size_t end = rpc_scan_string(data, len, i + 1, &nul);
			if (d > 0 && lv[d - 1].object && lv[d - 1].expect_key) {
				lv[d - 1].expect_key = false;
				lv[d - 1].key = i + 1;
				lv[d - 1].key_len = end - (i + 1);
				if (nul && !copy) {
					if (!(copy = malloc(len)))
						return NULL;
					memcpy(copy, data, len);
					rpc_key_place(data, lv, d, place, n);
				}
				for (size_t k = i + 1; nul && k < end; k++) {
					if (data[k] != '\\')
						continue;
					if (k + 5 < len && data[k + 1] == 'u' &&
					    memcmp(data + k + 2, "0000", 4) == 0)
						memcpy(copy + k + 2, "fffd", 4);
					k++;
				}
			}
			i = end;
		}
	}
	return copy;
none:
	free(copy);
	return NULL;
}

void rpc_parse(const char *data, size_t len, struct rpc_msg *m)
{
	json_error_t err;

	memset(m, 0, sizeof(*m));
	m->root = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!m->root) {
		char *masked = rpc_mask_nul_keys(data, len, m->nul_key_in, sizeof(m->nul_key_in));
		if (masked) {
			m->root = json_loadb(masked, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
			free(masked);
		}
		m->nul_key_found = m->root != NULL;
		if (!m->nul_key_found)
			m->nul_key_in[0] = '\0';
	}
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
		m->method_len = json_string_length(method);
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

bool rpc_write_error(struct buf *b, const struct rpc_id *id, int code, const char *message)
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
	return jw_ok(&w);
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
