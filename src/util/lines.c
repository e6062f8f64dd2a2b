/*
 * Line reader (see lines.h).
 */
#include "util/lines.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "util/sha256.h"
#include "util/banned.h"

#define LINE_MAX_BYTES (64u << 20)
#define READ_CHUNK (1u << 20)

int lines_open(struct lines *l, const char *path, struct cv_err *e)
{
	size_t n = strlen(path);

	memset(l, 0, sizeof(*l));
	l->path = path;
	sb_init(&l->raw, 0);
	sb_init(&l->buf, 0);
	l->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (l->fd < 0)
		return cv_errno(e, CV_EIO, "%s: cannot open", path);
	if (n > 4 && !strcmp(path + n - 4, ".zst"))
		l->dc = ZSTD_createDCtx();
	return 0;
}

void lines_close(struct lines *l)
{
	if (l->fd >= 0)
		close(l->fd);
	ZSTD_freeDCtx(l->dc);
	sb_release(&l->raw);
	sb_release(&l->buf);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/*
 * Decompress in[0..n) into buf. The decoder may hold back output when out
 * fills, with all of the input taken: it is drained before returning, as
 * no later call may come to collect it at the end of the file.
 */
static int inflate(struct lines *l, const char *t, size_t n, struct cv_err *e)
{
	ZSTD_inBuffer in = { t, n, 0 };
	ZSTD_outBuffer out;
	size_t z;

	do {
		out = (ZSTD_outBuffer){ sb_tail(&l->buf, READ_CHUNK), READ_CHUNK, 0 };
		z = ZSTD_decompressStream(l->dc, &out, &in);
		if (ZSTD_isError(z))
			return cv_errf(e, CV_ECORRUPT, "%s: zstd: %s", l->path,
				       ZSTD_getErrorName(z));
		sb_setlen(&l->buf, l->buf.len + out.pos);
		l->frame_open = z != 0; /* 0: the frame just ended */
	} while (in.pos < in.size || out.pos == out.size);
	return 0;
}

/*
 * Append more text to buf; sets eof at the end of the input. A zstd input
 * must end where a frame does: a cut file would otherwise read as a
 * shorter, complete one.
 */
static int fill(struct lines *l, struct cv_err *e)
{
	char *t = sb_tail(&l->raw, READ_CHUNK);
	ssize_t r;

	do
		r = read(l->fd, t, READ_CHUNK);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return cv_errno(e, CV_EIO, "%s: read failed", l->path);
	if (r == 0) {
		l->eof = 1;
		if (l->frame_open)
			return cv_errf(e, CV_ECORRUPT, "%s: zstd input is truncated: "
				       "it ends inside a frame (an incomplete copy?)",
				       l->path);
		return 0;
	}
	if (l->hash)
		sha256_update(l->hash, t, (size_t)r);
	if (!l->dc) {
		sb_add(&l->buf, t, (size_t)r);
		return 0;
	}
	return inflate(l, t, (size_t)r, e);
}

/* A UTF-8 byte order mark some editors write says nothing: skipped. */
static void skip_bom(struct lines *l)
{
	if (l->pos == 0 && l->buf.len >= 3 && !memcmp(l->buf.buf, "\xef\xbb\xbf", 3))
		l->pos = 3;
	l->bom_checked = 1;
}

int lines_next(struct lines *l, const char **p, size_t *n, struct cv_err *e)
{
	char *nl;
	int rc;

	for (;;) {
		if (!l->bom_checked && (l->buf.len >= 3 || l->eof))
			skip_bom(l);
		nl = memchr(l->buf.buf + l->pos, '\n', l->buf.len - l->pos);
		if (nl || (l->eof && l->pos < l->buf.len))
			break;
		if (l->eof)
			return 0;
		if (l->pos) {
			memmove(l->buf.buf, l->buf.buf + l->pos, l->buf.len - l->pos);
			sb_setlen(&l->buf, l->buf.len - l->pos);
			l->pos = 0;
		}
		if (l->buf.len > LINE_MAX_BYTES)
			return cv_errf(e, CV_ECORRUPT, "%s:%llu: line longer than 64 MiB",
				       l->path, (unsigned long long)l->lineno + 1);
		if ((rc = fill(l, e)))
			return rc;
	}
	*p = l->buf.buf + l->pos;
	*n = nl ? (size_t)(nl - *p) : l->buf.len - l->pos;
	l->pos += *n + (nl != NULL);
	l->lineno++;
	return 1;
}
