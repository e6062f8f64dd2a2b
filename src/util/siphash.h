/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash, used as
 * an id fingerprint where an unkeyed hash could be made to collide.
 */
#ifndef CV_SIPHASH_H
#define CV_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);

/* A key from the kernel's random source (getrandom). */
void siphash_random_key(struct siphash_key *key);

#endif
