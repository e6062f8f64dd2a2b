/*
 * Open-addressing hash map from byte strings to a 64-bit value. Keys are
 * borrowed: they must outlive the map (they point into a parsed pickle, an
 * arena, ...).
 */
#ifndef CV_HMAP_H
#define CV_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	const char *key; /* NULL: empty */
	uint32_t klen;
	uint32_t hash;
	uint64_t val;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap; /* power of two */
	size_t n;
};

void hmap_init(struct hmap *m, size_t hint);
void hmap_release(struct hmap *m);
uint32_t hmap_hash(const char *key, size_t klen);
/* Insert or replace; returns the slot. */
struct hmap_slot *hmap_put(struct hmap *m, const char *key, size_t klen,
			   uint64_t val);
/* Slot for the key or NULL. */
struct hmap_slot *hmap_get(const struct hmap *m, const char *key, size_t klen);

#endif
