/* b64: standard base64 encoding and strict decoding (see b64.h).
 *
 * Owns the alphabet tables, the canonical-form rules, the scalar path and
 * the choice of path. The scalar code is the fallback and the reference:
 * a vector path (b64_sse41.c, b64_avx2.c; contract in b64_simd.h) only
 * does the whole blocks in the middle, and everything else, the tail, the
 * padding and finding and wording every error, is the scalar code's, so all
 * paths answer alike by construction. Must not allocate, must not read or
 * write past the given lengths, and must accept nothing that Rust's base64
 * 0.22 STANDARD refuses.
 */
#include "b64.h"
#include "b64_simd.h"
#include "log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define B64_PAD '='

/* The 4096 two-character encodings of every 12-bit value, as one string
 * literal built at compile time: pair x sits at b64_pairs[2 * x], row by
 * the high 6 bits, column by the low 6 bits. */
#define B64_ROW(c)                                                          \
	c "A" c "B" c "C" c "D" c "E" c "F" c "G" c "H" c "I" c "J" c "K"   \
	c "L" c "M" c "N" c "O" c "P" c "Q" c "R" c "S" c "T" c "U" c "V"   \
	c "W" c "X" c "Y" c "Z" c "a" c "b" c "c" c "d" c "e" c "f" c "g"   \
	c "h" c "i" c "j" c "k" c "l" c "m" c "n" c "o" c "p" c "q" c "r"   \
	c "s" c "t" c "u" c "v" c "w" c "x" c "y" c "z" c "0" c "1" c "2"   \
	c "3" c "4" c "5" c "6" c "7" c "8" c "9" c "+" c "/"

static const char b64_pairs[4096 * 2 + 1] =
	B64_ROW("A") B64_ROW("B") B64_ROW("C") B64_ROW("D") B64_ROW("E")
	B64_ROW("F") B64_ROW("G") B64_ROW("H") B64_ROW("I") B64_ROW("J")
	B64_ROW("K") B64_ROW("L") B64_ROW("M") B64_ROW("N") B64_ROW("O")
	B64_ROW("P") B64_ROW("Q") B64_ROW("R") B64_ROW("S") B64_ROW("T")
	B64_ROW("U") B64_ROW("V") B64_ROW("W") B64_ROW("X") B64_ROW("Y")
	B64_ROW("Z") B64_ROW("a") B64_ROW("b") B64_ROW("c") B64_ROW("d")
	B64_ROW("e") B64_ROW("f") B64_ROW("g") B64_ROW("h") B64_ROW("i")
	B64_ROW("j") B64_ROW("k") B64_ROW("l") B64_ROW("m") B64_ROW("n")
	B64_ROW("o") B64_ROW("p") B64_ROW("q") B64_ROW("r") B64_ROW("s")
	B64_ROW("t") B64_ROW("u") B64_ROW("v") B64_ROW("w") B64_ROW("x")
	B64_ROW("y") B64_ROW("z") B64_ROW("0") B64_ROW("1") B64_ROW("2")
	B64_ROW("3") B64_ROW("4") B64_ROW("5") B64_ROW("6") B64_ROW("7")
	B64_ROW("8") B64_ROW("9") B64_ROW("+") B64_ROW("/");

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Sextet value + 1 of each byte; 0 for anything outside the alphabet
 * (including '=', which only the last quad may hold). Subtracting 1 turns
 * a miss into 0xffffffff, so one test of bit 7 covers a whole quad. */
static const uint8_t b64_sextet1[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static inline uint64_t b64_load_be64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static inline void b64_put_pair(char *d, uint64_t x12)
{
	memcpy(d, b64_pairs + 2 * (x12 & 0xfff), 2);
}

/* 6 input bytes (of an 8-byte load) -> 8 chars. */
static inline void b64_encode6(char *d, const unsigned char *s)
{
	uint64_t w = b64_load_be64(s);
	b64_put_pair(d, w >> 52);
	b64_put_pair(d + 2, w >> 40);
	b64_put_pair(d + 4, w >> 28);
	b64_put_pair(d + 6, w >> 16);
}

/* 3 input bytes -> 4 chars. */
static inline void b64_encode3(char *d, const unsigned char *s)
{
	uint32_t x = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
	b64_put_pair(d, x >> 12);
	b64_put_pair(d + 2, x);
}

/* The last 1 or 2 bytes -> 4 chars with padding. */
static void b64_encode_tail(char *d, const unsigned char *s, size_t n)
{
	uint32_t x = (uint32_t)s[0] << 16 | (n > 1 ? (uint32_t)s[1] << 8 : 0);
	d[0] = b64_alphabet[x >> 18];
	d[1] = b64_alphabet[(x >> 12) & 63];
	d[2] = n > 1 ? b64_alphabet[(x >> 6) & 63] : B64_PAD;
	d[3] = B64_PAD;
}

/* The whole encoding, 24 bytes per round: no per-byte branches, 12 bits
 * -> 2 chars per lookup. */
static size_t b64_scalar_encode(char *dst, const unsigned char *s, size_t n)
{
	char *d = dst;

	/* Each 8-byte load uses 6 bytes, so keep 2 spare bytes in the input. */
	while (n >= 26) {
		b64_encode6(d, s);
		b64_encode6(d + 8, s + 6);
		b64_encode6(d + 16, s + 12);
		b64_encode6(d + 24, s + 18);
		s += 24;
		d += 32;
		n -= 24;
	}
	while (n >= 3) {
		b64_encode3(d, s);
		s += 3;
		d += 4;
		n -= 3;
	}
	if (n) {
		b64_encode_tail(d, s, n);
		d += 4;
	}
	return (size_t)(d - dst);
}

/* ---- the paths ---- */

struct b64_impl {
	const char *name;
	/* NULL: the scalar code does everything */
	size_t (*encode)(char *dst, const unsigned char *src, size_t n);
	size_t (*decode)(unsigned char *dst, size_t room, const unsigned char *src, size_t n);
};

static const struct b64_impl b64_impls[B64_PATH_COUNT] = {
	[B64_PATH_SCALAR] = { "scalar", NULL, NULL },
#if B64_HAVE_X86
	[B64_PATH_SSE41] = { "sse4.1", b64_sse41_encode, b64_sse41_decode },
	[B64_PATH_AVX2] = { "avx2", b64_avx2_encode, b64_avx2_decode },
#else
	[B64_PATH_SSE41] = { "sse4.1", NULL, NULL },
	[B64_PATH_AVX2] = { "avx2", NULL, NULL },
#endif
};

/* The path in use; -1 until the first call picks one. Atomic only so that
 * two threads racing to pick (both pick the same) are well defined. */
static int b64_current = -1;

const char *b64_path_name(enum b64_path p)
{
	return (unsigned)p < B64_PATH_COUNT ? b64_impls[p].name : "?";
}

bool b64_path_supported(enum b64_path p)
{
	switch (p) {
	case B64_PATH_SCALAR:
		return true;
#if B64_HAVE_X86
	case B64_PATH_SSE41:
		__builtin_cpu_init();
		return __builtin_cpu_supports("sse4.1");
	case B64_PATH_AVX2:
		/* also true only when the OS saves the ymm registers */
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
#endif
	default:
		return false;
	}
}

int b64_path_use(enum b64_path p)
{
	if ((unsigned)p >= B64_PATH_COUNT)
		return -EINVAL;
	if (!b64_path_supported(p))
		return -ENOTSUP;
	__atomic_store_n(&b64_current, (int)p, __ATOMIC_RELAXED);
	return 0;
}

/* The best path the CPU has, unless $RINGEXEC_B64 names a supported one. */
static enum b64_path b64_pick(void)
{
	enum b64_path best = B64_PATH_SCALAR;
	for (int p = B64_PATH_COUNT - 1; p > B64_PATH_SCALAR; p--) {
		if (b64_path_supported((enum b64_path)p)) {
			best = (enum b64_path)p;
			break;
		}
	}
	const char *want = getenv("RINGEXEC_B64");
	if (want && *want) {
		for (int p = 0; p < B64_PATH_COUNT; p++) {
			if (!strcmp(want, b64_impls[p].name) && b64_path_supported((enum b64_path)p))
				return (enum b64_path)p;
		}
		log_warn("RINGEXEC_B64=%s is not a base64 path this CPU has "
			 "(scalar, sse4.1, avx2); using %s", want, b64_impls[best].name);
	}
	return best;
}

enum b64_path b64_path_current(void)
{
	int p = __atomic_load_n(&b64_current, __ATOMIC_RELAXED);
	if (__builtin_expect(p < 0, 0)) {
		p = (int)b64_pick();
		__atomic_store_n(&b64_current, p, __ATOMIC_RELAXED);
		log_debug("base64: %s path", b64_impls[p].name);
	}
	return (enum b64_path)p;
}

size_t b64_encode(char *dst, const void *src, size_t n)
{
	const struct b64_impl *im = &b64_impls[b64_path_current()];
	const unsigned char *s = src;
	size_t done = im->encode ? im->encode(dst, s, n) : 0;
	size_t out = done / 3 * 4;
	return out + b64_scalar_encode(dst + out, s + done, n - done);
}

/* ---- decoding ---- */

static long b64_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static long b64_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static long b64_invalid_byte(char *err, size_t errlen, const char *src, size_t off)
{
	return b64_fail(err, errlen, "Invalid symbol %u, offset %zu.",
			(unsigned char)src[off], off);
}

static inline int b64_is_symbol(unsigned char c)
{
	return b64_sextet1[c] != 0;
}

/* Decode one quad of alphabet symbols; returns 0, or -1 when any symbol is
 * outside the alphabet (the caller finds which). One branch per quad. */
static inline int b64_decode4(unsigned char *d, const unsigned char *s)
{
	uint32_t a = b64_sextet1[s[0]] - 1u, b = b64_sextet1[s[1]] - 1u;
	uint32_t c = b64_sextet1[s[2]] - 1u, e = b64_sextet1[s[3]] - 1u;
	if ((a | b | c | e) & 0x80)
		return -1;
	uint32_t x = a << 18 | b << 12 | c << 6 | e;
	d[0] = (unsigned char)(x >> 16);
	d[1] = (unsigned char)(x >> 8);
	d[2] = (unsigned char)x;
	return 0;
}

/* Offset of the first non-alphabet byte at or after src[at]; only called
 * when b64_decode4 has failed on a quad there, so it stops inside it. */
static size_t b64_first_bad(const char *src, size_t at)
{
	while (b64_is_symbol((unsigned char)src[at]))
		at++;
	return at;
}

/* The last 1..4 characters at src[at..n): padding, length and trailing bits,
 * checked in the order the reference decoder checks them. */
static long b64_decode_last(unsigned char *d, const char *src, size_t at, size_t n,
			    char *err, size_t errlen)
{
	uint32_t v[4] = { 0, 0, 0, 0 };
	size_t syms = 0, pads = 0, first_pad = 0;

	for (size_t i = 0; at + i < n; i++) {
		unsigned char c = (unsigned char)src[at + i];
		if (c == B64_PAD) {
			if (i < 2)
				return b64_invalid_byte(err, errlen, src, at + i);
			if (!pads)
				first_pad = at + i;
			pads++;
			continue;
		}
		if (pads)
			return b64_invalid_byte(err, errlen, src, first_pad);
		if (!b64_is_symbol(c))
			return b64_invalid_byte(err, errlen, src, at + i);
		v[syms++] = b64_sextet1[c] - 1u;
	}
	if (syms < 2)
		return b64_fail(err, errlen, "Invalid input length: %zu", at + syms);
	if ((syms + pads) % 4)
		return b64_fail(err, errlen, "Invalid padding");

	uint32_t x = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
	size_t out = syms * 6 / 8;
	uint32_t spare = (1u << (24 - 8 * out)) - 1;
	if (x & spare)
		return b64_fail(err, errlen, "Invalid last symbol %u, offset %zu.",
				(unsigned char)src[at + syms - 1], at + syms - 1);
	for (size_t i = 0; i < out; i++)
		d[i] = (unsigned char)(x >> (16 - 8 * i));
	return (long)out;
}

long b64_decode(void *dst, const char *src, size_t n, char *err, size_t errlen)
{
	unsigned char *d = dst;
	const unsigned char *s = (const unsigned char *)src;

	if (err && errlen)
		err[0] = '\0';
	if (n == 0)
		return 0;
	/* A stray trailing byte (a newline, say) is named before anything else. */
	if (n % 4 == 1 && s[n - 1] != B64_PAD && !b64_is_symbol(s[n - 1]))
		return b64_invalid_byte(err, errlen, src, n - 1);

	/* Every whole quad but the last, which may hold padding. */
	size_t body = n % 4 ? n - n % 4 : n - 4;
	/* A vector path takes the valid blocks it can; the rest, from the
	 * first block it refused, is the scalar code's, errors included. */
	const struct b64_impl *im = &b64_impls[b64_path_current()];
	size_t i = im->decode ? im->decode(d, b64_decoded_max(n), s, body) : 0;
	d += i / 4 * 3;
	for (; i + 8 <= body; i += 8, d += 6) {
		if (b64_decode4(d, s + i) | b64_decode4(d + 3, s + i + 4))
			return b64_invalid_byte(err, errlen, src, b64_first_bad(src, i));
	}
	for (; i < body; i += 4, d += 3) {
		if (b64_decode4(d, s + i))
			return b64_invalid_byte(err, errlen, src, b64_first_bad(src, i));
	}
	long last = b64_decode_last(d, src, body, n, err, errlen);
	if (last < 0)
		return -1;
	return (long)(d - (unsigned char *)dst) + last;
}
