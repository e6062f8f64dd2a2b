/*
 * Output stream (see ostream.h): the "temp name, fsync, rename" rule of the
 * house style, with optional zstd framing.
 */
#include "util/ostream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zstd.h>

#include "util/dwrite.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define OS_BUF (1u << 20)

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static int os_setup_zstd(struct ostream *os, struct cv_err *e)
{
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (!zc)
		return cv_errf(e, CV_EIO, "cannot create a zstd context");
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
	if (n > 1)
		ZSTD_CCtx_setParameter(zc, ZSTD_c_nbWorkers, (int)(n > 4 ? 4 : n));
	os->zc = zc;
	os->zcap = ZSTD_CStreamOutSize();
	os->zbuf = xmalloc(os->zcap);
	return 0;
}

static int os_open_file(struct ostream *os, const char *path, struct cv_err *e)
{
	struct strbuf sb = STRBUF_INIT;

	sb_addf(&sb, "%s.tmp.%ld", path, (long)getpid());
	os->path = xstrdup(path);
	os->tmp = sb_detach(&sb, NULL);
	rm_stale_tmp(path, 0);
	signal_cleanup_file(os->tmp); /* before it exists: no moment unnamed */
	if (dw_open(&os->dw, os->tmp, O_EXCL)) {
		signal_cleanup_file(NULL);
		return cv_errno(e, CV_EIO, "%s: cannot create", os->tmp);
	}
	flock(os->dw.fd, LOCK_EX | LOCK_NB); /* held while it runs: not stale */
	os->fd = os->dw.fd;
	os->owns_fd = 1;
	return 0;
}

int os_open(struct ostream *os, const char *path, int compress,
	    struct cv_err *e)
{
	int rc;

	memset(os, 0, sizeof(*os));
	os->fd = STDOUT_FILENO;
	if (path && strcmp(path, "-")) {
		rc = os_open_file(os, path, e);
		if (rc)
			goto fail;
		if (compress < 0)
			compress = ends_with(path, ".zst");
	}
	if (compress > 0 && (rc = os_setup_zstd(os, e)))
		goto fail;
	os->cap = OS_BUF;
	os->buf = xmalloc(os->cap);
	return 0;
fail:
	os_close(os, 1, NULL);
	return rc;
}

static void os_fail(struct ostream *os, int code, const char *what)
{
	if (os->failed)
		return;
	os->failed = 1;
	/* the name asked for: its temporary name is this run's detail */
	if (code == CV_EIO)
		cv_errno(&os->err, code, "%s: %s", os->path ? os->path : "stdout", what);
	else
		cv_errf(&os->err, code, "%s: %s", os->path ? os->path : "stdout", what);
}

static void os_raw(struct ostream *os, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	if (os->path) { /* a file of ours, not stdout */
		if (!os->failed && dw_write(&os->dw, p, n))
			os_fail(os, CV_EIO, "write failed");
		os->bytes_out += n;
		return;
	}
	while (n && !os->failed) {
		w = write(os->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			os_fail(os, CV_EIO, "write failed");
			return;
		}
		c += w;
		n -= (size_t)w;
		os->bytes_out += (uint64_t)w;
	}
}

static void os_compress(struct ostream *os, const void *p, size_t n,
			ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer out;
	size_t left;

	do {
		out = (ZSTD_outBuffer){ os->zbuf, os->zcap, 0 };
		left = ZSTD_compressStream2(os->zc, &out, &in, mode);
		if (ZSTD_isError(left)) {
			os_fail(os, CV_EIO, ZSTD_getErrorName(left));
			return;
		}
		os_raw(os, os->zbuf, out.pos);
	} while (!os->failed &&
		 (mode == ZSTD_e_end ? left != 0 : in.pos < in.size));
}

static void os_flush_buf(struct ostream *os, ZSTD_EndDirective mode)
{
	if (os->zc)
		os_compress(os, os->buf, os->len, mode);
	else
		os_raw(os, os->buf, os->len);
	os->len = 0;
}

void os_write(struct ostream *os, const void *p, size_t n)
{
	if (os->failed)
		return;
	os->bytes_in += n;
	if (os->len + n > os->cap) {
		os_flush_buf(os, ZSTD_e_continue);
		if (n >= os->cap) {
			if (os->zc)
				os_compress(os, p, n, ZSTD_e_continue);
			else
				os_raw(os, p, n);
			return;
		}
	}
	memcpy(os->buf + os->len, p, n);
	os->len += n;
}

static void os_commit(struct ostream *os)
{
	if (!os->failed && dw_finish(&os->dw))
		os_fail(os, CV_EIO, "write failed");
	if (fsync(os->fd))
		os_fail(os, CV_EIO, "fsync failed");
	if (close(os->fd) && !os->failed)
		os_fail(os, CV_EIO, "close failed");
	os->owns_fd = 0;
	if (os->failed)
		return;
	if (rename(os->tmp, os->path)) {
		os_fail(os, CV_EIO, "cannot rename into place");
		return;
	}
	sync_parent(os->path);
}

int os_close(struct ostream *os, int abandon, struct cv_err *e)
{
	int rc;

	if (!abandon && !os->failed && (os->len || os->zc))
		os_flush_buf(os, ZSTD_e_end);
	if (!abandon && os->path && os->owns_fd)
		os_commit(os);
	if (os->owns_fd)
		close(os->fd);
	if (os->tmp)
		signal_cleanup_file(NULL);
	if (os->tmp && (abandon || os->failed))
		unlink(os->tmp);
	rc = os->failed ? os->err.code : 0;
	if (rc && e)
		cv_errf(e, rc, "%s", os->err.msg);
	dw_release(&os->dw);
	ZSTD_freeCCtx(os->zc);
	free(os->zbuf);
	free(os->buf);
	free(os->path);
	free(os->tmp);
	memset(os, 0, sizeof(*os));
	os->fd = -1;
	return rc;
}
