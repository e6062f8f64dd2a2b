/*
 * Repository storage: a local directory of write-once files (REPOSITORY.md).
 * The rest of repo/ goes through these calls only, so another store
 * (object storage) can implement them.
 */
#ifndef CV_STORE_H
#define CV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/dwrite.h"
#include "util/err.h"

#define STORE_READERS 8

/* An open file with a read-ahead window, for store_pread. */
struct store_reader {
	char *name;
	int fd;
	uint8_t *win;
	uint64_t win_off, win_len;
	uint64_t used;   /* for least-recently-used replacement */
};

/* A set of open pack readers: one per thread that reads. */
struct store_readers {
	struct store_reader rd[STORE_READERS];
	uint64_t clock;
};

struct store {
	char *root;
	int lock_fd, write_fd;      /* "lock", and "write.lock" for writers */
	struct store_readers rds;   /* the default set, for one thread */
};

/* Open root (create: make it, which must not exist or be empty). */
int store_open(struct store *s, const char *root, int create, struct cv_err *e);
void store_close(struct store *s);
/*
 * How a command locks the repository (flock(2), waiting up to
 * store_lock_wait_ms for another command to finish):
 * readers share "lock"; a backup holds "write.lock" and shares "lock", so
 * readers go on beside it (it only adds files, each renamed in complete); a
 * prune holds both exclusively, as it deletes.
 */
enum store_mode { STORE_READ, STORE_APPEND, STORE_EXCLUSIVE };
extern unsigned long store_lock_wait_ms; /* 2000 unless --lock-wait */
int store_lock(struct store *s, enum store_mode mode, struct cv_err *e);

/* Write name atomically (temp, fsync, rename, fsync dir); never replaces. */
int store_put(struct store *s, const char *name, const void *p, size_t n,
	      struct cv_err *e);

/* Streaming write of one new file: open a temp, append, then commit. */
struct store_file {
	struct dwriter w;   /* straight to the disk where it can (dwrite.h) */
	char *tmp;
	char *name;
};
int store_create(struct store *s, const char *name_hint, struct store_file *f,
		 struct cv_err *e);
int store_append(struct store_file *f, const void *p, size_t n, struct cv_err *e);
/* fsync and rename to name (the final name may be decided only now). */
int store_commit(struct store *s, struct store_file *f, const char *name,
		 struct cv_err *e);
void store_abort(struct store_file *f);

/* The size of a file, or 0 when it cannot be read. */
uint64_t store_size(struct store *s, const char *name);
/* Whole file, bounded by max bytes. Caller frees *buf. */
int store_get(struct store *s, const char *name, size_t max, uint8_t **buf,
	      size_t *n, struct cv_err *e);
/*
 * n bytes at off of name. The file handle and a read-ahead window are kept
 * between calls, so reading a pack front to back costs few system calls.
 */
/* Close the readers of a set (the set itself may be reused). */
void store_readers_release(struct store_readers *rs);
/* store_pread through a given set of readers, for another thread. */
int store_pread_in(struct store *s, struct store_readers *rs, const char *name,
		   uint64_t off, void *buf, size_t n, struct cv_err *e);
int store_pread(struct store *s, const char *name, uint64_t off, void *buf,
		size_t n, struct cv_err *e);
/* Names in dir ending in suffix, sorted; caller frees each and the array. */
int store_list(struct store *s, const char *dir, const char *suffix,
	       char ***names, size_t *n, struct cv_err *e);
int store_remove(struct store *s, const char *name, struct cv_err *e);
/* Make folder dir of the store, unless it is there. */
int store_mkdir(struct store *s, const char *dir, struct cv_err *e);
/* 0 only when name is known not to exist (stat says ENOENT). */
int store_may_exist(struct store *s, const char *name);
/*
 * Remove temp files left by interrupted writes in dir; with would, nothing
 * is removed: would is told each path.
 */
void store_clean_tmp(struct store *s, const char *dir, void (*would)(const char *path));

#endif
