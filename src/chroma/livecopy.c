/*
 * Consistent live copy (see livecopy.h). The read transaction keeps Chroma
 * from advancing a vector watermark or purging the WAL; a folder is accepted
 * only when its files did not change while read, its pickle parses, its
 * header agrees with the file sizes and every label it lists is a live
 * element.
 */
#include "chroma/livecopy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chroma/chunking.h"
#include "chroma/collection.h"
#include "chroma/db.h"
#include "chroma/pickle.h"
#include "hnsw/hnsw.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define READ_BUF (4u << 20)

struct fstamp {
	char name[64];
	struct stat st;
};

struct lc {
	const char *root;
	const struct lc_sink *sink;
	struct lc_stats *st;
	uint8_t *buf;
	struct cv_db db;
	int static_damage;     /* invalid, and unchanged across two attempts */
	struct fstamp prev[32]; /* the folder as the last attempt left it */
	size_t nprev;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

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

/* Emit whole chunks from buf; keeps a partial one unless at end of file. */
static int emit_chunks(struct lc *lc, const struct cutter *cut, uint64_t *off,
		       uint64_t *used, uint64_t have, int eof, struct cv_err *e)
{
	uint64_t want, len;
	int rc;

	while (*used < have) {
		want = cutter_next(cut, *off, UINT64_MAX);
		len = want < have - *used ? want : have - *used;
		if (len < want && !eof)
			return 0;
		if ((rc = lc->sink->chunk(lc->sink->ctx, lc->buf + *used, (size_t)len, e)))
			return rc;
		*used += len;
		*off += len;
		lc->st->bytes_read += len;
	}
	return 0;
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

	sb_addf(&path, "%s/%s", lc->root, rel);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot read", path.buf);
		goto out;
	}
	if ((rc = lc->sink->file_begin(lc->sink->ctx, rel, &st, e)) ||
	    (rc = fill(fd, lc->buf, &have, READ_BUF, &eof, path.buf, e)))
		goto out;
	chroma_cutter(dir, name, lc->buf, (unsigned long)have, &cut);
	for (;;) {
		if ((rc = emit_chunks(lc, &cut, &off, &used, have, eof, e)) || eof)
			break;
		memmove(lc->buf, lc->buf + used, have - used);
		have -= used;
		used = 0;
		if ((rc = fill(fd, lc->buf, &have, READ_BUF, &eof, path.buf, e)))
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

/* Regular files of a folder with their stat, sorted by name; max 32. */
static int stamp_folder(const char *path, struct fstamp *out, size_t *n)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir(path);
	size_t i;

	*n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)) && *n < 32) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(out->name))
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", path, de->d_name);
		if (stat(p.buf, &out[*n].st) || !S_ISREG(out[*n].st.st_mode))
			continue;
		memcpy(out[*n].name, de->d_name, strlen(de->d_name) + 1);
		for (i = *n; i > 0 && strcmp(out[i - 1].name, out[i].name) > 0; i--) {
			struct fstamp t = out[i];

			out[i] = out[i - 1];
			out[i - 1] = t;
		}
		(*n)++;
	}
	closedir(d);
	sb_release(&p);
	return 0;
}

static int same_stamp(const struct fstamp *a, size_t na, const struct fstamp *b,
		      size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) || a[i].st.st_size != b[i].st.st_size ||
		    a[i].st.st_mtim.tv_sec != b[i].st.st_mtim.tv_sec ||
		    a[i].st.st_mtim.tv_nsec != b[i].st.st_mtim.tv_nsec ||
		    a[i].st.st_ctim.tv_sec != b[i].st.st_ctim.tv_sec ||
		    a[i].st.st_ctim.tv_nsec != b[i].st.st_ctim.tv_nsec)
			return 0;
	return 1;
}

static const struct stat *stamp_of(const struct fstamp *s, size_t n,
				   const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return &s[i].st;
	return NULL;
}

static int newer_or_same(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
	       (a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec);
}

/*
 * The §7 checks on the source folder: the pickle is the newest file and
 * parses, the index files agree with the header, every listed label is a
 * live element.
 */
static int folder_valid(const char *path, const struct fstamp *s, size_t n,
			int *order_only, struct cv_err *e)
{
	static const char *bins[] = { "header.bin", "data_level0.bin",
				      "length.bin", "link_lists.bin" };
	const struct stat *pk = stamp_of(s, n, "index_metadata.pickle"), *b;
	struct strbuf p = STRBUF_INIT;
	struct cv_pickle pick;
	struct hnsw_index ix;
	uint32_t slot;
	uint8_t flags;
	size_t i;
	int rc;

	if (!pk)
		return 0; /* never flushed: placeholder files, nothing to check */
	*order_only = 0;
	sb_addf(&p, "%s/index_metadata.pickle", path);
	rc = cv_pickle_load(p.buf, &pick, e);
	sb_release(&p);
	if (rc)
		return rc;
	if (pick.n_ids && !(rc = hnsw_open(path, 0, &ix, e))) {
		for (i = 0; !rc && i < pick.n_ids; i++) {
			if (hnsw_slot_of(&ix, pick.ids[i].label, &slot) ||
			    hnsw_slot_flags(&ix, slot, &flags, e) ||
			    (flags & HNSW_DELETE_MARK))
				rc = cv_errf(e, CV_ECORRUPT, "%s: label %llu is not a live "
					     "element", path,
					     (unsigned long long)pick.ids[i].label);
		}
		hnsw_close(&ix);
	}
	cv_pickle_release(&pick);
	for (i = 0; !rc && i < 4; i++)
		if ((b = stamp_of(s, n, bins[i])) && !newer_or_same(pk, b)) {
			*order_only = 1;
			rc = cv_errf(e, CV_ECORRUPT, "%s: %s is newer than the pickle "
				     "(a flush may be under way)", path, bins[i]);
		}
	return rc;
}

/* One attempt at a folder: its files through the sink, checked after. */
static int folder_once(struct lc *lc, const char *rel, int validate,
		       struct cv_err *e)
{
	struct fstamp before[32], after[32];
	struct strbuf path = STRBUF_INIT, frel = STRBUF_INIT;
	size_t nb, na, i;
	int rc = 0, order_only = 0, steady;

	sb_addf(&path, "%s/%s", lc->root, rel);
	if (stamp_folder(path.buf, before, &nb)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot list", path.buf);
		goto out;
	}
	if ((rc = lc->sink->dir(lc->sink->ctx, rel, NULL, e)))
		goto out;
	for (i = 0; !rc && i < nb; i++) {
		sb_reset(&frel);
		sb_addf(&frel, "%s/%s", rel, before[i].name);
		rc = copy_file(lc, path.buf, frel.buf, before[i].name, e);
	}
	if (rc || !validate)
		goto out;
	if (stamp_folder(path.buf, after, &na) || !same_stamp(before, nb, after, na)) {
		lc->nprev = 0;
		rc = cv_errf(e, CV_ECORRUPT, "%s: changed while being copied", path.buf);
		goto out;
	}
	/* unchanged since the last attempt too: no flush is running */
	steady = lc->nprev && same_stamp(lc->prev, lc->nprev, after, na);
	memcpy(lc->prev, after, na * sizeof(*after));
	lc->nprev = na;
	rc = folder_valid(path.buf, after, na, &order_only, e);
	if (rc && steady && order_only) {
		cv_err_clear(e); /* mtimes out of order by a copy, not a flush */
		rc = 0;
	} else if (rc && steady) {
		lc->static_damage = 1;
	}
out:
	sb_release(&path);
	sb_release(&frel);
	return rc;
}

static int copy_folder(struct lc *lc, const char *rel, int max_retries,
		       struct cv_err *e)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int attempt, rc = 0;

	lc->nprev = 0;
	for (attempt = 0; attempt <= max_retries; attempt++) {
		if (attempt) {
			lc->sink->drop(lc->sink->ctx, rel);
			lc->st->retries++;
			nanosleep(&ts, NULL);
			if (ts.tv_nsec < 400 * 1000 * 1000)
				ts.tv_nsec *= 2;
		}
		cv_err_clear(e);
		lc->static_damage = 0;
		rc = folder_once(lc, rel, 1, e);
		if (rc != CV_ECORRUPT || lc->static_damage)
			break;
	}
	if (rc == CV_ECORRUPT && lc->static_damage) {
		/* unchanged while read, still invalid: damaged, not racing */
		json_array_append_new(lc->st->warnings, json_string(e->msg));
		cv_err_clear(e);
		return 0;
	}
	if (rc != CV_ECORRUPT)
		return rc;
	cv_err_prefix(e, "index folder still inconsistent after %d attempts "
		      "(flushes keep racing the copy, or it is damaged)",
		      max_retries + 1);
	return rc;
}

static int is_segment_folder(struct cv_db *db, const char *name)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db->sql, "SELECT 1 FROM segments WHERE id = ?1 AND "
			       "scope = 'VECTOR'", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* Everything but the database: segment folders checked, the rest as is. */
static int copy_rest(struct lc *lc, int max_retries, struct cv_err *e)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(lc->root);
	int rc = 0;

	if (!d)
		return cv_errno(e, CV_EIO, "%s: cannot list", lc->root);
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strncmp(de->d_name, "chroma.sqlite3", 14))
			continue; /* the database and its transient journal */
		sb_reset(&p);
		sb_addf(&p, "%s/%s", lc->root, de->d_name);
		if (lstat(p.buf, &st))
			continue;
		if (S_ISDIR(st.st_mode) && is_segment_folder(&lc->db, de->d_name))
			rc = copy_folder(lc, de->d_name, max_retries, e);
		else if (S_ISDIR(st.st_mode))
			rc = folder_once(lc, de->d_name, 0, e); /* orphan: as it is */
		else if (S_ISREG(st.st_mode))
			rc = copy_file(lc, lc->root, de->d_name, de->d_name, e);
	}
	closedir(d);
	sb_release(&p);
	return rc;
}

static json_t *describe(struct cv_db *db)
{
	struct cv_collection *cs;
	struct cv_err e = { 0 };
	json_t *arr = json_array();
	sqlite3_stmt *st = NULL;
	size_t n, i;

	if (cv_collections_load(db, &cs, &n, &e))
		return arr;
	sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM embeddings WHERE "
			   "segment_id = ?1", -1, &st, NULL);
	for (i = 0; i < n; i++) {
		json_int_t records = 0;

		if (st && cs[i].mseg) {
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, cs[i].mseg, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW)
				records = sqlite3_column_int64(st, 0);
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}",
			"name", cs[i].name, "id", cs[i].id, "tenant", cs[i].tenant,
			"database", cs[i].database, "records", records, "dimension",
			cs[i].has_dimension ? json_integer(cs[i].dimension) : json_null()));
	}
	sqlite3_finalize(st);
	cv_collections_free(cs, n);
	return arr;
}

int chroma_live_copy(const char *dir, const struct lc_sink *sink,
		     int max_retries, struct lc_stats *st, struct cv_err *e)
{
	struct lc lc = { .root = dir, .sink = sink, .st = st };
	double t0;
	int rc;

	memset(st, 0, sizeof(*st));
	st->warnings = json_array();
	if ((rc = cv_db_open(dir, &lc.db, e)))
		return rc;
	snprintf(st->version, sizeof(st->version), "%s", cv_db_version_range(&lc.db));
	lc.buf = xmalloc(READ_BUF);
	t0 = now_ms();
	if ((rc = cv_db_begin(&lc.db, e)))
		goto out;
	st->collections = describe(&lc.db);
	if (!(rc = sink->dir(sink->ctx, "", NULL, e)))
		rc = copy_file(&lc, dir, "chroma.sqlite3", "chroma.sqlite3", e);
	if (!rc)
		rc = copy_rest(&lc, max_retries, e);
	cv_db_end(&lc.db);
	st->lock_ms = now_ms() - t0;
out:
	free(lc.buf);
	cv_db_close(&lc.db);
	return rc;
}
