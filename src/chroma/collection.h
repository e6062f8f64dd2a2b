/*
 * Collections of a persist directory with tenant, database, segments,
 * configuration, schema and distance space (chroma-format.md §3.4-3.7).
 */
#ifndef CV_COLLECTION_H
#define CV_COLLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "chroma/db.h"
#include "util/err.h"

struct cv_collection {
	char *id;
	char *name;
	char *tenant;
	char *database;
	char *topic;           /* WAL topic */
	char *mseg;            /* METADATA segment id, NULL if missing */
	char *vseg;            /* VECTOR segment id, NULL if missing */
	int has_dimension;
	int64_t dimension;
	char *config_json;     /* raw config_json_str or NULL */
	char *schema_json;     /* raw schema_str or NULL */
	char *metadata_json;   /* collection metadata as JSON ("null" if none) */
	char space[8];         /* "l2", "cosine" or "ip" */
};

/*
 * Every collection, ordered by tenant, database, name. Caller frees with
 * cv_collections_free.
 */
int cv_collections_load(struct cv_db *db, struct cv_collection **out,
			size_t *n, struct cv_err *e);
void cv_collections_free(struct cv_collection *c, size_t n);
/* Free one collection's fields (not the struct itself). */
void cv_collection_release(struct cv_collection *c);

/*
 * The distance space from a schema and configuration alone (schema first),
 * as a server reports them; "l2" when neither says.
 */
void cv_space_from_json(const char *schema, const char *config, char out[8]);

/*
 * The tenant and database a location names (NULL: any) exist in db, or
 * CV_ENOTFOUND naming the one that does not.
 */
int cv_scope_check(struct cv_db *db, const char *tenant, const char *database,
		   struct cv_err *e);

/*
 * Find a collection by name; tenant/database may be NULL (any). Returns
 * CV_ENOTFOUND, or CV_EUSAGE when the name is ambiguous across databases.
 */
int cv_collection_find(struct cv_collection *c, size_t n, const char *name,
		       const char *tenant, const char *database,
		       struct cv_collection **found, struct cv_err *e);

#endif
