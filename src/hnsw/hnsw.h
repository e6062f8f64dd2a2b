/*
 * Chroma's hnswlib persisted segment folder: header.bin, data_level0.bin,
 * length.bin, link_lists.bin (chroma-format.md §5.2-5.7). Read-only.
 */
#ifndef CV_HNSW_H
#define CV_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "hnsw/slotfile.h"
#include "util/err.h"

#define HNSW_HEADER_SIZE 100
#define HNSW_DELETE_MARK 0x01
/* Elements whose label lookup is held in memory (about 9 bytes each); a
 * larger index keeps it in a temporary file (slotfile.h). */
#define HNSW_TABLE_MAX (1ull << 20)

struct hnsw_header {
	int32_t version;
	uint64_t offset_level0;
	uint64_t max_elements;
	uint64_t cur_element_count;
	uint64_t size_data_per_element;
	uint64_t label_offset;
	uint64_t offset_data;
	int32_t maxlevel;
	uint32_t enterpoint;
	uint64_t max_m;
	uint64_t max_m0;
	uint64_t m;
	double mult;
	uint64_t ef_construction;
	uint32_t dim;               /* derived: (label_offset - offset_data) / 4 */
};

/*
 * Decode and validate the 100 header bytes (version 1, offsets consistent,
 * dimension sane). `name` names the file in messages.
 */
int hnsw_header_parse(const uint8_t *buf, size_t len, const char *name,
		      struct hnsw_header *h, struct cv_err *e);

struct hnsw_index {
	char *dir;
	struct hnsw_header hdr;
	uint64_t link_size;         /* link_lists.bin */
	/* label -> slot lookup built by hnsw_open: indexed by label, or open
	 * addressing when a label is too large for that (lk_label set); in a
	 * file above table_max elements (sf set) */
	struct slotfile *sf;
	uint64_t *lk_label;
	uint32_t *lk_slot;
	uint8_t *lk_deleted;
	size_t lk_cap;
	size_t n_deleted;
	/* read windows over data_level0.bin and length.bin */
	struct hnsw_window {
		int fd;
		uint64_t size;       /* file size */
		uint8_t *buf;
		uint64_t off, len;   /* bytes [off, off+len) are in buf */
		size_t cap;
		const char *name;
	} wdata, wlen;
};

/*
 * Open DIR read-only, parse and check the header against the file sizes,
 * scan every slot's label and flags to build the label lookup, and check
 * that link_lists.bin is consumed exactly by cur_element_count records.
 * need_length: length.bin must cover every slot (cosine space).
 * table_max: elements above which the lookup goes to a file (0: HNSW_TABLE_MAX).
 * Errors name the file and byte offset. On error nothing needs releasing.
 */
int hnsw_open(const char *dir, int need_length, uint64_t table_max,
	      struct hnsw_index *ix, struct cv_err *e);
void hnsw_close(struct hnsw_index *ix);

/*
 * Slot of a label and whether it carries the delete mark: 0, CV_ENOTFOUND,
 * or an error reading the lookup file.
 */
int hnsw_find(struct hnsw_index *ix, uint64_t label, uint32_t *slot,
	      int *deleted, struct cv_err *e);

/* Flags byte of a slot (bit 0: deleted). slot < cur_element_count. */
int hnsw_slot_flags(struct hnsw_index *ix, uint32_t slot, uint8_t *flags,
		    struct cv_err *e);

/*
 * The user's vector of a slot into out[dim]: stored floats, multiplied back
 * by length[slot] as float32 when `cosine` (what Chroma's get returns).
 */
int hnsw_read_vector(struct hnsw_index *ix, uint32_t slot, int cosine,
		     float *out, struct cv_err *e);

#endif
