/*
 * The fingerprint cache (REPOSITORY.md "cache/"): for the files of one
 * snapshot, a 128-bit XXH3 fingerprint of every chunk, keyed by a secret of
 * the user's that the repository does not hold. The next backup of the same
 * source fingerprints each chunk and, where it equals the one at the same
 * place before, takes that place's SHA-256 instead of computing it again: a
 * flush rewrites whole files but changes a few percent of their chunks, and
 * XXH3 is more than ten times faster than SHA-256. XXH3 is not a
 * cryptographic hash: the secret keeps those who can read the repository
 * from choosing bytes that collide, and backup --rehash trusts no
 * fingerprint. The whole-file SHA-256 is always computed from every byte.
 * The cache is not part of any snapshot: a missing or damaged one only makes
 * the next backup hash every chunk.
 */
#ifndef CV_FPCACHE_H
#define CV_FPCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "util/strbuf.h"

#define FP_LEN 16
#define FP_SECRET 192  /* XXH3's secret, at least XXH3_SECRET_SIZE_MIN */
#define FP_KEY_ID 16

/*
 * The key: random bytes in $XDG_CONFIG_HOME/chromavault/fingerprint.key
 * (else ~/.config/...), made 0600 when missing; id: the first bytes of its
 * SHA-256, which a cache records.
 */
struct fp_key {
	uint8_t secret[FP_SECRET];
	uint8_t id[FP_KEY_ID];
};

/*
 * Read the key, or make it. A file there that is not a key is moved to
 * fingerprint.key.bad and a new key made; warn then says so (its code set).
 */
int fp_key_load(struct fp_key *k, struct cv_err *warn, struct cv_err *e);

/* One file's fingerprints, bound to the chunk list they were taken with. */
struct fp_entry {
	char *path;
	uint8_t list_sha[SHA256_LEN]; /* SHA-256 of the list's hashes */
	size_t n;
	const uint8_t *fps;           /* n × FP_LEN bytes */
};

struct fp_cache {
	struct fp_entry *files;
	size_t n;
	uint8_t *buf;                 /* the cache file, which fps point into */
};

/* The fingerprint of a chunk. */
void fp_of(const struct fp_key *k, const void *p, size_t n, uint8_t out[FP_LEN]);

/*
 * Load snapshot's cache; 0 if it was there, whole, and taken with key k.
 * Otherwise c is empty, and the caller goes on without.
 */
int fpc_load(struct repo *r, const char *snapshot, const struct fp_key *k,
	     struct fp_cache *c);
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
	const struct fp_key *key;
	uint32_t count;
	struct strbuf out;
};

void fpw_init(struct fp_writer *w, const struct fp_key *k);
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
/*
 * Remove the caches whose snapshot is gone (a prune killed between the two
 * removals, a manifest removed by hand); with would, only name them.
 */
void fpc_sweep(struct repo *r, void (*would)(const char *path));

#endif
