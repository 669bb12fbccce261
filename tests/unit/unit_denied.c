/* unit_denied: proto/denied, the sandboxDenied phrase search and rule.
 *
 * Each phrase in any case, split across chunks at every position, not
 * found where it is not, and the verdict's conditions (sandboxed,
 * non-zero, a phrase or 159; 2/126/127 never by code alone).
 */
#include "denied.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static bool ut_found(const char *const *chunks, size_t n)
{
	struct denied d;
	denied_init(&d);
	for (size_t i = 0; i < n; i++)
		denied_feed(&d, chunks[i], strlen(chunks[i]));
	return d.hit;
}

static void test_phrases(void)
{
	static const char *const yes[] = {
		"touch: cannot touch '/etc/x': Read-only file system\n",
		"bash: /etc/x: Permission denied",
		"connect: Operation not permitted",
		"OPERATION NOT PERMITTED", "killed by SECCOMP", "Sandbox says no", "LandLock",
		"error: failed to write file x",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECKF(ut_found(&yes[i], 1), "%s", yes[i]);
	static const char *const no[] = {
		"all fine", "permission granted", "read-only", "sand box", "seccom", "operation not",
		"",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECKF(!ut_found(&no[i], 1), "%s", no[i]);
}

/* "read-only file system" split in two at every position, with noise
 * before, and in three pieces through a one-byte chunk. */
static void test_split(void)
{
	const char *text = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx: Read-only file system!";
	size_t n = strlen(text);
	for (size_t cut = 0; cut <= n; cut++) {
		char a[128], b[128];
		snprintf(a, sizeof(a), "%.*s", (int)cut, text);
		snprintf(b, sizeof(b), "%s", text + cut);
		const char *chunks[2] = { a, b };
		CHECKF(ut_found(chunks, 2), "cut at %zu", cut);
	}
	const char *three[] = { "...Perm", "i", "ssion denied" };
	CHECK(ut_found(three, 3));
	const char *many[] = { "s", "a", "n", "d", "b", "o", "x" };
	CHECK(ut_found(many, 7));
	const char *apart[] = { "sand", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "box" };
	CHECK(!ut_found(apart, 3));
}

static void test_verdict(void)
{
	struct denied d;
	denied_init(&d);
	CHECK(!denied_verdict(&d, true, 1));
	CHECK(denied_verdict(&d, true, 159));
	CHECK(!denied_verdict(&d, true, 126) && !denied_verdict(&d, true, 127) &&
	      !denied_verdict(&d, true, 2));
	denied_feed(&d, "Permission denied", 17);
	CHECK(denied_verdict(&d, true, 1) && denied_verdict(&d, true, 2));
	CHECK(!denied_verdict(&d, true, 0));
	CHECK(!denied_verdict(&d, false, 1) && !denied_verdict(&d, false, 159));
}

int main(int argc, char **argv)
{
	static const struct tap_case cases[] = {
		{ "each phrase, any case; nothing else", test_phrases },
		{ "phrases split across chunks", test_split },
		{ "the verdict", test_verdict },
		{ NULL, NULL },
	};
	return tap_main(argc, argv, cases);
}
