/*-------------------------------------------------------------------------
 * checks.c
 *	  Bad input gets a clear error: the checks of payloads, names, queue
 *	  names, option objects, intervals and the arguments of SQL-callable
 *	  functions, each with an errcode and a hint.  They run before any
 *	  change, so a refused call changes nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "core/core.h"

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
 * Options must be a jsonb object whose keys are all in allowed (a NULL
 * terminated list).
 */
void
wf_check_options_object(Jsonb *options, const char *what, const char *const *allowed)
{
	wf_check_option_keys(options, what, allowed, ERRCODE_INVALID_PARAMETER_VALUE);
}

/* wf_check_options_object, with the SQLSTATE of the error. */
void
wf_check_option_keys(Jsonb *options, const char *what, const char *const *allowed,
					 int sqlerrcode)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(sqlerrcode),
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
					(errcode(sqlerrcode),
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

/* Parse an interval string from options, with an error that names it. */
static Interval *
parse_interval(const char *text, const char *what, bool positive)
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
	check_interval(iv, what, positive);
	return iv;
}

/*
 * Parse an interval string from options, with an error that names it; it
 * must be greater than zero and bounded.
 */
Interval *
wf_parse_interval(const char *text, const char *what)
{
	return parse_interval(text, what, true);
}

/* The same, zero allowed (an option where 0 means "never"). */
Interval *
wf_parse_interval_or_zero(const char *text, const char *what)
{
	return parse_interval(text, what, false);
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

/* A name (workflow type, workflow id, signal, state key): non-empty, bounded. */
void
wf_check_name(const char *value, const char *what)
{
	if (value[0] == '\0' || strlen(value) > WF_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 1 and %d bytes long", what, WF_MAX_NAME_LEN),
				 errhint("Use a short, stable name such as \"order-1234\".")));
}

/*
 * An integer option between min and max, into *value; false if it is
 * absent or JSON null (which removes a limit).  A non-integer or one out
 * of bounds is an error with sqlerrcode and hint.
 */
bool
wf_int_option(Jsonb *obj, const char *key, int64 min, int64 max, int sqlerrcode,
			  const char *hint, int64 *value)
{
	JsonbValue	v;
	Numeric		num;

	if (obj == NULL || !wf_jsonb_get(obj, key, &v) || v.type == jbvNull)
		return false;
	num = v.type == jbvNumeric ? v.val.numeric : NULL;
	if (num == NULL || numeric_is_nan(num) || numeric_is_inf(num) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
										  DirectFunctionCall1(numeric_floor,
															  NumericGetDatum(num)))) != 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
										  NumericGetDatum(int64_to_numeric(min)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
										  NumericGetDatum(int64_to_numeric(max)))) > 0)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("option \"%s\" must be an integer between " INT64_FORMAT " and " INT64_FORMAT,
						key, min, max),
				 errhint("%s", hint)));
	*value = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(num)));
	return true;
}

/*
 * A name-valued option (a concurrency key): a JSON string of 1 to
 * WF_MAX_NAME_LEN bytes, or NULL if absent or JSON null.
 */
char *
wf_name_option(Jsonb *obj, const char *key, int sqlerrcode)
{
	JsonbValue	v;

	if (obj == NULL || !wf_jsonb_get(obj, key, &v) || v.type == jbvNull)
		return NULL;
	if (v.type != jbvString || v.val.string.len == 0 || v.val.string.len > WF_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("option \"%s\" must be a string of 1 to %d bytes", key, WF_MAX_NAME_LEN),
				 errhint("Write it as a JSON string, e.g. \"%s\": \"customer-42\".", key)));
	return pnstrdup(v.val.string.val, v.val.string.len);
}
