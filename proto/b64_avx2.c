/* b64_avx2: the 256-bit vector path of b64 (contract in b64_simd.h).
 *
 * Owns the AVX2 kernels: 24 bytes -> 32 characters per encode step, 32
 * characters -> 24 bytes per decode step. The same steps as b64_sse41.c
 * (whose comments explain them) in each 128-bit lane, since byte shuffles
 * do not cross lanes: encoding loads each step's input 4 bytes early so
 * that it falls 12 and 12 into the lanes; decoding moves the high lane's
 * 12 output bytes down next to the low lane's with a dword permute.
 * Every function carries target("avx2"): the build needs no -mavx2 and
 * b64.c calls in here only when the CPU has it. Must not handle padding or
 * errors (b64.c does), must not read or write outside the given bounds.
 */
#include "b64_simd.h"

#if B64_HAVE_X86
#include <immintrin.h>
#include <stdbool.h>

#define B64_AVX2 __attribute__((target("avx2")))

/* Both lanes hold the same 16-byte table. */
#define B64_LANES(t) _mm256_setr_epi8(t, t)

/* The 32 sextets of 24 bytes, 12 in each lane where spread picks them
 * (b64_sse41_sextets explains the steps). */
B64_AVX2 static inline __m256i b64_avx2_sextets(__m256i in, __m256i spread)
{
	__m256i v = _mm256_shuffle_epi8(in, spread);
	__m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)),
					_mm256_set1_epi32(0x04000040));
	__m256i bd = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)),
					_mm256_set1_epi32(0x01000010));
	return _mm256_or_si256(ac, bd);
}

B64_AVX2 static inline __m256i b64_avx2_ascii(__m256i x)
{
	__m256i cls = _mm256_subs_epu8(x, _mm256_set1_epi8(51));
	__m256i caps = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), x);
	cls = _mm256_or_si256(cls, _mm256_and_si256(caps, _mm256_set1_epi8(13)));
	return _mm256_add_epi8(x, _mm256_shuffle_epi8(B64_LANES(B64_ENC_OFFSETS), cls));
}

/* A step's 24 bytes src[i..i+23] are loaded from src + i - 4, so that the
 * low lane holds its 12 at bytes 4..15 and the high lane its 12 at 0..11,
 * with no permute; only the first step, which has no 4 bytes before it,
 * moves bytes 12..23 of a load at src up to the high lane with one. */
#define B64_ENC_SPREAD_AT4 5, 4, 6, 5, 8, 7, 9, 8, 11, 10, 12, 11, 14, 13, 15, 14

B64_AVX2 static inline void b64_avx2_encode_at(char *dst, const unsigned char *src, size_t i)
{
	const __m256i spread = _mm256_setr_epi8(B64_ENC_SPREAD_AT4, B64_ENC_SPREAD);
	__m256i in = _mm256_loadu_si256((const __m256i *)(src + i - 4));
	_mm256_storeu_si256((__m256i *)dst, b64_avx2_ascii(b64_avx2_sextets(in, spread)));
}

B64_AVX2 size_t b64_avx2_encode(char *dst, const unsigned char *src, size_t n)
{
	if (n < 32)
		return 0;
	__m256i in = _mm256_loadu_si256((const __m256i *)src);
	in = _mm256_permutevar8x32_epi32(in, _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0));
	__m256i x = b64_avx2_sextets(in, B64_LANES(B64_ENC_SPREAD));
	_mm256_storeu_si256((__m256i *)dst, b64_avx2_ascii(x));
	size_t i = 24;
	dst += 32;
	/* Each step reads src[i - 4..i + 27] and uses 24 of its 32 bytes;
	 * two steps a round. */
	for (; i + 52 <= n; i += 48, dst += 64) {
		b64_avx2_encode_at(dst, src, i);
		b64_avx2_encode_at(dst + 32, src, i + 24);
	}
	for (; i + 28 <= n; i += 24, dst += 32)
		b64_avx2_encode_at(dst, src, i);
	return i;
}

/* Nonzero in the bytes of in that are outside the alphabet ('=' included);
 * *hi gets the high nibbles. The nibble tables are in b64_simd.h. */
B64_AVX2 static inline __m256i b64_avx2_bad(__m256i in, __m256i *hi)
{
	const __m256i nibble = _mm256_set1_epi8(0x0f);
	*hi = _mm256_and_si256(_mm256_srli_epi32(in, 4), nibble);
	__m256i lo = _mm256_and_si256(in, nibble);
	return _mm256_and_si256(_mm256_shuffle_epi8(B64_LANES(B64_DEC_LO_CLASSES), lo),
				_mm256_shuffle_epi8(B64_LANES(B64_DEC_HI_CLASSES), *hi));
}

/* The sextets of 32 characters of the alphabet, hi their high nibbles. */
B64_AVX2 static inline __m256i b64_avx2_values(__m256i in, __m256i hi)
{
	__m256i slot = _mm256_add_epi8(hi, _mm256_cmpeq_epi8(in, _mm256_set1_epi8('/')));
	return _mm256_add_epi8(in, _mm256_shuffle_epi8(B64_LANES(B64_DEC_OFFSETS), slot));
}

/* 32 sextets -> 24 bytes at the bottom (the top 8 zero). */
B64_AVX2 static inline __m256i b64_avx2_pack(__m256i x)
{
	__m256i pairs = _mm256_maddubs_epi16(x, _mm256_set1_epi32(0x01400140));
	__m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
	__m256i lanes = _mm256_shuffle_epi8(quads, B64_LANES(B64_DEC_ORDER));
	return _mm256_permutevar8x32_epi32(lanes, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
}

B64_AVX2 size_t b64_avx2_decode(unsigned char *dst, size_t room, const unsigned char *src,
				size_t n)
{
	size_t i = 0, o = 0;
	__m256i a, b, ha, hb;
	/* Two blocks a step, one test for both: read 64 characters, store 24
	 * and 32 bytes, 48 of them output. */
	for (; i + 64 <= n && o + 56 <= room; i += 64, o += 48) {
		a = _mm256_loadu_si256((const __m256i *)(src + i));
		b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
		__m256i bad = _mm256_or_si256(b64_avx2_bad(a, &ha), b64_avx2_bad(b, &hb));
		if (!_mm256_testz_si256(bad, bad))
			break;
		_mm256_storeu_si256((__m256i *)(dst + o), b64_avx2_pack(b64_avx2_values(a, ha)));
		_mm256_storeu_si256((__m256i *)(dst + o + 24), b64_avx2_pack(b64_avx2_values(b, hb)));
	}
	/* Then, or from the pair holding a bad character, one block a step. */
	for (; i + 32 <= n && o + 32 <= room; i += 32, o += 24) {
		a = _mm256_loadu_si256((const __m256i *)(src + i));
		__m256i bad = b64_avx2_bad(a, &ha);
		if (!_mm256_testz_si256(bad, bad))
			break;
		_mm256_storeu_si256((__m256i *)(dst + o), b64_avx2_pack(b64_avx2_values(a, ha)));
	}
	return i;
}
#endif
