/* unit_spawn: engine/spawn with real children.
 *
 * Exit status, stdio on the right pipes (also when the sources are 0/1/2 or
 * one fd), the exact environment, PATH from the request's env, exec and
 * chdir errors as -errno with the child reaped, arg0, session leadership, no
 * inherited fds, reset signal state, PTYs, PDEATHSIG, RLIMIT_NOFILE, and no
 * fd or zombie leak over many spawns. Each wait is bounded by a deadline.
 */
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
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UT_DEADLINE_MS 5000

static const char *const ut_env[] = { "PATH=/usr/bin:/bin", NULL };
static int ut_devnull = -1;
static char ut_dir[64];		/* scratch directory, made by setup */

static long long ut_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the child behind pidfd to exit (poll with a deadline), reap it
 * through the pidfd and close the pidfd. 0 or -errno (-ETIMEDOUT). */
static int ut_wait(int pidfd, siginfo_t *si)
{
	long long end = ut_now_ms() + UT_DEADLINE_MS;
	for (;;) {
		long long left = end - ut_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			break;
	}
	memset(si, 0, sizeof(*si));
	int ret = 0;
	if (waitid(P_PIDFD, (id_t)pidfd, si, WEXITED | __WALL) < 0)
		ret = -errno;
	close(pidfd);
	return ret;
}

static bool ut_exited(const siginfo_t *si, int code)
{
	return si->si_code == CLD_EXITED && si->si_status == code;
}

/* Kill and reap a child still running. */
static void ut_kill(const struct spawn_result *r)
{
	siginfo_t si;
	syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
	ut_wait(r->pidfd, &si);
}

/* Read fds[0..n) until each reaches EOF (0, or EIO for a PTY master), or
 * the deadline. bufs get NUL-terminated. false on timeout or error. */
static bool ut_drain(int n, const int *fds, char **bufs, const size_t *caps)
{
	size_t len[2] = { 0, 0 };
	bool open[2] = { n > 0, n > 1 };
	long long end = ut_now_ms() + UT_DEADLINE_MS;
	while (open[0] || open[1]) {
		struct pollfd p[2];
		int idx[2], np = 0;
		for (int i = 0; i < n; i++) {
			if (!open[i])
				continue;
			p[np] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
			idx[np++] = i;
		}
		long long left = end - ut_now_ms();
		if (left <= 0)
			return false;
		int k = poll(p, (nfds_t)np, (int)left);
		if (k < 0 && errno != EINTR)
			return false;
		for (int j = 0; j < np && k > 0; j++) {
			if (!p[j].revents)
				continue;
			int i = idx[j];
			char tmp[4096];
			ssize_t r = read(fds[i], tmp, sizeof(tmp));
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0 && errno != EIO)
				return false;
			if (r <= 0) {
				open[i] = false;
				continue;
			}
			size_t room = caps[i] - 1 - len[i];
			size_t take = (size_t)r < room ? (size_t)r : room;
			memcpy(bufs[i] + len[i], tmp, take);
			len[i] += take;
		}
	}
	for (int i = 0; i < n; i++)
		bufs[i][len[i]] = '\0';
	return true;
}

/* What ut_run collects: both outputs (NUL-terminated) and the exit. */
struct ut_out {
	char out[4096];
	char err[1024];
	siginfo_t si;
};

/* Run a child on /dev/null and two pipes, collect both outputs and its exit.
 * Returns spawn_start's result; on 0 also drains and waits into o. */
static int ut_run(const char *const *argv, const char *arg0, const char *const *envp,
		  const char *cwd, struct ut_out *o)
{
	int po[2], pe[2];
	memset(o, 0, sizeof(*o));
	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	struct spawn_spec spec = {
		.argv = argv, .arg0 = arg0, .envp = envp, .cwd = cwd,
		.stdin_fd = ut_devnull, .stdout_fd = po[1], .stderr_fd = pe[1],
	};
	struct spawn_result r;
	int ret = spawn_start(&spec, &r);
	close(po[1]);
	close(pe[1]);
	if (ret == 0) {
		int fds[2] = { po[0], pe[0] };
		char *bufs[2] = { o->out, o->err };
		size_t caps[2] = { sizeof(o->out), sizeof(o->err) };
		if (!ut_drain(2, fds, bufs, caps))
			tap_diag("drain timed out");
		if (ut_wait(r.pidfd, &o->si) < 0)
			ret = -ETIMEDOUT;
	}
	close(po[0]);
	close(pe[0]);
	return ret;
}

static int ut_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* True when some child of ours is a zombie (checked without reaping). */
static bool ut_zombie(void)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0)
		return false;	/* ECHILD: no children at all */
	return si.si_pid != 0;
}

static bool ut_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return false;
	size_t len = strlen(text);
	bool ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	return ok && chmod(path, mode) == 0;
}

static void ut_path(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/%s", ut_dir, rel);
}

/* ---- cases ---- */

/* Scratch files for the PATH and exec-error cases; false with a reason. */
static bool ut_setup(void)
{
	static const char probe[] = "#!/bin/sh\necho \"probe:$0\"\n";
	char p[128];
	if (spawn_init(NULL) != 0)
		return false;
	ut_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (ut_devnull < 0)
		return false;
	strcpy(ut_dir, "/tmp/unit_spawn.XXXXXX");
	if (!mkdtemp(ut_dir))
		return false;
	ut_path(p, sizeof(p), "noexec");
	if (mkdir(p, 0755) < 0)
		return false;
	ut_path(p, sizeof(p), "noexec/probe");
	if (!ut_write_file(p, probe, 0644))
		return false;
	ut_path(p, sizeof(p), "exec");
	if (mkdir(p, 0755) < 0)
		return false;
	ut_path(p, sizeof(p), "exec/probe");
	if (!ut_write_file(p, probe, 0755))
		return false;
	ut_path(p, sizeof(p), "exec/cwdprobe");
	if (!ut_write_file(p, probe, 0755))
		return false;
	ut_path(p, sizeof(p), "exec/garbage");
	if (!ut_write_file(p, "\x7f" "ELF garbage, not a program", 0755))
		return false;
	ut_path(p, sizeof(p), "exec/probe.dir");
	return mkdir(p, 0755) == 0;
}

static void test_exit_status(void)
{
	struct ut_out o;
	const char *const a1[] = { "/bin/sh", "-c", "exit 7", NULL };
	REQUIRE(ut_run(a1, NULL, ut_env, NULL, &o) == 0);
	CHECKF(ut_exited(&o.si, 7), "code %d status %d", o.si.si_code, o.si.si_status);

	const char *const a2[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
	REQUIRE(ut_run(a2, NULL, ut_env, NULL, &o) == 0);
	CHECKF(o.si.si_code == CLD_KILLED && o.si.si_status == SIGTERM, "code %d status %d",
	       o.si.si_code, o.si.si_status);
}

static void test_stdio_pipes(void)
{
	struct ut_out o;
	const char *const argv[] = { "/bin/sh", "-c",
		"echo to-out; echo to-err >&2; read x || echo stdin-eof", NULL };
	REQUIRE(ut_run(argv, NULL, ut_env, NULL, &o) == 0);
	CHECK(ut_exited(&o.si, 0));
	CHECKF(strcmp(o.out, "to-out\nstdin-eof\n") == 0, "out '%s'", o.out);
	CHECKF(strcmp(o.err, "to-err\n") == 0, "err '%s'", o.err);
}

static void test_env_exact(void)
{
	struct ut_out o;
	const char *const envp[] = { "A=1", "B=two words", "EMPTY=", "PATH=/nowhere", NULL };
	const char *const argv[] = { "/usr/bin/env", NULL };
	REQUIRE(ut_run(argv, NULL, envp, NULL, &o) == 0);
	CHECK(ut_exited(&o.si, 0));
	CHECKF(strcmp(o.out, "A=1\nB=two words\nEMPTY=\nPATH=/nowhere\n") == 0, "env '%s'", o.out);

	const char *const none[] = { NULL };
	REQUIRE(ut_run(argv, NULL, none, NULL, &o) == 0);
	CHECK(ut_exited(&o.si, 0));
	CHECKF(o.out[0] == '\0', "env '%s'", o.out);
}

static void test_path_from_env(void)
{
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char want[256], envpath[512], res[512];
	struct ut_out o;
	const char *const sh[] = { "sh", "-c", "echo via-env", NULL };

	/* The server's PATH is useless: the env's is what counts. */
	REQUIRE(setenv("PATH", "/nonexistent-server-path", 1) == 0);
	REQUIRE(ut_run(sh, NULL, ut_env, NULL, &o) == 0);
	CHECK(ut_exited(&o.si, 0));
	CHECKF(strcmp(o.out, "via-env\n") == 0, "out '%s'", o.out);

	/* No PATH in env: the default list. */
	const char *const nopath[] = { "X=1", NULL };
	CHECK(ut_run(sh, NULL, nopath, NULL, &o) == 0);
	CHECK(spawn_resolve("sh", nopath, res, sizeof(res)) == 0);
	CHECKF(strcmp(res, "/usr/local/bin/sh") == 0 || strcmp(res, "/usr/bin/sh") == 0 ||
	       strcmp(res, "/bin/sh") == 0, "resolved '%s'", res);

	/* The server's PATH is good, the env's is not: not found. */
	REQUIRE(setenv("PATH", "/usr/bin:/bin", 1) == 0);
	const char *const bad[] = { "PATH=/nonexistent-env-path", NULL };
	CHECK(ut_run(sh, NULL, bad, NULL, &o) == -ENOENT);
	CHECK(spawn_resolve("sh", bad, res, sizeof(res)) == -ENOENT);
	REQUIRE(setenv("PATH", "/nonexistent-server-path", 1) == 0);

	/* Order: a missing dir, then ours; the child is told which path ran. */
	const char *const probe[] = { "probe", NULL };
	snprintf(envpath, sizeof(envpath), "PATH=/nonexistent:%s/exec", ut_dir);
	const char *const e1[] = { envpath, NULL };
	REQUIRE(ut_run(probe, NULL, e1, NULL, &o) == 0);
	snprintf(want, sizeof(want), "probe:%s/exec/probe\n", ut_dir);
	CHECKF(strcmp(o.out, want) == 0, "out '%s'", o.out);
	char found[256];
	snprintf(found, sizeof(found), "%s/exec/probe", ut_dir);
	CHECK(spawn_resolve("probe", e1, res, sizeof(res)) == 0);
	CHECKF(strcmp(res, found) == 0, "resolved '%s'", res);

	/* A non-executable match is skipped like execvp does... */
	snprintf(envpath, sizeof(envpath), "PATH=%s/noexec:%s/exec", ut_dir, ut_dir);
	REQUIRE(ut_run(probe, NULL, e1, NULL, &o) == 0);
	CHECKF(strcmp(o.out, want) == 0, "out '%s'", o.out);
	CHECK(spawn_resolve("probe", e1, res, sizeof(res)) == 0);
	CHECKF(strcmp(res, found) == 0, "resolved '%s'", res);
	/* ...and reported when nothing else matches. */
	snprintf(envpath, sizeof(envpath), "PATH=/nonexistent:%s/noexec:/nonexistent2", ut_dir);
	CHECK(ut_run(probe, NULL, e1, NULL, &o) == -EACCES);
	CHECK(spawn_resolve("probe", e1, res, sizeof(res)) == -EACCES);
	/* A directory named like the program is skipped too. */
	const char *const pdir[] = { "probe.dir", NULL };
	snprintf(envpath, sizeof(envpath), "PATH=%s/exec", ut_dir);
	CHECK(ut_run(pdir, NULL, e1, NULL, &o) == -EACCES);
	CHECK(spawn_resolve("probe.dir", e1, res, sizeof(res)) == -EACCES);

	/* An empty entry is the child's cwd. */
	char cwd[256];
	ut_path(cwd, sizeof(cwd), "exec");
	const char *const cp[] = { "cwdprobe", NULL };
	const char *const e2[] = { "PATH=/nonexistent::/bin", NULL };
	REQUIRE(ut_run(cp, NULL, e2, cwd, &o) == 0);
	CHECKF(strcmp(o.out, "probe:./cwdprobe\n") == 0, "out '%s'", o.out);
	const char *const e3[] = { "PATH=/nonexistent:", NULL };
	REQUIRE(ut_run(cp, NULL, e3, cwd, &o) == 0);
	CHECKF(strcmp(o.out, "probe:./cwdprobe\n") == 0, "out '%s'", o.out);
	CHECK(ut_run(cp, NULL, e3, "/", &o) == -ENOENT);

	/* A slash: used as is, no search; relative to the child's cwd. */
	const char *const rel[] = { "./probe", NULL };
	REQUIRE(ut_run(rel, NULL, ut_env, cwd, &o) == 0);
	CHECKF(strcmp(o.out, "probe:./probe\n") == 0, "out '%s'", o.out);
	CHECK(spawn_resolve("/bin/sh", bad, res, sizeof(res)) == 0 && strcmp(res, "/bin/sh") == 0);
	CHECK(spawn_resolve("/bin/sh", bad, res, 4) == -ENAMETOOLONG);

	if (saved) {
		setenv("PATH", saved, 1);
		free(saved);
	} else {
		unsetenv("PATH");
	}
}

static void test_errors(void)
{
	char p[128], res[256];
	struct ut_out o;
	int fds = ut_count_fds();

	const char *const missing[] = { "ringexec-no-such-program", NULL };
	CHECK(ut_run(missing, NULL, ut_env, NULL, &o) == -ENOENT);
	CHECK(!ut_zombie());
	const char *const missing_abs[] = { "/nonexistent/prog", NULL };
	CHECK(ut_run(missing_abs, NULL, ut_env, NULL, &o) == -ENOENT);
	const char *const empty[] = { "", NULL };
	CHECK(ut_run(empty, NULL, ut_env, NULL, &o) == -ENOENT);
	CHECK(spawn_resolve("", ut_env, res, sizeof(res)) == -ENOENT);
	const char *const notdir[] = { "/etc/passwd/x", NULL };
	CHECK(ut_run(notdir, NULL, ut_env, NULL, &o) == -ENOTDIR);

	ut_path(p, sizeof(p), "noexec/probe");
	const char *const noexec[] = { p, NULL };
	CHECK(ut_run(noexec, NULL, ut_env, NULL, &o) == -EACCES);
	CHECK(spawn_resolve(p, ut_env, res, sizeof(res)) == -EACCES);

	char g[128];
	ut_path(g, sizeof(g), "exec/garbage");
	const char *const garbage[] = { g, NULL };
	CHECK(ut_run(garbage, NULL, ut_env, NULL, &o) == -ENOEXEC);
	/* ENOEXEC ends a PATH search (a later dir would give ENOENT). */
	char envpath[256];
	snprintf(envpath, sizeof(envpath), "PATH=%s/exec:/usr/bin:/bin", ut_dir);
	const char *const genv[] = { envpath, NULL };
	const char *const gname[] = { "garbage", NULL };
	CHECK(ut_run(gname, NULL, genv, NULL, &o) == -ENOEXEC);

	const char *const sh[] = { "/bin/sh", "-c", "exit 0", NULL };
	CHECK(ut_run(sh, NULL, ut_env, "/nonexistent-cwd", &o) == -ENOENT);
	CHECK(ut_run(sh, NULL, ut_env, "/etc/passwd", &o) == -ENOTDIR);

	struct spawn_spec spec = { .argv = sh, .envp = ut_env, .stdin_fd = -1,
				   .stdout_fd = ut_devnull, .stderr_fd = ut_devnull };
	struct spawn_result r = { .pid = -1, .pidfd = -1 };
	CHECK(spawn_start(&spec, &r) == -EBADF);
	spec.stdin_fd = ut_devnull;
	spec.stderr_fd = 1000;	/* not open */
	CHECK(spawn_start(&spec, &r) == -EBADF);
	CHECK(r.pid == -1 && r.pidfd == -1);

	CHECK(!ut_zombie());
	CHECKF(ut_count_fds() == fds, "fds %d -> %d", fds, ut_count_fds());
}

static void test_arg0(void)
{
	struct ut_out o;
	const char *const sh[] = { "/bin/sh", "-c", "echo \"$0\"", NULL };
	REQUIRE(ut_run(sh, "-my-login-shell", ut_env, NULL, &o) == 0);
	CHECKF(strcmp(o.out, "-my-login-shell\n") == 0, "out '%s'", o.out);

	/* The program run is still argv[0], found by PATH search. */
	const char *const cat[] = { "cat", "/proc/self/cmdline", NULL };
	REQUIRE(ut_run(cat, "kitty", ut_env, NULL, &o) == 0);
	CHECK(ut_exited(&o.si, 0));
	CHECK(memcmp(o.out, "kitty\0/proc/self/cmdline\0", 25) == 0);

	REQUIRE(ut_run(sh, NULL, ut_env, NULL, &o) == 0);
	CHECKF(strcmp(o.out, "/bin/sh\n") == 0, "out '%s'", o.out);
}

static void test_session_leader(void)
{
	const char *const argv[] = { "/bin/sleep", "30", NULL };
	struct spawn_spec spec = { .argv = argv, .envp = ut_env, .stdin_fd = ut_devnull,
				   .stdout_fd = ut_devnull, .stderr_fd = ut_devnull };
	struct spawn_result r;
	REQUIRE(spawn_start(&spec, &r) == 0);
	CHECK(r.pid > 0);
	CHECK(getsid(r.pid) == r.pid);
	CHECK(getpgid(r.pid) == r.pid);
	CHECK(getsid(r.pid) != getsid(0));
	int fl = fcntl(r.pidfd, F_GETFD);
	CHECKF(fl >= 0 && (fl & FD_CLOEXEC), "pidfd flags %d", fl);
	/* Running: the pidfd is not readable yet. */
	struct pollfd p = { .fd = r.pidfd, .events = POLLIN };
	CHECK(poll(&p, 1, 0) == 0);
	ut_kill(&r);
	CHECK(!ut_zombie());
}

static void test_no_fd_inherited(void)
{
	/* Not close-on-exec on purpose: only close_range keeps these out. */
	int low = open("/dev/null", O_RDONLY);
	REQUIRE(low >= 0);
	int high = dup2(low, 200);
	REQUIRE(high == 200);
	struct ut_out o;
	/* The shell lists its own table; ls runs in a child of it. */
	const char *const argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd", NULL };
	int ret = ut_run(argv, NULL, ut_env, NULL, &o);
	close(low);
	close(high);
	REQUIRE(ret == 0);
	CHECK(ut_exited(&o.si, 0));
	CHECKF(strcmp(o.out, "0\n1\n2\n") == 0, "fds '%s' err '%s'", o.out, o.err);
}

static bool ut_status_field(const char *status, const char *name, char *val, size_t cap)
{
	const char *p = strstr(status, name);
	if (!p)
		return false;
	p += strlen(name);
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, "\n");
	if (n >= cap)
		return false;
	memcpy(val, p, n);
	val[n] = '\0';
	return true;
}

static void ut_handler(int sig)
{
	(void)sig;
}

static void test_signals_reset(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, hnd = { .sa_handler = ut_handler };
	struct sigaction old_int, old_pipe, old_usr1;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGUSR1, &hnd, &old_usr1);
	spawn_note_signals();
	sigset_t block, old_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old_mask);

	struct ut_out o;
	const char *const argv[] = { "/bin/cat", "/proc/self/status", NULL };
	int ret = ut_run(argv, NULL, ut_env, NULL, &o);

	/* The parent's own state is untouched by the child (no CLONE_SIGHAND). */
	struct sigaction now;
	sigaction(SIGINT, NULL, &now);
	CHECK(now.sa_handler == SIG_IGN);
	sigaction(SIGUSR1, NULL, &now);
	CHECK(now.sa_handler == ut_handler);
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	CHECK(sigismember(&cur, SIGTERM) && !sigismember(&cur, SIGINT));

	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGUSR1, &old_usr1, NULL);
	spawn_note_signals();

	REQUIRE(ret == 0);
	char v[64];
	CHECK(ut_status_field(o.out, "\nSigIgn:", v, sizeof(v)));
	CHECKF(strcmp(v, "0000000000000000") == 0, "SigIgn %s", v);
	CHECK(ut_status_field(o.out, "\nSigBlk:", v, sizeof(v)));
	CHECKF(strcmp(v, "0000000000000000") == 0, "SigBlk %s", v);
	CHECK(ut_status_field(o.out, "\nSigCgt:", v, sizeof(v)));
	CHECKF(strcmp(v, "0000000000000000") == 0, "SigCgt %s", v);
}

/* In a forked helper (it moves its own 0/1/2): sources that are 0/1/2
 * themselves, close-on-exec. mode 0: a 3-cycle (stdin from fd 1, stdout to
 * fd 2, stderr to fd 0); mode 1: each already in place; mode 2: one fd,
 * fd 1, for all three. Exit 0 when the output is right. */
static void ut_fdmap_helper(int mode)
{
	int in[2], po[2], pe[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		_exit(10);
	struct spawn_spec spec = { .envp = ut_env };
	const char *const script[] = { "/bin/sh", "-c",
		"read x; echo \"out:$x\"; echo \"err:$x\" >&2", NULL };
	const char *const single[] = { "/bin/sh", "-c", "echo out; echo err >&2", NULL };
	if (mode == 0) {
		if (dup3(pe[1], 0, O_CLOEXEC) < 0 || dup3(in[0], 1, O_CLOEXEC) < 0 ||
		    dup3(po[1], 2, O_CLOEXEC) < 0)
			_exit(11);
		spec.stdin_fd = 1;
		spec.stdout_fd = 2;
		spec.stderr_fd = 0;
	} else if (mode == 1) {
		if (dup3(in[0], 0, O_CLOEXEC) < 0 || dup3(po[1], 1, O_CLOEXEC) < 0 ||
		    dup3(pe[1], 2, O_CLOEXEC) < 0)
			_exit(11);
		spec.stdin_fd = 0;
		spec.stdout_fd = 1;
		spec.stderr_fd = 2;
	} else {
		if (dup3(po[1], 1, O_CLOEXEC) < 0)
			_exit(11);
		spec.stdin_fd = spec.stdout_fd = spec.stderr_fd = 1;
	}
	spec.argv = mode == 2 ? single : script;
	close(in[0]);
	close(po[1]);
	close(pe[1]);
	struct spawn_result r;
	if (spawn_start(&spec, &r) != 0)
		_exit(12);
	close(0);
	close(1);
	close(2);
	if (mode != 2 && write(in[1], "hi\n", 3) != 3)
		_exit(13);
	close(in[1]);
	char out[256], err[256];
	int fds[2] = { po[0], pe[0] };
	char *bufs[2] = { out, err };
	size_t caps[2] = { sizeof(out), sizeof(err) };
	if (!ut_drain(mode == 2 ? 1 : 2, fds, bufs, caps))
		_exit(14);
	siginfo_t si;
	if (ut_wait(r.pidfd, &si) < 0 || !ut_exited(&si, 0))
		_exit(15);
	if (mode == 2)
		_exit(strcmp(out, "out\nerr\n") == 0 ? 0 : 16);
	_exit(strcmp(out, "out:hi\n") == 0 && strcmp(err, "err:hi\n") == 0 ? 0 : 17);
}

static void test_fd_sources_low(void)
{
	fflush(stdout);
	for (int mode = 0; mode < 3; mode++) {
		pid_t h = fork();
		REQUIRE(h >= 0);
		if (h == 0)
			ut_fdmap_helper(mode);
		int st;
		REQUIRE(waitpid(h, &st, 0) == h);
		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mode %d: status 0x%x", mode, st);
	}
}

static void test_pty(void)
{
	int m = -1, s = -1;
	REQUIRE(spawn_open_pty(&m, &s, 30, 100) == 0);
	CHECK(fcntl(m, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(m, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC);
	CHECK(!(fcntl(s, F_GETFL) & O_NONBLOCK));
	CHECK(isatty(s));
	int ptn = -1;
	CHECK(ioctl(m, TIOCGPTN, &ptn) == 0);

	const char *const argv[] = { "/bin/sh", "-c",
		"stty size; tty; if : </dev/tty; then echo ctty-ok; fi; "
		"test -t 1 && test -t 2 && echo all-tty; read x; echo \"got:$x\"; exit 3", NULL };
	struct spawn_spec spec = { .argv = argv, .envp = ut_env, .stdin_fd = s,
				   .stdout_fd = s, .stderr_fd = s, .ctty = true };
	struct spawn_result r;
	int ret = spawn_start(&spec, &r);
	close(s);	/* or EIO never comes */
	if (ret != 0)
		close(m);
	REQUIRE(ret == 0);
	CHECK(getsid(r.pid) == r.pid);
	CHECK(write(m, "hello\n", 6) == 6);

	char out[2048];
	char *bufs[1] = { out };
	size_t caps[1] = { sizeof(out) };
	CHECK(ut_drain(1, &m, bufs, caps));	/* to EIO: slave closed everywhere */
	siginfo_t si;
	CHECK(ut_wait(r.pidfd, &si) == 0);
	CHECK(ut_exited(&si, 3));
	/* Once drained, the master stays at EIO. */
	char c;
	CHECK(read(m, &c, 1) < 0 && errno == EIO);
	close(m);

	char want[64];
	snprintf(want, sizeof(want), "/dev/pts/%d\r\n", ptn);
	CHECKF(strstr(out, "30 100\r\n") != NULL, "out '%s'", out);
	CHECKF(strstr(out, want) != NULL, "want %s in '%s'", want, out);
	CHECKF(strstr(out, "ctty-ok\r\n") != NULL, "out '%s'", out);
	CHECKF(strstr(out, "all-tty\r\n") != NULL, "out '%s'", out);
	CHECKF(strstr(out, "got:hello\r\n") != NULL, "out '%s'", out);
}

static void test_pdeathsig(void)
{
	/* The orphan reparents to us, so we can reap it. */
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	int pp[2];
	REQUIRE(pipe2(pp, O_CLOEXEC) == 0);
	fflush(stdout);
	pid_t mid = fork();
	REQUIRE(mid >= 0);
	if (mid == 0) {
		close(pp[0]);
		const char *const argv[] = { "/bin/sleep", "30", NULL };
		struct spawn_spec spec = { .argv = argv, .envp = ut_env, .stdin_fd = ut_devnull,
					   .stdout_fd = ut_devnull, .stderr_fd = ut_devnull };
		struct spawn_result r;
		if (spawn_start(&spec, &r) != 0)
			_exit(1);
		if (write(pp[1], &r.pid, sizeof(r.pid)) != sizeof(r.pid))
			_exit(2);
		for (;;)
			pause();
	}
	close(pp[1]);
	pid_t sleeper = 0;
	ssize_t n = read(pp[0], &sleeper, sizeof(sleeper));
	close(pp[0]);
	int pfd = n == sizeof(sleeper) ? (int)syscall(SYS_pidfd_open, sleeper, 0) : -1;
	CHECK(pfd >= 0);
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	if (pfd >= 0)
		CHECK(poll(&p, 1, 50) == 0);	/* alive while its parent is */

	kill(mid, SIGKILL);
	int st;
	CHECK(waitpid(mid, &st, 0) == mid);
	if (pfd >= 0) {
		siginfo_t si;
		int ret = ut_wait(pfd, &si);	/* closes pfd */
		CHECKF(ret == 0, "sleep did not die: %d", ret);
		CHECKF(si.si_code == CLD_KILLED && si.si_status == SIGKILL, "code %d status %d",
		       si.si_code, si.si_status);
		if (ret < 0) {
			kill(sleeper, SIGKILL);
			waitpid(sleeper, &st, 0);
		}
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	while (waitpid(-1, &st, WNOHANG | __WALL) > 0)
		;
}

static void test_rlimit_nofile(void)
{
	struct rlimit rl;
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	struct rlimit child = { .rlim_cur = 200, .rlim_max = rl.rlim_max };
	REQUIRE(spawn_init(&child) == 0);
	char want[64];
	struct ut_out o;
	const char *const argv[] = { "/bin/sh", "-c", "ulimit -n; ulimit -Hn", NULL };
	int ret = ut_run(argv, NULL, ut_env, NULL, &o);
	REQUIRE(spawn_init(&rl) == 0);
	REQUIRE(ret == 0);
	if (rl.rlim_max == RLIM_INFINITY)
		snprintf(want, sizeof(want), "200\nunlimited\n");
	else
		snprintf(want, sizeof(want), "200\n%llu\n", (unsigned long long)rl.rlim_max);
	CHECKF(strcmp(o.out, want) == 0, "out '%s' want '%s'", o.out, want);
}

static void test_many_no_leak(void)
{
	int before = ut_count_fds();
	const char *const ok[] = { "true", NULL };
	const char *const bad[] = { "ringexec-no-such-program", NULL };
	struct spawn_spec spec = { .envp = ut_env, .stdin_fd = ut_devnull,
				   .stdout_fd = ut_devnull, .stderr_fd = ut_devnull };
	int fails = 0;
	for (int i = 0; i < 200; i++) {
		spec.argv = i % 10 == 9 ? bad : ok;
		struct spawn_result r;
		int ret = spawn_start(&spec, &r);
		if (i % 10 == 9) {
			fails += ret != -ENOENT;
			continue;
		}
		siginfo_t si;
		if (ret != 0 || ut_wait(r.pidfd, &si) != 0 || !ut_exited(&si, 0))
			fails++;
	}
	CHECKF(fails == 0, "%d failures", fails);
	CHECKF(ut_count_fds() == before, "fds %d -> %d", before, ut_count_fds());
	CHECK(!ut_zombie());
}

static void ut_teardown(void)
{
	static const char *const rel[] = { "noexec/probe", "exec/probe", "exec/cwdprobe",
		"exec/garbage" };
	static const char *const dirs[] = { "exec/probe.dir", "noexec", "exec", "" };
	char p[128];
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		ut_path(p, sizeof(p), rel[i]);
		unlink(p);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		ut_path(p, sizeof(p), dirs[i]);
		rmdir(p);
	}
	close(ut_devnull);
}

static const struct tap_case cases[] = {
	{ "exit_status", test_exit_status },
	{ "stdio_pipes", test_stdio_pipes },
	{ "env_exact", test_env_exact },
	{ "path_from_env", test_path_from_env },
	{ "errors", test_errors },
	{ "arg0", test_arg0 },
	{ "session_leader", test_session_leader },
	{ "no_fd_inherited", test_no_fd_inherited },
	{ "signals_reset", test_signals_reset },
	{ "fd_sources_low", test_fd_sources_low },
	{ "pty", test_pty },
	{ "pdeathsig", test_pdeathsig },
	{ "rlimit_nofile", test_rlimit_nofile },
	{ "many_no_leak", test_many_no_leak },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	if (!ut_setup()) {
		printf("Bail out! setup: %s\n", strerror(errno));
		ut_teardown();
		return 1;
	}
	int ret = tap_main(argc, argv, cases);
	ut_teardown();
	return ret;
}
