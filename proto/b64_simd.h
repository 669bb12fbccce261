/* b64_simd: the contract between b64.c and its vector paths (private to
 * proto/b64*.c; callers use b64.h).
 *
 * A vector path does only whole blocks and leaves every edge to the scalar
 * code in b64.c, so there is one place that knows padding and error texts:
 *  - encode: consumes a multiple of its block (whole 3-byte groups) of src
 *    and writes exactly 4/3 as many characters; returns the bytes consumed.
 *  - decode: src is the body (whole quads, never the last one); consumes
 *    blocks while every character of a block is in the alphabet, stops
 *    before the first block holding anything else, and returns the
 *    characters consumed (a multiple of 4). It may store past the bytes it
 *    produced, but never at or beyond dst + room.
 * Neither reads outside src[0..n).
 */
#ifndef RINGEXEC_B64_SIMD_H
#define RINGEXEC_B64_SIMD_H

#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#define B64_HAVE_X86 1

size_t b64_sse41_encode(char *dst, const unsigned char *src, size_t n);
size_t b64_sse41_decode(unsigned char *dst, size_t room, const unsigned char *src, size_t n);
size_t b64_avx2_encode(char *dst, const unsigned char *src, size_t n);
size_t b64_avx2_decode(unsigned char *dst, size_t room, const unsigned char *src, size_t n);

/* The lookup tables both paths use, one 16-byte lane each (the AVX2 path
 * repeats them in both lanes); the comments in b64_sse41.c explain them. */

/* encode: 3 bytes b0 b1 b2 of each 4-byte lane as [b1 b0 b2 b1] */
#define B64_ENC_SPREAD 1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10
/* encode: ASCII offset per sextet class (0: a-z, 1..10: 0-9, 11: '+',
 * 12: '/', 13: A-Z) */
#define B64_ENC_OFFSETS                                                         \
	'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,   \
	'0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0

/* decode validation: one bit per class of high nibble (0x01: no valid low
 * nibble, 0x02: 2x takes B and F, 0x04: 3x takes 0..9, 0x08: 4x and 6x take
 * 1..F, 0x10: 5x and 7x take 0..A); a character is outside the alphabet
 * when the entry of its low nibble holds its high nibble's bit. */
#define B64_DEC_LO_CLASSES                                                      \
	0x0b, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15, \
	0x17, 0x17, 0x17, 0x15
#define B64_DEC_HI_CLASSES                                                      \
	0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10, 0x01, 0x01, 0x01, 0x01, \
	0x01, 0x01, 0x01, 0x01
/* decode: ASCII -> sextet offset by high nibble, with '/' moved to slot 1
 * so that it does not share '+''s slot 2 */
#define B64_DEC_OFFSETS                                                         \
	0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0,  \
	0, 0, 0, 0, 0, 0
/* decode: the three bytes of each lane's 24-bit value, big-endian first */
#define B64_DEC_ORDER 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1
#else
#define B64_HAVE_X86 0
#endif

#endif
