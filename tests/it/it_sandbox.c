/* it_sandbox: sandboxed processes and fs calls against the real ringexecd,
 * tried the way an attacker inside would (PROTOCOL §4a, issue 10).
 *
 * Every case attempts an escape and checks both the denial inside and that
 * nothing changed outside: writes where the policy grants none (directly,
 * through symlinks, "..", /proc/self/root and /proc/self/fd), mount,
 * umount, unshare, setns, chroot and pivot_root, signals to and ptrace of
 * processes outside, /proc/1 of the sandbox (whose init shares the
 * server's memory), block devices and mknod, io_uring, set-user-ID files,
 * a fork bomb that terminate must take down, sockets of every family but
 * AF_UNIX, a loopback TCP connection, the server's own unix socket; then
 * the fs methods under a policy (tree jobs too, confined slice by slice), sandboxDenied, that the child behaves as
 * an unsandboxed one does (PTY, stdin, signals, timeoutMs, seqs), and that
 * 1,000 sandboxed starts leave no fd, mount or child in the server. Run
 * once as root and once with the server as nobody (it_sandbox_unpriv).
 * Syscall probes are small python3 scripts (ctypes), so each errno is seen.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "expect.h"
#include "procfs.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 10000

static struct server srv;
static bool srv_started;
static char base[128];		/* /var/tmp/ringexec-it-sb.PID: outside every sandbox root */
static char ws[160];		/* base/ws: the workspace (has .git/HEAD) */
static char outside[160];	/* base/outside: not granted by any policy */
static int nseq;

/* ---- policies and starts ---- */

static json_t *entry(const char *access, const char *kind, const char *subpath)
{
	json_t *value = json_pack("{s:s}", "kind", kind);
	if (subpath)
		json_object_set_new(value, "subpath", json_string(subpath));
	json_t *e = json_pack("{s:s, s:{s:s, s:o}}", "access", access, "path", "type", "special",
			      "value", value);
	if (subpath)
		json_object_set_new(e, "missing_path_behavior", json_string("skip"));
	return e;
}

static char *uri(const char *path)
{
	char *u = malloc(strlen(path) + 8);
	sprintf(u, "file://%s", path);
	return u;
}

/* codex's policy for mode "workspace-write" or "read-only" (net: "restricted"
 * or "enabled"), cwd and workspace root ws. */
static json_t *policy(const char *mode, const char *net)
{
	json_t *entries = json_array();
	json_array_append_new(entries, entry("read", "root", NULL));
	if (strcmp(mode, "workspace-write") == 0) {
		json_array_append_new(entries, entry("write", "project_roots", NULL));
		json_array_append_new(entries, entry("write", "slash_tmp", NULL));
		json_array_append_new(entries, entry("write", "tmpdir", NULL));
		const char *subs[] = { ".git", ".agents", ".codex", ".aws" };
		for (size_t i = 0; i < 4; i++)
			json_array_append_new(entries, entry("read", "project_roots", subs[i]));
	}
	char *u = uri(ws);
	json_t *p = json_pack("{s:s, s:[s], s:{s:s, s:s, s:{s:s, s:o}}, s:s, s:b}", "cwd", u,
			      "workspaceRoots", u, "permissions", "type", "managed", "network", net,
			      "file_system", "type", "restricted", "entries", entries,
			      "windowsSandboxLevel", "disabled", "useLegacyLandlock", 0);
	free(u);
	return p;
}

static json_t *start_params(const char *id, json_t *argv, json_t *sandbox, bool tty)
{
	char *u = uri(ws);
	json_t *p = json_pack("{s:s, s:o, s:s, s:{s:s}, s:b, s:o}", "processId", id, "argv", argv,
			      "cwd", u, "env", "PATH", "/usr/local/bin:/usr/bin:/bin", "tty", tty,
			      "sandbox", sandbox ? sandbox : json_null());
	free(u);
	return p;
}

static struct rpc *open_conn(void)
{
	return srv_started ? rpc_open(srv.url) : NULL;
}

/* Run argv under sandbox (stolen; NULL: none) and collect it. The start
 * must succeed with the right sandboxType. 0 or -1. */
static int run_argv(struct rpc *r, json_t *argv, json_t *sandbox, struct rpc_output *o)
{
	char id[32];
	bool sandboxed = sandbox != NULL;
	snprintf(id, sizeof(id), "p%d", ++nseq);
	json_t *resp = rpc_call(r, "process/start", start_params(id, argv, sandbox, false), T_MS);
	json_t *res = json_object_get(resp, "result");
	bool ok = res && str_is(json_object_get(res, "sandboxType"),
				 sandboxed ? "linuxSeccomp" : "none");
	memset(o, 0, sizeof(*o));
	if (!ok) {
		tap_diag("start %s: %s", id, js(resp));
		json_decref(resp);
		o->all = calloc(1, 1);
		o->out = calloc(1, 1);
		o->err = calloc(1, 1);
		o->exit_code = INT_MIN;
		return -1;
	}
	json_decref(resp);
	return rpc_collect_full(r, id, o, T_MS);
}

static int run_sh(struct rpc *r, const char *script, json_t *sandbox, struct rpc_output *o)
{
	return run_argv(r, json_pack("[s,s,s]", "sh", "-c", script), sandbox, o);
}

static int run_py(struct rpc *r, const char *script, json_t *sandbox, struct rpc_output *o)
{
	return run_argv(r, json_pack("[s,s,s]", "python3", "-c", script), sandbox, o);
}

/* The whole of a (proc) file, malloc'd, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (size_t k; buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
		n += k;
		if (cap - n < 2)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static size_t count_lines(const char *path)
{
	char *s = slurp(path);
	size_t n = 0;
	for (const char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* The server's children: the spare PID namespaces it keeps ready (an init
 * and a launcher for each policy in use), and what runs. */
static int children_count(pid_t pid)
{
	char buf[4096];
	children_of(pid, buf, sizeof(buf));
	int n = 0;
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		n++;
	return n;
}

/* The number of children once it has not changed for 200 ms (the init
 * and launcher of what just ran are on their way out). */
static int quiet_children(pid_t pid)
{
	int n = children_count(pid), same = 0;
	for (int64_t end = wsc_now_ms() + 3000; same < 20 && wsc_now_ms() < end; same++) {
		usleep(10000);
		int now = children_count(pid);
		if (now != n) {
			n = now;
			same = 0;
		}
	}
	return n;
}

/* The server's fd count once it has not changed for 200 ms (the next spare
 * is made 2 ms after a spawn: its entry child opens and closes one). */
static int quiet_fds(pid_t pid)
{
	int n = count_fds(pid), same = 0;
	for (int64_t end = wsc_now_ms() + 3000; same < 20 && wsc_now_ms() < end; same++) {
		usleep(10000);
		int now = count_fds(pid);
		if (now != n) {
			n = now;
			same = 0;
		}
	}
	return n;
}

/* Within timeout_ms the server has exactly want children, none a zombie. */
static bool children_settle(pid_t pid, int want, int timeout_ms)
{
	char buf[4096];
	int64_t end = wsc_now_ms() + timeout_ms;
	do {
		children_of(pid, buf, sizeof(buf));
		int n = 0;
		bool zombie = false;
		for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
			char p[64];
			snprintf(p, sizeof(p), "/proc/%s/stat", t);
			char *st = slurp(p);
			char *rp = st ? strrchr(st, ')') : NULL;
			zombie |= rp && rp[1] == ' ' && rp[2] == 'Z';
			free(st);
			n++;
		}
		if (n == want && !zombie)
			return true;
		usleep(10000);
	} while (wsc_now_ms() < end);
	children_of(pid, buf, sizeof(buf));
	tap_diag("children of the server: %s (want %d)", buf, want);
	return false;
}

static bool has(const struct rpc_output *o, const char *s)
{
	return o->all && strstr(o->all, s);
}

#define CHECK_HAS(o, s) CHECKF(has(o, s), "no \"%s\" in: %s", s, (o)->all)
#define CHECK_HASNT(o, s) CHECKF(!has(o, s), "\"%s\" in: %s", s, (o)->all)

static bool exists(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chown(path, server_uid(), server_gid());
}

static char *read_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

/* A python3 probe: run the calls, print "name errno-name" for each. */
#define PY_PRELUDE                                                                    \
	"import ctypes, errno, os\n"                                                  \
	"libc = ctypes.CDLL(None, use_errno=True)\n"                                  \
	"def probe(name, rc):\n"                                                      \
	"    e = ctypes.get_errno() if rc < 0 else 0\n"                               \
	"    print(name, errno.errorcode.get(e, 'OK') if e else 'OK', flush=True)\n"

/* ---- identity and the view ---- */

static void identity_and_own_pid_namespace(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	CHECK(run_sh(r, "echo pid=$$; echo uid=$(id -u); ls /proc | grep -c '^[0-9]*$' | sed 's/^/procs=/';"
		     "grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/self/status; exit 3",
		     policy("workspace-write", "restricted"), &o) == 0);
	CHECK(o.exit_code == 3);
	CHECK_HAS(&o, "pid=2\n");
	char uid[32];
	snprintf(uid, sizeof(uid), "uid=%u\n", (unsigned)server_uid());
	CHECK_HAS(&o, uid);
	/* 1 (init), 2 (sh), and the pipeline: nothing of the host. */
	CHECKF(has(&o, "procs=4\n") || has(&o, "procs=5\n") || has(&o, "procs=3\n"), "%s", o.all);
	CHECK_HAS(&o, "NoNewPrivs:\t1");
	CHECK_HAS(&o, "Seccomp:\t2");
	CHECK_HAS(&o, "CapEff:\t0000000000000000");
	CHECK_HAS(&o, "CapBnd:\t0000000000000000");
	CHECK(o.seq_errors == 0 && o.closed);
	rpc_output_free(&o);
	rpc_free(r);
}

static void writes_only_where_granted(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	char script[2048];
	REQUIRE(r);
	snprintf(script, sizeof(script),
		 "echo ws > ws-file && echo ws-ok; echo t > /tmp/ringexec-it-sb-%d && echo tmp-ok;"
		 "echo x > %s/pwn || echo outside-denied; echo x > .git/HEAD || echo git-denied;"
		 "mkdir .git/hooks2 || echo git-mkdir-denied; echo x > /etc/ringexec-pwn || echo etc-denied",
		 (int)getpid(), outside);
	CHECK(run_sh(r, script, policy("workspace-write", "restricted"), &o) == 0);
	CHECK_HAS(&o, "ws-ok");
	CHECK_HAS(&o, "tmp-ok");
	CHECK_HAS(&o, "outside-denied");
	CHECK_HAS(&o, "git-denied");
	CHECK_HAS(&o, "git-mkdir-denied");
	CHECK_HAS(&o, "etc-denied");
	CHECK_HAS(&o, "Read-only file system");
	CHECK(exists(ws, "ws-file"));
	CHECK(!exists(outside, "pwn") && !exists("/etc", "ringexec-pwn"));
	char head[256];
	snprintf(head, sizeof(head), "%s/.git/HEAD", ws);
	CHECK(strcmp(read_file(head), "ref: refs/heads/main\n") == 0);
	CHECK(!exists(ws, ".git/hooks2"));
	rpc_output_free(&o);

	/* read-only: nowhere, /tmp and the workspace included. */
	snprintf(script, sizeof(script),
		 "echo x > ro-file || echo ws-denied; echo x > /tmp/ringexec-it-ro-%d || echo tmp-denied",
		 (int)getpid());
	CHECK(run_sh(r, script, policy("read-only", "restricted"), &o) == 0);
	CHECK_HAS(&o, "ws-denied");
	CHECK_HAS(&o, "tmp-denied");
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "ringexec-it-ro-%d", (int)getpid());
	CHECK(!exists(ws, "ro-file") && !exists("/tmp", tmp));
	rpc_output_free(&o);
	rpc_free(r);
}

static void symlink_and_dotdot_do_not_escape(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	char script[2048];
	REQUIRE(r);
	snprintf(script, sizeof(script),
		 "ln -s %s out-link && echo linked; echo x > out-link/via-link || echo link-denied;"
		 "ln -s /etc etc-link; echo x >> etc-link/hostname || echo etc-link-denied;"
		 "echo x > ../outside/via-dotdot || echo dotdot-denied;"
		 "echo x > /proc/self/root%s/via-proc-root || echo proc-root-denied;"
		 "exec 3< /etc/hostname; echo x > /proc/self/fd/3 || echo proc-fd-denied;"
		 "cd /proc/self/fd/3/.. 2>/dev/null; cd /proc/self/root/..; pwd; ls %s | head -3",
		 outside, outside, outside);
	CHECK(run_sh(r, script, policy("workspace-write", "restricted"), &o) == 0);
	CHECK_HAS(&o, "linked");
	CHECK_HAS(&o, "link-denied");
	CHECK_HAS(&o, "etc-link-denied");
	CHECK_HAS(&o, "dotdot-denied");
	CHECK_HAS(&o, "proc-root-denied");
	CHECK_HAS(&o, "proc-fd-denied");
	CHECK(!exists(outside, "via-link") && !exists(outside, "via-dotdot") &&
	      !exists(outside, "via-proc-root"));
	rpc_output_free(&o);
	rpc_free(r);
}

/* ---- the kernel's ways out ---- */

static void mounts_and_namespaces_denied(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	size_t before = count_lines("/proc/self/mountinfo");
	CHECK(run_py(r, PY_PRELUDE
		     "probe('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))\n"
		     "probe('umount', libc.umount2(b'/proc', 2))\n"
		     "probe('unshare-mnt', libc.unshare(0x20000))\n"
		     "probe('unshare-user', libc.unshare(0x10000000))\n"
		     "probe('unshare-net', libc.unshare(0x40000000))\n"
		     "fd = os.open('/proc/self/ns/mnt', os.O_RDONLY)\n"
		     "probe('setns', libc.setns(fd, 0))\n"
		     "probe('chroot', libc.chroot(b'/tmp'))\n"
		     "probe('pivot_root', libc.syscall(155, b'/tmp', b'/tmp'))\n"
		     "probe('open_tree', libc.syscall(428, -100, b'/', 1))\n"
		     "probe('fsopen', libc.syscall(430, b'tmpfs', 0))\n",
		     policy("workspace-write", "restricted"), &o) == 0);
	const char *calls[] = { "mount", "umount", "unshare-mnt", "unshare-user", "unshare-net",
				"setns", "chroot", "open_tree", "fsopen" };
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s EPERM\n", calls[i]);
		CHECK_HAS(&o, want);
	}
	CHECKF(has(&o, "pivot_root EPERM") || has(&o, "pivot_root ENOSYS"), "%s", o.all);
	CHECK(count_lines("/proc/self/mountinfo") == before);
	char m[64];
	snprintf(m, sizeof(m), "/proc/%d/mountinfo", (int)srv.pid);
	CHECK(count_lines(m) == before);
	rpc_output_free(&o);
	rpc_free(r);
}

static void processes_outside_are_out_of_reach(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	/* An unsandboxed process of the same session, and the server. */
	json_t *resp = rpc_call(r, "process/start",
				start_params("victim", json_pack("[s,s]", "sleep", "60"), NULL, false), T_MS);
	CHECK(json_object_get(resp, "result"));
	json_decref(resp);
	json_t *list = rpc_result(r, "process/list", json_object(), T_MS);
	json_t *procs = json_object_get(list, "processes");
	int victim = 0;
	for (size_t i = 0; i < json_array_size(procs); i++)
		if (str_is(json_object_get(json_array_get(procs, i), "processId"), "victim"))
			victim = (int)json_integer_value(json_object_get(json_array_get(procs, i), "pid"));
	json_decref(list);
	REQUIRE(victim > 0);
	char script[1024];
	snprintf(script, sizeof(script), PY_PRELUDE
		 "probe('kill-victim', libc.kill(%d, 9))\n"
		 "probe('kill-server', libc.kill(%d, 9))\n"
		 "probe('kill-init', libc.kill(1, 9))\n"
		 "probe('ptrace-server', libc.ptrace(16, %d, None, None))\n"
		 "probe('ptrace-init', libc.ptrace(16, 1, None, None))\n"
		 "probe('traceme', libc.ptrace(0, 0, None, None))\n"
		 "probe('vm_readv', libc.syscall(310, 1, None, 0, None, 0, 0))\n"
		 "for p in ('/proc/1/environ', '/proc/1/mem', '/proc/1/maps'):\n"
		 "    try: open(p).read(1); print(p, 'OPEN')\n"
		 "    except OSError as e: print(p, errno.errorcode[e.errno])\n"
		 "try: os.listdir('/proc/1/root'); print('root OPEN')\n"
		 "except OSError as e: print('root', errno.errorcode[e.errno])\n"
		 "print('victim-visible', os.path.exists('/proc/%d'))\n",
		 victim, (int)srv.pid, (int)srv.pid, victim);
	CHECK(run_py(r, script, policy("workspace-write", "restricted"), &o) == 0);
	CHECK_HAS(&o, "kill-victim ESRCH");
	CHECK_HAS(&o, "kill-server ESRCH");
	/* kill(1) "works" but the init ignores it: the probes after it ran. */
	CHECK_HAS(&o, "ptrace-server EPERM");
	CHECK_HAS(&o, "ptrace-init EPERM");
	CHECK_HAS(&o, "traceme EPERM");
	CHECK_HAS(&o, "vm_readv EPERM");
	CHECK_HASNT(&o, "/proc/1/environ OPEN");
	CHECK_HASNT(&o, "/proc/1/mem OPEN");
	CHECK_HASNT(&o, "/proc/1/maps OPEN");
	CHECK_HASNT(&o, "root OPEN");
	CHECK_HAS(&o, "victim-visible False");
	CHECK(kill(victim, 0) == 0);	/* still alive */
	CHECK(kill(srv.pid, 0) == 0);
	rpc_output_free(&o);
	json_decref(rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "victim"), T_MS));
	rpc_free(r);
}

static void no_devices_no_io_uring(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	CHECK(run_py(r, PY_PRELUDE
		     "print('dev', sorted(os.listdir('/dev')))\n"
		     "for d in ('/dev/vda', '/dev/sda', '/dev/mem', '/dev/kmsg', '/dev/port'):\n"
		     "    try: os.open(d, os.O_RDONLY); print(d, 'OPEN')\n"
		     "    except OSError as e: print(d, errno.errorcode[e.errno])\n"
		     "try: os.mknod('/tmp/ringexec-blk', 0o600 | 0o060000, os.makedev(254, 0)); print('mknod OK')\n"
		     "except OSError as e: print('mknod', errno.errorcode[e.errno])\n"
		     "p = ctypes.create_string_buffer(120)\n"
		     "probe('io_uring_setup', libc.syscall(425, 8, p))\n"
		     "probe('io_uring_enter', libc.syscall(426, 0, 0, 0, 0, None, 0))\n"
		     "probe('io_uring_register', libc.syscall(427, 0, 0, None, 0))\n"
		     "probe('bpf', libc.syscall(321, 0, None, 0))\n"
		     "probe('perf', libc.syscall(298, None, 0, -1, -1, 0))\n"
		     "probe('clone3', libc.syscall(435, None, 0))\n",
		     policy("workspace-write", "restricted"), &o) == 0);
	CHECK_HASNT(&o, "'vda'");
	CHECK_HASNT(&o, "'mem'");
	CHECK_HAS(&o, "'null'");
	CHECK_HASNT(&o, " OPEN");
	CHECK_HASNT(&o, "mknod OK");
	CHECK(access("/tmp/ringexec-blk", F_OK) < 0);
	CHECK_HAS(&o, "io_uring_setup EPERM");
	CHECK_HAS(&o, "io_uring_enter EPERM");
	CHECK_HAS(&o, "io_uring_register EPERM");
	CHECK_HAS(&o, "bpf EPERM");
	CHECK_HAS(&o, "perf EPERM");
	CHECK_HAS(&o, "clone3 ENOSYS");
	rpc_output_free(&o);
	rpc_free(r);
}

static void no_setuid_files(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	CHECK(run_py(r, PY_PRELUDE
		     "import shutil\n"
		     "shutil.copy('/bin/true', 'suid-true')\n"
		     "for mode in (0o4755, 0o2755):\n"
		     "    try: os.chmod('suid-true', mode); print('chmod', oct(mode), 'OK')\n"
		     "    except OSError as e: print('chmod', oct(mode), errno.errorcode[e.errno])\n"
		     "try: os.close(os.open('suid-new', os.O_CREAT | os.O_WRONLY, 0o4755)); print('creat OK')\n"
		     "except OSError as e: print('creat', errno.errorcode[e.errno])\n"
		     "try: os.mkdir('sgid-dir', 0o2755); print('mkdir OK')\n"
		     "except OSError as e: print('mkdir', errno.errorcode[e.errno])\n",
		     policy("workspace-write", "restricted"), &o) == 0);
	CHECK_HAS(&o, "chmod 0o4755 EPERM");
	CHECK_HAS(&o, "chmod 0o2755 EPERM");
	CHECK_HAS(&o, "creat EPERM");
	CHECK_HAS(&o, "mkdir EPERM");
	struct stat st;
	char p[256];
	snprintf(p, sizeof(p), "%s/suid-true", ws);
	CHECK(stat(p, &st) == 0 && !(st.st_mode & (S_ISUID | S_ISGID)));
	CHECK(!exists(ws, "suid-new") && !exists(ws, "sgid-dir"));
	rpc_output_free(&o);

	/* A set-user-ID binary of the host gives nothing (no_new_privs, nosuid). */
	const char *su = access("/usr/bin/su", X_OK) == 0 ? "/usr/bin/su" : NULL;
	if (su) {
		CHECK(run_sh(r, "grep -E '^Uid:' /proc/self/status; su -c 'id -u' root </dev/null; echo rc=$?",
			     policy("workspace-write", "restricted"), &o) == 0);
		CHECK_HASNT(&o, "\n0\nrc=0");
		rpc_output_free(&o);
	}
	rpc_free(r);
}

/* Count the host's processes whose command line carries marker. */
static int count_marked(const char *marker)
{
	int n = 0;
	DIR *d = opendir("/proc");
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char p[300], buf[512];
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		FILE *f = fopen(p, "r");
		size_t k = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		for (size_t i = 0; i < k; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[k] = '\0';
		n += strstr(buf, marker) != NULL;
	}
	if (d)
		closedir(d);
	return n;
}

static void fork_bomb_is_terminated_and_reaped(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	char marker[64], script[1024];
	snprintf(marker, sizeof(marker), "ringexec-bomb-%d", (int)getpid());
	/* A bounded bomb: 8 levels of two children each (255 sleepers),
	 * some of them detached into their own sessions, then "ready". */
	snprintf(script, sizeof(script),
		 "b() { if [ $1 -gt 0 ]; then (b $(($1 - 1)) &) ; (setsid sh -c 'sleep 300 # %s' &); "
		 "b $(($1 - 1)); fi; }; b 8; sleep 0.2; echo ready; exec sleep 300 # %s",
		 marker, marker);
	/* The policy's template and its spare exist: that is the baseline. */
	struct rpc_output w;
	CHECK(run_argv(r, json_pack("[s]", "true"), policy("workspace-write", "restricted"), &w) == 0);
	rpc_output_free(&w);
	int children = quiet_children(srv.pid);
	json_t *resp = rpc_call(r, "process/start",
				start_params("bomb", json_pack("[s,s,s]", "sh", "-c", script),
					     policy("workspace-write", "restricted"), false), T_MS);
	CHECK(json_object_get(resp, "result"));
	json_decref(resp);
	json_t *note;
	int64_t deadline = wsc_now_ms() + 20000;
	bool ready = false;
	while (!ready && (note = rpc_wait_notification(r, "process/output", "bomb", left_ms(deadline)))) {
		size_t n;
		char *b = rpc_unb64(json_string_value(json_object_get(json_object_get(note, "params"), "chunk")), &n);
		ready = b && memmem(b, n, "ready", 5);
		free(b);
		json_decref(note);
	}
	CHECK(ready);
	int before = count_marked(marker);
	CHECKF(before > 100, "only %d marked processes", before);
	json_t *term = rpc_result(r, "process/terminate", json_pack("{s:s}", "processId", "bomb"), T_MS);
	CHECK(json_is_true(json_object_get(term, "running")));
	json_decref(term);
	struct rpc_output o;
	CHECK(rpc_collect_full(r, "bomb", &o, T_MS) == 0);
	CHECK(o.exit_code == 137);
	rpc_output_free(&o);
	/* Every one of them is gone and reaped (no zombie of ours either). */
	int left = -1;
	for (int i = 0; i < 200 && (left = count_marked(marker)) > 0; i++)
		usleep(10000);	/* the kernel tears the namespace down asynchronously */
	CHECKF(left == 0, "%d left", left);
	/* The bomb and its init are reaped; the spare made for the next
	 * command is there instead. */
	CHECK(children_settle(srv.pid, children, 5000));
	rpc_free(r);
}

static void only_unix_sockets(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	REQUIRE(lfd >= 0 && bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(lfd, 8) == 0 &&
		getsockname(lfd, (struct sockaddr *)&sin, &sl) == 0);
	char script[2048];
	snprintf(script, sizeof(script),
		 "import socket, errno\n"
		 "for name, fam, typ in (('inet', socket.AF_INET, socket.SOCK_STREAM), ('inet6', socket.AF_INET6, socket.SOCK_DGRAM),\n"
		 "        ('netlink', socket.AF_NETLINK, socket.SOCK_RAW), ('packet', socket.AF_PACKET, socket.SOCK_RAW),\n"
		 "        ('unix', socket.AF_UNIX, socket.SOCK_STREAM)):\n"
		 "    try: socket.socket(fam, typ).close(); print(name, 'OK')\n"
		 "    except OSError as e: print(name, errno.errorcode[e.errno])\n"
		 "try: socket.socketpair(socket.AF_UNIX).__len__(); print('pair OK')\n"
		 "except OSError as e: print('pair', errno.errorcode[e.errno])\n"
		 "try: socket.create_connection(('127.0.0.1', %d), 2); print('tcp CONNECTED')\n"
		 "except OSError as e: print('tcp', errno.errorcode.get(e.errno, e))\n",
		 ntohs(sin.sin_port));
	CHECK(run_py(r, script, policy("workspace-write", "restricted"), &o) == 0);
	CHECK_HAS(&o, "inet EPERM");
	CHECK_HAS(&o, "inet6 EPERM");
	CHECK_HAS(&o, "netlink EPERM");
	CHECK_HAS(&o, "packet EPERM");
	CHECK_HAS(&o, "unix OK");
	CHECK_HAS(&o, "pair OK");
	CHECK_HAS(&o, "tcp EPERM");
	CHECK(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN);	/* nobody came */
	rpc_output_free(&o);
	/* The same policy with the network enabled: inet sockets work. */
	CHECK(run_py(r, "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM); print('inet OK')",
		     policy("workspace-write", "enabled"), &o) == 0);
	CHECK_HAS(&o, "inet OK");
	rpc_output_free(&o);
	close(lfd);
	rpc_free(r);
}

/* ---- fs under a policy ---- */

static json_t *fs_call(struct rpc *r, const char *method, json_t *params, json_t *sandbox)
{
	json_object_set_new(params, "sandbox", sandbox);
	return rpc_call(r, method, params, T_MS);
}

static json_t *path_params(const char *key, const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "file://%s%s%s", dir, name ? "/" : "", name ? name : "");
	return json_pack("{s:s}", key, p);
}

#define EROFS_MSG "Read-only file system (os error 30)"

static void fs_methods_under_policy(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	json_t *p, *resp;
	/* Inside the workspace: fine. */
	p = path_params("path", ws, "fs-ok.txt");
	json_object_set_new(p, "dataBase64", json_string("aGkK"));
	resp = fs_call(r, "fs/writeFile", p, policy("workspace-write", "restricted"));
	CHECKF(json_object_get(resp, "result"), "%s", js(resp));
	json_decref(resp);
	CHECK(exists(ws, "fs-ok.txt"));
	/* Outside, under .git, through a symlink, through "..": EROFS. */
	char link[256], target[256];
	snprintf(link, sizeof(link), "%s/fs-link", ws);
	symlink(outside, link);
	snprintf(target, sizeof(target), "%s/../outside/dotdot.txt", ws);
	const char *writes[][2] = { { outside, "out.txt" }, { ws, ".git/x" }, { ws, "fs-link/x" },
				    { target, NULL } };
	for (size_t i = 0; i < 4; i++) {
		p = path_params("path", writes[i][0], writes[i][1]);
		json_object_set_new(p, "dataBase64", json_string("aGkK"));
		resp = fs_call(r, "fs/writeFile", p, policy("workspace-write", "restricted"));
		CHECK_ERR(resp, -32603, EROFS_MSG);
		json_decref(resp);
	}
	CHECK(!exists(outside, "out.txt") && !exists(outside, "x") && !exists(outside, "dotdot.txt"));
	p = path_params("path", outside, "newdir");
	json_object_set_new(p, "recursive", json_false());
	resp = fs_call(r, "fs/createDirectory", p, policy("workspace-write", "restricted"));
	CHECK_ERR(resp, -32603, EROFS_MSG);
	json_decref(resp);
	write_file(target, "keep\n");
	p = path_params("path", outside, "dotdot.txt");
	json_object_set_new(p, "recursive", json_false());
	json_object_set_new(p, "force", json_false());
	resp = fs_call(r, "fs/remove", p, policy("workspace-write", "restricted"));
	CHECK_ERR(resp, -32603, EROFS_MSG);
	json_decref(resp);
	CHECK(exists(outside, "dotdot.txt"));
	p = path_params("sourcePath", ws, "fs-ok.txt");
	char dst[300];
	snprintf(dst, sizeof(dst), "file://%s/copied.txt", outside);
	json_object_set_new(p, "destinationPath", json_string(dst));
	json_object_set_new(p, "recursive", json_false());
	resp = fs_call(r, "fs/copy", p, policy("workspace-write", "restricted"));
	CHECK_ERR(resp, -32603, EROFS_MSG);
	json_decref(resp);
	CHECK(!exists(outside, "copied.txt"));
	/* Opening for writing outside fails at the open. */
	p = path_params("path", outside, "opened.txt");
	json_object_set_new(p, "mode", json_string("replace"));
	resp = fs_call(r, "fs/open", p, policy("read-only", "restricted"));
	CHECKF(err_code(resp) == -32603 || err_code(resp) == -32602, "%s", js(resp));
	json_decref(resp);
	CHECK(!exists(outside, "opened.txt"));
	/* read-only: nothing is writable, the workspace neither. */
	p = path_params("path", ws, "ro.txt");
	json_object_set_new(p, "dataBase64", json_string("aGkK"));
	resp = fs_call(r, "fs/writeFile", p, policy("read-only", "restricted"));
	CHECK_ERR(resp, -32603, EROFS_MSG);
	json_decref(resp);
	CHECK(!exists(ws, "ro.txt"));
	/* What the policy does not make readable is not there. */
	json_t *only_ws = policy("read-only", "restricted");
	json_t *entries = json_object_get(json_object_get(json_object_get(only_ws, "permissions"),
							  "file_system"), "entries");
	json_array_clear(entries);
	json_array_append_new(entries, entry("write", "project_roots", NULL));
	p = path_params("path", "/etc", "hostname");
	resp = fs_call(r, "fs/readFile", p, json_incref(only_ws));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	p = path_params("path", "/etc", NULL);
	resp = fs_call(r, "fs/getMetadata", p, json_incref(only_ws));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	p = path_params("path", ws, "fs-ok.txt");
	resp = fs_call(r, "fs/readFile", p, only_ws);
	CHECK(str_is(json_object_get(json_object_get(resp, "result"), "dataBase64"), "aGkK"));
	json_decref(resp);
	/* project_roots without a cwd. */
	json_t *nocwd = policy("workspace-write", "restricted");
	json_object_del(nocwd, "cwd");
	json_object_del(nocwd, "workspaceRoots");
	p = path_params("path", ws, "x.txt");
	json_object_set_new(p, "dataBase64", json_string("aGkK"));
	resp = fs_call(r, "fs/writeFile", p, nocwd);
	CHECK_ERR(resp, -32602, "file system sandbox context with dynamic permissions requires cwd");
	json_decref(resp);
	rpc_free(r);
}

static json_t *walk_params(const char *dir, const char *name)
{
	json_t *p = path_params("path", dir, name);
	json_object_set_new(p, "options", json_pack("{s:i, s:i, s:i, s:b}", "maxDepth", 5,
						     "maxDirectories", 100, "maxEntries", 10000,
						     "followDirectorySymlinks", 0));
	return p;
}

/* fs/walk, fs/copy and fs/remove over trees that take many slices, each
 * slice confined: what the policy denies is refused, what it hides is not
 * there, and the results are those of one call. */
static void fs_tree_jobs_under_policy(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	CHECK(run_sh(r, "mkdir -p tree/d0 tree/d1 && cd tree/d0 && touch $(seq -f f%04g 0 599) && "
			"cd ../d1 && touch $(seq -f f%04g 0 599)",
		     policy("workspace-write", "restricted"), &o) == 0 && o.exit_code == 0);
	rpc_output_free(&o);
	json_t *resp = fs_call(r, "fs/walk", walk_params(ws, "tree"), policy("read-only", "restricted"));
	json_t *entries = json_object_get(json_object_get(resp, "result"), "entries");
	char want[300];
	snprintf(want, sizeof(want), "file://%s/tree/d1/f0599", ws);
	CHECKF(json_array_size(entries) == 1202 &&
	       str_is(json_object_get(json_array_get(entries, 1201), "path"), want) &&
	       json_is_false(json_object_get(json_object_get(resp, "result"), "truncated")),
	       "%zu entries", json_array_size(entries));
	json_decref(resp);
	/* Out of the workspace: refused at the first write, nothing made. */
	json_t *p = path_params("sourcePath", ws, "tree");
	char dst[300];
	snprintf(dst, sizeof(dst), "file://%s/tree", outside);
	json_object_set_new(p, "destinationPath", json_string(dst));
	json_object_set_new(p, "recursive", json_true());
	resp = fs_call(r, "fs/copy", p, policy("workspace-write", "restricted"));
	CHECK_ERR(resp, -32603, EROFS_MSG);
	json_decref(resp);
	CHECK(!exists(outside, "tree"));
	/* Inside it: the whole tree. */
	p = path_params("sourcePath", ws, "tree");
	snprintf(dst, sizeof(dst), "file://%s/tree2", ws);
	json_object_set_new(p, "destinationPath", json_string(dst));
	json_object_set_new(p, "recursive", json_true());
	resp = fs_call(r, "fs/copy", p, policy("workspace-write", "restricted"));
	CHECKF(json_object_get(resp, "result"), "%s", js(resp));
	json_decref(resp);
	CHECK(exists(ws, "tree2/d0/f0000") && exists(ws, "tree2/d1/f0599"));
	/* What the policy does not make readable is not there to walk. */
	json_t *only_ws = policy("read-only", "restricted");
	json_t *ents = json_object_get(json_object_get(json_object_get(only_ws, "permissions"),
						       "file_system"), "entries");
	json_array_clear(ents);
	json_array_append_new(ents, entry("write", "project_roots", NULL));
	resp = fs_call(r, "fs/walk", walk_params(outside, NULL), json_incref(only_ws));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	resp = fs_call(r, "fs/walk", walk_params(base, NULL), only_ws);
	entries = json_object_get(json_object_get(resp, "result"), "entries");
	size_t i, seen_outside = 0;
	json_t *ent;
	json_array_foreach(entries, i, ent) {
		const char *path = json_string_value(json_object_get(ent, "path"));
		seen_outside += path && strstr(path, "/outside") != NULL;
	}
	CHECKF(json_array_size(entries) > 1200 && seen_outside == 0, "%zu entries, %zu outside",
	       json_array_size(entries), seen_outside);
	json_decref(resp);
	/* Removal, a slice at a time: read-only refuses, workspace-write removes. */
	resp = fs_call(r, "fs/remove", path_params("path", ws, "tree"), policy("read-only", "restricted"));
	CHECK_ERR(resp, -32603, EROFS_MSG);
	json_decref(resp);
	const char *trees[] = { "tree", "tree2" };
	for (size_t i = 0; i < 2; i++) {
		resp = fs_call(r, "fs/remove", path_params("path", ws, trees[i]),
			       policy("workspace-write", "restricted"));
		CHECKF(json_object_get(resp, "result"), "%s", js(resp));
		json_decref(resp);
		CHECK(!exists(ws, trees[i]));
	}
	rpc_free(r);
}

/* fs/watchMissing under a policy looks again inside it on every event: a
 * path the policy hides does not fire the watch when it appears outside,
 * one it shows does. (Should no look be confined, the first event, from
 * ws/other, would fire it: outside/secret exists on the host.) */
static void fs_watch_looks_inside_the_policy(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	json_t *only_ws = policy("read-only", "restricted");
	json_t *ents = json_object_get(json_object_get(json_object_get(only_ws, "permissions"),
						       "file_system"), "entries");
	json_array_clear(ents);
	json_array_append_new(ents, entry("write", "project_roots", NULL));
	char trigger[300], secret[300], other[300];
	snprintf(trigger, sizeof(trigger), "file://%s/trigger", ws);
	snprintf(secret, sizeof(secret), "file://%s/secret", outside);
	json_t *p = json_pack("{s:i, s:[s,s]}", "watchId", 7, "missing", trigger, secret);
	json_t *resp = fs_call(r, "fs/watchMissing", p, only_ws);
	CHECKF(json_is_true(json_object_get(json_object_get(resp, "result"), "watching")), "%s",
	       js(resp));
	json_decref(resp);
	snprintf(secret, sizeof(secret), "%s/secret", outside);
	snprintf(other, sizeof(other), "%s/other", ws);
	write_file(secret, "s\n");
	write_file(other, "o\n");
	json_t *n = rpc_wait_notification(r, "fs/missingChanged", NULL, 500);
	CHECKF(!n, "fired for a path the policy hides: %s", js(n));
	json_decref(n);
	snprintf(trigger, sizeof(trigger), "%s/trigger", ws);
	write_file(trigger, "t\n");
	n = rpc_wait_notification(r, "fs/missingChanged", NULL, T_MS);
	CHECKF(n && json_integer_value(json_object_get(json_object_get(n, "params"), "watchId")) == 7,
	       "%s", js(n));
	json_decref(n);
	unlink(secret);
	unlink(other);
	unlink(trigger);
	rpc_free(r);
}

static void sandbox_denied_flag(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	char script[512];
	snprintf(script, sizeof(script), "echo x > %s/denied", outside);
	CHECK(run_sh(r, script, policy("workspace-write", "restricted"), &o) == 0);
	CHECK(o.exit_code != 0);
	CHECK(json_is_true(json_object_get(o.exited, "sandboxDenied")));
	rpc_output_free(&o);
	CHECK(run_sh(r, "echo fine", policy("workspace-write", "restricted"), &o) == 0);
	CHECK(json_is_false(json_object_get(o.exited, "sandboxDenied")));
	rpc_output_free(&o);
	CHECK(run_sh(r, "exit 127", policy("workspace-write", "restricted"), &o) == 0);
	CHECK(json_is_false(json_object_get(o.exited, "sandboxDenied")));
	rpc_output_free(&o);
	CHECK(run_sh(r, "kill -SYS $$", policy("workspace-write", "restricted"), &o) == 0);
	CHECK(o.exit_code == 159 && json_is_true(json_object_get(o.exited, "sandboxDenied")));
	rpc_output_free(&o);
	/* Not sandboxed: never. */
	CHECK(run_sh(r, "echo Permission denied; exit 1", NULL, &o) == 0);
	CHECK(json_is_false(json_object_get(o.exited, "sandboxDenied")));
	rpc_output_free(&o);
	/* process/read says the same. */
	json_t *resp = rpc_call(r, "process/start",
				start_params("dr", json_pack("[s,s,s]", "sh", "-c", "touch /etc/x"),
					     policy("read-only", "restricted"), false), T_MS);
	json_decref(resp);
	CHECK(rpc_collect_full(r, "dr", &o, T_MS) == 0);
	rpc_output_free(&o);
	json_t *rd = rpc_result(r, "process/read", json_pack("{s:s}", "processId", "dr"), T_MS);
	CHECKF(json_is_true(json_object_get(rd, "sandboxDenied")), "%s", js(rd));
	json_decref(rd);
	rpc_free(r);
}

/* ---- behaves as unsandboxed ---- */

static void behaves_as_unsandboxed(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	REQUIRE(r);
	/* A PTY, with input and closeStdin. */
	json_t *resp = rpc_call(r, "process/start",
				start_params("pty", json_pack("[s,s,s]", "sh", "-c",
							      "read l; echo got:$l; tty >/dev/null || echo pty-is-stdin"),
					     policy("workspace-write", "restricted"), true), T_MS);
	CHECK(str_is(json_object_get(json_object_get(resp, "result"), "sandboxType"), "linuxSeccomp"));
	json_decref(resp);
	json_t *w = rpc_result(r, "process/write", json_pack("{s:s, s:s, s:s}", "processId", "pty",
							      "chunk", "aGVsbG8K", "writeId", "w1"), T_MS);
	CHECK(str_is(json_object_get(w, "status"), "accepted"));
	json_decref(w);
	CHECK(rpc_collect_full(r, "pty", &o, T_MS) == 0);
	CHECK_HAS(&o, "got:hello");
	CHECK(o.exit_code == 0 && o.seq_errors == 0);
	rpc_output_free(&o);
	/* Pipes, stdin, stdout and stderr apart. */
	json_t *params = start_params("pipes", json_pack("[s,s,s]", "sh", "-c", "cat; echo err >&2"),
				      policy("workspace-write", "restricted"), false);
	json_object_set_new(params, "pipeStdin", json_true());
	json_decref(rpc_call(r, "process/start", params, T_MS));
	json_decref(rpc_call(r, "process/write", json_pack("{s:s, s:s, s:b}", "processId", "pipes",
							   "chunk", "aW4K", "closeStdin", 1), T_MS));
	CHECK(rpc_collect_full(r, "pipes", &o, T_MS) == 0);
	CHECK(strcmp(o.out, "in\n") == 0 && strcmp(o.err, "err\n") == 0);
	rpc_output_free(&o);
	/* interrupt is SIGINT to the group: 130, as without a sandbox. */
	json_decref(rpc_call(r, "process/start",
			     start_params("int", json_pack("[s,s]", "sleep", "60"),
					  policy("workspace-write", "restricted"), false), T_MS));
	json_decref(rpc_call(r, "process/signal", json_pack("{s:s, s:s}", "processId", "int",
							    "signal", "interrupt"), T_MS));
	CHECK(rpc_collect_full(r, "int", &o, T_MS) == 0);
	CHECKF(o.exit_code == 130, "%d", o.exit_code);
	CHECK(str_is(json_object_get(o.exited, "signal"), "SIGINT"));
	rpc_output_free(&o);
	/* timeoutMs. */
	params = start_params("to", json_pack("[s,s]", "sleep", "60"), policy("workspace-write", "restricted"),
			      false);
	json_object_set_new(params, "timeoutMs", json_integer(200));
	json_decref(rpc_call(r, "process/start", params, T_MS));
	CHECK(rpc_collect_full(r, "to", &o, T_MS) == 0);
	CHECK(o.exit_code == 137 && json_is_true(json_object_get(o.exited, "timedOut")));
	rpc_output_free(&o);
	/* arg0 and a missing program. */
	params = start_params("a0", json_pack("[s,s,s,s]", "sh", "-c", "echo $0", "x"),
			      policy("workspace-write", "restricted"), false);
	json_decref(rpc_call(r, "process/start", params, T_MS));
	CHECK(rpc_collect_full(r, "a0", &o, T_MS) == 0);
	CHECK(strcmp(o.out, "x\n") == 0);
	rpc_output_free(&o);
	resp = rpc_call(r, "process/start", start_params("nope", json_pack("[s]", "no-such-program-x"),
							 policy("workspace-write", "restricted"), false), T_MS);
	CHECK_ERR(resp, -32603, "No such file or directory (os error 2)");
	json_decref(resp);
	rpc_free(r);
}

/* A server of its own, so that nothing of the other cases (their
 * templates' spares, a process still on its way out) moves the counts:
 * once warm it has one template, whose spare is two children (the
 * launcher and the init of a PID namespace waiting for the next start). */
static void thousand_starts_leave_nothing(void)
{
	struct server own;
	REQUIRE(server_start(&own, (const char *[]){ "--session-ttl", "0", NULL }) == 0);
	struct rpc *r = rpc_open(own.url);
	struct rpc_output o;
	if (!r)
		goto out;
	/* Warm: the template exists and its spare is ready. */
	CHECK(run_argv(r, json_pack("[s]", "true"), policy("workspace-write", "restricted"), &o) == 0);
	rpc_output_free(&o);
	CHECK(children_settle(own.pid, 2, 10000));
	char m[64];
	snprintf(m, sizeof(m), "/proc/%d/mountinfo", (int)own.pid);
	char *mounts_before = slurp(m);
	int fds_before = quiet_fds(own.pid);
	json_t *pol = policy("workspace-write", "restricted");
	int ok = 0;
	for (int i = 0; i < 1000; i++) {
		if (run_argv(r, json_pack("[s]", "true"), json_incref(pol), &o) == 0 && o.exit_code == 0)
			ok++;
		rpc_output_free(&o);
	}
	json_decref(pol);
	CHECK(ok == 1000);
	CHECK(children_settle(own.pid, 2, 10000));	/* the last inits reaped, a spare again */
	char *mounts_after = slurp(m);
	CHECK(mounts_before && mounts_after && strcmp(mounts_before, mounts_after) == 0);
	free(mounts_before);
	free(mounts_after);
	int fds_after = quiet_fds(own.pid);
	CHECKF(fds_after == fds_before, "fds %d -> %d", fds_before, fds_after);
	rpc_free(r);
out:
	server_stop(&own);
}

static void cannot_drive_the_server(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	struct rpc_output o;
	char script[1024];
	/* With the network open, a sandboxed command reaches the server's
	 * port like anyone on this host, as the server's own user: refused. */
	snprintf(script, sizeof(script),
		 "import socket\n"
		 "s = socket.create_connection(('127.0.0.1', %d), 5)\n"
		 "s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n'\n"
		 "          b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n')\n"
		 "print('status', s.recv(100).split(b'\\r\\n')[0].decode())\n",
		 srv.port);
	CHECK(run_py(r, script, policy("workspace-write", "enabled"), &o) == 0);
	CHECK_HAS(&o, "status HTTP/1.1 403");
	CHECK_HASNT(&o, "101");
	rpc_output_free(&o);
	/* The same from outside (the test, as root) is let in. */
	struct rpc *r2 = open_conn();
	CHECK(r2 != NULL);
	if (r2)
		rpc_free(r2);
	rpc_free(r);
}

/* Several requests in one TCP write (masking key 0): the server decodes
 * them in one go, before anything else can happen. */
static int send_batch(struct rpc *r, const char *const *msgs, size_t n)
{
	size_t cap = 0;
	for (size_t i = 0; i < n; i++)
		cap += strlen(msgs[i]) + 14;
	unsigned char *buf = malloc(cap), *p = buf;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(msgs[i]);
		*p++ = 0x81;
		if (len < 126) {
			*p++ = (unsigned char)(0x80 | len);
		} else {
			*p++ = 0x80 | 126;
			*p++ = (unsigned char)(len >> 8);
			*p++ = (unsigned char)len;
		}
		memset(p, 0, 4);	/* the mask: XOR with 0 */
		p += 4;
		memcpy(p, msgs[i], len);
		p += len;
	}
	int ret = wsc_send_raw(rpc_wsc(r), buf, (size_t)(p - buf));
	free(buf);
	return ret;
}

/* A policy no template has: its start waits for the build, answered then.
 * The request's JSON text (malloc'd); its id in *rid. */
static char *fresh_start(const char *id, const char *script, int64_t *rid)
{
	static int n;
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/fresh-%d", base, ++n);
	mkdir(dir, 0755);
	chown(dir, server_uid(), server_gid());
	json_t *pol = policy("workspace-write", "restricted");
	json_t *entries = json_object_get(json_object_get(json_object_get(pol, "permissions"),
							  "file_system"), "entries");
	char u[300];
	snprintf(u, sizeof(u), "file://%s", dir);
	json_array_append_new(entries, json_pack("{s:s, s:{s:s, s:s}}", "access", "write", "path",
						 "type", "path", "path", u));
	json_t *params = start_params(id, json_pack("[s,s,s]", "sh", "-c", script), pol, false);
	json_object_set_new(params, "pipeStdin", json_true());
	*rid = 9000 + n * 10;
	json_t *req = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)*rid, "method", "process/start",
				"params", params);
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return text;
}

static void starting_while_the_sandbox_is_made(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	int64_t sid;
	char *start = fresh_start("fresh", "read l; echo got:$l", &sid);
	const char *msgs[] = {
		start,
		"{\"id\":8001,\"method\":\"process/write\",\"params\":{\"processId\":\"fresh\",\"chunk\":\"aGkK\"}}",
		"{\"id\":8002,\"method\":\"process/read\",\"params\":{\"processId\":\"fresh\"}}",
		"{\"id\":8003,\"method\":\"process/list\",\"params\":{}}",
	};
	REQUIRE(send_batch(r, msgs, 4) == 0);
	json_t *w = rpc_wait_response(r, 8001, T_MS);
	CHECKF(str_is(json_object_get(json_object_get(w, "result"), "status"), "starting"), "%s", js(w));
	json_decref(w);
	json_t *rd = rpc_wait_response(r, 8002, T_MS);
	CHECK_ERR(rd, -32600, "process id fresh is starting");
	json_decref(rd);
	json_t *ls = rpc_wait_response(r, 8003, T_MS);
	json_t *first = json_array_get(json_object_get(json_object_get(ls, "result"), "processes"), 0);
	CHECKF(str_is(json_object_get(first, "state"), "starting"), "%s", js(ls));
	json_decref(ls);
	json_t *st = rpc_wait_response(r, sid, T_MS);
	CHECKF(str_is(json_object_get(json_object_get(st, "result"), "sandboxType"), "linuxSeccomp"),
	       "%s", js(st));
	json_decref(st);
	/* Running now: the write goes through. */
	json_t *w2 = rpc_result(r, "process/write", json_pack("{s:s, s:s}", "processId", "fresh",
							     "chunk", "aGkK"), T_MS);
	CHECK(str_is(json_object_get(w2, "status"), "accepted"));
	json_decref(w2);
	struct rpc_output o;
	CHECK(rpc_collect_full(r, "fresh", &o, T_MS) == 0);
	CHECK_HAS(&o, "got:hi");
	CHECK(o.exit_code == 0 && o.seq_errors == 0);
	rpc_output_free(&o);
	free(start);

	/* Terminated before it runs: it is killed the moment it is spawned. */
	start = fresh_start("doomed", "sleep 60", &sid);
	const char *msgs2[] = {
		start,
		"{\"id\":8011,\"method\":\"process/terminate\",\"params\":{\"processId\":\"doomed\"}}",
	};
	REQUIRE(send_batch(r, msgs2, 2) == 0);
	json_t *t = rpc_wait_response(r, 8011, T_MS);
	CHECKF(json_is_true(json_object_get(json_object_get(t, "result"), "running")), "%s", js(t));
	json_decref(t);
	st = rpc_wait_response(r, sid, T_MS);
	CHECK(json_object_get(st, "result"));
	json_decref(st);
	CHECK(rpc_collect_full(r, "doomed", &o, T_MS) == 0);
	CHECK(o.exit_code == 137);
	rpc_output_free(&o);
	free(start);
	rpc_free(r);
}

static void server_socket_is_hidden(void)
{
	char sock[200], url[220];
	snprintf(sock, sizeof(sock), "%s/srv.sock", base);
	snprintf(url, sizeof(url), "unix://%s", sock);
	struct server us;
	const char *args[] = { "--listen", url, NULL };
	REQUIRE(server_start(&us, args) == 0);
	struct rpc *r = rpc_open(us.url);
	REQUIRE(r);
	struct rpc_output o;
	char script[1024];
	snprintf(script, sizeof(script),
		 "import socket, errno\n"
		 "s = socket.socket(socket.AF_UNIX)\n"
		 "try: s.connect('%s'); print('CONNECTED')\n"
		 "except OSError as e: print('connect', errno.errorcode[e.errno])\n", sock);
	CHECK(run_py(r, script, policy("read-only", "restricted"), &o) == 0);
	CHECK_HASNT(&o, "CONNECTED");
	CHECK_HAS(&o, "connect E");
	rpc_output_free(&o);
	rpc_free(r);
	server_stop(&us);
}

static void setup(void)
{
	snprintf(base, sizeof(base), "/var/tmp/ringexec-it-sb.%d", (int)getpid());
	snprintf(ws, sizeof(ws), "%s/ws", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	char git[200], head[220];
	snprintf(git, sizeof(git), "%s/.git", ws);
	snprintf(head, sizeof(head), "%s/HEAD", git);
	const char *dirs[] = { base, ws, outside, git };
	for (size_t i = 0; i < 4; i++) {
		mkdir(dirs[i], 0755);
		chown(dirs[i], server_uid(), server_gid());
	}
	write_file(head, "ref: refs/heads/main\n");
}

static void teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		fprintf(stderr, "it_sandbox: could not remove %s\n", base);
}

static const struct tap_case cases[] = {
	{ "pid 2 of its own PID namespace, no privileges, a filter", identity_and_own_pid_namespace },
	{ "writes only where the policy grants them", writes_only_where_granted },
	{ "symlinks, .., /proc/self/root and /proc/self/fd do not escape", symlink_and_dotdot_do_not_escape },
	{ "mount, umount, unshare, setns, chroot, pivot_root denied", mounts_and_namespaces_denied },
	{ "processes outside: no signal, no ptrace, /proc/1 closed", processes_outside_are_out_of_reach },
	{ "no block devices, no mknod, no io_uring, bpf or perf", no_devices_no_io_uring },
	{ "no set-user-ID or set-group-ID file", no_setuid_files },
	{ "a fork bomb: terminate kills and reaps every descendant", fork_bomb_is_terminated_and_reaped },
	{ "no socket but AF_UNIX; no loopback TCP", only_unix_sockets },
	{ "fs methods under a policy", fs_methods_under_policy },
	{ "fs tree jobs under a policy, a slice at a time", fs_tree_jobs_under_policy },
	{ "fs/watchMissing looks again inside its policy", fs_watch_looks_inside_the_policy },
	{ "sandboxDenied", sandbox_denied_flag },
	{ "PTY, pipes, stdin, signals, timeoutMs, arg0 as without a sandbox", behaves_as_unsandboxed },
	{ "1,000 sandboxed starts leave no fd, mount or child", thousand_starts_leave_nothing },
	{ "the server's own unix socket is hidden", server_socket_is_hidden },
	{ "with the network open it still cannot drive the server", cannot_drive_the_server },
	{ "starting while the sandbox is made: writes, reads, list, terminate", starting_while_the_sandbox_is_made },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	setup();
	srv_started = server_start(&srv, (const char *[]){ "--session-ttl", "0", NULL }) == 0;
	int rc = tap_main(argc, argv, cases);
	if (srv.pid > 0)
		server_stop(&srv);
	teardown();
	return rc;
}
