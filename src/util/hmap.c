/*
 * String hash map (see hmap.h): linear probing, FNV-1a, load factor <= 1/2.
 */
#include "util/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "util/banned.h"

void hmap_init(struct hmap *m, size_t hint)
{
	size_t cap = 16;

	while (cap < hint * 2)
		cap <<= 1;
	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->n = 0;
}

void hmap_release(struct hmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

uint32_t hmap_hash(const char *key, size_t klen)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static struct hmap_slot *hmap_find(const struct hmap *m, const char *key,
				   size_t klen, uint32_t h)
{
	size_t i = h & (m->cap - 1);
	struct hmap_slot *s;

	for (;;) {
		s = &m->slots[i];
		if (!s->key)
			return s;
		if (s->hash == h && s->klen == klen && !memcmp(s->key, key, klen))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

static void hmap_grow(struct hmap *m)
{
	struct hmap_slot *old = m->slots;
	size_t i, oc = m->cap;

	m->cap = oc * 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < oc; i++)
		if (old[i].key)
			*hmap_find(m, old[i].key, old[i].klen, old[i].hash) = old[i];
	free(old);
}

struct hmap_slot *hmap_put(struct hmap *m, const char *key, size_t klen,
			   uint64_t val)
{
	uint32_t h = hmap_hash(key, klen);
	struct hmap_slot *s;

	if ((m->n + 1) * 2 > m->cap)
		hmap_grow(m);
	s = hmap_find(m, key, klen, h);
	if (!s->key) {
		s->key = key;
		s->klen = (uint32_t)klen;
		s->hash = h;
		m->n++;
	}
	s->val = val;
	return s;
}

struct hmap_slot *hmap_get(const struct hmap *m, const char *key, size_t klen)
{
	struct hmap_slot *s;

	if (!m->cap)
		return NULL;
	s = hmap_find(m, key, klen, hmap_hash(key, klen));
	return s->key ? s : NULL;
}
