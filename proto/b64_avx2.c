/* b64_avx2: the 256-bit vector path of b64 (contract in b64_simd.h).
 *
 * Owns the AVX2 kernels: 24 bytes -> 32 characters per encode step, 32
 * characters -> 24 bytes per decode step. The same steps as b64_sse41.c
 * (whose comments explain them) in each 128-bit lane, since byte shuffles
 * do not cross lanes; a dword permute moves the data between the halves:
 * on the way in, bytes 12..23 of the input up to the high lane; on the way
 * out, the high lane's 12 bytes down next to the low lane's.
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

/* 24 bytes at src[0..23] -> their 32 sextets; reads src[0..31]. */
B64_AVX2 static inline __m256i b64_avx2_sextets(const unsigned char *src)
{
	__m256i in = _mm256_loadu_si256((const __m256i *)src);
	in = _mm256_permutevar8x32_epi32(in, _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0));
	__m256i v = _mm256_shuffle_epi8(in, B64_LANES(B64_ENC_SPREAD));
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

B64_AVX2 size_t b64_avx2_encode(char *dst, const unsigned char *src, size_t n)
{
	size_t i = 0;
	/* Each step loads 32 bytes and uses 24. */
	for (; i + 32 <= n; i += 24, dst += 32)
		_mm256_storeu_si256((__m256i *)dst, b64_avx2_ascii(b64_avx2_sextets(src + i)));
	return i;
}

B64_AVX2 static inline bool b64_avx2_sextets_of(__m256i in, __m256i *out)
{
	const __m256i nibble = _mm256_set1_epi8(0x0f);
	__m256i hi = _mm256_and_si256(_mm256_srli_epi32(in, 4), nibble);
	__m256i lo = _mm256_and_si256(in, nibble);
	__m256i lo_cls = _mm256_shuffle_epi8(B64_LANES(B64_DEC_LO_CLASSES), lo);
	__m256i hi_cls = _mm256_shuffle_epi8(B64_LANES(B64_DEC_HI_CLASSES), hi);
	if (!_mm256_testz_si256(lo_cls, hi_cls))
		return false;
	__m256i slot = _mm256_add_epi8(hi, _mm256_cmpeq_epi8(in, _mm256_set1_epi8('/')));
	*out = _mm256_add_epi8(in, _mm256_shuffle_epi8(B64_LANES(B64_DEC_OFFSETS), slot));
	return true;
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
	/* Each step reads 32 characters and stores 32 bytes, 24 of them output. */
	for (; i + 32 <= n && o + 32 <= room; i += 32, o += 24) {
		__m256i x;
		if (!b64_avx2_sextets_of(_mm256_loadu_si256((const __m256i *)(src + i)), &x))
			break;
		_mm256_storeu_si256((__m256i *)(dst + o), b64_avx2_pack(x));
	}
	return i;
}
#endif
