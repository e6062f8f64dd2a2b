/*
 * Consistent capture of a live persist directory (livecopy.h,
 * chroma-format.md §7): under one SQLite read transaction the database file
 * and every index folder are copied into a staging directory, each folder
 * accepted only when its files did not change while copied, its pickle
 * parses, its header agrees with the files and every label is a live
 * element. Copies use reflinks or copy_file_range, so the lock is short.
 */
#include "chroma/livecopy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "chroma/pickle.h"
#include "hnsw/hnsw.h"
#include "util/fsutil.h"
#include "util/jsonw.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

struct fstamp {
	char name[64];
	struct stat st;
};

struct cap {
	const char *root;       /* the persist directory */
	const char *dst;        /* the staging directory */
	int sync;               /* fsync what is written (a snapshot, not staging) */
	struct lc_stats *st;
	struct cv_db db;
	int static_damage;      /* invalid, and unchanged across two attempts */
	struct fstamp prev[32]; /* the folder as the last attempt left it */
	size_t nprev;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Plain read and write, where the kernel cannot copy between the two. */
static int copy_rw(int in, int out, uint64_t done, const char *path,
		   const char *dst, struct cv_err *e)
{
	char buf[1 << 16];
	ssize_t n, w, o;

	for (;;) {
		n = pread(in, buf, sizeof(buf), (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cv_errno(e, CV_EIO, "%s: read failed", path);
		if (n == 0)
			return 0;
		for (o = 0; o < n; o += w) {
			w = pwrite(out, buf + o, (size_t)(n - o), (off_t)(done + (uint64_t)o));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return cv_errno(e, CV_EIO, "%s: cannot write the copy of "
						"%s", dst, path);
		}
		done += (uint64_t)n;
	}
}

/* The kernel copies: a reflink where the filesystem offers one. */
static int copy_range(int in, int out, uint64_t size, const char *path,
		      const char *dst, struct cv_err *e)
{
	uint64_t done = 0;
	ssize_t n;

	if (!ioctl(out, FICLONE, in))
		return 0;
	while (done < size) {
		n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			      errno == EOPNOTSUPP))
			return copy_rw(in, out, done, path, dst, e);
		if (n < 0)
			return cv_errno(e, CV_EIO, "copying %s into %s failed", path, dst);
		if (n == 0)
			break; /* the file shrank while copied: stamps will say so */
		done += (uint64_t)n;
	}
	return 0;
}

/* Copy one file, keeping its mode and modification time. */
static int copy_one(struct cap *c, const char *rel, struct cv_err *e)
{
	struct strbuf src = STRBUF_INIT, dst = STRBUF_INIT;
	struct timespec ts[2];
	struct stat st;
	int in, out = -1, rc = 0;

	sb_addf(&src, "%s/%s", c->root, rel);
	sb_addf(&dst, "%s/%s", c->dst, rel);
	in = open(src.buf, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot read", src.buf);
		goto out;
	}
	out = open(dst.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", dst.buf);
		goto out;
	}
	if ((rc = copy_range(in, out, (uint64_t)st.st_size, src.buf, dst.buf, e)))
		goto out;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (fchmod(out, st.st_mode & 07777) || futimens(out, ts) ||
	    (c->sync && fsync(out)))
		rc = cv_errno(e, CV_EIO, "%s: cannot finish", dst.buf);
	c->st->bytes_read += (uint64_t)st.st_size;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	sb_release(&src);
	sb_release(&dst);
	return rc;
}

static int make_dir(struct cap *c, const char *rel, struct cv_err *e)
{
	struct strbuf p = STRBUF_INIT;
	int rc = 0;

	sb_addf(&p, "%s/%s", c->dst, rel);
	if (mkdir(p.buf, 0755) && errno != EEXIST)
		rc = cv_errno(e, CV_EIO, "%s: cannot create", p.buf);
	sb_release(&p);
	return rc;
}

/*
 * Regular files of a folder with their stat (links followed), sorted by
 * name; max 32. -1 when the folder cannot be listed, or when an entry is
 * there but cannot be followed (a dangling link): its path is then in bad.
 */
static int stamp_folder(const char *path, struct fstamp *out, size_t *n,
			struct strbuf *bad)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat lst;
	DIR *d = opendir(path);
	size_t i;
	int rc = 0;

	*n = 0;
	if (!d)
		return -1;
	while (!rc && (de = readdir(d)) && *n < 32) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(out->name))
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", path, de->d_name);
		if (stat(p.buf, &out[*n].st)) {
			if (lstat(p.buf, &lst))
				continue; /* gone meanwhile: the stamps will differ */
			sb_adds(bad, p.buf);
			rc = -1;
			break;
		}
		if (!S_ISREG(out[*n].st.st_mode))
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
	return rc;
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

/* Every label the pickle lists is a live element (the index opened lazily). */
struct label_check {
	const char *dir;
	struct hnsw_index ix;
	int open;
};

static int check_label(void *ctx, const char *id, size_t len, uint64_t label,
		       struct cv_err *e)
{
	struct label_check *c = ctx;
	uint32_t slot;
	int rc, deleted = 0;

	if (!c->open) {
		if ((rc = hnsw_open(c->dir, 0, 0, &c->ix, e)))
			return rc;
		c->open = 1;
	}
	rc = hnsw_find(&c->ix, label, &slot, &deleted, e);
	if (rc && rc != CV_ENOTFOUND)
		return rc;
	if (rc || deleted)
		return cv_errf(e, CV_ECORRUPT, "%s: label %llu is not a live element",
			       c->dir, (unsigned long long)label);
	return 0;
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
	struct label_check check = { .dir = path };
	struct strbuf p = STRBUF_INIT;
	struct cv_pickle pick;
	size_t i;
	int rc;

	if (!pk)
		return 0; /* never flushed: placeholder files, nothing to check */
	*order_only = 0;
	sb_addf(&p, "%s/index_metadata.pickle", path);
	rc = cv_pickle_load(p.buf, check_label, &check, &pick, e);
	sb_release(&p);
	if (check.open)
		hnsw_close(&check.ix);
	if (rc)
		return rc;
	for (i = 0; !rc && i < 4; i++)
		if ((b = stamp_of(s, n, bins[i])) && !newer_or_same(pk, b)) {
			*order_only = 1;
			rc = cv_errf(e, CV_ECORRUPT, "%s: %s is newer than the pickle "
				     "(a flush may be under way)", path, bins[i]);
		}
	return rc;
}

/* One attempt at a folder: its files copied, then checked. */
static int folder_once(struct cap *c, const char *rel, int validate,
		       struct cv_err *e)
{
	struct fstamp before[32], after[32];
	struct strbuf path = STRBUF_INIT, frel = STRBUF_INIT, bad = STRBUF_INIT;
	size_t nb, na, i;
	int rc = 0, order_only = 0, steady;

	sb_addf(&path, "%s/%s", c->root, rel);
	if (stamp_folder(path.buf, before, &nb, &bad)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot %s", bad.len ? bad.buf : path.buf,
			      bad.len ? "be read" : "list");
		goto out;
	}
	if ((rc = make_dir(c, rel, e)))
		goto out;
	for (i = 0; !rc && i < nb; i++) {
		sb_reset(&frel);
		sb_addf(&frel, "%s/%s", rel, before[i].name);
		rc = copy_one(c, frel.buf, e);
	}
	if (rc || !validate)
		goto out;
	if (stamp_folder(path.buf, after, &na, &bad) ||
	    !same_stamp(before, nb, after, na)) {
		c->nprev = 0;
		rc = cv_errf(e, CV_ECORRUPT, "%s: changed while being copied", path.buf);
		goto out;
	}
	/* unchanged since the last attempt too: no flush is running */
	steady = c->nprev && same_stamp(c->prev, c->nprev, after, na);
	memcpy(c->prev, after, na * sizeof(*after));
	c->nprev = na;
	rc = folder_valid(path.buf, after, na, &order_only, e);
	if (rc && steady && order_only) {
		cv_err_clear(e); /* mtimes out of order by a copy, not a flush */
		rc = 0;
	} else if (rc && steady) {
		c->static_damage = 1;
	}
out:
	sb_release(&path);
	sb_release(&frel);
	sb_release(&bad);
	return rc;
}

static int copy_folder(struct cap *c, const char *rel, int max_retries,
		       struct cv_err *e)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int attempt, rc = 0;

	c->nprev = 0;
	for (attempt = 0; attempt <= max_retries; attempt++) {
		if (attempt) {
			c->st->retries++;
			nanosleep(&ts, NULL);
			if (ts.tv_nsec < 400 * 1000 * 1000)
				ts.tv_nsec *= 2;
		}
		cv_err_clear(e);
		c->static_damage = 0;
		rc = folder_once(c, rel, 1, e);
		if (rc != CV_ECORRUPT || c->static_damage)
			break;
	}
	if (rc == CV_ECORRUPT && c->static_damage) {
		/* unchanged while read, still invalid: damaged, not racing */
		json_array_append_new(c->st->warnings, json_string(e->msg));
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

/*
 * An entry stat cannot follow (a dangling link, say): an index folder is an
 * error, anything else is left out with a warning naming it.
 */
static int unreadable(struct cap *c, const char *name, struct strbuf *path,
		      struct cv_err *e)
{
	int err = errno;

	if (is_segment_folder(&c->db, name)) {
		errno = err;
		return cv_errno(e, CV_EIO, "%s: index folder cannot be read", path->buf);
	}
	sb_addf(path, ": cannot be read (%s): left out", strerror(err));
	json_array_append_new(c->st->warnings, json_text(path->buf));
	return 0;
}

/*
 * Everything but the database: segment folders checked, the rest as is.
 * Links are followed, and what they lead to is copied.
 */
static int copy_rest(struct cap *c, int max_retries, struct cv_err *e)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(c->root);
	int rc = 0;

	if (!d)
		return cv_errno(e, CV_EIO, "%s: cannot list", c->root);
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strncmp(de->d_name, "chroma.sqlite3", 14))
			continue; /* the database and its transient journal */
		sb_reset(&p);
		sb_addf(&p, "%s/%s", c->root, de->d_name);
		/* followed: an index folder may be a link to another disk */
		if (stat(p.buf, &st)) {
			rc = unreadable(c, de->d_name, &p, e);
			continue;
		}
		if (S_ISDIR(st.st_mode) && is_segment_folder(&c->db, de->d_name))
			rc = copy_folder(c, de->d_name, max_retries, e);
		else if (S_ISDIR(st.st_mode))
			rc = folder_once(c, de->d_name, 0, e); /* orphan: as it is */
		else if (S_ISREG(st.st_mode))
			rc = copy_one(c, de->d_name, e);
	}
	closedir(d);
	sb_release(&p);
	return rc;
}

struct db_copy {
	struct cap c;           /* a copy of the capture, with its own stats */
	struct lc_stats st;
	struct cv_err e;
	int rc;
};

static void *copy_db(void *arg)
{
	struct db_copy *d = arg;

	d->rc = copy_one(&d->c, "chroma.sqlite3", &d->e);
	return NULL;
}

/*
 * The database file and the folders, copied at the same time (two files are
 * written in parallel; one file is not): the lock is held for less.
 */
static int copy_all(struct cap *c, int max_retries, struct cv_err *e)
{
	struct db_copy d = { .c = *c };
	pthread_t th;
	int rc, threaded;

	d.c.st = &d.st;
	threaded = !pthread_create(&th, NULL, copy_db, &d);
	if (!threaded)
		copy_db(&d);
	rc = copy_rest(c, max_retries, e);
	if (threaded)
		pthread_join(th, NULL);
	c->st->bytes_read += d.st.bytes_read;
	if (!rc && d.rc) {
		*e = d.e;
		rc = d.rc;
	}
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

int chroma_capture(const char *dir, const char *dst, int sync, int max_retries,
		   struct lc_stats *st, struct cv_err *e)
{
	struct cap c = { .root = dir, .dst = dst, .sync = sync, .st = st };
	double t0;
	int rc;

	memset(st, 0, sizeof(*st));
	st->warnings = json_array();
	if ((rc = cv_db_open(dir, &c.db, e)))
		return rc;
	snprintf(st->version, sizeof(st->version), "%s", cv_db_version_range(&c.db));
	if (mkdir(dst, 0755) && !(errno == EEXIST && dir_empty(dst))) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", dst);
		goto out;
	}
	t0 = now_ms();
	if ((rc = cv_db_begin(&c.db, e)))
		goto out;
	st->collections = describe(&c.db);
	rc = copy_all(&c, max_retries, e);
	cv_db_end(&c.db);
	st->lock_ms = now_ms() - t0;
out:
	cv_db_close(&c.db);
	return rc;
}

int chroma_describe(const char *dir, struct lc_stats *st, struct cv_err *e)
{
	struct cv_db db;
	int rc;

	memset(st, 0, sizeof(*st));
	st->warnings = json_array();
	if ((rc = cv_db_open(dir, &db, e)))
		return rc;
	snprintf(st->version, sizeof(st->version), "%s", cv_db_version_range(&db));
	if (!(rc = cv_db_begin(&db, e)))
		st->collections = describe(&db);
	cv_db_close(&db);
	return rc;
}
