/*-------------------------------------------------------------------------
 *
 * connection.h
 *	  The worker's one connection to the server: connect, reconnect with
 *	  backoff, LISTEN on the queues, notifications.
 *
 * worker/connection.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_CONNECTION_H
#define WORKER_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "protocol.h"

/* Connection life cycle. */
typedef enum ConnState
{
	CONN_DOWN,					/* waiting for retry_at */
	CONN_CONNECTING,			/* a non-blocking attempt is under way */
	CONN_UP,					/* statements prepared, queues listened on */
	CONN_GAVE_UP				/* --once and the first attempt failed, or the
								 * set-up failed under --once/--exit-on-error */
} ConnState;

/* exit status when the server refuses the set-up or a queue's claims */
#define EXIT_SERVER_REFUSED 2

typedef struct Connection
{
	PGconn	   *pg;
	ConnState	state;
	PostgresPollingStatusType poll; /* what a connecting socket waits for */
	double		started;		/* when the current attempt began */
	double		retry_at;		/* when CONN_DOWN tries again */
	double		backoff;		/* the delay after the next failure */
	bool		ever_connected;
	bool		eager_ready;	/* complete_and_claim prepared on pg */
	double		next_poll;		/* the next fallback poll of every queue */
	int			exit_status;	/* the worker's, once CONN_GAVE_UP */
} Connection;

extern Connection conn;

extern void conn_start(void);
extern void conn_continue(void);
extern void conn_tick(double now);
extern void conn_lost(const char *why);
extern void conn_close(void);
extern double conn_next_wakeup(double t, bool claiming);

extern void drain_notifies(void);
extern void poll_queues(double now);

extern WfResult db_result(const PGresult *res);
extern const char *db_error(const PGresult *res, char *buf, size_t size);

#endif							/* WORKER_CONNECTION_H */
