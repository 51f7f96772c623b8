/*-------------------------------------------------------------------------
 *
 * protocol.h
 *	  The worker protocol of the workflow extension, as its two C clients
 *	  speak it: workflow-worker and bench/loadgen.
 *
 * A worker claims activity tasks with workflow.claim_activities, reports
 * each one with complete_activity or fail_activity (or complete_and_claim,
 * which claims the next tasks in the same transaction), sends
 * heartbeat_activity while a task runs, and LISTENs on a channel named
 * after each queue it serves.  This file is the one place that knows the
 * SQL of those calls: the prepared statements' names, texts and parameter
 * order, the columns a claim returns and how they are read, which errors
 * mean "this task is no longer yours" (WF010), and how a queue's channel
 * name is quoted.  An API change of the extension is made here once.
 *
 * The functions only build and send; they neither log nor exit, so each
 * program decides what an error means to it.  The clocks both programs
 * time things with are here too.
 *
 * worker/protocol.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKFLOW_PROTOCOL_H
#define WORKFLOW_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/* SQLSTATEs of the protocol */
#define WF_SQLSTATE_LATE "WF010"	/* the task is no longer this worker's */
#define WF_SQLSTATE_UNDEFINED_FUNCTION "42883"	/* an older extension */

/* The prepared statements; wf_prepare() makes one on a connection. */
typedef enum WfStatement
{
	WF_CLAIM,					/* claim_activities */
	WF_COMPLETE,				/* complete_activity */
	WF_COMPLETE_CLAIM,			/* complete_and_claim (eager dispatch) */
	WF_FAIL,					/* fail_activity */
	WF_HEARTBEAT				/* heartbeat_activity */
} WfStatement;

#define WF_NUM_STATEMENTS (WF_HEARTBEAT + 1)

/*
 * One claimed task, as claim_activities and complete_and_claim return it.
 * The strings point into the PGresult: they live until PQclear().
 */
typedef struct WfTask
{
	const char *task_id;		/* bigint, as text */
	const char *activity_id;
	const char *workflow_id;
	const char *run_id;
	const char *queue;
	const char *activity;
	const char *input;			/* JSON text */
	int			input_len;
	int			attempt;
	double		heartbeat_timeout;	/* seconds; 0 when there is none */
	double		start_to_close; /* seconds; 0 when there is none */
	double		lease_left;		/* seconds until the lease expires; 0 if none */
} WfTask;

/* How a protocol call went, as far as a worker cares. */
typedef enum WfResult
{
	WF_OK,						/* it returned its rows */
	WF_LOST,					/* the connection is gone */
	WF_LATE,					/* WF010: the task is no longer ours */
	WF_BAD_DATA,				/* 22xxx, 54xxx: a value we sent was refused */
	WF_TRANSIENT,				/* worth trying again later */
	WF_ERROR					/* anything else */
} WfResult;

/* statements */
extern const char *wf_statement_name(WfStatement stmt);
extern PGresult *wf_prepare(PGconn *conn, WfStatement stmt);
extern bool wf_prepared_routed(WfStatement stmt);

/* calls (on statements prepared with wf_prepare) */
extern PGresult *wf_claim(PGconn *conn, const char *queue,
						  const char *worker_id, int max_tasks);
extern PGresult *wf_complete(PGconn *conn, const char *task_id,
							 const char *result, const char *workflow_id);
extern bool wf_send_complete(PGconn *conn, const char *task_id,
							 const char *result, const char *workflow_id);
extern PGresult *wf_complete_and_claim(PGconn *conn, const char *task_id,
									   const char *result, const char *workflow_id,
									   const char *queue, const char *worker_id,
									   int max_tasks);
extern PGresult *wf_fail(PGconn *conn, const char *task_id, const char *error,
						 bool retryable, const char *details,
						 const char *workflow_id);
extern PGresult *wf_heartbeat(PGconn *conn, const char *task_id,
							  const char *details, const char *workflow_id);

/* results */
extern void wf_read_task(const PGresult *res, int row, WfTask *task);
extern bool wf_cancel_requested(const PGresult *res);
extern WfResult wf_result(PGconn *conn, const PGresult *res);

/* notifications */
extern char *wf_listen_command(PGconn *conn, const char *queue);

/* clocks */
extern double wf_mono_s(void);
extern int64_t wf_mono_us(void);
extern double wf_wall_s(void);

#endif							/* WORKFLOW_PROTOCOL_H */
