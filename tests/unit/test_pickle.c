/*
 * Unit tests for chroma/pickle.c: both shapes Chroma writes (Rust
 * serde-pickle dict, Python PersistentData object with memo references),
 * large batched dicts, and hostile input at every truncation point.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>

#include "chroma/pickle.h"
#include "pickle_gen.h"
#include "util/strbuf.h"

/* What the sink saw. */
struct got {
	size_t n;
	char first[64], last[64];
	uint64_t first_label, last_label;
	int fail_at;         /* the sink refuses its fail_at-th entry (1-based) */
	int check_rust;      /* every id is "id<label-1>" */
};

static int collect(void *ctx, const char *id, size_t len, uint64_t label,
		   struct cv_err *e)
{
	struct got *g = ctx;
	char want[32];

	if (++g->n == (size_t)g->fail_at)
		return cv_errf(e, CV_EIO, "sink refused %.*s", (int)len, id);
	if (len >= sizeof(g->last))
		len = sizeof(g->last) - 1; /* kept shortened */
	if (g->n == 1) {
		memcpy(g->first, id, len);
		g->first[len] = '\0';
		g->first_label = label;
	}
	memcpy(g->last, id, len);
	g->last[len] = '\0';
	g->last_label = label;
	if (g->check_rust) {
		snprintf(want, sizeof(want), "id%llu", (unsigned long long)label - 1);
		if (strcmp(want, g->last))
			return cv_errf(e, CV_EIO, "%s has label %llu", g->last,
				       (unsigned long long)label);
	}
	return 0;
}

static void parse_ok(const struct strbuf *b, struct cv_pickle *p, struct got *g)
{
	struct cv_err e = { 0 };
	int rc = cv_pickle_parse((const uint8_t *)b->buf, b->len, "t.pickle",
				 collect, g, p, &e);

	if (rc)
		fail_msg("parse failed: %s", e.msg);
}

static void test_rust_shape(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct got g = { .check_rust = 1 };
	struct cv_pickle p;

	(void)state;
	rust_pickle(&b, 2500);
	parse_ok(&b, &p, &g);
	assert_int_equal(p.n_ids, 2500);
	assert_int_equal(g.n, 2500);
	assert_string_equal(g.first, "id0");
	assert_int_equal(g.first_label, 1);
	assert_string_equal(g.last, "id2499");
	assert_int_equal(g.last_label, 2500);
	assert_int_equal(p.total_elements_added, 2500);
	assert_false(p.has_dimensionality);
	assert_false(p.has_max_seq_id);
	sb_release(&b);
}

/* The Python shape: PersistentData via NEWOBJ+BUILD, memoised strings. */
static void python_pickle(struct strbuf *b)
{
	op(b, 0x80); op(b, 5);
	op(b, 0x95); sb_add(b, "\0\0\0\0\0\0\0\0", 8);
	sstr(b, "chromadb.segment.impl.vector.local_persistent_hnsw");   /* memo 0 */
	sstr(b, "PersistentData");                                       /* memo 1 */
	op(b, 0x93); op(b, 0x94);                                        /* memo 2 */
	op(b, ')'); op(b, 0x81); op(b, 0x94);                            /* memo 3 */
	op(b, '}'); op(b, 0x94); op(b, '(');                             /* memo 4 */
	sstr(b, "dimensionality"); op(b, 'K'); op(b, 3);                 /* memo 5 */
	sstr(b, "total_elements_added"); op(b, 'M'); op(b, 2); op(b, 1); /* 258 */
	sstr(b, "max_seq_id"); op(b, 0x8a); op(b, 5);
	sb_add(b, "\x01\x00\x00\x00\x01", 5);                            /* 2^32+1 */
	sstr(b, "id_to_label"); op(b, '}'); op(b, 0x94); op(b, '(');     /* memo 8, 9 */
	sstr(b, "a"); op(b, 'K'); op(b, 1);                              /* memo 10 */
	sstr(b, "b"); op(b, 'K'); op(b, 2);                              /* memo 11 */
	op(b, 'u');
	sstr(b, "label_to_id"); op(b, '}'); op(b, 0x94); op(b, '(');     /* memo 12, 13 */
	op(b, 'K'); op(b, 1); op(b, 'h'); op(b, 10);
	op(b, 'K'); op(b, 2); op(b, 'j'); u32le(b, 11);
	op(b, 'u');
	sstr(b, "id_to_seq_id"); op(b, '}'); op(b, 0x94);
	sstr(b, "a"); op(b, 0x8a); op(b, 1); op(b, 7); op(b, 's');
	op(b, 'u'); op(b, 'b'); op(b, '.');
}

static void test_python_shape(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct got g = { 0 };
	struct cv_pickle p;

	(void)state;
	python_pickle(&b);
	parse_ok(&b, &p, &g);
	assert_int_equal(p.n_ids, 2);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.last, "b");
	assert_int_equal(g.last_label, 2);
	assert_true(p.has_dimensionality);
	assert_int_equal(p.dimensionality, 3);
	assert_int_equal(p.total_elements_added, 258);
	assert_true(p.has_max_seq_id);
	assert_int_equal(p.max_seq_id, (1ull << 32) + 1);
	assert_int_equal(p.n_label_to_id, 2);
	sb_release(&b);
}

/*
 * Python's shape at scale: every id memoised, label_to_id made of memo
 * references to ids already dropped, SETITEMS batches of 1000, and a last
 * top-level entry whose key is an early memo reference (it must survive
 * the memo's many deletions).
 */
static void python_big(struct strbuf *b, int n)
{
	char id[32];
	int i;

	op(b, 0x80); op(b, 5); op(b, '}'); op(b, 0x94); op(b, '(');     /* memo 0 */
	sstr(b, "dimensionality"); op(b, 'N');                           /* memo 1 */
	sstr(b, "total_elements_added"); binint(b, n);                   /* memo 2 */
	sstr(b, "id_to_label"); op(b, '}'); op(b, 0x94); op(b, '(');     /* memo 3, 4 */
	for (i = 0; i < n; i++) {
		if (i && i % 1000 == 0) { op(b, 'u'); op(b, '('); }
		snprintf(id, sizeof(id), "id%d", i);
		sstr(b, id);                                             /* memo 5 + i */
		binint(b, i + 1);
	}
	op(b, 'u');
	sstr(b, "label_to_id"); op(b, '}'); op(b, 0x94); op(b, '(');
	for (i = 0; i < n; i++) {
		if (i && i % 1000 == 0) { op(b, 'u'); op(b, '('); }
		binint(b, i + 1);
		op(b, 'j'); u32le(b, (uint32_t)(5 + i));
	}
	op(b, 'u');
	op(b, 'j'); u32le(b, 2); binint(b, 7);   /* total_elements_added again */
	op(b, 'u'); op(b, '.');
}

static void test_python_memo_at_scale(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct got g = { .check_rust = 1 };
	struct cv_pickle p;

	(void)state;
	python_big(&b, 5000);
	parse_ok(&b, &p, &g);
	assert_int_equal(p.n_ids, 5000);
	assert_int_equal(g.n, 5000);
	assert_int_equal(p.n_label_to_id, 5000);
	assert_int_equal(p.total_elements_added, 7);
	sb_release(&b);
}

/* The heap in use at its highest while the sink ran. */
struct heap_watch {
	struct got g;
	size_t base, peak;
};

static int watch(void *ctx, const char *id, size_t len, uint64_t label,
		 struct cv_err *e)
{
	struct heap_watch *w = ctx;
	size_t used = mallinfo2().uordblks;

	if (used > w->peak)
		w->peak = used;
	return collect(&w->g, id, len, label, e);
}

/*
 * From a file, read in windows: strings straddle every window edge, and
 * the heap stays flat while 200,000 ids stream through (without streaming
 * it grows by more than 10 MB; mallinfo2 reads 0 under ASan).
 */
static void test_streams_from_file(void **state)
{
	char path[] = "/tmp/cv-test-pickle-XXXXXX";
	struct strbuf b = STRBUF_INIT;
	struct heap_watch w = { .g = { .check_rust = 1 } };
	struct cv_err e = { 0 };
	struct cv_pickle p;
	int fd, rc;

	(void)state;
	rust_pickle(&b, 200000);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.buf, b.len), (ssize_t)b.len);
	close(fd);
	sb_release(&b);
	w.base = w.peak = mallinfo2().uordblks;
	rc = cv_pickle_load(path, watch, &w, &p, &e);
	unlink(path);
	if (rc)
		fail_msg("load failed: %s", e.msg);
	assert_int_equal(p.n_ids, 200000);
	assert_int_equal(w.g.n, 200000);
	assert_string_equal(w.g.last, "id199999");
	if (w.peak - w.base > (2u << 20))
		fail_msg("heap grew by %zu bytes", w.peak - w.base);
}

static void test_sink_error_stops(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct got g = { .fail_at = 3 };
	struct cv_err e = { 0 };
	struct cv_pickle p;

	(void)state;
	rust_pickle(&b, 10);
	assert_int_equal(cv_pickle_parse((const uint8_t *)b.buf, b.len, "t.pickle",
					 collect, &g, &p, &e), CV_EIO);
	assert_int_equal(g.n, 3);
	assert_non_null(strstr(e.msg, "sink refused id2"));
	sb_release(&b);
}

static void expect_corrupt(const struct strbuf *b, size_t len, const char *needle)
{
	struct cv_err e = { 0 };
	struct got g = { 0 };
	struct cv_pickle p;

	assert_int_equal(cv_pickle_parse((const uint8_t *)b->buf, len, "t.pickle",
					 collect, &g, &p, &e), CV_ECORRUPT);
	assert_int_equal(p.n_ids, 0);
	if (needle && !strstr(e.msg, needle))
		fail_msg("\"%s\" lacks \"%s\"", e.msg, needle);
}

static void test_every_truncation(void **state)
{
	struct strbuf r = STRBUF_INIT, py = STRBUF_INIT;
	size_t i;

	(void)state;
	rust_pickle(&r, 3);
	python_pickle(&py);
	for (i = 0; i < r.len; i++)
		expect_corrupt(&r, i, "t.pickle: offset");
	for (i = 0; i < py.len; i++)
		expect_corrupt(&py, i, "t.pickle: offset");
	sb_release(&r);
	sb_release(&py);
}

static void test_hostile(void **state)
{
	struct strbuf b = STRBUF_INIT;
	int i;

	(void)state;
	sb_add(&b, "\x80\x03}(X\xff\xff\xff\x7f", 9);   /* huge string length */
	expect_corrupt(&b, b.len, "string longer than the file");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}\x52.", 5);                /* REDUCE: not supported */
	expect_corrupt(&b, b.len, "unsupported pickle opcode 0x52");
	sb_reset(&b);
	sb_add(&b, "\x80\x03h\x05.", 5);                /* memo never set */
	expect_corrupt(&b, b.len, "memo index not set");
	sb_reset(&b);
	for (i = 0; i < 100000; i++)
		op(&b, '(');                             /* deep marks */
	expect_corrupt(&b, b.len, "marks nested too deeply");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}.x", 5);                   /* data after STOP */
	expect_corrupt(&b, b.len, "data after STOP");
	sb_reset(&b);
	sb_add(&b, "\x8c\x00.", 3);        /* the first string empty (UBSan found) */
	expect_corrupt(&b, b.len, "top level is not a dict");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}(X\x0b\0\0\0id_to_labelJ\x01\0\0\0u.",
	       sizeof("\x80\x03}(X\x0b\0\0\0id_to_labelJ\x01\0\0\0u.") - 1);
	expect_corrupt(&b, b.len, "id_to_label is not a dict");
	sb_reset(&b);
	sb_add(&b, "\x80\x03]", 3);                     /* top level is a list */
	op(&b, '.');
	expect_corrupt(&b, b.len, "top level is not a dict");
	sb_reset(&b);
	sb_add(&b, "\x80\x03u.", 4);                    /* SETITEMS without MARK */
	expect_corrupt(&b, b.len, "SETITEMS without MARK");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}(", 4);                    /* two id_to_label dicts */
	ustr(&b, "id_to_label"); op(&b, '}');
	ustr(&b, "id_to_label"); op(&b, '}');
	op(&b, 'u'); op(&b, '.');
	expect_corrupt(&b, b.len, "a second id_to_label");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}(", 4);                    /* an id dropped, then reused */
	ustr(&b, "label_to_id"); op(&b, '}'); op(&b, '(');
	binint(&b, 1); sstr(&b, "a"); op(&b, 'u');
	ustr(&b, "id_to_label"); op(&b, '}'); op(&b, '(');
	op(&b, 'h'); op(&b, 0); binint(&b, 1); op(&b, 'u');
	op(&b, 'u'); op(&b, '.');
	expect_corrupt(&b, b.len, "repeats an earlier string");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}\x94(", 5);                /* the root changed mid-entry */
	ustr(&b, "id_to_label"); op(&b, '}'); op(&b, '(');
	binint(&b, 5); op(&b, '(');
	op(&b, 'h'); op(&b, 0); ustr(&b, "k"); binint(&b, 1); op(&b, 's');
	op(&b, 'u'); op(&b, 'u'); op(&b, 'u'); op(&b, '.');
	expect_corrupt(&b, b.len, "an earlier dict is changed");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}(", 4);                    /* BUILD reaching below a MARK */
	ustr(&b, "id_to_label"); op(&b, '}'); op(&b, '(');
	op(&b, '}'); op(&b, 'b');
	expect_corrupt(&b, b.len, "BUILD with no object");
	sb_reset(&b);
	sb_add(&b, "\x80\x03}(", 4);                    /* SETITEM reaching below one */
	ustr(&b, "k"); binint(&b, 1); op(&b, 's');
	expect_corrupt(&b, b.len, "SETITEM on something that is not a dict");
	sb_reset(&b);
	sb_add(&b, "\x80\x04}(", 4);                    /* FRAME before a MEMOIZE */
	ustr(&b, "label_to_id"); op(&b, '}'); op(&b, '(');
	op(&b, 'K'); op(&b, 1); ustr(&b, "a");
	op(&b, 0x95); sb_add(&b, "\x10\0\0\0\0\0\0\0", 8); op(&b, 0x94);
	op(&b, 'u');
	ustr(&b, "id_to_label"); op(&b, '}'); op(&b, '(');
	op(&b, 'h'); op(&b, 0); op(&b, 'K'); op(&b, 1); op(&b, 'u');
	op(&b, 'u'); op(&b, '.');
	expect_corrupt(&b, b.len, "repeats an earlier string");
	sb_release(&b);
}

/*
 * A streamed dict inside another's entry (found by review): memo keys and
 * pairs must not outlive the values they name. Under ASan this was a
 * use-after-free; now the inner dict is the entry's value, dropped with it.
 */
static void test_nested_streams(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct cv_err e = { 0 };
	struct got g = { 0 };
	struct cv_pickle p;
	int rc;

	(void)state;
	sb_add(&b, "\x80\x03}(", 4);
	ustr(&b, "label_to_id"); op(&b, '}'); op(&b, '(');
	op(&b, '}'); op(&b, 'q'); op(&b, 1); op(&b, '(');
	ustr(&b, "label_to_id"); op(&b, '}'); op(&b, '(');
	op(&b, 'h'); op(&b, 1); op(&b, 'q'); op(&b, 2);
	op(&b, 'K'); op(&b, 0); op(&b, 'u'); op(&b, 'u');
	op(&b, 'K'); op(&b, 0); op(&b, 'u');
	op(&b, 'h'); op(&b, 2); op(&b, '('); op(&b, 'h'); op(&b, 2);
	op(&b, 'h'); op(&b, 2); op(&b, 'u'); op(&b, '.');
	rc = cv_pickle_parse((const uint8_t *)b.buf, b.len, "t.pickle", collect,
			     &g, &p, &e);
	assert_true(rc == CV_ECORRUPT);
	sb_release(&b);
}

static void test_real_fixture(void **state)
{
	const char *dir = getenv("CV_FIXTURES");
	char path[512];
	struct got g = { 0 };
	struct cv_pickle p;
	struct cv_err e = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/repomind-navneet/db/"
		 "0822d49d-fdb4-4977-a398-9596cb1993aa/index_metadata.pickle",
		 dir ? dir : "../shared/fixtures/real-world");
	if (access(path, R_OK))
		skip();
	assert_int_equal(cv_pickle_load(path, collect, &g, &p, &e), 0);
	assert_int_equal(p.n_ids, 69);
	assert_int_equal(g.n, 69);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rust_shape),
		cmocka_unit_test(test_python_shape),
		cmocka_unit_test(test_python_memo_at_scale),
		cmocka_unit_test(test_streams_from_file),
		cmocka_unit_test(test_sink_error_stops),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_nested_streams),
		cmocka_unit_test(test_real_fixture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
