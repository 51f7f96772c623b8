/*-------------------------------------------------------------------------
 * util.c
 *	  Helpers shared by every module: acting as the extension owner, kept
 *	  SPI plans, argument and jsonb option checking, the engine's clock.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "nodes/parsenodes.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "compat.h"
#include "workflow.h"

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
 * Read the extension's owner and schema from pg_extension, and refuse to
 * go on unless schema "workflow" (what every internal statement names) is
 * that schema and belongs to that owner: a schema another role created,
 * or planted after renaming ours, must never be used with the owner's
 * rights.
 */
static void
load_extension(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;
	Oid			extnsp = InvalidOid;
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

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("workflow"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		extnsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"workflow\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION workflow.")));
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

/* Write what is buffered, and undo wf_enter_internal. */
void
wf_leave_internal(WfInternal *save)
{
	wf_flush_events();
	AtEOXact_GUC(true, save->guc_nestlevel);
	SetUserIdAndSecContext(save->saved_userid, save->saved_sec_context);
}

/*
 * Prepare a statement once per backend and keep it.  Generic plans only:
 * every statement is a keyed lookup or a short scan of a partial index,
 * and re-planning each call for its parameters costs more than it saves.
 */
static SPIPlanPtr
wf_plan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes,
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

/* Refuse payloads larger than WF_MAX_PAYLOAD. */
void
wf_check_payload(Jsonb *value, const char *what)
{
	if (value != NULL && VARSIZE(value) > WF_MAX_PAYLOAD)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large (%zu bytes)", what, (size_t) VARSIZE(value)),
				 errdetail("The limit is %d bytes.", WF_MAX_PAYLOAD),
				 errhint("Store large data in a table of your own and pass its key.")));
}

/* Refuse a text (a reason, an error message, a worker id) longer than max bytes. */
void
wf_check_text(const char *value, const char *what, size_t max)
{
	size_t		len = value ? strlen(value) : 0;

	if (len > max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long (%zu bytes)", what, len),
				 errdetail("The limit is %zu bytes.", max),
				 errhint("Shorten it, or store long text in a table of your own and pass its key.")));
}

/*
 * Queue names become LISTEN channels: non-empty, shorter than NAMEDATALEN,
 * printable, no double quotes.  Returns false with what is wrong and what
 * to do (for errors and for the workflow.default_queue check hook).
 */
bool
wf_queue_name_ok(const char *queue, const char **detail, const char **hint)
{
	const char *p;

	if (queue[0] == '\0' || strlen(queue) >= NAMEDATALEN)
	{
		*detail = psprintf("A queue name is between 1 and %d bytes long.", NAMEDATALEN - 1);
		*hint = "Use a short name such as \"payments\".";
		return false;
	}
	for (p = queue; *p; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == '"' || *p == 0x7f)
		{
			*detail = "Queue names may not contain double quotes or control characters.";
			*hint = "Use letters, digits, '_', '-' or '.'.";
			return false;
		}
	}
	return true;
}

/* Refuse a queue name that wf_queue_name_ok refuses. */
void
wf_check_queue_name(const char *queue)
{
	const char *detail;
	const char *hint;

	if (!wf_queue_name_ok(queue, &detail, &hint))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid queue name \"%s\"", queue),
				 errdetail("%s", detail),
				 errhint("%s", hint)));
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

/* Look up key in a jsonb object; false if absent or obj is not an object. */
bool
wf_jsonb_get(Jsonb *obj, const char *key, JsonbValue *out)
{
	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return false;
	return getKeyJsonValueFromContainer(&obj->root, key, strlen(key), out) != NULL;
}

/* A string or scalar member as text; NULL if absent or JSON null. */
char *
wf_jsonb_get_text(Jsonb *obj, const char *key)
{
	JsonbValue	v;

	if (!wf_jsonb_get(obj, key, &v) || v.type == jbvNull)
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v.val.numeric)));
	if (v.type == jbvBool)
		return pstrdup(v.val.boolean ? "true" : "false");
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" must be a scalar", key),
			 errhint("Write it as a string or number, e.g. \"30 seconds\".")));
	return NULL;				/* keep compiler quiet */
}

/* Any member as a jsonb value of its own; NULL if absent. */
Jsonb *
wf_jsonb_get_jsonb(Jsonb *obj, const char *key)
{
	JsonbValue	v;

	if (!wf_jsonb_get(obj, key, &v))
		return NULL;
	return JsonbValueToJsonb(&v);
}

/*
 * Options must be a jsonb object whose keys are all in allowed (a NULL
 * terminated list).
 */
void
wf_check_options_object(Jsonb *options, const char *what, const char *const *allowed)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a jsonb object", what),
				 errhint("Pass something like '{\"queue\": \"default\"}', or '{}'.")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *const *a;
		char	   *key;

		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		if (tok != WJB_KEY || depth != 1)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL)
		{
			StringInfoData names;

			initStringInfo(&names);
			for (a = allowed; *a; a++)
				appendStringInfo(&names, "%s%s", a == allowed ? "" : ", ", *a);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in %s", key, what),
					 errhint("Valid keys are: %s.", names.data)));
		}
	}
}

/*
 * An interval the engine adds to timestamps (a timeout, a backoff, a sleep,
 * a horizon): finite, not negative by its total (so '1 day -1 hour' is 23
 * hours), and at most WF_MAX_INTERVAL_YEARS in total and in each field, so
 * that now + interval can never leave the timestamp range.  With positive,
 * zero is refused too.
 */
static void
check_interval(Interval *iv, const char *what, bool positive)
{
	Interval	zero = {0};
	Interval	bound = {0};
	int			sign;

	bound.month = WF_MAX_INTERVAL_YEARS * MONTHS_PER_YEAR;
	if (INTERVAL_NOT_FINITE(iv))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", what),
				 errhint("Use an interval such as '30 seconds'.")));
	sign = DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(iv),
											 IntervalPGetDatum(&zero)));
	if (sign < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what),
				 errhint("Use an interval such as '30 seconds'.")));
	if (sign == 0 && positive)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than zero", what),
				 errhint("Use an interval such as '30 seconds'.")));
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(iv),
										  IntervalPGetDatum(&bound))) > 0 ||
		abs(iv->month) > WF_MAX_INTERVAL_YEARS * MONTHS_PER_YEAR ||
		abs(iv->day) > WF_MAX_INTERVAL_YEARS * DAYS_PER_YEAR ||
		(iv->time < 0 ? -iv->time : iv->time) >
		(int64) (WF_MAX_INTERVAL_YEARS * DAYS_PER_YEAR) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most %d years", what, WF_MAX_INTERVAL_YEARS),
				 errdetail("Longer intervals could take timestamps out of range."),
				 errhint("Use an interval such as '30 days'.")));
}

/* Refuse intervals that are negative, infinite or too long (see above). */
void
wf_check_interval(Interval *iv, const char *what)
{
	check_interval(iv, what, false);
}

/*
 * Parse an interval string from options, with an error that names it; it
 * must be greater than zero and bounded.
 */
Interval *
wf_parse_interval(const char *text, const char *what)
{
	Interval   *iv = NULL;

	PG_TRY();
	{
		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
												   CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid interval \"%s\" for %s", text, what),
				 errhint("Use an interval string such as \"30 seconds\" or \"5 minutes\".")));
	}
	PG_END_TRY();
	check_interval(iv, what, true);
	return iv;
}

/*
 * Refuse a NULL argument.  The functions are not STRICT, so that a NULL
 * gets this error instead of a silent NULL result; every argument without
 * a meaning for NULL is read through here.
 */
void
wf_require_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname),
				 errhint("Pass a value for %s.", argname)));
}

/* A text argument that must not be NULL. */
char *
wf_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	wf_require_arg(fcinfo, argno, argname);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* A bigint argument that must not be NULL. */
int64
wf_int64_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	wf_require_arg(fcinfo, argno, argname);
	return PG_GETARG_INT64(argno);
}

/* An integer argument that must not be NULL. */
int32
wf_int32_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	wf_require_arg(fcinfo, argno, argname);
	return PG_GETARG_INT32(argno);
}

/* A boolean argument that must not be NULL. */
bool
wf_bool_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	wf_require_arg(fcinfo, argno, argname);
	return PG_GETARG_BOOL(argno);
}

/* A jsonb argument; SQL NULL becomes default_json (or NULL if none). */
Jsonb *
wf_jsonb_arg(FunctionCallInfo fcinfo, int argno, const char *default_json)
{
	if (PG_ARGISNULL(argno))
		return default_json ? wf_jsonb_from_cstring(default_json) : NULL;
	return PG_GETARG_JSONB_P(argno);
}

/* Parse a JSON literal. */
Jsonb *
wf_jsonb_from_cstring(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
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

/* Start building a jsonb object. */
void
wf_json_begin(WfJson *b)
{
	b->state = NULL;
	pushJsonbValue(&b->state, WJB_BEGIN_OBJECT, NULL);
}

/* Push a key. */
static void
wf_json_key(WfJson *b, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(&b->state, WJB_KEY, &k);
}

/* Add "key": "value" (JSON null when value is NULL). */
void
wf_json_str(WfJson *b, const char *key, const char *value)
{
	JsonbValue	v;

	wf_json_key(b, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	pushJsonbValue(&b->state, WJB_VALUE, &v);
}

/* Add "key": number. */
void
wf_json_int(WfJson *b, const char *key, int64 value)
{
	JsonbValue	v;

	wf_json_key(b, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	pushJsonbValue(&b->state, WJB_VALUE, &v);
}

/* Add "key": true/false. */
void
wf_json_bool(WfJson *b, const char *key, bool value)
{
	JsonbValue	v;

	wf_json_key(b, key);
	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(&b->state, WJB_VALUE, &v);
}

/* Add "key": <any jsonb> (JSON null when value is NULL). */
void
wf_json_jsonb(WfJson *b, const char *key, Jsonb *value)
{
	JsonbValue	v;

	wf_json_key(b, key);
	if (value == NULL)
		v.type = jbvNull;
	else
		JsonbToJsonbValue(value, &v);
	pushJsonbValue(&b->state, WJB_VALUE, &v);
}

/* Add "key": "timestamp". */
void
wf_json_time(WfJson *b, const char *key, TimestampTz value)
{
	wf_json_str(b, key, DatumGetCString(DirectFunctionCall1(timestamptz_out,
															TimestampTzGetDatum(value))));
}

/* Finish the object. */
Jsonb *
wf_json_end(WfJson *b)
{
	return JsonbValueToJsonb(pushJsonbValue(&b->state, WJB_END_OBJECT, NULL));
}

/* Is this jsonb the JSON null? */
bool
wf_jsonb_is_null(Jsonb *value)
{
	JsonbValue	v;

	return JsonbExtractScalar(&value->root, &v) && v.type == jbvNull;
}
