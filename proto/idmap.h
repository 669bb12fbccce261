/* idmap: a string-keyed hash map for processIds, writeIds and sessionIds.
 *
 * Chained buckets, FNV-1a hash, grows at load 1. Keys are copied; values
 * are borrowed pointers. Pure.
 */
#ifndef RINGEXEC_IDMAP_H
#define RINGEXEC_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_entry;

struct idmap {
	struct idmap_entry **buckets;
	size_t nbuckets;
	size_t count;
};

void idmap_init(struct idmap *m);
/* Frees the entries (not the values). */
void idmap_free(struct idmap *m);
void *idmap_get(const struct idmap *m, const char *key, size_t klen);
/* 0, -EEXIST (key present, nothing changed) or -ENOMEM. */
int idmap_put(struct idmap *m, const char *key, size_t klen, void *value);
/* Remove key; returns its value or NULL. */
void *idmap_del(struct idmap *m, const char *key, size_t klen);
/* The FNV-1a hash of key[0..klen): the project's one string hash. */
uint64_t idmap_hash(const char *key, size_t klen);

#endif
