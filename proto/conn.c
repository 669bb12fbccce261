/* conn: one connection's protocol state: the handshake gate, the attached
 * session, pending long-poll reads, and dispatch of each message.
 *
 * Check order for a request (PROTOCOL §3): method known (-32601), params
 * decode (-32602, inside the method), then the gate (-32600). A malformed
 * message gets -32600 with id -1 and the connection stays open. Valid JSON
 * with \u0000 in it is answered by its id like any other request. Nothing
 * sent is ever cut short: a reply that cannot be encoded becomes a whole
 * -32603 "out of memory", and a message that cannot be queued at all closes
 * the connection (its session and output stay for a resume). A request
 * that must wait (process/read) never holds up the ones after it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "fs/fs.h"
#include "params.h"
#include "proto_int.h"

/* The codes stats.errors counts apart (fs.c's -32004 included). */
static const int conn_error_codes[PROTO_ERROR_KINDS - 1] = {
	RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_INVALID_PARAMS, RPC_INTERNAL_ERROR,
	-32004, RPC_SESSION_ATTACHED,
};

int proto_error_code(size_t i)
{
	return i < PROTO_ERROR_KINDS - 1 ? conn_error_codes[i] : 0;
}

static void conn_count_error(struct proto *pr, int code)
{
	size_t i = 0;
	while (i < PROTO_ERROR_KINDS - 1 && conn_error_codes[i] != code)
		i++;
	pr->stats.errors[i]++;
}

void proto_stats(const struct proto *pr, struct proto_stats *out)
{
	*out = pr->stats;
	out->sessions_attached = out->sessions_detached = 0;
	for (const struct dlist *n = pr->all_sessions.next; n != &pr->all_sessions; n = n->next) {
		if (container_of(n, struct session, link)->conn)
			out->sessions_attached++;
		else
			out->sessions_detached++;
	}
}

int proto_new(struct proto **out, const struct engine_ops *ops, struct engine *eng,
	      const struct proto_config *cfg)
{
	struct proto *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pr->ops = ops;
	pr->eng = eng;
	pr->cfg = *cfg;
	idmap_init(&pr->sessions);
	dlist_init(&pr->all_sessions);
	*out = pr;
	return 0;
}

void proto_shutdown(struct proto *pr)
{
	struct dlist *n = pr->all_sessions.next;
	while (n != &pr->all_sessions) {
		struct dlist *next = n->next;
		struct session *s = container_of(n, struct session, link);
		if (!s->conn)
			session_free(s);
		n = next;
	}
}

void proto_free(struct proto *pr)
{
	if (!pr)
		return;
	while (!dlist_empty(&pr->all_sessions))
		session_free(container_of(pr->all_sessions.next, struct session, link));
	idmap_free(&pr->sessions);
	buf_free(&pr->scratch);
	free(pr);
}

struct conn *conn_new(struct proto *pr, const struct conn_io *io, void *io_ctx, const char *peer)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->pr = pr;
	c->io = io;
	c->io_ctx = io_ctx;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	dlist_init(&c->waiters);
	dlist_init(&c->held);
	return c;
}

void conn_send_failed(struct conn *c, int err)
{
	if (err == -ENOMEM)
		log_warn("%s: out of memory for a message: closing the connection", c->peer);
	c->io->close(c->io_ctx, CONN_CLOSE_INTERNAL);
}

int conn_send_buf(struct conn *c, struct buf *b)
{
	int r = c->io->send(c->io_ctx, b->data, b->len);
	buf_reset(b);
	if (r < 0)
		conn_send_failed(c, r);
	return r;
}

int conn_send_note(struct conn *c, struct jw *w)
{
	if (!jw_ok(w)) {
		buf_reset(w->b);
		conn_send_failed(c, -ENOMEM);
		return -ENOMEM;
	}
	return conn_send_buf(c, w->b);
}

void conn_reply_error(struct conn *c, const struct rpc_id *id, int code, const char *fmt, ...)
{
	conn_count_error(c->pr, code);
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))	/* cut to fit: not inside a UTF-8 sequence */
		msg[jw_utf8_prefix(msg, sizeof(msg) - 1)] = '\0';
	struct buf *b = &c->pr->scratch;
	buf_reset(b);
	if (!rpc_write_error(b, id, code, msg)) {
		/* The short answer fits where the long one did not, or nothing does. */
		buf_reset(b);
		if (!rpc_write_error(b, id, RPC_INTERNAL_ERROR, "out of memory")) {
			buf_reset(b);
			conn_send_failed(c, -ENOMEM);
			return;
		}
	}
	conn_send_buf(c, b);
}

struct jw conn_result_begin(struct conn *c, const struct rpc_id *id)
{
	struct jw w;
	buf_reset(&c->pr->scratch);
	jw_init(&w, &c->pr->scratch);
	rpc_result_begin(&w, id);
	return w;
}

bool conn_result_end(struct conn *c, const struct rpc_id *id, struct jw *w)
{
	rpc_result_end(w);
	if (!jw_ok(w)) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		return false;
	}
	return conn_send_buf(c, &c->pr->scratch) == 0;
}

void conn_reply_empty(struct conn *c, const struct rpc_id *id)
{
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
}

bool conn_gate(struct conn *c, const struct rpc_id *id, const char *family)
{
	if (c->phase == CONN_READY)
		return true;
	if (c->phase == CONN_NEW)
		conn_reply_error(c, id, RPC_INVALID_REQUEST,
				 "client must call initialize before using %s methods", family);
	else
		conn_reply_error(c, id, RPC_INVALID_REQUEST,
				 "client must send initialized before using %s methods", family);
	return false;
}

static void conn_on_notification(struct conn *c, const char *method, size_t len)
{
	if (len == strlen("initialized") && memcmp(method, "initialized", len) == 0) {
		if (c->phase == CONN_INITIALIZING)
			c->phase = CONN_READY;
		else if (c->phase == CONN_NEW)
			log_warn("%s: `initialized` before `initialize`, ignored",
				c->peer);
		return;
	}
	char shown[80];
	log_warn("%s: unknown notification `%s` ignored", c->peer,
		 pd_show(method, len > 64 ? 64 : len, shown, sizeof(shown)));
}

/* A request: its method (a name with a NUL byte names none), then a key
 * with a NUL byte in its params (which no params decode can take). */
static void conn_on_request(struct conn *c, const struct rpc_msg *m)
{
	method_fn *fn = memchr(m->method, '\0', m->method_len) ? NULL : methods_find(m->method);
	char shown[600];
	if (!fn) {
		conn_reply_error(c, &m->id, RPC_METHOD_NOT_FOUND,
				 "exec-server stub does not implement `%s` yet",
				 pd_show(m->method, m->method_len, shown, sizeof(shown)));
	} else if (m->nul_key_found && strncmp(m->nul_key_in, "params", 6) == 0) {
		const char *field = m->nul_key_in[6] == '.' ? m->nul_key_in + 7 : "params";
		conn_reply_error(c, &m->id, RPC_INVALID_PARAMS,
				 "`%s` has an object key with a NUL byte, which this server does not accept",
				 field);
	} else {
		fn(c, &m->id, m->params);
	}
}

void conn_check_recv(struct conn *c)
{
	if (!c->io->pause_recv)
		return;
	bool pause = c->held_bytes > CONN_HELD_MAX ||
		     c->io->queued(c->io_ctx) > c->pr->cfg.send_high_water || fs_conn_waiting(c);
	if (pause == c->recv_paused)
		return;
	c->recv_paused = pause;
	c->pr->stats.request_pauses += pause;
	c->io->pause_recv(c->io_ctx, pause);
}

void conn_on_message(struct conn *c, const char *data, size_t len)
{
	struct rpc_msg m;
	rpc_parse(data, len, &m);
	c->pr->stats.requests += m.kind == RPC_REQUEST;
	switch (m.kind) {
	case RPC_INVALID:
		conn_reply_error(c, NULL, RPC_INVALID_REQUEST,
				 "failed to parse websocket JSON-RPC message from exec-server websocket %s: %s",
				 c->peer, m.reason);
		break;
	case RPC_NOTIFICATION:
		conn_on_notification(c, m.method, m.method_len);
		break;
	case RPC_RESPONSE:
		log_warn("%s: unexpected response from client ignored",
			c->peer);
		break;
	case RPC_REQUEST:
		conn_on_request(c, &m);
		break;
	}
	rpc_msg_free(&m);
	conn_check_recv(c);
}

void conn_on_sent(struct conn *c)
{
	if (c->sess)
		session_on_sent(c->sess);
}

void conn_on_drained(struct conn *c)
{
	conn_check_recv(c);
	if (c->sess)
		session_resume_output(c->sess);
}

void conn_on_closed(struct conn *c)
{
	while (!dlist_empty(&c->waiters))
		session_waiter_free(container_of(c->waiters.next, struct waiter, conn_link));
	while (!dlist_empty(&c->held))
		session_held_free(container_of(c->held.next, struct held_write, conn_link));
	fs_conn_closed(c);
	if (c->sess)
		session_detach(c->sess);
	free(c);
}
