/*
 * Stamps: a folder's files with their stat (size, mtime, ctime), taken
 * before and after a copy to prove nothing wrote to them meanwhile.
 */
#ifndef CV_STAMPS_H
#define CV_STAMPS_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

struct fstamp {
	char *name;
	struct stat st;
};

/* A folder's regular files with their stat, sorted by name (stamps_sort). */
struct stamps {
	struct fstamp *v;
	size_t n, cap;
	size_t gone;    /* listed, but gone by their stat (capture.c) */
};

void stamps_add(struct stamps *s, const char *name, const struct stat *st);
void stamps_sort(struct stamps *s);
/* Empty s, keeping its array; stamps_release frees it too. */
void stamps_clear(struct stamps *s);
void stamps_release(struct stamps *s);

/* The same files with the same size, mtime and ctime. */
int stamps_same(const struct stamps *a, const struct stamps *b);

/*
 * Whether a file of s changed in the clock tick its stamps were taken in:
 * its ctime at or after t0, read from CLOCK_REALTIME_COARSE before the first
 * stamp. The kernel stamps writes from that coarse clock, so a second write
 * in the same tick would leave equal stamps: git's "racy clean" files.
 * (Filesystems that hand finer stamps to files just looked at may stamp
 * ahead of the coarse clock: up to 1 s past t1, read after the last stamp,
 * still counts. A ctime in whole seconds, from a filesystem that keeps no
 * finer, counts from the second t0 is in.) ctime, unlike mtime, cannot be set ahead, so a file
 * touched into the future is not taken for one, nor one stamped by a clock
 * since stepped back.
 */
int stamps_racy(const struct stamps *s, const struct timespec *t0,
		const struct timespec *t1);

/*
 * Whether a file was last changed (ctime) at least settle_ns before t0: long
 * enough ago that a filesystem whose clock ticks coarser than the kernel's
 * (exFAT's 10 ms, FAT's 2 s) has stamped any write since with another
 * ctime. A later backup trusts such a file's stamps to tell it unchanged.
 */
int stamp_settled(const struct stat *st, const struct timespec *t0,
		  long long settle_ns);

/* The stat of name in s, or NULL. */
const struct stat *stamps_of(const struct stamps *s, const char *name);

#endif
