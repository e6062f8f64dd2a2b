/*
 * id -> label by fingerprint (idmap.h). The dense table is an anonymous
 * mapping reserved for every label an index of that many ids may use:
 * untouched pages cost nothing, so a table indexed by label needs no
 * growing while the pickle lists its ids in any order.
 */
#include "chroma/idmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/xalloc.h"
#include "util/banned.h"

void idmap_init(struct idmap *m, const struct siphash_key *key, uint64_t max_ids)
{
	uint64_t labels = 2 * max_ids + 64;
	void *p = MAP_FAILED;

	memset(m, 0, sizeof(*m));
	m->key = *key;
	if (labels < UINT32_MAX && labels < SIZE_MAX / 8)
		p = mmap(NULL, (size_t)labels * 8, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED) {
		m->fp = p;
		m->cap_fp = (size_t)labels;
	}
}

static int dense(const struct idmap *m)
{
	return !m->label;
}

void idmap_release(struct idmap *m)
{
	if (dense(m) && m->fp)
		munmap(m->fp, m->cap_fp * 8);
	else
		free(m->fp);
	free(m->label);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void sparse_push(struct idmap *m, uint64_t fp, uint64_t label)
{
	if (m->n_fp == m->cap_fp) {
		m->cap_fp = m->cap_fp ? 2 * m->cap_fp : 1024;
		m->fp = xrealloc(m->fp, m->cap_fp * sizeof(*m->fp));
		m->label = xrealloc(m->label, m->cap_fp * sizeof(*m->label));
	}
	m->fp[m->n_fp] = fp;
	m->label[m->n_fp++] = label;
}

/* A label past the reserved range: every entry becomes a (fp, label) pair. */
static void to_sparse(struct idmap *m)
{
	uint64_t *fp = m->fp;
	size_t n = m->n_fp, cap = m->cap_fp, i;

	m->fp = NULL;
	m->label = xmalloc(sizeof(*m->label)); /* marks sparse from here on */
	m->n_fp = m->cap_fp = 0;
	for (i = 0; fp && i < n; i++)
		if (fp[i])
			sparse_push(m, fp[i], i);
	if (fp)
		munmap(fp, cap * 8);
}

uint64_t idmap_fp(const struct idmap *m, const char *id, size_t len)
{
	uint64_t h = siphash24(&m->key, id, len);

	return h ? h : 1;
}

int idmap_add(struct idmap *m, const char *id, size_t len, uint64_t label)
{
	uint64_t fp = idmap_fp(m, id, len);

	if (dense(m) && (!m->fp || label >= m->cap_fp))
		to_sparse(m);
	m->n++;
	if (!dense(m)) {
		sparse_push(m, fp, label);
		return 0;
	}
	assert(m->fp);
	if (m->fp[label]) {
		m->n--;
		return 1;
	}
	m->fp[label] = fp;
	if (label >= m->n_fp)
		m->n_fp = (size_t)label + 1;
	return 0;
}

/* First probe: the fingerprint scaled to the table (cap need not be 2^k). */
static size_t home(const struct idmap *m, uint64_t fp)
{
	return (size_t)(((unsigned __int128)fp * m->cap) >> 64);
}

int idmap_finish(struct idmap *m)
{
	size_t i, k;

	free(m->slots);
	m->cap = (size_t)(m->n + m->n / 4 + 16);
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < m->n_fp; i++) {
		if (!m->fp[i])
			continue;
		for (k = home(m, m->fp[i]); m->slots[k]; k = k + 1 == m->cap ? 0 : k + 1)
			if (m->fp[m->slots[k] - 1] == m->fp[i])
				return 1;
		m->slots[k] = (uint32_t)i + 1;
	}
	return 0;
}

int idmap_at(const struct idmap *m, uint64_t label, uint64_t fp)
{
	return dense(m) && label < m->n_fp && m->fp[label] == fp;
}

int idmap_find(const struct idmap *m, uint64_t fp, uint64_t *label)
{
	size_t k;

	if (!m->cap)
		return 0;
	for (k = home(m, fp); m->slots[k]; k = k + 1 == m->cap ? 0 : k + 1) {
		if (m->fp[m->slots[k] - 1] == fp) {
			*label = dense(m) ? m->slots[k] - 1 : m->label[m->slots[k] - 1];
			return 1;
		}
	}
	return 0;
}
