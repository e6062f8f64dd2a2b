/*
 * index_metadata.pickle reader (pickle.h): the bounded pickle VM of
 * chroma-format.md §5.8, reading its input in windows. The index's three
 * big dicts (id_to_label, label_to_id, id_to_seq_id) are streamed: each
 * entry is handed on (or only counted) and its values dropped as soon as it
 * is complete, so the VM holds only the pickle's small top level.
 */
#include "chroma/pickle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xalloc.h"
#include "util/banned.h"

#define PICKLE_MAX_FILE (16ull << 30)
#define PICKLE_WINDOW (256u << 10)
#define PICKLE_MAX_LINE 4096
#define PICKLE_MAX_STRING (64u << 20) /* ids and field names are short */

enum pv_type {
	PV_NONE, PV_BOOL, PV_INT, PV_STR, PV_DICT, PV_SEQ, PV_GLOBAL, PV_OBJ,
	PV_GONE, /* a memoised value of a streamed entry, already dropped */
};

/* What a streamed dict does with its entries. */
enum pv_role { ROLE_KEEP, ROLE_IDS, ROLE_COUNT };

/* One value. A value's type never changes once made. */
struct pv {
	uint8_t type;
	uint8_t role;             /* PV_DICT */
	uint32_t n;               /* PV_STR length; PV_DICT entry count */
	union {
		int64_t i;        /* PV_INT, PV_BOOL */
		size_t s;         /* PV_STR: offset in the string arena */
		uint32_t *pairs;  /* kept PV_DICT: key, value, key, value ... */
	};
};

/* A MARK; a streamed dict's mark also records where its entry began. */
struct mark {
	size_t sp;
	int stream;
	size_t nv, nsa, nrecent;  /* values, arena bytes, memo puts then */
};

/* memo key -> value, open addressing with backward-shift deletion */
struct memo_slot {
	uint64_t key;
	uint32_t val;
	uint32_t used;
};

struct input {
	int fd;                   /* -1: all of it is in memory */
	const uint8_t *p;         /* next unread byte */
	size_t have;              /* bytes readable from p */
	uint8_t *buf;             /* fd: the window */
	size_t cap;
	uint64_t pos, size;       /* offset of p; bytes in the input */
};

struct vm {
	struct input in;
	uint64_t op_pos;
	const char *name;
	struct pv *v;
	size_t nv, capv;
	char *sa;                 /* string arena */
	size_t nsa, capsa;
	uint32_t *stack;
	size_t sp, capsp;
	struct mark *marks;
	size_t nmarks, capmarks;
	struct memo_slot *memo;
	size_t memo_cap, memo_n;
	uint64_t memo_next;       /* 1 + the largest key ever put */
	uint64_t *recent;         /* keys put since the streamed entry began */
	size_t nrecent, caprecent;
	int seen_ids;
	size_t nstream;           /* open streamed marks: 0 or 1 */
	cv_pickle_sink sink;
	void *ctx;
	struct cv_err *e;
};

static int vm_fail(struct vm *m, const char *what)
{
	cv_errf(m->e, CV_ECORRUPT, "%s: offset %llu: %s", m->name,
		(unsigned long long)m->op_pos, what);
	return CV_ECORRUPT;
}

/* Make n bytes readable at in->p; 0 when the input ends first. */
static int in_fill(struct input *in, size_t n)
{
	ssize_t got;

	if (in->have >= n)
		return 1;
	if (in->fd < 0)
		return 0;
	if (n > in->cap) {
		uint8_t *nb = xmalloc(n);

		memcpy(nb, in->p, in->have);
		free(in->buf);
		in->buf = nb;
		in->cap = n;
	} else {
		memmove(in->buf, in->p, in->have);
	}
	in->p = in->buf;
	while (in->have < n) {
		got = read(in->fd, in->buf + in->have, in->cap - in->have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		in->have += (size_t)got;
	}
	return 1;
}

static int vm_take(struct vm *m, size_t n, const uint8_t **p)
{
	if (!in_fill(&m->in, n))
		return vm_fail(m, "truncated");
	*p = m->in.p;
	m->in.p += n;
	m->in.have -= n;
	m->in.pos += n;
	return 0;
}

static uint32_t vm_new(struct vm *m, uint8_t type)
{
	if (m->nv == m->capv) {
		m->capv = m->capv ? m->capv * 2 : 1024;
		m->v = xrealloc(m->v, m->capv * sizeof(*m->v));
	}
	memset(&m->v[m->nv], 0, sizeof(m->v[0]));
	m->v[m->nv].type = type;
	return (uint32_t)m->nv++;
}

static void vm_push(struct vm *m, uint32_t idx)
{
	if (m->sp == m->capsp) {
		m->capsp = m->capsp ? m->capsp * 2 : 256;
		m->stack = xrealloc(m->stack, m->capsp * sizeof(*m->stack));
	}
	m->stack[m->sp++] = idx;
}

/* Values above the innermost MARK: what an opcode may pop or change. */
static size_t vm_above_mark(const struct vm *m)
{
	return m->sp - (m->nmarks ? m->marks[m->nmarks - 1].sp : 0);
}

static int vm_pop(struct vm *m, uint32_t *idx)
{
	if (!vm_above_mark(m))
		return vm_fail(m, "stack underflow");
	*idx = m->stack[--m->sp];
	return 0;
}

static const struct pv *top(const struct vm *m)
{
	return m->sp ? &m->v[m->stack[m->sp - 1]] : NULL;
}

static int str_is(const struct vm *m, const struct pv *v, const char *s)
{
	size_t n = strlen(s);

	return v && v->type == PV_STR && v->n == n && !memcmp(m->sa + v->s, s, n);
}

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static int push_int(struct vm *m, int64_t i)
{
	vm_push(m, vm_new(m, PV_INT));
	m->v[m->stack[m->sp - 1]].i = i;
	return 0;
}

static int op_int(struct vm *m, size_t width, int is_signed)
{
	const uint8_t *p = NULL;
	uint64_t u;
	int rc;

	if ((rc = vm_take(m, width, &p)))
		return rc;
	u = le(p, width);
	if (is_signed && width == 4)
		return push_int(m, (int32_t)(uint32_t)u);
	return push_int(m, (int64_t)u);
}

static int op_long1(struct vm *m)
{
	const uint8_t *p = NULL;
	uint64_t u;
	int rc, n;

	if ((rc = vm_take(m, 1, &p)))
		return rc;
	n = p[0];
	if (n > 8)
		return vm_fail(m, "integer wider than 64 bits");
	if ((rc = vm_take(m, (size_t)n, &p)))
		return rc;
	u = le(p, (size_t)n);
	if (n && n < 8 && (p[n - 1] & 0x80))
		u |= ~0ull << (8 * n); /* sign-extend */
	return push_int(m, (int64_t)u);
}

static int op_str(struct vm *m, size_t width)
{
	const uint8_t *p = NULL, *s = NULL;
	uint64_t n;
	uint32_t idx;
	int rc;

	if ((rc = vm_take(m, width, &p)))
		return rc;
	n = le(p, width);
	if (m->in.pos > m->in.size || n > m->in.size - m->in.pos)
		return vm_fail(m, "string longer than the file");
	if (n > PICKLE_MAX_STRING)
		return vm_fail(m, "string longer than 64 MiB");
	if ((rc = vm_take(m, (size_t)n, &s)))
		return rc;
	/* allocated even for "": every string points into it */
	if (!m->sa || m->nsa + n > m->capsa) {
		while (!m->capsa || m->nsa + n > m->capsa)
			m->capsa = m->capsa ? 2 * m->capsa : 4096;
		m->sa = xrealloc(m->sa, m->capsa);
	}
	memcpy(m->sa + m->nsa, s, (size_t)n);
	idx = vm_new(m, PV_STR);
	m->v[idx].s = m->nsa;
	m->v[idx].n = (uint32_t)n;
	m->nsa += (size_t)n;
	vm_push(m, idx);
	return 0;
}

static size_t memo_find(const struct vm *m, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull) & (m->memo_cap - 1);

	while (m->memo[i].used && m->memo[i].key != key)
		i = (i + 1) & (m->memo_cap - 1);
	return i;
}

static void memo_grow(struct vm *m)
{
	struct memo_slot *old = m->memo;
	size_t n = m->memo_cap, i;

	m->memo_cap = n ? 2 * n : 64;
	m->memo = xcalloc(m->memo_cap, sizeof(*m->memo));
	for (i = 0; i < n; i++)
		if (old[i].used)
			m->memo[memo_find(m, old[i].key)] = old[i];
	free(old);
}

/* Linear probing's deletion: later entries of the run move back. */
static void memo_del(struct vm *m, size_t i)
{
	size_t j = i, home, mask = m->memo_cap - 1;

	m->memo[i].used = 0;
	m->memo_n--;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->memo[j].used)
			return;
		home = (size_t)(m->memo[j].key * 0x9e3779b97f4a7c15ull) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->memo[i] = m->memo[j];
			m->memo[j].used = 0;
			i = j;
		}
	}
}

static int memo_put(struct vm *m, uint64_t key)
{
	size_t i;

	if (!m->sp)
		return vm_fail(m, "memoize with an empty stack");
	if ((m->memo_n + 1) * 2 > m->memo_cap)
		memo_grow(m);
	i = memo_find(m, key);
	m->memo_n += !m->memo[i].used;
	m->memo[i] = (struct memo_slot){ key, m->stack[m->sp - 1], 1 };
	if (key >= m->memo_next)
		m->memo_next = key + 1;
	if (m->nrecent == m->caprecent) {
		m->caprecent = m->caprecent ? 2 * m->caprecent : 64;
		m->recent = xrealloc(m->recent, m->caprecent * sizeof(*m->recent));
	}
	m->recent[m->nrecent++] = key;
	return 0;
}

static int op_put(struct vm *m, size_t width)
{
	const uint8_t *p = NULL;
	int rc;

	if (!width)
		return memo_put(m, m->memo_next);
	if ((rc = vm_take(m, width, &p)))
		return rc;
	return memo_put(m, le(p, width));
}

/* A key put and since dropped (a streamed entry's) gives a PV_GONE. */
static int op_get(struct vm *m, size_t width)
{
	const uint8_t *p = NULL;
	uint64_t key;
	size_t i;
	int rc;

	if ((rc = vm_take(m, width, &p)))
		return rc;
	key = le(p, width);
	i = m->memo_cap ? memo_find(m, key) : 0;
	if (m->memo_cap && m->memo[i].used)
		vm_push(m, m->memo[i].val);
	else if (key < m->memo_next)
		vm_push(m, vm_new(m, PV_GONE));
	else
		return vm_fail(m, "memo index not set");
	return 0;
}

/* Values from index nv on are forgotten, with their memo keys. */
static void drop_values(struct vm *m, size_t nv, size_t nsa, size_t nrecent)
{
	size_t i;

	for (i = nrecent; i < m->nrecent; i++) {
		size_t k = memo_find(m, m->recent[i]);

		if (m->memo[k].used && m->memo[k].val >= nv)
			memo_del(m, k);
	}
	m->nrecent = nrecent;
	for (i = nv; i < m->nv; i++)
		if (m->v[i].type == PV_DICT)
			free(m->v[i].pairs);
	m->nv = nv;
	m->nsa = nsa;
}

/* The values from the innermost streamed entry's start on (or 0). */
static size_t stream_floor(const struct vm *m)
{
	size_t i;

	for (i = m->nmarks; i-- > 0;)
		if (m->marks[i].stream)
			return m->marks[i].nv;
	return 0;
}

/* An entry of a streamed dict: handed to the sink or counted, not kept. */
static int stream_add(struct vm *m, struct pv *d, uint32_t k, uint32_t v)
{
	const struct pv *key = &m->v[k], *val = &m->v[v];
	char what[96];

	if (d->n == UINT32_MAX)
		return vm_fail(m, "dict too large");
	d->n++;
	if (d->role != ROLE_IDS)
		return 0;
	if (key->type != PV_STR || val->type != PV_INT || val->i < 0) {
		snprintf(what, sizeof(what), "id_to_label entry %u is not a string "
			 "-> label pair%s", d->n - 1, key->type == PV_GONE ?
			 " (it repeats an earlier string)" : "");
		return vm_fail(m, what);
	}
	return m->sink ? m->sink(m->ctx, m->sa + key->s, key->n,
				 (uint64_t)val->i, m->e) : 0;
}

/* Room for pairs doubles at 8, 16, 32 ... pairs (no capacity kept). */
static int dict_add(struct vm *m, uint32_t di, uint32_t k, uint32_t v)
{
	struct pv *d = &m->v[di];
	size_t floor;

	if (d->role != ROLE_KEEP)
		return stream_add(m, d, k, v);
	floor = stream_floor(m);
	if (di < floor && (k >= floor || v >= floor))
		return vm_fail(m, "an earlier dict is changed inside a streamed entry");
	if (d->n == UINT32_MAX)
		return vm_fail(m, "dict too large");
	if (d->n == 0 || (d->n >= 8 && !(d->n & (d->n - 1))))
		d->pairs = xrealloc(d->pairs, 2 * (d->n ? 2 * (size_t)d->n : 8) *
				    sizeof(*d->pairs));
	d->pairs[2 * d->n] = k;
	d->pairs[2 * d->n + 1] = v;
	d->n++;
	return 0;
}

/* The next opcode that does something, past FRAMEs (0 at the end). */
static uint8_t next_opcode(struct vm *m)
{
	size_t at = 0;

	while (in_fill(&m->in, at + 1) && m->in.p[at] == 0x95 && at < 64)
		at += 9;
	return in_fill(&m->in, at + 1) ? m->in.p[at] : 0;
}

/*
 * A streamed dict's entry is complete (and its value memoised, when the
 * next opcode does that): hand it on, drop its values.
 */
static int stream_step(struct vm *m)
{
	struct mark *mk;
	uint8_t next;
	int rc;

	if (!m->nmarks)
		return 0;
	mk = &m->marks[m->nmarks - 1];
	if (!mk->stream || m->sp - mk->sp != 2)
		return 0;
	if ((next = next_opcode(m)) == 0x94 || next == 'q' || next == 'r')
		return 0;
	if ((rc = stream_add(m, &m->v[m->stack[mk->sp - 1]], m->stack[mk->sp],
			     m->stack[mk->sp + 1])))
		return rc;
	m->sp = mk->sp;
	drop_values(m, mk->nv, mk->nsa, mk->nrecent);
	return 0;
}

static int op_setitems(struct vm *m)
{
	size_t mark, i;
	uint32_t di;
	int rc;

	if (!m->nmarks)
		return vm_fail(m, "SETITEMS without MARK");
	m->nstream -= m->marks[--m->nmarks].stream;
	mark = m->marks[m->nmarks].sp;
	if ((m->sp - mark) % 2)
		return vm_fail(m, "SETITEMS with an odd number of items");
	if (!mark || m->v[m->stack[mark - 1]].type != PV_DICT)
		return vm_fail(m, "SETITEMS on something that is not a dict");
	di = m->stack[mark - 1];
	for (i = mark; i < m->sp; i += 2)
		if ((rc = dict_add(m, di, m->stack[i], m->stack[i + 1])))
			return rc;
	m->sp = mark;
	return 0;
}

static int op_setitem(struct vm *m)
{
	uint32_t k, v;
	int rc;

	if ((rc = vm_pop(m, &v)) || (rc = vm_pop(m, &k)))
		return rc;
	if (!vm_above_mark(m) || m->v[m->stack[m->sp - 1]].type != PV_DICT)
		return vm_fail(m, "SETITEM on something that is not a dict");
	return dict_add(m, m->stack[m->sp - 1], k, v);
}

static int op_mark(struct vm *m)
{
	const struct pv *t = top(m);
	struct mark *mk;

	if (m->nmarks == m->capmarks) {
		if (m->capmarks >= 4096)
			return vm_fail(m, "marks nested too deeply");
		m->capmarks = m->capmarks ? m->capmarks * 2 : 16;
		m->marks = xrealloc(m->marks, m->capmarks * sizeof(*m->marks));
	}
	mk = &m->marks[m->nmarks++];
	mk->sp = m->sp;
	/* one streamed entry at a time: its drop must not cut another's */
	mk->stream = !m->nstream && t && t->type == PV_DICT && t->role != ROLE_KEEP;
	m->nstream += mk->stream;
	mk->nv = m->nv;
	mk->nsa = m->nsa;
	mk->nrecent = m->nrecent;
	return 0;
}

/* EMPTY_DICT; the value of one of the index's big maps is streamed. */
static int op_dict(struct vm *m)
{
	const struct pv *key = top(m);
	uint8_t role = ROLE_KEEP;

	if (m->nstream) {
		/* a dict inside a streamed entry is that entry's value: dropped
		 * with it, never streamed itself */
	} else if (str_is(m, key, "id_to_label")) {
		if (m->seen_ids++)
			return vm_fail(m, "a second id_to_label");
		role = ROLE_IDS;
	} else if (str_is(m, key, "label_to_id") || str_is(m, key, "id_to_seq_id")) {
		role = ROLE_COUNT;
	}
	vm_push(m, vm_new(m, PV_DICT));
	m->v[m->stack[m->sp - 1]].role = role;
	return 0;
}

static int op_global_text(struct vm *m)
{
	const uint8_t *nl, *p = NULL;
	int i, rc;

	for (i = 0; i < 2; i++) {
		in_fill(&m->in, PICKLE_MAX_LINE);
		nl = memchr(m->in.p, '\n', m->in.have);
		if (!nl)
			return vm_fail(m, "truncated GLOBAL");
		if ((rc = vm_take(m, (size_t)(nl - m->in.p) + 1, &p)))
			return rc;
	}
	vm_push(m, vm_new(m, PV_GLOBAL));
	return 0;
}

/* STACK_GLOBAL, NEWOBJ: pop n, push a value of type t. */
static int op_replace(struct vm *m, int n, uint8_t t)
{
	uint32_t x;
	int rc;

	while (n--)
		if ((rc = vm_pop(m, &x)))
			return rc;
	vm_push(m, vm_new(m, t));
	return 0;
}

/* BUILD: the object becomes its state (its __dict__), as serde-pickle does. */
static int op_build(struct vm *m)
{
	uint32_t state;
	int rc;

	if ((rc = vm_pop(m, &state)))
		return rc;
	if (!vm_above_mark(m))
		return vm_fail(m, "BUILD with no object");
	m->stack[m->sp - 1] = state;
	return 0;
}

static int vm_skip(struct vm *m, size_t n)
{
	const uint8_t *p = NULL;

	return vm_take(m, n, &p);
}

/* One opcode; 1 at STOP. */
static int vm_step(struct vm *m, uint8_t op)
{
	switch (op) {
	case 0x80: return vm_skip(m, 1);                 /* PROTO */
	case 0x95: return vm_skip(m, 8);                 /* FRAME */
	case '(': return op_mark(m);
	case '}': return op_dict(m);
	case ')': case ']': vm_push(m, vm_new(m, PV_SEQ)); return 0;
	case 'N': vm_push(m, vm_new(m, PV_NONE)); return 0;
	case 0x88: case 0x89:
		vm_push(m, vm_new(m, PV_BOOL));
		m->v[m->stack[m->sp - 1]].i = op == 0x88;
		return 0;
	case 'J': return op_int(m, 4, 1);
	case 'K': return op_int(m, 1, 0);
	case 'M': return op_int(m, 2, 0);
	case 0x8a: return op_long1(m);
	case 'X': return op_str(m, 4);
	case 0x8c: return op_str(m, 1);
	case 0x8d: return op_str(m, 8);
	case 0x94: return op_put(m, 0);
	case 'q': return op_put(m, 1);
	case 'r': return op_put(m, 4);
	case 'h': return op_get(m, 1);
	case 'j': return op_get(m, 4);
	case 's': return op_setitem(m);
	case 'u': return op_setitems(m);
	case 0x93: return op_replace(m, 2, PV_GLOBAL);   /* STACK_GLOBAL */
	case 'c': return op_global_text(m);
	case 0x81: return op_replace(m, 2, PV_OBJ);      /* NEWOBJ */
	case 'b': return op_build(m);
	case '.': return 1;
	default: {
		char what[64];

		snprintf(what, sizeof(what), "unsupported pickle opcode 0x%02x", op);
		return vm_fail(m, what);
	}
	}
}

static int vm_run(struct vm *m, uint32_t *result)
{
	uint8_t op;
	int rc;

	for (;;) {
		m->op_pos = m->in.pos;
		if (!in_fill(&m->in, 1))
			return vm_fail(m, "truncated: no STOP opcode");
		op = *m->in.p++;
		m->in.have--;
		m->in.pos++;
		rc = vm_step(m, op);
		if (rc < 0 || (rc == 0 && (rc = stream_step(m))))
			return rc;
		if (rc == 1)
			break;
	}
	if (m->sp != 1 || m->nmarks)
		return vm_fail(m, "STOP with a malformed stack");
	if (in_fill(&m->in, 1))
		return vm_fail(m, "data after STOP");
	*result = m->stack[0];
	return 0;
}

static const struct pv *dict_get(const struct vm *m, const struct pv *d,
				 const char *key)
{
	size_t i;

	if (d->role != ROLE_KEEP)
		return NULL;
	for (i = d->n; i-- > 0;)
		if (str_is(m, &m->v[d->pairs[2 * i]], key))
			return &m->v[d->pairs[2 * i + 1]];
	return NULL;
}

static int field_int(struct vm *m, const struct pv *t, const char *key,
		     int *has, int64_t *out)
{
	const struct pv *v = dict_get(m, t, key);

	*has = 0;
	if (!v || v->type == PV_NONE)
		return 0;
	if (v->type != PV_INT)
		return cv_errf(m->e, CV_ECORRUPT, "%s: field %s is not an integer",
			       m->name, key);
	*has = 1;
	*out = v->i;
	return 0;
}

static int extract(struct vm *m, uint32_t root, struct cv_pickle *out)
{
	const struct pv *t, *map;
	int64_t v = 0;
	int has, rc;

	if (root >= m->nv)
		return cv_errf(m->e, CV_ECORRUPT, "%s: no result", m->name);
	t = &m->v[root];
	if (t->type != PV_DICT || t->role != ROLE_KEEP)
		return cv_errf(m->e, CV_ECORRUPT, "%s: top level is not a dict or an "
			       "object with a dict state", m->name);
	if ((rc = field_int(m, t, "dimensionality", &has, &v)))
		return rc;
	out->has_dimensionality = has;
	out->dimensionality = v;
	if ((rc = field_int(m, t, "total_elements_added", &has, &v)))
		return rc;
	out->total_elements_added = has ? (uint64_t)v : 0;
	if ((rc = field_int(m, t, "max_seq_id", &has, &v)))
		return rc;
	out->has_max_seq_id = has;
	out->max_seq_id = (uint64_t)v;
	map = dict_get(m, t, "label_to_id");
	out->n_label_to_id = map && map->type == PV_DICT ? map->n : 0;
	map = dict_get(m, t, "id_to_label");
	if (!map)
		return cv_errf(m->e, CV_ECORRUPT, "%s: no id_to_label field", m->name);
	if (map->type != PV_DICT || map->role != ROLE_IDS)
		return cv_errf(m->e, CV_ECORRUPT, "%s: id_to_label is not a dict", m->name);
	out->n_ids = map->n;
	return 0;
}

static void vm_free(struct vm *m)
{
	drop_values(m, 0, 0, m->nrecent);
	free(m->v);
	free(m->sa);
	free(m->stack);
	free(m->marks);
	free(m->memo);
	free(m->recent);
	free(m->in.buf);
}

static int run(struct vm *m, struct cv_pickle *out)
{
	uint32_t root = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = vm_run(m, &root);
	if (!rc)
		rc = extract(m, root, out);
	vm_free(m);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

static void vm_init(struct vm *m, const char *name, cv_pickle_sink sink,
		    void *ctx, struct cv_err *e)
{
	memset(m, 0, sizeof(*m));
	m->in.fd = -1;
	m->name = name;
	m->sink = sink;
	m->ctx = ctx;
	m->e = e;
}

int cv_pickle_parse(const uint8_t *buf, size_t len, const char *name,
		    cv_pickle_sink sink, void *ctx, struct cv_pickle *out,
		    struct cv_err *e)
{
	struct vm m;

	vm_init(&m, name, sink, ctx, e);
	m.in.p = buf;
	m.in.have = len;
	m.in.size = len;
	return run(&m, out);
}

int cv_pickle_load(const char *path, cv_pickle_sink sink, void *ctx,
		   struct cv_pickle *out, struct cv_err *e)
{
	struct stat st;
	struct vm m;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return cv_errno(e, CV_EIO, "%s: cannot open", path);
	if (fstat(fd, &st) || (uint64_t)st.st_size > PICKLE_MAX_FILE) {
		close(fd);
		return cv_errf(e, CV_ECORRUPT, "%s: unreadable or larger than 16 GiB",
			       path);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	vm_init(&m, path, sink, ctx, e);
	m.in.fd = fd;
	m.in.size = (uint64_t)st.st_size;
	m.in.cap = PICKLE_WINDOW;
	m.in.buf = xmalloc(m.in.cap);
	m.in.p = m.in.buf;
	rc = run(&m, out);
	close(fd);
	return rc;
}
