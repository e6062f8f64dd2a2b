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
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "chroma/pickle.h"
#include "chroma/stamps.h"
#include "hnsw/hnsw.h"
#include "util/fsutil.h"
#include "util/jsonw.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

struct cap {
	const char *root;       /* the persist directory */
	const char *dst;        /* the staging directory */
	int db_fd;              /* chroma.sqlite3, open while the transaction is */
	struct lc_stats *st;
	struct cv_db db;
	int static_damage;      /* invalid, and unchanged across two attempts */
	struct stamps prev;     /* the folder as the last attempt left it */
	int wal;                /* the database is in WAL mode */
	struct copied *copied;  /* WAL mode: index folders as they were copied */
	size_t ncopied;
	struct stat root_stamp; /* WAL mode: the root before its last listing */
	struct stat db_st;      /* chroma.sqlite3's device and inode */
	const struct lc_known *known; /* what need not be copied, or NULL */
};

struct copied {
	char *rel;
	struct stamps st;
};

/*
 * Another name of the database file: never opened, as closing it would drop
 * SQLite's lock on the file (POSIX record locks are the process's).
 */
static int is_db_file(const struct cap *c, const struct stat *st)
{
	return st->st_ino == c->db_st.st_ino && st->st_dev == c->db_st.st_dev;
}

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

/*
 * Copy one file, keeping its mode and modification time; from fd when it is
 * not -1 (left open: see capture_locked), else from the file opened here.
 */
static int copy_from(struct cap *c, const char *rel, int fd, struct cv_err *e)
{
	struct strbuf src = STRBUF_INIT, dst = STRBUF_INIT;
	struct timespec ts[2];
	struct stat st;
	int in = fd, out = -1, rc = 0;

	sb_addf(&src, "%s/%s", c->root, rel);
	sb_addf(&dst, "%s/%s", c->dst, rel);
	if (in < 0)
		in = open(src.buf, O_RDONLY | O_CLOEXEC);
	if (in < 0 && errno == ENOENT) {
		rc = cv_errf(e, CV_ENOTFOUND, "%s: gone while being copied", src.buf);
		goto out;
	}
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
	if (fchmod(out, st.st_mode & 07777) || futimens(out, ts))
		rc = cv_errno(e, CV_EIO, "%s: cannot finish", dst.buf);
	c->st->bytes_read += (uint64_t)st.st_size;
out:
	if (in >= 0 && fd < 0)
		close(in);
	if (out >= 0)
		close(out);
	sb_release(&src);
	sb_release(&dst);
	return rc;
}

static int copy_one(struct cap *c, const char *rel, struct cv_err *e)
{
	return copy_from(c, rel, -1, e);
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

/* A warning: path is not copied, and why. */
static void left_out(json_t *warnings, const char *path, const char *why)
{
	struct strbuf w = STRBUF_INIT;

	sb_addf(&w, "%s: left out (%s)", path, why);
	json_array_append_new(warnings, json_text(w.buf));
	sb_release(&w);
}

/*
 * The regular files of a folder (links followed) into out, replacing what it
 * held; what is not one is named in left, when given (a folder holds files
 * only: a persist directory has two levels). -1 when the folder cannot be
 * listed, or when an entry is there but cannot be followed (a dangling
 * link): its path is then in bad.
 */
static int stamp_folder(const char *path, struct stamps *out, struct strbuf *bad,
			json_t *left)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat st, lst;
	DIR *d = opendir(path);
	int rc = 0;

	stamps_clear(out);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", path, de->d_name);
		if (stat(p.buf, &st)) {
			if (lstat(p.buf, &lst)) {
				out->gone++; /* deleted meanwhile */
				continue;
			}
			sb_adds(bad, p.buf);
			rc = -1;
			break;
		}
		if (!S_ISREG(st.st_mode)) {
			if (left)
				left_out(left, p.buf, S_ISDIR(st.st_mode) ? "a folder "
					 "inside a collection's folder" :
					 "not a regular file");
			continue;
		}
		stamps_add(out, de->d_name, &st);
	}
	closedir(d);
	sb_release(&p);
	stamps_sort(out);
	return rc;
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
 * The §7 checks, on the copy of a folder (what is kept is what is checked)
 * with the stamps of its source: the pickle is the newest file and parses,
 * the index files agree with the header, every listed label is a live
 * element.
 */
static int folder_valid(const char *path, const struct stamps *s,
			int *order_only, struct cv_err *e)
{
	static const char *bins[] = { "header.bin", "data_level0.bin",
				      "length.bin", "link_lists.bin" };
	const struct stat *pk = stamps_of(s, "index_metadata.pickle"), *b;
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
		if ((b = stamps_of(s, bins[i])) && !newer_or_same(pk, b)) {
			*order_only = 1;
			rc = cv_errf(e, CV_ECORRUPT, "%s: %s is newer than the pickle "
				     "(a flush may be under way)", path, bins[i]);
		}
	return rc;
}

/* The warnings of left that warnings does not hold yet (a folder copied again). */
static void add_new_warnings(json_t *warnings, json_t *left)
{
	size_t i, k;
	json_t *w;
	int seen;

	json_array_foreach(left, i, w) {
		for (k = 0, seen = 0; !seen && k < json_array_size(warnings); k++)
			seen = json_equal(json_array_get(warnings, k), w);
		if (!seen)
			json_array_append(warnings, w);
	}
}

/* A message about the copy names the source file it was copied from. */
static void name_source(const struct cap *c, struct cv_err *e)
{
	struct strbuf m = STRBUF_INIT;
	size_t n = strlen(c->dst);
	const char *p = e->msg, *hit;

	while ((hit = strstr(p, c->dst))) {
		sb_add(&m, p, (size_t)(hit - p));
		sb_adds(&m, c->root);
		p = hit + n;
	}
	sb_adds(&m, p);
	snprintf(e->msg, sizeof(e->msg), "%s", m.buf);
	sb_release(&m);
}

/*
 * How long ago a file must have last changed for its stamps to be recorded
 * (stamp_settled): FAT's 2 s ticks, with room to spare.
 */
#define SETTLE_NS 3000000000LL

/*
 * A filesystem whose timestamps another machine's clock gives (NFS, SMB,
 * Ceph, FUSE and virtiofs, 9p): a write there may come with a ctime the
 * copy's clock cannot place, so its stamps are not recorded.
 */
static int remote_fs(const char *path)
{
	static const unsigned long magic[] = {
		0x6969,     /* NFS */
		0x517b,     /* SMB */
		0xff534d42, /* CIFS */
		0xfe534d42, /* SMB2 */
		0x00c36400, /* Ceph */
		0x65735546, /* FUSE, virtiofs */
		0x01021997, /* 9p */
		0x5346414f, /* AFS */
		0x0bd00bd0, /* Lustre */
	};
	struct statfs fs;
	size_t i;

	if (statfs(path, &fs))
		return 1;
	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if ((unsigned long)fs.f_type == magic[i])
			return 1;
	return 0;
}

/* A file's stamps as lc_stats records them. */
static json_t *stamp_json(const struct stat *s)
{
	return json_pack("[IIIII]", (json_int_t)s->st_dev, (json_int_t)s->st_ino,
			 (json_int_t)s->st_size, (json_int_t)ts_ns(&s->st_mtim),
			 (json_int_t)ts_ns(&s->st_ctim));
}

/*
 * The stat of the folder's files as they were copied and checked (c->prev),
 * by which a later backup knows the ones that have not changed since: of
 * the files last changed a while before the copy began (t0), on a
 * filesystem stamped by this machine's clock.
 */
static void note_stamps(struct cap *c, const char *rel, const char *path,
			const struct timespec *t0)
{
	json_t *files;
	const struct stat *s;
	size_t i;

	if (remote_fs(path))
		return;
	files = json_object();
	for (i = 0; i < c->prev.n; i++) {
		s = &c->prev.v[i].st;
		if (!is_db_file(c, s) && stamp_settled(s, t0, SETTLE_NS))
			json_object_set_new(files, c->prev.v[i].name, stamp_json(s));
	}
	json_object_set_new(c->st->stamps, rel, files);
}

int lc_stamp_is(const char *dir, const char *rel, const json_t *stamp)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	json_t *now = NULL;
	int same;

	sb_addf(&p, "%s/%s", dir, rel);
	if (!stat(p.buf, &st))
		now = stamp_json(&st);
	same = now && json_equal(now, stamp);
	json_decref(now);
	sb_release(&p);
	return same;
}

/* Whether c->known has the file rel with the stamps st. */
static int known_file(const struct cap *c, const char *rel, const struct stat *st)
{
	json_t *stamp;
	int has;

	if (!c->known)
		return 0;
	stamp = stamp_json(st);
	has = c->known->has(c->known->ctx, rel, stamp);
	json_decref(stamp);
	return has;
}

/* Whether c->known has every file of the folder rel, stamped s. */
static int folder_known(const struct cap *c, const char *rel, const struct stamps *s)
{
	struct strbuf p = STRBUF_INIT;
	size_t i;
	int all = s->n > 0;

	for (i = 0; all && i < s->n; i++) {
		sb_reset(&p);
		sb_addf(&p, "%s/%s", rel, s->v[i].name);
		all = !is_db_file(c, &s->v[i].st) && known_file(c, p.buf, &s->v[i].st);
	}
	sb_release(&p);
	return all;
}

/*
 * Whether every file of the index folder rel (at path), stamped s just now,
 * is known: unchanged since a copy checked it, so it need not be copied or
 * checked again. The folder is stamped again, to see that no file went
 * between the listing and its stat. Its names then go into the kept files,
 * and its stamps into those noted, as they were when first noted (settled,
 * and on a local filesystem, and not changed since).
 */
static int keep_folder(struct cap *c, const char *rel, const char *path,
		       const struct stamps *s)
{
	struct strbuf bad = STRBUF_INIT;
	struct stamps again = { 0 };
	json_t *names, *files;
	size_t i;
	int all;

	all = folder_known(c, rel, s) && !s->gone &&
	      !stamp_folder(path, &again, &bad, NULL) && !again.gone &&
	      stamps_same(s, &again);
	stamps_release(&again);
	sb_release(&bad);
	if (!all)
		return 0;
	names = json_array();
	files = json_object();
	for (i = 0; i < s->n; i++) {
		json_array_append_new(names, json_string(s->v[i].name));
		json_object_set_new(files, s->v[i].name, stamp_json(&s->v[i].st));
	}
	json_object_set_new(c->st->kept, rel, names);
	json_object_set_new(c->st->stamps, rel, files);
	return 1;
}

/*
 * One attempt at a folder: its files copied, then checked. What it holds
 * besides files is named in the warnings once the attempt is accepted.
 */
static int folder_once(struct cap *c, const char *rel, int validate,
		       struct cv_err *e)
{
	struct stamps before = { 0 }, after = { 0 };
	struct strbuf path = STRBUF_INIT, copy = STRBUF_INIT, frel = STRBUF_INIT;
	struct strbuf bad = STRBUF_INIT;
	struct timespec t0, t1;
	json_t *left = json_array();
	size_t i;
	int rc = 0, order_only = 0, steady;

	c->static_damage = 0;
	json_object_del(c->st->stamps, rel); /* until this copy is accepted */
	json_object_del(c->st->kept, rel);
	sb_addf(&path, "%s/%s", c->root, rel);
	sb_addf(&copy, "%s/%s", c->dst, rel);
	clock_gettime(CLOCK_REALTIME_COARSE, &t0); /* the clock writes are stamped by */
	if (stamp_folder(path.buf, &before, &bad, left)) {
		rc = cv_errno(e, errno == ENOENT && !bad.len ? CV_ENOTFOUND : CV_EIO,
			      "%s: cannot %s", bad.len ? bad.buf : path.buf,
			      bad.len ? "be read" : "list");
		goto out;
	}
	if ((rc = make_dir(c, rel, e)))
		goto out;
	if (validate && before.gone) {
		rc = cv_errf(e, CV_ECORRUPT, "%s: a file went while it was listed",
			     path.buf);
		goto out;
	}
	if (validate && keep_folder(c, rel, path.buf, &before)) {
		stamps_release(&c->prev); /* as a checked copy would leave it */
		c->prev = before;
		memset(&before, 0, sizeof(before));
		goto out;
	}
	for (i = 0; !rc && i < before.n; i++) {
		if (is_db_file(c, &before.v[i].st)) {
			sb_reset(&frel);
			sb_addf(&frel, "%s/%s", path.buf, before.v[i].name);
			left_out(left, frel.buf, "a link to chroma.sqlite3, never opened");
			continue;
		}
		sb_reset(&frel);
		sb_addf(&frel, "%s/%s", rel, before.v[i].name);
		rc = copy_one(c, frel.buf, e);
		if (rc == CV_ENOTFOUND && !validate) {
			cv_err_clear(e); /* gone meanwhile: not Chroma's, as it was */
			rc = 0;
		} else if (rc == CV_ENOTFOUND) {
			rc = CV_ECORRUPT; /* changed while being copied: again */
		}
	}
	if (rc || !validate)
		goto out;
	if (stamp_folder(path.buf, &after, &bad, NULL) || !stamps_same(&before, &after)) {
		stamps_clear(&c->prev);
		rc = cv_errf(e, CV_ECORRUPT, "%s: changed while being copied", path.buf);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME_COARSE, &t1);
	if (stamps_racy(&after, &t0, &t1)) {
		stamps_clear(&c->prev);
		rc = cv_errf(e, CV_ECORRUPT, "%s: written in the clock tick it was "
			     "copied in", path.buf);
		goto out;
	}
	/* unchanged since the last attempt too: no flush is running */
	steady = c->prev.n && stamps_same(&c->prev, &after);
	stamps_release(&c->prev);
	c->prev = after;
	memset(&after, 0, sizeof(after));
	rc = folder_valid(copy.buf, &c->prev, &order_only, e);
	if (rc)
		name_source(c, e);
	if (rc && steady && order_only) {
		cv_err_clear(e); /* mtimes out of order by a copy, not a flush */
		rc = 0;
	} else if (rc && steady) {
		c->static_damage = 1;
	}
	if (!rc)
		note_stamps(c, rel, path.buf, &t0);
out:
	if (!rc || c->static_damage)
		add_new_warnings(c->st->warnings, left);
	json_decref(left);
	stamps_release(&before);
	stamps_release(&after);
	sb_release(&path);
	sb_release(&copy);
	sb_release(&frel);
	sb_release(&bad);
	return rc;
}

static int folder_gone(const struct cap *c, const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	int gone;

	sb_addf(&p, "%s/%s", c->root, rel);
	gone = lstat(p.buf, &st) && errno == ENOENT;
	sb_release(&p);
	return gone;
}

static void forget_copied(struct cap *c, const char *rel);

/* Remove the copy of rel, if any. */
static void clear_copy(const struct cap *c, const char *rel)
{
	struct strbuf p = STRBUF_INIT;

	sb_addf(&p, "%s/%s", c->dst, rel);
	rm_tree(p.buf);
	sb_release(&p);
}

/* An entry removed while it was copied: no copy of it, no error. */
static int drop_entry(struct cap *c, const char *rel, struct cv_err *e)
{
	clear_copy(c, rel);
	json_object_del(c->st->kept, rel);
	forget_copied(c, rel);
	cv_err_clear(e);
	return 0;
}

/* WAL mode: rel's stamps as copied (c->prev), replacing an earlier copy's. */
static void note_copied(struct cap *c, const char *rel)
{
	size_t i;

	for (i = 0; i < c->ncopied && strcmp(c->copied[i].rel, rel); i++)
		;
	if (i == c->ncopied) {
		c->copied = xrealloc(c->copied, (c->ncopied + 1) * sizeof(*c->copied));
		c->copied[c->ncopied++].rel = xstrdup(rel);
	} else {
		stamps_release(&c->copied[i].st);
	}
	c->copied[i].st = c->prev;
	memset(&c->prev, 0, sizeof(c->prev));
}

static int copy_folder(struct cap *c, const char *rel, int max_retries,
		       struct cv_err *e)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int attempt, rc = 0;

	stamps_clear(&c->prev);
	for (attempt = 0; attempt <= max_retries; attempt++) {
		if (attempt) {
			c->st->retries++;
			clear_copy(c, rel); /* a file gone since must not stay */
			nanosleep(&ts, NULL);
			if (ts.tv_nsec < 400 * 1000 * 1000)
				ts.tv_nsec *= 2;
		}
		cv_err_clear(e);
		rc = folder_once(c, rel, 1, e);
		if (rc == CV_ENOTFOUND || (rc == CV_ECORRUPT && folder_gone(c, rel)))
			return drop_entry(c, rel, e); /* a collection being deleted */
		if (rc != CV_ECORRUPT || c->static_damage)
			break;
	}
	if (rc == CV_ECORRUPT && c->static_damage) {
		/* unchanged while read, still invalid: damaged, not racing */
		json_t *w = json_pack("[s]", e->msg);

		add_new_warnings(c->st->warnings, w);
		json_decref(w);
		cv_err_clear(e);
		rc = 0;
	}
	if (!rc && c->wal)
		note_copied(c, rel); /* checked again once the database is copied */
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

/* The database, copied apart, and its transient journal, never copied. */
static int is_database(const char *name)
{
	static const char *const names[] = { "chroma.sqlite3", "chroma.sqlite3-journal",
					      "chroma.sqlite3-wal", "chroma.sqlite3-shm" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

/* One entry of the root, st its stat (links followed), path its path. */
static int copy_entry(struct cap *c, const char *name, const struct strbuf *path,
		      const struct stat *st, int max_retries, struct cv_err *e)
{
	int rc;

	if (is_db_file(c, st)) {
		left_out(c->st->warnings, path->buf, "a link to chroma.sqlite3, never opened");
		return 0;
	}
	if (S_ISDIR(st->st_mode) && is_segment_folder(&c->db, name))
		return copy_folder(c, name, max_retries, e);
	if (S_ISDIR(st->st_mode)) {
		rc = folder_once(c, name, 0, e); /* not Chroma's: as it is */
	} else if (S_ISREG(st->st_mode)) {
		rc = copy_one(c, name, e);
	} else {
		left_out(c->st->warnings, path->buf, "not a regular file");
		return 0;
	}
	return rc == CV_ENOTFOUND ? drop_entry(c, name, e) : rc; /* gone meanwhile */
}

/*
 * Call fn for each entry of the root but the database and its journal, with
 * its path and its stat (links followed: an index folder may be a link to
 * another disk), or NULL when it cannot be stat'ed; until fn returns
 * non-zero (what it returned). EACH_UNLISTED (errno set) when the root
 * cannot be listed.
 */
#define EACH_UNLISTED 1
static int each_entry(const struct cap *c,
		      int (*fn)(void *arg, const char *name, struct strbuf *path,
				const struct stat *st),
		      void *arg)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(c->root);
	int rc = 0;

	if (!d)
		return EACH_UNLISTED;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    is_database(de->d_name))
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", c->root, de->d_name);
		rc = fn(arg, de->d_name, &p, stat(p.buf, &st) ? NULL : &st);
	}
	closedir(d);
	sb_release(&p);
	return rc;
}

struct copy_rest {
	struct cap *c;
	int max_retries;
	struct cv_err *e;
};

static int copy_rest_entry(void *arg, const char *name, struct strbuf *path,
			   const struct stat *st)
{
	struct copy_rest *x = arg;

	if (!st)
		return unreadable(x->c, name, path, x->e);
	return copy_entry(x->c, name, path, st, x->max_retries, x->e);
}

/*
 * Everything but the database: segment folders checked, the rest as is.
 * Links are followed, and what they lead to is copied.
 */
static int copy_rest(struct cap *c, int max_retries, struct cv_err *e)
{
	struct copy_rest x = { c, max_retries, e };
	int rc;

	stat(c->root, &c->root_stamp); /* WAL mode: entries changed since? */
	if ((rc = each_entry(c, copy_rest_entry, &x)) == EACH_UNLISTED)
		return cv_errno(e, CV_EIO, "%s: cannot list", c->root);
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

	d->rc = copy_from(&d->c, "chroma.sqlite3", d->c.db_fd, &d->e);
	return NULL;
}

/*
 * The copy made through SQLite gets the source's mode and times, and loses
 * the empty -wal and -shm its connection left (it stays in WAL mode).
 */
static int finish_db_copy(struct cap *c, struct strbuf *dst, struct cv_err *e)
{
	struct timespec ts[2];
	struct stat src, st;
	size_t n = dst->len;
	int rc = 0;

	if (stat(c->db.path, &src) || stat(dst->buf, &st))
		return cv_errno(e, CV_EIO, "%s: cannot stat", dst->buf);
	ts[0] = src.st_atim;
	ts[1] = src.st_mtim;
	if (chmod(dst->buf, src.st_mode & 07777) || utimensat(AT_FDCWD, dst->buf, ts, 0))
		rc = cv_errno(e, CV_EIO, "%s: cannot finish", dst->buf);
	c->st->bytes_read += (uint64_t)st.st_size;
	sb_adds(dst, "-wal");
	if (!stat(dst->buf, &st) && st.st_size == 0)
		unlink(dst->buf);
	sb_setlen(dst, n);
	sb_adds(dst, "-shm");
	unlink(dst->buf);
	sb_setlen(dst, n);
	return rc;
}

/*
 * A database in WAL mode (Chroma never sets it; someone else may have) keeps
 * committed pages in chroma.sqlite3-wal: copied through SQLite's backup API
 * inside the open read transaction, which sees exactly those.
 */
static int copy_db_pages(struct cap *c, struct cv_err *e)
{
	struct strbuf dst = STRBUF_INIT;
	sqlite3_backup *b = NULL;
	sqlite3 *out = NULL;
	int rc;

	sb_addf(&dst, "%s/chroma.sqlite3", c->dst);
	rc = sqlite3_open_v2(dst.buf, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			     NULL);
	if (rc == SQLITE_OK && !(b = sqlite3_backup_init(out, "main", c->db.sql, "main")))
		rc = sqlite3_errcode(out);
	while (b && (rc = sqlite3_backup_step(b, 1024)) == SQLITE_OK)
		;
	if (b)
		sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK)
		cv_errf(e, CV_EIO, "%s: cannot copy the database into %s: %s",
			c->db.path, dst.buf, out ? sqlite3_errmsg(out) : sqlite3_errstr(rc));
	if (sqlite3_close(out) != SQLITE_OK && rc == SQLITE_OK)
		rc = cv_errf(e, CV_EIO, "%s: cannot finish", dst.buf) ? SQLITE_ERROR : 0;
	if (rc == SQLITE_OK)
		rc = finish_db_copy(c, &dst, e) ? SQLITE_ERROR : SQLITE_OK;
	sb_release(&dst);
	return rc == SQLITE_OK ? 0 : CV_EIO;
}

/*
 * The database file, stamped st under the read transaction (t0 read just
 * before): kept when known has it so (1), else its stamps noted for the
 * next copy, when settled.
 */
static int keep_db(struct cap *c, const struct stat *st, const struct timespec *t0)
{
	int kept = known_file(c, "chroma.sqlite3", st);
	json_t *files;

	if (kept)
		json_object_set_new(c->st->kept, "", json_pack("[s]", "chroma.sqlite3"));
	/* a known stamp was settled when noted, and has not changed since */
	if (kept || (stamp_settled(st, t0, SETTLE_NS) && !remote_fs(c->db.path))) {
		files = json_object();
		json_object_set_new(files, "chroma.sqlite3", stamp_json(st));
		json_object_set_new(c->st->stamps, "", files);
	}
	return kept;
}

/*
 * The database file and the folders, copied at the same time (two files are
 * written in parallel; one file is not): the lock is held for less. The
 * database is not copied when unchanged since a copy known has.
 */
static int copy_all(struct cap *c, const struct stat *db, const struct timespec *t0,
		    int max_retries, struct cv_err *e)
{
	struct db_copy d = { .c = *c };
	pthread_t th;
	int rc, threaded = 0;

	d.c.st = &d.st;
	if (!keep_db(c, db, t0) && !(threaded = !thread_start(&th, copy_db, &d)))
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

/* 1 when the database is in WAL mode. */
static int db_is_wal(struct cv_db *db)
{
	sqlite3_stmt *st;
	const unsigned char *mode;
	int wal = 0;

	if (sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW && (mode = sqlite3_column_text(st, 0)))
		wal = !strcmp((const char *)mode, "wal");
	sqlite3_finalize(st);
	return wal;
}

/* Reading into the page cache: what may still be read, and what was. */
struct warm {
	const char *root;
	uint64_t size;          /* the database's, for its thread */
	uint64_t left;
	uint64_t paged;
};

/* The file rel of the root, read into the page cache (page_in), w->left at most. */
static void warm_file(struct warm *w, const char *rel, uint64_t size)
{
	struct strbuf p = STRBUF_INIT;
	int64_t n;
	int fd;

	sb_addf(&p, "%s/%s", w->root, rel);
	fd = open(p.buf, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && (n = page_in(fd, size < w->left ? size : w->left)) > 0) {
		w->paged += (uint64_t)n;
		w->left -= (uint64_t)n < w->left ? (uint64_t)n : w->left;
	}
	if (fd >= 0)
		close(fd);
	sb_release(&p);
}

static void *warm_db(void *arg)
{
	struct warm *w = arg;

	warm_file(w, "chroma.sqlite3", w->size);
	return NULL;
}

/* A folder's files, unless known has every one of them (it is then kept). */
static void warm_folder(const struct cap *c, struct warm *w, const char *rel)
{
	struct strbuf path = STRBUF_INIT, frel = STRBUF_INIT, bad = STRBUF_INIT;
	struct stamps s = { 0 };
	size_t i;

	sb_addf(&path, "%s/%s", c->root, rel);
	if (!stamp_folder(path.buf, &s, &bad, NULL) && !folder_known(c, rel, &s)) {
		for (i = 0; i < s.n; i++) {
			if (is_db_file(c, &s.v[i].st))
				continue;
			sb_reset(&frel);
			sb_addf(&frel, "%s/%s", rel, s.v[i].name);
			warm_file(w, frel.buf, (uint64_t)s.v[i].st.st_size);
		}
	}
	stamps_release(&s);
	sb_release(&path);
	sb_release(&frel);
	sb_release(&bad);
}

struct warm_rest {
	const struct cap *c;
	struct warm *w;
};

/* An entry of the root but the database, into w. */
static int warm_entry(void *arg, const char *name, struct strbuf *path,
		      const struct stat *st)
{
	struct warm_rest *x = arg;

	if (!st || is_db_file(x->c, st))
		return 0;
	if (S_ISDIR(st->st_mode))
		warm_folder(x->c, x->w, name);
	else if (S_ISREG(st->st_mode))
		warm_file(x->w, name, (uint64_t)st->st_size);
	return 0;
}

/*
 * What the attempt under the lock is going to copy, read into the page cache
 * before it, so that Chroma's writers are not held while the disk is read:
 * for the benchmark's 484 MB directory out of the cache, 0.12-0.13 s instead
 * of 0.38-0.46 s. The database and the folders known has are left alone, as
 * they will not be copied. The database is read by a thread of its own, as
 * the copy does it. At most half the memory available is read in: more
 * would push out what was read first, and then be read twice. Best effort:
 * what fails here, the copy finds again.
 */
static void warm_sources(struct cap *c)
{
	uint64_t budget = mem_available() / 2;
	struct warm db = { c->root, 0, 0, 0 }, rest = { c->root, 0, budget, 0 };
	struct stat st;
	pthread_t th;
	int threaded = 0;

	/* no transaction yet: closing a descriptor of the database drops no lock */
	if (!stat(c->db.path, &st) && !known_file(c, "chroma.sqlite3", &st)) {
		db.size = (uint64_t)st.st_size;
		db.left = db.size < budget ? db.size : budget;
		rest.left = budget - db.left;
		if (!(threaded = !thread_start(&th, warm_db, &db)))
			warm_db(&db);
	}
	each_entry(c, warm_entry, &(struct warm_rest){ c, &rest });
	if (threaded)
		pthread_join(th, NULL);
	c->st->bytes_paged_in += db.paged + rest.paged;
}

/*
 * One attempt under one read transaction, which holds Chroma's writers. The
 * database file is read through a descriptor opened before and closed after
 * it: SQLite's lock is a POSIX record lock, which closing any descriptor of
 * the file in this process would drop at once, letting writers in while
 * the folders are still being copied.
 */
static int capture_locked(struct cap *c, int max_retries, struct cv_err *e)
{
	double t0 = now_ms();
	struct timespec now;
	struct stat db;
	int rc;

	c->db_fd = open(c->db.path, O_RDONLY | O_CLOEXEC);
	if (c->db_fd < 0)
		return cv_errno(e, CV_EIO, "%s: cannot read", c->db.path);
	if ((rc = cv_db_begin(&c->db, e)))
		goto out;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	if (fstat(c->db_fd, &db)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot stat", c->db.path);
		cv_db_end(&c->db);
		goto out;
	}
	json_decref(c->st->collections);
	c->st->collections = describe(&c->db);
	rc = copy_all(c, &db, &now, max_retries, e);
	cv_db_end(&c->db);
	c->st->lock_ms += now_ms() - t0;
out:
	close(c->db_fd);
	c->db_fd = -1;
	return rc;
}

static void copied_release(struct cap *c)
{
	while (c->ncopied--) {
		free(c->copied[c->ncopied].rel);
		stamps_release(&c->copied[c->ncopied].st);
	}
	free(c->copied);
	c->copied = NULL;
	c->ncopied = 0;
}

static int was_copied(const struct cap *c, const char *rel)
{
	size_t i;

	for (i = 0; i < c->ncopied; i++)
		if (!strcmp(c->copied[i].rel, rel))
			return 1;
	return 0;
}

/* Drop rel from the folders copied (its source is gone). */
static void forget_copied(struct cap *c, const char *rel)
{
	size_t i;

	for (i = 0; i < c->ncopied; i++) {
		if (strcmp(c->copied[i].rel, rel))
			continue;
		free(c->copied[i].rel);
		stamps_release(&c->copied[i].st);
		c->copied[i] = c->copied[--c->ncopied];
		return;
	}
}

static int same_dir_stamp(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * In the read transaction: the index folders not as they were copied, and
 * those the database knows that appeared meanwhile, as NUL-separated names
 * in out; how many (one more when the root's entries changed since it was
 * last listed: a folder may have come and gone unseen).
 */
static size_t changed_folders(struct cap *c, struct strbuf *out)
{
	struct strbuf p = STRBUF_INIT, bad = STRBUF_INIT;
	struct stamps now = { 0 };
	struct stat root;
	struct dirent *de;
	size_t i, n = 0;
	DIR *d;

	sb_reset(out);
	if (stat(c->root, &root) || !same_dir_stamp(&root, &c->root_stamp))
		n++;
	c->root_stamp = root; /* before the listing below, relied on next time */
	for (i = 0; i < c->ncopied; i++) {
		sb_reset(&p);
		sb_addf(&p, "%s/%s", c->root, c->copied[i].rel);
		if (stamp_folder(p.buf, &now, &bad, NULL) ||
		    !stamps_same(&now, &c->copied[i].st)) {
			sb_add(out, c->copied[i].rel, strlen(c->copied[i].rel) + 1);
			n++;
		}
	}
	d = opendir(c->root);
	while (d && (de = readdir(d))) {
		if (was_copied(c, de->d_name) || !is_segment_folder(&c->db, de->d_name))
			continue;
		sb_add(out, de->d_name, strlen(de->d_name) + 1);
		n++;
	}
	if (d)
		closedir(d);
	stamps_release(&now);
	sb_release(&p);
	sb_release(&bad);
	return n;
}

/*
 * Copy the named folders again, from scratch: as they are now, or not at
 * all when they are gone (copy_folder drops them).
 */
static int recopy(struct cap *c, const struct strbuf *names, int max_retries,
		  struct cv_err *e)
{
	const char *rel;
	int rc = 0;

	for (rel = names->buf; !rc && rel < names->buf + names->len;
	     rel += strlen(rel) + 1) {
		clear_copy(c, rel);
		rc = copy_folder(c, rel, max_retries, e);
	}
	return rc;
}

/*
 * WAL mode, where writers do not wait for a reader: the index folders are
 * copied first, then the database in a read transaction, in which every
 * folder must still be as it was copied. The folders then are what the disk
 * held when the database's state was taken, as under the lock; commits
 * meanwhile do not matter, only flushes. Folders a flush changed are copied
 * again and the database with them, up to max_retries times.
 */
static int capture_wal(struct cap *c, int max_retries, struct cv_err *e)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct strbuf changed = STRBUF_INIT;
	size_t n = 0;
	int attempt, rc;
	double t0;

	rc = copy_rest(c, max_retries, e);
	for (attempt = 0; !rc; attempt++) {
		t0 = now_ms();
		if ((rc = cv_db_begin(&c->db, e)))
			break;
		/* the folders as they are now, so as they were when the read
		 * transaction took its state, just before */
		n = changed_folders(c, &changed);
		json_decref(c->st->collections);
		c->st->collections = describe(&c->db);
		if (!n)
			rc = copy_db_pages(c, e);
		cv_db_end(&c->db);
		c->st->lock_ms += now_ms() - t0;
		if (rc || !n)
			break;
		if (attempt == max_retries) {
			rc = cv_errf(e, CV_ECORRUPT, "%s: index folders kept changing "
				     "between their copy and the database's, %d times "
				     "(the database is in WAL mode, where writers do not "
				     "wait for a reader)", c->root, max_retries + 1);
			break;
		}
		c->st->retries++;
		nanosleep(&ts, NULL);
		rc = recopy(c, &changed, max_retries, e);
	}
	sb_release(&changed);
	return rc;
}

/* The size of the files kept, as their stamps give it. */
static uint64_t kept_bytes(const struct lc_stats *st)
{
	const char *folder;
	json_t *names, *x;
	uint64_t n = 0;
	size_t i;

	json_object_foreach(st->kept, folder, names)
		json_array_foreach(names, i, x)
			n += (uint64_t)json_integer_value(json_array_get(json_object_get(
				json_object_get(st->stamps, folder),
				json_string_value(x)), 2));
	return n;
}

int chroma_capture(const char *dir, const char *dst, int max_retries,
		   const struct lc_known *known, struct lc_stats *st,
		   struct cv_err *e)
{
	struct cap c = { .root = dir, .dst = dst, .db_fd = -1, .st = st,
			 .known = known };
	int rc;

	memset(st, 0, sizeof(*st));
	st->warnings = json_array();
	st->stamps = json_object();
	st->kept = json_object();
	if ((rc = cv_db_open(dir, &c.db, e)))
		return rc;
	snprintf(st->version, sizeof(st->version), "%s", cv_db_version_range(&c.db));
	c.wal = st->wal_mode = db_is_wal(&c.db);
	if (stat(c.db.path, &c.db_st)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot stat", c.db.path);
		goto out;
	}
	if (mkdir(dst, 0755) && !(errno == EEXIST && dir_empty(dst))) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", dst);
		goto out;
	}
	if (!c.wal)
		warm_sources(&c);
	rc = c.wal ? capture_wal(&c, max_retries, e) : capture_locked(&c, max_retries, e);
	st->bytes_kept = kept_bytes(st);
out:
	copied_release(&c);
	stamps_release(&c.prev);
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
