/*
 * The windowed id -> label map (labels.h). Every reading of the pickle
 * streams it (pickle.h) and keeps the ids whose labels fall in the window.
 */
#include "chroma/labels.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/xalloc.h"
#include "util/banned.h"

/* A torn pickle (a flush rewriting it right now) is re-read this often. */
#define PICKLE_TRIES 6
/* Lookups out of label order before the whole map is loaded. */
#define MAX_SCANS 16

static int in_window(const struct labels *l, uint64_t label)
{
	return label >= l->lo && label < l->hi;
}

/* Each id_to_label entry: into the map when its label is in the window. */
static int keep_id(void *ctx, const char *id, size_t len, uint64_t label,
		   struct cv_err *e)
{
	struct labels *l = ctx;

	if (label > l->max_label)
		l->max_label = label;
	if (!in_window(l, label))
		return 0;
	if (idmap_add(&l->ids, id, len, label - l->lo))
		return cv_errf(e, CV_ECORRUPT, "%s: label %llu is given to two ids",
			       l->path, (unsigned long long)label);
	return 0;
}

/* A later reading must see the file the first one did. */
static int same_file(const struct labels *l, struct cv_err *e)
{
	struct stat st;

	if (stat(l->path, &st))
		return cv_errno(e, CV_EIO, "%s: cannot stat", l->path);
	if (st.st_ino != l->st.st_ino || st.st_size != l->st.st_size ||
	    st.st_mtim.tv_sec != l->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != l->st.st_mtim.tv_nsec ||
	    st.st_ctim.tv_sec != l->st.st_ctim.tv_sec ||
	    st.st_ctim.tv_nsec != l->st.st_ctim.tv_nsec)
		return cv_errf(e, CV_EIO, "%s: changed while it was read (Chroma "
			       "flushed the index); run the command again", l->path);
	return 0;
}

/*
 * Every reading of the pickle. After the first, the file must be the one
 * the first reading saw, before and after it: a flush rewriting it in
 * between would mix two versions of the map.
 */
static int read_pickle(struct labels *l, cv_pickle_sink sink, void *ctx,
		       struct cv_err *e)
{
	struct cv_pickle pk;
	int rc, later = l->passes++ > 0;

	if (later && (rc = same_file(l, e)))
		return rc;
	rc = cv_pickle_load(l->path, sink, ctx, later ? &pk : &l->pk, e);
	if (!rc && later)
		rc = same_file(l, e);
	return rc;
}

/*
 * One reading into the window [lo, hi). An id takes at least 10 bytes of
 * pickle (opcode, length, label), which bounds the ids of the whole map.
 * Returns 1 when two ids met on one fingerprint (or an id repeats).
 */
static int read_window(struct labels *l, uint64_t lo, uint64_t hi,
		       struct cv_err *e)
{
	uint64_t reserve = hi == UINT64_MAX ? (uint64_t)l->st.st_size / 10 : l->span / 2;
	int rc;

	idmap_release(&l->ids);
	idmap_init(&l->ids, &l->key, reserve);
	l->lo = lo;
	l->hi = hi;
	if ((rc = read_pickle(l, keep_id, l, e)))
		return rc;
	if (idmap_finish(&l->ids)) {
		cv_errf(e, CV_ECORRUPT, "%s: id_to_label lists an id twice", l->path);
		return 1;
	}
	return 0;
}

/* read_window, with a new key while two ids share a fingerprint. */
static int load_window(struct labels *l, uint64_t lo, uint64_t hi,
		       struct cv_err *e)
{
	int rc, tries = 0;

	do {
		if ((rc = read_window(l, lo, hi, e)) == 1)
			siphash_random_key(&l->key);
	} while (rc == 1 && ++tries < 3);
	return rc == 1 ? CV_ECORRUPT : rc;
}

static uint64_t window_end(const struct labels *l, uint64_t lo)
{
	return l->span >= UINT64_MAX - lo ? UINT64_MAX : lo + l->span;
}

int labels_open(struct labels *l, const char *path, uint64_t span,
		struct cv_err *e)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int rc = 0, i;

	memset(l, 0, sizeof(*l));
	l->path = xstrdup(path);
	l->span = span ? span : LABELS_WINDOW;
	siphash_random_key(&l->key);
	for (i = 0; i < PICKLE_TRIES; i++) {
		cv_err_clear(e);
		l->passes = 0;
		l->max_label = 0;
		if (stat(path, &l->st)) {
			rc = cv_errno(e, CV_EIO, "%s: cannot stat", path);
			break;
		}
		rc = load_window(l, 0, window_end(l, 0), e);
		if (!rc && same_file(l, e))
			rc = CV_ECORRUPT; /* rewritten while read: read it again */
		if (rc != CV_ECORRUPT)
			break;
		nanosleep(&ts, NULL);
		ts.tv_nsec = ts.tv_nsec * 2 > 999999999 ? 999999999 : ts.tv_nsec * 2;
	}
	if (!rc && l->max_label < l->hi)
		l->hi = UINT64_MAX; /* one window holds every label */
	if (rc)
		labels_close(l);
	return rc;
}

void labels_close(struct labels *l)
{
	idmap_release(&l->ids);
	if (l->known.slots)
		hmap_release(&l->known);
	free(l->known_ids);
	free(l->path);
	memset(l, 0, sizeof(*l));
}

/* The label of the id with fingerprint fp when it is in the window. */
static int find_here(const struct labels *l, uint64_t fp, uint64_t *label)
{
	uint64_t x;

	if (l->next >= l->lo && idmap_at(&l->ids, l->next - l->lo, fp)) {
		*label = l->next;
		return 1;
	}
	if (!idmap_find(&l->ids, fp, &x))
		return 0;
	*label = x + l->lo;
	return 1;
}

int labels_has(const struct labels *l, const char *id, size_t len)
{
	const struct hmap_slot *s;
	uint64_t label;

	if (find_here(l, idmap_fp(&l->ids, id, len), &label))
		return 1;
	if (l->hi == UINT64_MAX)
		return 0;
	s = l->known.slots ? hmap_get(&l->known, id, len) : NULL;
	return s ? (int)s->val : -1;
}

static int mark_known(void *ctx, const char *id, size_t len, uint64_t label,
		      struct cv_err *e)
{
	struct labels *l = ctx;
	struct hmap_slot *s = hmap_get(&l->known, id, len);

	if (s)
		s->val = 1;
	return 0;
}

int labels_learn(struct labels *l, const char *const *ids, const size_t *lens,
		 size_t n, struct cv_err *e)
{
	size_t i, total = 0;
	char *p;

	if (l->known.slots)
		hmap_release(&l->known);
	free(l->known_ids);
	for (i = 0; i < n; i++)
		total += lens[i];
	l->known_ids = p = xmalloc(total + 1);
	hmap_init(&l->known, n);
	for (i = 0; i < n; i++) {
		memcpy(p, ids[i], lens[i]);
		hmap_put(&l->known, p, lens[i], 0);
		p += lens[i];
	}
	return read_pickle(l, mark_known, l, e);
}

/* A reading through for one fingerprint: its label, or 0. */
struct scan {
	struct labels *l;
	uint64_t fp, label;
	int found;
};

static int scan_one(void *ctx, const char *id, size_t len, uint64_t label,
		    struct cv_err *e)
{
	struct scan *s = ctx;

	if (!s->found && idmap_fp(&s->l->ids, id, len) == s->fp) {
		s->found = 1;
		s->label = label;
	}
	return 0;
}

static int scan_for(struct labels *l, uint64_t fp, uint64_t *label,
		    struct cv_err *e)
{
	struct scan s = { l, fp, 0, 0 };
	int rc;

	if ((rc = read_pickle(l, scan_one, &s, e)))
		return rc;
	*label = s.label;
	return s.found;
}

/*
 * An id outside the window: the next window, or a reading through. A label
 * found ahead moves the window there (records go on from it: a gap left by
 * deletes); one behind, or none, counts as out of order, and after
 * MAX_SCANS of those the whole map is loaded instead.
 */
static int find_elsewhere(struct labels *l, const char *id, size_t len,
			  uint64_t *label, struct cv_err *e)
{
	int rc;

	if (l->hi <= l->max_label && l->next + l->span / 8 >= l->hi) {
		/* the records have reached the window's end */
		if ((rc = load_window(l, l->hi, window_end(l, l->hi), e)))
			return rc;
		if (find_here(l, idmap_fp(&l->ids, id, len), label))
			return 1;
	}
	if (l->scans >= MAX_SCANS) {
		/* records out of label order: the whole map, whatever its size */
		if ((rc = load_window(l, 0, UINT64_MAX, e)))
			return rc;
		return find_here(l, idmap_fp(&l->ids, id, len), label);
	}
	rc = scan_for(l, idmap_fp(&l->ids, id, len), label, e);
	if (rc == 1 && *label >= l->hi)
		return (rc = load_window(l, *label, window_end(l, *label), e)) ? rc : 1;
	l->scans += rc >= 0;
	return rc;
}

int labels_of(struct labels *l, const char *id, size_t len, uint64_t *label,
	      struct cv_err *e)
{
	int rc = find_here(l, idmap_fp(&l->ids, id, len), label);

	if (!rc && l->hi != UINT64_MAX)
		rc = find_elsewhere(l, id, len, label, e);
	if (rc == 1)
		l->next = *label + 1;
	return rc;
}
