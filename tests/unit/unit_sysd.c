/* unit_sysd: cmd/sysd's parsing of systemd's variables.
 *
 * LISTEN_*: not for us (unset, another pid, zero fds), fds from 3 on with
 * their names, and each malformed value refused with a message naming it.
 * NOTIFY_SOCKET: a path (NUL-terminated length) and an abstract @name
 * (leading NUL, no terminator), and the values that are neither.
 */
#include "sysd.h"
#include "tap.h"

#include <stddef.h>
#include <string.h>

static void listen_not_for_us(void)
{
	struct sysd_fd fds[SYSD_MAX_FDS];
	char err[256];
	size_t n = 99;

	CHECK(sysd_parse_listen(NULL, NULL, NULL, 42, fds, &n, err, sizeof(err)) == 0 && n == 0);
	CHECK(sysd_parse_listen(NULL, "2", NULL, 42, fds, &n, err, sizeof(err)) == 0 && n == 0);
	CHECK(sysd_parse_listen("41", "2", NULL, 42, fds, &n, err, sizeof(err)) == 0 && n == 0);
	CHECK(sysd_parse_listen("42", "0", NULL, 42, fds, &n, err, sizeof(err)) == 0 && n == 0);
}

static void listen_fds_and_names(void)
{
	struct sysd_fd fds[SYSD_MAX_FDS];
	char err[256];
	size_t n = 0;

	REQUIRE(sysd_parse_listen("42", "3", "web:local:", 42, fds, &n, err, sizeof(err)) == 0);
	REQUIRE(n == 3);
	CHECK(fds[0].fd == 3 && !strcmp(fds[0].name, "web"));
	CHECK(fds[1].fd == 4 && !strcmp(fds[1].name, "local"));
	CHECK(fds[2].fd == 5 && !strcmp(fds[2].name, ""));
	REQUIRE(sysd_parse_listen("42", "2", NULL, 42, fds, &n, err, sizeof(err)) == 0 && n == 2);
	CHECK(fds[1].fd == 4 && fds[1].name[0] == '\0');
}

static void listen_malformed(void)
{
	static const struct {
		const char *pid, *nfds, *names, *says;
	} bad[] = {
		{ "x42", "1", NULL, "LISTEN_PID=x42" },
		{ "42", "-1", NULL, "LISTEN_FDS=-1" },
		{ "42", "1 ", NULL, "LISTEN_FDS=1 " },
		{ "42", "17", NULL, "at most 16" },
		{ "42", "99999999999999999999999", NULL, "LISTEN_FDS=9" },
		{ "42", "2", "one", "LISTEN_FDNAMES=one" },
		{ "42", "1", "a:b", "LISTEN_FDNAMES=a:b" },
	};
	struct sysd_fd fds[SYSD_MAX_FDS];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		size_t n = 99;
		int r = sysd_parse_listen(bad[i].pid, bad[i].nfds, bad[i].names, 42, fds, &n, err,
					  sizeof(err));
		CHECKF(r == -1 && n == 0 && strstr(err, bad[i].says), "case %zu: %d, %s", i, r, err);
	}
}

static void notify_addresses(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	size_t off = offsetof(struct sockaddr_un, sun_path);

	REQUIRE(sysd_notify_addr("/run/systemd/notify", &sa, &len) == 0);
	CHECK(sa.sun_family == AF_UNIX && !strcmp(sa.sun_path, "/run/systemd/notify"));
	CHECK(len == off + strlen("/run/systemd/notify") + 1);
	REQUIRE(sysd_notify_addr("@n/1", &sa, &len) == 0);
	CHECK(sa.sun_path[0] == '\0' && !memcmp(sa.sun_path + 1, "n/1", 3) && len == off + 4);
	char longest[sizeof(sa.sun_path) + 1];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[0] = '/';
	longest[sizeof(longest) - 1] = '\0';
	CHECK(sysd_notify_addr(longest, &sa, &len) == -1);	/* no room for the NUL */
	longest[sizeof(longest) - 2] = '\0';
	CHECK(sysd_notify_addr(longest, &sa, &len) == 0);
	static const char *const bad[] = { "", "@", "/", "relative/path", "vsock:2:999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(sysd_notify_addr(bad[i], &sa, &len) == -1, "\"%s\" accepted", bad[i]);
	CHECK(sysd_notify_addr(NULL, &sa, &len) == -1);
}

static const struct tap_case cases[] = {
	{ "LISTEN_*: not for us", listen_not_for_us },
	{ "LISTEN_*: fds from 3, with names", listen_fds_and_names },
	{ "LISTEN_*: malformed values are refused by name", listen_malformed },
	{ "NOTIFY_SOCKET: path, abstract, and what is neither", notify_addresses },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
