/* toml_int: what the TOML reader and writer share: the node flags, the
 * document's arena and the table operations (toml.c).
 * Must not: be included outside proto/config/toml*.c.
 */
#ifndef RINGEXEC_TOML_INT_H
#define RINGEXEC_TOML_INT_H

#include "toml.h"

#define TOML_F_IMPLICIT 0x01	/* table made as a prefix of a [header] */
#define TOML_F_DEFINED 0x02	/* table defined by a [header] */
#define TOML_F_DOTTED 0x04	/* table made by a dotted key */
#define TOML_F_INLINE 0x08	/* inline table or value array: closed */
#define TOML_F_AOT 0x10		/* array of tables ([[header]]) */
#define TOML_F_SEL_PATH 0x20	/* on the way to a selected subtree */
#define TOML_F_SEL_ALL 0x40	/* a selected subtree */

struct toml_chunk {
	struct toml_chunk *next;
	size_t used, cap;
	_Alignas(16) char data[];
};

struct toml_doc {
	struct toml_chunk *chunks;
	struct toml_node *root;
};

/* n zeroed bytes from d's arena (16-aligned), freed with d. NULL on ENOMEM. */
void *toml_alloc(struct toml_doc *d, size_t n);
/* s[0..n) NUL-terminated in d's arena. */
char *toml_memdup(struct toml_doc *d, const char *s, size_t n);
/* A new child of a table (key given) or an array (key NULL). NULL: out of memory. */
struct toml_node *toml_add(struct toml_doc *d, struct toml_node *parent, enum toml_kind kind,
			   const char *key, size_t key_len);
/* A character of a bare key: A-Z a-z 0-9 _ -. */
bool toml_is_bare(int c);

#endif
