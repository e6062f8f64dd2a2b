/* A set of fixed-length keys (see hashset.h). */
#include "util/hashset.h"

#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "util/xalloc.h"
#include "util/banned.h"

static int is_empty(const uint8_t *k, size_t klen)
{
	size_t i;

	for (i = 0; i < klen; i++)
		if (k[i])
			return 0;
	return 1;
}

static size_t slot(const uint8_t *keys, size_t cap, size_t klen,
		   const uint8_t *key)
{
	size_t i = (size_t)load_u64(key) & (cap - 1);

	while (!is_empty(keys + i * klen, klen) && memcmp(keys + i * klen, key, klen))
		i = (i + 1) & (cap - 1);
	return i;
}

void hashset_init(struct hashset *s, size_t klen)
{
	s->cap = 1024;
	s->n = 0;
	s->klen = klen;
	s->keys = xcalloc(s->cap, klen);
}

void hashset_release(struct hashset *s)
{
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

int hashset_has(const struct hashset *s, const uint8_t *key)
{
	return !memcmp(s->keys + slot(s->keys, s->cap, s->klen, key) * s->klen, key,
		       s->klen);
}

static void grow(struct hashset *s)
{
	uint8_t *old = s->keys;
	size_t oc = s->cap, k = s->klen, i;

	s->cap *= 2;
	s->keys = xcalloc(s->cap, k);
	for (i = 0; i < oc; i++)
		if (!is_empty(old + i * k, k))
			memcpy(s->keys + slot(s->keys, s->cap, k, old + i * k) * k,
			       old + i * k, k);
	free(old);
}

int hashset_add(struct hashset *s, const uint8_t *key)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		grow(s);
	i = slot(s->keys, s->cap, s->klen, key);
	if (!memcmp(s->keys + i * s->klen, key, s->klen))
		return 0;
	memcpy(s->keys + i * s->klen, key, s->klen);
	s->n++;
	return 1;
}
