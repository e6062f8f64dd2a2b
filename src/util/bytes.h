/*
 * Unaligned little-endian loads and stores (the on-disk formats are little-endian, as
 * are the hosts chromavault runs on).
 */
#ifndef CV_BYTES_H
#define CV_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint64_t load_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t load_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline void store_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void store_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

#endif
