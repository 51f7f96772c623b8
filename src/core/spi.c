/*-------------------------------------------------------------------------
 * spi.c
 *	  Acting as the extension owner, the installed schema's version, SPI
 *	  with kept plans, isolated subtransactions, the engine's clock.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/core.h"

/* Set by tick(at): the time the engine acts as if it were. */
static TimestampTz wf_time_override = 0;

/*
 * The extension as pg_extension records it, checked against the schema
 * the engine's statements name, and kept until a catalog invalidation
 * says it may have changed: a change of any schema (rename, owner, a new
 * schema "workflow"), or of the extension's table "workflows" (DROP or
 * CREATE EXTENSION).  Claims and reports pay no catalog scan.
 */
static bool ext_valid = false;
static bool ext_callbacks = false;
static uint64 ext_invalidations = 0;
static Oid	ext_owner = InvalidOid;
static Oid	ext_sentinel = InvalidOid;	/* InvalidOid while loading */

/*
 * A relcache invalidation: forget the extension if it was its table's
 * (while loading, any counts: the table is not known yet).
 */
static void
ext_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || !OidIsValid(ext_sentinel) || relid == ext_sentinel)
	{
		ext_invalidations++;
		ext_valid = false;
	}
}

/* A pg_namespace invalidation: forget the extension. */
static void
ext_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	ext_invalidations++;
	ext_valid = false;
}

/*
 * The installed version of the extension (pg_extension.extversion), read
 * once per transaction: ALTER EXTENSION workflow UPDATE may run between
 * two transactions of any session, and no catalog invalidation says so.
 * An empty string until read.
 */
static char installed_version[NAMEDATALEN] = "";

/* What the extension's pg_extension row says. */
typedef struct ExtensionRow
{
	Oid			owner;
	Oid			namespace;
	char		version[NAMEDATALEN];
} ExtensionRow;

/* Read extension "workflow"'s pg_extension row; false if it is not installed. */
static bool
read_extension_row(ExtensionRow *row)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("workflow"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	found = HeapTupleIsValid(tup);
	if (found)
	{
		bool		isnull;
		Datum		version = heap_getattr(tup, Anum_pg_extension_extversion,
										   RelationGetDescr(rel), &isnull);

		row->owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		row->namespace = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
		row->version[0] = '\0';
		if (!isnull)
			strlcpy(row->version, TextDatumGetCString(version), sizeof(row->version));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Read the extension's owner and schema from pg_extension, and refuse to
 * go on unless schema "workflow" (what every internal statement names) is
 * that schema and belongs to that owner: a schema another role created,
 * or planted after renaming ours, must never be used with the owner's
 * rights.
 */
static void
load_extension(void)
{
	ExtensionRow row;
	HeapTuple	tup;
	Oid			owner;
	Oid			extnsp;
	Oid			nspid;
	Oid			nspowner;
	uint64		invalidations = ext_invalidations;

	if (!ext_callbacks)
	{
		CacheRegisterRelcacheCallback(ext_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, ext_namespace_callback, (Datum) 0);
		ext_callbacks = true;
	}
	ext_valid = false;
	ext_sentinel = InvalidOid;

	if (!read_extension_row(&row))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"workflow\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION workflow.")));
	owner = row.owner;
	extnsp = row.namespace;
	strlcpy(installed_version, row.version, sizeof(installed_version));
	nspid = get_namespace_oid("workflow", true);
	if (nspid != extnsp)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("schema \"workflow\" is not the extension's"),
				 errdetail("Extension \"workflow\" is installed in schema \"%s\".",
						   get_namespace_name(extnsp)),
				 errhint("Rename that schema back to \"workflow\", after dropping or renaming "
						 "the schema that now has the name.")));
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	nspowner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	if (nspowner != owner)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("schema \"workflow\" is not owned by the owner of extension \"workflow\""),
				 errdetail("The schema belongs to role \"%s\", the extension to role \"%s\".",
						   GetUserNameFromId(nspowner, false), GetUserNameFromId(owner, false)),
				 errhint("Check the schema for objects you did not create, then run "
						 "ALTER SCHEMA workflow OWNER TO %s.",
						 quote_identifier(GetUserNameFromId(owner, false)))));
	ext_owner = owner;
	ext_sentinel = get_relname_relid("workflows", extnsp);
	/* Keep it only if nothing changed meanwhile and the table is there. */
	ext_valid = OidIsValid(ext_sentinel) && invalidations == ext_invalidations;
}

/*
 * Is schema "workflow" the extension's, owned by its owner?  What
 * load_extension refuses, answered without raising: for callers that must
 * stay out of the way of a user's own commands (the DDL gate).
 */
bool
wf_extension_schema_ok(void)
{
	ExtensionRow row;
	HeapTuple	tup;
	Oid			nspid;
	Oid			nspowner;

	if (ext_valid)
		return true;
	if (!read_extension_row(&row))
		return false;
	nspid = get_namespace_oid("workflow", true);
	if (nspid != row.namespace)
		return false;
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		return false;
	nspowner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return nspowner == row.owner;
}

/*
 * The role that owns extension "workflow", i.e. ran CREATE EXTENSION;
 * errors unless schema "workflow" is the extension's (see load_extension).
 */
Oid
wf_extension_owner(void)
{
	if (!ext_valid)
		load_extension();
	return ext_owner;
}

/*
 * The installed version of the extension if it is not the one this
 * library's code is written for (WF_SCHEMA_VERSION), else NULL.  Errors
 * as wf_extension_owner does when the extension is absent or its schema
 * is not its own.
 */
const char *
wf_schema_mismatch(void)
{
	ExtensionRow row;

	(void) wf_extension_owner();
	if (installed_version[0] == '\0' && read_extension_row(&row))
		strlcpy(installed_version, row.version, sizeof(installed_version));
	return strcmp(installed_version, WF_SCHEMA_VERSION) == 0 ? NULL : installed_version;
}

/*
 * Refuse to go on unless the installed schema is the library's: between
 * the installation of a new library (and the restart that loads it) and
 * ALTER EXTENSION workflow UPDATE, every function says what to run.
 */
void
wf_require_schema(void)
{
	const char *installed = wf_schema_mismatch();

	if (installed == NULL)
		return;
	if (strcmp(installed, "0.1") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"workflow\" is installed at version %s, but its library needs version %s",
						installed, WF_SCHEMA_VERSION),
				 errdetail("The library has been upgraded; the extension's schema is upgraded separately."),
				 errhint("Run ALTER EXTENSION workflow UPDATE.")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("extension \"workflow\" is installed at version %s, which the loaded library (version %s) does not know",
					installed, WF_SCHEMA_VERSION),
			 errdetail("The server runs the library it loaded at its start, older than the installed extension."),
			 errhint("Restart the server, so that it loads the library installed with version %s.",
					 installed)));
}

/*
 * Transaction end, or CREATE, ALTER or DROP EXTENSION in it: read the
 * installed version again when next asked.
 */
void
wf_forget_schema_version(void)
{
	installed_version[0] = '\0';
}

/*
 * Switch to the extension owner with a pinned search_path, for the
 * engine's own reads and writes of its tables.  The caller's search_path
 * must never reach queries that run with the owner's rights, and the
 * schema "workflow" they name must be the extension's (checked by
 * wf_extension_owner).
 */
void
wf_enter_internal(WfInternal *save)
{
	GetUserIdAndSecContext(&save->saved_userid, &save->saved_sec_context);
	SetUserIdAndSecContext(wf_extension_owner(),
						   save->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	save->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	/*
	 * Every engine statement is a keyed lookup or a short scan of a partial
	 * index, planned once (generic plans).  A plan made while a table
	 * happens to be empty must not become a sequential scan for good.
	 */
	(void) set_config_option("enable_seqscan", "off",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* Undo wf_enter_internal. */
void
wf_leave_internal(WfInternal *save)
{
	AtEOXact_GUC(true, save->guc_nestlevel);
	SetUserIdAndSecContext(save->saved_userid, save->saved_sec_context);
}

/* Connect to SPI and enter the engine's rights (wf_enter_internal). */
void
wf_spi_enter(WfInternal *save)
{
	SPI_connect();
	wf_enter_internal(save);
}

/* Undo wf_spi_enter. */
void
wf_spi_leave(WfInternal *save)
{
	wf_leave_internal(save);
	SPI_finish();
}

/*
 * Prepare a statement once per backend and keep it.  Generic plans only:
 * every statement is a keyed lookup or a short scan of a partial index,
 * and re-planning each call for its parameters costs more than it saves.
 * Except under Citus, which plans most statements only for known values
 * (core/citus.c).
 */
static SPIPlanPtr
wf_plan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes,
											  wf_citus_loaded() ? CURSOR_OPT_CUSTOM_PLAN :
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * Run a kept statement; returns SPI_processed.  Never read-only: every
 * statement must see what the earlier ones of this transaction wrote.
 */
int
wf_exec(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
		Datum *values, const char *nulls, long count)
{
	SPIPlanPtr	plan = wf_plan(cache, sql, nargs, argtypes);
	int			rc = SPI_execute_plan(plan, values, nulls, false, count);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed (%s) for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/* Column col (1-based) of result row row. */
Datum
wf_get_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/* A text column as a palloc'd C string, NULL for SQL NULL. */
char *
wf_get_text(int row, int col)
{
	bool		isnull;
	Datum		d = wf_get_datum(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A jsonb column, detoasted, NULL for SQL NULL. */
Jsonb *
wf_get_jsonb(int row, int col)
{
	bool		isnull;
	Datum		d = wf_get_datum(row, col, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/*
 * Run fn(arg) inside an internal subtransaction, as a PL/pgSQL exception
 * block does.  Returns NULL if it succeeded; otherwise the subtransaction
 * is rolled back and the error returned (in the caller's memory context).
 * The caller's own cancellation (a cancel request, statement_timeout,
 * shutdown) is not fn's failure: it is rethrown.
 */
ErrorData *
wf_isolated(void (*fn) (void *), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_END_TRY();
	if (edata && (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
				  edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN))
		ReThrowError(edata);
	return edata;
}

/* The engine's notion of now: tick(at)'s time, else the transaction's. */
TimestampTz
wf_now(void)
{
	return wf_time_override != 0 ? wf_time_override : GetCurrentTransactionStartTimestamp();
}

/* Set (or with 0 clear) the time tick(at) acts at. */
void
wf_set_now(TimestampTz at)
{
	wf_time_override = at;
}

/* Text form of a uuid datum. */
char *
wf_uuid_out(Datum uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, uuid));
}
