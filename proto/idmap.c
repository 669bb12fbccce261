/* idmap: chained string-keyed hash map (see idmap.h). */
#include "idmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct idmap_entry {
	struct idmap_entry *next;
	uint64_t hash;
	void *value;
	size_t klen;
	char key[];
};

uint64_t idmap_hash(const char *key, size_t klen)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	return h;
}

void idmap_init(struct idmap *m)
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
}

void idmap_free(struct idmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct idmap_entry *e = m->buckets[i];
		while (e) {
			struct idmap_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	idmap_init(m);
}

static struct idmap_entry **idmap_slot(const struct idmap *m, const char *key, size_t klen,
				       uint64_t h)
{
	struct idmap_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			break;
	return pp;
}

void *idmap_get(const struct idmap *m, const char *key, size_t klen)
{
	if (!m->nbuckets)
		return NULL;
	struct idmap_entry *e = *idmap_slot(m, key, klen, idmap_hash(key, klen));
	return e ? e->value : NULL;
}

static int idmap_grow(struct idmap *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
	struct idmap_entry **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct idmap_entry *e = m->buckets[i];
		while (e) {
			struct idmap_entry *next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return 0;
}

int idmap_put(struct idmap *m, const char *key, size_t klen, void *value)
{
	if (m->count >= m->nbuckets && idmap_grow(m) < 0)
		return -ENOMEM;
	uint64_t h = idmap_hash(key, klen);
	struct idmap_entry **pp = idmap_slot(m, key, klen, h);
	if (*pp)
		return -EEXIST;
	struct idmap_entry *e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->hash = h;
	e->value = value;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	*pp = e;
	m->count++;
	return 0;
}

void *idmap_del(struct idmap *m, const char *key, size_t klen)
{
	if (!m->nbuckets)
		return NULL;
	struct idmap_entry **pp = idmap_slot(m, key, klen, idmap_hash(key, klen));
	struct idmap_entry *e = *pp;
	if (!e)
		return NULL;
	*pp = e->next;
	void *value = e->value;
	free(e);
	m->count--;
	return value;
}
