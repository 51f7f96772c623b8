/*-------------------------------------------------------------------------
 * actions.c
 *	  POST /action/NAME: one call of a workflow function as the connected
 *	  role, with the form's values as parameters.  The redirect after a
 *	  success names the action (done=NAME) and what the function returned
 *	  (value=...), not a message: a link cannot make the UI say anything
 *	  but its own words.  main.c has already
 *	  refused a POST under --read-only, without the session token, or
 *	  from another origin.  Success redirects (303) to the page the action
 *	  came from with a message; the database's error is shown as it is,
 *	  with 403 for missing rights (42501), 404 for an unknown object and
 *	  409 otherwise.  reset_workflow is called only if the database has
 *	  it (to_regprocedure), else 501.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "ui.h"

typedef struct Action
{
	const char *name;
	const char *sql;
	const char *fields[3];		/* form fields, in parameter order */
	const char *subject;		/* the field that names the run, queue or schedule */
	const char *back;			/* the page to return to */
	const char *done;			/* the message after success */
	const char *needs;			/* a function the database must have, or NULL */
} Action;

static const Action actions[] = {
	{"signal", "SELECT workflow.signal_workflow($1, $2, $3::jsonb)", {"id", "signal", "payload"},
	"id", "/run?id=", "signal sent", NULL},
	{"cancel", "SELECT workflow.cancel_workflow($1, $2)", {"id", "reason", NULL},
	"id", "/run?id=", "cancellation requested", NULL},
	{"terminate", "SELECT workflow.terminate_workflow($1, $2)", {"id", "reason", NULL},
	"id", "/run?id=", "run terminated", NULL},
	{"reset", "SELECT workflow.reset_workflow($1, $2::bigint, $3)::text", {"id", "event_id", "reason"},
	"id", "/run?id=", "reset: a new run started", "workflow.reset_workflow(text,bigint,text)"},
	{"queue-pause", "SELECT workflow.configure_queue($1, '{\"paused\": true}')", {"queue", NULL, NULL},
	"queue", "/queues?q=", "queue paused", NULL},
	{"queue-resume", "SELECT workflow.configure_queue($1, '{\"paused\": false}')", {"queue", NULL, NULL},
	"queue", "/queues?q=", "queue resumed", NULL},
	{"schedule-pause", "SELECT workflow.pause_schedule($1, 'paused in workflow-ui')", {"schedule", NULL, NULL},
	"schedule", "/schedules?s=", "schedule paused", NULL},
	{"schedule-resume", "SELECT workflow.resume_schedule($1)", {"schedule", NULL, NULL},
	"schedule", "/schedules?s=", "schedule resumed", NULL},
	{"schedule-trigger", "SELECT workflow.trigger_schedule($1)", {"schedule", NULL, NULL},
	"schedule", "/schedules?s=", "schedule triggered: started", NULL},
	{NULL}
};

const char *
action_done_message(const char *name)
{
	const Action *a;

	for (a = actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a->done;
	return NULL;
}

/* An empty field is SQL NULL (a reason left blank, no payload). */
static const char *
field(Request *req, const char *name)
{
	const char *v = name ? form_get(&req->form, name) : NULL;

	return v && *v ? v : NULL;
}

static void
refuse(Request *req, Response *res, PGconn *conn, int status, const char *why)
{
	res->status = status;
	page_begin(req, res, conn, "Action refused", "");
	buf_raw(&res->body, "<h1>Action refused</h1><p class=\"refusal\">");
	buf_html(&res->body, why);
	buf_raw(&res->body, "</p>");
	page_end(res);
}

void
page_action(Request *req, Response *res, PGconn *conn)
{
	const char *name = req->path + strlen("/action/");
	const Action *a;
	const char *params[3];
	PGresult   *result;
	Buf			loc;
	int			i;

	for (a = actions; a->name && strcmp(a->name, name) != 0; a++)
		;
	if (a->name == NULL)
	{
		refuse(req, res, conn, 404, "No such action.");
		return;
	}
	if (field(req, a->subject) == NULL)
	{
		refuse(req, res, conn, 400, "The form names no run, queue or schedule.");
		return;
	}
	if (a->needs && !db_has_function(conn, a->needs))
	{
		refuse(req, res, conn, 501, "not available: this database has no workflow.reset_workflow() yet");
		return;
	}
	for (i = 0; i < 3; i++)
		params[i] = field(req, a->fields[i]);
	result = db_query(conn, a->sql, a->fields[2] ? 3 : a->fields[1] ? 2 : 1, params);
	if (!db_ok(result))
	{
		res->status = db_error_status(result);
		page_begin(req, res, conn, "Action failed", "");
		buf_printf(&res->body, "<h1>%s failed</h1>", a->name);
		db_error_html(&res->body, conn, result);
		buf_raw(&res->body, "<p><a href=\"");
		buf_html(&res->body, a->back);
		buf_url(&res->body, field(req, a->subject));
		buf_raw(&res->body, "\">Back</a></p>");
		PQclear(result);
		page_end(res);
		return;
	}
	buf_init(&loc);
	buf_put(&loc, a->back);
	buf_url(&loc, field(req, a->subject));
	buf_put(&loc, "&done=");
	buf_url(&loc, a->name);
	if (PQntuples(result) == 1 && db_get(result, 0, 0) && *db_get(result, 0, 0))
	{
		buf_put(&loc, "&value=");
		buf_url(&loc, db_get(result, 0, 0));
	}
	res->status = 303;
	res->location = buf_take(&loc);
	buf_put(&res->body, "done\n");
	res->content_type = "text/plain; charset=utf-8";
	PQclear(result);
}
