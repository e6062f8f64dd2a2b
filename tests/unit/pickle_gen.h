/*
 * Pickles for the unit tests, written opcode by opcode: the shapes Chroma
 * writes (chroma-format.md §5.8). Header-only: each test program includes
 * it once.
 */
#ifndef CV_TEST_PICKLE_GEN_H
#define CV_TEST_PICKLE_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/strbuf.h"

static inline void op(struct strbuf *b, int c) { sb_addch(b, (char)c); }

static inline void u32le(struct strbuf *b, uint32_t v)
{
	char p[4] = { (char)v, (char)(v >> 8), (char)(v >> 16), (char)(v >> 24) };

	sb_add(b, p, 4);
}

static inline void ustr(struct strbuf *b, const char *s) /* BINUNICODE */
{
	op(b, 'X');
	u32le(b, (uint32_t)strlen(s));
	sb_adds(b, s);
}

static inline void sstr(struct strbuf *b, const char *s) /* SHORT_BINUNICODE + MEMOIZE */
{
	op(b, 0x8c);
	op(b, (int)strlen(s));
	sb_adds(b, s);
	op(b, 0x94);
}

static inline void binint(struct strbuf *b, int32_t v)
{
	op(b, 'J');
	u32le(b, (uint32_t)v);
}

/*
 * The Rust shape: protocol 3, a plain dict, SETITEMS batches of 1000; id
 * "id<i>" has label i + 1.
 */
static inline void rust_pickle(struct strbuf *b, int n)
{
	char id[32];
	int i;

	op(b, 0x80); op(b, 3); op(b, '}'); op(b, '(');
	ustr(b, "dimensionality"); op(b, 'N');
	ustr(b, "total_elements_added"); binint(b, n);
	ustr(b, "max_seq_id"); op(b, 'N');
	ustr(b, "id_to_label"); op(b, '}'); op(b, '(');
	for (i = 0; i < n; i++) {
		if (i && i % 1000 == 0) { op(b, 'u'); op(b, '('); }
		snprintf(id, sizeof(id), "id%d", i);
		ustr(b, id);
		binint(b, i + 1);
	}
	op(b, 'u'); op(b, '('); op(b, 'u'); /* the trailing empty batch */
	ustr(b, "label_to_id"); op(b, '}');
	ustr(b, "id_to_seq_id"); op(b, '}');
	op(b, 'u'); op(b, '.');
}

#endif
