/*
 * index_metadata.pickle reader (pickle.h): the bounded pickle VM of
 * chroma-format.md §5.8. Values live in one index-addressed array; strings
 * point into the input; every count is checked against the bytes left.
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

#define PICKLE_MAX_FILE (1ull << 30)

enum pv_type { PV_NONE, PV_BOOL, PV_INT, PV_STR, PV_DICT, PV_SEQ, PV_GLOBAL, PV_OBJ };

/*
 * One value: 16 bytes, as a pickle of n ids holds about 4n of them (both
 * maps, keys and values) and parsing it is the peak of an export's memory.
 * A value's type never changes once made.
 */
struct pv {
	uint8_t type;
	uint32_t n;               /* PV_STR length; PV_DICT pair count */
	union {
		int64_t i;        /* PV_INT, PV_BOOL */
		const uint8_t *s; /* PV_STR */
		uint32_t *pairs;  /* PV_DICT: key, value, key, value ... */
	};
};

struct vm {
	const uint8_t *buf;
	size_t len, pos, op_pos;
	const char *name;
	struct pv *v;
	size_t nv, capv;
	uint32_t *stack;
	size_t sp, capsp;
	size_t *marks;
	size_t nmarks, capmarks;
	uint32_t *memo;
	size_t nmemo;
	struct cv_err *e;
};

static int vm_fail(struct vm *m, const char *what)
{
	return cv_errf(m->e, CV_ECORRUPT, "%s: offset %zu: %s", m->name,
		       m->op_pos, what);
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

static int vm_pop(struct vm *m, uint32_t *idx)
{
	size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;

	if (m->sp <= floor)
		return vm_fail(m, "stack underflow");
	*idx = m->stack[--m->sp];
	return 0;
}

static int vm_take(struct vm *m, size_t n, const uint8_t **p)
{
	if (m->len - m->pos < n)
		return vm_fail(m, "truncated");
	*p = m->buf + m->pos;
	m->pos += n;
	return 0;
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
	if (n > m->len - m->pos)
		return vm_fail(m, "string longer than the file");
	if ((rc = vm_take(m, (size_t)n, &s)))
		return rc;
	idx = vm_new(m, PV_STR);
	m->v[idx].s = s;
	m->v[idx].n = (uint32_t)n;
	vm_push(m, idx);
	return 0;
}

static int memo_put(struct vm *m, uint64_t key)
{
	size_t old = m->nmemo;

	if (!m->sp)
		return vm_fail(m, "memoize with an empty stack");
	if (key > m->nv + 16)
		return vm_fail(m, "memo index out of range");
	if (key >= m->nmemo) {
		m->nmemo = (size_t)key + 1;
		m->memo = xrealloc(m->memo, m->nmemo * sizeof(*m->memo));
		memset(m->memo + old, 0xff, (m->nmemo - old) * sizeof(*m->memo));
	}
	m->memo[key] = m->stack[m->sp - 1];
	return 0;
}

static int op_put(struct vm *m, size_t width)
{
	const uint8_t *p = NULL;
	int rc;

	if (!width)
		return memo_put(m, m->nmemo);
	if ((rc = vm_take(m, width, &p)))
		return rc;
	return memo_put(m, le(p, width));
}

static int op_get(struct vm *m, size_t width)
{
	const uint8_t *p = NULL;
	uint64_t key;
	int rc;

	if ((rc = vm_take(m, width, &p)))
		return rc;
	key = le(p, width);
	if (key >= m->nmemo || m->memo[key] == UINT32_MAX)
		return vm_fail(m, "memo index not set");
	vm_push(m, m->memo[key]);
	return 0;
}

/* Room for pairs doubles at 8, 16, 32 ... pairs (no capacity kept). */
static void dict_add(struct pv *d, uint32_t k, uint32_t v)
{
	if (d->n == 0 || (d->n >= 8 && !(d->n & (d->n - 1))))
		d->pairs = xrealloc(d->pairs, 2 * (d->n ? 2 * (size_t)d->n : 8) *
				    sizeof(*d->pairs));
	d->pairs[2 * d->n] = k;
	d->pairs[2 * d->n + 1] = v;
	d->n++;
}

static int op_setitems(struct vm *m)
{
	size_t mark, i;
	struct pv *d;

	if (!m->nmarks)
		return vm_fail(m, "SETITEMS without MARK");
	mark = m->marks[--m->nmarks];
	if ((m->sp - mark) % 2)
		return vm_fail(m, "SETITEMS with an odd number of items");
	if (!mark || m->v[m->stack[mark - 1]].type != PV_DICT)
		return vm_fail(m, "SETITEMS on something that is not a dict");
	d = &m->v[m->stack[mark - 1]];
	for (i = mark; i < m->sp; i += 2)
		dict_add(d, m->stack[i], m->stack[i + 1]);
	m->sp = mark;
	return 0;
}

static int op_setitem(struct vm *m)
{
	uint32_t k, v;
	int rc;

	if ((rc = vm_pop(m, &v)) || (rc = vm_pop(m, &k)))
		return rc;
	if (!m->sp || m->v[m->stack[m->sp - 1]].type != PV_DICT)
		return vm_fail(m, "SETITEM on something that is not a dict");
	dict_add(&m->v[m->stack[m->sp - 1]], k, v);
	return 0;
}

static int op_mark(struct vm *m)
{
	if (m->nmarks == m->capmarks) {
		if (m->capmarks >= 4096)
			return vm_fail(m, "marks nested too deeply");
		m->capmarks = m->capmarks ? m->capmarks * 2 : 16;
		m->marks = xrealloc(m->marks, m->capmarks * sizeof(*m->marks));
	}
	m->marks[m->nmarks++] = m->sp;
	return 0;
}

static int op_global_text(struct vm *m)
{
	const uint8_t *nl;
	int i;

	for (i = 0; i < 2; i++) {
		nl = memchr(m->buf + m->pos, '\n', m->len - m->pos);
		if (!nl)
			return vm_fail(m, "truncated GLOBAL");
		m->pos = (size_t)(nl - m->buf) + 1;
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
	if (!m->sp)
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
	case '}': vm_push(m, vm_new(m, PV_DICT)); return 0;
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
	int rc;

	while (m->pos < m->len) {
		m->op_pos = m->pos;
		rc = vm_step(m, m->buf[m->pos++]);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (m->sp != 1 || m->nmarks)
				return vm_fail(m, "STOP with a malformed stack");
			if (m->pos != m->len)
				return vm_fail(m, "data after STOP");
			*result = m->stack[0];
			return 0;
		}
	}
	m->op_pos = m->len;
	return vm_fail(m, "truncated: no STOP opcode");
}

static const struct pv *dict_get(const struct vm *m, const struct pv *d,
				 const char *key)
{
	size_t i, n = strlen(key);
	const struct pv *k;

	for (i = d->n; i-- > 0;) {
		k = &m->v[d->pairs[2 * i]];
		if (k->type == PV_STR && k->n == n && !memcmp(k->s, key, n))
			return &m->v[d->pairs[2 * i + 1]];
	}
	return NULL;
}

static int field_int(struct vm *m, const struct pv *top, const char *key,
		     int *has, int64_t *out)
{
	const struct pv *v = dict_get(m, top, key);

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

static int extract_ids(struct vm *m, const struct pv *map, struct cv_pickle *out)
{
	const struct pv *k, *v;
	size_t i, total = 0;
	char *p;

	if (map->type != PV_DICT)
		return cv_errf(m->e, CV_ECORRUPT, "%s: id_to_label is not a dict", m->name);
	for (i = 0; i < map->n; i++) {
		k = &m->v[map->pairs[2 * i]];
		v = &m->v[map->pairs[2 * i + 1]];
		if (k->type != PV_STR || v->type != PV_INT || v->i < 0)
			return cv_errf(m->e, CV_ECORRUPT, "%s: id_to_label entry %zu is "
				       "not a string -> label pair", m->name, i);
		total += k->n + 1;
	}
	out->ids = xcalloc(map->n ? map->n : 1, sizeof(*out->ids));
	out->arena = p = xmalloc(total ? total : 1);
	for (i = 0; i < map->n; i++) {
		k = &m->v[map->pairs[2 * i]];
		memcpy(p, k->s, k->n);
		p[k->n] = '\0';
		out->ids[i].id = p;
		out->ids[i].id_len = k->n;
		out->ids[i].label = (uint64_t)m->v[map->pairs[2 * i + 1]].i;
		p += k->n + 1;
	}
	out->n_ids = map->n;
	return 0;
}

static int extract(struct vm *m, uint32_t root, struct cv_pickle *out)
{
	const struct pv *top, *map;
	int64_t v = 0;
	int has, rc;

	if (root >= m->nv)
		return cv_errf(m->e, CV_ECORRUPT, "%s: no result", m->name);
	top = &m->v[root];
	if (top->type != PV_DICT)
		return cv_errf(m->e, CV_ECORRUPT, "%s: top level is not a dict or an "
			       "object with a dict state", m->name);
	if ((rc = field_int(m, top, "dimensionality", &has, &v)))
		return rc;
	out->has_dimensionality = has;
	out->dimensionality = v;
	if ((rc = field_int(m, top, "total_elements_added", &has, &v)))
		return rc;
	out->total_elements_added = has ? (uint64_t)v : 0;
	if ((rc = field_int(m, top, "max_seq_id", &has, &v)))
		return rc;
	out->has_max_seq_id = has;
	out->max_seq_id = (uint64_t)v;
	map = dict_get(m, top, "label_to_id");
	out->n_label_to_id = map && map->type == PV_DICT ? map->n : 0;
	map = dict_get(m, top, "id_to_label");
	if (!map)
		return cv_errf(m->e, CV_ECORRUPT, "%s: no id_to_label field", m->name);
	return extract_ids(m, map, out);
}

static void vm_free(struct vm *m)
{
	size_t i;

	for (i = 0; i < m->nv; i++)
		if (m->v[i].type == PV_DICT)
			free(m->v[i].pairs);
	free(m->v);
	free(m->stack);
	free(m->marks);
	free(m->memo);
}

int cv_pickle_parse(const uint8_t *buf, size_t len, const char *name,
		    struct cv_pickle *out, struct cv_err *e)
{
	struct vm m;
	uint32_t root = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	m.buf = buf;
	m.len = len;
	m.name = name;
	m.e = e;
	rc = vm_run(&m, &root);
	if (!rc)
		rc = extract(&m, root, out);
	vm_free(&m);
	if (rc)
		cv_pickle_release(out);
	return rc;
}

static int read_all(const char *path, uint8_t **buf, size_t *len,
		    struct cv_err *e)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cv_errno(e, CV_EIO, "%s: cannot open", path);
	if (fstat(fd, &st) || (uint64_t)st.st_size > PICKLE_MAX_FILE) {
		close(fd);
		return cv_errf(e, CV_ECORRUPT, "%s: unreadable or larger than 1 GiB", path);
	}
	*buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

int cv_pickle_load(const char *path, struct cv_pickle *out, struct cv_err *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = read_all(path, &buf, &len, e)))
		return rc;
	rc = cv_pickle_parse(buf, len, path, out, e);
	free(buf);
	return rc;
}

void cv_pickle_release(struct cv_pickle *p)
{
	free(p->ids);
	free(p->arena);
	memset(p, 0, sizeof(*p));
}
