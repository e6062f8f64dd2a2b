/*
 * Snapshot manifests (docs/REPOSITORY.md): building the file list while a
 * copy streams in, and reading it back.
 */
#ifndef CV_MANIFEST_H
#define CV_MANIFEST_H

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "repo/chunker.h"
#include "repo/fpcache.h"
#include "repo/repo.h"
#include "util/bgtask.h"
#include "util/err.h"
#include "util/progress.h"
#include "util/sha256.h"

/*
 * A chunk list patch is (u32 index, 32-byte hash) entries in index order. It
 * is used while it has at most 1/MF_PATCH_MAX_FRACTION of the list's entries,
 * and for lists of at least MF_PATCH_MIN_CHUNKS.
 */
#define MF_PATCH_ENTRY 36
#define MF_PATCH_MAX_FRACTION 4
#define MF_PATCH_MIN_CHUNKS 64
/* The manifest version from which a checksum is part of every manifest. */
#define MF_SEALED_SINCE 3

struct mf_file {
	const char *path;
	int is_dir;
	uint64_t size;
	unsigned mode;
	int64_t mtime_ns;
	uint8_t sha[SHA256_LEN];
	uint8_t *segs;        /* list segment hashes (the base list with a patch) */
	size_t nsegs;
	int has_patch;        /* the list is the base list with a patch applied */
	uint8_t *psegs;       /* patch segment hashes */
	size_t npsegs;
	uint64_t nchunks;     /* with a patch: entries of the patched list */
	json_t *json;         /* its entry in the manifest (the manifest's) */
};

struct manifest {
	char *name;
	json_t *root;
	struct mf_file *files;
	size_t n;
	int64_t time;         /* seconds since the epoch */
	int sealed;           /* its checksum matched; 0: written without one */
};

/*
 * Parse; errors name the snapshot and leave m empty (released). A manifest
 * whose checksum does not match is an error; one of version 3 or later
 * must carry one, older ones are read without (m->sealed 0).
 */
int manifest_parse(const char *name, const char *json, struct manifest *m,
		   struct cv_err *e);
void manifest_release(struct manifest *m);
/* The file's chunk hashes in order, its patch applied (appended to out). */
int mf_file_list(struct repo *r, const struct mf_file *f, struct strbuf *out,
		 struct cv_err *e);
/* The entry of path in m, or NULL. */
const struct mf_file *manifest_find(const struct manifest *m, const char *path);
/*
 * Load snapshot NAME ("latest" for the newest) from the repository; m is
 * left empty on error.
 */
int manifest_load(struct repo *r, const char *name, struct manifest *m,
		  struct cv_err *e);

/* A manifest being written by a copy into the repository. */
struct mf_writer {
	struct repo *r;
	const struct manifest *prev; /* lists are patches against it; may be NULL */
	json_t *files;
	json_t *cur;
	struct sha256 whole;
	struct strbuf hashes;
	const struct mf_file *prev_file; /* this file in prev, or NULL */
	struct strbuf prev_base;    /* its base list (a new list patches it) */
	struct strbuf prev_list;    /* its whole list (deltas' bases) */
	struct strbuf base;         /* a base chunk's content */
	struct bgtask hasher;       /* the whole-file hash, beside the chunks' */
	struct hash_job {
		const uint8_t *p;
		size_t n;
		const size_t *lens; /* and the chunks' fingerprints, or NULL */
		size_t nlens;
	} job;
	int two_kinds;             /* the file's cut alternates two kinds */
	uint64_t size;
	uint64_t done;             /* bytes so far, for progress */
	const json_t *stamps;      /* the capture's (livecopy.h), or NULL */
	json_t *takeable;          /* {path: src}: prev's files it may take */
	uint64_t unchanged;        /* files taken from prev, not read */
	struct progress *progress; /* NULL: none */
	/*
	 * Fingerprints (fpcache.h): prev's, and the new snapshot's, or both
	 * NULL: every chunk is hashed.
	 */
	const struct fp_cache *fpc;
	struct fp_writer *fpw;
	const uint8_t *prev_fps;   /* this file's in fpc, matching prev_list */
	struct strbuf fps;         /* this file's so far (by the second thread
				      when prev_fps is NULL) */
	uint64_t chunks_known;     /* chunks recognised by their fingerprint */
};

/* prev: the last snapshot, whose lists new ones may patch (or NULL). */
void mfw_init(struct mf_writer *w, struct repo *r, const struct manifest *prev);
void mfw_release(struct mf_writer *w);
int mfw_dir(struct mf_writer *w, const char *rel, struct cv_err *e);
/*
 * A file begins; cut says how it is cut. Its chunks of the two alternating
 * kinds (cut->a != cut->b) go into the repository's two lanes.
 */
int mfw_file_begin(struct mf_writer *w, const char *rel, const struct stat *st,
		   const struct cutter *cut);
/* n consecutive chunks of the file, lens[i] bytes each from p on. */
int mfw_chunks(struct mf_writer *w, const uint8_t *p, const size_t *lens,
	       size_t n, struct cv_err *e);
int mfw_file_end(struct mf_writer *w, struct cv_err *e);
/*
 * The files of prev recorded with their source stat, every chunk of which
 * is in the repository (w->takeable): before a capture, which may then
 * leave them where they are (mfw_has). same (or NULL) passes over those
 * whose source has another stat already, whose lists need not be read.
 */
void mfw_find_takeable(struct mf_writer *w,
		       int (*same)(void *ctx, const char *rel, const json_t *src),
		       void *ctx);
/*
 * Whether rel is takeable with the source stat src ([device, inode, size,
 * mtime_ns, ctime_ns]; NULL: no).
 */
int mfw_has(const struct mf_writer *w, const char *rel, const json_t *src);
/*
 * Before a file is read: 1 if prev recorded it with the source stat the
 * capture gives now (device, inode, size, mtime and ctime, the last of which
 * every write changes and nothing sets back) and every chunk of it is in the
 * repository; its entry is then taken as it is, and the file is not read.
 */
int mfw_unchanged(struct mf_writer *w, const char *rel);

#endif
