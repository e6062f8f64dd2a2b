/*
 * Output stream: buffered writes to stdout or to a file that appears only when
 * complete (NAME.tmp.PID, fsync, rename, fsync dir); zstd when NAME ends ".zst".
 * A file is written straight to the disk where it can be (dwrite.h).
 */
#ifndef CV_OSTREAM_H
#define CV_OSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/dwrite.h"
#include "util/err.h"

struct ostream {
	int fd;
	int owns_fd;
	struct dwriter dw;   /* a file's writer (dwrite.h) */
	char *path;          /* final name, NULL for stdout */
	char *tmp;           /* temp name while writing */
	void *zc;            /* ZSTD_CCtx when compressing */
	unsigned char *buf;  /* pending (uncompressed) bytes */
	size_t len, cap;
	unsigned char *zbuf; /* compressed output buffer */
	size_t zcap;
	uint64_t bytes_in;   /* bytes given to os_write */
	uint64_t bytes_out;  /* bytes written to the fd */
	int failed;          /* sticky: first error kept in err */
	struct cv_err err;
};

/*
 * Open path (NULL or "-" means stdout). compress: -1 from the name's suffix,
 * 0 never, 1 always. Returns 0 or a negative code with e filled.
 */
int os_open(struct ostream *os, const char *path, int compress,
	    struct cv_err *e);

/* Buffered write; errors are sticky and reported by os_close. */
void os_write(struct ostream *os, const void *p, size_t n);

/*
 * Flush, finish the zstd frame, fsync and rename into place. On error (or
 * when abandon is set) the temp file is removed and the target is untouched.
 */
int os_close(struct ostream *os, int abandon, struct cv_err *e);

#endif
