/* outframe: the binary process/output frame of PROTOCOL §5a, read by a
 * client: u8 kind (1: output), u8 stream (0 stdout, 1 stderr, 2 pty), u64
 * seq, u16 processId length L, L bytes processId, then the raw output;
 * every integer big-endian. Pure: points into the message, copies nothing.
 */
#ifndef RINGEXEC_OUTFRAME_H
#define RINGEXEC_OUTFRAME_H

#include <stddef.h>
#include <stdint.h>

#define OUTFRAME_KIND_OUTPUT 1
#define OUTFRAME_HEAD 12	/* bytes before the processId */

struct outframe {
	uint8_t kind;		/* OUTFRAME_KIND_OUTPUT, or another (to be ignored) */
	uint8_t stream;		/* 0 stdout, 1 stderr, 2 pty */
	uint64_t seq;
	const char *process_id;	/* inside the message, not NUL-terminated */
	size_t process_id_len;
	const uint8_t *data;	/* the output bytes, inside the message */
	size_t len;
};

/* Decode one binary message. 0 with *f filled; -ENOMSG for a kind other
 * than output (only f->kind set: a client ignores it); -EBADMSG for an
 * output frame that is too short for its header or processId, or names a
 * stream outside 0-2. */
int outframe_parse(const void *msg, size_t len, struct outframe *f);
/* "stdout", "stderr", "pty" for a stream code; NULL for another. */
const char *outframe_stream_name(uint8_t stream);

#endif
