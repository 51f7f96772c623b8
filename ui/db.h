/*-------------------------------------------------------------------------
 * db.h
 *	  workflow-ui's connections: every request borrows one from a small
 *	  pool (guarded by a mutex), checks that it is alive, and gives it
 *	  back.  All of them connect with the one CONNINFO, so every read and
 *	  action runs as that role; queries are parameterized (PQexecParams),
 *	  never built from a request's text.
 *-------------------------------------------------------------------------
 */
#ifndef UI_DB_H
#define UI_DB_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "buf.h"

extern void db_setup(const char *conninfo);
/* A live connection, or NULL with the reason in *error (malloc'd). */
extern PGconn *db_acquire(char **error);
extern void db_release(PGconn *conn);
extern void db_close_all(void);

/* PQexecParams with text parameters (NULL entries are SQL NULL). */
extern PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern bool db_ok(const PGresult *res);
/* The database's error, as an HTML box: SQLSTATE, message, detail, hint. */
extern void db_error_html(Buf *out, PGconn *conn, const PGresult *res);
/* An HTTP status for an error: 403 for rights, 404 for unknown objects. */
extern int	db_error_status(const PGresult *res);
/* Does a function with this signature exist (to_regprocedure)? */
extern bool db_has_function(PGconn *conn, const char *signature);
/* The value of row, col; NULL for SQL NULL. */
extern const char *db_get(const PGresult *res, int row, int col);

#endif							/* UI_DB_H */
