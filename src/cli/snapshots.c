/*
 * `chromavault snapshots REPO [--json]`: the snapshots of a repository.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "util/banned.h"

/* A member of the manifest, or null: an old or hand-made one may lack it. */
static json_t *member(const struct manifest *m, const char *key)
{
	json_t *v = json_object_get(m->root, key);

	return v ? json_incref(v) : json_null();
}

/* NULL only if jansson cannot build it (out of memory): checked anyway. */
static json_t *summary(const struct manifest *m)
{
	json_t *colls = json_object_get(m->root, "collections"), *c;
	json_t *warnings = json_object_get(m->root, "warnings");
	json_int_t records = 0, bytes = 0;
	size_t i;

	json_array_foreach(colls, i, c)
		records += json_integer_value(json_object_get(c, "records"));
	for (i = 0; i < m->n; i++) /* sizes are at most INT64_MAX: saturated */
		bytes = (uint64_t)(INT64_MAX - bytes) < m->files[i].size ? INT64_MAX :
			bytes + (json_int_t)m->files[i].size;
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o}", "id", m->name,
			 "time", member(m, "time"), "host", member(m, "host"),
			 "source", member(m, "source"),
			 "chroma_version", member(m, "chroma_version"),
			 "records", records, "bytes", bytes,
			 "collections", json_is_array(colls) ? json_incref(colls)
							     : json_array(),
			 "warnings", json_is_array(warnings) ? json_incref(warnings)
							     : json_array());
}

/* A string member, or "?" when the manifest has none. */
static const char *str(const json_t *s, const char *key)
{
	const char *v = json_string_value(json_object_get(s, key));

	return v ? v : "?";
}

/* One line a snapshot, then what its backup warned of, indented. */
static void print_line(const json_t *s)
{
	const json_t *w;
	size_t i;

	printf("%s  %s  %s  %lld records  %lld bytes  Chroma %s\n", str(s, "id"),
	       str(s, "time"), str(s, "source"),
	       (long long)json_integer_value(json_object_get(s, "records")),
	       (long long)json_integer_value(json_object_get(s, "bytes")),
	       str(s, "chroma_version"));
	json_array_foreach(json_object_get(s, "warnings"), i, w)
		printf("    warning: %s\n", json_is_string(w) ? json_string_value(w) :
		       "(not text)");
}

static int list_all(const char *path, int as_json, struct cv_err *e)
{
	struct manifest m;
	struct repo r;
	char **names = NULL;
	size_t n = 0, i;
	json_t *all = json_array(), *s;
	size_t bad = 0;
	int rc;

	if ((rc = repo_open(path, STORE_READ, &r, e)))
		goto out;
	for (i = 0; i < r.nbad; i++) /* listing needs no chunk: said, not failed */
		fprintf(stderr, "chromavault snapshots: warning: %s (verify names what "
			"it affects)\n", r.bad[i].err.msg);
	rc = repo_list_snapshots(&r, &names, &n, e);
	for (i = 0; !rc && i < n; i++) {
		struct cv_err me = { 0 };

		if (manifest_load(&r, names[i], &m, &me)) {
			/* the others are still listed; the exit code says it */
			fprintf(stderr, "chromavault snapshots: %s\n", me.msg);
			bad++;
			continue;
		}
		if (!(s = summary(&m))) { /* listed by name, and counted */
			fprintf(stderr, "chromavault snapshots: snapshot %s: cannot "
				"summarise its manifest\n", names[i]);
			s = json_pack("{s:s}", "id", names[i]);
			bad++;
		}
		json_array_append_new(all, s);
		manifest_release(&m);
	}
	repo_close(&r, NULL);
	if (rc)
		goto out;
	if (as_json) {
		json_dumpf(all, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_array_foreach(all, i, s)
		if (!as_json)
			print_line(s);
	if (!as_json && !n)
		fprintf(stderr, "chromavault snapshots: %s: no snapshots yet\n", path);
	if (bad)
		rc = cv_errf(e, CV_ECORRUPT, "%s: %zu snapshot%s could not be read "
			     "(above)", path, bad, bad == 1 ? "" : "s");
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_decref(all);
	return rc;
}

static int snapshots_run(int argc, char **argv)
{
	static const char *const names[] = { "json", NULL };
	struct cv_err e = { 0 };
	int flags[1], rc;

	if ((rc = cli_flags(&cmd_snapshots, argc, argv, names, flags, 1, "REPO")) >= 0)
		return rc;
	if (list_all(argv[optind], flags[0], &e))
		return cli_fail(&cmd_snapshots, &e);
	return 0;
}

const struct cli_cmd cmd_snapshots = {
	.name = "snapshots",
	.usage = "snapshots REPO [--json] [--lock-wait S]",
	.summary = "List the snapshots of a repository, oldest first: id, time, source,\n"
		   "records, bytes and the Chroma versions the directory fits, each\n"
		   "followed by what its backup warned of (what it left out, and why).",
	.options = "  --json            machine-readable list\n" CLI_LOCK_WAIT_HELP,
	.run = snapshots_run,
	.lock_wait = 1,
};
