/* b64: standard base64 (RFC 4648 alphabet, '=' padding), strict decoding.
 *
 * Encoding is what every process/output chunk costs, so it is table-driven
 * and fast. Decoding accepts only canonical input (padding required, no
 * whitespace, zero trailing bits), like the reference server's decoder, and
 * says why it refused. Pure: no allocation.
 */
#ifndef RINGEXEC_B64_H
#define RINGEXEC_B64_H

#include <stddef.h>

/* Length of the encoding of n bytes (with padding). */
static inline size_t b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }
/* Upper bound of the decoding of n characters. */
static inline size_t b64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

/* Encode n bytes of src into dst (b64_encoded_len(n) bytes, no NUL). */
size_t b64_encode(char *dst, const void *src, size_t n);

/* Decode n characters of src into dst (room for b64_decoded_max(n)).
 * Returns the decoded length, or -1 with a reason in err (NUL-terminated),
 * worded like Rust's base64 0.22: "Invalid symbol 33, offset 4.",
 * "Invalid input length: 5", "Invalid last symbol 66, offset 3.",
 * "Invalid padding". */
long b64_decode(void *dst, const char *src, size_t n, char *err, size_t errlen);

#endif
