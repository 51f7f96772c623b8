/*-------------------------------------------------------------------------
 * schedules.c
 *	  Schedules: their rows, their options, and their fires.
 *
 * A schedule's row keeps its next fire time (next_fire_at, the scheduled
 * time) and the time it is due (due_at: next_fire_at plus its jitter, a
 * hash of the schedule id and the fire time, so the same on every
 * attempt).  A fire starts the schedule's workflow type, as the schedule's
 * owner, with workflow_id "<schedule_id>:<scheduled time, ISO 8601 UTC>".
 *
 * Exactly once per fire time: the scheduler locks the row, starts the
 * runs of every fire that is due and moves next_fire_at past them in one
 * transaction; a crash before its commit undoes both, one after it leaves
 * nothing to redo.  The deterministic workflow_id guards the rest (a
 * trigger or backfill of a time that already fired, two sessions at once):
 * a fire time whose workflow_id has a run is never started again.
 *
 * Overlap policies (Temporal's), against the run of the schedule's last
 * start (last_workflow_id) while it is open:
 * - skip: the fire is dropped;
 * - buffer_one: kept to start when that run closes; at most one is kept,
 *   later ones are dropped;
 * - buffer_all: every one kept, started one after another;
 * - cancel_other: that run is asked to cancel, the fire kept (only the
 *   latest) to start once it has closed;
 * - terminate_other: that run is terminated, the fire started at once;
 * - allow_all: started at once.
 * Kept fires (buffered) are started by the scheduler once the last run
 * has closed: its due-work query finds them, and a closing run whose id
 * looks like a fire's (it has a ':') wakes the scheduler (runs.c).
 *
 * Catch-up: a fire found due more than catchup_window after its due time
 * (the scheduler was down, or tick(at) jumped) is skipped and counted in
 * missed.  Paused schedules do not fire; resume_schedule goes on from the
 * next fire time after now.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "model/model.h"

/* The keys of a schedule's options. */
const char *const wf_schedule_option_keys[] = {
	"timezone", "overlap", "catchup_window", "jitter", "start_at", "end_at", "paused",
	"workflow_options", NULL
};

/* The keys of workflow_options: start options that make sense per fire. */
static const char *const fire_option_keys[] = {
	"queue", "activity_options", "execution_timeout", "search_attributes",
	"concurrency_key", "priority", NULL
};

static const char *const overlap_names[] = {
	[WF_OVERLAP_SKIP] = "skip",
	[WF_OVERLAP_BUFFER_ONE] = "buffer_one",
	[WF_OVERLAP_BUFFER_ALL] = "buffer_all",
	[WF_OVERLAP_CANCEL_OTHER] = "cancel_other",
	[WF_OVERLAP_TERMINATE_OTHER] = "terminate_other",
	[WF_OVERLAP_ALLOW_ALL] = "allow_all",
};

/* Default catchup_window: one minute. */
#define DEFAULT_CATCHUP (60 * USECS_PER_SEC)

static SPIPlanPtr lock_plan;
static SPIPlanPtr lock_skip_plan;
static SPIPlanPtr insert_plan;
static SPIPlanPtr save_plan;
static SPIPlanPtr fired_plan;
static SPIPlanPtr open_run_plan;
static SPIPlanPtr postpone_plan;

#define SCHEDULE_COLUMNS \
	"schedule_id, spec, workflow_type, input, options, queue, owner, paused, note," \
	" next_fire_at, last_fire_at, last_workflow_id, missed, buffered, failures"

/* Refuse an option, saying how to write it. */
static void
bad_option(const char *key, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid schedule option \"%s\"", key),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("%s", hint)));
}

/* A string option, or NULL if absent or JSON null. */
static char *
option_text(Jsonb *options, const char *key, const char *hint)
{
	JsonbValue	v;

	if (!wf_jsonb_get(options, key, &v) || v.type == jbvNull)
		return NULL;
	if (v.type != jbvString)
		bad_option(key, "It must be a JSON string.", hint);
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/* An interval option in microseconds (months of 30 days), or dflt. */
static int64
option_usecs(Jsonb *options, const char *key, int64 dflt)
{
	char	   *text = option_text(options, key, "Write it as an interval string, e.g. \"30 seconds\".");
	Interval   *iv;

	if (text == NULL)
		return dflt;
	iv = wf_parse_interval(text, psprintf("schedule option \"%s\"", key));
	return (iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY + iv->time;
}

/* A timestamptz option, or 0. */
static TimestampTz
option_time(Jsonb *options, const char *key)
{
	const char *hint = "Write it as an ISO 8601 timestamp with its offset, e.g. \"2025-01-01T00:00:00Z\".";
	char	   *text = option_text(options, key, hint);
	TimestampTz t = 0;

	if (text == NULL)
		return 0;
	PG_TRY();
	{
		t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		FlushErrorState();
		bad_option(key, psprintf("\"%s\" is not a timestamp.", text), hint);
	}
	PG_END_TRY();
	if (TIMESTAMP_NOT_FINITE(t))
		bad_option(key, "It must be finite.", hint);
	return t;
}

/* The overlap option. */
static WfOverlap
option_overlap(Jsonb *options)
{
	const char *hint = "Use one of skip, buffer_one, buffer_all, cancel_other, terminate_other, allow_all.";
	char	   *name = option_text(options, "overlap", hint);
	int			i;

	if (name == NULL)
		return WF_OVERLAP_SKIP;
	for (i = 0; i < lengthof(overlap_names); i++)
		if (strcmp(name, overlap_names[i]) == 0)
			return (WfOverlap) i;
	bad_option("overlap", psprintf("\"%s\" is not an overlap policy.", name), hint);
	return WF_OVERLAP_SKIP;		/* keep compiler quiet */
}

/*
 * Read (and check) a schedule's spec and options into its fields; bad
 * input is refused with an error naming what is wrong.
 */
void
wf_schedule_read_options(WfSchedule *s)
{
	Jsonb	   *o = s->options;
	char	   *tz = option_text(o, "timezone", "Write a zone name as a string, e.g. \"Europe/Berlin\".");
	JsonbValue	v;

	wf_check_options_object(o, "schedule options", wf_schedule_option_keys);
	wf_cron_parse(s->spec, &s->cron);
	s->tz = wf_time_zone(tz ? tz : "UTC");
	s->overlap = option_overlap(o);
	s->catchup = option_usecs(o, "catchup_window", DEFAULT_CATCHUP);
	s->jitter = option_usecs(o, "jitter", 0);
	s->start_at = option_time(o, "start_at");
	s->end_at = option_time(o, "end_at");
	if (s->start_at != 0 && s->end_at != 0 && s->end_at < s->start_at)
		bad_option("end_at", "It is before start_at.", "Make end_at later than start_at.");
	if (wf_jsonb_get(o, "paused", &v) && v.type != jbvBool)
		bad_option("paused", "It must be true or false.", "Write \"paused\": true.");
	s->workflow_options = wf_jsonb_get_jsonb(o, "workflow_options");
	if (s->workflow_options == NULL || wf_jsonb_is_null(s->workflow_options))
		s->workflow_options = wf_jsonb_from_cstring("{}");
	wf_check_run_options(s->workflow_options, "workflow_options", fire_option_keys);
}

/* The first fire time strictly after after (within start_at, end_at); 0 if none. */
TimestampTz
wf_schedule_next(WfSchedule *s, TimestampTz after)
{
	TimestampTz t;

	if (s->start_at != 0 && after < s->start_at)
		after = s->start_at - 1;
	t = wf_cron_next(&s->cron, s->tz, after);
	if (t != 0 && s->end_at != 0 && t > s->end_at)
		return 0;
	return t;
}

/* When the fire of scheduled time t is due: t plus its deterministic jitter. */
static TimestampTz
due_time(WfSchedule *s, TimestampTz t)
{
	uint64		h;

	if (s->jitter <= 0)
		return t;
	h = hash_bytes_extended((const unsigned char *) s->schedule_id, strlen(s->schedule_id),
							(uint64) t);
	return t + (int64) (h % (uint64) s->jitter);
}

/* The buffered fire times of the current SPI row, column col. */
static void
read_buffered(WfSchedule *s, int col)
{
	bool		isnull;
	Datum		d = wf_get_datum(0, col, &isnull);
	Datum	   *elems;
	int			i;

	s->nbuffered = 0;
	s->buffered = NULL;
	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), TIMESTAMPTZOID, sizeof(TimestampTz), true,
					  TYPALIGN_DOUBLE, &elems, NULL, &s->nbuffered);
	s->buffered = palloc((s->nbuffered + 1) * sizeof(TimestampTz));
	for (i = 0; i < s->nbuffered; i++)
		s->buffered[i] = DatumGetTimestampTz(elems[i]);
}

/* A timestamptz column of the current SPI row, 0 for NULL. */
static TimestampTz
get_time(int col)
{
	bool		isnull;
	Datum		d = wf_get_datum(0, col, &isnull);

	return isnull ? 0 : DatumGetTimestampTz(d);
}

/* The schedule of the current SPI row (SCHEDULE_COLUMNS), options read. */
static WfSchedule *
schedule_from_spi(void)
{
	WfSchedule *s = palloc0(sizeof(WfSchedule));
	bool		isnull;

	s->schedule_id = wf_get_text(0, 1);
	s->spec = wf_get_text(0, 2);
	s->workflow_type = wf_get_text(0, 3);
	s->input = wf_get_jsonb(0, 4);
	s->options = wf_get_jsonb(0, 5);
	s->queue = wf_get_text(0, 6);
	s->owner = DatumGetObjectId(wf_get_datum(0, 7, &isnull));
	s->paused = DatumGetBool(wf_get_datum(0, 8, &isnull));
	s->note = wf_get_text(0, 9);
	s->next_fire_at = get_time(10);
	s->last_fire_at = get_time(11);
	s->last_workflow_id = wf_get_text(0, 12);
	s->missed = DatumGetInt64(wf_get_datum(0, 13, &isnull));
	read_buffered(s, 14);
	s->failures = DatumGetInt32(wf_get_datum(0, 15, &isnull));
	wf_schedule_read_options(s);
	return s;
}

/*
 * Lock a schedule's row.  With a valid caller: waits, refuses a schedule
 * that does not exist (WF014) or that the caller may not steer (it must
 * be a member of the owner).  Without (the scheduler): skips a locked row
 * and returns NULL for it and for a missing one.
 */
WfSchedule *
wf_lock_schedule(const char *schedule_id, Oid caller)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(schedule_id)};
	WfSchedule *s;
	int			n;

	if (OidIsValid(caller))
		n = wf_exec(&lock_plan,
					"SELECT " SCHEDULE_COLUMNS " FROM workflow.schedule_state"
					" WHERE schedule_id = $1 FOR UPDATE",
					1, types, values, NULL, 1);
	else
		n = wf_exec(&lock_skip_plan,
					"SELECT " SCHEDULE_COLUMNS " FROM workflow.schedule_state"
					" WHERE schedule_id = $1 FOR UPDATE SKIP LOCKED",
					1, types, values, NULL, 1);
	if (n == 0 && OidIsValid(caller))
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("schedule \"%s\" does not exist", schedule_id),
				 errhint("Check the id in workflow.schedules.")));
	if (n == 0)
		return NULL;
	s = schedule_from_spi();
	if (OidIsValid(caller) && !has_privs_of_role(caller, s->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schedule \"%s\"", schedule_id),
				 errhint("Only its owner, role \"%s\", or a member of it may use it.",
						 GetUserNameFromId(s->owner, false))));
	return s;
}

/* A timestamptz datum, NULL for 0. */
static void
time_arg(TimestampTz t, Datum *value, char *null)
{
	*value = TimestampTzGetDatum(t);
	*null = t == 0 ? 'n' : ' ';
}

/* The buffered fire times as a timestamptz[] datum. */
static Datum
buffered_datum(WfSchedule *s)
{
	Datum	   *elems = palloc((s->nbuffered + 1) * sizeof(Datum));
	int			i;

	for (i = 0; i < s->nbuffered; i++)
		elems[i] = TimestampTzGetDatum(s->buffered[i]);
	return PointerGetDatum(construct_array(elems, s->nbuffered, TIMESTAMPTZOID,
										   sizeof(TimestampTz), true, TYPALIGN_DOUBLE));
}

/*
 * Insert a new schedule, its first fire time computed; false if a
 * schedule of that id exists.
 */
bool
wf_insert_schedule(WfSchedule *s)
{
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, TEXTOID, OIDOID,
	BOOLOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[10] = {CStringGetTextDatum(s->schedule_id), CStringGetTextDatum(s->spec),
		CStringGetTextDatum(s->workflow_type), JsonbPGetDatum(s->input),
		JsonbPGetDatum(s->options), CStringGetTextDatum(s->queue),
	ObjectIdGetDatum(s->owner), BoolGetDatum(s->paused), 0, 0};
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	s->next_fire_at = wf_schedule_next(s, wf_now());
	time_arg(s->next_fire_at, &values[8], &nulls[8]);
	time_arg(s->next_fire_at ? due_time(s, s->next_fire_at) : 0, &values[9], &nulls[9]);
	if (wf_exec(&insert_plan,
				"INSERT INTO workflow.schedule_state (schedule_id, spec, workflow_type, input,"
				"   options, queue, owner, paused, next_fire_at, due_at)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
				" ON CONFLICT (schedule_id) DO NOTHING",
				10, types, values, nulls, 0) == 0)
		return false;
	if (s->next_fire_at && !s->paused)
		wf_note_due(due_time(s, s->next_fire_at));
	return true;
}

/*
 * Write back what may have changed of a locked schedule: its definition,
 * pause, next fire (and due time), last start, missed count and buffer;
 * a successful write clears its failures.
 */
void
wf_save_schedule(WfSchedule *s)
{
	Oid			types[13] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, BOOLOID, TEXTOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID,
	TIMESTAMPTZARRAYOID};
	Datum		values[13];
	char		nulls[13] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz due = s->next_fire_at ? due_time(s, s->next_fire_at) : 0;

	values[0] = CStringGetTextDatum(s->schedule_id);
	values[1] = CStringGetTextDatum(s->spec);
	values[2] = CStringGetTextDatum(s->workflow_type);
	values[3] = JsonbPGetDatum(s->input);
	values[4] = JsonbPGetDatum(s->options);
	values[5] = BoolGetDatum(s->paused);
	values[6] = s->note ? CStringGetTextDatum(s->note) : (Datum) 0;
	nulls[6] = s->note ? ' ' : 'n';
	time_arg(s->next_fire_at, &values[7], &nulls[7]);
	time_arg(due, &values[8], &nulls[8]);
	time_arg(s->last_fire_at, &values[9], &nulls[9]);
	values[10] = s->last_workflow_id ? CStringGetTextDatum(s->last_workflow_id) : (Datum) 0;
	nulls[10] = s->last_workflow_id ? ' ' : 'n';
	values[11] = Int64GetDatum(s->missed);
	values[12] = buffered_datum(s);
	wf_exec(&save_plan,
			"UPDATE workflow.schedule_state SET spec = $2, workflow_type = $3, input = $4,"
			"   options = $5, paused = $6, note = $7, next_fire_at = $8, due_at = $9,"
			"   last_fire_at = $10, last_workflow_id = $11, missed = $12, buffered = $13,"
			"   failures = 0, updated_at = pg_catalog.now()"
			" WHERE schedule_id = $1",
			13, types, values, nulls, 0);
	if (!s->paused && due != 0)
		wf_note_due(due);
}

/* A fire's item failed: retry it at at (failures counted, for the backoff). */
void
wf_postpone_schedule(WfDueItem *item, TimestampTz at)
{
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2] = {CStringGetTextDatum(item->workflow_id), TimestampTzGetDatum(at)};

	wf_exec(&postpone_plan,
			"UPDATE workflow.schedule_state SET due_at = $2, failures = failures + 1"
			" WHERE schedule_id = $1",
			2, types, values, NULL, 0);
}

/* Has the fire of workflow_id been started already (a run of that id exists)? */
static bool
already_fired(const char *workflow_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(workflow_id)};

	return wf_exec(&fired_plan,
				   "SELECT 1 FROM workflow.workflows WHERE workflow_id = $1 LIMIT 1",
				   1, types, values, NULL, 1) == 1;
}

/*
 * The open run of the schedule's last start, locked, or NULL if it has
 * closed.  *held is set if another session holds it and wait is false.
 */
static WfRun *
lock_last_run(WfSchedule *s, bool wait, bool *held)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	WfRun	   *run;
	bool		isnull;

	*held = false;
	if (s->last_workflow_id == NULL)
		return NULL;
	if (wait)
		return wf_lock_run(s->last_workflow_id, false, InvalidOid);
	values[0] = CStringGetTextDatum(s->last_workflow_id);
	if (wf_exec(&open_run_plan,
				"SELECT run_id FROM workflow.workflows WHERE workflow_id = $1 AND closed_at IS NULL",
				1, types, values, NULL, 1) == 0)
		return NULL;
	run = wf_lock_run_by_id(s->last_workflow_id,
							datumCopy(wf_get_datum(0, 1, &isnull), false, UUID_LEN), true);
	if (run == NULL)
		*held = true;
	else if (!wf_run_is_open(run))
		return NULL;
	return run;
}

/* Shallow merge of two jsonb objects, b's keys winning. */
static Jsonb *
merge(Jsonb *a, Jsonb *b)
{
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

/*
 * The options of the fire at scheduled (ISO text): the type's options,
 * workflow_options, and search attributes schedule_id and scheduled_at
 * added to those of workflow_options.
 */
static Jsonb *
fire_options(WfSchedule *s, const char *scheduled)
{
	Jsonb	   *attrs = wf_jsonb_get_jsonb(s->workflow_options, "search_attributes");
	WfJson		b;

	wf_json_begin(&b);
	wf_json_str(&b, "schedule_id", s->schedule_id);
	wf_json_str(&b, "scheduled_at", scheduled);
	attrs = attrs && JB_ROOT_IS_OBJECT(attrs) ? merge(attrs, wf_json_end(&b)) : wf_json_end(&b);
	wf_json_begin(&b);
	wf_json_jsonb(&b, "search_attributes", attrs);
	return merge(merge(wf_type_options(s->workflow_type), s->workflow_options), wf_json_end(&b));
}

/* The workflow_id of the fire at scheduled time t. */
static char *
fire_workflow_id(WfSchedule *s, TimestampTz t)
{
	return psprintf("%s:%s", s->schedule_id, wf_iso_utc(t));
}

/* Start the run of the fire at t, as the schedule's owner; NULL if it exists. */
static WfRun *
start_fire(WfSchedule *s, TimestampTz t)
{
	char	   *scheduled = wf_iso_utc(t);
	char	   *queue;
	WfRunSpec	spec;
	WfRun	   *run;

	memset(&spec, 0, sizeof(spec));
	spec.workflow_id = fire_workflow_id(s, t);
	spec.workflow_type = s->workflow_type;
	spec.input = s->input;
	spec.options = fire_options(s, scheduled);
	queue = wf_jsonb_get_text(spec.options, "queue");
	spec.queue = queue ? queue : s->queue;
	wf_check_start_queues(s->owner, s->workflow_type, spec.queue);
	spec.owner = s->owner;
	spec.started_by = psprintf("schedule:%s", s->schedule_id);
	run = wf_create_run(&spec);
	if (run != NULL)
	{
		s->last_workflow_id = pstrdup(spec.workflow_id);
		s->last_fire_at = t;
	}
	return run;
}

/* Keep the fire at t to start when the open run closes. */
static void
buffer_fire(WfSchedule *s, TimestampTz t, bool only_latest)
{
	if (only_latest)
		s->nbuffered = 0;
	s->buffered = s->buffered ? repalloc(s->buffered, (s->nbuffered + 1) * sizeof(TimestampTz))
		: palloc(sizeof(TimestampTz));
	s->buffered[s->nbuffered++] = t;
}

/* What one fire did. */
typedef enum FireOutcome
{
	FIRE_STARTED,
	FIRE_BUFFERED,
	FIRE_DROPPED
} FireOutcome;

/*
 * The fire at scheduled time t, under the overlap policy; *open is the
 * open run of the last start (locked) or NULL, and becomes the new run.
 */
static FireOutcome
fire(WfSchedule *s, TimestampTz t, WfRun **open)
{
	WfRun	   *run;

	if (already_fired(fire_workflow_id(s, t)))
		return FIRE_DROPPED;
	if (*open != NULL && s->overlap != WF_OVERLAP_ALLOW_ALL)
	{
		switch (s->overlap)
		{
			case WF_OVERLAP_SKIP:
				return FIRE_DROPPED;
			case WF_OVERLAP_BUFFER_ONE:
				if (s->nbuffered > 0)
					return FIRE_DROPPED;
				buffer_fire(s, t, false);
				return FIRE_BUFFERED;
			case WF_OVERLAP_BUFFER_ALL:
				buffer_fire(s, t, false);
				return FIRE_BUFFERED;
			case WF_OVERLAP_CANCEL_OTHER:
				if (!(*open)->cancel_requested)
					wf_request_cancel(*open, psprintf("schedule \"%s\" fired again (overlap policy cancel_other)",
													  s->schedule_id),
									  psprintf("schedule:%s", s->schedule_id));
				buffer_fire(s, t, true);
				return FIRE_BUFFERED;
			case WF_OVERLAP_TERMINATE_OTHER:
				wf_terminate_run(*open, WF_EV_WORKFLOW_TERMINATED, WF_RUN_TERMINATED,
								 psprintf("schedule \"%s\" fired again (overlap policy terminate_other)",
										  s->schedule_id));
				break;
			case WF_OVERLAP_ALLOW_ALL:
				break;
		}
	}
	run = start_fire(s, t);
	if (run == NULL)
		return FIRE_DROPPED;
	*open = run;
	return FIRE_STARTED;
}

/* Start the first buffered fire if the last start's run has closed. */
static void
drain_buffer(WfSchedule *s, WfRun **open)
{
	while (s->nbuffered > 0 && *open == NULL)
	{
		TimestampTz t = s->buffered[0];

		memmove(s->buffered, s->buffered + 1, (s->nbuffered - 1) * sizeof(TimestampTz));
		s->nbuffered--;
		if (!already_fired(fire_workflow_id(s, t)))
			*open = start_fire(s, t);
	}
}

/*
 * The scheduler's (and tick()'s) due item of a schedule: start its
 * buffered fire if the last run closed, then every fire that is due at
 * now (missed ones counted), and move next_fire_at past them.  1 if done,
 * 0 if another session holds the schedule or the run it must steer.
 */
int
wf_fire_schedule(WfDueItem *item, TimestampTz now)
{
	WfSchedule *s = wf_lock_schedule(item->workflow_id, InvalidOid);
	WfRun	   *open;
	bool		held;

	if (s == NULL)
		return 0;
	if (s->paused)
		return 1;
	open = lock_last_run(s, false, &held);
	if (held)
		return 0;
	drain_buffer(s, &open);
	while (s->next_fire_at != 0 && due_time(s, s->next_fire_at) <= now)
	{
		if (now - due_time(s, s->next_fire_at) > s->catchup)
			s->missed++;
		else
			(void) fire(s, s->next_fire_at, &open);
		s->next_fire_at = wf_schedule_next(s, s->next_fire_at);
	}
	wf_save_schedule(s);
	return 1;
}

/*
 * One fire of a locked schedule at scheduled time t, outside its spec's
 * course (trigger_schedule, backfill_schedule), under the overlap policy,
 * waiting for the run it must steer.  A kept fire whose wait is over
 * starts first.  Returns the fire's workflow_id (started, or kept to start
 * when the open run closes), or NULL if the policy dropped it or it fired
 * before; *started says whether it started.  The caller saves the schedule.
 */
char *
wf_schedule_fire_one(WfSchedule *s, TimestampTz t, bool *started)
{
	bool		held;
	WfRun	   *open = lock_last_run(s, true, &held);
	FireOutcome outcome;

	drain_buffer(s, &open);
	outcome = fire(s, t, &open);
	*started = outcome == FIRE_STARTED;
	return outcome == FIRE_DROPPED ? NULL : fire_workflow_id(s, t);
}
