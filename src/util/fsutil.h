/*
 * Small filesystem helpers shared by commands.
 */
#ifndef CV_FSUTIL_H
#define CV_FSUTIL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "util/strbuf.h"

/* A file time (mtime, ctime) in nanoseconds since the epoch. */
static inline int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Remove a tree (files first), not following links. Best effort. */
void rm_tree(const char *path);

/*
 * Remove every entry of dir whose name starts with prefix (trees too); ""
 * empties dir. With would, nothing is removed: would is told each path.
 */
void rm_prefixed(const char *dir, const char *prefix, void (*would)(const char *path));

/*
 * 1 if path, which need not exist yet, is dir or lies inside it (links
 * resolved as far as path exists); 0 if not, or if dir cannot be resolved.
 */
int path_within(const char *dir, const char *path);

/*
 * A run holds its temporary file or folder with tmp_hold (an flock, which
 * ends with the process wherever it runs): the fd, or -1. rm_stale_tmp
 * removes what killed runs left beside path, path.tmp.PID, a folder when
 * want_dir, else a file, that no one holds.
 */
int tmp_hold(const char *path);
void rm_stale_tmp(const char *path, int want_dir);

/*
 * The temporary folder a run fills before renaming it to path: what killed
 * runs left removed, path.tmp.PID made (its name in tmp), held (*held, the
 * fd or -1) and named to the signal handlers. 0, or -1 with errno when it
 * cannot be made.
 */
int tmp_dir_make(const char *path, struct strbuf *tmp, int *held);

/*
 * SIGINT and SIGTERM unlink the file named here (a temporary output) and
 * remove the tree named by signal_cleanup_dir (a temporary folder being
 * filled) before they end the process; NULL names none. One of each at a
 * time. signal_cleanup_install sets the handlers (main).
 */
void signal_cleanup_file(const char *path);
void signal_cleanup_dir(const char *path);
/* A line the same handlers write to stderr first (what to do next); NULL: none. */
void signal_note(const char *text);
void signal_cleanup_install(void);

/*
 * pthread_create for worker threads, which never take SIGINT or SIGTERM:
 * the handler then runs in the thread that creates temporary files, never
 * beside it. 0 or an error number.
 */
int thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

/* 1 if path is a directory that can be read and holds nothing. */
int dir_empty(const char *path);

/* fsync a directory; 0 or -1. */
int sync_dir(const char *path);
/* fsync a file or a directory; 0 or -1. */
int sync_path(const char *path);

/* fsync the directory holding path (after a rename into it); 0 or -1. */
int sync_parent(const char *path);

/*
 * A file is being appended to: once written bytes are WRITEBACK_STEP past
 * *flushed, start writing them out (not waiting), so the fsync at the end
 * waits for the last step only.
 */
#define WRITEBACK_STEP (8u << 20)
void writeback_start(int fd, uint64_t *flushed, uint64_t written);

/*
 * Read into the page cache what of the first size bytes of the file at fd
 * is not there yet (mincore tells which pages are), so that a copy made
 * later runs at the speed of memory. The bytes read from the file, or -1
 * with errno. Where the kernel does not tell this process what the cache
 * holds (a file it neither owns nor may write), every page looks absent and
 * the whole file is read.
 */
int64_t page_in(int fd, uint64_t size);

/* The memory available without swapping (MemAvailable), in bytes; 0 unknown. */
uint64_t mem_available(void);

#endif
