/*
 * Chunk compression on worker threads: batches of chunks are compressed in
 * parallel and handed back oldest first, so the pack is still written by one
 * thread. Consecutive chunks of a batch share one zstd frame of up to
 * ZFRAME_BYTES: small chunks (a 132-byte neighbour list) compress far better
 * and faster together than one frame each. Consecutive delta chunks share a
 * frame too, compressed against their bases' contents (concatenated, as a
 * zstd prefix); the frame is written after a u32 count and the bases' hashes.
 */
#ifndef CV_ZPOOL_H
#define CV_ZPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "util/sha256.h"
#include "util/strbuf.h"

#define ZBATCH_BYTES (4u << 20)
#define ZBATCH_ITEMS 8192
#define ZFRAME_BYTES (64u << 10)
#define ZFRAME_ITEMS 4096
#define ZFRAME_PREFIX_BYTES (1u << 20)

struct zitem {
	uint8_t hash[SHA256_LEN];
	size_t ioff, ilen;    /* in the batch's input */
	size_t ooff, olen;    /* its frame in the batch's output */
	uint32_t uoff;        /* the chunk's offset in its frame's content */
	uint32_t fulen;       /* the frame's uncompressed length */
	uint32_t ord, count;  /* its place among the frame's chunks, how many */
	int delta;            /* compressed against a base chunk: */
	uint8_t base[SHA256_LEN];
	size_t boff, blen;    /* its content, in the batch's bases */
};

struct zbatch {
	struct strbuf in, out;
	struct strbuf bases;  /* base contents of delta chunks */
	struct zitem *it;
	size_t n, cap;
	int level;            /* zstd level of its frames (not deltas') */
	int done;
	char err[128];        /* a zstd error, "" if none */
	struct zbatch *next;
};

struct zpool;

/* threads < 0: one per CPU (at most 8); 0: compress in the caller. */
struct zpool *zpool_new(int threads, int level);
/* An empty batch, at the pool's level; NULL when all are in flight
 * (collect one first). */
struct zbatch *zpool_batch(struct zpool *p);
void zpool_add(struct zbatch *b, const uint8_t *hash, const void *data, size_t n);
/* A chunk to store as a delta against base (whose content is given). */
void zpool_add_delta(struct zbatch *b, const uint8_t *hash, const void *data,
		     size_t n, const uint8_t *base, const void *bdata, size_t bn);
void zpool_submit(struct zpool *p, struct zbatch *b);
/* The oldest submitted batch once compressed (waiting if wait), else NULL. */
struct zbatch *zpool_oldest(struct zpool *p, int wait);
void zpool_release(struct zpool *p, struct zbatch *b);
void zpool_free(struct zpool *p);

#endif
