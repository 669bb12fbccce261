/* b64_sse41: the 128-bit vector path of b64 (contract in b64_simd.h).
 *
 * Owns the SSE4.1 kernels: 12 bytes -> 16 characters per encode step,
 * 16 characters -> 12 bytes per decode step, after the methods Wojciech
 * Muła and Daniel Lemire describe ("Faster Base64 Encoding and Decoding
 * Using AVX2 Instructions", 2018): a byte shuffle and two multiplies move
 * sextets into bytes and back; a lookup by class turns sextets into ASCII
 * and back; two nibble lookups validate 16 characters at once.
 * Every function carries target("sse4.1"): the build needs no -msse4.1 and
 * b64.c calls in here only when the CPU has it. Must not handle padding or
 * errors (b64.c does), must not read or write outside the given bounds.
 */
#include "b64_simd.h"

#if B64_HAVE_X86
#include <immintrin.h>
#include <stdbool.h>

#define B64_SSE41 __attribute__((target("sse4.1")))

/* 12 bytes at in[0..11] -> their 16 sextets, one per byte. In each 32-bit
 * lane the spread puts bytes b0 b1 b2 as [b1 b0 b2 b1]: the low 16 bits
 * read b0:b1 = A<<10 | B<<4 | .., the high 16 bits b1:b2 = ..<<12 | C<<6 | D.
 * mulhi by 2^6 (low half) and 2^10 (high half) brings A and C down to bits
 * 0..5, mullo by 2^4 and 2^8 lifts B and D to bits 8..13: the lane reads
 * A B C D. */
B64_SSE41 static inline __m128i b64_sse41_sextets(__m128i in)
{
	__m128i v = _mm_shuffle_epi8(in, _mm_setr_epi8(B64_ENC_SPREAD));
	__m128i ac = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00)),
				     _mm_set1_epi32(0x04000040));
	__m128i bd = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003f03f0)),
				     _mm_set1_epi32(0x01000010));
	return _mm_or_si128(ac, bd);
}

/* Sextets -> ASCII by adding an offset per class: the class is x - 51
 * saturated (0 for 0..51, 1..10 for the digits, 11 '+', 12 '/'), with 13
 * for the capitals 0..25 so that they do not share class 0 with 26..51. */
B64_SSE41 static inline __m128i b64_sse41_ascii(__m128i x)
{
	__m128i cls = _mm_subs_epu8(x, _mm_set1_epi8(51));
	__m128i caps = _mm_cmpgt_epi8(_mm_set1_epi8(26), x);
	cls = _mm_or_si128(cls, _mm_and_si128(caps, _mm_set1_epi8(13)));
	return _mm_add_epi8(x, _mm_shuffle_epi8(_mm_setr_epi8(B64_ENC_OFFSETS), cls));
}

B64_SSE41 size_t b64_sse41_encode(char *dst, const unsigned char *src, size_t n)
{
	size_t i = 0;
	/* Each step loads 16 bytes and uses 12. */
	for (; i + 16 <= n; i += 12, dst += 16) {
		__m128i in = _mm_loadu_si128((const __m128i *)(src + i));
		_mm_storeu_si128((__m128i *)dst, b64_sse41_ascii(b64_sse41_sextets(in)));
	}
	return i;
}

/* 16 characters -> their sextets in *out; false if any is outside the
 * alphabet ('=' included). The nibble tables are in b64_simd.h. */
B64_SSE41 static inline bool b64_sse41_sextets_of(__m128i in, __m128i *out)
{
	const __m128i nibble = _mm_set1_epi8(0x0f);
	__m128i hi = _mm_and_si128(_mm_srli_epi32(in, 4), nibble);
	__m128i lo = _mm_and_si128(in, nibble);
	__m128i lo_cls = _mm_shuffle_epi8(_mm_setr_epi8(B64_DEC_LO_CLASSES), lo);
	__m128i hi_cls = _mm_shuffle_epi8(_mm_setr_epi8(B64_DEC_HI_CLASSES), hi);
	if (!_mm_testz_si128(lo_cls, hi_cls))
		return false;
	__m128i slot = _mm_add_epi8(hi, _mm_cmpeq_epi8(in, _mm_set1_epi8('/')));
	*out = _mm_add_epi8(in, _mm_shuffle_epi8(_mm_setr_epi8(B64_DEC_OFFSETS), slot));
	return true;
}

/* 16 sextets -> 12 bytes at the bottom (the top 4 zero): maddubs joins
 * pairs into 12 bits (A<<6 | B), madd joins those into 24 (AB<<12 | CD),
 * a shuffle writes each lane's three bytes high byte first. */
B64_SSE41 static inline __m128i b64_sse41_pack(__m128i x)
{
	__m128i pairs = _mm_maddubs_epi16(x, _mm_set1_epi32(0x01400140));
	__m128i quads = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00011000));
	return _mm_shuffle_epi8(quads, _mm_setr_epi8(B64_DEC_ORDER));
}

B64_SSE41 size_t b64_sse41_decode(unsigned char *dst, size_t room, const unsigned char *src,
				  size_t n)
{
	size_t i = 0, o = 0;
	/* Each step reads 16 characters and stores 16 bytes, 12 of them output. */
	for (; i + 16 <= n && o + 16 <= room; i += 16, o += 12) {
		__m128i x;
		if (!b64_sse41_sextets_of(_mm_loadu_si128((const __m128i *)(src + i)), &x))
			break;
		_mm_storeu_si128((__m128i *)(dst + o), b64_sse41_pack(x));
	}
	return i;
}
#endif
