/* unit_outframe: cmd/client/outframe, the client's decoder of binary output
 * frames (PROTOCOL §5a).
 *
 * The fields at their offsets, big-endian, for processIds of 1 and 256
 * bytes and payloads of 0 and more bytes; every stream code; a kind other
 * than output is reported as such (to be ignored) at any length; frames cut
 * short anywhere in the header or the processId, and unknown stream codes,
 * are refused.
 */
#include "outframe.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* A frame into out: returns its length. */
static size_t frame(uint8_t *out, uint8_t kind, uint8_t stream, uint64_t seq, const char *id,
		    size_t idl, const void *data, size_t len)
{
	out[0] = kind;
	out[1] = stream;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
	out[10] = (uint8_t)(idl >> 8);
	out[11] = (uint8_t)idl;
	memcpy(out + 12, id, idl);
	memcpy(out + 12 + idl, data, len);
	return 12 + idl + len;
}

static void fields_at_their_offsets(void)
{
	static uint8_t buf[1024];
	char id[256];
	struct outframe f;
	size_t n;

	memset(id, 'x', sizeof(id));
	n = frame(buf, 1, 0, 0x0102030405060708ull, "a", 1, "\0\377z", 3);
	CHECK(outframe_parse(buf, n, &f) == 0);
	CHECK(f.kind == 1 && f.stream == 0 && f.seq == 0x0102030405060708ull);
	CHECK(f.process_id_len == 1 && f.process_id == (const char *)buf + 12 && *f.process_id == 'a');
	CHECK(f.len == 3 && f.data == buf + 13 && !memcmp(f.data, "\0\377z", 3));

	n = frame(buf, 1, 2, 300, id, sizeof(id), "", 0);
	CHECK(buf[10] == 1 && buf[11] == 0);	/* L = 256, big-endian */
	CHECK(outframe_parse(buf, n, &f) == 0);
	CHECK(f.stream == 2 && f.seq == 300 && f.process_id_len == 256 && f.len == 0);
	CHECK(!strcmp(outframe_stream_name(0), "stdout") && !strcmp(outframe_stream_name(1), "stderr") &&
	      !strcmp(outframe_stream_name(2), "pty") && !outframe_stream_name(3));
}

static void other_kinds_are_ignored(void)
{
	uint8_t buf[64] = { 2 };
	struct outframe f;

	CHECK(outframe_parse(buf, 1, &f) == -ENOMSG && f.kind == 2);
	CHECK(outframe_parse(buf, sizeof(buf), &f) == -ENOMSG);
	buf[0] = 0;
	CHECK(outframe_parse(buf, 1, &f) == -ENOMSG);
	CHECK(outframe_parse(buf, 0, &f) == -EBADMSG);
}

static void short_or_bad_frames_refused(void)
{
	uint8_t buf[64];
	struct outframe f;
	size_t n = frame(buf, 1, 1, 7, "proc", 4, "", 0);

	for (size_t cut = 1; cut < n; cut++)
		CHECKF(outframe_parse(buf, cut, &f) == -EBADMSG, "cut at %zu", cut);
	CHECK(outframe_parse(buf, n, &f) == 0 && f.len == 0);
	buf[1] = 3;
	CHECK(outframe_parse(buf, n, &f) == -EBADMSG);
}

static const struct tap_case cases[] = {
	{ "fields at their offsets, big-endian", fields_at_their_offsets },
	{ "a kind other than output is reported, to be ignored", other_kinds_are_ignored },
	{ "frames cut short and unknown streams are refused", short_or_bad_frames_refused },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
