/*
 * A consistent copy of a persist directory while Chroma keeps writing to it
 * (chroma-format.md §7, the stronger procedure): under one SQLite read
 * transaction, the database file, then every vector segment folder,
 * validated and copied again if a flush raced the copy; then streaming the
 * copy through the Chroma chunker.
 */
#ifndef CV_LIVECOPY_H
#define CV_LIVECOPY_H

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "repo/chunker.h"
#include "util/err.h"

/* Where a streamed copy goes: a repository's manifest writer. */
struct lc_sink {
	void *ctx;
	int (*dir)(void *ctx, const char *rel, const struct stat *st,
		   struct cv_err *e);
	/* a file begins, to be cut by cut */
	int (*file_begin)(void *ctx, const char *rel, const struct stat *st,
			  const struct cutter *cut, struct cv_err *e);
	/* n consecutive chunks of the file: lens[i] bytes each, from p on */
	int (*chunks)(void *ctx, const uint8_t *p, const size_t *lens, size_t n,
		      struct cv_err *e);
	int (*file_end)(void *ctx, struct cv_err *e);
	/*
	 * Optional, before a file is read: 1 if the sink recorded it already
	 * (unchanged since a previous copy), and it is not read.
	 */
	int (*unchanged)(void *ctx, const char *rel);
};

/*
 * What a capture need not copy: files a previous copy recorded with the
 * same source stamps ([device, inode, size, mtime_ns, ctime_ns]: every write
 * changes the ctime, and nothing sets it back), which the sink holds whole.
 */
struct lc_known {
	void *ctx;
	int (*has)(void *ctx, const char *rel, const json_t *stamp);
};

struct lc_stats {
	double lock_ms;        /* how long Chroma's writers were held off (in WAL
				  mode, how long the read transactions lasted) */
	int wal_mode;          /* the database is in WAL mode: writers not held */
	int retries;           /* folders copied again after a racing flush */
	uint64_t bytes_read;   /* including folders read again */
	uint64_t bytes_kept;   /* of the files kept, not read */
	uint64_t bytes_paged_in; /* read into the page cache before the lock */
	char version[32];      /* Chroma version range of the migrations */
	json_t *collections;   /* [{name, id, tenant, database, records, dimension}] */
	json_t *warnings;      /* damaged folders copied as they are */
	/*
	 * Index folders copied and checked, and the database ("" its folder):
	 * {folder: {file: [device, inode, size, mtime_ns, ctime_ns]}}, the
	 * source's stat when it was copied, for the files a later backup may
	 * trust it of (capture.c, note_stamps).
	 */
	json_t *stamps;
	/*
	 * Files not copied, as known has them: {folder ("" the root): [file,
	 * ...]}; an index folder is taken whole or copied whole.
	 */
	json_t *kept;
};

/*
 * Copy dir into dst (created, or empty) consistently while Chroma runs:
 * files keep their mode and modification time; the database's
 * transient journal is left out; nothing is fsynced (the caller does, once
 * Chroma's writers go on). Retries a folder up to max_retries times, then
 * fails naming it; a folder that is invalid but does not change is copied as
 * it is, with a warning. The source is only read. With known (else NULL),
 * the database (unless in WAL mode) and each index folder are not copied
 * when known has every file of them with its stamps of now: st->kept names
 * them.
 */
int chroma_capture(const char *dir, const char *dst, int max_retries,
		   const struct lc_known *known, struct lc_stats *st,
		   struct cv_err *e);

/*
 * Whether dir/rel (links followed) has the stamps stamp now, in the form
 * lc_stats records them: before a capture, to pass over what changed.
 */
int lc_stamp_is(const char *dir, const char *rel, const json_t *stamp);

/* What lock_ms measured, for a summary line. */
static inline const char *lc_held(const struct lc_stats *st)
{
	return st->wal_mode ? "WAL mode, writers never held; read transactions" :
			      "Chroma's writers held";
}

/* Fill st's version and collections from a directory nobody writes to. */
int chroma_describe(const char *dir, struct lc_stats *st, struct cv_err *e);

/*
 * Give every file of dir to sink, cut by the Chroma chunker; and the files
 * kept names (lc_stats, or NULL), which sink->unchanged must take.
 */
int chroma_stream(const char *dir, const json_t *kept, const struct lc_sink *sink,
		  struct cv_err *e);

#endif
