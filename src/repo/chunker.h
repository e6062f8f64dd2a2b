/*
 * Where a file is cut into chunks: the only thing the repository learns from
 * whoever knows the file's structure. Chunks alternate between a bytes and
 * b bytes (a == b: fixed size), so a record-structured file (SQLite pages,
 * HNSW elements with their neighbour list apart) is cut along its records.
 */
#ifndef CV_CHUNKER_H
#define CV_CHUNKER_H

#include <stdint.h>

struct cutter {
	uint64_t a, b;
};

/* Length of the chunk starting at off of a file of size bytes (> 0). */
static inline uint64_t cutter_next(const struct cutter *c, uint64_t off,
				   uint64_t size)
{
	uint64_t period = c->a + c->b, in = off % period;
	uint64_t len = in < c->a ? c->a - in : period - in;

	return len < size - off ? len : size - off;
}

#endif
