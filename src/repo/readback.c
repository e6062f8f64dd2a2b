/*
 * Reading a file back from its chunks (see readback.h): workers take units
 * of consecutive chunks in order, at most a window ahead of the hashing; the
 * units are hashed in order by whichever worker finishes the unit that is
 * due (one at a time), so none waits for its turn.
 */
#include "repo/readback.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define UNIT_BYTES (4u << 20)
#define MAX_WORKERS 8

struct unit {
	size_t first, n;       /* chunks [first, first + n) of the list */
	uint64_t off;          /* in the file */
	struct strbuf data;
	int done, rc;          /* rc: the pass stops here */
	struct rb_fail *fails; /* its bad chunks, in order */
	size_t nfails;
};

struct pass {
	struct readback *rb;
	const struct chunk_loc **locs; /* each chunk's, looked up once */
	struct unit *u;
	size_t nu, next, hashed, window;
	struct sha256 whole;   /* fed in unit order */
	struct unit *failed;   /* the first unit, in order, that stopped it */
	int stop, hashing;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void unit_fail(struct unit *u, size_t idx, uint64_t off,
		      const struct cv_err *err)
{
	u->fails = xrealloc(u->fails, (u->nfails + 1) * sizeof(*u->fails));
	u->fails[u->nfails].idx = idx;
	u->fails[u->nfails].off = off;
	u->fails[u->nfails++].err = *err;
}

static int chunk_checked(const struct readback *rb, size_t i)
{
	return rb->check_all || (rb->check && rb->check[i]);
}

static void run_unit(struct pass *p, struct repo_reader *rd, struct unit *u)
{
	struct readback *rb = p->rb;
	struct cv_err err = { 0 };
	uint64_t at = u->off; /* by the index: a bad chunk adds nothing */
	size_t i, k;
	int rc;

	for (i = 0; !u->rc && i < u->n; at += p->locs[k]->ulen, i++) {
		k = u->first + i;
		rc = (chunk_checked(rb, k) ? repo_append_at : repo_append_unchecked)(
			rb->r, rd, p->locs[k], rb->hashes + k * SHA256_LEN, &u->data, &err);
		if (!rc)
			continue;
		unit_fail(u, k, at, &err);
		cv_err_clear(&err);
		if (!rb->keep_going)
			u->rc = rc;
	}
	if (!u->rc && rb->put && (rc = rb->put(rb->ctx, u->data.buf, u->data.len,
					       u->off, &err))) {
		unit_fail(u, u->first, u->off, &err);
		u->rc = rc;
	}
}

/* With the lock held: hash the units whose turn has come, one thread at a time. */
static void hash_due(struct pass *p)
{
	struct unit *u;

	while (!p->hashing && !p->stop && p->hashed < p->nu && p->u[p->hashed].done) {
		u = &p->u[p->hashed];
		if (u->rc) {
			p->failed = u;
			p->stop = 1;
			break;
		}
		p->hashing = 1;
		pthread_mutex_unlock(&p->mu);
		sha256_update(&p->whole, u->data.buf, u->data.len);
		if (p->rb->hashed)
			p->rb->hashed(p->rb->ctx, u->data.len);
		sb_release(&u->data);
		pthread_mutex_lock(&p->mu);
		p->hashing = 0;
		p->hashed++;
	}
	pthread_cond_broadcast(&p->cv);
}

static void *worker(void *arg)
{
	struct pass *p = arg;
	struct repo_reader rd;
	struct unit *u;

	repo_reader_init(&rd);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next < p->nu && p->next >= p->hashed + p->window)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop || p->next >= p->nu)
			break;
		u = &p->u[p->next++];
		pthread_mutex_unlock(&p->mu);
		run_unit(p, &rd, u);
		pthread_mutex_lock(&p->mu);
		u->done = 1;
		hash_due(p);
	}
	pthread_mutex_unlock(&p->mu);
	repo_reader_release(&rd);
	return NULL;
}

static void new_unit(struct pass *p, size_t first, uint64_t off, size_t *cap)
{
	if (p->nu == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		p->u = xrealloc(p->u, *cap * sizeof(*p->u));
	}
	memset(&p->u[p->nu], 0, sizeof(p->u[0]));
	p->u[p->nu].first = first;
	p->u[p->nu++].off = off;
}

/* A chunk no index holds: named, with the offset it would be at. */
static int not_found(struct readback *rb, size_t i, uint64_t off, struct cv_err *e)
{
	char hex[2 * SHA256_LEN + 1];

	hex_encode(rb->hashes + i * SHA256_LEN, SHA256_LEN, hex);
	rb->size = off;
	rb->fails = xcalloc(1, sizeof(*rb->fails));
	rb->nfails = 1;
	rb->fails[0].idx = i;
	rb->fails[0].off = off;
	if (repo_indexes_ok(rb->r, e)) /* the likely cause, then */
		cv_err_prefix(e, "chunk %s: not in any index read; one could not be", hex);
	else
		cv_errf(e, CV_ECORRUPT, "chunk %s: not in the repository", hex);
	rb->fails[0].err = *e;
	return CV_ECORRUPT;
}

/* Cut the list into units; a chunk missing from every index is an error. */
static int plan_units(struct pass *p, struct cv_err *e)
{
	struct readback *rb = p->rb;
	uint64_t off = 0, len = 0;
	size_t i, cap = 0;

	p->locs = xcalloc(rb->n + 1, sizeof(const struct chunk_loc *));
	for (i = 0; i < rb->n; i++) {
		if (!(p->locs[i] = repo_find(rb->r, rb->hashes + i * SHA256_LEN)))
			return not_found(rb, i, off + len, e);
		if (!p->nu || len >= UNIT_BYTES) {
			off += len;
			len = 0;
			new_unit(p, i, off, &cap);
		}
		p->u[p->nu - 1].n++;
		len += p->locs[i]->ulen;
	}
	rb->size = off + len;
	return 0;
}

static size_t worker_count(size_t units)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	size_t w = n < 1 ? 1 : (size_t)n;

	w = w > MAX_WORKERS ? MAX_WORKERS : w;
	return w < units ? w : (units ? units : 1);
}

static void run_workers(struct pass *p)
{
	pthread_t th[MAX_WORKERS];
	size_t nw = worker_count(p->nu), started = 0, i;

	p->window = 2 * nw + 2;
	for (i = 0; i < nw; i++)
		if (!thread_start(&th[started], worker, p))
			started++;
	if (!started)
		worker(p); /* no thread: this one reads and hashes it all */
	pthread_mutex_lock(&p->mu);
	while (!p->stop && p->hashed < p->nu)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

/* The units' bad chunks, in order: all, or the one that stopped the pass. */
static int collect(struct pass *p, struct cv_err *e)
{
	struct readback *rb = p->rb;
	size_t i, k;

	for (i = 0; i < p->nu; i++) {
		struct unit *u = &p->u[i];

		for (k = 0; k < u->nfails && (!p->failed || u == p->failed); k++) {
			rb->fails = xrealloc(rb->fails, (rb->nfails + 1) * sizeof(*rb->fails));
			rb->fails[rb->nfails++] = u->fails[k];
		}
	}
	if (!p->failed)
		return 0;
	*e = rb->fails[rb->nfails - 1].err;
	return p->failed->rc;
}

int readback_run(struct readback *rb, struct cv_err *e)
{
	struct pass p = { .rb = rb };
	size_t i;
	int rc;

	assert(!(rb->keep_going && rb->put)); /* a bad chunk shifts what follows */
	rb->fails = NULL;
	rb->nfails = 0;
	rb->size = 0;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	sha256_init(&p.whole);
	if (!(rc = plan_units(&p, e))) {
		run_workers(&p);
		rc = collect(&p, e);
	}
	sha256_final(&p.whole, rb->sha);
	for (i = 0; i < p.nu; i++) {
		sb_release(&p.u[i].data);
		free(p.u[i].fails);
	}
	free(p.u);
	free(p.locs);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return rc;
}

void readback_release(struct readback *rb)
{
	free(rb->fails);
	rb->fails = NULL;
	rb->nfails = 0;
}
