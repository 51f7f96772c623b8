/*-------------------------------------------------------------------------
 *
 * connection.c
 *	  The worker's one connection to the server: connect, reconnect with
 *	  backoff, LISTEN on the queues, notifications.
 *
 * Connecting never blocks the event loop: PQconnectStartParams and
 * PQconnectPoll are driven from poll() on the socket, bounded by
 * CONNECT_TIMEOUT.  Once open, the connection prepares the protocol's
 * statements and LISTENs on every queue's channel; only then is it
 * CONN_UP, and every queue is marked as having work (notifications sent
 * while we were away are lost).  A failed attempt or a lost connection
 * waits backoff seconds (0.1 s doubling to 5 s, reset by a success) and
 * tries again, forever, except under --once before the first success:
 * then the worker gives up (CONN_GAVE_UP) and exits with status 1.  A
 * set-up the server refuses (no workflow extension in the database, no
 * access to its schema) is retried the same way, except under --once or
 * --exit-on-error: then the worker exits with EXIT_SERVER_REFUSED.
 *
 * Notifications are how queues get has_work set; the fallback poll
 * (--poll-interval) sets it on every queue in case one was missed.
 *
 * worker/connection.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "log.h"
#include "options.h"
#include "text.h"

#define CONNECT_TIMEOUT 10.0	/* seconds for one connection attempt */
#define BACKOFF_MIN		0.1		/* first reconnect delay, seconds */
#define BACKOFF_MAX		5.0		/* reconnect delay cap, seconds */

Connection	conn = {.state = CONN_DOWN,.backoff = BACKOFF_MIN};

/* Route server notices (e.g. shutdown messages) into our log. */
static void
notice_processor(void *arg, const char *message)
{
	char		line[1024];

	(void) arg;
	log_msg(LOG_INFO, "server: %s", one_line(message, line, sizeof(line)));
}

/* Forget the connection; schedule the next attempt and return its delay. */
static double
conn_schedule_retry(void)
{
	double		delay = conn.backoff;

	if (conn.pg != NULL)
		PQfinish(conn.pg);
	conn.pg = NULL;
	conn.state = CONN_DOWN;
	conn.eager_ready = false;
	conn.retry_at = wf_mono_s() + delay;
	conn.backoff = conn.backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : conn.backoff * 2;
	return delay;
}

/* A connection attempt failed: log why and retry later (or give up). */
static void
conn_failed(const char *why)
{
	char		line[1024];

	one_line(why ? why : PQerrorMessage(conn.pg), line, sizeof(line));
	if (opt.once && !conn.ever_connected)
	{
		log_msg(LOG_ERROR, "could not connect: %s", line);
		PQfinish(conn.pg);
		conn.pg = NULL;
		conn.state = CONN_GAVE_UP;
		conn.exit_status = 1;
		return;
	}
	log_msg(LOG_WARNING, "could not connect: %s (retrying in %.1f s)",
			line, conn_schedule_retry());
}

/* An established connection broke: log why and reconnect later. */
void
conn_lost(const char *why)
{
	char		line[1024];

	one_line(why ? why : PQerrorMessage(conn.pg), line, sizeof(line));
	log_msg(LOG_WARNING, "connection lost: %s (reconnecting in %.1f s)",
			line, conn_schedule_retry());
}

/* Start a non-blocking connection attempt. */
void
conn_start(void)
{
	const char *keys[8];
	const char *vals[8];
	int			n = 0;

	/* defaults the connection string may override */
	keys[n] = "fallback_application_name";
	vals[n++] = "workflow-worker";
	keys[n] = "keepalives_idle";
	vals[n++] = "30";
	keys[n] = "keepalives_interval";
	vals[n++] = "10";
	keys[n] = "keepalives_count";
	vals[n++] = "3";
	keys[n] = "tcp_user_timeout";
	vals[n++] = "60000";
	if (opt.conninfo)
	{
		keys[n] = "dbname";
		vals[n++] = opt.conninfo;
	}
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	keys[n] = NULL;
	vals[n] = NULL;
	conn.pg = PQconnectStartParams(keys, vals, 1);
	if (conn.pg == NULL)
		die("out of memory");
	conn.started = wf_mono_s();
	if (PQstatus(conn.pg) == CONNECTION_BAD)
	{
		conn_failed(NULL);
		return;
	}
	conn.state = CONN_CONNECTING;
	conn.poll = PGRES_POLLING_WRITING;
	log_msg(LOG_DEBUG, "connecting");
}

/* Run one utility command; false (and the reason logged) on failure. */
static bool
conn_command(const char *sql)
{
	PGresult   *res = PQexec(conn.pg, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		char		line[1024];

		log_msg(LOG_WARNING, "\"%s\" failed: %s", sql, db_error(res, line, sizeof(line)));
	}
	PQclear(res);
	return ok;
}

/* Prepare one statement; false (and the reason logged) on failure. */
static bool
conn_prepare(WfStatement stmt)
{
	PGresult   *res = wf_prepare(conn.pg, stmt);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		char		line[1024];

		log_msg(LOG_WARNING, "could not prepare %s: %s",
				wf_statement_name(stmt), db_error(res, line, sizeof(line)));
	}
	PQclear(res);
	return ok;
}

/*
 * Prepare complete_and_claim for eager dispatch (unless --no-eager).  An
 * extension that predates it (SQLSTATE 42883) is served without; false,
 * with the reason logged, only when the set-up must be given up.
 */
static bool
conn_prepare_eager(void)
{
	PGresult   *res;
	const char *state;
	bool		ok = true;

	conn.eager_ready = false;
	if (!opt.eager)
		return true;
	res = wf_prepare(conn.pg, WF_COMPLETE_CLAIM);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		conn.eager_ready = true;
	else if (state != NULL && strcmp(state, WF_SQLSTATE_UNDEFINED_FUNCTION) == 0)
		log_msg(LOG_INFO, "the server has no workflow.complete_and_claim (older extension): eager dispatch is off");
	else
	{
		char		line[1024];

		log_msg(LOG_WARNING, "could not prepare %s: %s",
				wf_statement_name(WF_COMPLETE_CLAIM), db_error(res, line, sizeof(line)));
		ok = false;
	}
	PQclear(res);
	return ok;
}

/* LISTEN on a queue's channel; false (and the reason logged) on failure. */
static bool
conn_listen(const Queue *q)
{
	char	   *sql = wf_listen_command(conn.pg, q->name);
	bool		ok;

	if (sql == NULL)
		return false;
	ok = conn_command(sql);
	free(sql);
	return ok;
}

/*
 * The server refused the set-up under --once or --exit-on-error: no
 * retry, the worker exits with EXIT_SERVER_REFUSED.
 */
static void
conn_refused(void)
{
	log_msg(LOG_ERROR, "connection set-up failed in database \"%s\": is the workflow extension installed, and may this role use it? Exiting (%s)",
			PQdb(conn.pg), opt.once ? "--once" : "--exit-on-error");
	PQfinish(conn.pg);
	conn.pg = NULL;
	conn.state = CONN_GAVE_UP;
	conn.exit_status = EXIT_SERVER_REFUSED;
}

/* The connection is open: prepare statements, LISTEN, start claiming. */
static void
conn_ready(void)
{
	bool		ok;

	PQsetNoticeProcessor(conn.pg, notice_processor, NULL);
	ok = conn_prepare(WF_CLAIM) &&
		conn_prepare(WF_COMPLETE) &&
		conn_prepare(WF_FAIL) &&
		conn_prepare(WF_HEARTBEAT) &&
		conn_prepare_eager();
	for (int i = 0; ok && i < opt.nqueues; i++)
		ok = conn_listen(&opt.queues[i]);
	if (!ok)
	{
		if (PQstatus(conn.pg) == CONNECTION_BAD)
			conn_lost(NULL);
		else if (opt.once || opt.exit_on_error)
			conn_refused();
		else
			conn_failed("connection set-up failed (is the workflow extension installed?)");
		return;
	}
	conn.state = CONN_UP;
	conn.ever_connected = true;
	conn.backoff = BACKOFF_MIN;
	for (int i = 0; i < opt.nqueues; i++)
		opt.queues[i].has_work = true;
	conn.next_poll = wf_mono_s() + opt.poll;
	log_msg(LOG_INFO, "connected to database \"%s\" on %s:%s as worker \"%s\"",
			PQdb(conn.pg), PQhost(conn.pg), PQport(conn.pg), opt.worker_id);
}

/* Advance a non-blocking connection attempt (its socket is ready). */
void
conn_continue(void)
{
	conn.poll = PQconnectPoll(conn.pg);
	if (conn.poll == PGRES_POLLING_OK)
		conn_ready();
	else if (conn.poll == PGRES_POLLING_FAILED)
		conn_failed(NULL);
}

/* What the clock asks of the connection: retry, time out, or go on. */
void
conn_tick(double now)
{
	if (conn.state == CONN_DOWN && now >= conn.retry_at)
		conn_start();
	else if (conn.state == CONN_CONNECTING && now >= conn.started + CONNECT_TIMEOUT)
		conn_failed("timeout expired");
	else if (conn.state == CONN_CONNECTING && PQsocket(conn.pg) < 0)
		conn_continue();
}

/*
 * The earlier of t and the next time the connection needs the loop: a
 * retry, an attempt's timeout, or (unless stopping) the fallback poll.
 */
double
conn_next_wakeup(double t, bool stopping)
{
	if (conn.state == CONN_DOWN && conn.retry_at < t)
		t = conn.retry_at;
	if (conn.state == CONN_CONNECTING && conn.started + CONNECT_TIMEOUT < t)
		t = conn.started + CONNECT_TIMEOUT;
	if (conn.state == CONN_UP && !opt.once && !stopping && conn.next_poll < t)
		t = conn.next_poll;
	return t;
}

/* Close the connection for good (at exit). */
void
conn_close(void)
{
	if (conn.pg != NULL)
		PQfinish(conn.pg);
	conn.pg = NULL;
	conn.state = CONN_DOWN;
}

/* Mark queues that got a notification as having work. */
void
drain_notifies(void)
{
	PGnotify   *n;

	if (conn.state != CONN_UP)
		return;
	while ((n = PQnotifies(conn.pg)) != NULL)
	{
		for (int i = 0; i < opt.nqueues; i++)
			if (!opt.once && strcmp(opt.queues[i].name, n->relname) == 0)
			{
				opt.queues[i].has_work = true;
				log_msg(LOG_DEBUG, "notification for queue \"%s\"", n->relname);
			}
		PQfreemem(n);
	}
}

/* The fallback poll: every --poll-interval, look at every queue again. */
void
poll_queues(double now)
{
	if (opt.once || now < conn.next_poll)
		return;
	for (int i = 0; i < opt.nqueues; i++)
		opt.queues[i].has_work = true;
	conn.next_poll = now + opt.poll;
}

/* Classify a protocol call's result on our connection; res may be NULL. */
WfResult
db_result(const PGresult *res)
{
	return wf_result(conn.pg, res);
}

/* A query's error as one line, "message (detail)", in buf. */
const char *
db_error(const PGresult *res, char *buf, size_t size)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char		tmp[1024];

	if (primary == NULL)
		return one_line(PQerrorMessage(conn.pg), buf, size);
	if (detail)
		snprintf(tmp, sizeof(tmp), "%s (%s)", primary, detail);
	else
		snprintf(tmp, sizeof(tmp), "%s", primary);
	return one_line(tmp, buf, size);
}
