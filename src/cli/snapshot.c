/*
 * `chromavault snapshot DIR DEST`: a consistent plain copy of a live persist
 * directory (the cookbook's "disk snapshot"), with copy-on-write clones
 * where the filesystem offers them.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chroma/livecopy.h"
#include "cli/cli.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/banned.h"

#define SNAPSHOT_RETRIES 8

/*
 * fsync every file and folder of the copy (a persist directory's two
 * levels), each folder after what it holds. Done once Chroma's writers go
 * on: they never wait for the disk.
 */
static int sync_tree(const char *root, int depth)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(root);
	int rc = d ? 0 : -1;

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", root, de->d_name);
		if (lstat(p.buf, &st))
			rc = -1;
		else if (S_ISDIR(st.st_mode) && depth == 0 && sync_tree(p.buf, 1))
			rc = -1;
		else if (S_ISREG(st.st_mode) && sync_path(p.buf))
			rc = -1;
	}
	if (d)
		closedir(d);
	sb_release(&p);
	return rc || sync_path(root) ? -1 : 0;
}

static int snapshot_one(const char *dir, const char *dest, int as_json,
			struct cv_err *e)
{
	struct strbuf tmp = STRBUF_INIT;
	struct lc_stats st = { 0 };
	struct stat sb;
	int rc, held = -1;

	if (!stat(dest, &sb))
		return cv_errf(e, CV_EUSAGE, "%s: already exists", dest);
	if (tmp_dir_make(dest, &tmp, &held)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", tmp.buf);
		goto out;
	}
	rc = chroma_capture(dir, tmp.buf, SNAPSHOT_RETRIES, NULL, &st, e);
	if (!rc && sync_tree(tmp.buf, 0))
		rc = cv_errno(e, CV_EIO, "%s: cannot sync", tmp.buf);
	signal_cleanup_dir(NULL);
	if (!rc && rename(tmp.buf, dest))
		rc = cv_errno(e, CV_EIO, "%s: cannot rename into place", dest);
	if (rc) {
		rm_tree(tmp.buf);
		goto out;
	}
	if (sync_parent(dest)) {
		rc = cv_errno(e, CV_EIO, "%s: copied, but the folder holding it cannot "
			      "be synced", dest);
		goto out;
	}
	cli_print_warnings(&cmd_snapshot, NULL, st.warnings);
	if (as_json)
		printf("{\"dest\":\"%s\",\"bytes\":%llu,\"lock_ms\":%.1f,\"retries\":%d}\n",
		       dest, (unsigned long long)st.bytes_read, st.lock_ms, st.retries);
	else
		printf("snapshot of %s in %s: %.1f MB; %s %.0f ms\n", dir, dest,
		       (double)st.bytes_read / 1e6, lc_held(&st), st.lock_ms);
out:
	if (held >= 0)
		close(held);
	json_decref(st.collections);
	json_decref(st.warnings);
	json_decref(st.stamps);
	json_decref(st.kept);
	sb_release(&tmp);
	return rc;
}

static int snapshot_run(int argc, char **argv)
{
	static const char *const names[] = { "json", NULL };
	struct cv_err e = { 0 };
	int flags[1], rc;

	if ((rc = cli_flags(&cmd_snapshot, argc, argv, names, flags, 2,
			    "DIR and DEST")) >= 0)
		return rc;
	if (path_within(argv[optind], argv[optind + 1]))
		return cli_usage_error(&cmd_snapshot, "DEST %s is inside DIR %s: a "
				       "snapshot never writes into the directory it "
				       "reads", argv[optind + 1], argv[optind]);
	if (snapshot_one(argv[optind], argv[optind + 1], flags[0], &e))
		return cli_fail(&cmd_snapshot, &e);
	return 0;
}

const struct cli_cmd cmd_snapshot = {
	.name = "snapshot",
	.usage = "snapshot DIR DEST [--json]",
	.summary = "Copy a persist directory, live or stopped, into DEST (which must not\n"
		   "exist) in one consistent state, as backup takes it: reflinks where\n"
		   "the filesystem has them, copy_file_range otherwise; every file\n"
		   "fsynced, DEST renamed into place when complete.",
	.options = "  --json     summary as JSON (bytes, lock_ms, retries)\n",
	.run = snapshot_run,
};
