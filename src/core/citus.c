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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
