/*
 * The backup repository (docs/REPOSITORY.md): content-addressed chunks in
 * zstd packs with indexes, chunk lists, snapshot manifests. Knows nothing of
 * Chroma: what a chunk is, the caller decides.
 */
#ifndef CV_REPO_H
#define CV_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "repo/store.h"
#include "repo/zpool.h"
#include "util/err.h"
#include "util/hashset.h"
#include "util/sha256.h"
#include "util/strbuf.h"

/* 3: manifests carry a checksum; version 1 and 2 repositories are read */
#define REPO_VERSION 3
#define REPO_LIST_SEGMENT 1024
#define PACK_PENDING (UINT32_MAX - 1) /* put, still being compressed */
/*
 * Chunks put in different lanes go into different frames: a caller that cuts
 * records into parts of two kinds (neighbour lists and vectors) keeps each
 * kind together, so reading back the parts of one kind, the bases of the next
 * snapshot's deltas, decompresses only that kind's frames.
 */
#define REPO_LANES 2
#define REPO_LANE_VECTORS 1 /* compressed at a faster level */

struct chunk_loc {
	uint8_t hash[SHA256_LEN];
	uint32_t pack;        /* index into packs[], or PACK_PENDING */
	uint32_t clen, fulen; /* its frame: compressed, uncompressed length */
	uint32_t uoff, ulen;  /* the chunk within the frame's content */
	uint64_t off;         /* the frame's offset in the pack */
	uint16_t flags;       /* CHUNK_DELTA */
	uint16_t ord;         /* the chunk's place among its frame's chunks */
};

/* In a delta frame: compressed against its base (see REPOSITORY.md). */
#define CHUNK_DELTA 1u

/*
 * Decompressed frames kept for the next reads (restore reads in order). A
 * delta frame's bases span several frames, which the next delta frame
 * needs again. Of frames larger than REPO_FRAME_KEEP (a pickle stored
 * whole) only the last one read is kept, so a reader holds at most about
 * REPO_FRAME_CACHE * REPO_FRAME_KEEP bytes besides it.
 */
#define REPO_FRAME_CACHE 16
#define REPO_FRAME_KEEP (256u << 10)
struct frame_cache {
	uint32_t pack;        /* UINT32_MAX: empty */
	uint64_t off;
	struct strbuf buf;
};

/* What one thread needs to read chunks: pack readers, zstd, frame cache. */
struct repo_reader {
	struct store_readers rds;
	struct strbuf base;   /* a delta frame's bases, concatenated */
	struct strbuf tmp;
	void *dc;             /* zstd decompression context */
	struct strbuf zbuf;   /* a compressed frame */
	struct frame_cache fc[REPO_FRAME_CACHE];
	unsigned fc_next;
};

struct repo_stats {
	uint64_t chunks_seen, bytes_seen;     /* everything given to repo_put */
	uint64_t chunks_new, bytes_new;       /* not in the repository before */
	uint64_t chunks_delta;                /* of them, stored as deltas */
	uint64_t bytes_stored;                /* compressed bytes written */
};

struct repo {
	struct store st;
	int writable;
	char **packs;         /* pack names (hex), the last one may be open */
	size_t *pack_entries; /* entries each pack's index lists */
	size_t npacks, cappacks;
	size_t first_new;     /* packs from here on were written by this handle */
	struct chunk_loc *locs; /* every chunk, n of capl */
	size_t n, capl;
	uint64_t *slots;      /* cap slots finding them: tag << 32 | index + 1 */
	size_t cap;
	struct store_file pf; /* pack being written */
	int pack_open;
	struct strbuf idx;    /* chunk entries of the open pack's index */
	struct strbuf idx_frames; /* its frame entries */
	uint64_t pack_chunks, pack_frames;
	struct repo_reader rd; /* the default reader, for the opening thread */
	struct zpool *zp;     /* compression workers (writable) */
	struct zbatch *cur[REPO_LANES]; /* new chunks being collected */
	/*
	 * Stored chunks written again into the open pack (prune): their new
	 * places, taken when that pack is finished; until then they are read
	 * where they were, which stays readable.
	 */
	struct loc_move { size_t i; struct chunk_loc loc; } *moves;
	size_t nmoves, capmoves;
	int level;
	struct repo_stats stats;
	/*
	 * Indexes that could not be read (damaged, or a read failed): the
	 * others are loaded, so a snapshot none of whose chunks is only in
	 * their packs is still read. What their packs hold is unknown: backup
	 * and prune refuse (repo_indexes_needed).
	 */
	struct bad_index {
		char *name;           /* NAME.idx */
		struct cv_err err;    /* why, naming the file */
	} *bad;
	size_t nbad;
	/* delta frames whose bases were looked up (repo_readable) */
	struct hashset frames_ok, frames_bad;
};

/* A key naming loc's frame (pack and offset), for a hashset of frames. */
#define FRAME_KEY 24
void repo_frame_key(const struct chunk_loc *loc, uint8_t key[FRAME_KEY]);

/*
 * Make a repository at path (which must not exist or be empty). *made, when
 * not NULL, says whether this call wrote its config: a failure after that is
 * this call's own, not another process having made it first.
 */
int repo_init(const char *path, int *made, struct cv_err *e);
/*
 * Open and lock (store_lock's modes), load every index; one that cannot be
 * read does not fail the open, it is listed in r->bad.
 */
int repo_open(const char *path, enum store_mode mode, struct repo *r,
	      struct cv_err *e);
/*
 * Load the indexes of packs a backup running beside this reader has added
 * since it opened. A reader lists or loads its snapshots first, then calls
 * this: a snapshot is renamed in only after its packs and their indexes.
 */
int repo_refresh(struct repo *r, struct cv_err *e);
/* 0 if every index was read, else an error naming the (first) bad one. */
int repo_indexes_ok(const struct repo *r, struct cv_err *e);
/*
 * The same for a command that refuses then (backup, prune): the message
 * says what was refused ("nothing pruned") and the way out.
 */
int repo_indexes_needed(const struct repo *r, const char *refused,
			struct cv_err *e);
/* Compression: zstd level and threads (-1: one per CPU); before any put. */
void repo_set_compression(struct repo *r, int level, int threads);
/*
 * Remove what killed runs left: temporary pack, index and manifest files,
 * and a backup's staging copy. Only with the lock that keeps writers out.
 * With would, nothing is removed: would is told each path.
 */
void repo_clean_leftovers(struct repo *r, void (*would)(const char *path));
/* Finish the open pack (writable) and close. */
int repo_close(struct repo *r, struct cv_err *e);

/* Store a chunk unless present. hash is the SHA-256 of p[0..n). */
int repo_put(struct repo *r, const uint8_t hash[SHA256_LEN], const void *p,
	     size_t n, struct cv_err *e);
/* 1 if hash is a stored whole chunk, which a delta can be made against. */
int repo_can_be_base(const struct repo *r, const uint8_t hash[SHA256_LEN]);
/*
 * Store a chunk unless present and readable, in lane (< REPO_LANES), as a
 * delta against base (a stored chunk that is not a delta itself, whose
 * content is bp[0..bn)) when it is new; whole when base is NULL or cannot
 * be one.
 */
int repo_put_delta(struct repo *r, unsigned lane, const uint8_t hash[SHA256_LEN],
		   const void *p, size_t n, const uint8_t *base,
		   const void *bp, size_t bn, struct cv_err *e);
/*
 * Whether the chunk at loc (NULL: not in the repository) can be read: a
 * delta only while every base of its frame is in the repository, whole. A
 * pack and its index removed by hand take the bases of later deltas with
 * them; a backup then stores such a chunk again (repo_put_delta) rather
 * than a snapshot that cannot be restored. Frames are looked up once.
 */
int repo_readable(struct repo *r, const struct chunk_loc *loc);
/*
 * The bases of a delta chunk's frame, every chunk's, concatenated into out:
 * reading any chunk of the frame needs all of them.
 */
int repo_delta_bases(struct repo *r, const struct chunk_loc *loc,
		     struct strbuf *out, struct cv_err *e);
/* The base of a delta chunk (loc->flags has CHUNK_DELTA). */
int repo_delta_base(struct repo *r, const struct chunk_loc *loc,
		    uint8_t base[SHA256_LEN], struct cv_err *e);
/* Make every chunk put so far durable (pack + index renamed in place). */
int repo_flush(struct repo *r, struct cv_err *e);

/*
 * After a failed backup: remove the packs this repo handle wrote, which no
 * snapshot references yet, so the repository is as it was. Best effort.
 */
void repo_discard_new(struct repo *r);
const struct chunk_loc *repo_find(const struct repo *r,
				  const uint8_t hash[SHA256_LEN]);
/* Read, decompress and check a chunk into out (replacing its content). */
int repo_get(struct repo *r, const uint8_t hash[SHA256_LEN],
	     struct strbuf *out, struct cv_err *e);
/*
 * Readers for more threads: repo_get_in through its own reader is safe on
 * any thread while nothing is written to the repository.
 */
void repo_reader_init(struct repo_reader *rd);
void repo_reader_release(struct repo_reader *rd);
int repo_get_in(struct repo *r, struct repo_reader *rd,
		const uint8_t hash[SHA256_LEN], struct strbuf *out,
		struct cv_err *e);
/* Same, appending the chunk to out (out is left as it was on error). */
int repo_append_in(struct repo *r, struct repo_reader *rd,
		   const uint8_t hash[SHA256_LEN], struct strbuf *out,
		   struct cv_err *e);
/* Same, for a chunk already looked up (loc may be NULL: not present). */
int repo_append_at(struct repo *r, struct repo_reader *rd,
		   const struct chunk_loc *loc, const uint8_t hash[SHA256_LEN],
		   struct strbuf *out, struct cv_err *e);
/*
 * Same, without hashing the content: for a caller that checks what the
 * chunks add up to against a hash of its own (a whole file's), and looks for
 * the damaged chunk with repo_append_at when that check fails. Frames are
 * still checked for their length and for decompressing at all.
 */
int repo_append_unchecked(struct repo *r, struct repo_reader *rd,
			  const struct chunk_loc *loc,
			  const uint8_t hash[SHA256_LEN], struct strbuf *out,
			  struct cv_err *e);

/*
 * A chunk list (n hashes, 32 bytes each) stored as segments of
 * REPO_LIST_SEGMENT entries; the segment hashes are appended to segs.
 */
int repo_put_list(struct repo *r, const uint8_t *hashes, size_t n,
		  struct strbuf *segs, struct cv_err *e);
/* The hashes of a list from its segment hashes (appended to out). */
int repo_get_list(struct repo *r, const uint8_t *segs, size_t nsegs,
		  struct strbuf *out, struct cv_err *e);

/*
 * Snapshot manifests: snapshots/NAME.json. json is a compact JSON object;
 * it is written with its checksum as its first member (REPOSITORY.md).
 */
int repo_put_snapshot(struct repo *r, const char *name, const char *json,
		      struct cv_err *e);
/*
 * Whether a manifest's text carries a checksum (*sealed) and, if so, whether
 * it matches: 0, or CV_ECORRUPT when the text was changed after writing.
 */
int repo_snapshot_sealed(const char *text, int *sealed);
int repo_list_snapshots(struct repo *r, char ***names, size_t *n,
			struct cv_err *e);
/* Caller frees *json. */
int repo_get_snapshot(struct repo *r, const char *name, char **json,
		      struct cv_err *e);


struct gc_stats {
	uint64_t packs_removed, packs_rewritten, chunks_removed;
};

/*
 * Keep only the chunks in keep: packs with none of them are deleted, packs
 * with some are rewritten first and deleted after. A crash at any point
 * leaves every kept chunk in some pack with an index. Refused while an
 * index could not be read (r->bad).
 */
int repo_gc(struct repo *r, const struct hashset *keep, int dry_run,
	    struct gc_stats *st, struct cv_err *e);

#endif
