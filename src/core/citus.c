/*-------------------------------------------------------------------------
 * citus.c
 *	  What the engine must know about Citus (doc/citus.md), found without
 *	  linking to it: only its settings are read.
 *
 * Citus propagates DDL from the node where it is issued to the others,
 * with citus.enable_ddl_propagation off in the session that applies it
 * there.  The issuing node runs the engine's own reaction to that DDL
 * (the replay check of a changed workflow function); a node applying a
 * propagated copy must not run it again, and cannot (its queries of
 * distributed tables would be distributed queries nested in Citus's).
 *
 * Citus plans a statement on distributed or reference tables only when
 * it knows the parameters' values, except for the simplest router
 * statements: a generic plan of a multi-shard statement, or of an upsert
 * into a reference table, fails ("could not create distributed plan").
 * So where Citus is loaded, the engine's kept statements are planned for
 * their values at each call (core/spi.c).
 *
 * Citus plans no multi-shard FOR UPDATE SKIP LOCKED, which is how a claim
 * takes tasks.  A claim under Citus therefore runs the single-node claim
 * statement on each of this node's own shards of workflow.tasks, ordinary
 * local tables named <table>_<shardid> in the table's schema
 * (wf_citus_local_shards), and workers claim from every node.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "core/core.h"

/* Is this DDL a copy Citus propagates from another node? */
bool
wf_citus_applying_propagated_ddl(void)
{
	const char *propagation = GetConfigOption("citus.enable_ddl_propagation", true, false);

	return propagation != NULL && strcmp(propagation, "off") == 0;
}

/* Is Citus loaded in this backend? */
bool
wf_citus_loaded(void)
{
	return GetConfigOption("citus.enable_ddl_propagation", true, false) != NULL;
}

/*
 * Is table (a schema-qualified name) distributed by Citus?  False in a
 * database without the citus extension, where Citus's library is loaded
 * all the same (shared_preload_libraries serves every database) but its
 * catalogs do not exist.  Needs SPI.
 */
bool
wf_citus_distributed(const char *table)
{
	static SPIPlanPtr distributed_plan;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(table)};

	if (!wf_citus_loaded() || !OidIsValid(get_extension_oid("citus", true)))
		return false;
	return wf_exec(&distributed_plan,
				   "SELECT 1 FROM pg_catalog.pg_dist_partition"
				   " WHERE logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
				   1, types, values, NULL, 1) > 0;
}

/*
 * Is table distributed by Citus (wf_citus_distributed)?  If so, *shards is
 * the list of the names (schema-qualified, palloc'd) of its shards placed
 * on this node, in shard id order; NIL on a node that holds none (the
 * coordinator).  Needs SPI.
 */
bool
wf_citus_local_shards(const char *table, List **shards)
{
	static SPIPlanPtr shards_plan;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(table)};
	int			n;
	int			i;

	*shards = NIL;
	if (!wf_citus_distributed(table))
		return false;
	n = wf_exec(&shards_plan,
				"SELECT pg_catalog.concat($1, '_', s.shardid)"
				"  FROM pg_catalog.pg_dist_shard s"
				"  JOIN pg_catalog.pg_dist_placement p"
				"    ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
				" WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
				"   AND p.groupid OPERATOR(pg_catalog.=)"
				"       (SELECT groupid FROM pg_catalog.pg_dist_local_group)"
				" ORDER BY s.shardid",
				1, types, values, NULL, 0);
	for (i = 0; i < n; i++)
		*shards = lappend(*shards, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	return true;
}

/* sql with every occurrence of table replaced by shard (a palloc'd copy). */
char *
wf_citus_on_shard(const char *sql, const char *table, const char *shard)
{
	StringInfoData out;
	const char *at;

	initStringInfo(&out);
	while ((at = strstr(sql, table)) != NULL)
	{
		appendBinaryStringInfo(&out, sql, at - sql);
		appendStringInfoString(&out, shard);
		sql = at + strlen(table);
	}
	appendStringInfoString(&out, sql);
	return out.data;
}
