/* unit_sandbox: engine/sandbox and the sandboxed spawn, with real children
 * and no server.
 *
 * The probe, a codex-like workspace-write template (the child is pid 2 of
 * its own PID namespace with its own /proc, sees / read-only, writes in the
 * workspace and /tmp but not under its .git, has no capability, no_new_privs
 * and a filter), a read-only template, masks, the template cache (same
 * policy, same template), sandbox_run's view, and that 200 sandboxed spawns
 * leave no fd, child or mount behind in this process. The integration
 * escape tests (it_sandbox) try to break out through the real server.
 */
#include "loop.h"
#include "sandbox.h"
#include "seccomp.h"
#include "spawn.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UT_DEADLINE_MS 10000

static const char *const ut_env[] = { "PATH=/usr/bin:/bin", NULL };
static struct loop *ut_loop;
static struct sandbox_set *ut_set;
static char ut_ws[128];		/* the workspace, made by setup */

static long long ut_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ut_count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* opendir's own */
}

static int ut_reap(int pidfd, siginfo_t *si)
{
	long long end = ut_now_ms() + UT_DEADLINE_MS;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	while (poll(&p, 1, (int)(end - ut_now_ms())) <= 0)
		if (ut_now_ms() >= end)
			return -ETIMEDOUT;
	memset(si, 0, sizeof(*si));
	int ret = waitid(P_PIDFD, (id_t)pidfd, si, WEXITED | __WALL) < 0 ? -errno : 0;
	close(pidfd);
	return ret;
}

struct ut_out {
	char text[65536];
	size_t len;
	int status;		/* exit code, or 128+signal */
};

/* Run sh -c script under policy; stdout and stderr together in out. */
static int ut_run(const struct sandbox_policy *pol, const char *cwd, const char *script,
		  struct ut_out *out)
{
	struct sandbox *sb;
	int ret = sandbox_get(ut_set, pol, &sb);
	if (ret < 0)
		return ret;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const char *argv[] = { "sh", "-c", script, NULL };
	struct spawn_spec spec = {
		.argv = argv, .envp = ut_env, .cwd = cwd, .stdin_fd = null,
		.stdout_fd = p[1], .stderr_fd = p[1], .sandbox = sandbox_spawn_info(sb),
		.spare = sandbox_spare(sb),
	};
	struct spawn_result r;
	ret = spawn_start(&spec, &r);
	sandbox_spawned(sb);
	close(p[1]);
	close(null);
	if (ret < 0) {
		close(p[0]);
		return ret;
	}
	out->len = 0;
	long long end = ut_now_ms() + UT_DEADLINE_MS;
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (poll(&pf, 1, (int)(end - ut_now_ms())) <= 0)
			break;
		ssize_t n = read(p[0], out->text + out->len, sizeof(out->text) - 1 - out->len);
		if (n <= 0)
			break;
		out->len += (size_t)n;
	}
	out->text[out->len] = '\0';
	close(p[0]);
	siginfo_t si;
	ret = ut_reap(r.pidfd, &si);
	out->status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	siginfo_t isi;
	syscall(SYS_pidfd_send_signal, r.launcher_pidfd, SIGKILL, NULL, 0);
	syscall(SYS_pidfd_send_signal, r.init_pidfd, SIGKILL, NULL, 0);
	if (ut_reap(r.launcher_pidfd, &isi) < 0 || ut_reap(r.init_pidfd, &isi) < 0)
		ret = -ETIMEDOUT;
	spawn_init_mem_free(r.init_mem);
	return ret;
}

static bool ut_has(const struct ut_out *o, const char *needle)
{
	return strstr(o->text, needle) != NULL;
}

static struct sandbox_rule ut_rules[8];

/* codex's workspace-write: / read, workspace and /tmp write, .git read. */
static struct sandbox_policy ut_ws_write(void)
{
	static char git[160];
	snprintf(git, sizeof(git), "%s/.git", ut_ws);
	ut_rules[0] = (struct sandbox_rule){ "/", SANDBOX_READ };
	ut_rules[1] = (struct sandbox_rule){ ut_ws, SANDBOX_WRITE };
	ut_rules[2] = (struct sandbox_rule){ "/tmp", SANDBOX_WRITE };
	ut_rules[3] = (struct sandbox_rule){ git, SANDBOX_READ };
	return (struct sandbox_policy){ .restrict_fs = true, .restrict_net = true,
					.rules = ut_rules, .nrules = 4 };
}

static void test_probe(void)
{
	const char *why;
	bool ok = sandbox_set_available(ut_set, &why);
	tap_diag("sandbox: %s (%s)", ok ? "available" : "unavailable", why);
	CHECK(ok);
	CHECK(seccomp_child_filter(true) && seccomp_child_filter(false) && seccomp_init_filter());
}

static void test_workspace_write(void)
{
	struct sandbox_policy pol = ut_ws_write();
	struct ut_out o;
	char script[2048];
	snprintf(script, sizeof(script),
		 "echo pid=$$; ls /proc | grep -c '^[0-9]*$' | sed 's/^/procs=/'; "
		 "echo ws > %s/f && echo ws-ok; echo tmp > /tmp/ringexec-ut-sb && echo tmp-ok; "
		 "echo x > %s/.git/x || echo git-denied; echo x > /etc/ringexec-ut || echo etc-denied; "
		 "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
		 "ls /dev | tr '\\n' ' '; echo; cat /proc/1/environ >/dev/null 2>&1 || echo init-hidden; "
		 "exit 7", ut_ws, ut_ws);
	REQUIRE(ut_run(&pol, ut_ws, script, &o) == 0);
	tap_diag("%s", o.text);
	CHECK(o.status == 7);
	CHECK(ut_has(&o, "pid=2\n"));
	CHECK(ut_has(&o, "ws-ok\n") && ut_has(&o, "tmp-ok\n"));
	CHECK(ut_has(&o, "git-denied\n") && ut_has(&o, "etc-denied\n"));
	CHECK(ut_has(&o, "Read-only file system"));
	CHECK(ut_has(&o, "CapEff:\t0000000000000000") && ut_has(&o, "CapBnd:\t0000000000000000"));
	CHECK(ut_has(&o, "NoNewPrivs:\t1") && ut_has(&o, "Seccomp:\t2"));
	CHECK(ut_has(&o, "init-hidden"));
	CHECK(!ut_has(&o, " sda") && ut_has(&o, "null") && ut_has(&o, "pts"));
	/* Outside: the workspace file is there, nothing under /etc or .git. */
	char path[256];
	snprintf(path, sizeof(path), "%s/f", ut_ws);
	CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/.git/x", ut_ws);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	CHECK(access("/etc/ringexec-ut", F_OK) < 0);
	unlink("/tmp/ringexec-ut-sb");
}

static void test_read_only_and_masks(void)
{
	static char secret[160];
	snprintf(secret, sizeof(secret), "%s/secret", ut_ws);
	int fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "s3cret\n", 7) == 7);
	close(fd);
	struct sandbox_rule rules[] = { { "/", SANDBOX_READ }, { secret, SANDBOX_DENY },
					{ "/etc", SANDBOX_DENY } };
	struct sandbox_policy pol = { .restrict_fs = true, .restrict_net = true,
				      .rules = rules, .nrules = 3 };
	struct ut_out o;
	char script[512];
	snprintf(script, sizeof(script),
		 "touch /tmp/ringexec-ut-ro || echo tmp-denied; cat %s || echo secret-denied; "
		 "ls /etc || echo etc-denied", secret);
	REQUIRE(ut_run(&pol, "/", script, &o) == 0);
	tap_diag("%s", o.text);
	CHECK(ut_has(&o, "tmp-denied") && ut_has(&o, "secret-denied") && ut_has(&o, "etc-denied"));
	CHECK(!ut_has(&o, "s3cret"));
	CHECK(access("/tmp/ringexec-ut-ro", F_OK) < 0);
}

static void test_minimal_root(void)
{
	/* No "/": only what the rules grant exists. */
	struct sandbox_rule rules[] = { { "/usr", SANDBOX_READ }, { "/bin", SANDBOX_READ },
					{ "/lib", SANDBOX_READ }, { "/lib64", SANDBOX_READ },
					{ ut_ws, SANDBOX_WRITE } };
	struct sandbox_policy pol = { .restrict_fs = true, .restrict_net = true,
				      .rules = rules, .nrules = 5 };
	struct ut_out o;
	REQUIRE(ut_run(&pol, ut_ws, "ls / | tr '\\n' ' '; echo; test -e /etc/passwd || "
		       "echo no-etc; echo hi > made && echo made-ok; touch /x || echo root-ro", &o) == 0);
	tap_diag("%s", o.text);
	CHECK(ut_has(&o, "no-etc") && ut_has(&o, "made-ok") && ut_has(&o, "root-ro"));
	CHECK(!ut_has(&o, "root ") && !ut_has(&o, "home"));
}

static void test_cache(void)
{
	struct sandbox_policy pol = ut_ws_write();
	struct sandbox *a, *b;
	size_t before = sandbox_set_count(ut_set);
	REQUIRE(sandbox_get(ut_set, &pol, &a) == 0);
	/* The same rules in another order are the same policy. */
	struct sandbox_rule swapped[4] = { ut_rules[3], ut_rules[2], ut_rules[1], ut_rules[0] };
	pol.rules = swapped;
	REQUIRE(sandbox_get(ut_set, &pol, &b) == 0);
	CHECK(a == b);
	CHECK(sandbox_set_count(ut_set) == (before ? before : 1));
	pol.restrict_net = false;
	REQUIRE(sandbox_get(ut_set, &pol, &b) == 0);
	CHECK(a != b);
}

struct ut_run_arg {
	char path[256];
	int err;
};

static int ut_try_write(void *arg)
{
	struct ut_run_arg *a = arg;
	int fd = open(a->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	a->err = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	return 0;
}

static void test_run_view(void)
{
	struct sandbox_policy pol = ut_ws_write();
	struct sandbox *sb;
	REQUIRE(sandbox_get(ut_set, &pol, &sb) == 0);
	struct ut_run_arg a;
	snprintf(a.path, sizeof(a.path), "/etc/ringexec-ut-run");
	CHECK(sandbox_run(ut_set, sb, ut_try_write, &a) == 0 && a.err == -EROFS);
	snprintf(a.path, sizeof(a.path), "%s/.git/run", ut_ws);
	CHECK(sandbox_run(ut_set, sb, ut_try_write, &a) == 0 && a.err == -EROFS);
	snprintf(a.path, sizeof(a.path), "%s/run-ok", ut_ws);
	CHECK(sandbox_run(ut_set, sb, ut_try_write, &a) == 0 && a.err == 0);
	CHECK(access(a.path, F_OK) == 0);
	CHECK(access("/etc/ringexec-ut-run", F_OK) < 0);
}

static void test_no_leaks(void)
{
	struct sandbox_policy pol = ut_ws_write();
	struct sandbox *sb;
	REQUIRE(sandbox_get(ut_set, &pol, &sb) == 0);
	int fds = ut_count_fds();
	for (int i = 0; i < 200; i++) {
		struct ut_out o;
		int rr = ut_run(&pol, "/", "exit 3", &o);
		REQUIREF(rr == 0, "spawn %d: %s", i, strerror(-rr));
		REQUIRE(o.status == 3);
	}
	CHECK(ut_count_fds() == fds);
	siginfo_t si = { 0 };
	CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL) < 0 && errno == ECHILD);
}

static void ut_setup(void)
{
	snprintf(ut_ws, sizeof(ut_ws), "/tmp/ringexec-ut-sandbox.%d", (int)getpid());
	mkdir(ut_ws, 0755);
	char git[160];
	snprintf(git, sizeof(git), "%s/.git", ut_ws);
	mkdir(git, 0755);
}

int main(int argc, char **argv)
{
	static const struct tap_case cases[] = {
		{ "probe finds the sandbox usable", test_probe },
		{ "workspace-write: pid 2, own /proc, writes where granted, no caps, filter", test_workspace_write },
		{ "read-only root and masked paths", test_read_only_and_masks },
		{ "without / only the granted trees exist", test_minimal_root },
		{ "one template per distinct policy", test_cache },
		{ "sandbox_run sees the sandbox's view", test_run_view },
		{ "200 sandboxed spawns leave no fd or child", test_no_leaks },
		{ NULL, NULL },
	};
	struct rlimit lim;
	getrlimit(RLIMIT_NOFILE, &lim);
	if (spawn_init(&lim) < 0 || loop_new(&ut_loop, 64) < 0 ||
	    sandbox_set_new(&ut_set, ut_loop, NULL) < 0) {
		printf("1..0 # SKIP set-up failed\n");
		return 0;
	}
	ut_setup();
	int ret = tap_main(argc, argv, cases);
	sandbox_set_free(ut_set);
	loop_free(ut_loop);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ut_ws);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
