/*-------------------------------------------------------------------------
 * flow.c
 *	  Flow control: the limits of a queue (configure_queue) and how many
 *	  tasks a claim may take under them; the limits of a workflow type
 *	  (max_running, max_running_per_key), under which a start is queued
 *	  and started when a running run of its type closes.
 *
 * Queue limits.  A configured queue has a row in workflow.queue_config; a
 * queue without one has no limits and its claims read nothing more than
 * that there is no row.  Claims never write the row: a claim of a queue
 * with limits takes the queue's claim lock (an advisory lock, field 4 =
 * 5), so that the claims of one queue count one after another, and lets
 * go of it once it has added what it took to the pending counts of
 * core/flowstate.c, before its commit (which is why a limit that does not
 * bind costs little: see flowstate.c for why the counts stay right):
 *   - max_concurrency: the queue's in-flight tasks, status 'running' with
 *     a lease that has not ended (a dead worker's claim stops counting the
 *     moment its lease ends, before the scheduler retries it), plus the
 *     claims of transactions not yet ended;
 *   - key_concurrency: the same, per concurrency_key (tasks without a key
 *     are not limited by it); the claim walks the ready tasks in claim
 *     order, skipping the keys that are full;
 *   - rate_limit: a token bucket in shared memory, of `tasks` tokens at
 *     most, filling at `tasks` per `per`, empty when the limit is set (so
 *     the first period admits `tasks`, not twice that) and after a
 *     restart; a claimed task takes a token.
 * A claim beyond a limit returns fewer rows (or none), never an error.
 *
 * Priorities are strict: claims take priority 1 first, FIFO within one
 * (the claim index, tasks_ready_idx, is in that order).  A stream of
 * priority-1 work that keeps every worker busy delays priority 9 for as
 * long as it lasts; aging would cost a second index or a scheduler pass
 * over every waiting task, so fairness between producers is what separate
 * queues and key_concurrency are for.
 *
 * Type limits.  Counting and starting the runs of a type happen under an
 * advisory lock of that type (held to commit), so two starts, or two
 * closes, never both take the last slot.  A run that closes while holding
 * a slot (running or compensating; not queued, and not continued as new:
 * the next run keeps the slot) starts the queued runs of its type that
 * now fit, in priority then FIFO order, in the same transaction.  A queued
 * run that another session holds at that moment (a signal, a cancel) is
 * passed over for the next one; it starts at the next close.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "model/model.h"

/* Largest limit (max_concurrency, key_concurrency, rate tasks, max_running). */
#define MAX_LIMIT 1000000

/* Field 4 of the advisory locks of a type's slots, of a queue's claims (3 is a workflow_id's). */
#define TYPE_LOCK_FIELD4 4
#define QUEUE_LOCK_FIELD4 5

static const char *const queue_option_keys[] = {
	"max_concurrency", "rate_limit", "key_concurrency", "paused", NULL
};
static const char *const rate_option_keys[] = {"tasks", "per", NULL};

/* The columns of a queue_config row that configure_queue sets. */
typedef enum QueueColumn
{
	QC_MAX_CONCURRENCY,
	QC_RATE_TASKS,
	QC_RATE_PER,
	QC_KEY_CONCURRENCY,
	QC_PAUSED,
	QC_COUNT
} QueueColumn;

typedef struct QueueConfig
{
	Datum		values[QC_COUNT];
	char		nulls[QC_COUNT];
} QueueConfig;

/* A concurrency key a keyed claim has met, with its in-flight tasks. */
typedef struct KeyCount
{
	char	   *key;
	int64		count;			/* in flight, pending and taken by this claim */
	int64		taken;			/* by this claim */
	bool		full;			/* left out of the claim's next rounds */
} KeyCount;

static SPIPlanPtr read_config_plan;
static SPIPlanPtr upsert_config_plan;
static SPIPlanPtr delete_config_plan;
static SPIPlanPtr limits_plan;
static SPIPlanPtr in_flight_plan;
static SPIPlanPtr key_in_flight_plan;
static SPIPlanPtr candidates_plan;
static SPIPlanPtr running_plan;
static SPIPlanPtr next_queued_plan;
static SPIPlanPtr queued_event_plan;
static SPIPlanPtr any_queued_plan;

/* A limit option of configure_queue: an integer from 1, or null. */
static void
limit_option(Jsonb *options, const char *key, QueueConfig *cfg, QueueColumn col)
{
	JsonbValue	v;
	int64		value;

	if (!wf_jsonb_get(options, key, &v))
		return;
	cfg->nulls[col] = 'n';
	if (wf_int_option(options, key, 1, MAX_LIMIT, ERRCODE_WF_UNUSABLE,
					  "Write a positive integer, or null to remove the limit "
					  "(\"paused\": true stops all claims).", &value))
	{
		cfg->values[col] = Int32GetDatum((int32) value);
		cfg->nulls[col] = ' ';
	}
}

/* The rate_limit option: {"tasks": n, "per": interval}, or null. */
static void
rate_option(Jsonb *options, QueueConfig *cfg)
{
	Jsonb	   *rate;
	int64		tasks;
	char	   *per;
	JsonbValue	v;

	if (!wf_jsonb_get(options, "rate_limit", &v))
		return;
	cfg->nulls[QC_RATE_TASKS] = cfg->nulls[QC_RATE_PER] = 'n';
	if (v.type == jbvNull)
		return;
	rate = wf_jsonb_get_jsonb(options, "rate_limit");
	if (!JB_ROOT_IS_OBJECT(rate))
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("option \"rate_limit\" must be an object"),
				 errhint("Write it as {\"tasks\": 50, \"per\": \"1 second\"}, or null to remove it.")));
	wf_check_option_keys(rate, "rate_limit", rate_option_keys, ERRCODE_WF_UNUSABLE);
	per = wf_jsonb_get_text(rate, "per");
	if (!wf_int_option(rate, "tasks", 1, MAX_LIMIT, ERRCODE_WF_UNUSABLE,
					   "Write it as {\"tasks\": 50, \"per\": \"1 second\"}.", &tasks) ||
		per == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("option \"rate_limit\" needs \"tasks\" and \"per\""),
				 errhint("Write it as {\"tasks\": 50, \"per\": \"1 second\"}.")));
	cfg->values[QC_RATE_TASKS] = Int32GetDatum((int32) tasks);
	cfg->values[QC_RATE_PER] = IntervalPGetDatum(wf_parse_interval(per, "rate_limit per"));
	cfg->nulls[QC_RATE_TASKS] = cfg->nulls[QC_RATE_PER] = ' ';
}

/* The paused option: true or false (null: false). */
static void
paused_option(Jsonb *options, QueueConfig *cfg)
{
	JsonbValue	v;

	if (!wf_jsonb_get(options, "paused", &v))
		return;
	if (v.type != jbvBool && v.type != jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("option \"paused\" must be true or false"),
				 errhint("Write \"paused\": true to stop claims, false to let them go on.")));
	cfg->values[QC_PAUSED] = BoolGetDatum(v.type == jbvBool && v.val.boolean);
}

/* The queue's configuration now (locked), or none: no limits. */
static void
read_config(const char *queue, QueueConfig *cfg)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(queue)};
	bool		isnull;
	int			col;

	memset(cfg->nulls, 'n', QC_COUNT);
	cfg->values[QC_PAUSED] = BoolGetDatum(false);
	cfg->nulls[QC_PAUSED] = ' ';
	if (wf_exec(&read_config_plan,
				"SELECT max_concurrency, rate_tasks, rate_per, key_concurrency, paused"
				" FROM workflow.queue_config WHERE queue = $1 FOR UPDATE",
				1, types, values, NULL, 1) == 0)
		return;
	for (col = 0; col < QC_COUNT; col++)
	{
		Datum		d = wf_get_datum(0, col + 1, &isnull);

		cfg->nulls[col] = isnull ? 'n' : ' ';
		if (!isnull)
			cfg->values[col] = col == QC_RATE_PER ? datumCopy(d, false, sizeof(Interval)) : d;
	}
}

/*
 * configure_queue: change the limits options names (a key set to
 * null removes that limit; keys not named keep theirs).  A queue left with
 * no limit and not paused loses its row.  Workers listening on the queue
 * are told, so that they claim under the new limits.
 */
void
wf_set_queue_limits(const char *queue, Jsonb *options, Oid caller)
{
	Oid			types[7] = {TEXTOID, INT4OID, INT4OID, INTERVALOID, INT4OID, BOOLOID,
	TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7];
	QueueConfig cfg;
	int			col;
	bool		unlimited = true;
	JsonbValue	v;

	wf_check_option_keys(options, "queue options", queue_option_keys, ERRCODE_WF_UNUSABLE);
	wf_check_queue_configure(caller, queue);
	read_config(queue, &cfg);
	limit_option(options, "max_concurrency", &cfg, QC_MAX_CONCURRENCY);
	limit_option(options, "key_concurrency", &cfg, QC_KEY_CONCURRENCY);
	rate_option(options, &cfg);
	paused_option(options, &cfg);

	values[0] = CStringGetTextDatum(queue);
	nulls[0] = ' ';
	for (col = 0; col < QC_COUNT; col++)
	{
		values[col + 1] = cfg.values[col];
		nulls[col + 1] = cfg.nulls[col];
		if (col != QC_PAUSED && cfg.nulls[col] == ' ')
			unlimited = false;
	}
	values[6] = TimestampTzGetDatum(wf_now());
	nulls[6] = ' ';
	if (unlimited && !DatumGetBool(cfg.values[QC_PAUSED]))
		wf_exec(&delete_config_plan, "DELETE FROM workflow.queue_config WHERE queue = $1",
				1, types, values, NULL, 0);
	else
		wf_exec(&upsert_config_plan,
				"INSERT INTO workflow.queue_config AS c (queue, max_concurrency, rate_tasks,"
				"   rate_per, key_concurrency, paused, updated_at)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7)"
				" ON CONFLICT (queue) DO UPDATE SET max_concurrency = EXCLUDED.max_concurrency,"
				"   rate_tasks = EXCLUDED.rate_tasks, rate_per = EXCLUDED.rate_per,"
				"   key_concurrency = EXCLUDED.key_concurrency, paused = EXCLUDED.paused,"
				"   updated_at = $7",
				7, types, values, nulls, 0);
	wf_flow_limits_set(queue, wf_jsonb_get(options, "rate_limit", &v));
	wf_notify_queue(queue);
}

/*
 * The queue's in-flight tasks (of one key, if key): claimed, lease not
 * ended; counted up to cap only, since a claim needs no more (so a limit
 * far from binding costs a count of at most cap rows, not of every task
 * in flight).
 */
static int64
in_flight(const char *queue, const char *key, TimestampTz now, int64 cap)
{
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, INT8OID, TEXTOID};
	Datum		values[4] = {CStringGetTextDatum(queue), TimestampTzGetDatum(now),
	Int64GetDatum(cap), key ? CStringGetTextDatum(key) : (Datum) 0};
	bool		isnull;

	if (key == NULL)
		wf_exec(&in_flight_plan,
				"SELECT count(*) FROM (SELECT FROM workflow.tasks"
				"   WHERE queue = $1 AND status = 'running' AND lease_expires_at > $2"
				"   LIMIT $3) AS t",
				3, types, values, NULL, 1);
	else
		wf_exec(&key_in_flight_plan,
				"SELECT count(*) FROM (SELECT FROM workflow.tasks"
				"   WHERE queue = $1 AND status = 'running' AND concurrency_key = $4"
				"   AND lease_expires_at > $2 LIMIT $3) AS t",
				4, types, values, NULL, 1);
	return DatumGetInt64(wf_get_datum(0, 1, &isnull));
}

/*
 * Take the claim lock of queue (field 4 = 5), held while the claim counts,
 * claims and adds what it took to the pending counts (see the header
 * comment).
 */
static void
queue_claim_tag(const char *queue, LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId,
						 DatumGetUInt32(hash_any((const unsigned char *) queue, strlen(queue))),
						 0, QUEUE_LOCK_FIELD4);
}

/* Let go of the claim lock of queue. */
static void
release_claim_lock(const char *queue, WfClaimLimits *lim)
{
	LOCKTAG		tag;

	queue_claim_tag(queue, &tag);
	(void) LockRelease(&tag, ExclusiveLock, false);
	lim->locked = false;
}

/*
 * A concurrency limit counts in a new snapshot each time; a transaction
 * snapshot would miss the claims committed since it was taken.
 */
static void
check_claim_isolation(const char *queue)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("claims of queue \"%s\" need isolation level READ COMMITTED", queue),
				 errdetail("The queue has max_concurrency or key_concurrency, which a claim "
						   "counts in a new snapshot."),
				 errhint("Claim outside REPEATABLE READ and SERIALIZABLE transactions.")));
}

/* Take up to want tokens from the bucket of a rate-limited queue. */
static int32
take_tokens(const char *queue, int32 rate, double per, TimestampTz now, int32 want)
{
	int32		taken;

	if (!wf_flow_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue \"%s\" has a rate_limit, which needs shared memory", queue),
				 errhint("Add workflow to shared_preload_libraries and restart the server.")));
	taken = wf_flow_take_tokens(queue, rate, per, now, want);
	if (taken < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many queues with limits and concurrency keys in flight"),
				 errhint("Remove the limits of queues no longer used (configure_queue with nulls).")));
	return taken;
}

/*
 * How many more tasks max_concurrency lets this claim take, wanting
 * `want`: by the queue's bound if that leaves room for all of them,
 * otherwise by a count of the table (which becomes the new bound).
 * Pending first, then the table: see core/flowstate.c.
 */
static int32
concurrency_room(const char *queue, int32 limit, int32 want, TimestampTz now)
{
	int64		own;
	int64		pending = wf_flow_pending(queue, NULL, &own);
	int64		bound;
	int64		committed;
	int64		count;

	/* The bound leaves out this transaction's claims, which pending holds. */
	if (wf_flow_in_flight_bound(queue, &bound) && pending + bound + want <= limit)
		return want;
	committed = wf_flow_committed(queue);
	count = in_flight(queue, NULL, now, limit);
	/* This transaction's claims are in the count: keep them out of the bound. */
	if (own == 0)
		wf_flow_set_count(queue, committed, count);
	return (int32) Max(0, Min(want, limit - (pending - own) - count));
}

/*
 * How many tasks a claim of up to max_tasks may take from queue now.  A
 * rate limit takes its tokens here; a max_concurrency reserves the room
 * in the pending count, under the queue's claim lock, and lets go of the
 * lock unless the claim is keyed (key counts are taken while picking the
 * tasks); wf_claims_taken gives back what was not used and lets go of the
 * lock.
 */
void
wf_claim_limits(const char *queue, int32 max_tasks, TimestampTz now, WfClaimLimits *lim)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(queue)};
	bool		isnull;
	Datum		d;
	LOCKTAG		tag;

	memset(lim, 0, sizeof(*lim));
	lim->allowed = max_tasks;
	if (wf_exec(&limits_plan,
				"SELECT paused, max_concurrency, key_concurrency, rate_tasks,"
				"   extract(epoch FROM rate_per)::float8"
				" FROM workflow.queue_config WHERE queue = $1",
				1, types, values, NULL, 1) == 0)
		return;
	lim->configured = true;
	if (DatumGetBool(wf_get_datum(0, 1, &isnull)))
	{
		lim->allowed = 0;
		return;
	}
	d = wf_get_datum(0, 2, &isnull);
	lim->max_concurrency = isnull ? 0 : DatumGetInt32(d);
	d = wf_get_datum(0, 3, &isnull);
	lim->key_limit = isnull ? 0 : DatumGetInt32(d);
	d = wf_get_datum(0, 4, &isnull);
	lim->rate_limited = !isnull;
	if (!lim->rate_limited && lim->max_concurrency == 0 && lim->key_limit == 0)
		return;
	if (lim->max_concurrency > 0 || lim->key_limit > 0)
	{
		check_claim_isolation(queue);
		queue_claim_tag(queue, &tag);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		lim->locked = true;
	}
	if (lim->rate_limited)
	{
		lim->tokens_taken = take_tokens(queue, DatumGetInt32(d),
										DatumGetFloat8(wf_get_datum(0, 5, &isnull)),
										now, lim->allowed);
		lim->allowed = lim->tokens_taken;
	}
	if (lim->max_concurrency > 0 && lim->allowed > 0)
	{
		lim->allowed = concurrency_room(queue, lim->max_concurrency, lim->allowed, now);
		if (wf_flow_add_pending(queue, NULL, lim->allowed))
			lim->reserved = lim->allowed;
		else
			lim->keep_lock = true;
	}
	if (lim->locked && lim->key_limit == 0 && !lim->keep_lock)
		release_claim_lock(queue, lim);
}

/* The in-flight count of a key (others' pending, then the table), counted once per claim. */
static KeyCount *
key_count(List **keys, const char *queue, const char *key, TimestampTz now, int64 cap)
{
	ListCell   *lc;
	KeyCount   *kc;
	int64		own;

	foreach(lc, *keys)
	{
		kc = lfirst(lc);
		if (strcmp(kc->key, key) == 0)
			return kc;
	}
	kc = palloc0(sizeof(KeyCount));
	kc->key = pstrdup(key);
	kc->count = wf_flow_pending(queue, key, &own);
	kc->count -= own;
	kc->count += in_flight(queue, key, now, cap);
	*keys = lappend(*keys, kc);
	return kc;
}

/* An int8[] datum of n int8 datums. */
static Datum
int8_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* A text[] datum of a list of text pointers. */
static Datum
text_array(List *texts)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(texts) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, texts)
		elems[n++] = PointerGetDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The tasks a claim of a key_concurrency queue takes (an int8[] of ids,
 * locked): the ready tasks in claim order whose key has room, up to
 * lim->allowed.  Each round fetches as many as are still wanted, leaving
 * out those taken and the keys found full; every round takes a task or
 * finds a key full, so it ends.
 */
Datum
wf_pick_keyed_tasks(const char *queue, WfClaimLimits *lim, TimestampTz now)
{
	Oid			types[4] = {TEXTOID, INT8ARRAYOID, TEXTARRAYOID, INT4OID};
	Datum		values[4];
	Datum	   *taken = palloc(sizeof(Datum) * lim->allowed);
	int			ntaken = 0;
	List	   *full = NIL;		/* text datums */

	values[0] = CStringGetTextDatum(queue);
	while (ntaken < lim->allowed)
	{
		int			n,
					i;
		int64	   *ids;
		char	  **task_keys;
		bool		isnull;

		values[1] = int8_array(taken, ntaken);
		values[2] = text_array(full);
		values[3] = Int32GetDatum(lim->allowed - ntaken);
		n = wf_exec(&candidates_plan,
					"SELECT task_id, concurrency_key FROM workflow.tasks"
					" WHERE queue = $1 AND status = 'ready' AND task_id <> ALL ($2)"
					"   AND (concurrency_key IS NULL OR concurrency_key <> ALL ($3))"
					" ORDER BY priority, ready_at, task_id LIMIT $4 FOR UPDATE SKIP LOCKED",
					4, types, values, NULL, 0);
		if (n == 0)
			break;
		ids = palloc(sizeof(int64) * n);
		task_keys = palloc(sizeof(char *) * n);
		for (i = 0; i < n; i++)
		{
			ids[i] = DatumGetInt64(wf_get_datum(i, 1, &isnull));
			task_keys[i] = wf_get_text(i, 2);
		}
		for (i = 0; i < n; i++)
		{
			KeyCount   *kc = task_keys[i] ? key_count(&lim->keys, queue, task_keys[i], now,
															 lim->key_limit) : NULL;

			if (kc == NULL || kc->count < lim->key_limit)
			{
				taken[ntaken++] = Int64GetDatum(ids[i]);
				if (kc)
				{
					kc->count++;
					kc->taken++;
				}
			}
			if (kc && kc->count >= lim->key_limit && !kc->full)
			{
				kc->full = true;
				full = lappend(full, DatumGetPointer(CStringGetTextDatum(kc->key)));
			}
		}
	}
	return int8_array(taken, ntaken);
}

/*
 * A claim of a configured queue took n tasks: give back the tokens and
 * the reserved room it did not use, count the tasks in the minute's
 * claims and, under key_concurrency, as pending until this transaction
 * ends; then let go of the claim lock.  Should the pending counts have no
 * room, the lock is kept to commit instead, so that the next claim counts
 * these in the table.
 */
void
wf_claims_taken(const char *queue, WfClaimLimits *lim, int n, TimestampTz now)
{
	ListCell   *lc;

	if (!lim->configured)
		return;
	wf_flow_claimed(queue, n, now);
	if (lim->rate_limited)
		wf_flow_return_tokens(queue, lim->tokens_taken - n);
	if (lim->reserved > n)
		(void) wf_flow_add_pending(queue, NULL, n - lim->reserved);
	foreach(lc, lim->keys)
	{
		KeyCount   *kc = lfirst(lc);

		if (!lim->keep_lock && kc->taken > 0 && !wf_flow_add_pending(queue, kc->key, kc->taken))
			lim->keep_lock = true;
	}
	if (lim->locked && !lim->keep_lock)
		release_claim_lock(queue, lim);
}

/* Check the flow control options of a type, a start or a child. */
void
wf_check_flow_options(Jsonb *options)
{
	int64		value;

	(void) wf_int_option(options, "max_running", 1, MAX_LIMIT, ERRCODE_INVALID_PARAMETER_VALUE,
						 "Write a positive integer: the most runs of the type open at once.", &value);
	(void) wf_int_option(options, "max_running_per_key", 1, MAX_LIMIT,
						 ERRCODE_INVALID_PARAMETER_VALUE,
						 "Write a positive integer: the most open runs per concurrency_key.", &value);
	(void) wf_run_priority(options);
	(void) wf_name_option(options, "concurrency_key", ERRCODE_INVALID_PARAMETER_VALUE);
}

/*
 * Refuse a type's max_running and max_running_per_key where the run tables
 * are distributed (Citus): admitting a queued run picks it over every
 * shard with FOR UPDATE SKIP LOCKED, which Citus does not plan
 * (doc/citus.md, Limits).  Needs SPI.
 */
void
wf_check_type_limits_supported(Jsonb *options)
{
	const char *limit = wf_jsonb_get_text(options, "max_running") ? "max_running" :
		wf_jsonb_get_text(options, "max_running_per_key") ? "max_running_per_key" : NULL;

	if (limit != NULL && wf_runs_distributed())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("option \"%s\" is not supported where the workflow tables are distributed", limit),
				 errhint("Register the type without it; limit its activities' queues with "
						 "workflow.configure_queue instead (doc/citus.md, Limits).")));
}

/* The option priority (of a start, a child or an activity): 1 to 9, 5 if none. */
int
wf_run_priority(Jsonb *options)
{
	int64		priority = 5;

	(void) wf_int_option(options, "priority", 1, 9, ERRCODE_INVALID_PARAMETER_VALUE,
						 "Priorities go from 1 (first) to 9; the default is 5.", &priority);
	return (int) priority;
}

/* The limits of a type (0: none); false if it has neither. */
static bool
type_limits(const char *type, int64 *max_running, int64 *per_key)
{
	WfType	   *t = wf_lookup_type(type);

	*max_running = *per_key = 0;
	if (t == NULL)
		return false;
	(void) wf_int_option(t->options, "max_running", 1, MAX_LIMIT, ERRCODE_INVALID_PARAMETER_VALUE,
						 "Re-register the type with a positive max_running.", max_running);
	(void) wf_int_option(t->options, "max_running_per_key", 1, MAX_LIMIT,
						 ERRCODE_INVALID_PARAMETER_VALUE,
						 "Re-register the type with a positive max_running_per_key.", per_key);
	return *max_running > 0 || *per_key > 0;
}

/* Lock the slots of a type until commit (see the header comment). */
static void
lock_type_slots(const char *type)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId,
						 DatumGetUInt32(hash_any((const unsigned char *) type, strlen(type))),
						 0, TYPE_LOCK_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* Is there a slot for one more running run of type (with key, if any)? */
static bool
has_slot(const char *type, const char *key, int64 max_running, int64 per_key)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(type), key ? CStringGetTextDatum(key) : (Datum) 0};
	char		nulls[2] = {' ', key ? ' ' : 'n'};
	bool		isnull;

	wf_exec(&running_plan,
			"SELECT count(*), count(*) FILTER (WHERE concurrency_key = $2)"
			" FROM workflow.workflows"
			" WHERE workflow_type = $1 AND closed_at IS NULL AND status <> 'queued'",
			2, types, values, nulls, 1);
	if (max_running > 0 && DatumGetInt64(wf_get_datum(0, 1, &isnull)) >= max_running)
		return false;
	return per_key == 0 || key == NULL ||
		DatumGetInt64(wf_get_datum(0, 2, &isnull)) < per_key;
}

/*
 * May a new run of type (with concurrency key key, or NULL) start now?
 * False: it is to be queued.  With limits, the type's slots stay locked
 * until commit, so the run counts for the next start.
 */
bool
wf_admit_run(const char *type, const char *key)
{
	int64		max_running;
	int64		per_key;

	if (!type_limits(type, &max_running, &per_key))
		return true;
	lock_type_slots(type);
	return has_slot(type, key, max_running, per_key);
}

/*
 * The next queued run of type that fits (locked, skipping those another
 * session holds): highest priority, then first queued, whose key has room.
 */
static bool
next_queued(const char *type, int64 per_key, char **workflow_id, Datum *run_id)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2] = {CStringGetTextDatum(type), Int64GetDatum(per_key)};
	bool		isnull;

	if (wf_exec(&next_queued_plan,
				"SELECT workflow_id, run_id FROM workflow.workflows q"
				" WHERE workflow_type = $1 AND status = 'queued'"
				"   AND ($2 = 0 OR concurrency_key IS NULL"
				"     OR (SELECT count(*) FROM workflow.workflows r"
				"         WHERE r.workflow_type = $1 AND r.concurrency_key = q.concurrency_key"
				"           AND r.closed_at IS NULL AND r.status <> 'queued') < $2)"
				" ORDER BY priority, queued_at, run_id LIMIT 1 FOR UPDATE SKIP LOCKED",
				2, types, values, NULL, 1) == 0)
		return false;
	*workflow_id = wf_get_text(0, 1);
	*run_id = datumCopy(wf_get_datum(0, 2, &isnull), false, UUID_LEN);
	return true;
}

/* Start a queued run: WorkflowStarted, with its WorkflowQueued's data; replay begins. */
static void
start_queued_run(WfRun *run)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};
	Jsonb	   *data;

	wf_flush_events();
	if (wf_exec(&queued_event_plan,
				"SELECT data FROM workflow.history WHERE workflow_id = $1 AND run_id = $2"
				"   AND event_type = 'WorkflowQueued' ORDER BY event_id LIMIT 1",
				2, types, values, NULL, 1) != 1)
		elog(ERROR, "queued run of workflow \"%s\" has no WorkflowQueued event",
			 run->workflow_id);
	data = wf_get_jsonb(0, 1);
	run->status = WF_RUN_RUNNING;
	wf_update_run(run);
	wf_append_event(run, WF_EV_WORKFLOW_STARTED, data);
	wf_wake_run(run);
}

/* Has type queued runs (left by limits since removed)? */
static bool
any_queued(const char *type)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(type)};

	return wf_exec(&any_queued_plan,
				   "SELECT 1 FROM workflow.workflows WHERE workflow_type = $1 AND status = 'queued'"
				   " LIMIT 1",
				   1, types, values, NULL, 1) == 1;
}

/*
 * Start the queued runs of type that fit, in order: after a run holding a
 * slot closed, or (always) after the type was registered again, whose
 * limits may have been raised or removed.
 */
void
wf_start_queued(const char *type, bool always)
{
	int64		max_running;
	int64		per_key;
	char	   *workflow_id;
	Datum		run_id;

	if (!type_limits(type, &max_running, &per_key) && !(always && any_queued(type)))
		return;
	lock_type_slots(type);
	while (has_slot(type, NULL, max_running, 0) &&
		   next_queued(type, per_key, &workflow_id, &run_id))
	{
		WfRun	   *run = wf_lock_run_by_id(workflow_id, run_id, false);

		start_queued_run(run);
	}
}
