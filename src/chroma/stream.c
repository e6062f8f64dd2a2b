/*
 * Streaming a captured directory through a sink, each file cut by the Chroma
 * chunker (livecopy.h, chunking.h): the database first, then every folder,
 * names in byte order (an index folder's pickle first, see cmp_name), so the
 * same tree always gives the same manifest.
 */
#include "chroma/livecopy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chroma/chunking.h"
#include "util/jsonw.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define READ_BUF (4u << 20)

struct lc {
	const char *root;
	const json_t *kept;     /* files not in root, which the sink has */
	const struct lc_sink *sink;
	uint8_t *buf;
	uint64_t cap;           /* READ_BUF, or the largest chunk so far */
	size_t *lens, caplens;  /* chunk lengths of one emit */
};

/* Fill buf[have..cap) from fd; *eof set at end of file. */
static int fill(int fd, uint8_t *buf, uint64_t *have, uint64_t cap, int *eof,
		const char *path, struct cv_err *e)
{
	ssize_t r;

	while (*have < cap && !*eof) {
		r = read(fd, buf + *have, cap - *have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cv_errno(e, CV_EIO, "%s: read failed", path);
		if (r == 0)
			*eof = 1;
		*have += (uint64_t)r;
	}
	return 0;
}

/* Emit the whole chunks in buf; keeps a partial one unless at end of file. */
static int emit_chunks(struct lc *lc, const struct cutter *cut, uint64_t *off,
		       uint64_t *used, uint64_t have, int eof, struct cv_err *e)
{
	uint64_t want, len, start = *used;
	size_t n = 0;

	while (*used < have) {
		want = cutter_next(cut, *off, UINT64_MAX);
		len = want < have - *used ? want : have - *used;
		if (len < want && !eof)
			break;
		if (n == lc->caplens) {
			lc->caplens = lc->caplens ? 2 * lc->caplens : 1024;
			lc->lens = xrealloc(lc->lens, lc->caplens * sizeof(*lc->lens));
		}
		lc->lens[n++] = (size_t)len;
		*used += len;
		*off += len;
	}
	return n ? lc->sink->chunks(lc->sink->ctx, lc->buf + start, lc->lens, n, e) : 0;
}

/* Read a whole file through the sink, cut by the Chroma chunker. */
static int copy_file(struct lc *lc, const char *dir, const char *rel,
		     const char *name, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	uint64_t off = 0, have = 0, used = 0;
	struct cutter cut;
	struct stat st;
	int fd, rc, eof = 0;

	if (lc->sink->unchanged && lc->sink->unchanged(lc->sink->ctx, rel))
		return 0; /* recorded already, as a previous copy found it */
	sb_addf(&path, "%s/%s", lc->root, rel);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot read", path.buf);
		goto out;
	}
	if ((rc = fill(fd, lc->buf, &have, lc->cap, &eof, path.buf, e)))
		goto out;
	chroma_cutter(dir, name, lc->buf, (unsigned long)have, &cut);
	if ((rc = lc->sink->file_begin(lc->sink->ctx, rel, &st, &cut, e)))
		goto out;
	for (;;) {
		if ((rc = emit_chunks(lc, &cut, &off, &used, have, eof, e)) || eof)
			break;
		memmove(lc->buf, lc->buf + used, have - used);
		have -= used;
		used = 0;
		if (have == lc->cap) { /* a chunk larger than the buffer */
			lc->cap = cutter_next(&cut, off, UINT64_MAX);
			lc->buf = xrealloc(lc->buf, lc->cap);
		}
		if ((rc = fill(fd, lc->buf, &have, lc->cap, &eof, path.buf, e)))
			break;
	}
	if (rc)
		goto out;
	rc = lc->sink->file_end(lc->sink->ctx, e);
out:
	if (fd >= 0)
		close(fd);
	sb_release(&path);
	return rc;
}

/*
 * Byte order, but an index folder's pickle first: it is one large chunk,
 * stored as a delta compressed at a slow level, and compressing it beside
 * the other files' chunks instead of after them shortens the backup.
 */
static int cmp_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int px = !strcmp(x, "index_metadata.pickle"), py = !strcmp(y, "index_metadata.pickle");

	return px != py ? py - px : strcmp(x, y);
}

static void add_name(char ***v, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = xstrdup(name);
}

/* Entry names of a directory and the given extra ones, sorted; caller frees. */
static char **list_dir(const char *path, const json_t *extra, size_t *n)
{
	struct dirent *de;
	DIR *d = opendir(path);
	char **v = NULL;
	size_t cap = 0, i;
	json_t *x;

	*n = 0;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			add_name(&v, n, &cap, de->d_name);
	if (d)
		closedir(d);
	json_array_foreach(extra, i, x)
		add_name(&v, n, &cap, json_string_value(x));
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_name);
	return v;
}

/* Whether the kept files of folder rel ("" the root) name name. */
static int is_kept(const struct lc *lc, const char *rel, const char *name)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(lc->kept, rel), i, x)
		if (!strcmp(json_string_value(x), name))
			return 1;
	return 0;
}

/* A kept file: the sink takes it as it has it. */
static int take_kept(struct lc *lc, const char *rel, struct cv_err *e)
{
	if (lc->sink->unchanged && lc->sink->unchanged(lc->sink->ctx, rel))
		return 0;
	return cv_errf(e, CV_EIO, "%s: not copied, as the previous snapshot has it, "
		       "but not taken from there", rel);
}

static void free_list(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

/* Files of one level: rel is "" for the root. */
static int walk_level(struct lc *lc, const char *rel, int dirs, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT, child = STRBUF_INIT;
	struct stat st;
	char **names;
	size_t n, i;
	int rc = 0;

	sb_addf(&path, "%s%s%s", lc->root, *rel ? "/" : "", rel);
	names = list_dir(path.buf, dirs ? NULL : json_object_get(lc->kept, rel), &n);
	for (i = 0; !rc && i < n; i++) {
		sb_reset(&child);
		sb_addf(&child, "%s%s%s", rel, *rel ? "/" : "", names[i]);
		if (!dirs && is_kept(lc, rel, names[i])) {
			rc = take_kept(lc, child.buf, e);
			continue;
		}
		if (!utf8_valid(names[i], strlen(names[i]))) {
			rc = cv_errf(e, CV_ECORRUPT, "%s: a name that is not UTF-8 (a "
				     "snapshot records names as JSON text); rename it",
				     child.buf);
			break;
		}
		sb_reset(&path);
		sb_addf(&path, "%s/%s", lc->root, child.buf);
		if (lstat(path.buf, &st))
			continue;
		if (S_ISREG(st.st_mode) && !dirs) {
			sb_reset(&path);
			sb_addf(&path, "%s%s%s", lc->root, *rel ? "/" : "", rel);
			rc = copy_file(lc, path.buf, child.buf, names[i], e);
		} else if (S_ISDIR(st.st_mode) && dirs && !*rel) {
			if (!(rc = lc->sink->dir(lc->sink->ctx, child.buf, &st, e)))
				rc = walk_level(lc, child.buf, 0, e);
		}
	}
	free_list(names, n);
	sb_release(&path);
	sb_release(&child);
	return rc;
}

int chroma_stream(const char *dir, const json_t *kept, const struct lc_sink *sink,
		  struct cv_err *e)
{
	struct lc lc = { dir, kept, sink, xmalloc(READ_BUF), READ_BUF, NULL, 0 };
	int rc;

	if (!(rc = walk_level(&lc, "", 0, e)))
		rc = walk_level(&lc, "", 1, e);
	free(lc.buf);
	free(lc.lens);
	return rc;
}
