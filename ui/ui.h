/*-------------------------------------------------------------------------
 * ui.h
 *	  workflow-ui: a request, a response, and the pages.  main.c owns the
 *	  HTTP server (libmicrohttpd, a thread per connection), the session
 *	  tokens and the checks every request passes; pages.c, run.c and
 *	  actions.c write pages and perform actions on a connection borrowed
 *	  from db.c, as the connecting role.
 *-------------------------------------------------------------------------
 */
#ifndef UI_UI_H
#define UI_UI_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "buf.h"

/* The extension version this UI was built with (workflow.control). */
#define UI_VERSION "0.2"

struct MHD_Connection;

typedef struct Request
{
	struct MHD_Connection *mhd;
	const char *method;
	const char *path;
	Form		form;			/* a POST's fields */
	const char *token;			/* the session's token, for forms */
	bool		read_only;
} Request;

typedef struct Response
{
	int			status;
	Buf			body;
	const char *content_type;
	char	   *location;		/* a redirect's target (malloc'd) */
} Response;

/* A GET argument; NULL when absent or empty. */
extern const char *req_arg(Request *req, const char *name);

/* The frame of every page: head, navigation, the role, flash message. */
extern void page_begin(Request *req, Response *res, PGconn *conn, const char *title,
					   const char *active);
extern void page_end(Response *res);
/* A hidden field with the session token: every form has one. */
extern void form_token(Request *req, Buf *out);
/* A link to a run's page. */
extern void link_run(Buf *out, const char *workflow_id, const char *run_id, const char *text);
/* A run status as a coloured badge (id: an element id, or NULL). */
extern void status_badge(Buf *out, const char *status, const char *id);

extern void page_runs(Request *req, Response *res, PGconn *conn);
extern void page_run(Request *req, Response *res, PGconn *conn);
extern void page_queues(Request *req, Response *res, PGconn *conn);
extern void page_schedules(Request *req, Response *res, PGconn *conn);
extern void page_action(Request *req, Response *res, PGconn *conn);
/* What a page says after action NAME succeeded (NULL: no such action). */
extern const char *action_done_message(const char *name);

#endif							/* UI_UI_H */
