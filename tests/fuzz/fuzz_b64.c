/* fuzz_b64: every base64 path this CPU has (scalar, SSE4.1, AVX2) against the scalar one.
 * Each input is used three ways: as bytes to encode (every path writes the scalar path's text,
 * which every path decodes back to the input); as text to decode (every path returns the scalar
 * path's length, bytes and error text, and a text that decodes re-encodes to itself, since only
 * canonical base64 is accepted); and, from the 3rd byte on, encoded and then corrupted at the
 * offset the first two bytes give with the byte the 3rd gives, so that single bad characters
 * land deep inside long valid texts (in vector blocks) as well as in the tail.
 * Every buffer has its exact size, so ASan sees any path reading or writing past one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define fz_check(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_b64: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static enum b64_path fz_paths[B64_PATH_COUNT];
static int fz_npaths;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (int p = 0; p < B64_PATH_COUNT; p++) {
		if (b64_path_supported((enum b64_path)p))
			fz_paths[fz_npaths++] = (enum b64_path)p;
	}
	fprintf(stderr, "fuzz_b64: comparing %d paths\n", fz_npaths);
	return 0;
}

/* Encode on every path; returns the scalar text (malloc'd, *len chars). */
static char *fz_encode_all(const uint8_t *src, size_t n, size_t *len)
{
	size_t m = b64_encoded_len(n);
	char *ref = NULL;
	for (int k = 0; k < fz_npaths; k++) {
		char *enc = malloc(m ? m : 1);
		fz_check(enc);
		fz_check(b64_path_use(fz_paths[k]) == 0);
		fz_check(b64_encode(enc, src, n) == m);
		if (!k) {
			ref = enc;
			continue;
		}
		fz_check(!memcmp(enc, ref, m));
		free(enc);
	}
	*len = m;
	return ref;
}

/* Decode on every path; all must agree with the scalar path. Returns its
 * result; its bytes (malloc'd) in *out. */
static long fz_decode_all(const char *text, size_t n, uint8_t **out)
{
	size_t room = b64_decoded_max(n);
	uint8_t *ref = malloc(room);
	char ref_err[128];
	long r = 0;
	fz_check(ref);
	for (int k = 0; k < fz_npaths; k++) {
		uint8_t *dst = k ? malloc(room) : ref;
		char err[128];
		fz_check(dst);
		fz_check(b64_path_use(fz_paths[k]) == 0);
		memset(err, 'x', sizeof(err));
		long d = b64_decode(dst, text, n, err, sizeof(err));
		fz_check(memchr(err, '\0', sizeof(err)));
		fz_check(d >= 0 ? err[0] == '\0' : (d == -1 && !strncmp(err, "Invalid ", 8)));
		fz_check(d < 0 || (size_t)d <= room);
		if (!k) {
			r = d;
			memcpy(ref_err, err, sizeof(err));
			continue;
		}
		fz_check(d == r);
		fz_check(!strcmp(err, ref_err));
		fz_check(d <= 0 || !memcmp(dst, ref, (size_t)d));
		free(dst);
	}
	*out = ref;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 1: bytes -> text -> the same bytes */
	size_t m;
	char *enc = fz_encode_all(data, size, &m);
	uint8_t *dec;
	fz_check(fz_decode_all(enc, m, &dec) == (long)size);
	fz_check(!size || !memcmp(dec, data, size));
	free(dec);
	free(enc);

	/* 2: arbitrary text; what decodes is canonical */
	char *text = malloc(size ? size : 1);
	fz_check(text);
	memcpy(text, data, size);
	long r = fz_decode_all(text, size, &dec);
	if (r >= 0) {
		char *again = fz_encode_all(dec, (size_t)r, &m);
		fz_check(m == size && !memcmp(again, text, size));
		free(again);
	}
	free(dec);
	free(text);

	/* 3: a long valid text with one byte replaced */
	if (size > 3) {
		enc = fz_encode_all(data + 3, size - 3, &m);
		size_t at = ((size_t)data[0] << 8 | data[1]) % m;
		enc[at] = (char)data[2];
		fz_decode_all(enc, m, &dec);
		free(dec);
		free(enc);
	}
	return 0;
}
