/*
 * Compression pool (see zpool.h).
 */
#include "repo/zpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define ZPOOL_MAX_THREADS 8

struct zpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[ZPOOL_MAX_THREADS];
	int nth, level, stop;
	ZSTD_CCtx *inline_cctx;
	struct zbatch *free_list;
	struct zbatch *todo_head, *todo_tail;    /* waiting for a worker */
	struct zbatch **fifo;                    /* submitted, oldest first */
	size_t nfifo, capfifo;
};

/*
 * Items [i, end) form one frame: whole chunks, all deltas or none, at most
 * ZFRAME_BYTES of content and ZFRAME_PREFIX_BYTES of bases (a larger chunk
 * or base alone) and ZFRAME_ITEMS chunks.
 */
static size_t frame_end(const struct zbatch *b, size_t i)
{
	size_t len = b->it[i].ilen, pre = b->it[i].blen, k = i + 1;

	while (k < b->n && k - i < ZFRAME_ITEMS && b->it[k].delta == b->it[i].delta &&
	       len + b->it[k].ilen <= ZFRAME_BYTES &&
	       pre + b->it[k].blen <= ZFRAME_PREFIX_BYTES) {
		len += b->it[k].ilen;
		pre += b->it[k++].blen;
	}
	return k;
}

/*
 * Delta frames: no content size either (the index gives the length). Deltas are few, the chunks a flush
 * changed, so they can afford a slower level; a large one (a pickle written
 * whole in a new order) needs a window over base and chunk together and
 * long-distance matching to find its entries in the base.
 */
#define ZDELTA_LEVEL_SMALL 5
#define ZDELTA_LEVEL_LARGE 9
#define ZDELTA_LARGE (1u << 20)

static void delta_params(ZSTD_CCtx *cc, size_t content, size_t prefix)
{
	int wlog = 10;

	ZSTD_CCtx_reset(cc, ZSTD_reset_parameters);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	while (wlog < 27 && ((size_t)1 << wlog) < content + prefix)
		wlog++;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, wlog);
	if (content < ZDELTA_LARGE) {
		ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, ZDELTA_LEVEL_SMALL);
		return;
	}
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, ZDELTA_LEVEL_LARGE);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_enableLongDistanceMatching, 1);
}

/*
 * No frame checksum: what a frame holds is checked when it is read, against
 * each chunk's SHA-256 or, by restore, against its whole file's.
 */
static void frame_params(ZSTD_CCtx *cc, int level)
{
	ZSTD_CCtx_reset(cc, ZSTD_reset_parameters);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
}

/* A delta frame's header: the count, then each chunk's base hash. */
static size_t delta_header(struct zbatch *b, size_t i, size_t end, uint8_t *out)
{
	uint32_t n = (uint32_t)(end - i);
	size_t k;

	memcpy(out, &n, 4);
	for (k = i; k < end; k++)
		memcpy(out + 4 + (k - i) * SHA256_LEN, b->it[k].base, SHA256_LEN);
	return 4 + (size_t)n * SHA256_LEN;
}

static void compress_batch(ZSTD_CCtx *cc, struct zbatch *b)
{
	size_t i = 0, k, end, ulen, bound, c, start, skip, prefix;
	int delta;

	sb_reset(&b->out);
	b->err[0] = '\0';
	frame_params(cc, b->level);
	while (i < b->n) {
		end = frame_end(b, i);
		delta = b->it[i].delta;
		ulen = b->it[end - 1].ioff + b->it[end - 1].ilen - b->it[i].ioff;
		bound = ZSTD_compressBound(ulen) + 4 + (end - i) * SHA256_LEN;
		sb_grow(&b->out, bound);
		start = b->out.len;
		skip = delta ? delta_header(b, i, end, (uint8_t *)b->out.buf + start) : 0;
		if (delta) {
			prefix = b->it[end - 1].boff + b->it[end - 1].blen - b->it[i].boff;
			delta_params(cc, ulen, prefix);
			ZSTD_CCtx_refPrefix(cc, b->bases.buf + b->it[i].boff, prefix);
		}
		c = ZSTD_compress2(cc, b->out.buf + start + skip, bound - skip,
				   b->in.buf + b->it[i].ioff, ulen);
		if (delta)
			frame_params(cc, b->level);
		if (ZSTD_isError(c)) {
			snprintf(b->err, sizeof(b->err), "zstd: %s", ZSTD_getErrorName(c));
			return;
		}
		c += skip;
		for (k = i; k < end; k++) {
			b->it[k].ooff = start;
			b->it[k].olen = c;
			b->it[k].uoff = (uint32_t)(b->it[k].ioff - b->it[i].ioff);
			b->it[k].fulen = (uint32_t)ulen;
			b->it[k].ord = (uint32_t)(k - i);
			b->it[k].count = (uint32_t)(end - i);
		}
		sb_setlen(&b->out, start + c);
		i = end;
	}
}

static ZSTD_CCtx *new_cctx(int level)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	frame_params(cc, level);
	return cc;
}

static void *worker(void *arg)
{
	struct zpool *p = arg;
	ZSTD_CCtx *cc = new_cctx(p->level);
	struct zbatch *b;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->todo_head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->todo_head)
			break;
		b = p->todo_head;
		p->todo_head = b->next;
		if (!p->todo_head)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);
		compress_batch(cc, b);
		pthread_mutex_lock(&p->mu);
		b->done = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	ZSTD_freeCCtx(cc);
	return NULL;
}

struct zpool *zpool_new(int threads, int level)
{
	struct zpool *p = xcalloc(1, sizeof(*p));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int i;

	if (threads < 0)
		threads = ncpu > 1 ? (int)ncpu : 0;
	if (threads > ZPOOL_MAX_THREADS)
		threads = ZPOOL_MAX_THREADS;
	p->level = level;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (i = 0; i < 2 * threads + 2; i++) {
		struct zbatch *b = xcalloc(1, sizeof(*b));

		sb_init(&b->in, ZBATCH_BYTES);
		sb_init(&b->out, 0);
		sb_init(&b->bases, 0);
		b->next = p->free_list;
		p->free_list = b;
	}
	p->capfifo = 2 * (size_t)threads + 2;
	p->fifo = xcalloc(p->capfifo, sizeof(struct zbatch *));
	if (!threads)
		p->inline_cctx = new_cctx(level);
	for (i = 0; i < threads; i++)
		if (!thread_start(&p->th[p->nth], worker, p))
			p->nth++;
	if (threads && !p->nth)
		p->inline_cctx = new_cctx(level);
	return p;
}

struct zbatch *zpool_batch(struct zpool *p)
{
	struct zbatch *b;

	pthread_mutex_lock(&p->mu);
	b = p->free_list;
	if (b)
		p->free_list = b->next;
	pthread_mutex_unlock(&p->mu);
	if (b) {
		sb_reset(&b->in);
		sb_reset(&b->bases);
		b->n = 0;
		b->level = p->level;
		b->done = 0;
		b->next = NULL;
	}
	return b;
}

void zpool_add(struct zbatch *b, const uint8_t *hash, const void *data, size_t n)
{
	struct zitem *it;

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		b->it = xrealloc(b->it, b->cap * sizeof(*b->it));
	}
	it = &b->it[b->n++];
	memset(it, 0, sizeof(*it));
	memcpy(it->hash, hash, SHA256_LEN);
	it->ioff = b->in.len;
	it->ilen = n;
	sb_add(&b->in, data, n);
}

void zpool_add_delta(struct zbatch *b, const uint8_t *hash, const void *data,
		     size_t n, const uint8_t *base, const void *bdata, size_t bn)
{
	struct zitem *it;

	zpool_add(b, hash, data, n);
	it = &b->it[b->n - 1];
	it->delta = 1;
	memcpy(it->base, base, SHA256_LEN);
	it->boff = b->bases.len;
	it->blen = bn;
	sb_add(&b->bases, bdata, bn);
}

void zpool_submit(struct zpool *p, struct zbatch *b)
{
	pthread_mutex_lock(&p->mu);
	p->fifo[p->nfifo++] = b;
	if (p->inline_cctx) {
		pthread_mutex_unlock(&p->mu);
		compress_batch(p->inline_cctx, b);
		b->done = 1;
		return;
	}
	b->next = NULL;
	if (p->todo_tail)
		p->todo_tail->next = b;
	else
		p->todo_head = b;
	p->todo_tail = b;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct zbatch *zpool_oldest(struct zpool *p, int wait)
{
	struct zbatch *b = NULL;

	pthread_mutex_lock(&p->mu);
	while (wait && p->nfifo && !p->fifo[0]->done)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->nfifo && p->fifo[0]->done) {
		b = p->fifo[0];
		memmove(p->fifo, p->fifo + 1, (p->nfifo - 1) * sizeof(struct zbatch *));
		p->nfifo--;
	}
	pthread_mutex_unlock(&p->mu);
	return b;
}

void zpool_release(struct zpool *p, struct zbatch *b)
{
	pthread_mutex_lock(&p->mu);
	b->next = p->free_list;
	p->free_list = b;
	pthread_mutex_unlock(&p->mu);
}

void zpool_free(struct zpool *p)
{
	struct zbatch *b;
	int i;

	if (!p)
		return;
	while ((b = zpool_oldest(p, 1)))
		zpool_release(p, b); /* only after a failure: drop what is in flight */
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	while ((b = p->free_list)) {
		p->free_list = b->next;
		sb_release(&b->in);
		sb_release(&b->out);
		sb_release(&b->bases);
		free(b->it);
		free(b);
	}
	ZSTD_freeCCtx(p->inline_cctx);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->fifo);
	free(p);
}
