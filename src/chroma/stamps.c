/*
 * Stamps of a folder's files (stamps.h).
 */
#include "chroma/stamps.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "util/fsutil.h"
#include "util/banned.h"

void stamps_add(struct stamps *s, const char *name, const struct stat *st)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].name = xstrdup(name);
	s->v[s->n++].st = *st;
}

static int cmp_stamp(const void *a, const void *b)
{
	return strcmp(((const struct fstamp *)a)->name, ((const struct fstamp *)b)->name);
}

void stamps_sort(struct stamps *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_stamp);
}

void stamps_clear(struct stamps *s)
{
	while (s->n)
		free(s->v[--s->n].name);
	s->gone = 0;
}

void stamps_release(struct stamps *s)
{
	stamps_clear(s);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int stamps_same(const struct stamps *sa, const struct stamps *sb)
{
	const struct fstamp *a = sa->v, *b = sb->v;
	size_t i;

	if (sa->n != sb->n)
		return 0;
	for (i = 0; i < sa->n; i++)
		if (strcmp(a[i].name, b[i].name) || a[i].st.st_size != b[i].st.st_size ||
		    !same_time(&a[i].st.st_mtim, &b[i].st.st_mtim) ||
		    !same_time(&a[i].st.st_ctim, &b[i].st.st_ctim))
			return 0;
	return 1;
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int stamps_racy(const struct stamps *s, const struct timespec *t0,
		const struct timespec *t1)
{
	struct timespec end = { t1->tv_sec + 1, t1->tv_nsec };
	struct timespec second = { t0->tv_sec, 0 };
	const struct timespec *c;
	size_t i;

	for (i = 0; i < s->n; i++) {
		c = &s->v[i].st.st_ctim;
		/* whole seconds: a filesystem that keeps no finer (ext4's small inodes) */
		if (!ts_before(c, c->tv_nsec ? t0 : &second) && !ts_before(&end, c))
			return 1;
	}
	return 0;
}

int stamp_settled(const struct stat *st, const struct timespec *t0,
		  long long settle_ns)
{
	return ts_ns(&st->st_ctim) < ts_ns(t0) - settle_ns;
}

const struct stat *stamps_of(const struct stamps *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i].st;
	return NULL;
}
