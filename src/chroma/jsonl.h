/*
 * chromavault's JSONL export format (docs/FORMAT.md): cdp-compatible record
 * lines and collection header lines, written by a pool of threads that
 * format embeddings in parallel and emit batches in order.
 */
#ifndef CV_JSONL_H
#define CV_JSONL_H

#include <stddef.h>

#include "chroma/collection.h"
#include "chroma/reader.h"
#include "util/ostream.h"
#include "util/strbuf.h"

#define JSONL_FORMAT_VERSION 1

/* The header line of a collection (with '\n'). */
void jsonl_header(struct strbuf *sb, const struct cv_collection *c);

/* One record line (with '\n'), formatted in the calling thread. */
void jsonl_record(struct strbuf *sb, const struct cv_record *rec);

struct jsonl_writer;

/* threads: formatting threads (-1: one per CPU, 0: inline; at most 8). */
struct jsonl_writer *jsonl_writer_new(struct ostream *os, int threads);
/* Queue a ready-made line (a header). */
void jsonl_writer_line(struct jsonl_writer *w, const char *text, size_t n);
/* Queue a record; its data is copied. */
void jsonl_writer_record(struct jsonl_writer *w, const struct cv_record *rec);
/* Drain, stop the threads, free. Errors are the ostream's (os_close). */
void jsonl_writer_free(struct jsonl_writer *w);

#endif
