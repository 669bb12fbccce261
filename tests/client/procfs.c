/* procfs: /proc readings about a server for the integration tests (see procfs.h). */
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "tap.h"
#include "wsc.h"

int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void dump_fds(pid_t pid)
{
	char path[64], link[320], target[256];
	struct dirent *e;
	DIR *d;
	int shown = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL && shown < 60) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		tap_diag("  fd %s -> %s", e->d_name, target);
		shown++;
	}
	closedir(d);
}

void children_of(pid_t pid, char *buf, size_t size)
{
	char path[96];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f) {
		snprintf(buf, size, "(cannot read %s)", path);
		return;
	}
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\n'))
		buf[--n] = '\0';
}

bool pid_gone_within(pid_t pid, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	for (;;) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		if (wsc_now_ms() >= deadline)
			return false;
		poll(NULL, 0, 10);
	}
}
