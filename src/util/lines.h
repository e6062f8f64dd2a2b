/*
 * Reading a text file line by line, zstd-decompressed when it ends in ".zst",
 * with line numbers for messages. Lines are bounded (64 MiB); a UTF-8 byte
 * order mark at the start is skipped; a zstd input cut inside a frame is an
 * error, not a shorter file.
 */
#ifndef CV_LINES_H
#define CV_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/sha256.h"
#include "util/strbuf.h"

struct lines {
	const char *path;
	int fd;
	void *dc;                 /* ZSTD_DCtx when compressed */
	struct strbuf raw, buf;   /* compressed input, decompressed text */
	size_t pos;               /* start of the next line in buf */
	int eof;
	int frame_open;           /* zstd: the input so far ends inside a frame */
	int bom_checked;          /* the start was looked at for a UTF-8 BOM */
	struct sha256 *hash;      /* when set, fed every byte read (as stored) */
	uint64_t lineno;          /* of the line last returned */
};

int lines_open(struct lines *l, const char *path, struct cv_err *e);
/* 1 with the line in p, n (no newline; valid until the next call), 0 at the end. */
int lines_next(struct lines *l, const char **p, size_t *n, struct cv_err *e);
void lines_close(struct lines *l);

#endif
