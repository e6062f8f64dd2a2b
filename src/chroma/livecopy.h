/*
 * A consistent copy of a persist directory while Chroma keeps writing to it
 * (chroma-format.md §7, the stronger procedure): under one SQLite read
 * transaction, the database pages, then every vector segment folder,
 * validated and re-copied if a flush raced the copy.
 */
#ifndef CV_LIVECOPY_H
#define CV_LIVECOPY_H

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "repo/chunker.h"
#include "util/err.h"

/* Where the copy goes: a repository (backup) or a directory (snapshot). */
struct lc_sink {
	void *ctx;
	int (*dir)(void *ctx, const char *rel, const struct stat *st,
		   struct cv_err *e);
	int (*file_begin)(void *ctx, const char *rel, const struct stat *st,
			  struct cv_err *e);
	int (*chunk)(void *ctx, const void *p, size_t n, struct cv_err *e);
	int (*file_end)(void *ctx, struct cv_err *e);
	/* Forget what was given for paths under rel/: that folder is retried. */
	void (*drop)(void *ctx, const char *rel);
};

struct lc_stats {
	double lock_ms;        /* how long Chroma's writers were held off */
	int retries;           /* folders copied again after a racing flush */
	uint64_t bytes_read;    /* including folders read again */
	char version[32];      /* Chroma version range of the migrations */
	json_t *collections;   /* [{name, id, tenant, database, records, dimension}] */
	json_t *warnings;      /* damaged folders copied as they are */
};

/*
 * Copy dir through sink. The source is only read. Retries a folder up to
 * max_retries times with backoff, then fails naming it.
 */
int chroma_live_copy(const char *dir, const struct lc_sink *sink,
		     int max_retries, struct lc_stats *st, struct cv_err *e);

#endif
