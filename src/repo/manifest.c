/*
 * Snapshot manifests (see manifest.h).
 */
#include "repo/manifest.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "util/banned.h"

void mfw_init(struct mf_writer *w, struct repo *r)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->files = json_array();
	sb_init(&w->hashes, 0);
	bg_init(&w->hasher);
}

void mfw_release(struct mf_writer *w)
{
	uint8_t dummy[SHA256_LEN];

	if (w->cur) {
		sha256_final(&w->whole, dummy);
		json_decref(w->cur);
	}
	json_decref(w->files);
	sb_release(&w->hashes);
	bg_release(&w->hasher);
	memset(w, 0, sizeof(*w));
}

int mfw_dir(struct mf_writer *w, const char *rel, struct cv_err *e)
{
	if (*rel)
		json_array_append_new(w->files, json_pack("{s:s, s:b, s:i}", "path",
					rel, "dir", 1, "mode", 0755));
	return 0;
}

int mfw_file_begin(struct mf_writer *w, const char *rel, const struct stat *st)
{
	w->cur = json_pack("{s:s, s:i, s:I}", "path", rel, "mode",
			   (int)(st->st_mode & 07777), "mtime_ns",
			   (json_int_t)st->st_mtim.tv_sec * 1000000000 +
			   st->st_mtim.tv_nsec);
	sha256_init(&w->whole);
	sb_reset(&w->hashes);
	w->size = 0;
	return 0;
}

static void hash_chunks(void *arg)
{
	struct hash_job *j = arg;
	const uint8_t *p = j->p;
	size_t i;

	for (i = 0; i < j->n; p += j->lens[i], i++)
		sha256(p, j->lens[i], j->out + i * SHA256_LEN);
}

int mfw_chunks(struct mf_writer *w, const uint8_t *p, const size_t *lens,
	       size_t n, struct cv_err *e)
{
	size_t i, total = 0, at = w->hashes.len;
	const uint8_t *h;
	int rc = 0;

	for (i = 0; i < n; i++)
		total += lens[i];
	sb_grow(&w->hashes, n * SHA256_LEN);
	sb_setlen(&w->hashes, at + n * SHA256_LEN);
	w->job = (struct hash_job){ p, lens, n, (uint8_t *)w->hashes.buf + at };
	bg_start(&w->hasher, hash_chunks, &w->job);
	sha256_update(&w->whole, p, total);
	bg_wait(&w->hasher);
	w->size += total;
	for (i = 0; !rc && i < n; p += lens[i], i++) {
		h = (const uint8_t *)w->hashes.buf + at + i * SHA256_LEN;
		rc = repo_put(w->r, h, p, lens[i], e);
	}
	return rc;
}

int mfw_file_end(struct mf_writer *w, struct cv_err *e)
{
	struct strbuf segs = STRBUF_INIT;
	char hex[2 * SHA256_LEN + 1];
	uint8_t sum[SHA256_LEN];
	json_t *lists = json_array();
	size_t i;
	int rc;

	rc = repo_put_list(w->r, (const uint8_t *)w->hashes.buf,
			   w->hashes.len / SHA256_LEN, &segs, e);
	for (i = 0; i < segs.len / SHA256_LEN; i++) {
		hex_encode((const uint8_t *)segs.buf + i * SHA256_LEN, SHA256_LEN, hex);
		json_array_append_new(lists, json_string(hex));
	}
	sb_release(&segs);
	sha256_final(&w->whole, sum);
	hex_encode(sum, SHA256_LEN, hex);
	json_object_set_new(w->cur, "size", json_integer((json_int_t)w->size));
	json_object_set_new(w->cur, "sha256", json_string(hex));
	json_object_set_new(w->cur, "lists", lists);
	json_array_append_new(w->files, w->cur);
	w->cur = NULL;
	return rc;
}

static int parse_file(json_t *o, struct mf_file *f, const char *name, size_t i,
		      struct cv_err *e)
{
	json_t *lists = json_object_get(o, "lists"), *v;
	const char *sha = json_string_value(json_object_get(o, "sha256"));
	size_t k;

	memset(f, 0, sizeof(*f));
	f->path = json_string_value(json_object_get(o, "path"));
	f->is_dir = json_is_true(json_object_get(o, "dir"));
	f->mode = (unsigned)json_integer_value(json_object_get(o, "mode"));
	f->mtime_ns = json_integer_value(json_object_get(o, "mtime_ns"));
	f->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
	if (!f->path || strstr(f->path, "..") || f->path[0] == '/')
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: file %zu has a bad path",
			       name, i);
	if (f->is_dir)
		return 0;
	if (!sha || hex_decode(sha, f->sha, SHA256_LEN) || !json_is_array(lists))
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: bad sha256 or lists",
			       name, f->path);
	f->nsegs = json_array_size(lists);
	f->segs = xmalloc(f->nsegs * SHA256_LEN + 1);
	json_array_foreach(lists, k, v)
		if (!json_is_string(v) ||
		    hex_decode(json_string_value(v), f->segs + k * SHA256_LEN, SHA256_LEN))
			return cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: bad list entry",
				       name, f->path);
	return 0;
}

int manifest_parse(const char *name, const char *json, struct manifest *m,
		   struct cv_err *e)
{
	json_error_t je;
	json_t *files, *o;
	size_t i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->root = json_loads(json, 0, &je);
	if (!m->root || strcmp(json_string_value(json_object_get(m->root, "format")) ?
			       json_string_value(json_object_get(m->root, "format")) : "",
			       "chromavault-snapshot"))
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: not a manifest (line %d: "
			       "%s)", name, je.line, m->root ? "wrong format" : je.text);
	m->time = json_integer_value(json_object_get(m->root, "unix_time"));
	files = json_object_get(m->root, "files");
	m->files = xcalloc(json_array_size(files) + 1, sizeof(*m->files));
	json_array_foreach(files, i, o) {
		if ((rc = parse_file(o, &m->files[i], name, i, e)))
			break;
		m->n++;
	}
	if (rc)
		m->n++; /* release the partial entry too */
	return rc;
}

void manifest_release(struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->files[i].segs);
	free(m->files);
	json_decref(m->root);
	free(m->name);
	memset(m, 0, sizeof(*m));
}

int manifest_load(struct repo *r, const char *name, struct manifest *m,
		  struct cv_err *e)
{
	char **names = NULL, *json = NULL;
	size_t n = 0, i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!strcmp(name, "latest")) {
		if ((rc = repo_list_snapshots(r, &names, &n, e)))
			return rc;
		if (!n)
			rc = cv_errf(e, CV_ENOTFOUND, "%s: the repository has no "
				     "snapshot", r->st.root);
		else
			name = names[n - 1];
	}
	if (!rc && !(rc = repo_get_snapshot(r, name, &json, e)))
		rc = manifest_parse(name, json, m, e);
	free(json);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
