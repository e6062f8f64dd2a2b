/*
 * The fingerprint cache (REPOSITORY.md "cache/"): for the files of one
 * snapshot, a 128-bit XXH3 fingerprint of every chunk, keyed by a random
 * seed the cache keeps. The next backup of the same source fingerprints each
 * chunk and, where it equals the one at the same place before, takes that
 * place's SHA-256 instead of computing it again: a flush rewrites whole
 * files but changes a few percent of their chunks, and XXH3 is more than ten
 * times faster than SHA-256. The whole-file SHA-256 is always computed from
 * every byte. The cache is not part of any snapshot: a missing or damaged
 * one only makes the next backup hash every chunk.
 */
#ifndef CV_FPCACHE_H
#define CV_FPCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "util/strbuf.h"

#define FP_LEN 16

/* One file's fingerprints, bound to the chunk list they were taken with. */
struct fp_entry {
	char *path;
	uint8_t list_sha[SHA256_LEN]; /* SHA-256 of the list's hashes */
	size_t n;
	const uint8_t *fps;           /* n × FP_LEN bytes */
};

struct fp_cache {
	uint64_t seed;
	struct fp_entry *files;
	size_t n;
	uint8_t *buf;                 /* the cache file, which fps point into */
};

/* The fingerprint of a chunk. */
void fp_of(uint64_t seed, const void *p, size_t n, uint8_t out[FP_LEN]);

/*
 * Load snapshot's cache; 0 if it was there and whole. Otherwise c is empty
 * with a new random seed, and the caller goes on without.
 */
int fpc_load(struct repo *r, const char *snapshot, struct fp_cache *c);
void fpc_release(struct fp_cache *c);
/* path's entry, or NULL. */
const struct fp_entry *fpc_entry(const struct fp_cache *c, const char *path);
/*
 * The fingerprints of path, if the cache has them for exactly the chunk
 * list list (n hashes); else NULL.
 */
const uint8_t *fpc_find(const struct fp_cache *c, const char *path,
			const uint8_t *list, size_t n);

/* A new cache being filled, file by file. */
struct fp_writer {
	uint64_t seed;
	uint32_t count;
	struct strbuf out;
};

void fpw_init(struct fp_writer *w, uint64_t seed);
void fpw_release(struct fp_writer *w);
/* path's chunk list (n hashes) and their fingerprints. */
void fpw_add(struct fp_writer *w, const char *path, const uint8_t *list,
	     size_t n, const uint8_t *fps);
/* An entry of the last cache, for a file taken with the same list. */
void fpw_copy(struct fp_writer *w, const struct fp_entry *f);
/*
 * Write it as snapshot's cache and remove the one of prev (or NULL). A
 * failure is not the backup's: it is returned for a warning.
 */
int fpw_commit(struct repo *r, struct fp_writer *w, const char *snapshot,
	       const char *prev, struct cv_err *e);
/* Remove snapshot's cache, if any (its snapshot is being removed). */
void fpc_remove(struct repo *r, const char *snapshot);

#endif
