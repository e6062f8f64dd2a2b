/*
 * HNSW segment folder reader (hnsw.h, chroma-format.md §5.2-5.7): header
 * validation, a label -> slot lookup built from the slots themselves, and
 * windowed reads, so memory stays small whatever the index size.
 */
#include "hnsw/hnsw.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/bytes.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define DATA_WINDOW (4u << 20)
#define LENGTH_WINDOW (256u << 10)
#define MAX_DIM 65536
#define MAX_M0 4096

/* For printing sums of uint64_t with %llu. */
static unsigned long long ull(uint64_t v)
{
	return v;
}

static void header_decode(const uint8_t *b, struct hnsw_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version = (int32_t)load_u32(b);
	h->offset_level0 = load_u64(b + 4);
	h->max_elements = load_u64(b + 12);
	h->cur_element_count = load_u64(b + 20);
	h->size_data_per_element = load_u64(b + 28);
	h->label_offset = load_u64(b + 36);
	h->offset_data = load_u64(b + 44);
	h->maxlevel = (int32_t)load_u32(b + 52);
	h->enterpoint = load_u32(b + 56);
	h->max_m = load_u64(b + 60);
	h->max_m0 = load_u64(b + 68);
	h->m = load_u64(b + 76);
	memcpy(&h->mult, b + 84, 8);
	h->ef_construction = load_u64(b + 92);
}

static int bad(struct cv_err *e, const char *name, size_t off, const char *what)
{
	return cv_errf(e, CV_ECORRUPT, "%s: offset %zu: %s", name, off, what);
}

int hnsw_header_parse(const uint8_t *buf, size_t len, const char *name,
		      struct hnsw_header *h, struct cv_err *e)
{
	uint64_t dim;

	if (len != HNSW_HEADER_SIZE)
		return cv_errf(e, CV_ECORRUPT, "%s: %zu bytes, a header has %d",
			       name, len, HNSW_HEADER_SIZE);
	header_decode(buf, h);
	if (h->version != 1)
		return bad(e, name, 0, "persistence version is not 1");
	if (h->offset_level0 != 0)
		return bad(e, name, 4, "offsetLevel0 is not 0");
	if (h->max_m0 == 0 || h->max_m0 > MAX_M0 || h->max_m == 0 || h->max_m > MAX_M0)
		return bad(e, name, 60, "maxM/maxM0 out of range");
	if (h->offset_data != 4 + 4 * h->max_m0)
		return bad(e, name, 44, "offsetData does not match maxM0");
	if (h->label_offset <= h->offset_data || (h->label_offset - h->offset_data) % 4)
		return bad(e, name, 36, "label offset does not match the data offset");
	dim = (h->label_offset - h->offset_data) / 4;
	if (dim == 0 || dim > MAX_DIM)
		return bad(e, name, 36, "dimension out of range");
	if (h->size_data_per_element != h->label_offset + 8)
		return bad(e, name, 28, "element size does not match the label offset");
	if (h->cur_element_count > h->max_elements ||
	    h->cur_element_count > UINT32_MAX)
		return bad(e, name, 20, "element count exceeds the capacity");
	if (h->cur_element_count == 0 ? h->maxlevel > 0 :
	    (h->maxlevel < 0 || h->maxlevel > 64 ||
	     h->enterpoint >= h->cur_element_count))
		return bad(e, name, 52, "max level or entry point inconsistent");
	h->dim = (uint32_t)dim;
	return 0;
}

/* Pointer to bytes [off, off+n) of a window's file, valid until the next call. */
static int win_get(struct hnsw_window *w, uint64_t off, size_t n,
		   const uint8_t **p, struct cv_err *e)
{
	size_t want, got = 0;
	ssize_t r;

	if (off + n > w->size)
		return cv_errf(e, CV_ECORRUPT, "%s: offset %llu: truncated (file has "
			       "%llu bytes)", w->name, ull(off + n),
			       (unsigned long long)w->size);
	if (off >= w->off && off + n <= w->off + w->len) {
		*p = w->buf + (off - w->off);
		return 0;
	}
	want = w->cap > n ? w->cap : n;
	if (want > w->cap) {
		w->buf = xrealloc(w->buf, want);
		w->cap = want;
	}
	if (want > w->size - off)
		want = (size_t)(w->size - off);
	while (got < want) {
		r = pread(w->fd, w->buf + got, want - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return cv_errno(e, CV_EIO, "%s: read at offset %llu", w->name,
					ull(off + got));
		got += (size_t)r;
	}
	w->off = off;
	w->len = got;
	*p = w->buf;
	return 0;
}

static int win_open(struct hnsw_window *w, const char *dir, const char *file,
		    size_t cap, struct cv_err *e)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	sb_addf(&sb, "%s/%s", dir, file);
	w->name = sb_detach(&sb, NULL);
	w->fd = open(w->name, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0)
		return cv_errno(e, CV_ECORRUPT, "%s: cannot open", w->name);
	if (fstat(w->fd, &st))
		return cv_errno(e, CV_EIO, "%s: cannot stat", w->name);
	w->size = (uint64_t)st.st_size;
	w->cap = cap;
	w->buf = xmalloc(cap);
	return 0;
}

static void win_close(struct hnsw_window *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free((char *)w->name);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

static int read_header(const char *dir, struct hnsw_header *h, struct cv_err *e)
{
	struct hnsw_window w;
	const uint8_t *p = NULL;
	int rc;

	if ((rc = win_open(&w, dir, "header.bin", HNSW_HEADER_SIZE, e)))
		goto out;
	if (w.size != HNSW_HEADER_SIZE) {
		rc = cv_errf(e, CV_ECORRUPT, "%s: %llu bytes, a header has %d", w.name,
			     (unsigned long long)w.size, HNSW_HEADER_SIZE);
		goto out;
	}
	if (!(rc = win_get(&w, 0, HNSW_HEADER_SIZE, &p, e)))
		rc = hnsw_header_parse(p, HNSW_HEADER_SIZE, w.name, h, e);
out:
	win_close(&w);
	return rc;
}

/* link_lists.bin: cur records of u32 size + size bytes, consumed exactly. */
static int check_link_lists(struct hnsw_index *ix, struct cv_err *e)
{
	struct hnsw_window w;
	uint64_t off = 0, i, per = 4 + 4 * ix->hdr.max_m, size;
	const uint8_t *p = NULL;
	int rc;

	if ((rc = win_open(&w, ix->dir, "link_lists.bin", DATA_WINDOW, e)))
		goto out;
	ix->link_size = w.size;
	for (i = 0; i < ix->hdr.cur_element_count; i++) {
		if ((rc = win_get(&w, off, 4, &p, e)))
			goto out;
		size = load_u32(p);
		if (size % per || size / per > (uint64_t)(ix->hdr.maxlevel > 0 ?
							  ix->hdr.maxlevel : 0)) {
			rc = cv_errf(e, CV_ECORRUPT, "%s: element %llu at offset %llu: "
				     "link list size %llu does not fit the header",
				     w.name, (unsigned long long)i,
				     (unsigned long long)off, (unsigned long long)size);
			goto out;
		}
		off += 4 + size;
	}
	if (off != w.size)
		rc = cv_errf(e, CV_ECORRUPT, "%s: %llu elements end at offset %llu, "
			     "the file has %llu bytes", w.name,
			     (unsigned long long)ix->hdr.cur_element_count,
			     (unsigned long long)off, (unsigned long long)w.size);
out:
	win_close(&w);
	return rc;
}

/*
 * The label -> slot lookup in memory. Labels are normally below twice the
 * element count (Chroma numbers them from 1, in insertion order): then the
 * label is the index (lk_label NULL). A larger label turns the table into
 * open addressing over (label, slot) pairs. SIZE_MAX: not present.
 */
static size_t lk_find(const struct hnsw_index *ix, uint64_t label)
{
	size_t i;

	if (!ix->lk_label)
		return label < ix->lk_cap ? (size_t)label : SIZE_MAX;
	i = (size_t)(label * 0x9e3779b97f4a7c15ull) & (ix->lk_cap - 1);
	while (ix->lk_slot[i] != UINT32_MAX && ix->lk_label[i] != label)
		i = (i + 1) & (ix->lk_cap - 1);
	return i;
}

static void lk_alloc(struct hnsw_index *ix, size_t cap, int dense)
{
	ix->lk_cap = cap;
	ix->lk_label = dense ? NULL : xmalloc(cap * sizeof(*ix->lk_label));
	ix->lk_slot = xmalloc(cap * sizeof(*ix->lk_slot));
	ix->lk_deleted = xcalloc(cap, 1);
	memset(ix->lk_slot, 0xff, cap * sizeof(*ix->lk_slot));
}

/* From the label-indexed table to open addressing, entries kept. */
static void lk_to_hash(struct hnsw_index *ix)
{
	uint32_t *slot = ix->lk_slot;
	uint8_t *del = ix->lk_deleted;
	size_t old = ix->lk_cap, cap = 16, i, k;

	while (cap < 2 * ix->hdr.cur_element_count)
		cap <<= 1;
	lk_alloc(ix, cap, 0);
	for (k = 0; k < old; k++) {
		if (slot[k] == UINT32_MAX)
			continue;
		i = lk_find(ix, k);
		ix->lk_label[i] = k;
		ix->lk_slot[i] = slot[k];
		ix->lk_deleted[i] = del[k];
	}
	free(slot);
	free(del);
}

static int lk_insert(struct hnsw_index *ix, uint64_t label, uint32_t slot,
		     int deleted, struct cv_err *e)
{
	size_t i = lk_find(ix, label);
	const uint8_t *p = NULL;
	int rc;

	if (i == SIZE_MAX) { /* past the label-indexed table */
		lk_to_hash(ix);
		i = lk_find(ix, label);
	}
	if (ix->lk_slot[i] != UINT32_MAX) {
		/* labels are never reused: only a deleted slot may share one */
		if (deleted)
			return 0;
		if ((rc = win_get(&ix->wdata, (uint64_t)ix->lk_slot[i] *
				  ix->hdr.size_data_per_element, 4, &p, e)))
			return rc;
		if (!(p[2] & HNSW_DELETE_MARK))
			return cv_errf(e, CV_ECORRUPT, "%s: elements %u and %u both "
				       "carry label %llu", ix->wdata.name,
				       ix->lk_slot[i], slot, (unsigned long long)label);
	}
	if (ix->lk_label)
		ix->lk_label[i] = label;
	ix->lk_slot[i] = slot;
	ix->lk_deleted[i] = deleted != 0;
	return 0;
}

static int scan_one(struct hnsw_index *ix, uint64_t i, const uint8_t *p,
		    struct cv_err *e)
{
	uint64_t label = load_u64(p + ix->hdr.label_offset);
	int deleted = p[2] & HNSW_DELETE_MARK;

	ix->n_deleted += deleted != 0;
	if (ix->sf)
		return sf_add(ix->sf, label, (uint32_t)i, deleted, e);
	return lk_insert(ix, label, (uint32_t)i, deleted, e);
}

static int scan_slots(struct hnsw_index *ix, uint64_t table_max,
		      struct cv_err *e)
{
	const struct hnsw_header *h = &ix->hdr;
	uint64_t i, n = h->cur_element_count;
	const uint8_t *p = NULL;
	int rc;

	if (ix->wdata.size < n * h->size_data_per_element)
		return cv_errf(e, CV_ECORRUPT, "%s: %llu bytes, %llu elements of %llu "
			       "bytes need %llu", ix->wdata.name,
			       (unsigned long long)ix->wdata.size, (unsigned long long)n,
			       (unsigned long long)h->size_data_per_element,
			       ull(n * h->size_data_per_element));
	if (n > (table_max ? table_max : HNSW_TABLE_MAX)) {
		ix->sf = xcalloc(1, sizeof(*ix->sf));
		if ((rc = sf_open(ix->sf, ix->wdata.name, e)))
			return rc;
	} else {
		lk_alloc(ix, (size_t)(2 * n + 64), 1);
	}
	for (i = 0; i < n; i++) {
		if ((rc = win_get(&ix->wdata, i * h->size_data_per_element,
				  (size_t)h->size_data_per_element, &p, e)) ||
		    (rc = scan_one(ix, i, p, e)))
			return rc;
	}
	return ix->sf ? sf_finish(ix->sf, e) : 0;
}

int hnsw_open(const char *dir, int need_length, uint64_t table_max,
	      struct hnsw_index *ix, struct cv_err *e)
{
	int rc;

	memset(ix, 0, sizeof(*ix));
	ix->wdata.fd = ix->wlen.fd = -1;
	ix->dir = xstrdup(dir);
	if ((rc = read_header(dir, &ix->hdr, e)) ||
	    (rc = win_open(&ix->wdata, dir, "data_level0.bin", DATA_WINDOW, e)) ||
	    (rc = check_link_lists(ix, e)) ||
	    (rc = scan_slots(ix, table_max, e)))
		goto fail;
	if (need_length) {
		if ((rc = win_open(&ix->wlen, dir, "length.bin", LENGTH_WINDOW, e)))
			goto fail;
		if (ix->wlen.size < 4 * ix->hdr.cur_element_count) {
			rc = cv_errf(e, CV_ECORRUPT, "%s: %llu bytes, %llu elements need "
				     "%llu", ix->wlen.name, (unsigned long long)ix->wlen.size,
				     (unsigned long long)ix->hdr.cur_element_count,
				     ull(4 * ix->hdr.cur_element_count));
			goto fail;
		}
	}
	return 0;
fail:
	hnsw_close(ix);
	return rc;
}

void hnsw_close(struct hnsw_index *ix)
{
	win_close(&ix->wdata);
	win_close(&ix->wlen);
	if (ix->sf) {
		sf_close(ix->sf);
		free(ix->sf);
	}
	free(ix->lk_label);
	free(ix->lk_slot);
	free(ix->lk_deleted);
	free(ix->dir);
	memset(ix, 0, sizeof(*ix));
	ix->wdata.fd = ix->wlen.fd = -1;
}

int hnsw_find(struct hnsw_index *ix, uint64_t label, uint32_t *slot,
	      int *deleted, struct cv_err *e)
{
	size_t i;

	if (ix->sf)
		return sf_find(ix->sf, label, slot, deleted, e);
	if (!ix->lk_cap)
		return CV_ENOTFOUND;
	i = lk_find(ix, label);
	if (i == SIZE_MAX || ix->lk_slot[i] == UINT32_MAX)
		return CV_ENOTFOUND;
	*slot = ix->lk_slot[i];
	*deleted = ix->lk_deleted[i];
	return 0;
}

int hnsw_slot_flags(struct hnsw_index *ix, uint32_t slot, uint8_t *flags,
		    struct cv_err *e)
{
	const uint8_t *p = NULL;
	int rc;

	if (slot >= ix->hdr.cur_element_count)
		return cv_errf(e, CV_ECORRUPT, "%s: element %u out of range",
			       ix->wdata.name, slot);
	rc = win_get(&ix->wdata, (uint64_t)slot * ix->hdr.size_data_per_element,
		     4, &p, e);
	if (!rc)
		*flags = p[2];
	return rc;
}

int hnsw_read_vector(struct hnsw_index *ix, uint32_t slot, int cosine,
		     float *out, struct cv_err *e)
{
	const struct hnsw_header *h = &ix->hdr;
	const uint8_t *p = NULL;
	float len;
	uint32_t i;
	int rc;

	if (slot >= h->cur_element_count)
		return cv_errf(e, CV_ECORRUPT, "%s: element %u out of range",
			       ix->wdata.name, slot);
	if ((rc = win_get(&ix->wdata, (uint64_t)slot * h->size_data_per_element +
			  h->offset_data, 4 * (size_t)h->dim, &p, e)))
		return rc;
	assert(p);
	memcpy(out, p, 4 * (size_t)h->dim);
	if (!cosine)
		return 0;
	if ((rc = win_get(&ix->wlen, 4 * (uint64_t)slot, 4, &p, e)))
		return rc;
	memcpy(&len, p, 4);
	for (i = 0; i < h->dim; i++)
		out[i] *= len;
	return 0;
}
