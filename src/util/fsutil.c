/*
 * Filesystem helpers (see fsutil.h).
 */
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void rm_prefixed(const char *dir, const char *prefix, void (*would)(const char *path))
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = strlen(prefix);

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, n) || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, ".."))
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", dir, de->d_name);
		if (would)
			would(p.buf);
		else
			rm_tree(p.buf);
	}
	if (d)
		closedir(d);
	sb_release(&p);
}

/*
 * path made absolute, links resolved in the part that exists; caller frees.
 * The part that does not exist yet is a suffix of path, kept as written.
 */
static char *resolve_existing(const char *path)
{
	struct strbuf head = STRBUF_INIT, out = STRBUF_INIT;
	const char *tail = "";
	char *real, *slash;
	size_t at;

	sb_adds(&head, path);
	while (!(real = realpath(head.len ? head.buf : ".", NULL)) && head.len &&
	       strcmp(head.buf, "/")) {
		slash = strrchr(head.buf, '/');
		at = slash ? (size_t)(slash - head.buf) : 0;
		tail = path + (slash ? at + 1 : 0); /* head is a prefix of path */
		sb_setlen(&head, !slash ? 0 : at ? at : 1); /* "/x" leaves "/" */
	}
	sb_release(&head);
	if (real && *tail) {
		sb_addf(&out, "%s%s%s", real, strcmp(real, "/") ? "/" : "", tail);
		free(real);
		real = sb_detach(&out, NULL);
	}
	return real;
}

int path_within(const char *dir, const char *path)
{
	char *d = realpath(dir, NULL), *p = d ? resolve_existing(path) : NULL;
	size_t n = d ? strlen(d) : 0;
	int inside = 0;

	if (d && p)
		inside = !strcmp(d, "/") ||
			 (!strncmp(p, d, n) && (p[n] == '\0' || p[n] == '/'));
	free(d);
	free(p);
	return inside;
}

int tmp_hold(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Is the temporary entry p of the kind asked for, and held by no one? */
static int stale(const char *p, int want_dir)
{
	struct stat st;
	int fd;

	if (lstat(p, &st) || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
		return 0;
	fd = tmp_hold(p); /* its run holds it while it lives, wherever it runs */
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

void rm_stale_tmp(const char *path, int want_dir)
{
	struct strbuf dir = STRBUF_INIT, p = STRBUF_INIT;
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t n = strlen(base);
	struct dirent *de;
	char *end;
	long pid;
	DIR *d;

	if (slash)
		sb_add(&dir, path, slash == path ? 1 : (size_t)(slash - path));
	else
		sb_adds(&dir, ".");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, base, n) || strncmp(de->d_name + n, ".tmp.", 5))
			continue;
		pid = strtol(de->d_name + n + 5, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", dir.buf, de->d_name);
		if (stale(p.buf, want_dir))
			rm_tree(p.buf);
	}
	if (d)
		closedir(d);
	sb_release(&dir);
	sb_release(&p);
}

int tmp_dir_make(const char *path, struct strbuf *tmp, int *held)
{
	*held = -1;
	sb_reset(tmp);
	sb_addf(tmp, "%s.tmp.%ld", path, (long)getpid());
	rm_stale_tmp(path, 1);
	signal_cleanup_dir(tmp->buf); /* ours: Ctrl-C removes it, named first */
	if (mkdir(tmp->buf, 0755)) {
		int err = errno;

		signal_cleanup_dir(NULL);
		errno = err;
		return -1;
	}
	*held = tmp_hold(tmp->buf);
	return 0;
}

static char cleanup_path[4096], cleanup_tree[4096], note[4096];
static volatile sig_atomic_t cleanup_set, cleanup_tree_set, note_set;

/* Copy path into slot (flag cleared first, so a signal between sees none). */
static void cleanup_name(char *slot, size_t cap, volatile sig_atomic_t *set,
			 const char *path)
{
	*set = 0;
	if (path && strlen(path) < cap) {
		memcpy(slot, path, strlen(path) + 1);
		*set = 1;
	}
}

void signal_cleanup_file(const char *path)
{
	cleanup_name(cleanup_path, sizeof(cleanup_path), &cleanup_set, path);
}

void signal_cleanup_dir(const char *path)
{
	cleanup_name(cleanup_tree, sizeof(cleanup_tree), &cleanup_tree_set, path);
}

void signal_note(const char *text)
{
	cleanup_name(note, sizeof(note), &note_set, text);
}

#define SIG_RM_DEPTH 16

/*
 * Empty the directory dfd with async-signal-safe calls only (getdents64,
 * unlinkat, openat, close), a fixed buffer per level. Passes repeat until
 * one removes nothing: entries removed while a pass reads may hide others.
 */
static void sig_rm_at(int dfd, int depth)
{
	char buf[2048];
	struct dirent64 *de;
	ssize_t n, off;
	int removed, fd;

	do {
		removed = 0;
		lseek(dfd, 0, SEEK_SET);
		while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
			for (off = 0; off < n; off += de->d_reclen) {
				de = (struct dirent64 *)(void *)(buf + off);
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				if (de->d_type != DT_DIR && !unlinkat(dfd, de->d_name, 0)) {
					removed = 1;
					continue;
				}
				if (depth >= SIG_RM_DEPTH)
					continue;
				fd = openat(dfd, de->d_name,
					    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0)
					continue;
				sig_rm_at(fd, depth + 1);
				close(fd);
				if (!unlinkat(dfd, de->d_name, AT_REMOVEDIR))
					removed = 1;
			}
		}
	} while (removed);
}

static void sig_rm_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	sig_rm_at(fd, 0);
	close(fd);
	rmdir(path);
}

/* Only async-signal-safe calls: those above, unlink, write, signal, raise. */
static void on_signal(int sig)
{
	int saved = errno;

	if (cleanup_set)
		unlink(cleanup_path);
	if (cleanup_tree_set)
		sig_rm_tree(cleanup_tree);
	if (note_set && write(STDERR_FILENO, note, strlen(note)) < 0)
		note_set = 0;
	errno = saved;
	signal(sig, SIG_DFL);
	raise(sig);
}

int thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Not where the signal is ignored (a background job of a script ignores SIGINT). */
void signal_cleanup_install(void)
{
	if (signal(SIGINT, on_signal) == SIG_IGN)
		signal(SIGINT, SIG_IGN);
	if (signal(SIGTERM, on_signal) == SIG_IGN)
		signal(SIGTERM, SIG_IGN);
}

int dir_empty(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int empty = 1;

	if (!d)
		return 0;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

static int sync_open(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), rc = -1;

	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	return rc;
}

int sync_dir(const char *path)
{
	return sync_open(path, O_DIRECTORY);
}

int sync_path(const char *path)
{
	return sync_open(path, 0);
}

void writeback_start(int fd, uint64_t *flushed, uint64_t written)
{
	if (written - *flushed < WRITEBACK_STEP)
		return;
	sync_file_range(fd, (off_t)*flushed, (off_t)(written - *flushed),
			SYNC_FILE_RANGE_WRITE);
	*flushed = written;
}

#define PAGE_IN_WINDOW (64u << 20) /* mapped at a time to ask mincore */
#define PAGE_IN_READ (1u << 20)

/* Read [off, off + len) (less at the end of the file) into buf, in steps. */
static int64_t read_through(int fd, char *buf, uint64_t off, uint64_t len)
{
	uint64_t done = 0;
	ssize_t n;

	posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
	while (done < len) {
		n = pread(fd, buf, len - done < PAGE_IN_READ ? len - done : PAGE_IN_READ,
			  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break; /* shorter now */
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

/* The pages of one window not in the cache, read; the bytes read or -1. */
static int64_t page_in_window(int fd, uint64_t off, size_t len, size_t psz,
			      unsigned char *vec, char *buf)
{
	size_t pages = (len + psz - 1) / psz, i = 0, j;
	int64_t total = 0, n;
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	int rc;

	if (m == MAP_FAILED)
		return -1;
	rc = mincore(m, len, vec);
	munmap(m, len);
	if (rc)
		return -1;
	while (i < pages) {
		if (vec[i] & 1) {
			i++;
			continue;
		}
		for (j = i; j < pages && !(vec[j] & 1); j++)
			;
		n = read_through(fd, buf, off + i * psz, (uint64_t)(j - i) * psz);
		if (n < 0)
			return -1;
		total += n;
		i = j;
	}
	return total;
}

int64_t page_in(int fd, uint64_t size)
{
	size_t psz = (size_t)sysconf(_SC_PAGESIZE), len;
	unsigned char *vec;
	char *buf;
	uint64_t off;
	int64_t total = 0, n = 0;

	if (!size)
		return 0;
	vec = xmalloc(PAGE_IN_WINDOW / psz);
	buf = xmalloc(PAGE_IN_READ);
	for (off = 0; off < size && n >= 0; off += PAGE_IN_WINDOW) {
		len = size - off < PAGE_IN_WINDOW ? (size_t)(size - off) : PAGE_IN_WINDOW;
		if ((n = page_in_window(fd, off, len, psz, vec, buf)) >= 0)
			total += n;
	}
	free(vec);
	free(buf);
	return n < 0 ? -1 : total;
}

uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	if (!kb) /* an older kernel: free memory, not counting the cache */
		kb = (unsigned long long)sysconf(_SC_AVPHYS_PAGES) *
		     (unsigned long long)sysconf(_SC_PAGESIZE) / 1024;
	return (uint64_t)kb * 1024;
}

int sync_parent(const char *path)
{
	char *copy = xstrdup(path), *slash;
	size_t n = strlen(copy);
	int rc;

	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0'; /* "dir/" names dir */
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0'; /* "/name": the root */
	else if (slash)
		*slash = '\0';
	rc = sync_dir(slash ? copy : ".");
	free(copy);
	return rc;
}
