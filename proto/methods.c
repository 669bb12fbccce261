/* methods: the request handlers of the exec protocol (PROTOCOL §3–§4).
 *
 * Each handler decodes its params (-32602 on failure), passes the gate,
 * applies the method's own checks in the documented order, and answers.
 * Handlers reach processes only through the session and the engine table
 * (pr->ops, engine/engine_ops.h); they never touch sockets.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "config/envconfig.h"
#include "envinfo.h"
#include "envpolicy.h"
#include "fs/fs.h"
#include "ringexec_version.h"
#include "params.h"
#include "proto_int.h"
#include "sbpolicy.h"
#include "uri.h"

#define PROCESS_ID_MAX 256

static void methods_invalid_params(struct conn *c, const struct rpc_id *id, const struct pd_err *e)
{
	conn_reply_error(c, id, pd_err_nomem(e) ? RPC_INTERNAL_ERROR : RPC_INVALID_PARAMS, "%s",
			 e->msg);
}

/* An id from the request, for an error text (it may hold NUL bytes). */
#define METHODS_SHOW_MAX 900
static const char *methods_show(const char *s, size_t len, char out[METHODS_SHOW_MAX])
{
	return pd_show(s, len, out, METHODS_SHOW_MAX);
}

/* The session's process pid, or NULL after answering that it has none. */
static struct sess_proc *methods_known_process(struct conn *c, const struct rpc_id *id,
					       const char *pid, size_t pid_len)
{
	char shown[METHODS_SHOW_MAX];
	struct sess_proc *sp = session_find(c->sess, pid, pid_len);
	if (!sp)
		conn_reply_error(c, id, RPC_INVALID_REQUEST, "unknown process id %s",
				 methods_show(pid, pid_len, shown));
	return sp;
}


/* ---- initialize ---- */

static void method_initialize(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *client, *resume;
	size_t client_len, resume_len;
	char shown[METHODS_SHOW_MAX];
	bool want_binary = false;
	if (pd_object(params, "InitializeParams", &e) < 0 ||
	    pd_string(params, "clientName", true, &client, &client_len, &e) < 0 ||
	    pd_string(params, "resumeSessionId", false, &resume, &resume_len, &e) < 0 ||
	    pd_bool(params, "binaryOutput", false, &want_binary, &e) < 0)
		return methods_invalid_params(c, id, &e);
	if (c->phase != CONN_NEW)
		return conn_reply_error(c, id, RPC_INVALID_REQUEST,
					"initialize may only be sent once per connection");
	struct session *s;
	if (resume) {
		s = idmap_get(&c->pr->sessions, resume, resume_len);
		if (!s)
			return conn_reply_error(c, id, RPC_INVALID_REQUEST, "unknown session id %s",
						methods_show(resume, resume_len, shown));
		if (s->conn)
			return conn_reply_error(c, id, RPC_SESSION_ATTACHED,
						"session %s is already attached to another connection",
						s->id);
	} else {
		int ret = session_new(c->pr, &s);
		if (ret == -ENOMEM)
			return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		if (ret < 0)
			return conn_reply_error(c, id, RPC_INTERNAL_ERROR,
						"no random bytes for a session id: %s (os error %d)",
						strerror(-ret), -ret);
	}
	/* Output from here on takes this connection's choice, a resumed
	 * session's too; a transport without binary messages answers false. */
	c->binary_output = want_binary && c->io->bin_begin;
	/* The result is encoded before the session is taken: a -32603 leaves
	 * neither a new session nor a resumed one behind. */
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "sessionId");
	jw_cstr(&w, s->id);
	jw_key(&w, "environmentInfo");
	envinfo_write(&w);
	jw_key(&w, "server");
	jw_obj_open(&w);
	jw_key(&w, "name");
	jw_cstr(&w, "ringexec");
	jw_key(&w, "version");
	jw_cstr(&w, RINGEXEC_VERSION);
	jw_obj_close(&w);
	if (want_binary) {	/* only a client that asked hears of it */
		jw_key(&w, "binaryOutput");
		jw_bool(&w, c->binary_output);
	}
	jw_obj_close(&w);
	rpc_result_end(&w);
	if (!jw_ok(&w)) {
		if (!resume)
			session_free(s);
		return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	}
	if (resume)
		session_resume(s, c);
	else
		session_attach(s, c);
	c->phase = CONN_INITIALIZING;
	conn_send_buf(c, &c->pr->scratch);
}

/* ---- environment/info, environment/status ---- */

/* These take no params: absent, null or {} (anything else: serde's unit error). */
static bool methods_unit_params(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	if (!params || (json_is_object(params) && json_object_size(params) == 0))
		return true;
	char what[128];
	pd_describe(params, what, sizeof(what));
	conn_reply_error(c, id, RPC_INVALID_PARAMS, "invalid type: %s, expected unit", what);
	return false;
}

static void method_environment_info(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	if (!methods_unit_params(c, id, params) || !conn_gate(c, id, "environment info"))
		return;
	struct jw w = conn_result_begin(c, id);
	envinfo_write(&w);
	conn_result_end(c, id, &w);
}

static void method_environment_status(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	if (!methods_unit_params(c, id, params) || !conn_gate(c, id, "environment status"))
		return;
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "status");
	jw_cstr(&w, "ready");
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
}

/* ---- process/start ---- */

struct start_args {
	const char *process_id;
	size_t process_id_len;
	const json_t *argv;
	const char *cwd;
	const json_t *env;
	bool tty;
	bool pipe_stdin;
	const char *arg0;
	bool has_size;
	uint64_t rows, cols;
	bool has_timeout;
	uint64_t timeout_ms;
	bool has_policy;		/* envPolicy given: env is built from the server's */
	struct envpolicy policy;
	struct sbpolicy sandbox;	/* `sandbox`, decoded (owned) */
};

/* Managed networking is not offered: off is fine, on is refused. */
static const char *const start_unsupported[] = {
	"enforceManagedNetwork", "managedNetwork",
};

#define SANDBOX_UNENFORCEABLE "sandbox intent cannot be enforced on this executor"

/* networkProxy: null, absent or false is fine. Otherwise refused, with the
 * reference's text when it asks for transparent TCP without a managed
 * sandbox (codex 0.171's networkProxy.proxy.transparentTcp). */
static int start_decode_network_proxy(const json_t *params, const struct start_args *a,
				      struct pd_err *e)
{
	const json_t *np = json_object_get(params, "networkProxy");
	if (!np || json_is_null(np) || json_is_false(np))
		return 0;
	const json_t *proxy = json_is_object(np) ? json_object_get(np, "proxy") : NULL;
	const json_t *tt = json_is_object(proxy) ? json_object_get(proxy, "transparentTcp") : NULL;
	if (json_is_true(tt) && !(a->sandbox.present && a->sandbox.enforce))
		snprintf(e->msg, sizeof(e->msg), "transparent TCP requires a managed Linux sandbox");
	else
		snprintf(e->msg, sizeof(e->msg), "networkProxy is not supported by this server");
	return -1;
}

static int start_decode_size(const json_t *params, struct start_args *a, struct pd_err *e)
{
	const json_t *size = json_object_get(params, "size");
	bool has_rows, has_cols;
	if (!size || json_is_null(size))
		return 0;
	if (!json_is_object(size))
		return pd_type_error(size, "struct TerminalSize", "size", e);
	if (pd_u64(size, "rows", "u16", &has_rows, &a->rows, e) < 0 ||
	    pd_u64(size, "cols", "u16", &has_cols, &a->cols, e) < 0)
		return -1;
	if (!has_rows || !has_cols || a->rows < 1 || a->rows > 1000 || a->cols < 1 || a->cols > 1000) {
		snprintf(e->msg, sizeof(e->msg), "size rows and cols must be 1 to 1000");
		return -1;
	}
	a->has_size = true;
	return 0;
}

static int start_decode(const json_t *params, struct start_args *a, struct pd_err *e)
{
	memset(a, 0, sizeof(*a));
	if (pd_object(params, "ExecParams", e) < 0 ||
	    pd_string(params, "processId", true, &a->process_id, &a->process_id_len, e) < 0 ||
	    pd_strings(params, "argv", true, &a->argv, e) < 0 ||
	    pd_string(params, "cwd", true, &a->cwd, NULL, e) < 0 ||
	    pd_string_map(params, "env", true, &a->env, e) < 0 ||
	    pd_bool(params, "tty", true, &a->tty, e) < 0 ||
	    pd_bool(params, "pipeStdin", false, &a->pipe_stdin, e) < 0 ||
	    pd_string(params, "arg0", false, &a->arg0, NULL, e) < 0 ||
	    start_decode_size(params, a, e) < 0 ||
	    pd_u64(params, "timeoutMs", "u64", &a->has_timeout, &a->timeout_ms, e) < 0 ||
	    envpolicy_decode(params, &a->has_policy, &a->policy, e) < 0 ||
	    sbpolicy_decode(json_object_get(params, "sandbox"), &a->sandbox, e) < 0)
		return -1;
	/* `metadata` (any JSON) is accepted and ignored. */
	if (a->has_timeout && (a->timeout_ms < 1 || a->timeout_ms > 86400000)) {
		snprintf(e->msg, sizeof(e->msg), "timeoutMs must be 1 to 86400000");
		return -1;
	}
	for (size_t i = 0; i < sizeof(start_unsupported) / sizeof(start_unsupported[0]); i++) {
		const json_t *v = json_object_get(params, start_unsupported[i]);
		if (v && !json_is_null(v) && !json_is_false(v)) {
			snprintf(e->msg, sizeof(e->msg), "%s is not supported by this server",
				 start_unsupported[i]);
			return -1;
		}
	}
	return start_decode_network_proxy(params, a, e);
}

/* argv and envp as NULL-terminated arrays of borrowed/owned strings. */
struct start_vectors {
	const char **argv;
	char **envp;		/* "K=V", owned */
	size_t envc;
};

static void start_vectors_free(struct start_vectors *v)
{
	envpolicy_free(v->envp);
	free(v->argv);
}

static int start_vectors_build(const struct start_args *a, struct start_vectors *v, size_t max_bytes,
			       struct pd_err *e)
{
	size_t argc = json_array_size(a->argv);
	size_t total = 0;
	memset(v, 0, sizeof(*v));
	v->argv = calloc(argc + 1, sizeof(*v->argv));
	if (!v->argv)
		goto nomem;
	for (size_t i = 0; i < argc; i++) {
		const json_t *s = json_array_get(a->argv, i);
		v->argv[i] = json_string_value(s);
		total += json_string_length(s) + 1;
	}
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)a->env, k, val) {
		(void)val;
		if (!k[0] || strchr(k, '=')) {
			snprintf(e->msg, sizeof(e->msg),
				 "env key `%.100s` must be non-empty and must not contain '='", k);
			return -1;
		}
	}
	/* envPolicy null/absent: exactly env (minus the always-dropped names). */
	extern char **environ;
	v->envp = envpolicy_build(a->has_policy ? &a->policy : NULL, environ, a->env, &v->envc);
	if (!v->envp)
		goto nomem;
	for (size_t i = 0; i < v->envc; i++)
		total += strlen(v->envp[i]) + 1;
	if (total > max_bytes) {
		snprintf(e->msg, sizeof(e->msg), "argv and env together exceed %zu bytes", max_bytes);
		return -1;
	}
	return 0;
nomem:
	snprintf(e->msg, sizeof(e->msg), "out of memory");
	return -1;
}

static const char *start_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* The sandbox the process runs under, resolved against its environment.
 * NULL without one (or with nothing to confine); *fail set on a reply. */
static const struct sandbox_policy *start_sandbox(struct conn *c, const struct rpc_id *id,
						  struct start_args *a,
						  const struct start_vectors *v, bool *fail)
{
	struct pd_err e;
	*fail = false;
	if (!a->sandbox.present || !a->sandbox.enforce)
		return NULL;
	*fail = true;
	if (!c->pr->ops->sandbox_available(c->pr->eng, NULL)) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, SANDBOX_UNENFORCEABLE);
		return NULL;
	}
	int r = sbpolicy_resolve(&a->sandbox, start_env_get(v->envp, "TMPDIR"), &e);
	if (r == SBP_RESOLVE_INVALID)
		methods_invalid_params(c, id, &e);
	else if (r == SBP_RESOLVE_UNENFORCEABLE)
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, SANDBOX_UNENFORCEABLE);
	else if (r < 0)
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	if (r < 0)
		return NULL;
	*fail = false;
	return &a->sandbox.policy;
}

/* The result. A start whose result cannot be encoded is answered -32603
 * and false: the caller undoes it (no process the client does not know of). */
static bool start_reply(struct conn *c, const struct rpc_id *id, const struct sess_proc *sp,
			bool sandbox)
{
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "processId");
	jw_str(&w, sp->id, sp->id_len);
	jw_key(&w, "sandboxType");
	jw_cstr(&w, sandbox ? "linuxSeccomp" : "none");
	jw_obj_close(&w);
	rpc_result_end(&w);
	if (!jw_ok(&w)) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		return false;
	}
	conn_send_buf(c, &c->pr->scratch);
	return true;
}

static void start_reply_error(struct conn *c, const struct rpc_id *id, bool sandbox, int err)
{
	if (sandbox && err == -EOPNOTSUPP)
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, SANDBOX_UNENFORCEABLE);
	else
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "%s (os error %d)", strerror(-err), -err);
}

/* The process exists: the clock, the timeout, and (for a deferred start
 * after the spawn) nothing more to do but answer. */
static void start_running(struct sess_proc *sp, uint64_t timeout_ms)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sp->started_at_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	if (timeout_ms)
		session_arm_timeout(sp, timeout_ms);
}

void methods_start_done(struct sess_proc *sp, int err)
{
	struct session *s = sp->s;
	struct conn *c = s->conn && s->attach_gen == sp->start_gen ? s->conn : NULL;
	bool sandbox = sp->start_sandbox;
	sp->start_pending = false;
	if (err < 0) {
		if (c)
			start_reply_error(c, &sp->start_id, sandbox, err);
		session_entry_drop(sp);
		return;
	}
	start_running(sp, sp->start_timeout_ms);
	if (c && !start_reply(c, &sp->start_id, sp, sandbox)) {
		session_entry_drop(sp);
		return;
	}
	rpc_id_free(&sp->start_id);
}

static void start_spawn(struct conn *c, const struct rpc_id *id, struct start_args *a,
			struct start_vectors *v, const char *cwd)
{
	bool fail;
	const struct sandbox_policy *sb = start_sandbox(c, id, a, v, &fail);
	if (fail)
		return;
	struct proc_spec spec = {
		.argv = v->argv,
		.arg0 = a->arg0,
		.envp = (const char *const *)v->envp,
		.cwd = cwd,
		.tty = a->tty,
		.pipe_stdin = a->pipe_stdin,
		.rows = a->has_size ? (unsigned short)a->rows : 24,
		.cols = a->has_size ? (unsigned short)a->cols : 80,
		.sandbox = sb,
	};
	int err = 0;
	struct sess_proc *sp = session_start(c->sess, a->process_id, a->process_id_len, &spec, &err);
	if (!sp) {
		start_reply_error(c, id, sb != NULL, err);
		return;
	}
	session_keep_argv(sp, v->argv);
	uint64_t timeout = a->has_timeout ? a->timeout_ms : 0;
	if (err == -EINPROGRESS) {
		/* Its sandbox is being made ready: the answer comes with the
		 * spawn (STARTING meanwhile: writes answer `starting`). */
		if (rpc_id_copy(&sp->start_id, id) < 0) {
			conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
			session_entry_drop(sp);
			return;
		}
		sp->start_pending = true;
		sp->start_gen = c->sess->attach_gen;
		sp->start_sandbox = a->sandbox.present;
		sp->start_timeout_ms = timeout;
		return;
	}
	start_running(sp, timeout);
	if (!start_reply(c, id, sp, a->sandbox.present))
		session_entry_drop(sp);
}

static void method_process_start(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct start_args a;
	struct pd_err e;
	if (start_decode(params, &a, &e) < 0) {
		sbpolicy_free(&a.sandbox);
		return methods_invalid_params(c, id, &e);
	}
	char *cwd = NULL;
	if (!conn_gate(c, id, "exec"))
		goto out;
	if (a.process_id_len < 1 || a.process_id_len > PROCESS_ID_MAX) {
		conn_reply_error(c, id, RPC_INVALID_PARAMS, "processId must be 1 to 256 bytes");
		goto out;
	}
	if (json_array_size(a.argv) == 0) {
		conn_reply_error(c, id, RPC_INVALID_PARAMS, "argv must not be empty");
		goto out;
	}
	cwd = uri_cwd_path(a.cwd, e.msg, sizeof(e.msg));
	if (!cwd) {
		methods_invalid_params(c, id, &e);
		goto out;
	}

	struct session *s = c->sess;
	struct start_vectors v;
	if (session_find(s, a.process_id, a.process_id_len)) {
		char shown[METHODS_SHOW_MAX];
		conn_reply_error(c, id, RPC_INVALID_REQUEST, "process %s already exists",
				 methods_show(a.process_id, a.process_id_len, shown));
	} else if (s->open_procs >= c->pr->cfg.max_processes) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "too many processes");
	} else if (start_vectors_build(&a, &v, c->pr->cfg.max_spawn_bytes, &e) < 0) {
		start_vectors_free(&v);
		methods_invalid_params(c, id, &e);
	} else if (!v.argv[0][0]) {
		start_vectors_free(&v);
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "missing program for %s spawn",
				 a.tty ? "PTY" : "pipe");
	} else {
		start_spawn(c, id, &a, &v, cwd);
		start_vectors_free(&v);
	}
out:
	free(cwd);
	sbpolicy_free(&a.sandbox);
}

/* ---- process/read ---- */

static void method_process_read(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *pid;
	size_t pid_len;
	bool has_after, has_max, has_wait;
	uint64_t after = 0, max_bytes = 0, wait_ms = 0;
	if (pd_object(params, "ReadParams", &e) < 0 ||
	    pd_string(params, "processId", true, &pid, &pid_len, &e) < 0 ||
	    pd_u64(params, "afterSeq", "u64", &has_after, &after, &e) < 0 ||
	    pd_u64(params, "maxBytes", "usize", &has_max, &max_bytes, &e) < 0 ||
	    pd_u64(params, "waitMs", "u64", &has_wait, &wait_ms, &e) < 0)
		return methods_invalid_params(c, id, &e);
	if (!conn_gate(c, id, "exec"))
		return;
	char shown[METHODS_SHOW_MAX];
	struct sess_proc *sp = methods_known_process(c, id, pid, pid_len);
	if (!sp)
		return;
	if (session_ops(sp)->state(sp->proc) == PROC_STARTING)
		return conn_reply_error(c, id, RPC_INVALID_REQUEST, "process id %s is starting",
					methods_show(pid, pid_len, shown));

	struct jw w = conn_result_begin(c, id);
	uint64_t last;
	if (session_read_result(&w, sp, after, has_max, max_bytes, wait_ms == 0, &last)) {
		if (conn_result_end(c, id, &w) && last)
			session_read_sent(c, sp, last);
		return;
	}
	if (session_wait(c, sp, id, after, has_max, max_bytes, wait_ms) < 0)
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
}

/* ---- process/write ---- */

static void method_process_write(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *pid, *chunk, *write_id;
	size_t pid_len, chunk_len, write_id_len;
	bool close_stdin = false;
	if (pd_object(params, "WriteParams", &e) < 0 ||
	    pd_string(params, "processId", true, &pid, &pid_len, &e) < 0 ||
	    pd_string(params, "chunk", true, &chunk, &chunk_len, &e) < 0 ||
	    pd_string(params, "writeId", false, &write_id, &write_id_len, &e) < 0 ||
	    pd_bool(params, "closeStdin", false, &close_stdin, &e) < 0)
		return methods_invalid_params(c, id, &e);
	char *data = malloc(b64_decoded_max(chunk_len));
	if (!data)
		return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	char why[128];
	long n = b64_decode(data, chunk, chunk_len, why, sizeof(why));
	if (n < 0) {
		free(data);
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "%s for `chunk`", why);
	}
	if (!conn_gate(c, id, "exec"))
		goto out;
	if (write_id && write_id_len == 0) {
		conn_reply_error(c, id, RPC_INVALID_PARAMS, "writeId must not be empty");
		goto out;
	}

	struct sess_proc *sp = session_find(c->sess, pid, pid_len);
	if (!sp) {
		struct jw w = conn_result_begin(c, id);
		jw_obj_open(&w);
		jw_key(&w, "status");
		jw_cstr(&w, "unknownProcess");
		jw_obj_close(&w);
		conn_result_end(c, id, &w);
		goto out;
	}
	/* session_write takes data (it may hold the write until stdin has room). */
	if (session_write(c, sp, id, data, (size_t)n, close_stdin, write_id, write_id_len) == 0)
		return;
	conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
out:
	free(data);
}

/* ---- process/terminate ---- */

static void method_process_terminate(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *pid;
	size_t pid_len;
	bool has_grace;
	uint64_t grace_ms = 0;
	if (pd_object(params, "TerminateParams", &e) < 0 ||
	    pd_string(params, "processId", true, &pid, &pid_len, &e) < 0 ||
	    pd_u64(params, "graceMs", "u64", &has_grace, &grace_ms, &e) < 0)
		return methods_invalid_params(c, id, &e);
	if (!conn_gate(c, id, "exec"))
		return;
	bool running = false;
	struct sess_proc *sp = session_find(c->sess, pid, pid_len);
	const struct engine_ops *ops = c->pr->ops;
	enum proc_state state = sp ? ops->state(sp->proc) : PROC_CLOSED;
	if (sp && state == PROC_STARTING) {
		/* Its sandbox is being made ready: it is killed the moment it
		 * is spawned (and its start still answers). */
		running = true;
		ops->signal(sp->proc, SIGKILL);
	} else if (sp) {
		running = state == PROC_RUNNING;
		if (running && has_grace && grace_ms > 0)
			session_terminate_grace(sp, grace_ms);
		/* An exited process whose group still holds its output open gets it too. */
		else if (running || state == PROC_EXITED)
			ops->signal(sp->proc, SIGKILL);
	}
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "running");
	jw_bool(&w, running);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
}

/* ---- process/signal ---- */

static const struct {
	const char *name;
	int signo;
} signal_names[] = {
	{ "interrupt", SIGINT }, { "terminate", SIGTERM }, { "kill", SIGKILL },
	{ "hangup", SIGHUP },	 { "quit", SIGQUIT },	   { "user1", SIGUSR1 },
	{ "user2", SIGUSR2 },	 { "stop", SIGSTOP },	   { "continue", SIGCONT },
};

static void method_process_signal(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *pid, *name;
	size_t pid_len;
	if (pd_object(params, "SignalParams", &e) < 0 ||
	    pd_string(params, "processId", true, &pid, &pid_len, &e) < 0 ||
	    pd_string(params, "signal", true, &name, NULL, &e) < 0)
		return methods_invalid_params(c, id, &e);
	int signo = 0;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (strcmp(name, signal_names[i].name) == 0)
			signo = signal_names[i].signo;
	if (!signo)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS,
					"unknown variant `%.64s`, expected one of `interrupt`, `terminate`, `kill`, `hangup`, `quit`, `user1`, `user2`, `stop`, `continue` for `signal`",
					name);
	if (!conn_gate(c, id, "exec"))
		return;
	struct sess_proc *sp = session_find(c->sess, pid, pid_len);
	if (sp && session_ops(sp)->state(sp->proc) == PROC_RUNNING) {
		int ret = session_ops(sp)->signal(sp->proc, signo);
		if (ret < 0 && ret != -ESRCH)
			return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "failed to signal process: %s",
						strerror(-ret));
	}
	conn_reply_empty(c, id);
}

/* ---- process/resize ---- */

static void method_process_resize(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *pid;
	size_t pid_len;
	bool has_rows, has_cols;
	uint64_t rows = 0, cols = 0;
	if (pd_object(params, "ResizeParams", &e) < 0 ||
	    pd_string(params, "processId", true, &pid, &pid_len, &e) < 0 ||
	    pd_u64(params, "rows", "u16", &has_rows, &rows, &e) < 0 ||
	    pd_u64(params, "cols", "u16", &has_cols, &cols, &e) < 0)
		return methods_invalid_params(c, id, &e);
	if (!has_rows)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "missing field `rows`");
	if (!has_cols)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "missing field `cols`");
	if (rows < 1 || rows > 1000 || cols < 1 || cols > 1000)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "rows and cols must be 1 to 1000");
	if (!conn_gate(c, id, "exec"))
		return;
	char shown[METHODS_SHOW_MAX];
	struct sess_proc *sp = methods_known_process(c, id, pid, pid_len);
	if (!sp)
		return;
	int ret = session_ops(sp)->resize(sp->proc, (unsigned short)rows, (unsigned short)cols);
	if (ret == -ENOTTY)
		return conn_reply_error(c, id, RPC_INVALID_REQUEST, "process %s is not a tty",
					methods_show(pid, pid_len, shown));
	if (ret < 0 && ret != -EBADF)
		return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "failed to resize: %s",
					strerror(-ret));
	conn_reply_empty(c, id);
}

/* ---- process/list ---- */

static const char *const list_state_names[] = {
	[PROC_STARTING] = "starting",
	[PROC_RUNNING] = "running",
	[PROC_EXITED] = "exited",
	[PROC_CLOSED] = "closed",
};

static void method_process_list(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	if (params && !json_is_object(params)) {
		struct pd_err e;
		pd_object(params, "ListParams", &e);
		return methods_invalid_params(c, id, &e);
	}
	if (!conn_gate(c, id, "exec"))
		return;
	struct session *s = c->sess;
	const struct engine_ops *ops = c->pr->ops;
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "processes");
	jw_arr_open(&w);
	for (struct dlist *n = s->order.next; n != &s->order; n = n->next) {
		struct sess_proc *sp = container_of(n, struct sess_proc, link);
		uint64_t exit_seq;
		int code;
		jw_obj_open(&w);
		jw_key(&w, "processId");
		jw_str(&w, sp->id, sp->id_len);
		jw_key(&w, "pid");
		jw_i64(&w, ops->pid(sp->proc));
		jw_key(&w, "argv");
		jw_arr_open(&w);
		for (char **a = sp->argv; a && *a; a++)
			jw_cstr(&w, *a);
		jw_arr_close(&w);
		jw_key(&w, "tty");
		jw_bool(&w, ops->is_tty(sp->proc));
		jw_key(&w, "state");
		jw_cstr(&w, list_state_names[ops->state(sp->proc)]);
		jw_key(&w, "exitCode");
		if (ops->exit_event(sp->proc, &exit_seq, &code))
			jw_i64(&w, code);
		else
			jw_null(&w);
		jw_key(&w, "startedAtMs");
		jw_u64(&w, sp->started_at_ms);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
}

/* ---- the table ---- */

static const struct method_entry methods_table[] = {
	{ "initialize", method_initialize },
	{ "process/start", method_process_start },
	{ "process/read", method_process_read },
	{ "process/write", method_process_write },
	{ "process/terminate", method_process_terminate },
	{ "process/signal", method_process_signal },
	{ "process/resize", method_process_resize },
	{ "process/list", method_process_list },
	{ "environment/info", method_environment_info },
	{ "environment/status", method_environment_status },
	{ "environmentConfig/read", envconfig_read },
};

method_fn *methods_lookup(const struct method_entry *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return table[i].fn;
	return NULL;
}

method_fn *methods_find(const char *name)
{
	method_fn *fn = methods_lookup(methods_table, sizeof(methods_table) / sizeof(methods_table[0]),
				       name);
	return fn ? fn : fs_methods_find(name);
}
