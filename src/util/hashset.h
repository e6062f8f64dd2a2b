/*
 * A set of fixed-length keys (chunk hashes, id fingerprints) in an
 * open-addressing table; the all-zero key marks an empty slot, so keys are
 * hashes, never zero.
 */
#ifndef CV_HASHSET_H
#define CV_HASHSET_H

#include <stddef.h>
#include <stdint.h>

struct hashset {
	uint8_t *keys;   /* cap * klen bytes */
	size_t cap, n, klen;
};

/* Keys of klen bytes, at least 8 (the first 8 pick the slot). */
void hashset_init(struct hashset *s, size_t klen);
void hashset_release(struct hashset *s);
/* 1 if added, 0 if it was there. */
int hashset_add(struct hashset *s, const uint8_t *key);
int hashset_has(const struct hashset *s, const uint8_t *key);

#endif
