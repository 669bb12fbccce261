/* unit_b64: proto/b64 against RFC 4648 vectors, an independent slow encoder,
 * random round trips, every last-quad shape, and each class of bad input
 * with the exact error text of Rust's base64 0.22 STANDARD engine; then
 * every path this CPU has (scalar, SSE4.1, AVX2) against the scalar one:
 * every length 0..4096 encoded, decoded and round-tripped, every error text
 * with the error inside a vector block and in the tail, every byte value at
 * every position. Every decode of the first group runs on all paths too.
 * Inputs and outputs sit in exact-size heap buffers, so ASan sees any read
 * or write past them. Checks only results; no timing here.
 */
#include "b64.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64_test_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint64_t b64_test_rng = 0x9e3779b97f4a7c15ull;

static uint32_t b64_test_rand(void)
{
	b64_test_rng ^= b64_test_rng << 13;
	b64_test_rng ^= b64_test_rng >> 7;
	b64_test_rng ^= b64_test_rng << 17;
	return (uint32_t)(b64_test_rng >> 16);
}

/* Bit at a time, nothing shared with the module. */
static size_t b64_test_slow_encode(char *dst, const unsigned char *src, size_t n)
{
	size_t o = 0, bits = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | src[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			dst[o++] = b64_test_alpha[(acc >> bits) & 63];
		}
	}
	if (bits)
		dst[o++] = b64_test_alpha[(acc << (6 - bits)) & 63];
	while (o % 4)
		dst[o++] = '=';
	return o;
}

static int b64_test_index(char c)
{
	const char *p = c ? strchr(b64_test_alpha, c) : NULL;
	return p ? (int)(p - b64_test_alpha) : -1;
}

/* ---- every path ---- */

static enum b64_path b64_test_paths[B64_PATH_COUNT];
static int b64_test_npaths;		/* scalar first */
static enum b64_path b64_test_home;	/* the path picked at start */
static int b64_test_reported;		/* mismatches printed in this case */

static void b64_test_mismatch(const char *what, enum b64_path p, const char *s, size_t n,
			      const char *detail)
{
	tap_case_failed = 1;
	if (b64_test_reported++ < 5)
		tap_diag("FAIL %s on %s, %zu chars \"%.*s%s\": %s", what, b64_path_name(p), n,
			 n > 80 ? 80 : (int)n, s, n > 80 ? "..." : "", detail);
}

/* Encode src[0..n) on every path into exact-size heap buffers; each must
 * equal ref (ref_len chars). */
static void b64_test_encode_all(const unsigned char *src, size_t n, const char *ref,
				size_t ref_len)
{
	for (int k = 0; k < b64_test_npaths; k++) {
		char *enc = malloc(b64_encoded_len(n) + 1);
		REQUIRE(enc);
		REQUIRE(b64_path_use(b64_test_paths[k]) == 0);
		size_t m = b64_encode(enc, src, n);
		if (m != ref_len || memcmp(enc, ref, m))
			b64_test_mismatch("encode", b64_test_paths[k], ref, ref_len, "differs");
		free(enc);
	}
	b64_path_use(b64_test_home);
}

/* Decode s[0..n) on every path, each from an exact-size heap copy into an
 * exact-size heap buffer (b64_decoded_max(n)); every path must agree with
 * the scalar one on the result, the error text and the bytes. Returns the
 * scalar result; its bytes go to out (room for b64_decoded_max(n)) and its
 * error text to err (128 bytes), each when non-NULL. */
static long b64_test_decode_all(const char *s, size_t n, unsigned char *out, char *err)
{
	char *in = malloc(n ? n : 1);
	unsigned char *ref = malloc(b64_decoded_max(n)), *got = malloc(b64_decoded_max(n));
	char ref_err[128], got_err[128], detail[400];
	long r = -2;
	if (!in || !ref || !got) {
		tap_fail(__FILE__, __LINE__, "malloc", NULL);
		goto out;
	}
	memcpy(in, s, n);
	for (int k = 0; k < b64_test_npaths; k++) {
		enum b64_path p = b64_test_paths[k];
		unsigned char *dst = k ? got : ref;
		char *e = k ? got_err : ref_err;
		if (b64_path_use(p) < 0) {
			b64_test_mismatch("b64_path_use", p, s, n, "refused");
			continue;
		}
		strcpy(e, "unset");
		long d = b64_decode(dst, in, n, e, 128);
		if (!k) {
			r = d;
			continue;
		}
		if (d != r || strcmp(e, ref_err)) {
			snprintf(detail, sizeof(detail), "got %ld \"%s\", scalar %ld \"%s\"", d, e,
				 r, ref_err);
			b64_test_mismatch("decode", p, s, n, detail);
		} else if (d > 0 && memcmp(got, ref, (size_t)d)) {
			b64_test_mismatch("decode", p, s, n, "bytes differ");
		}
	}
	if (out && r > 0)
		memcpy(out, ref, (size_t)r);
	if (err)
		strcpy(err, ref_err);
out:
	b64_path_use(b64_test_home);
	free(in);
	free(ref);
	free(got);
	return r;
}

/* Decode a string on every path; returns the length, fills out and err. */
static long b64_test_dec(const char *s, unsigned char *out, char *err)
{
	return b64_test_decode_all(s, strlen(s), out, err);
}

/* Valid full quads put in front of an input move its error K characters on
 * (into a vector block, at another lane) and change nothing else. */
static const size_t b64_test_prefixes[] = {
	0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 60, 64, 92, 96, 128, 4096,
};

static char *b64_test_prefixed(const char *in, size_t n, size_t k)
{
	char *t = malloc(k + n + 1);
	if (!t)
		return NULL;
	for (size_t i = 0; i < k; i++)
		t[i] = b64_test_alpha[b64_test_rand() & 63];
	memcpy(t + k, in, n);
	t[k + n] = '\0';
	return t;
}

/* want with the number after "offset " or "length: " increased by k. */
static void b64_test_shift(const char *want, size_t k, char *out, size_t outlen)
{
	const char *at = strstr(want, "offset ");
	size_t skip = 7;
	if (!at) {
		at = strstr(want, "length: ");
		skip = 8;
	}
	if (!at) {
		snprintf(out, outlen, "%s", want);
		return;
	}
	char *end;
	unsigned long v = strtoul(at + skip, &end, 10);
	snprintf(out, outlen, "%.*s%lu%s", (int)(at + skip - want), want, v + k, end);
}

static void b64_expect_error_n(const char *in, size_t n, const char *want)
{
	for (size_t j = 0; j < sizeof(b64_test_prefixes) / sizeof(b64_test_prefixes[0]); j++) {
		size_t k = b64_test_prefixes[j];
		char *text = b64_test_prefixed(in, n, k), err[128] = "unset", shifted[128];
		REQUIRE(text);
		b64_test_shift(want, k, shifted, sizeof(shifted));
		long r = b64_test_decode_all(text, k + n, NULL, err);
		CHECKF(r == -1, "input \"%s\" after %zu chars decoded to %ld bytes", in, k, r);
		CHECKF(!strcmp(err, shifted), "input \"%s\" after %zu chars: got \"%s\", want \"%s\"",
		       in, k, err, shifted);
		free(text);
	}
}

static void b64_expect_error(const char *in, const char *want)
{
	b64_expect_error_n(in, strlen(in), want);
}

static void b64_expect_ok(const char *in, const char *want)
{
	size_t wn = strlen(want);
	for (size_t j = 0; j < sizeof(b64_test_prefixes) / sizeof(b64_test_prefixes[0]); j++) {
		size_t k = b64_test_prefixes[j];
		char *text = b64_test_prefixed(in, strlen(in), k), err[128] = "unset";
		unsigned char *out = malloc(b64_decoded_max(k + strlen(in)));
		REQUIRE(text && out);
		long r = b64_test_decode_all(text, k + strlen(in), out, err);
		long want_len = (long)(k / 4 * 3 + wn);
		CHECKF(r == want_len, "input \"%s\" after %zu chars: r=%ld err=\"%s\"", in, k, r, err);
		if (r == want_len)
			CHECKF(!memcmp(out + k / 4 * 3, want, wn), "input \"%s\": wrong bytes", in);
		CHECKF(err[0] == '\0', "input \"%s\": err not cleared: \"%s\"", in, err);
		free(text);
		free(out);
	}
}

static void test_rfc4648_vectors(void)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char enc[32];
		size_t n = strlen(v[i][0]);
		CHECK(b64_encoded_len(n) == strlen(v[i][1]));
		size_t m = b64_encode(enc, v[i][0], n);
		CHECKF(m == strlen(v[i][1]) && !memcmp(enc, v[i][1], m),
		       "encode \"%s\" -> \"%.*s\"", v[i][0], (int)m, enc);
		b64_expect_ok(v[i][1], v[i][0]);
	}
}

static void test_alphabet_edges(void)
{
	unsigned char ff[3] = { 0xff, 0xff, 0xff }, fb[3] = { 0xfb, 0xef, 0xbe };
	char enc[8];
	CHECK(b64_encode(enc, ff, 3) == 4 && !memcmp(enc, "////", 4));
	CHECK(b64_encode(enc, fb, 3) == 4 && !memcmp(enc, "++++", 4));
	CHECK(b64_encode(enc, ff, 1) == 4 && !memcmp(enc, "/w==", 4));
	CHECK(b64_encode(enc, ff, 2) == 4 && !memcmp(enc, "//8=", 4));
	unsigned char zero[3] = { 0, 0, 0 };
	CHECK(b64_encode(enc, zero, 3) == 4 && !memcmp(enc, "AAAA", 4));
	unsigned char out[4] = { 1, 1, 1, 1 };
	CHECK(b64_decode(out, "AAAA", 4, NULL, 0) == 3);
	CHECK(!out[0] && !out[1] && !out[2]);
}

/* Every length from 0 to 1000 against the slow encoder, in exact-size heap
 * buffers so ASan sees any write or read past the end. */
static void test_roundtrip_random(void)
{
	for (size_t n = 0; n <= 1000; n++) {
		unsigned char *src = malloc(n ? n : 1);
		char *enc = malloc(b64_encoded_len(n) + 1);
		char *ref = malloc(b64_encoded_len(n) + 1);
		unsigned char *dec = malloc(b64_decoded_max(b64_encoded_len(n)));
		REQUIRE(src && enc && ref && dec);
		for (size_t i = 0; i < n; i++)
			src[i] = (unsigned char)b64_test_rand();
		size_t m = b64_encode(enc, src, n);
		size_t rm = b64_test_slow_encode(ref, src, n);
		CHECKF(m == b64_encoded_len(n), "n=%zu m=%zu", n, m);
		CHECKF(m == rm && !memcmp(enc, ref, m), "n=%zu encodings differ", n);
		char err[128];
		long d = b64_decode(dec, enc, m, err, sizeof(err));
		CHECKF(d == (long)n, "n=%zu decoded %ld (%s)", n, d, err);
		if (d == (long)n)
			CHECKF(!n || !memcmp(dec, src, n), "n=%zu bytes differ", n);
		free(src);
		free(enc);
		free(ref);
		free(dec);
	}
}

/* Encoding at every alignment of source and destination. */
static void test_unaligned(void)
{
	unsigned char src[128 + 8];
	char enc[200], ref[200];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)b64_test_rand();
	for (size_t so = 0; so < 8; so++) {
		for (size_t dof = 0; dof < 8; dof++) {
			size_t m = b64_encode(enc + dof, src + so, 128);
			size_t rm = b64_test_slow_encode(ref, src + so, 128);
			CHECK(m == rm && !memcmp(enc + dof, ref, m));
		}
	}
}

static void test_decode_bounds(void)
{
	/* The decoder never writes past b64_decoded_max(n). */
	for (size_t n = 0; n <= 64; n++) {
		unsigned char src[64];
		char enc[96];
		unsigned char out[128];
		for (size_t i = 0; i < n; i++)
			src[i] = (unsigned char)b64_test_rand();
		size_t m = b64_encode(enc, src, n);
		memset(out, 0xa5, sizeof(out));
		long d = b64_decode(out, enc, m, NULL, 0);
		CHECK(d == (long)n);
		for (size_t i = b64_decoded_max(m); i < sizeof(out); i++)
			CHECKF(out[i] == 0xa5, "n=%zu wrote at %zu", n, i);
	}
}

/* Every 2-symbol final quad "XY==" and 3-symbol "XYZ=": accepted exactly
 * when the unused low bits are zero, with the right bytes. */
static void test_every_last_quad(void)
{
	int bad_accept = 0, bad_reject = 0, bad_bytes = 0;
	for (int x = 0; x < 64; x++) {
		for (int y = 0; y < 64; y++) {
			char q[5] = { b64_test_alpha[x], b64_test_alpha[y], '=', '=', 0 };
			unsigned char out[8];
			char err[128];
			long r = b64_test_dec(q, out, err);
			int ok = (y & 15) == 0;
			if (ok && r != 1)
				bad_reject++;
			if (!ok && r != -1)
				bad_accept++;
			if (ok && r == 1 && out[0] != (x << 2 | y >> 4))
				bad_bytes++;
			if (!ok && r == -1) {
				char want[64];
				snprintf(want, sizeof(want), "Invalid last symbol %d, offset 1.",
					 (unsigned char)q[1]);
				if (strcmp(err, want))
					bad_reject++;
			}
			for (int z = 0; z < 64; z++) {
				char t[5] = { q[0], q[1], b64_test_alpha[z], '=', 0 };
				r = b64_test_dec(t, out, err);
				ok = (z & 3) == 0;
				uint32_t v = (uint32_t)(x << 18 | y << 12 | z << 6);
				if (ok && (r != 2 || out[0] != (v >> 16) || out[1] != ((v >> 8) & 255)))
					bad_bytes++;
				if (!ok && r != -1)
					bad_accept++;
			}
		}
	}
	CHECKF(!bad_accept, "%d non-canonical quads accepted", bad_accept);
	CHECKF(!bad_reject, "%d canonical quads rejected or wrong error", bad_reject);
	CHECKF(!bad_bytes, "%d quads decoded to wrong bytes", bad_bytes);
}

static void test_invalid_symbol(void)
{
	b64_expect_error("Zm!v", "Invalid symbol 33, offset 2.");
	b64_expect_error("Zm9vYm!y", "Invalid symbol 33, offset 6.");
	b64_expect_error("Zm9vYmFyZm9vYmFyZm9vYmFyZm9v*mFyZm9vYmFy",
			 "Invalid symbol 42, offset 28.");
	b64_expect_error("-_AA", "Invalid symbol 45, offset 0.");
	b64_expect_error("Zm9v Zm9v", "Invalid symbol 32, offset 4.");
	b64_expect_error("YWJj\r\n", "Invalid symbol 13, offset 4.");
	b64_expect_error("\xc3\xa9" "AA", "Invalid symbol 195, offset 0.");
	/* the first bad byte of a quad wins */
	b64_expect_error("Zm9vY!!yZm9v", "Invalid symbol 33, offset 5.");
	/* an embedded NUL is a symbol like any other */
	b64_expect_error_n("Zm\0v", 4, "Invalid symbol 0, offset 2.");
}

static void test_trailing_byte_named_first(void)
{
	/* length % 4 == 1 with a non-alphabet last byte: that byte is named,
	 * even when an earlier byte is bad too */
	b64_expect_error("Zm9v\n", "Invalid symbol 10, offset 4.");
	b64_expect_error("Zg==\n", "Invalid symbol 10, offset 4.");
	b64_expect_error("!m9vYmFy\n", "Invalid symbol 10, offset 8.");
}

static void test_invalid_length(void)
{
	b64_expect_error("Z", "Invalid input length: 1");
	b64_expect_error("Zm9vY", "Invalid input length: 5");
	b64_expect_error("Zm9vYmFyZ", "Invalid input length: 9");
	/* a bad byte earlier in the input is reported before the length */
	b64_expect_error("Z!9vY", "Invalid symbol 33, offset 1.");
}

static void test_invalid_padding(void)
{
	b64_expect_error("Zg", "Invalid padding");
	b64_expect_error("Zg=", "Invalid padding");
	b64_expect_error("Zm8", "Invalid padding");
	b64_expect_error("Zm9vYg", "Invalid padding");
	b64_expect_error("Zm9vYmE", "Invalid padding");
	/* missing padding is reported before non-canonical trailing bits */
	b64_expect_error("Zh", "Invalid padding");
}

static void test_misplaced_padding(void)
{
	b64_expect_error("====", "Invalid symbol 61, offset 0.");
	b64_expect_error("Z===", "Invalid symbol 61, offset 1.");
	b64_expect_error("Zg=a", "Invalid symbol 61, offset 2.");
	b64_expect_error("Zm9vYg==Zm9v", "Invalid symbol 61, offset 6.");
	b64_expect_error("Zm9vYmFy====", "Invalid symbol 61, offset 8.");
	b64_expect_error("AAAA=", "Invalid symbol 61, offset 4.");
	b64_expect_error("AAA==", "Invalid symbol 61, offset 3.");
	b64_expect_error("Zg===", "Invalid symbol 61, offset 2.");
	b64_expect_error("=Zm9", "Invalid symbol 61, offset 0.");
}

static void test_invalid_last_symbol(void)
{
	b64_expect_error("Zh==", "Invalid last symbol 104, offset 1.");
	b64_expect_error("Zm9=", "Invalid last symbol 57, offset 2.");
	b64_expect_error("Zm9vZh==", "Invalid last symbol 104, offset 5.");
	b64_expect_error("Zm9vYmF=", "Invalid last symbol 70, offset 6.");
	b64_expect_ok("Zm8=", "fo");
	b64_expect_ok("Zm9vYmE=", "fooba");
}

/* Replace one symbol of a valid encoding by a random non-alphabet byte: the
 * decoder must refuse and name that byte and offset. */
static void test_random_corruption(void)
{
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = 1 + b64_test_rand() % 200;
		unsigned char src[200], out[300];
		char enc[300], err[128], want[128];
		for (size_t i = 0; i < n; i++)
			src[i] = (unsigned char)b64_test_rand();
		size_t m = b64_encode(enc, src, n);
		size_t pads = (3 - n % 3) % 3;
		size_t at = b64_test_rand() % (m - pads);
		unsigned char c;
		do
			c = (unsigned char)b64_test_rand();
		while (c == '=' || b64_test_index((char)c) >= 0);
		enc[at] = (char)c;
		long r = b64_test_decode_all(enc, m, out, err);
		snprintf(want, sizeof(want), "Invalid symbol %u, offset %zu.", c, at);
		CHECKF(r == -1 && !strcmp(err, want), "n=%zu at=%zu got \"%s\"", n, at, err);
	}
}

static void test_error_buffer(void)
{
	unsigned char out[8];
	char err[8];
	memset(err, 'x', sizeof(err));
	CHECK(b64_decode(out, "Z!==", 4, err, 6) == -1);
	CHECK(!strcmp(err, "Inval"));
	CHECK(err[6] == 'x');
	CHECK(b64_decode(out, "Z!==", 4, NULL, 0) == -1);
	CHECK(b64_decode(out, "Z!==", 4, err, 0) == -1);
	CHECK(b64_decode(out, "", 0, err, sizeof(err)) == 0 && err[0] == '\0');
}

static void test_paths_available(void)
{
	CHECK(b64_path_supported(B64_PATH_SCALAR));
	CHECK(!strcmp(b64_path_name(B64_PATH_SCALAR), "scalar"));
	CHECK(!strcmp(b64_path_name(B64_PATH_SSE41), "sse4.1"));
	CHECK(!strcmp(b64_path_name(B64_PATH_AVX2), "avx2"));
	CHECK(b64_path_use(B64_PATH_COUNT) == -EINVAL);
	CHECK(b64_path_use((enum b64_path)-1) == -EINVAL);
	for (int p = 0; p < B64_PATH_COUNT; p++) {
		if (b64_path_supported((enum b64_path)p)) {
			CHECK(b64_path_use((enum b64_path)p) == 0);
			CHECK(b64_path_current() == (enum b64_path)p);
		} else {
			CHECK(b64_path_use((enum b64_path)p) == -ENOTSUP);
		}
	}
	CHECK(b64_path_use(b64_test_home) == 0);
	tap_diag("paths compared: %d (in use: %s)", b64_test_npaths, b64_path_name(b64_test_home));
	if (b64_test_npaths < B64_PATH_COUNT)
		tap_skip("this CPU lacks a vector path; only %d of %d compared", b64_test_npaths,
			 B64_PATH_COUNT);
}

/* Every length 0..4096: every path's encoding equals the slow encoder's,
 * and every path decodes it back to the input. */
static void test_paths_every_length(void)
{
	b64_test_reported = 0;
	for (size_t n = 0; n <= 4096; n++) {
		unsigned char *src = malloc(n ? n : 1), *out = malloc(b64_decoded_max(b64_encoded_len(n)));
		char *ref = malloc(b64_encoded_len(n) + 1), err[128];
		REQUIRE(src && ref && out);
		for (size_t i = 0; i < n; i++)
			src[i] = (unsigned char)b64_test_rand();
		size_t m = b64_test_slow_encode(ref, src, n);
		b64_test_encode_all(src, n, ref, m);
		long d = b64_test_decode_all(ref, m, out, err);
		CHECKF(d == (long)n && (!n || !memcmp(out, src, n)), "n=%zu: %ld (%s)", n, d, err);
		free(src);
		free(ref);
		free(out);
	}
}

/* Bytes that sit next to the alphabet's ranges, the padding, whitespace,
 * the URL-safe pair, NUL and the high half. */
static const unsigned char b64_test_nasty[] = {
	'=', '!', '-', '_', '.', ',', '*', ':', '@', '[', '`', '{', '\n', '\r', ' ', 0,
	0x7f, 0x80, 0xab, 0xc0, 0xef, 0xff, '+' | 0x80, '/' | 0x80, 'A' | 0x80,
};

/* Every length 0..4096 of text that is mostly valid base64, with a few
 * characters replaced by any byte, nasty ones most: every path gives the
 * scalar path's answer. */
static void test_paths_random_text(void)
{
	b64_test_reported = 0;
	for (size_t n = 0; n <= 4096; n++) {
		for (int variant = 0; variant < 4; variant++) {
			size_t bytes = (n + 3) / 4 * 3;
			unsigned char *src = malloc(bytes + 1);
			char *text = malloc(b64_encoded_len(bytes) + 1);
			REQUIRE(src && text);
			for (size_t i = 0; i < bytes; i++)
				src[i] = (unsigned char)b64_test_rand();
			b64_test_slow_encode(text, src, bytes);
			/* variant 0 unchanged (valid when n % 4 == 0), else 1..3 changes,
			 * the last one often in the final quad */
			for (int c = 0; c < variant && n; c++) {
				uint32_t r = b64_test_rand();
				size_t at = (c == 2 && n > 4) ? n - 1 - r % 4 : r % n;
				unsigned char v = (r >> 8) & 1 ? b64_test_nasty[(r >> 9) % sizeof(b64_test_nasty)]
							: (unsigned char)(r >> 16);
				text[at] = (char)v;
			}
			b64_test_decode_all(text, n, NULL, NULL);
			free(src);
			free(text);
		}
	}
	/* also texts of only padding and alphabet, at every length up to 300 */
	for (size_t n = 0; n <= 300; n++) {
		char *text = malloc(n + 1);
		REQUIRE(text);
		for (size_t i = 0; i < n; i++)
			text[i] = b64_test_rand() % 8 ? b64_test_alpha[b64_test_rand() & 63] : '=';
		b64_test_decode_all(text, n, NULL, NULL);
		free(text);
	}
}

/* Every byte value outside the alphabet at every position of a 200-char
 * encoding (vector blocks of 16 and 32, every lane, the scalar tail, the
 * last quad): each path names it, or, in the last quad, agrees with the
 * scalar path. */
static void test_paths_bad_byte_everywhere(void)
{
	unsigned char src[150];
	char enc[200], want[64], err[128];
	b64_test_reported = 0;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)b64_test_rand();
	REQUIRE(b64_test_slow_encode(enc, src, sizeof(src)) == sizeof(enc));
	int wrong = 0;
	for (size_t at = 0; at < sizeof(enc); at++) {
		char keep = enc[at];
		for (int c = 0; c < 256; c++) {
			if (b64_test_index((char)c) >= 0)
				continue;
			enc[at] = (char)c;
			long r = b64_test_decode_all(enc, sizeof(enc), NULL, err);
			snprintf(want, sizeof(want), "Invalid symbol %d, offset %zu.", c, at);
			if (at < sizeof(enc) - 4 && (r != -1 || strcmp(err, want)) && !wrong++)
				tap_diag("at %zu byte %d: %ld \"%s\"", at, c, r, err);
		}
		enc[at] = keep;
	}
	CHECKF(!wrong, "%d bad bytes misreported", wrong);
}

/* Two bad bytes in one vector block, or in neighbouring blocks: the first
 * is named, on every path. */
static void test_paths_first_bad_wins(void)
{
	char enc[256], want[64], err[128];
	int wrong = 0;
	b64_test_reported = 0;
	for (size_t a = 0; a < 96; a++) {
		for (size_t b = a + 1; b < 100; b++) {
			for (size_t i = 0; i < sizeof(enc); i++)
				enc[i] = b64_test_alpha[b64_test_rand() & 63];
			enc[a] = '!';
			enc[b] = '=';
			long r = b64_test_decode_all(enc, sizeof(enc), NULL, err);
			snprintf(want, sizeof(want), "Invalid symbol 33, offset %zu.", a);
			if ((r != -1 || strcmp(err, want)) && !wrong++)
				tap_diag("bad at %zu and %zu: %ld \"%s\"", a, b, r, err);
		}
	}
	CHECKF(!wrong, "%d pairs misreported", wrong);
}

/* No path writes at or past b64_decoded_max(n), valid input or not, and a
 * path's output is complete where its blocks stop. */
static void test_paths_decode_bounds(void)
{
	enum { CANARY = 64 };
	for (size_t n = 0; n <= 400; n++) {
		size_t room = b64_decoded_max(n);
		char *text = malloc(n + 1);
		unsigned char *out = malloc(room + CANARY);
		REQUIRE(text && out);
		for (size_t i = 0; i < n; i++)
			text[i] = b64_test_alpha[b64_test_rand() & 63];
		if (n % 4 == 0 && n)
			text[n - 1] = 'A';	/* a valid last quad */
		for (int k = 0; k < b64_test_npaths; k++) {
			REQUIRE(b64_path_use(b64_test_paths[k]) == 0);
			memset(out, 0xa5, room + CANARY);
			long d = b64_decode(out, text, n, NULL, 0);
			CHECKF(n % 4 != 0 || d == (long)(n / 4 * 3), "n=%zu: %ld", n, d);
			for (size_t i = room; i < room + CANARY; i++)
				CHECKF(out[i] == 0xa5, "%s: n=%zu wrote at %zu (room %zu)",
				       b64_path_name(b64_test_paths[k]), n, i, room);
		}
		free(text);
		free(out);
	}
	b64_path_use(b64_test_home);
}

static const struct tap_case cases[] = {
	{ "rfc4648_vectors", test_rfc4648_vectors },
	{ "alphabet_edges", test_alphabet_edges },
	{ "roundtrip_random", test_roundtrip_random },
	{ "unaligned", test_unaligned },
	{ "decode_bounds", test_decode_bounds },
	{ "every_last_quad", test_every_last_quad },
	{ "invalid_symbol", test_invalid_symbol },
	{ "trailing_byte_named_first", test_trailing_byte_named_first },
	{ "invalid_length", test_invalid_length },
	{ "invalid_padding", test_invalid_padding },
	{ "misplaced_padding", test_misplaced_padding },
	{ "invalid_last_symbol", test_invalid_last_symbol },
	{ "random_corruption", test_random_corruption },
	{ "error_buffer", test_error_buffer },
	{ "paths_available", test_paths_available },
	{ "paths_every_length", test_paths_every_length },
	{ "paths_random_text", test_paths_random_text },
	{ "paths_bad_byte_everywhere", test_paths_bad_byte_everywhere },
	{ "paths_first_bad_wins", test_paths_first_bad_wins },
	{ "paths_decode_bounds", test_paths_decode_bounds },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	b64_test_home = b64_path_current();
	for (int p = 0; p < B64_PATH_COUNT; p++) {
		if (b64_path_supported((enum b64_path)p))
			b64_test_paths[b64_test_npaths++] = (enum b64_path)p;
	}
	return tap_main(argc, argv, cases);
}
