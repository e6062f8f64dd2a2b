/*
 * Local-directory store (see store.h): write-once files by temp name, fsync,
 * rename and directory fsync.
 */
#include "repo/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

static char *path_of(const struct store *s, const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	sb_addf(&sb, "%s/%s", s->root, name);
	return sb_detach(&sb, NULL);
}

static int make_dirs(const struct store *s, struct cv_err *e)
{
	const char *sub[] = { "", "packs", "snapshots" };
	char *p;
	size_t i;

	for (i = 0; i < 3; i++) {
		p = path_of(s, sub[i]);
		if (mkdir(p, 0755) && errno != EEXIST) {
			cv_errno(e, CV_EIO, "%s: cannot create", p);
			free(p);
			return CV_EIO;
		}
		free(p);
	}
	return 0;
}

int store_open(struct store *s, const char *root, int create, struct cv_err *e)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->lock_fd = s->write_fd = -1;
	s->root = xstrdup(root);
	if (create) {
		if (!stat(root, &st) && !(S_ISDIR(st.st_mode) && dir_empty(root)))
			return cv_errf(e, CV_EUSAGE, "%s: exists and is not an empty "
				       "directory", root);
		return make_dirs(s, e);
	}
	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		return cv_errf(e, CV_ENOTFOUND, "%s: no repository here", root);
	return 0;
}

void store_readers_release(struct store_readers *rs)
{
	size_t i;

	for (i = 0; i < STORE_READERS; i++) {
		if (rs->rd[i].name)
			close(rs->rd[i].fd);
		free(rs->rd[i].name);
		free(rs->rd[i].win);
	}
	memset(rs, 0, sizeof(*rs));
}

void store_close(struct store *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->write_fd >= 0)
		close(s->write_fd);
	store_readers_release(&s->rds);
	free(s->root);
	memset(s, 0, sizeof(*s));
	s->lock_fd = s->write_fd = -1;
}

unsigned long store_lock_wait_ms = 2000;

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/*
 * flock fd, trying for store_lock_wait_ms (polls of 50 ms growing to 1 s, so
 * a long wait costs nothing); 0 or -1 (held by another).
 */
static int lock_wait(int fd, int how)
{
	unsigned long long start = now_ms(), waited;
	unsigned long nap = 50;
	struct timespec ts;

	while (flock(fd, how | LOCK_NB)) {
		if (errno != EWOULDBLOCK)
			return -1;
		waited = now_ms() - start;
		if (waited >= store_lock_wait_ms)
			return -1;
		if (nap > store_lock_wait_ms - waited)
			nap = (unsigned long)(store_lock_wait_ms - waited);
		ts.tv_sec = (time_t)(nap / 1000);
		ts.tv_nsec = (long)(nap % 1000) * 1000000;
		nanosleep(&ts, NULL);
		nap = nap * 2 > 1000 ? 1000 : nap * 2;
	}
	return 0;
}

/* " (waited N s; --lock-wait SECONDS waits longer)", for the messages. */
static const char *waited(char *buf, size_t n)
{
	snprintf(buf, n, " (waited %lu s; --lock-wait SECONDS waits longer)",
		 (store_lock_wait_ms + 999) / 1000);
	return buf;
}

/* " (pid N)" of the writer that holds write.lock, or "". */
static void writer_pid(const struct store *s, char *out, size_t n)
{
	char *p = path_of(s, "write.lock"), buf[32] = "";
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	free(p);
	if (fd >= 0)
		close(fd);
	*out = '\0';
	if (k > 0 && buf[0] >= '1' && buf[0] <= '9')
		snprintf(out, n, " (pid %ld)", strtol(buf, NULL, 10));
}

static int open_lock(const struct store *s, const char *name, int writer)
{
	char *p = path_of(s, name);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 && !writer)
		fd = open(p, O_RDONLY | O_CLOEXEC); /* a read-only repository */
	free(p);
	return fd;
}

/* The writer's pid in write.lock: it only makes messages clearer. */
static void note_pid(int fd)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	if (!ftruncate(fd, 0) && pwrite(fd, pid, (size_t)n, 0) != n)
		(void)!ftruncate(fd, 0);
}

int store_lock(struct store *s, enum store_mode mode, struct cv_err *e)
{
	char who[48], w[80];

	if (mode != STORE_READ) {
		s->write_fd = open_lock(s, "write.lock", 1);
		if (s->write_fd < 0)
			return cv_errno(e, CV_EIO, "%s/write.lock: cannot open", s->root);
		if (lock_wait(s->write_fd, LOCK_EX)) {
			writer_pid(s, who, sizeof(who));
			return cv_errf(e, CV_EIO, "%s: another backup or prune%s is "
				       "writing to the repository%s", s->root, who,
				       waited(w, sizeof(w)));
		}
		note_pid(s->write_fd);
	}
	s->lock_fd = open_lock(s, "lock", mode != STORE_READ);
	if (s->lock_fd < 0)
		return cv_errno(e, CV_EIO, "%s/lock: cannot open", s->root);
	if (!lock_wait(s->lock_fd, mode == STORE_EXCLUSIVE ? LOCK_EX : LOCK_SH))
		return 0;
	if (mode == STORE_EXCLUSIVE)
		return cv_errf(e, CV_EIO, "%s: the repository is being read (restore, "
			       "verify or snapshots); prune needs it alone%s", s->root,
			       waited(w, sizeof(w)));
	writer_pid(s, who, sizeof(who));
	return cv_errf(e, CV_EIO, "%s: a prune%s is rewriting the repository%s",
		       s->root, who, waited(w, sizeof(w)));
}

int store_create(struct store *s, const char *name_hint, struct store_file *f,
		 struct cv_err *e)
{
	struct strbuf sb = STRBUF_INIT;

	memset(f, 0, sizeof(*f));
	sb_addf(&sb, "%s/%s.tmp.%ld", s->root, name_hint, (long)getpid());
	f->tmp = sb_detach(&sb, NULL);
	/* Ctrl-C removes it (one at a time); named before it exists */
	signal_cleanup_file(f->tmp);
	if (dw_open(&f->w, f->tmp, O_TRUNC)) {
		signal_cleanup_file(NULL);
		cv_errno(e, CV_EIO, "%s: cannot create", f->tmp);
		free(f->tmp);
		f->tmp = NULL;
		return CV_EIO;
	}
	return 0;
}

int store_append(struct store_file *f, const void *p, size_t n, struct cv_err *e)
{
	if (dw_write(&f->w, p, n))
		return cv_errno(e, CV_EIO, "%s: write failed", f->tmp);
	return 0;
}

int store_commit(struct store *s, struct store_file *f, const char *name,
		 struct cv_err *e)
{
	char *dst = path_of(s, name);
	int rc = 0;

	if (dw_finish(&f->w))
		rc = cv_errno(e, CV_EIO, "%s: write failed", f->tmp);
	dw_release(&f->w);
	if (fsync(f->w.fd) && !rc)
		rc = cv_errno(e, CV_EIO, "%s: cannot sync", f->tmp);
	if (close(f->w.fd) && !rc)
		rc = cv_errno(e, CV_EIO, "%s: cannot close", f->tmp);
	f->w.fd = -1;
	if (!rc && rename(f->tmp, dst))
		rc = cv_errno(e, CV_EIO, "%s: cannot rename into place", dst);
	signal_cleanup_file(NULL);
	if (!rc && sync_parent(dst))
		rc = cv_errno(e, CV_EIO, "%s: cannot sync its directory", dst);
	free(dst);
	if (rc)
		store_abort(f);
	free(f->tmp);
	f->tmp = NULL;
	return rc;
}

void store_abort(struct store_file *f)
{
	signal_cleanup_file(NULL);
	if (f->w.fd >= 0)
		close(f->w.fd);
	dw_release(&f->w);
	if (f->tmp)
		unlink(f->tmp);
	free(f->tmp);
	memset(f, 0, sizeof(*f));
	f->w.fd = -1;
}

int store_put(struct store *s, const char *name, const void *p, size_t n,
	      struct cv_err *e)
{
	struct store_file f;
	int rc;

	if ((rc = store_create(s, name, &f, e)))
		return rc;
	if ((rc = store_append(&f, p, n, e))) {
		store_abort(&f);
		return rc;
	}
	return store_commit(s, &f, name, e);
}

uint64_t store_size(struct store *s, const char *name)
{
	char *p = path_of(s, name);
	struct stat st;
	uint64_t n = stat(p, &st) ? 0 : (uint64_t)st.st_size;

	free(p);
	return n;
}

int store_may_exist(struct store *s, const char *name)
{
	char *p = path_of(s, name);
	struct stat st;
	int may = !stat(p, &st) || errno != ENOENT;

	free(p);
	return may;
}

int store_get(struct store *s, const char *name, size_t max, uint8_t **buf,
	      size_t *n, struct cv_err *e)
{
	char *p = path_of(s, name);
	struct stat st;
	int fd = open(p, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t r;

	*buf = NULL;
	*n = 0;
	if (fd < 0) {
		rc = errno == ENOENT ? CV_ENOTFOUND : CV_EIO;
		cv_errno(e, rc, "%s", p);
		free(p);
		return rc;
	}
	if (fstat(fd, &st) || (uint64_t)st.st_size > max) {
		rc = cv_errf(e, CV_ECORRUPT, "%s: larger than %zu bytes", p, max);
		goto out;
	}
	*buf = xmalloc((size_t)st.st_size + 1);
	while (*n < (size_t)st.st_size) {
		r = read(fd, *buf + *n, (size_t)st.st_size - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = cv_errno(e, CV_EIO, "%s: read failed", p);
			goto out;
		}
		*n += (size_t)r;
	}
out:
	close(fd);
	free(p);
	return rc;
}

#define STORE_WINDOW (1u << 20)

/* The reader for name: open, or replacing the least recently used. */
static int get_reader(struct store *s, struct store_readers *rs,
		      const char *name, struct store_reader **out, struct cv_err *e)
{
	struct store_reader *r = &rs->rd[0];
	char *p;
	size_t i;

	for (i = 0; i < STORE_READERS; i++) {
		if (rs->rd[i].name && !strcmp(rs->rd[i].name, name)) {
			*out = &rs->rd[i];
			(*out)->used = ++rs->clock;
			return 0;
		}
		if (rs->rd[i].used < r->used)
			r = &rs->rd[i];
	}
	if (r->name)
		close(r->fd);
	free(r->name);
	r->name = NULL;
	r->win_len = 0;
	p = path_of(s, name);
	r->fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (r->fd < 0)
		return cv_errno(e, errno == ENOENT ? CV_ENOTFOUND : CV_EIO, "%s/%s",
				s->root, name);
	r->name = xstrdup(name);
	r->used = ++rs->clock;
	if (!r->win)
		r->win = xmalloc(STORE_WINDOW);
	*out = r;
	return 0;
}

static int pread_all(struct store_reader *r, const char *root, uint64_t off,
		     void *buf, size_t n, size_t *got, struct cv_err *e)
{
	ssize_t k;

	*got = 0;
	while (*got < n) {
		k = pread(r->fd, (char *)buf + *got, n - *got, (off_t)(off + *got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return cv_errno(e, CV_EIO, "%s/%s: read failed", root, r->name);
		if (k == 0)
			break;
		*got += (size_t)k;
	}
	return 0;
}

int store_pread(struct store *s, const char *name, uint64_t off, void *buf,
		size_t n, struct cv_err *e)
{
	return store_pread_in(s, &s->rds, name, off, buf, n, e);
}

int store_pread_in(struct store *s, struct store_readers *rs, const char *name,
		   uint64_t off, void *buf, size_t n, struct cv_err *e)
{
	struct store_reader *r = NULL;
	size_t got = 0;
	int rc;

	if ((rc = get_reader(s, rs, name, &r, e)))
		return rc;
	if (off >= r->win_off && off + n <= r->win_off + r->win_len) {
		memcpy(buf, r->win + (off - r->win_off), n);
		return 0;
	}
	if (n > STORE_WINDOW / 4) {
		rc = pread_all(r, s->root, off, buf, n, &got, e);
	} else {
		rc = pread_all(r, s->root, off, r->win, STORE_WINDOW, &got, e);
		r->win_off = off;
		r->win_len = got;
		if (!rc && got >= n)
			memcpy(buf, r->win, n);
	}
	if (!rc && got < n) {
		unsigned long long at = off + got;

		rc = cv_errf(e, CV_ECORRUPT, "%s/%s: offset %llu: truncated",
			     s->root, name, at);
	}
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(struct store *s, const char *dir, const char *suffix,
	       char ***names, size_t *n, struct cv_err *e)
{
	char *p = path_of(s, dir);
	size_t cap = 0, sl = strlen(suffix), l;
	struct dirent *de;
	DIR *d = opendir(p);

	*names = NULL;
	*n = 0;
	if (!d) {
		cv_errno(e, CV_ECORRUPT, "%s", p);
		free(p);
		return CV_ECORRUPT;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		l = strlen(de->d_name);
		if (l <= sl || strcmp(de->d_name + l - sl, suffix))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			*names = xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	if (errno) { /* a listing cut short must not read as a short list */
		cv_errno(e, CV_EIO, "%s: cannot list", p);
		closedir(d);
		free(p);
		while (*n)
			free((*names)[--*n]);
		free(*names);
		*names = NULL;
		return CV_EIO;
	}
	closedir(d);
	free(p);
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

int store_remove(struct store *s, const char *name, struct cv_err *e)
{
	char *p = path_of(s, name);
	int rc = 0;

	if (unlink(p) && errno != ENOENT)
		rc = cv_errno(e, CV_EIO, "%s: cannot remove", p);
	else if (sync_parent(p)) /* what comes next relies on it being gone */
		rc = cv_errno(e, CV_EIO, "%s: removed, but its folder cannot be synced", p);
	free(p);
	return rc;
}

int store_mkdir(struct store *s, const char *dir, struct cv_err *e)
{
	char *p = path_of(s, dir);
	int rc = 0;

	if (mkdir(p, 0755) && errno != EEXIST)
		rc = cv_errno(e, CV_EIO, "%s: cannot create", p);
	else if (sync_parent(p))
		rc = cv_errno(e, CV_EIO, "%s: made, but its folder cannot be synced", p);
	free(p);
	return rc;
}

void store_clean_tmp(struct store *s, const char *dir, void (*would)(const char *path))
{
	struct strbuf sb = STRBUF_INIT;
	char *p = path_of(s, dir);
	struct dirent *de;
	DIR *d = opendir(p);

	while (d && (de = readdir(d))) {
		if (!strstr(de->d_name, ".tmp."))
			continue;
		sb_reset(&sb);
		sb_addf(&sb, "%s/%s", p, de->d_name);
		if (would)
			would(sb.buf);
		else
			unlink(sb.buf);
	}
	if (d)
		closedir(d);
	sb_release(&sb);
	free(p);
}
