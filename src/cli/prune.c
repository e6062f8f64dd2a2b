/*
 * `chromavault prune REPO --keep-last N --keep-daily N --keep-weekly N`:
 * forget snapshots outside the policy, then delete the chunks no kept
 * snapshot references.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "repo/fpcache.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "repo/walk.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

struct policy {
	long long last, daily, weekly;
	int dry_run;
};

struct snap {
	char *name;
	char *source;     /* host:path, the group whose policy applies */
	long long time;
	int keep, done;
};

/* Keep the newest snapshot of each of the newest n distinct periods. */
static void keep_periods(struct snap *s, size_t n, long long count,
			 const char *fmt)
{
	char prev[32] = "", cur[32];
	struct tm tm;
	time_t t;
	size_t i;

	for (i = n; i-- > 0 && count > 0;) {
		t = (time_t)s[i].time;
		gmtime_r(&t, &tm);
		strftime(cur, sizeof(cur), fmt, &tm);
		if (!strcmp(cur, prev))
			continue;
		memcpy(prev, cur, sizeof(prev));
		s[i].keep = 1;
		count--;
	}
}

static void apply_policy(struct snap *s, size_t n, const struct policy *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		s[i].keep = (long long)(n - i) <= p->last;
	keep_periods(s, n, p->daily, "%Y-%m-%d");
	keep_periods(s, n, p->weekly, "%G-W%V");
}

/*
 * The policy applies to the snapshots of each source (host and directory,
 * or the name backup --source gave) on its own, so backups of one
 * directory never crowd out another's.
 */
static void apply_by_source(struct snap *s, size_t n, const struct policy *p)
{
	struct snap *g = xcalloc(n + 1, sizeof(*g));
	size_t *at = xcalloc(n + 1, sizeof(*at));
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		if (s[i].done)
			continue;
		for (k = 0, j = i; j < n; j++)
			if (!s[j].done && !strcmp(s[j].source, s[i].source)) {
				g[k] = s[j];
				at[k++] = j;
				s[j].done = 1;
			}
		apply_policy(g, k, p);
		for (j = 0; j < k; j++)
			s[at[j]].keep = g[j].keep;
	}
	free(g);
	free(at);
}

static char *source_of(const struct manifest *m)
{
	const char *host = json_string_value(json_object_get(m->root, "host"));
	const char *src = json_string_value(json_object_get(m->root, "source"));
	struct strbuf sb = STRBUF_INIT;

	sb_addf(&sb, "%s:%s", host ? host : "", src ? src : "");
	return sb_detach(&sb, NULL);
}

static int add_chunk(void *ctx, const struct manifest *m,
		     const struct mf_file *f, const struct walk_at *at,
		     const uint8_t *hash, struct cv_err *e)
{
	hashset_add(ctx, hash);
	return 0;
}

static int load_snaps(struct repo *r, struct snap **out, size_t *n,
		      struct cv_err *e)
{
	struct manifest m;
	char **names;
	size_t i;
	int rc;

	if ((rc = repo_list_snapshots(r, &names, n, e)))
		return rc;
	*out = xcalloc(*n + 1, sizeof(**out));
	for (i = 0; i < *n; i++) {
		(*out)[i].name = names[i];
		if (!rc && !(rc = manifest_load(r, names[i], &m, e))) {
			(*out)[i].time = m.time;
			(*out)[i].source = source_of(&m);
		}
		manifest_release(&m);
	}
	free(names);
	if (rc == CV_ECORRUPT)
		cv_err_prefix(e, "nothing pruned: which chunks an unreadable snapshot "
			      "needs is unknown (move its file out of snapshots/ to "
			      "prune without it)");
	return rc;
}

static int mark_kept(struct repo *r, struct snap *s, size_t n,
		     struct hashset *keep, struct cv_err *e)
{
	struct manifest m;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < n; i++) {
		if (!s[i].keep)
			continue;
		if (!(rc = manifest_load(r, s[i].name, &m, e)))
			rc = walk_snapshot(r, &m, add_chunk, keep, 1, e);
		manifest_release(&m);
	}
	if (rc)
		cv_err_prefix(e, "nothing pruned: which chunks a kept snapshot needs "
			      "could not all be read (verify names what is damaged)");
	return rc;
}

static int forget(struct repo *r, struct snap *s, size_t n, int dry_run,
		  struct cv_err *e)
{
	char path[256];
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < n; i++) {
		printf("%s %s  %s\n", s[i].keep ? "keep  " : "remove", s[i].name,
		       s[i].source);
		if (s[i].keep || dry_run)
			continue;
		snprintf(path, sizeof(path), "snapshots/%s.json", s[i].name);
		if (!(rc = store_remove(&r->st, path, e)))
			fpc_remove(r, s[i].name);
	}
	return rc;
}

/* With --dry-run, what a killed run left is named, not removed. */
static void would_remove(const char *path)
{
	printf("dry run: would remove %s (left by an interrupted run)\n", path);
}

static void would_remove_cache(const char *path)
{
	printf("dry run: would remove %s (the fingerprint cache of a snapshot that "
	       "is gone)\n", path);
}

static int prune_all(const char *path, const struct policy *p, struct cv_err *e)
{
	struct gc_stats gs;
	struct hashset keep;
	struct snap *s = NULL;
	struct repo r;
	size_t n = 0, i;
	int rc;

	if ((rc = repo_open(path, STORE_EXCLUSIVE, &r, e)))
		return rc;
	hashset_init(&keep, SHA256_LEN);
	/* the chunks in an unread index's pack are unknown: a kept snapshot
	 * may need them, so that pack must not go */
	if (!(rc = repo_indexes_needed(&r, "nothing pruned: which chunks its pack "
				       "holds is unknown", e)) &&
	    !(rc = load_snaps(&r, &s, &n, e))) {
		apply_by_source(s, n, p);
		/* what the kept snapshots need is known before anything is removed */
		rc = mark_kept(&r, s, n, &keep, e);
	}
	if (!rc)
		rc = forget(&r, s, n, p->dry_run, e);
	if (!rc)
		rc = repo_gc(&r, &keep, p->dry_run, &gs, e);
	if (!rc) {
		repo_clean_leftovers(&r, p->dry_run ? would_remove : NULL);
		fpc_sweep(&r, p->dry_run ? would_remove_cache : NULL);
		printf("%s%llu chunks unreferenced: %llu packs removed, %llu rewritten\n",
		       p->dry_run ? "dry run: " : "", (unsigned long long)gs.chunks_removed,
		       (unsigned long long)gs.packs_removed,
		       (unsigned long long)gs.packs_rewritten);
	}
	for (i = 0; s && i < n; i++) {
		free(s[i].name);
		free(s[i].source);
	}
	free(s);
	hashset_release(&keep);
	repo_close(&r, NULL);
	return rc;
}

static const struct option prune_longopts[] = {
	{ "keep-last", required_argument, NULL, 'l' },
	{ "keep-daily", required_argument, NULL, 'd' },
	{ "keep-weekly", required_argument, NULL, 'w' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "lock-wait", required_argument, NULL, 'W' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int prune_run(int argc, char **argv)
{
	struct policy p = { 0, 0, 0, 0 };
	struct cv_err e = { 0 };
	long long *dst;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", prune_longopts, NULL)) != -1) {
		dst = ch == 'l' ? &p.last : ch == 'd' ? &p.daily : ch == 'w' ? &p.weekly : NULL;
		if (dst && (*dst = cli_parse_count(optarg)) < 0)
			return cli_usage_error(&cmd_prune, "--keep-* wants a count");
		if (ch == 'n')
			p.dry_run = 1;
		else if (ch == 'W') {
			if ((rc = cli_lock_wait(&cmd_prune, optarg)) >= 0)
				return rc;
		} else if (ch == 'h') {
			cli_print_help(&cmd_prune, stdout);
			return 0;
		} else if (!dst)
			return cli_bad_option(&cmd_prune, argv);
	}
	if (optind + 1 != argc)
		return cli_usage_error(&cmd_prune, "expected REPO");
	if (!p.last && !p.daily && !p.weekly)
		return cli_usage_error(&cmd_prune, "a --keep-* option is required "
				       "(pruning to nothing is not offered)");
	if (prune_all(argv[optind], &p, &e))
		return cli_fail(&cmd_prune, &e);
	return 0;
}

const struct cli_cmd cmd_prune = {
	.name = "prune",
	.usage = "prune REPO [--keep-last N] [--keep-daily N] [--keep-weekly N] [--dry-run]\n"
		 "                          [--lock-wait S]",
	.summary = "Forget the snapshots the policy does not keep (and their fingerprint\n"
		   "caches), then delete chunks no kept snapshot references (packs\n"
		   "holding some are rewritten first).\n"
		   "The policy applies to each source (host and directory, or the name\n"
		   "backup --source gave) on its own.\n"
		   "A crash at any moment never loses a chunk a kept snapshot needs.\n"
		   "Nothing is pruned while a pack index cannot be read (exit 3).",
	.options =
		"  --keep-last N     the newest N snapshots of each source\n"
		"  --keep-daily N    the newest snapshot of each of the N latest days\n"
		"                    that have one (as restic counts them)\n"
		"  --keep-weekly N   the same for ISO weeks\n"
		"  --dry-run         say what would be removed, remove nothing\n"
		CLI_LOCK_WAIT_HELP,
	.run = prune_run,
	.lock_wait = 1,
};
