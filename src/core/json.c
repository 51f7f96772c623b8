/*-------------------------------------------------------------------------
 * json.c
 *	  Reading members of jsonb objects, and building jsonb objects one
 *	  member at a time (the event data of events.c, the saga's state).
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

#include "core/core.h"

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

/* Parse a JSON literal. */
Jsonb *
wf_jsonb_from_cstring(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
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
