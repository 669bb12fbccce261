/* unit_b64: proto/b64 against RFC 4648 vectors, an independent slow encoder,
 * random round trips, every last-quad shape, and each class of bad input
 * with the exact error text of Rust's base64 0.22 STANDARD engine.
 * Checks only results; no timing here.
 */
#include "b64.h"
#include "tap.h"

#include <stdint.h>
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

/* Decode a string; returns the length, fills out and err. */
static long b64_test_dec(const char *s, unsigned char *out, char *err)
{
	return b64_decode(out, s, strlen(s), err, 128);
}

static void b64_expect_error(const char *in, const char *want)
{
	unsigned char out[256];
	char err[128] = "unset";
	long r = b64_test_dec(in, out, err);
	CHECKF(r == -1, "input \"%s\" decoded to %ld bytes", in, r);
	CHECKF(!strcmp(err, want), "input \"%s\": got \"%s\", want \"%s\"", in, err, want);
}

static void b64_expect_ok(const char *in, const char *want)
{
	unsigned char out[256];
	char err[128] = "unset";
	long r = b64_test_dec(in, out, err);
	CHECKF(r == (long)strlen(want), "input \"%s\": r=%ld err=\"%s\"", in, r, err);
	if (r == (long)strlen(want))
		CHECKF(!memcmp(out, want, strlen(want)), "input \"%s\": wrong bytes", in);
	CHECKF(err[0] == '\0', "input \"%s\": err not cleared: \"%s\"", in, err);
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
	unsigned char out[8];
	char err[64];
	CHECK(b64_decode(out, "Zm\0v", 4, err, sizeof(err)) == -1);
	CHECKF(!strcmp(err, "Invalid symbol 0, offset 2."), "%s", err);
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
		long r = b64_decode(out, enc, m, err, sizeof(err));
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
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
