/*
 * The vector index's id -> label map (index_metadata.pickle, chroma-format.md
 * §5.8) without the ids themselves: each id is held as a 64-bit SipHash-2-4
 * fingerprint under a key drawn for the run (siphash_random_key), stored by label while labels
 * are dense (about 13 bytes an id), else as (fingerprint, label) entries.
 *
 * A fingerprint stands for its id. Two ids of one index sharing one are
 * detected (idmap_finish) and the caller draws a new key; an id outside the
 * index matches one of its ids with probability about 2^-63 a lookup.
 */
#ifndef CV_IDMAP_H
#define CV_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/siphash.h"

struct idmap {
	struct siphash_key key;
	uint64_t *fp;        /* dense: by label; sparse: by entry; 0: no id */
	uint64_t *label;     /* sparse: each entry's label; NULL when dense */
	size_t n_fp;         /* dense: 1 + the largest label; sparse: entries */
	size_t cap_fp;       /* dense: labels reserved (mapped, untouched) */
	uint32_t *slots;     /* fingerprint -> index + 1, linear probing */
	size_t cap;
	uint64_t n;          /* ids added */
};

/*
 * max_ids bounds the number of ids to come (it sizes the label range kept
 * dense, as address space only). Fingerprints are made with `key`.
 */
void idmap_init(struct idmap *m, const struct siphash_key *key, uint64_t max_ids);
void idmap_release(struct idmap *m);

/* 0, or 1 when the label already has an id (the new one is not added). */
int idmap_add(struct idmap *m, const char *id, size_t len, uint64_t label);

/* Build the lookup; 1 when two ids share a fingerprint (or an id repeats). */
int idmap_finish(struct idmap *m);

uint64_t idmap_fp(const struct idmap *m, const char *id, size_t len);
/* Whether label's id has fingerprint fp (dense only; else 0). */
int idmap_at(const struct idmap *m, uint64_t label, uint64_t fp);
/* The label of the id with fingerprint fp: 1 found, 0 not. */
int idmap_find(const struct idmap *m, uint64_t fp, uint64_t *label);

#endif
