/* toml: the tree of a TOML document (see toml.h): its arena, its tables
 * (in source order, indexed by key once they grow), lookup and selection,
 * and reading a config file. The grammar is toml_parse.c's, the writer
 * toml_write.c's.
 * Must not: know JSON or the protocol.
 */
#include "toml_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idmap.h"

#define TOML_INDEX_MIN 8	/* tables with more keys get a hash index */
#define TOML_CHUNK 16384	/* arena chunk bytes */

/* ---- arena ---- */

void *toml_alloc(struct toml_doc *d, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct toml_chunk *ch = d->chunks;
	if (!ch || ch->cap - ch->used < n) {
		size_t cap = n > TOML_CHUNK ? n : TOML_CHUNK;
		struct toml_chunk *nc = malloc(sizeof(*nc) + cap);
		if (!nc)
			return NULL;
		nc->used = 0;
		nc->cap = cap;
		/* A big block goes behind the current chunk so its free space stays usable. */
		if (ch && n > TOML_CHUNK) {
			nc->next = ch->next;
			ch->next = nc;
		} else {
			nc->next = ch;
			d->chunks = nc;
		}
		ch = nc;
	}
	void *p = ch->data + ch->used;
	ch->used += n;
	memset(p, 0, n);
	return p;
}

char *toml_memdup(struct toml_doc *d, const char *s, size_t n)
{
	char *p = toml_alloc(d, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void toml_free(struct toml_doc *d)
{
	if (!d)
		return;
	struct toml_chunk *ch = d->chunks;
	while (ch) {
		struct toml_chunk *next = ch->next;
		free(ch);
		ch = next;
	}
	free(d);
}

struct toml_node *toml_root(struct toml_doc *d)
{
	return d->root;
}

/* ---- tables ---- */

static void toml_index_put(struct toml_node **index, size_t cap, struct toml_node *n)
{
	size_t i = (size_t)idmap_hash(n->key, n->key_len) & (cap - 1);
	while (index[i])
		i = (i + 1) & (cap - 1);
	index[i] = n;
}

struct toml_node *toml_get(const struct toml_node *t, const char *key, size_t key_len)
{
	if (!t || t->kind != TOML_TABLE)
		return NULL;
	if (t->index) {
		size_t i = (size_t)idmap_hash(key, key_len) & (t->index_cap - 1);
		for (struct toml_node *n; (n = t->index[i]); i = (i + 1) & (t->index_cap - 1))
			if (n->key_len == key_len && memcmp(n->key, key, key_len) == 0)
				return n;
		return NULL;
	}
	for (struct toml_node *n = t->first; n; n = n->next)
		if (n->key_len == key_len && memcmp(n->key, key, key_len) == 0)
			return n;
	return NULL;
}

struct toml_node *toml_add(struct toml_doc *d, struct toml_node *parent, enum toml_kind kind,
			   const char *key, size_t key_len)
{
	struct toml_node *n = toml_alloc(d, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->depth = parent->depth + 1;
	if (key) {
		n->key = toml_memdup(d, key, key_len);
		if (!n->key)
			return NULL;
		n->key_len = key_len;
	}
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	parent->count++;
	if (key && parent->count > TOML_INDEX_MIN) {
		if (!parent->index || parent->count * 2 > parent->index_cap) {
			size_t cap = 32;
			while (cap < parent->count * 4)
				cap *= 2;
			struct toml_node **index = toml_alloc(d, cap * sizeof(*index));
			if (!index)
				return NULL;
			for (struct toml_node *c = parent->first; c; c = c->next)
				toml_index_put(index, cap, c);
			parent->index = index;
			parent->index_cap = cap;
		} else {
			toml_index_put(parent->index, parent->index_cap, n);
		}
	}
	return n;
}

bool toml_is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* ---- lookup and selection ---- */

struct toml_node *toml_lookup(struct toml_doc *d, const char *const *keys, size_t n)
{
	struct toml_node *t = d->root;
	for (size_t i = 0; i < n && t; i++)
		t = toml_get(t, keys[i], strlen(keys[i]));
	return t;
}

bool toml_select(struct toml_doc *d, const char *const *keys, size_t n)
{
	if (n == 0 || !toml_lookup(d, keys, n))
		return false;
	struct toml_node *t = d->root;
	for (size_t i = 0; i < n; i++) {
		t->flags |= TOML_F_SEL_PATH;
		t = toml_get(t, keys[i], strlen(keys[i]));
	}
	t->flags |= TOML_F_SEL_ALL;
	return true;
}

/* ---- files ---- */

int toml_read_file(const char *path, size_t max_bytes, struct toml_doc **out,
		   struct toml_error *err)
{
	*out = NULL;
	err->line = 0;
	err->msg[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(e));
		return -e;
	}
	struct stat st;
	int ret = 0;
	char *data = NULL;
	size_t n = 0;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err->msg, sizeof(err->msg), "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > max_bytes)
		goto too_big;
	data = malloc(max_bytes + 1);
	if (!data) {
		ret = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, data + n, max_bytes + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			snprintf(err->msg, sizeof(err->msg), "%s", strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max_bytes)
			goto too_big;
	}
	*out = toml_parse(data, n, err);
	if (!*out)
		ret = -EINVAL;
	goto out;
too_big:
	ret = -EFBIG;
	snprintf(err->msg, sizeof(err->msg), "file is larger than %zu bytes", max_bytes);
out:
	free(data);
	close(fd);
	return ret;
}
