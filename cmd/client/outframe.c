/* outframe: decoding the binary process/output frame (see outframe.h).
 * Byte by byte, so neither alignment nor the host's byte order matters. */
#include "outframe.h"

#include <errno.h>

static uint64_t outframe_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int outframe_parse(const void *msg, size_t len, struct outframe *f)
{
	const uint8_t *p = msg;

	if (len < 1)
		return -EBADMSG;
	f->kind = p[0];
	if (f->kind != OUTFRAME_KIND_OUTPUT)
		return -ENOMSG;
	if (len < OUTFRAME_HEAD)
		return -EBADMSG;
	f->stream = p[1];
	f->seq = outframe_be(p + 2, 8);
	f->process_id_len = (size_t)outframe_be(p + 10, 2);
	if (f->stream > 2 || len - OUTFRAME_HEAD < f->process_id_len)
		return -EBADMSG;
	f->process_id = (const char *)p + OUTFRAME_HEAD;
	f->data = p + OUTFRAME_HEAD + f->process_id_len;
	f->len = len - OUTFRAME_HEAD - f->process_id_len;
	return 0;
}

const char *outframe_stream_name(uint8_t stream)
{
	static const char *const names[] = { "stdout", "stderr", "pty" };
	return stream < 3 ? names[stream] : NULL;
}
