/*-------------------------------------------------------------------------
 *
 * protocol.c
 *	  The SQL of the worker protocol and how its answers are read.
 *
 * Every call is a prepared statement, so a worker parses each text once
 * per connection.  The claim and complete_and_claim return the same
 * columns (WF_TASK_COLUMNS, read by wf_read_task), so a program starts the
 * tasks of both the same way.  Parameters go as text with explicit casts
 * in the SQL: a task id is a bigint, a result or details a jsonb.
 *
 * worker/protocol.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"

/* The columns of a claimed task, in the order wf_read_task reads them. */
#define WF_TASK_COLUMNS \
	"task_id, activity_id, workflow_id, run_id, queue, activity, input, attempt," \
	" extract(epoch FROM heartbeat_timeout), extract(epoch FROM start_to_close_timeout)," \
	" extract(epoch FROM lease_expires_at - now())"

enum
{
	COL_TASK_ID,
	COL_ACTIVITY_ID,
	COL_WORKFLOW_ID,
	COL_RUN_ID,
	COL_QUEUE,
	COL_ACTIVITY,
	COL_INPUT,
	COL_ATTEMPT,
	COL_HEARTBEAT_TIMEOUT,
	COL_START_TO_CLOSE,
	COL_LEASE_LEFT
};

/*
 * A prepared statement of the protocol.  A report also has a routed form,
 * the overload that names the task's run (workflow_id as one more, last,
 * parameter): on Citus its first read is then on the run's shard alone.
 * An extension without that overload is served the plain form.
 */
typedef struct WfStatementDef
{
	const char *name;
	const char *sql;
	int			nparams;
	const char *routed_sql;		/* NULL: the statement has no routed form */
} WfStatementDef;

static const WfStatementDef statements[WF_NUM_STATEMENTS] = {
	[WF_CLAIM] = {
		"wf_claim",
		"SELECT " WF_TASK_COLUMNS
		" FROM workflow.claim_activities($1::text, $2::text, $3::int)",
		3
	},
	[WF_COMPLETE] = {
		"wf_complete",
		"SELECT workflow.complete_activity($1::bigint, $2::jsonb)",
		2,
		"SELECT workflow.complete_activity($1::bigint, $2::jsonb, $3::text)"
	},
	[WF_COMPLETE_CLAIM] = {
		"wf_complete_claim",
		"SELECT " WF_TASK_COLUMNS
		" FROM workflow.complete_and_claim($1::bigint, $2::jsonb, $3::text, $4::text, $5::int)",
		5,
		"SELECT " WF_TASK_COLUMNS
		" FROM workflow.complete_and_claim($1::bigint, $2::jsonb, $3::text, $4::text, $5::int, $6::text)"
	},
	[WF_FAIL] = {
		"wf_fail",
		"SELECT workflow.fail_activity($1::bigint, $2::text, $3::boolean, $4::jsonb)",
		4,
		"SELECT workflow.fail_activity($1::bigint, $2::text, $3::boolean, $4::jsonb, $5::text)"
	},
	[WF_HEARTBEAT] = {
		"wf_heartbeat",
		"SELECT workflow.heartbeat_activity($1::bigint, $2::jsonb)",
		2,
		"SELECT workflow.heartbeat_activity($1::bigint, $2::jsonb, $3::text)"
	},
};

/*
 * Which form of each statement was prepared last: true when the routed
 * form, which takes the workflow_id.  A program's connections all go to
 * one extension (a worker has one; the load generator's threads share a
 * server, and each prepares the same form).
 * A NULL workflow_id sent to the routed form names no run, as the plain
 * form does.
 */
static bool prepared_routed[WF_NUM_STATEMENTS];

/* The name a statement is prepared under (for messages). */
const char *
wf_statement_name(WfStatement stmt)
{
	return statements[stmt].name;
}

/*
 * Prepare one statement on conn, its routed form when it has one and the
 * server knows the overload (else, SQLSTATE 42883, the plain form); the
 * caller checks and clears the result.
 */
PGresult *
wf_prepare(PGconn *conn, WfStatement stmt)
{
	const WfStatementDef *def = &statements[stmt];
	PGresult   *res;
	const char *state;

	prepared_routed[stmt] = false;
	if (def->routed_sql == NULL)
		return PQprepare(conn, def->name, def->sql, def->nparams, NULL);
	res = PQprepare(conn, def->name, def->routed_sql, def->nparams + 1, NULL);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		prepared_routed[stmt] = true;
		return res;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state == NULL || strcmp(state, WF_SQLSTATE_UNDEFINED_FUNCTION) != 0)
		return res;
	PQclear(res);
	return PQprepare(conn, def->name, def->sql, def->nparams, NULL);
}

/* Whether stmt was prepared in its routed form (the workflow_id passed). */
bool
wf_prepared_routed(WfStatement stmt)
{
	return prepared_routed[stmt];
}

/*
 * The number of parameters a call of the prepared stmt sends: a report's
 * params hold the workflow_id last, sent only to the routed form.
 */
static int
statement_nparams(WfStatement stmt)
{
	return statements[stmt].nparams + (prepared_routed[stmt] ? 1 : 0);
}

/* Run a prepared statement of the protocol with text parameters. */
static PGresult *
exec_statement(PGconn *conn, WfStatement stmt, const char *const *params)
{
	return PQexecPrepared(conn, statements[stmt].name, statement_nparams(stmt),
						  params, NULL, NULL, 0);
}

/* Claim up to max_tasks tasks of a queue for worker_id. */
PGresult *
wf_claim(PGconn *conn, const char *queue, const char *worker_id,
		 int max_tasks)
{
	char		nbuf[16];
	const char *params[3] = {queue, worker_id, nbuf};

	snprintf(nbuf, sizeof(nbuf), "%d", max_tasks);
	return exec_statement(conn, WF_CLAIM, params);
}

/* Complete a task of run workflow_id with its result (JSON text). */
PGresult *
wf_complete(PGconn *conn, const char *task_id, const char *result,
			const char *workflow_id)
{
	const char *params[3] = {task_id, result, workflow_id};

	return exec_statement(conn, WF_COMPLETE, params);
}

/* Send a completion without waiting for it (pipeline mode); false on error. */
bool
wf_send_complete(PGconn *conn, const char *task_id, const char *result,
				 const char *workflow_id)
{
	const char *params[3] = {task_id, result, workflow_id};

	return PQsendQueryPrepared(conn, statements[WF_COMPLETE].name,
							   statement_nparams(WF_COMPLETE), params,
							   NULL, NULL, 0) != 0;
}

/*
 * Complete a task of run workflow_id and, in the same transaction, claim
 * up to max_tasks tasks of queue for worker_id (the rows read as
 * wf_claim's).
 */
PGresult *
wf_complete_and_claim(PGconn *conn, const char *task_id, const char *result,
					  const char *workflow_id, const char *queue,
					  const char *worker_id, int max_tasks)
{
	char		nbuf[16];
	const char *params[6] = {task_id, result, queue, worker_id, nbuf, workflow_id};

	snprintf(nbuf, sizeof(nbuf), "%d", max_tasks);
	return exec_statement(conn, WF_COMPLETE_CLAIM, params);
}

/*
 * Fail a task of run workflow_id: error message, retryable or not,
 * details (JSON text).
 */
PGresult *
wf_fail(PGconn *conn, const char *task_id, const char *error,
		bool retryable, const char *details, const char *workflow_id)
{
	const char *params[5] = {task_id, error, retryable ? "true" : "false", details,
	workflow_id};

	return exec_statement(conn, WF_FAIL, params);
}

/*
 * Extend the lease of a running task of run workflow_id; details (JSON
 * text) may be NULL.
 */
PGresult *
wf_heartbeat(PGconn *conn, const char *task_id, const char *details,
			 const char *workflow_id)
{
	const char *params[3] = {task_id, details, workflow_id};

	return exec_statement(conn, WF_HEARTBEAT, params);
}

/* A column holding seconds, 0 when NULL. */
static double
seconds_column(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : atof(PQgetvalue(res, row, col));
}

/* Read row of a claim's (or complete_and_claim's) result into task. */
void
wf_read_task(const PGresult *res, int row, WfTask *task)
{
	task->task_id = PQgetvalue(res, row, COL_TASK_ID);
	task->activity_id = PQgetvalue(res, row, COL_ACTIVITY_ID);
	task->workflow_id = PQgetvalue(res, row, COL_WORKFLOW_ID);
	task->run_id = PQgetvalue(res, row, COL_RUN_ID);
	task->queue = PQgetvalue(res, row, COL_QUEUE);
	task->activity = PQgetvalue(res, row, COL_ACTIVITY);
	task->input = PQgetvalue(res, row, COL_INPUT);
	task->input_len = PQgetlength(res, row, COL_INPUT);
	task->attempt = atoi(PQgetvalue(res, row, COL_ATTEMPT));
	task->heartbeat_timeout = seconds_column(res, row, COL_HEARTBEAT_TIMEOUT);
	task->start_to_close = seconds_column(res, row, COL_START_TO_CLOSE);
	task->lease_left = seconds_column(res, row, COL_LEASE_LEFT);
}

/* Whether a heartbeat's answer asks the worker to cancel the task. */
bool
wf_cancel_requested(const PGresult *res)
{
	return PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

/* Classify the result of a protocol call; res may be NULL. */
WfResult
wf_result(PGconn *conn, const PGresult *res)
{
	const char *state;

	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		return WF_OK;
	if (PQstatus(conn) == CONNECTION_BAD)
		return WF_LOST;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL)
		return WF_TRANSIENT;
	if (strcmp(state, WF_SQLSTATE_LATE) == 0)
		return WF_LATE;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "54", 2) == 0)
		return WF_BAD_DATA;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 ||
		strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0)
		return WF_TRANSIENT;
	return WF_ERROR;
}

/*
 * "LISTEN <channel>" for a queue: its channel is its name, quoted as an
 * identifier.  Malloc'd (free() it); NULL when out of memory.
 */
char *
wf_listen_command(PGconn *conn, const char *queue)
{
	char	   *ident = PQescapeIdentifier(conn, queue, strlen(queue));
	char	   *sql;

	if (ident == NULL)
		return NULL;
	sql = malloc(strlen(ident) + 8);
	if (sql != NULL)
		sprintf(sql, "LISTEN %s", ident);
	PQfreemem(ident);
	return sql;
}

/* Seconds on the monotonic clock. */
double
wf_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Microseconds on the monotonic clock. */
int64_t
wf_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wall-clock seconds since the epoch (to compare with the server's). */
double
wf_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
