/*
 * Direct writer (see dwrite.h).
 */
#include "util/dwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/banned.h"

int dw_open(struct dwriter *w, const char *path, int flags)
{
	int base = O_WRONLY | O_CREAT | O_CLOEXEC | flags;

	memset(w, 0, sizeof(*w));
	w->fd = open(path, base | O_DIRECT, 0644);
	if (w->fd >= 0 && !posix_memalign((void **)&w->buf, DW_BLOCK, DW_BUF)) {
		w->direct = 1;
		return 0;
	}
	if (w->fd >= 0) { /* no buffer: plain writes to the same file */
		fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_DIRECT);
		return 0;
	}
	if (errno != EINVAL)
		return -1;
	w->fd = open(path, base, 0644); /* the filesystem refuses O_DIRECT */
	return w->fd < 0 ? -1 : 0;
}

/*
 * Write p[0..n) at the end of the file. An O_DIRECT write the filesystem
 * refuses (EINVAL) turns the file to plain writes, and the rest goes so.
 */
static int write_all(struct dwriter *w, const unsigned char *p, size_t n)
{
	ssize_t r;

	while (n) {
		r = write(w->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EINVAL && w->direct) {
			if (fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_DIRECT))
				return -1;
			w->direct = 0;
			continue;
		}
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int dw_write(struct dwriter *w, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t k;

	if (!w->direct) {
		if (write_all(w, c, n))
			return -1;
		w->size += n;
		writeback_start(w->fd, &w->flushed, w->size);
		return 0;
	}
	while (n) {
		k = DW_BUF - w->len < n ? DW_BUF - w->len : n;
		memcpy(w->buf + w->len, c, k);
		w->len += k;
		w->size += k;
		c += k;
		n -= k;
		if (w->len < DW_BUF)
			break;
		w->len = 0;
		if (write_all(w, w->buf, DW_BUF))
			return -1;
		if (!w->direct) /* turned plain: the rest goes as plain writes */
			return dw_write(w, c, n);
	}
	return 0;
}

int dw_finish(struct dwriter *w)
{
	size_t padded = (w->len + DW_BLOCK - 1) & ~(size_t)(DW_BLOCK - 1);

	if (!w->len) /* plain writes gather nothing */
		return 0;
	memset(w->buf + w->len, 0, padded - w->len);
	w->len = 0;
	if (write_all(w, w->buf, padded))
		return -1;
	return ftruncate(w->fd, (off_t)w->size);
}

void dw_release(struct dwriter *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = 0;
}
