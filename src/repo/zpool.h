/*
 * Chunk compression on worker threads: batches of chunks are compressed in
 * parallel (each chunk its own zstd frame) and handed back oldest first, so
 * the pack is still written by one thread.
 */
#ifndef CV_ZPOOL_H
#define CV_ZPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "util/sha256.h"
#include "util/strbuf.h"

#define ZBATCH_BYTES (4u << 20)
#define ZBATCH_ITEMS 8192

struct zitem {
	uint8_t hash[SHA256_LEN];
	size_t ioff, ilen;    /* in the batch's input */
	size_t ooff, olen;    /* in its output */
};

struct zbatch {
	struct strbuf in, out;
	struct zitem *it;
	size_t n, cap;
	int done;
	char err[128];        /* a zstd error, "" if none */
	struct zbatch *next;
};

struct zpool;

/* threads < 0: one per CPU (at most 8); 0: compress in the caller. */
struct zpool *zpool_new(int threads, int level);
/* An empty batch; NULL when all are in flight (collect one first). */
struct zbatch *zpool_batch(struct zpool *p);
void zpool_add(struct zbatch *b, const uint8_t *hash, const void *data, size_t n);
void zpool_submit(struct zpool *p, struct zbatch *b);
/* The oldest submitted batch once compressed (waiting if wait), else NULL. */
struct zbatch *zpool_oldest(struct zpool *p, int wait);
void zpool_release(struct zpool *p, struct zbatch *b);
void zpool_free(struct zpool *p);

#endif
