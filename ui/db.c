/*-------------------------------------------------------------------------
 * db.c
 *	  The connection pool and query helpers of workflow-ui (see db.h).
 *
 *	  A connection taken from the pool is checked with an empty query
 *	  first: after a server restart or a terminated backend it is closed
 *	  and replaced, so a lost connection costs one failed round trip, not
 *	  a failed request.  At most POOL_IDLE connections are kept; a burst
 *	  of requests opens more and closes them on return.
 *-------------------------------------------------------------------------
 */
#include "db.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POOL_IDLE 8

static const char *db_conninfo;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static PGconn *pool[POOL_IDLE];
static int	pool_count;

void
db_setup(const char *conninfo)
{
	db_conninfo = conninfo;
}

static PGconn *
db_connect(char **error)
{
	/* CONNINFO comes last, so that it may name its own application_name. */
	const char *const keywords[] = {"application_name", "dbname", NULL};
	const char *const values[] = {"workflow-ui", db_conninfo, NULL};
	PGconn	   *conn = PQconnectdbParams(keywords, values, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		*error = strdup(PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static bool
db_alive(PGconn *conn)
{
	PGresult   *res;
	bool		ok;

	if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE)
		return false;
	res = PQexec(conn, "");
	ok = PQresultStatus(res) == PGRES_EMPTY_QUERY;
	PQclear(res);
	return ok && PQstatus(conn) == CONNECTION_OK;
}

PGconn *
db_acquire(char **error)
{
	for (;;)
	{
		PGconn	   *conn = NULL;

		pthread_mutex_lock(&pool_lock);
		if (pool_count > 0)
			conn = pool[--pool_count];
		pthread_mutex_unlock(&pool_lock);
		if (conn == NULL)
			return db_connect(error);
		if (db_alive(conn))
			return conn;
		PQfinish(conn);
	}
}

void
db_release(PGconn *conn)
{
	if (conn == NULL)
		return;
	/* A connection left in a transaction (an error mid-way) is not reused. */
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE)
	{
		pthread_mutex_lock(&pool_lock);
		if (pool_count < POOL_IDLE)
		{
			pool[pool_count++] = conn;
			conn = NULL;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	if (conn)
		PQfinish(conn);
}

void
db_close_all(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_count > 0)
		PQfinish(pool[--pool_count]);
	pthread_mutex_unlock(&pool_lock);
}

PGresult *
db_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

bool
db_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

const char *
db_get(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

void
db_error_html(Buf *out, PGconn *conn, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	buf_raw(out, "<div class=\"error\" role=\"alert\"><strong>Database error");
	if (state)
	{
		buf_raw(out, " <code class=\"sqlstate\">");
		buf_html(out, state);
		buf_raw(out, "</code>");
	}
	buf_raw(out, ":</strong> <span class=\"message\">");
	buf_html(out, msg ? msg : PQerrorMessage(conn));
	buf_raw(out, "</span>");
	if (detail)
	{
		buf_raw(out, "<div class=\"detail\">");
		buf_html(out, detail);
		buf_raw(out, "</div>");
	}
	if (hint)
	{
		buf_raw(out, "<div class=\"hint\">Hint: ");
		buf_html(out, hint);
		buf_raw(out, "</div>");
	}
	buf_raw(out, "</div>\n");
}

int
db_error_status(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state == NULL)
		return 502;
	if (strcmp(state, "42501") == 0)
		return 403;
	if (strcmp(state, "42704") == 0 || strcmp(state, "42883") == 0)
		return 404;
	return 409;
}

bool
db_has_function(PGconn *conn, const char *signature)
{
	const char *params[1] = {signature};
	PGresult   *res = db_query(conn, "SELECT pg_catalog.to_regprocedure($1) IS NOT NULL", 1, params);
	bool		has = db_ok(res) && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return has;
}
