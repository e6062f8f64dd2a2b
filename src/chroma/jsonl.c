/*
 * JSONL writer (see jsonl.h and docs/FORMAT.md). The reading thread renders
 * everything but the embedding; formatting floats, the bulk of the work, runs
 * on worker threads; batches are written in the order they were queued.
 */
#include "chroma/jsonl.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/jsonw.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define BATCH_RECORDS 256
/* A batch also ends at this many bytes of input (text and floats), so its
 * memory does not grow with the size of records (long documents, wide
 * embeddings); 256 KiB was 5% slower on 384-float records. */
#define BATCH_BYTES (512u << 10)
#define MAX_THREADS 8

static void canonical_or_null(struct strbuf *sb, const char *raw)
{
	json_t *j = raw ? json_loads(raw, JSON_DECODE_ANY, NULL) : NULL;

	if (j)
		jw_json(sb, j);
	else
		sb_adds(sb, "null");
	json_decref(j);
}

void jsonl_header(struct strbuf *sb, const struct cv_collection *c)
{
	sb_addf(sb, "{\"_collection\":{\"format\":%d,\"name\":", JSONL_FORMAT_VERSION);
	jw_str(sb, c->name, strlen(c->name));
	sb_adds(sb, ",\"id\":");
	jw_str(sb, c->id, strlen(c->id));
	sb_adds(sb, ",\"tenant\":");
	jw_str(sb, c->tenant, strlen(c->tenant));
	sb_adds(sb, ",\"database\":");
	jw_str(sb, c->database, strlen(c->database));
	sb_adds(sb, ",\"dimension\":");
	if (c->has_dimension)
		jw_int(sb, c->dimension);
	else
		sb_adds(sb, "null");
	sb_addf(sb, ",\"space\":\"%s\",\"metadata\":", c->space);
	sb_adds(sb, c->metadata_json ? c->metadata_json : "null");
	sb_adds(sb, ",\"configuration\":");
	canonical_or_null(sb, c->config_json);
	sb_adds(sb, ",\"schema\":");
	canonical_or_null(sb, c->schema_json);
	sb_adds(sb, "}}\n");
}

static void record_prefix(struct strbuf *sb, const struct cv_record *rec)
{
	sb_adds(sb, "{\"id\":");
	jw_str(sb, rec->id, rec->id_len);
	sb_adds(sb, ",\"metadata\":");
	sb_add(sb, rec->meta_json, rec->meta_len);
	sb_adds(sb, ",\"embedding\":");
}

static void record_suffix(struct strbuf *sb, const struct cv_record *rec)
{
	sb_adds(sb, ",\"text_chunk\":");
	if (rec->doc)
		jw_str(sb, rec->doc, rec->doc_len);
	else
		sb_adds(sb, "null");
	if (rec->uri) {
		sb_adds(sb, ",\"uri\":");
		jw_str(sb, rec->uri, rec->uri_len);
	}
	sb_adds(sb, "}\n");
}

void jsonl_record(struct strbuf *sb, const struct cv_record *rec)
{
	record_prefix(sb, rec);
	if (rec->vec)
		jw_f32_array(sb, rec->vec, rec->dim);
	else
		sb_adds(sb, "null");
	record_suffix(sb, rec);
}

/* One queued line: text[pre) + embedding + text[suf). */
struct item {
	size_t pre_off, pre_len, suf_off, suf_len;
	size_t vec_off, dim;   /* dim 0: no embedding ("null" unless a line) */
	int is_line;
};

struct batch {
	struct strbuf text;   /* rendered prefixes and suffixes */
	float *vecs;
	size_t nvec, capvec;
	struct item items[BATCH_RECORDS];
	size_t n;
	struct strbuf out;
	unsigned long seq;
	struct batch *next;   /* in the free list or the ready queue */
};

struct jsonl_writer {
	struct ostream *os;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[MAX_THREADS];
	int nth;
	struct batch *free_list, *ready_head, *ready_tail, *cur;
	struct batch *done;   /* formatted, waiting for their turn to be written */
	unsigned long next_seq, write_seq;
	int stop, writing;
};

static void batch_format(struct batch *b)
{
	const struct item *it;
	size_t i;

	sb_reset(&b->out);
	for (i = 0; i < b->n; i++) {
		it = &b->items[i];
		sb_add(&b->out, b->text.buf + it->pre_off, it->pre_len);
		if (it->is_line)
			continue;
		if (it->dim)
			jw_f32_array(&b->out, b->vecs + it->vec_off, it->dim);
		else
			sb_add(&b->out, "null", 4);
		sb_add(&b->out, b->text.buf + it->suf_off, it->suf_len);
	}
}

static struct batch *batch_new(void)
{
	struct batch *b = xcalloc(1, sizeof(*b));

	sb_init(&b->text, 64 * 1024);
	sb_init(&b->out, 256 * 1024);
	return b;
}

static void batch_free(struct batch *b)
{
	sb_release(&b->text);
	sb_release(&b->out);
	free(b->vecs);
	free(b);
}

/*
 * With the lock held: b is formatted; write every batch whose turn has come.
 * Nobody waits for its turn: a batch that is early stays in the done list,
 * and whoever finishes the batch due writes the run of them, unlocked, while
 * the other threads go on formatting.
 */
static void write_in_order(struct jsonl_writer *w, struct batch *b)
{
	struct batch **pp, *due;

	b->next = w->done;
	w->done = b;
	while (!w->writing) {
		for (pp = &w->done; *pp && (*pp)->seq != w->write_seq; pp = &(*pp)->next)
			;
		if (!(due = *pp))
			break;
		*pp = due->next;
		w->writing = 1;
		pthread_mutex_unlock(&w->mu);
		os_write(w->os, due->out.buf, due->out.len);
		pthread_mutex_lock(&w->mu);
		w->writing = 0;
		w->write_seq++;
		due->next = w->free_list;
		w->free_list = due;
		pthread_cond_broadcast(&w->cv);
	}
}

static void *worker(void *arg)
{
	struct jsonl_writer *w = arg;
	struct batch *b;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->ready_head && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->ready_head)
			break;
		b = w->ready_head;
		w->ready_head = b->next;
		if (!w->ready_head)
			w->ready_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		batch_format(b);
		pthread_mutex_lock(&w->mu);
		write_in_order(w, b);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct jsonl_writer *jsonl_writer_new(struct ostream *os, int threads)
{
	struct jsonl_writer *w = xcalloc(1, sizeof(*w));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int i;

	if (threads < 0)
		threads = ncpu > 1 ? (int)ncpu : 0;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	w->os = os;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* two batches a thread, at most 10 (each up to ~2 MiB rendered) */
	for (i = 0; i < 2 * threads + 2 && i < 10; i++) {
		struct batch *b = batch_new();

		b->next = w->free_list;
		w->free_list = b;
	}
	for (i = 0; i < threads; i++)
		if (!thread_start(&w->th[w->nth], worker, w))
			w->nth++;
	return w;
}

/* Hand the current batch to the workers (or format it here if none). */
static void submit(struct jsonl_writer *w)
{
	struct batch *b = w->cur;

	w->cur = NULL;
	if (!b)
		return;
	pthread_mutex_lock(&w->mu);
	b->seq = w->next_seq++;
	if (!w->nth) {
		pthread_mutex_unlock(&w->mu);
		batch_format(b);
		pthread_mutex_lock(&w->mu);
		write_in_order(w, b);
	} else {
		b->next = NULL;
		if (w->ready_tail)
			w->ready_tail->next = b;
		else
			w->ready_head = b;
		w->ready_tail = b;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
}

static struct batch *current(struct jsonl_writer *w)
{
	struct batch *b;

	if (w->cur && (w->cur->n == BATCH_RECORDS ||
		       w->cur->text.len + w->cur->nvec * sizeof(float) >= BATCH_BYTES))
		submit(w);
	if (w->cur)
		return w->cur;
	pthread_mutex_lock(&w->mu);
	while (!w->free_list)
		pthread_cond_wait(&w->cv, &w->mu);
	b = w->free_list;
	w->free_list = b->next;
	pthread_mutex_unlock(&w->mu);
	b->n = 0;
	b->nvec = 0;
	sb_reset(&b->text);
	w->cur = b;
	return b;
}

void jsonl_writer_line(struct jsonl_writer *w, const char *text, size_t n)
{
	struct batch *b = current(w);
	struct item *it = &b->items[b->n++];

	memset(it, 0, sizeof(*it));
	it->is_line = 1;
	it->pre_off = b->text.len;
	sb_add(&b->text, text, n);
	it->pre_len = n;
}

static size_t copy_vec(struct batch *b, const float *v, size_t dim)
{
	size_t off = b->nvec;

	if (b->nvec + dim > b->capvec) {
		b->capvec = (b->nvec + dim) * 2;
		b->vecs = xrealloc(b->vecs, b->capvec * sizeof(float));
	}
	memcpy(b->vecs + off, v, dim * sizeof(float));
	b->nvec += dim;
	return off;
}

void jsonl_writer_record(struct jsonl_writer *w, const struct cv_record *rec)
{
	struct batch *b = current(w);
	struct item *it = &b->items[b->n++];

	memset(it, 0, sizeof(*it));
	it->pre_off = b->text.len;
	if (rec->vec_text) { /* nothing to format: one finished line */
		record_prefix(&b->text, rec);
		sb_add(&b->text, rec->vec_text, rec->vec_text_len);
		record_suffix(&b->text, rec);
		it->pre_len = b->text.len - it->pre_off;
		it->is_line = 1;
		return;
	}
	record_prefix(&b->text, rec);
	it->pre_len = b->text.len - it->pre_off;
	it->suf_off = b->text.len;
	record_suffix(&b->text, rec);
	it->suf_len = b->text.len - it->suf_off;
	if (rec->vec && rec->dim) {
		it->vec_off = copy_vec(b, rec->vec, rec->dim);
		it->dim = rec->dim;
	}
}

void jsonl_writer_free(struct jsonl_writer *w)
{
	struct batch *b;
	int i;

	submit(w);
	pthread_mutex_lock(&w->mu);
	while (w->write_seq != w->next_seq)
		pthread_cond_wait(&w->cv, &w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->nth; i++)
		pthread_join(w->th[i], NULL);
	while ((b = w->free_list)) {
		w->free_list = b->next;
		batch_free(b);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
