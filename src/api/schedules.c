/*-------------------------------------------------------------------------
 * schedules.c
 *	  The schedule functions: create_schedule, update_schedule,
 *	  pause_schedule, resume_schedule, trigger_schedule, backfill_schedule,
 *	  delete_schedule, and schedule_next_fire (when does a spec fire next).
 *
 * A schedule belongs to the role that created it: its runs are that
 * role's, and only that role (or a member of it) sees it in
 * workflow.schedules and may change, trigger, backfill or delete it, as
 * with runs.  The rules of firing are in model/schedules.c.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_create_schedule);
PG_FUNCTION_INFO_V1(wf_update_schedule);
PG_FUNCTION_INFO_V1(wf_pause_schedule);
PG_FUNCTION_INFO_V1(wf_resume_schedule);
PG_FUNCTION_INFO_V1(wf_trigger_schedule_fn);
PG_FUNCTION_INFO_V1(wf_backfill_schedule_fn);
PG_FUNCTION_INFO_V1(wf_delete_schedule);
PG_FUNCTION_INFO_V1(wf_schedule_next_fire);

/* The keys of update_schedule's changes: spec, input, and the options. */
static const char *const change_keys[] = {
	"spec", "input", "timezone", "overlap", "catchup_window", "jitter", "start_at", "end_at",
	"paused", "workflow_options", NULL
};

/* Changes to these keys move the next fire time. */
static const char *const timing_keys[] = {"spec", "timezone", "start_at", "end_at", NULL};

/* The most fire times one backfill_schedule call may go through. */
#define MAX_BACKFILL 10000

/* Room a fire's workflow_id needs after the schedule id: ":" and the time. */
#define FIRE_SUFFIX_LEN 28

static SPIPlanPtr delete_plan;

/* A schedule_id argument: a name short enough for its fires' workflow ids. */
static char *
schedule_id_arg(FunctionCallInfo fcinfo)
{
	char	   *id = wf_text_arg(fcinfo, 0, "schedule_id");

	wf_check_name(id, "schedule_id");
	if (strlen(id) > WF_MAX_NAME_LEN - FIRE_SUFFIX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule_id must be at most %d bytes long", WF_MAX_NAME_LEN - FIRE_SUFFIX_LEN),
				 errdetail("Each fire's workflow_id is the schedule_id, \":\" and the fire time."),
				 errhint("Use a short, stable name such as \"nightly-report\".")));
	return id;
}

/* Shallow merge of two jsonb objects, b's keys winning. */
static Jsonb *
merge(Jsonb *a, Jsonb *b)
{
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

/* options without key. */
static Jsonb *
without(Jsonb *options, const char *key)
{
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(options),
											  CStringGetTextDatum(key)));
}

/*
 * The options as stored: "paused" is the schedule's state, not an option
 * kept; start_at and end_at are kept in UTC, so that no session's TimeZone
 * changes what they mean.
 */
static Jsonb *
stored_options(WfSchedule *s)
{
	WfJson		b;

	wf_json_begin(&b);
	if (s->start_at)
		wf_json_str(&b, "start_at", wf_iso_utc(s->start_at));
	if (s->end_at)
		wf_json_str(&b, "end_at", wf_iso_utc(s->end_at));
	return merge(without(s->options, "paused"), wf_json_end(&b));
}

/* The "paused" member of options (false if absent). */
static bool
paused_option(Jsonb *options)
{
	JsonbValue	v;

	return wf_jsonb_get(options, "paused", &v) && v.type == jbvBool && v.val.boolean;
}

/*
 * The workflow type must exist, and the schedule's owner must be able to
 * produce on the queues its runs use.
 */
static void
check_fires_startable(WfSchedule *s)
{
	Jsonb	   *options = merge(wf_type_options(s->workflow_type), s->workflow_options);
	char	   *queue = wf_jsonb_get_text(options, "queue");

	wf_check_start_queues(s->owner, s->workflow_type, queue ? queue : s->queue);
}

/* A schedule whose spec never fires again (after now, before end_at) is refused. */
static void
check_fires_again(WfSchedule *s)
{
	if (s->next_fire_at == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("schedule \"%s\" would never fire", s->schedule_id),
				 errdetail("Spec \"%s\" has no fire time after now%s.", s->spec,
						   s->end_at ? " and before end_at" : ""),
				 errhint("Check the spec with workflow.schedule_next_fire(), and end_at.")));
}

/* workflow.create_schedule(schedule_id, spec, workflow_type, input, options) */
Datum
wf_create_schedule(PG_FUNCTION_ARGS)
{
	WfSchedule	s;
	WfInternal	save;

	memset(&s, 0, sizeof(s));
	s.schedule_id = schedule_id_arg(fcinfo);
	s.spec = wf_text_arg(fcinfo, 1, "spec");
	s.workflow_type = wf_text_arg(fcinfo, 2, "workflow_type");
	s.input = wf_jsonb_arg(fcinfo, 3, "{}");
	s.options = wf_jsonb_arg(fcinfo, 4, "{}");
	wf_check_name(s.workflow_type, "workflow_type");
	wf_check_payload(s.input, "schedule input");
	wf_check_payload(s.options, "schedule options");
	wf_schedule_read_options(&s);
	s.paused = paused_option(s.options);
	s.options = stored_options(&s);
	s.queue = wf_default_queue;

	s.owner = wf_api_enter(&save, "workflow.create_schedule()");
	check_fires_startable(&s);
	if (!wf_insert_schedule(&s))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("schedule \"%s\" already exists", s.schedule_id),
				 errhint("Choose another schedule_id, or change it with workflow.update_schedule().")));
	check_fires_again(&s);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/* Does changes have one of keys? */
static bool
has_any(Jsonb *changes, const char *const *keys)
{
	JsonbValue	v;

	for (; *keys; keys++)
		if (wf_jsonb_get(changes, *keys, &v))
			return true;
	return false;
}

/* The options after changes: each option key given replaces, a JSON null removes. */
static Jsonb *
changed_options(Jsonb *options, Jsonb *changes)
{
	const char *const *key;

	for (key = wf_schedule_option_keys; *key; key++)
	{
		JsonbValue	v;
		WfJson		b;

		if (!wf_jsonb_get(changes, *key, &v))
			continue;
		options = without(options, *key);
		if (v.type == jbvNull)
			continue;
		wf_json_begin(&b);
		wf_json_jsonb(&b, *key, JsonbValueToJsonb(&v));
		options = merge(options, wf_json_end(&b));
	}
	return options;
}

/* Apply the spec and input members of changes to s. */
static void
change_spec_input(WfSchedule *s, Jsonb *changes)
{
	JsonbValue	v;

	if (wf_jsonb_get(changes, "spec", &v))
	{
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"spec\" in changes must be a string"),
					 errhint("Write it as e.g. {\"spec\": \"*/5 * * * *\"}.")));
		s->spec = pnstrdup(v.val.string.val, v.val.string.len);
	}
	if (wf_jsonb_get(changes, "input", &v))
		s->input = JsonbValueToJsonb(&v);
}

/* workflow.update_schedule(schedule_id, changes) */
Datum
wf_update_schedule(PG_FUNCTION_ARGS)
{
	char	   *id = schedule_id_arg(fcinfo);
	Jsonb	   *changes;
	WfSchedule *s;
	WfInternal	save;
	bool		was_paused;

	wf_require_arg(fcinfo, 1, "changes");
	changes = PG_GETARG_JSONB_P(1);
	wf_check_payload(changes, "schedule changes");
	wf_check_options_object(changes, "schedule changes", change_keys);

	s = wf_lock_schedule(id, wf_api_enter(&save, "workflow.update_schedule()"));
	was_paused = s->paused;
	change_spec_input(s, changes);
	s->options = changed_options(s->options, changes);
	wf_schedule_read_options(s);
	if (has_any(changes, (const char *const[]) {"paused", NULL}))
		s->paused = paused_option(s->options);
	s->options = stored_options(s);
	check_fires_startable(s);
	if (has_any(changes, timing_keys) || (was_paused && !s->paused))
	{
		s->next_fire_at = wf_schedule_next(s, wf_now());
		check_fires_again(s);
	}
	wf_save_schedule(s);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/* workflow.pause_schedule(schedule_id, note): no fires until resume_schedule. */
Datum
wf_pause_schedule(PG_FUNCTION_ARGS)
{
	char	   *id = schedule_id_arg(fcinfo);
	char	   *note = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	WfSchedule *s;
	WfInternal	save;

	wf_check_text(note, "note", WF_MAX_PAYLOAD);
	s = wf_lock_schedule(id, wf_api_enter(&save, "workflow.pause_schedule()"));
	s->paused = true;
	s->note = note;
	wf_save_schedule(s);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.resume_schedule(schedule_id): fires again from the next fire
 * time after now (the fire times of the pause are not caught up).
 */
Datum
wf_resume_schedule(PG_FUNCTION_ARGS)
{
	char	   *id = schedule_id_arg(fcinfo);
	WfSchedule *s;
	WfInternal	save;

	s = wf_lock_schedule(id, wf_api_enter(&save, "workflow.resume_schedule()"));
	if (s->paused)
	{
		s->paused = false;
		s->note = NULL;
		s->next_fire_at = wf_schedule_next(s, wf_now());
		wf_save_schedule(s);
	}
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.trigger_schedule(schedule_id): a fire now (paused or not),
 * under the overlap policy; its workflow_id, or NULL if the policy
 * dropped it.
 */
Datum
wf_trigger_schedule_fn(PG_FUNCTION_ARGS)
{
	char	   *id = schedule_id_arg(fcinfo);
	WfSchedule *s;
	WfInternal	save;
	char	   *workflow_id;
	bool		started;

	s = wf_lock_schedule(id, wf_api_enter(&save, "workflow.trigger_schedule()"));
	workflow_id = wf_schedule_fire_one(s, wf_now(), &started);
	wf_save_schedule(s);
	wf_api_leave(&save);
	if (workflow_id == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(workflow_id));
}

/*
 * The fires of a locked schedule's spec in [from, to), each under the
 * overlap policy and advanced before the next (so that a run that ends at
 * once does not make the next fire overlap); fire times that fired before
 * are skipped.  Returns how many runs started.
 */
static int
backfill(WfSchedule *s, TimestampTz from, TimestampTz to)
{
	TimestampTz t;
	int			started = 0;
	int			n = 0;

	for (t = wf_cron_next(&s->cron, s->tz, from - 1); t != 0 && t < to;
		 t = wf_cron_next(&s->cron, s->tz, t))
	{
		bool		one;

		if (++n > MAX_BACKFILL)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("backfill of schedule \"%s\" covers more than %d fire times",
							s->schedule_id, MAX_BACKFILL),
					 errhint("Backfill shorter ranges, one call each.")));
		(void) wf_schedule_fire_one(s, t, &one);
		started += one;
		wf_api_settle();
	}
	wf_save_schedule(s);
	return started;
}

/*
 * workflow.backfill_schedule(schedule_id, from_time, to_time): the fires
 * of [from_time, to_time) (to_time at most now); how many runs started.
 */
Datum
wf_backfill_schedule_fn(PG_FUNCTION_ARGS)
{
	char	   *id = schedule_id_arg(fcinfo);
	TimestampTz from;
	TimestampTz to;
	WfSchedule *s;
	WfInternal	save;
	int			n;

	wf_require_arg(fcinfo, 1, "from_time");
	wf_require_arg(fcinfo, 2, "to_time");
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to) || from >= to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backfill range must be finite and from_time before to_time"),
				 errhint("Pass e.g. now() - interval '1 day', now().")));
	s = wf_lock_schedule(id, wf_api_enter(&save, "workflow.backfill_schedule()"));
	n = backfill(s, from, Min(to, wf_now()));
	wf_api_leave(&save);
	PG_RETURN_INT32(n);
}

/* workflow.delete_schedule(schedule_id): no more fires; its runs go on. */
Datum
wf_delete_schedule(PG_FUNCTION_ARGS)
{
	char	   *id = schedule_id_arg(fcinfo);
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(id)};
	WfInternal	save;

	(void) wf_lock_schedule(id, wf_api_enter(&save, "workflow.delete_schedule()"));
	wf_exec(&delete_plan, "DELETE FROM workflow.schedule_state WHERE schedule_id = $1",
			1, types, values, NULL, 0);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.schedule_next_fire(spec, timezone, after): the first fire time
 * of spec after after, in timezone; NULL if it never fires again.
 */
Datum
wf_schedule_next_fire(PG_FUNCTION_ARGS)
{
	char	   *spec = wf_text_arg(fcinfo, 0, "spec");
	char	   *tzname = wf_text_arg(fcinfo, 1, "timezone");
	TimestampTz after;
	WfCron		cron;
	pg_tz	   *tz;
	TimestampTz next;

	wf_require_arg(fcinfo, 2, "after");
	after = PG_GETARG_TIMESTAMPTZ(2);
	wf_cron_parse(spec, &cron);
	tz = wf_time_zone(tzname);
	if (TIMESTAMP_NOT_FINITE(after))
		PG_RETURN_NULL();
	next = wf_cron_next(&cron, tz, after);
	if (next == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(next);
}
