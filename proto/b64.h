/* b64: standard base64 (RFC 4648 alphabet, '=' padding), strict decoding.
 *
 * Encoding is what every process/output chunk costs, so it is vectorised:
 * SSE4.1 and AVX2 paths picked once from the CPU, the scalar table-driven
 * path as fallback and reference. Decoding accepts only canonical input
 * (padding required, no whitespace, zero trailing bits), like the reference
 * server's decoder, and says why it refused. Every path gives the same
 * bytes and the same error text for every input. Pure: no allocation.
 */
#ifndef RINGEXEC_B64_H
#define RINGEXEC_B64_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the encoding of n bytes (with padding). */
static inline size_t b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }
/* Upper bound of the decoding of n characters. */
static inline size_t b64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

/* Encode n bytes of src into dst (b64_encoded_len(n) bytes, no NUL). */
size_t b64_encode(char *dst, const void *src, size_t n);

/* Decode n characters of src into dst (room for b64_decoded_max(n); the
 * vector paths may use all of it as scratch, so bytes past the result, and
 * all of dst after a failure, are unspecified).
 * Returns the decoded length, or -1 with a reason in err (NUL-terminated),
 * worded like Rust's base64 0.22: "Invalid symbol 33, offset 4.",
 * "Invalid input length: 5", "Invalid last symbol 66, offset 3.",
 * "Invalid padding". */
long b64_decode(void *dst, const char *src, size_t n, char *err, size_t errlen);

/* The implementations. The first b64_encode/b64_decode picks the best one
 * the CPU supports, or the one $RINGEXEC_B64 names ("scalar", "sse4.1",
 * "avx2") when set and supported (else it warns once and picks the best). */
enum b64_path { B64_PATH_SCALAR, B64_PATH_SSE41, B64_PATH_AVX2, B64_PATH_COUNT };

const char *b64_path_name(enum b64_path p);
bool b64_path_supported(enum b64_path p);
/* The path in use (picking it if nothing has yet). */
enum b64_path b64_path_current(void);
/* Use path p from now on (tests, benchmarks): 0, or -ENOTSUP when this CPU
 * or build lacks it, -EINVAL when p is no path. */
int b64_path_use(enum b64_path p);

#endif
