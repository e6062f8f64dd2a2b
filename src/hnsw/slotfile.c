/*
 * label -> slot in a temporary file (slotfile.h). An entry is slot + 1 with
 * bit 31 set for a deleted slot, 0 for no slot. Slots are buffered, sorted
 * by label and written as runs of consecutive labels: Chroma gives slots
 * nearly in label order, so runs are long and writes few.
 */
#include "hnsw/slotfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define CHUNK (256u << 10)      /* pairs buffered: 4 MiB */
#define WINDOW (64u << 10)      /* labels read at a time: 256 KiB */
#define DELETED (1u << 31)

/* mkstemp, unlinked at once: -1 with errno set on failure. */
static int named_tmp(const char *dir)
{
	struct strbuf sb = STRBUF_INIT;
	int fd;

	sb_addf(&sb, "%s/chromavault-labels-XXXXXX", dir);
	fd = mkostemp(sb.buf, O_CLOEXEC);
	if (fd >= 0)
		unlink(sb.buf);
	sb_release(&sb);
	return fd;
}

int sf_open(struct slotfile *f, const char *name, struct cv_err *e)
{
	const char *dir = getenv("TMPDIR");

	memset(f, 0, sizeof(*f));
	f->name = name;
	if (!dir || !*dir)
		dir = "/tmp";
	f->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (f->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		f->fd = named_tmp(dir); /* a filesystem without O_TMPFILE */
	if (f->fd < 0)
		return cv_errno(e, CV_EIO, "%s: a temporary file in %s for its label "
				"lookup", name, dir);
	f->cap = CHUNK;
	f->chunk = xmalloc(CHUNK * sizeof(*f->chunk));
	f->run = xmalloc(CHUNK * sizeof(*f->run));
	return 0;
}

void sf_close(struct slotfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->chunk);
	free(f->run);
	free(f->win);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

static int io_all(struct slotfile *f, int wr, void *buf, size_t n, uint64_t off,
		  struct cv_err *e)
{
	size_t done = 0;
	uint64_t at;
	ssize_t r;

	while (done < n) {
		r = wr ? pwrite(f->fd, (char *)buf + done, n - done, (off_t)(off + done))
		       : pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			at = off + done;
			return cv_errno(e, CV_EIO, "%s: label lookup file: %s at offset "
					"%llu", f->name, wr ? "write" : "read",
					(unsigned long long)at);
		}
		if (r == 0) { /* past the end: labels never written */
			memset((char *)buf + done, 0, n - done);
			return 0;
		}
		done += (size_t)r;
	}
	return 0;
}

static int by_label(const void *a, const void *b)
{
	const struct sf_pair *x = a, *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Labels are never reused: only a deleted slot may share one. */
static int merge(struct slotfile *f, uint32_t *have, const struct sf_pair *p,
		 struct cv_err *e)
{
	uint32_t want = (p->slot + 1) | (p->deleted ? DELETED : 0);

	if (*have && p->deleted)
		return 0;
	if (*have && !(*have & DELETED))
		return cv_errf(e, CV_ECORRUPT, "%s: elements %u and %u both carry "
			       "label %llu", f->name, (*have & ~DELETED) - 1, p->slot,
			       (unsigned long long)p->label);
	*have = want;
	return 0;
}

/* Pairs [i, j) hold consecutive labels: one read, one write. */
static int write_run(struct slotfile *f, size_t i, size_t j, struct cv_err *e)
{
	uint64_t lo = f->chunk[i].label;
	size_t n = (size_t)(f->chunk[j - 1].label - lo + 1), k;
	int rc;

	if ((rc = io_all(f, 0, f->run, n * 4, lo * 4, e)))
		return rc;
	for (k = i; k < j; k++)
		if ((rc = merge(f, &f->run[f->chunk[k].label - lo], &f->chunk[k], e)))
			return rc;
	if (lo + n > f->end)
		f->end = lo + n;
	return io_all(f, 1, f->run, n * 4, lo * 4, e);
}

static int flush_chunk(struct slotfile *f, struct cv_err *e)
{
	size_t i = 0, j;
	int rc;

	qsort(f->chunk, f->n, sizeof(*f->chunk), by_label);
	while (i < f->n) {
		for (j = i + 1; j < f->n && f->chunk[j].label - f->chunk[j - 1].label <= 1; j++)
			;
		if ((rc = write_run(f, i, j, e)))
			return rc;
		i = j;
	}
	f->n = 0;
	return 0;
}

int sf_add(struct slotfile *f, uint64_t label, uint32_t slot, int deleted,
	   struct cv_err *e)
{
	if (label >= SLOTFILE_MAX_LABEL || slot >= DELETED - 1)
		return cv_errf(e, CV_EUNSUP, "%s: element %u: label %llu is beyond "
			       "what the label lookup file holds", f->name, slot,
			       (unsigned long long)label);
	f->chunk[f->n++] = (struct sf_pair){ label, slot, deleted != 0 };
	return f->n == f->cap ? flush_chunk(f, e) : 0;
}

int sf_finish(struct slotfile *f, struct cv_err *e)
{
	int rc = flush_chunk(f, e);

	free(f->chunk);
	free(f->run);
	f->chunk = NULL;
	f->run = NULL;
	f->win = xmalloc(WINDOW * sizeof(*f->win));
	f->win_n = 0;
	return rc;
}

int sf_find(struct slotfile *f, uint64_t label, uint32_t *slot, int *deleted,
	    struct cv_err *e)
{
	uint32_t v;
	int rc;

	if (label >= f->end)
		return CV_ENOTFOUND;
	if (label < f->win_lo || label - f->win_lo >= f->win_n) {
		f->win_lo = label - label % WINDOW;
		f->win_n = 0;
		if ((rc = io_all(f, 0, f->win, WINDOW * 4, f->win_lo * 4, e)))
			return rc;
		f->win_n = WINDOW;
	}
	v = f->win[label - f->win_lo];
	if (!v)
		return CV_ENOTFOUND;
	*slot = (v & ~DELETED) - 1;
	*deleted = (v & DELETED) != 0;
	return 0;
}
