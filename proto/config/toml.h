/* toml: a small strict TOML 1.0 reader and a serialiser for codex config files.
 *
 * toml_parse() builds a tree (tables keep their source order); errors carry
 * the 1-based line. toml_select() marks key paths, and toml_serialize() writes
 * the whole tree or only the marked subtrees the way codex re-serialises a
 * config (values of a table first, then its sub-tables as [a.b] sections).
 * Pure apart from toml_read_file().
 */
#ifndef RINGEXEC_TOML_H
#define RINGEXEC_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOML_MAX_DEPTH 64	/* nesting of tables and arrays */

enum toml_kind {
	TOML_TABLE,
	TOML_ARRAY,
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,		/* kept as its normalised text */
};

struct toml_node {
	enum toml_kind kind;
	char *key;			/* in its parent table; NULL in an array */
	size_t key_len;
	char *str;			/* TOML_STRING / TOML_DATETIME bytes (NUL-terminated) */
	size_t str_len;
	int64_t i;			/* TOML_INTEGER */
	double f;			/* TOML_FLOAT */
	bool b;				/* TOML_BOOL */
	struct toml_node *first, *last;	/* children: tables and arrays */
	struct toml_node *next;		/* sibling */
	size_t count;			/* children */
	struct toml_node **index;	/* open-addressed key index of a large table */
	size_t index_cap;
	int depth;
	unsigned flags;			/* TOML_F_* (parser and selection state) */
};

struct toml_doc;

struct toml_error {
	int line;		/* 1-based; 0 when not tied to a line (I/O, size) */
	char msg[200];
};

/* Parse len bytes of UTF-8 TOML. NULL on error (err filled; "out of memory" too). */
struct toml_doc *toml_parse(const char *text, size_t len, struct toml_error *err);
void toml_free(struct toml_doc *d);
struct toml_node *toml_root(struct toml_doc *d);

/* A child of a table by key, or NULL. */
struct toml_node *toml_get(const struct toml_node *table, const char *key, size_t key_len);
/* Follow n keys through tables from the root; NULL when absent. */
struct toml_node *toml_lookup(struct toml_doc *d, const char *const *keys, size_t n);
/* Mark the subtree at keys (n >= 1) for toml_serialize(d, true). Returns
 * whether it is present. */
bool toml_select(struct toml_doc *d, const char *const *keys, size_t n);
/* The document as TOML text (malloc'd, NUL-terminated, *len), or only the
 * selected subtrees. NULL when out of memory. */
char *toml_serialize(struct toml_doc *d, bool selected_only, size_t *len);

/* Read and parse a file of at most max_bytes. 0 with *out; -ENOENT when it
 * does not exist; another -errno or -EINVAL (parse error, too large) with
 * err filled. */
int toml_read_file(const char *path, size_t max_bytes, struct toml_doc **out,
		   struct toml_error *err);

#endif
