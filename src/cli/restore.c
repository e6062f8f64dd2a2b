/*
 * `chromavault restore REPO SNAPSHOT|latest TARGET`: a snapshot back into a
 * directory, every chunk and file hash checked, complete or not at all.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "util/fsutil.h"
#include "util/progress.h"
#include "util/strbuf.h"
#include "util/banned.h"

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static struct progress prog;
static uint64_t prog_done;

/* The chunks of one file, each checked, then the whole file's hash. */
static int restore_data(struct repo *r, const struct manifest *m,
			const struct mf_file *f, int fd, const char *path,
			struct cv_err *e)
{
	struct strbuf list = STRBUF_INIT, chunk = STRBUF_INIT, out = STRBUF_INIT;
	struct sha256 whole;
	uint8_t sum[SHA256_LEN];
	uint64_t off = 0;
	size_t i;
	int rc;

	sha256_init(&whole);
	rc = repo_get_list(r, f->segs, f->nsegs, &list, e);
	for (i = 0; !rc && i < list.len / SHA256_LEN; i++) {
		rc = repo_get(r, (const uint8_t *)list.buf + i * SHA256_LEN, &chunk, e);
		if (rc)
			break;
		sb_add(&out, chunk.buf, chunk.len);
		if (out.len >= (1u << 20)) {
			if (write_all(fd, out.buf, out.len))
				rc = cv_errno(e, CV_EIO, "%s: write failed", path);
			sb_reset(&out);
		}
		sha256_update(&whole, chunk.buf, chunk.len);
		off += chunk.len;
		prog_done += chunk.len;
		progress_update(&prog, prog_done);
	}
	if (!rc && out.len && write_all(fd, out.buf, out.len))
		rc = cv_errno(e, CV_EIO, "%s: write failed", path);
	if (rc)
		cv_err_prefix(e, "snapshot %s: %s at offset %llu", m->name, f->path,
			      (unsigned long long)off);
	sha256_final(&whole, sum);
	if (!rc && (off != f->size || memcmp(sum, f->sha, SHA256_LEN)))
		rc = cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: restored content does "
			     "not match its recorded size and sha256", m->name, f->path);
	sb_release(&list);
	sb_release(&chunk);
	sb_release(&out);
	return rc;
}

static int restore_file(struct repo *r, const struct manifest *m,
			const struct mf_file *f, const char *root, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	struct timespec ts[2];
	int fd, rc;

	sb_addf(&path, "%s/%s", root, f->path);
	if (f->is_dir) {
		rc = mkdir(path.buf, 0755) && errno != EEXIST ?
		     cv_errno(e, CV_EIO, "%s: cannot create", path.buf) : 0;
		sb_release(&path);
		return rc;
	}
	fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", path.buf);
		sb_release(&path);
		return rc;
	}
	rc = restore_data(r, m, f, fd, path.buf, e);
	ts[0].tv_sec = ts[1].tv_sec = f->mtime_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = f->mtime_ns % 1000000000;
	if (!rc && (fchmod(fd, f->mode & 07777) || futimens(fd, ts) || fsync(fd)))
		rc = cv_errno(e, CV_EIO, "%s: cannot finish", path.buf);
	close(fd);
	sb_release(&path);
	return rc;
}

static int target_ok(const char *target, int force, int *exists,
		     struct cv_err *e)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int empty = 1;

	*exists = !stat(target, &st);
	if (!*exists)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return cv_errf(e, CV_EUSAGE, "%s: exists and is not a directory", target);
	d = opendir(target);
	while (d && empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	if (!empty && !force)
		return cv_errf(e, CV_EUSAGE, "%s: not empty (use --force to replace it)",
			       target);
	return 0;
}

/* Move the finished tree into place; an existing target is replaced. */
static int swap_in(const char *tmp, const char *target, int exists,
		   struct cv_err *e)
{
	struct strbuf old = STRBUF_INIT;
	int rc = 0;

	sb_addf(&old, "%s.old.%ld", target, (long)getpid());
	if (exists && rename(target, old.buf))
		rc = cv_errno(e, CV_EIO, "%s: cannot move aside", target);
	if (!rc && rename(tmp, target)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot rename into place", target);
		if (exists)
			rename(old.buf, target);
	}
	if (!rc && exists)
		rm_tree(old.buf);
	sb_release(&old);
	return rc;
}

static int restore_all(const char *repo_path, const char *snap,
		       const char *target, int force, struct cv_err *e)
{
	struct strbuf tmp = STRBUF_INIT, p = STRBUF_INIT;
	struct manifest m = { 0 };
	struct repo r;
	uint64_t total;
	size_t i;
	int rc, exists;

	if ((rc = target_ok(target, force, &exists, e)))
		return rc;
	if ((rc = repo_open(repo_path, 0, &r, e)))
		return rc;
	if ((rc = manifest_load(&r, snap, &m, e)))
		goto out;
	sb_addf(&tmp, "%s.tmp.%ld", target, (long)getpid());
	if (mkdir(tmp.buf, 0755)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", tmp.buf);
		goto out;
	}
	for (i = 0, total = 0; i < m.n; i++)
		total += m.files[i].size;
	progress_init(&prog, "restore", total);
	for (i = 0; !rc && i < m.n; i++)
		rc = restore_file(&r, &m, &m.files[i], tmp.buf, e);
	progress_end(&prog);
	for (i = 0; !rc && i < m.n; i++) {
		if (!m.files[i].is_dir)
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", tmp.buf, m.files[i].path);
		sync_dir(p.buf);
	}
	if (!rc && sync_dir(tmp.buf))
		rc = cv_errno(e, CV_EIO, "%s: cannot sync", tmp.buf);
	if (!rc)
		rc = swap_in(tmp.buf, target, exists, e);
	if (rc)
		rm_tree(tmp.buf);
	else
		printf("restored snapshot %s: %zu entries into %s\n", m.name, m.n, target);
out:
	manifest_release(&m);
	repo_close(&r, NULL);
	sb_release(&tmp);
	sb_release(&p);
	return rc;
}

static int restore_run(int argc, char **argv)
{
	static const char *const names[] = { "force", NULL };
	struct cv_err e = { 0 };
	int flags[1], rc;

	if ((rc = cli_flags(&cmd_restore, argc, argv, names, flags, 3,
			    "REPO, SNAPSHOT and TARGET")) >= 0)
		return rc;
	if (restore_all(argv[optind], argv[optind + 1], argv[optind + 2], flags[0], &e))
		return cli_fail(&cmd_restore, &e);
	return 0;
}

const struct cli_cmd cmd_restore = {
	.name = "restore",
	.usage = "restore REPO SNAPSHOT|latest TARGET [--force]",
	.summary = "Restore a snapshot into TARGET, which must not exist or be empty.\n"
		   "Files are written into a temporary folder beside it, every chunk\n"
		   "and every file checked against its SHA-256, then renamed into\n"
		   "place: TARGET holds the whole snapshot or is left as it was.",
	.options = "  --force    replace a non-empty TARGET (only once the restore succeeded)\n",
	.run = restore_run,
};
