/* b64speed: proto/b64's paths side by side, in MB/s, on 64 KiB blocks.
 *
 * The size of a process/output chunk: each path encodes a 64 KiB block of
 * random bytes and decodes its 87,384 characters back, again and again for
 * MiB of payload per round; the table gives the median round of each (MB/s
 * of payload bytes, 10^6) and its ratio to the scalar path, and checks that
 * every path's output matches the scalar one. No server involved.
 * Usage: b64speed [MiB_PER_ROUND [ROUNDS]]   (default 256 MiB, 7 rounds)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"

#define BLOCK (64u << 10)
#define MAX_ROUNDS 99

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct speed {
	double enc, dec;	/* MB/s, medians */
};

/* The sink keeps the compiler from dropping the work. */
static volatile size_t sink;

static int measure(enum b64_path p, const uint8_t *src, char *enc, uint8_t *dec, long blocks,
		   int rounds, struct speed *out)
{
	double e[MAX_ROUNDS], d[MAX_ROUNDS];
	size_t m = b64_encoded_len(BLOCK);

	if (b64_path_use(p) < 0)
		return -1;
	for (int r = 0; r < rounds; r++) {
		double t0 = now_s();
		for (long i = 0; i < blocks; i++)
			sink += b64_encode(enc, src, BLOCK);
		double t1 = now_s();
		for (long i = 0; i < blocks; i++)
			sink += (size_t)b64_decode(dec, enc, m, NULL, 0);
		double t2 = now_s();
		e[r] = (double)blocks * BLOCK / 1e6 / (t1 - t0);
		d[r] = (double)blocks * BLOCK / 1e6 / (t2 - t1);
	}
	out->enc = median(e, rounds);
	out->dec = median(d, rounds);
	return 0;
}

int main(int argc, char **argv)
{
	double mib = argc > 1 ? atof(argv[1]) : 256;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	long blocks = (long)(mib * 1024 * 1024 / BLOCK);
	size_t m = b64_encoded_len(BLOCK);
	uint8_t *src = malloc(BLOCK), *dec = malloc(b64_decoded_max(m));
	char *enc = malloc(m), *ref = malloc(m);
	struct speed sp[B64_PATH_COUNT];

	if (blocks < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: b64speed [MiB_PER_ROUND [ROUNDS (1..%d)]]\n", MAX_ROUNDS);
		return 2;
	}
	if (!src || !dec || !enc || !ref)
		return 1;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < BLOCK; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		src[i] = (uint8_t)(x >> 24);
	}
	enum b64_path picked = b64_path_current();
	if (b64_path_use(B64_PATH_SCALAR) < 0 || b64_encode(ref, src, BLOCK) != m)
		return 1;

	printf("b64speed: 64 KiB blocks, %ld per round, median of %d rounds, MB/s of payload "
	       "(10^6 bytes); the server picks %s\n\n", blocks, rounds, b64_path_name(picked));
	printf("| %-8s | %11s | %9s | %11s | %9s |\n", "path", "encode MB/s", "vs scalar",
	       "decode MB/s", "vs scalar");
	printf("|----------|-------------|-----------|-------------|-----------|\n");
	for (int p = 0; p < B64_PATH_COUNT; p++) {
		if (!b64_path_supported((enum b64_path)p)) {
			printf("| %-8s | %11s | %9s | %11s | %9s |\n", b64_path_name((enum b64_path)p),
			       "-", "(no CPU)", "-", "");
			continue;
		}
		if (measure((enum b64_path)p, src, enc, dec, blocks, rounds, &sp[p]) < 0)
			return 1;
		if (memcmp(enc, ref, m) || memcmp(dec, src, BLOCK)) {
			fprintf(stderr, "b64speed: %s differs from scalar\n",
				b64_path_name((enum b64_path)p));
			return 1;
		}
		printf("| %-8s | %11.0f | %8.2fx | %11.0f | %8.2fx |\n",
		       b64_path_name((enum b64_path)p), sp[p].enc, sp[p].enc / sp[0].enc, sp[p].dec,
		       sp[p].dec / sp[0].dec);
	}
	free(src);
	free(dec);
	free(enc);
	free(ref);
	return 0;
}
