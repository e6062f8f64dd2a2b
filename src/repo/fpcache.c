/*
 * The fingerprint cache (see fpcache.h). cache/<snapshot>.fp is
 *
 *   "CVFP0002", 16-byte key id, u32 file count,
 *   per file: u16 path length, path, SHA-256 of its chunk list, u32 chunk
 *             count n, n × 16-byte fingerprints,
 *   SHA-256 of everything before it,
 *
 * little-endian, written like every repository file (temp, fsync, rename).
 */
#include "repo/fpcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/bytes.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

static const uint8_t fp_magic[8] = { 'C', 'V', 'F', 'P', '0', '0', '0', '2' };
#define FP_HEAD (8 + FP_KEY_ID + 4)
#define FP_ENTRY_MIN (2 + SHA256_LEN + 4)
#define FP_MAX_BYTES ((size_t)1 << 31)

void fp_of(const struct fp_key *k, const void *p, size_t n, uint8_t out[FP_LEN])
{
	XXH128_hash_t h = XXH3_128bits_withSecret(p, n, k->secret, sizeof(k->secret));

	memcpy(out, &h.low64, 8);
	memcpy(out + 8, &h.high64, 8);
}

/*
 * $XDG_CONFIG_HOME/chromavault, else ~/.config/chromavault; 0 if neither.
 * A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
 */
static int key_dir(struct strbuf *dir)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");

	if (x && *x == '/')
		sb_addf(dir, "%s/chromavault", x);
	else if (h && *h)
		sb_addf(dir, "%s/.config/chromavault", h);
	return dir->len > 0;
}

/* mkdir -p, the folders made 0700. */
static int make_dirs(char *path)
{
	char *s;

	for (s = path + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return mkdir(path, 0700) && errno != EEXIST ? -1 : 0;
}

static int read_key(const char *path, struct fp_key *k, struct cv_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t sum[SHA256_LEN], extra;
	ssize_t n;

	if (fd < 0)
		return cv_errno(e, errno == ENOENT ? CV_ENOTFOUND : CV_EIO, "%s: cannot "
				"read", path);
	n = read(fd, k->secret, sizeof(k->secret));
	if (n == (ssize_t)sizeof(k->secret) && read(fd, &extra, 1) == 0) {
		close(fd);
		sha256(k->secret, sizeof(k->secret), sum);
		memcpy(k->id, sum, FP_KEY_ID);
		return 0;
	}
	close(fd);
	return cv_errf(e, CV_ECORRUPT, "%s: not a fingerprint key (%d random bytes "
		       "expected)", path, FP_SECRET);
}

/*
 * The new key file at path unless another backup made one first (0 then
 * too): a link, or where the filesystem has none (FAT, exFAT), a rename
 * that does not replace.
 */
static int put_in_place(const char *tmp, const char *path)
{
	if (!link(tmp, path) || errno == EEXIST)
		return 0;
	if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS &&
	    errno != EMLINK)
		return -1;
	if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) ||
	    errno == EEXIST)
		return 0;
	return -1;
}

/* A new key, put in place unless another backup made one first. */
static int make_key(const char *dir, const char *path, struct cv_err *e)
{
	struct strbuf tmp = STRBUF_INIT;
	uint8_t secret[FP_SECRET];
	int fd, rc = 0;

	sb_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		rc = cv_errno(e, CV_EIO, "no random bytes for a fingerprint key");
	else if ((fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		rc = cv_errno(e, CV_EIO, "%s: cannot create", tmp.buf);
	else {
		if (write(fd, secret, sizeof(secret)) != (ssize_t)sizeof(secret) || fsync(fd))
			rc = cv_errno(e, CV_EIO, "%s: cannot write", tmp.buf);
		close(fd);
		if (!rc && put_in_place(tmp.buf, path))
			rc = cv_errno(e, CV_EIO, "%s: cannot create", path);
		unlink(tmp.buf);
		if (!rc && sync_parent(path))
			rc = cv_errno(e, CV_EIO, "%s: cannot sync", dir);
	}
	sb_release(&tmp);
	return rc;
}

/*
 * A key file that is not a key (damaged, or written by hand) moved aside,
 * so that a new one is made: the key only speeds backups up, and one no
 * cache was made with costs one backup that hashes every chunk.
 */
static int move_aside(const char *path, struct cv_err *why, struct cv_err *warn,
		      struct cv_err *e)
{
	struct strbuf bad = STRBUF_INIT;
	int rc = 0;

	sb_addf(&bad, "%s.bad", path);
	if (rename(path, bad.buf) && errno != ENOENT)
		rc = cv_errno(e, CV_EIO, "%s (cannot move it to %s)", why->msg, bad.buf);
	else
		cv_errf(warn, CV_ECORRUPT, "%s: moved to %s, and a new key made",
			why->msg, bad.buf);
	sb_release(&bad);
	return rc;
}

int fp_key_load(struct fp_key *k, struct cv_err *warn, struct cv_err *e)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	int rc;

	if (!key_dir(&dir)) {
		sb_release(&dir);
		return cv_errf(e, CV_EUSAGE, "neither XDG_CONFIG_HOME nor HOME is set: "
			       "no place for the fingerprint key");
	}
	sb_addf(&path, "%s/fingerprint.key", dir.buf);
	rc = read_key(path.buf, k, e);
	if (rc == CV_ECORRUPT) {
		struct cv_err why = *e;

		cv_err_clear(e);
		if (!(rc = move_aside(path.buf, &why, warn, e)))
			rc = CV_ENOTFOUND;
	}
	if (rc == CV_ENOTFOUND) {
		cv_err_clear(e);
		if (make_dirs(dir.buf))
			rc = cv_errno(e, CV_EIO, "%s: cannot create", dir.buf);
		else if (!(rc = make_key(dir.buf, path.buf, e)))
			rc = read_key(path.buf, k, e);
	}
	sb_release(&dir);
	sb_release(&path);
	return rc;
}

static void cache_name(char *out, size_t n, const char *snapshot)
{
	snprintf(out, n, "cache/%s.fp", snapshot);
}

/* Parse the files of a cache whose checksum matched; 0 if all are whole. */
static int parse_files(struct fp_cache *c, const uint8_t *p, const uint8_t *end,
		       uint32_t count)
{
	struct fp_entry *f;
	uint16_t plen;
	uint32_t i;

	if (count > (size_t)(end - p) / FP_ENTRY_MIN)
		return -1; /* more files than the bytes could hold */
	c->files = xcalloc(count ? count : 1, sizeof(*c->files));
	for (i = 0; i < count; i++) {
		f = &c->files[c->n];
		if (end - p < 2)
			return -1;
		memcpy(&plen, p, 2);
		p += 2;
		if ((size_t)(end - p) < (size_t)plen + SHA256_LEN + 4)
			return -1;
		f->path = xmemdupz(p, plen);
		c->n++;
		p += plen;
		memcpy(f->list_sha, p, SHA256_LEN);
		f->n = load_u32(p + SHA256_LEN);
		p += SHA256_LEN + 4;
		if ((size_t)(end - p) / FP_LEN < f->n)
			return -1;
		f->fps = p;
		p += f->n * FP_LEN;
	}
	return p == end ? 0 : -1;
}

int fpc_load(struct repo *r, const char *snapshot, const struct fp_key *k,
	     struct fp_cache *c)
{
	struct cv_err ignored = { 0 };
	uint8_t sum[SHA256_LEN], *buf = NULL;
	char name[256];
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	if (!snapshot)
		return -1;
	cache_name(name, sizeof(name), snapshot);
	if (store_get(&r->st, name, FP_MAX_BYTES, &buf, &n, &ignored) ||
	    n < FP_HEAD + SHA256_LEN || memcmp(buf, fp_magic, 8) ||
	    memcmp(buf + 8, k->id, FP_KEY_ID))
		goto none; /* none, or taken with another key */
	sha256(buf, n - SHA256_LEN, sum);
	if (memcmp(sum, buf + n - SHA256_LEN, SHA256_LEN))
		goto none;
	c->buf = buf;
	if (!parse_files(c, buf + FP_HEAD, buf + n - SHA256_LEN,
			 load_u32(buf + 8 + FP_KEY_ID)))
		return 0;
	fpc_release(c);
	buf = NULL;
none:
	free(buf);
	cv_err_clear(&ignored);
	return -1;
}

void fpc_release(struct fp_cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->files[i].path);
	free(c->files);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

const struct fp_entry *fpc_entry(const struct fp_cache *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->files[i].path, path))
			return &c->files[i];
	return NULL;
}

const uint8_t *fpc_find(const struct fp_cache *c, const char *path,
			const uint8_t *list, size_t n)
{
	const struct fp_entry *f = fpc_entry(c, path);
	uint8_t sum[SHA256_LEN];

	if (!f || f->n != n)
		return NULL;
	sha256(list, n * SHA256_LEN, sum);
	return memcmp(sum, f->list_sha, SHA256_LEN) ? NULL : f->fps;
}

void fpw_init(struct fp_writer *w, const struct fp_key *k)
{
	uint8_t head[FP_HEAD];

	memset(w, 0, sizeof(*w));
	w->key = k;
	sb_init(&w->out, 0);
	memcpy(head, fp_magic, 8);
	memcpy(head + 8, k->id, FP_KEY_ID);
	store_u32(head + 8 + FP_KEY_ID, 0); /* the count, set at commit */
	sb_add(&w->out, head, sizeof(head));
}

void fpw_release(struct fp_writer *w)
{
	sb_release(&w->out);
	memset(w, 0, sizeof(*w));
}

static void add_entry(struct fp_writer *w, const char *path,
		      const uint8_t sum[SHA256_LEN], size_t n, const uint8_t *fps)
{
	size_t plen = strlen(path);
	uint16_t l16 = (uint16_t)plen;
	uint8_t cnt[4];

	if (plen > UINT16_MAX || n > UINT32_MAX)
		return; /* such a file is hashed whole next time */
	store_u32(cnt, (uint32_t)n);
	sb_add(&w->out, &l16, 2);
	sb_add(&w->out, path, plen);
	sb_add(&w->out, sum, SHA256_LEN);
	sb_add(&w->out, cnt, 4);
	sb_add(&w->out, fps, n * FP_LEN);
	w->count++;
}

void fpw_add(struct fp_writer *w, const char *path, const uint8_t *list,
	     size_t n, const uint8_t *fps)
{
	uint8_t sum[SHA256_LEN];

	sha256(list, n * SHA256_LEN, sum);
	add_entry(w, path, sum, n, fps);
}

void fpw_copy(struct fp_writer *w, const struct fp_entry *f)
{
	add_entry(w, f->path, f->list_sha, f->n, f->fps);
}

int fpw_commit(struct repo *r, struct fp_writer *w, const char *snapshot,
	       const char *prev, struct cv_err *e)
{
	uint8_t sum[SHA256_LEN];
	char name[256];
	int rc;

	store_u32((uint8_t *)w->out.buf + 8 + FP_KEY_ID, w->count);
	sha256(w->out.buf, w->out.len, sum);
	sb_add(&w->out, sum, SHA256_LEN);
	cache_name(name, sizeof(name), snapshot);
	if ((rc = store_mkdir(&r->st, "cache", e)) ||
	    (rc = store_put(&r->st, name, w->out.buf, w->out.len, e)))
		return rc;
	if (prev)
		fpc_remove(r, prev);
	return 0;
}

void fpc_remove(struct repo *r, const char *snapshot)
{
	struct cv_err ignored = { 0 };
	char name[256];

	cache_name(name, sizeof(name), snapshot);
	if (store_may_exist(&r->st, name) && store_remove(&r->st, name, &ignored))
		cv_err_clear(&ignored);
}

void fpc_sweep(struct repo *r, void (*would)(const char *path))
{
	struct cv_err ignored = { 0 };
	struct strbuf full = STRBUF_INIT;
	char **names = NULL, path[300];
	size_t n = 0, i;

	if (store_list(&r->st, "cache", ".fp", &names, &n, &ignored))
		n = 0;
	for (i = 0; i < n; i++) {
		names[i][strlen(names[i]) - 3] = '\0';
		snprintf(path, sizeof(path), "snapshots/%s.json", names[i]);
		if (strlen(names[i]) < 128 && !store_may_exist(&r->st, path)) {
			sb_reset(&full);
			sb_addf(&full, "%s/cache/%s.fp", r->st.root, names[i]);
			if (would)
				would(full.buf);
			else
				fpc_remove(r, names[i]);
		}
		free(names[i]);
	}
	free(names);
	sb_release(&full);
	cv_err_clear(&ignored);
}
