/*-------------------------------------------------------------------------
 * pages.c
 *	  The frame of every page, the runs list, queues and schedules.
 *
 *	  The runs list pages by keyset (created_at, workflow_id, run_id),
 *	  newest first, never by OFFSET, so that page 1000 costs what page 1
 *	  does: the indexes workflows_created_idx, workflows_status_created_idx
 *	  and workflows_owner_created_idx (sql/, "Seeing it") serve it without
 *	  a filter, with a status, and for a role under row-level security.  The
 *	  counts by status stop at COUNT_CAP per status, so that they too stay
 *	  cheap on a million runs.  Filters are parameters of one statement;
 *	  an unnamed statement is planned with their values, so the filters
 *	  left empty drop out of the plan.  Under row-level security (a role
 *	  without BYPASSRLS) only leakproof operators become index
 *	  conditions: the id prefix is starts_with() (leakproof, and turned
 *	  into a range of the primary key), not LIKE; a search attribute
 *	  (@>, not leakproof) is then a filter on the newest-first scan.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "ui.h"

#define PAGE_SIZE 50
#define COUNT_CAP 1000

static const char *const run_statuses[] = {
	"running", "queued", "compensating", "completed", "failed", "compensated",
	"cancelled", "terminated", "timed_out", "continued_as_new", NULL
};

void
form_token(Request *req, Buf *out)
{
	buf_raw(out, "<input type=\"hidden\" name=\"token\" value=\"");
	buf_html(out, req->token);
	buf_raw(out, "\">");
}

void
link_run(Buf *out, const char *workflow_id, const char *run_id, const char *text)
{
	buf_raw(out, "<a href=\"/run?id=");
	buf_url(out, workflow_id);		/* percent-encoded: nothing left to escape */
	if (run_id)
	{
		buf_raw(out, "&amp;run=");
		buf_url(out, run_id);
	}
	buf_raw(out, "\">");
	buf_html(out, text ? text : workflow_id);
	buf_raw(out, "</a>");
}

void
status_badge(Buf *out, const char *status, const char *id)
{
	buf_raw(out, "<span class=\"status st-");
	buf_html(out, status);
	if (id)
	{
		buf_raw(out, "\" id=\"");
		buf_html(out, id);
	}
	buf_raw(out, "\">");
	buf_html(out, status);
	buf_raw(out, "</span>");
}

void
page_begin(Request *req, Response *res, PGconn *conn, const char *title, const char *active)
{
	static const char *const nav[][2] = {
		{"/runs", "Runs"}, {"/queues", "Queues"}, {"/schedules", "Schedules"}
	};
	Buf		   *out = &res->body;
	PGresult   *who = db_query(conn, "SELECT current_user, pg_catalog.current_database()", 0, NULL);
	const char *done = req_arg(req, "done") ? action_done_message(req_arg(req, "done")) : NULL;
	const char *value = req_arg(req, "value");
	int			i;

	buf_raw(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width\"><title>");
	buf_html(out, title);
	buf_raw(out, " · workflow</title><link rel=\"stylesheet\" href=\"/static/app.css\">"
			"<script src=\"/static/app.js\" defer></script></head>\n<body>"
			"<header><nav><a class=\"brand\" href=\"/runs\">workflow</a>");
	for (i = 0; i < 3; i++)
		buf_printf(out, "<a href=\"%s\"%s>%s</a>", nav[i][0],
				   strcmp(nav[i][0], active) == 0 ? " class=\"active\"" : "", nav[i][1]);
	buf_raw(out, "<span class=\"who\">");
	if (db_ok(who) && PQntuples(who) == 1)
	{
		buf_raw(out, "connected as <b id=\"role\">");
		buf_html(out, PQgetvalue(who, 0, 0));
		buf_raw(out, "</b> to <b>");
		buf_html(out, PQgetvalue(who, 0, 1));
		buf_raw(out, "</b>");
	}
	if (req->read_only)
		buf_raw(out, " <span class=\"badge\" id=\"read-only\">read-only</span>");
	buf_raw(out, "</span></nav></header>\n<main>");
	PQclear(who);
	if (done)
	{
		buf_raw(out, "<div class=\"flash\" role=\"status\">");
		buf_html(out, done);
		if (value)
		{
			buf_raw(out, " <code>");
			buf_html(out, value);
			buf_raw(out, "</code>");
		}
		buf_raw(out, "</div>");
	}
}

void
page_end(Response *res)
{
	buf_raw(&res->body, "</main></body></html>\n");
}

/* A text input of the filter form, keeping its value. */
static void
filter_input(Request *req, Buf *out, const char *name, const char *label, const char *placeholder,
			 const char *list)
{
	buf_printf(out, "<label>%s <input name=\"%s\" placeholder=\"", label, name);
	buf_html(out, placeholder);
	buf_raw(out, "\" value=\"");
	buf_html(out, req_arg(req, name));
	buf_raw(out, "\"");
	if (list)
		buf_printf(out, " list=\"%s\"", list);
	buf_raw(out, "></label>");
}

/*
 * The roles whose runs row-level security lets this role see, as an oid[]
 * literal, or NULL when it does not apply (superuser, BYPASSRLS, the
 * table's owner).  The queries repeat it as "owner = ANY(...)": the same
 * rows as the policy, but a condition an index (workflows_owner_created_idx)
 * can serve, where pg_has_role() for each row cannot -- a role that owns
 * ten runs among a million would otherwise have every run read.
 */
static char *
visible_owners(PGconn *conn)
{
	PGresult   *res = db_query(conn,
							   "SELECT CASE WHEN pg_catalog.row_security_active('workflow.workflows') THEN"
							   " (SELECT COALESCE(pg_catalog.array_agg(r.oid), '{}')::text FROM pg_catalog.pg_roles r"
							   "   WHERE pg_catalog.pg_has_role(r.oid, 'MEMBER')) END",
							   0, NULL);
	char	   *owners = NULL;

	if (db_ok(res) && PQntuples(res) == 1 && db_get(res, 0, 0))
		owners = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return owners;
}

/*
 * The runs of each status, counted up to COUNT_CAP + 1.  One subquery per
 * status, each with the status as a constant, so that each is planned on
 * workflows_status_created_idx (a status from a join would be planned
 * once, for all, as a scan of the table).  The SQL is built from
 * run_statuses, never from a request.
 */
static void
runs_counts(Request *req, Buf *out, PGconn *conn, const char *owners)
{
	char		cap[16];
	const char *params[2] = {cap, owners};
	const char *sel = req_arg(req, "status");
	PGresult   *res;
	Buf			sql;
	int			i;

	buf_init(&sql);
	for (i = 0; run_statuses[i]; i++)
		buf_printf(&sql, "%s(SELECT pg_catalog.count(*) FROM (SELECT 1 FROM workflow.workflows w"
				   " WHERE w.status = '%s' AND ($2::oid[] IS NULL OR w.owner::oid = ANY($2::oid[]))"
				   " LIMIT $1::integer) c)",
				   i == 0 ? "SELECT " : ", ", run_statuses[i]);
	snprintf(cap, sizeof(cap), "%d", COUNT_CAP + 1);
	res = db_query(conn, sql.data, 2, params);
	buf_free(&sql);
	if (!db_ok(res))
	{
		db_error_html(out, conn, res);
		PQclear(res);
		return;
	}
	buf_raw(out, "<ul class=\"counts\" id=\"counts\">");
	buf_printf(out, "<li><a href=\"/runs\"%s>all</a></li>", sel ? "" : " class=\"active\"");
	for (i = 0; run_statuses[i]; i++)
	{
		long		n = atol(PQgetvalue(res, 0, i));

		buf_printf(out, "<li><a href=\"/runs?status=%s\" class=\"st-%s%s\">%s",
				   run_statuses[i], run_statuses[i],
				   sel && strcmp(sel, run_statuses[i]) == 0 ? " active" : "", run_statuses[i]);
		if (n > COUNT_CAP)
			buf_printf(out, " <b>%d+</b></a></li>", COUNT_CAP);
		else
			buf_printf(out, " <b>%ld</b></a></li>", n);
	}
	buf_raw(out, "</ul>\n");
	PQclear(res);
}

static void
runs_filters(Request *req, Buf *out, PGconn *conn)
{
	PGresult   *types = db_query(conn, "SELECT workflow_type FROM workflow.workflow_types ORDER BY 1",
								 0, NULL);
	const char *sel = req_arg(req, "status");
	int			i;

	buf_raw(out, "<form class=\"filters\" method=\"get\" action=\"/runs\"><label>status <select name=\"status\">"
			"<option value=\"\">any</option>");
	for (i = 0; run_statuses[i]; i++)
		buf_printf(out, "<option%s>%s</option>",
				   sel && strcmp(sel, run_statuses[i]) == 0 ? " selected" : "", run_statuses[i]);
	buf_raw(out, "</select></label>");
	filter_input(req, out, "type", "type", "any type", "types");
	filter_input(req, out, "id", "id prefix", "order-", NULL);
	filter_input(req, out, "attr", "search attribute", "key=value or {\"key\": 1}", NULL);
	filter_input(req, out, "from", "created from", "2026-12-01 00:00", NULL);
	filter_input(req, out, "to", "to", "now", NULL);
	buf_raw(out, "<button>Filter</button></form><datalist id=\"types\">");
	for (i = 0; db_ok(types) && i < PQntuples(types); i++)
	{
		buf_raw(out, "<option value=\"");
		buf_html(out, PQgetvalue(types, i, 0));
		buf_raw(out, "\">");
	}
	buf_raw(out, "</datalist>\n");
	PQclear(types);
}

/* The link to the next page: the filters, and the last row as the key. */
static void
runs_next_link(Request *req, Buf *out, const char *t, const char *id, const char *run)
{
	static const char *const keep[] = {"status", "type", "id", "attr", "from", "to", NULL};
	int			i;

	buf_raw(out, "<p class=\"paging\"><a id=\"next-page\" href=\"/runs?");
	for (i = 0; keep[i]; i++)
	{
		if (req_arg(req, keep[i]) == NULL)
			continue;
		buf_printf(out, "%s=", keep[i]);
		buf_url(out, req_arg(req, keep[i]));
		buf_raw(out, "&amp;");
	}
	buf_raw(out, "after_t=");
	buf_url(out, t);
	buf_raw(out, "&amp;after_id=");
	buf_url(out, id);
	buf_raw(out, "&amp;after_run=");
	buf_url(out, run);
	buf_raw(out, "\">Older runs →</a></p>");
}

void
page_runs(Request *req, Response *res, PGconn *conn)
{
	Buf		   *out = &res->body;
	const char *attr = req_arg(req, "attr");
	char	   *attr_key = NULL;
	const char *attr_value = NULL;
	const char *attr_json = NULL;
	const char *params[13];
	char	   *owners = visible_owners(conn);
	char		limit[16];
	PGresult   *rows;
	int			i,
				n;

	/* key=value matches a string value; a JSON object is matched as it is. */
	if (attr && attr[0] == '{')
		attr_json = attr;
	else if (attr)
	{
		const char *eq = strchr(attr, '=');

		attr_key = strndup(attr, eq ? (size_t) (eq - attr) : strlen(attr));
		attr_value = eq ? eq + 1 : "";
	}
	snprintf(limit, sizeof(limit), "%d", PAGE_SIZE + 1);
	params[0] = req_arg(req, "status");
	params[1] = req_arg(req, "type");
	params[2] = req_arg(req, "id");
	params[3] = attr_json;
	params[4] = attr_key;
	params[5] = attr_value;
	params[6] = req_arg(req, "from");
	params[7] = req_arg(req, "to");
	params[8] = req_arg(req, "after_t");
	params[9] = req_arg(req, "after_t") ? req_arg(req, "after_id") : NULL;
	params[10] = req_arg(req, "after_t") ? req_arg(req, "after_run") : NULL;
	params[11] = limit;
	params[12] = owners;

	page_begin(req, res, conn, "Runs", "/runs");
	buf_raw(out, "<h1>Runs</h1>");
	runs_counts(req, out, conn, owners);
	runs_filters(req, out, conn);

	rows = db_query(conn,
					"SELECT w.workflow_id, w.run_id, w.workflow_type, w.status,"
					"       pg_catalog.to_char(w.created_at, 'YYYY-MM-DD HH24:MI:SS'),"
					"       pg_catalog.to_char(w.closed_at, 'YYYY-MM-DD HH24:MI:SS'),"
					"       w.owner::text, NULLIF(w.search_attributes, '{}')::text, w.created_at::text"
					"  FROM workflow.workflows w"
					" WHERE ($1::text IS NULL OR w.status = $1)"
					"   AND ($2::text IS NULL OR w.workflow_type = $2)"
					"   AND ($3::text IS NULL OR pg_catalog.starts_with(w.workflow_id, $3))"
					"   AND ($4::jsonb IS NULL OR (w.search_attributes @> $4 AND w.search_attributes <> '{}'))"
					"   AND ($5::text IS NULL OR (w.search_attributes @> pg_catalog.jsonb_build_object($5, $6::text)"
					"                             AND w.search_attributes <> '{}'))"
					"   AND ($7::timestamptz IS NULL OR w.created_at >= $7)"
					"   AND ($8::timestamptz IS NULL OR w.created_at < $8)"
					"   AND ($9::timestamptz IS NULL OR (w.created_at, w.workflow_id, w.run_id) < ($9, $10::text, $11::uuid))"
					"   AND ($13::oid[] IS NULL OR w.owner::oid = ANY($13::oid[]))"
					" ORDER BY w.created_at DESC, w.workflow_id DESC, w.run_id DESC"
					" LIMIT $12::integer",
					13, params);
	if (!db_ok(rows))
		db_error_html(out, conn, rows);
	else
	{
		n = PQntuples(rows);
		buf_raw(out, "<table class=\"runs\" id=\"runs\"><thead><tr><th>workflow_id</th><th>type</th>"
				"<th>status</th><th>created (UTC)</th><th>closed</th><th>owner</th>"
				"<th>search attributes</th></tr></thead><tbody>");
		for (i = 0; i < n && i < PAGE_SIZE; i++)
		{
			buf_raw(out, "<tr><td>");
			link_run(out, PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1), NULL);
			buf_raw(out, "</td><td>");
			buf_html(out, PQgetvalue(rows, i, 2));
			buf_raw(out, "</td><td>");
			status_badge(out, PQgetvalue(rows, i, 3), NULL);
			buf_raw(out, "</td><td>");
			buf_html(out, PQgetvalue(rows, i, 4));
			buf_raw(out, "</td><td>");
			buf_html(out, db_get(rows, i, 5));
			buf_raw(out, "</td><td>");
			buf_html(out, PQgetvalue(rows, i, 6));
			buf_raw(out, "</td><td><code>");
			buf_html(out, db_get(rows, i, 7));
			buf_raw(out, "</code></td></tr>\n");
		}
		buf_raw(out, "</tbody></table>");
		if (n == 0)
			buf_raw(out, "<p class=\"empty\">No runs match (or none that this role may see).</p>");
		if (n > PAGE_SIZE)
			runs_next_link(req, out, PQgetvalue(rows, PAGE_SIZE - 1, 8),
						   PQgetvalue(rows, PAGE_SIZE - 1, 0), PQgetvalue(rows, PAGE_SIZE - 1, 1));
	}
	PQclear(rows);
	free(attr_key);
	free(owners);
	page_end(res);
}

/* A small POST form with one button (and the token). */
static void
action_button(Request *req, Buf *out, const char *action, const char *field, const char *value,
			  const char *label)
{
	buf_printf(out, "<form method=\"post\" class=\"inline\" action=\"/action/%s\">", action);
	form_token(req, out);
	buf_printf(out, "<input type=\"hidden\" name=\"%s\" value=\"", field);
	buf_html(out, value);
	buf_printf(out, "\"><button data-action=\"%s\">%s</button></form>", action, label);
}

void
page_queues(Request *req, Response *res, PGconn *conn)
{
	Buf		   *out = &res->body;
	PGresult   *rows;
	int			i;

	page_begin(req, res, conn, "Queues", "/queues");
	buf_raw(out, "<h1>Queues</h1><p class=\"note\">Tasks of every role's runs, counted: "
			"the view <code>workflow.queues</code> is for <code>pg_monitor</code> "
			"and whom it is granted to. Pause and resume call "
			"<code>workflow.configure_queue</code>.</p>");
	rows = db_query(conn,
					"SELECT q.queue, q.options::text, q.ready, q.in_flight, q.backing_off,"
					"       pg_catalog.to_char(q.oldest_ready_at, 'YYYY-MM-DD HH24:MI:SS'),"
					"       pg_catalog.date_trunc('second', pg_catalog.now() - q.oldest_ready_at)::text,"
					"       q.claimed_last_minute, COALESCE((q.options->>'paused')::boolean, false)"
					"  FROM workflow.queues q ORDER BY q.queue",
					0, NULL);
	if (!db_ok(rows))
		db_error_html(out, conn, rows);
	else
	{
		buf_raw(out, "<table id=\"queues\"><thead><tr><th>queue</th><th>ready</th><th>in flight</th>"
				"<th>backing off</th><th>oldest ready</th><th>age</th><th>claims / min</th>"
				"<th>limits</th><th></th></tr></thead><tbody>");
		for (i = 0; i < PQntuples(rows); i++)
		{
			bool		paused = strcmp(PQgetvalue(rows, i, 8), "t") == 0;

			buf_raw(out, "<tr data-queue=\"");
			buf_html(out, PQgetvalue(rows, i, 0));
			buf_raw(out, "\"><td>");
			buf_html(out, PQgetvalue(rows, i, 0));
			if (paused)
				buf_raw(out, " <span class=\"badge paused\">paused</span>");
			buf_raw(out, "</td><td class=\"num\">");
			buf_html(out, PQgetvalue(rows, i, 2));
			buf_raw(out, "</td><td class=\"num\">");
			buf_html(out, PQgetvalue(rows, i, 3));
			buf_raw(out, "</td><td class=\"num\">");
			buf_html(out, PQgetvalue(rows, i, 4));
			buf_raw(out, "</td><td>");
			buf_html(out, db_get(rows, i, 5));
			buf_raw(out, "</td><td>");
			buf_html(out, db_get(rows, i, 6));
			buf_raw(out, "</td><td class=\"num\">");
			buf_html(out, db_get(rows, i, 7) ? db_get(rows, i, 7) : "–");
			buf_raw(out, "</td><td><code>");
			buf_html(out, PQgetvalue(rows, i, 1));
			buf_raw(out, "</code></td><td>");
			if (!req->read_only)
				action_button(req, out, paused ? "queue-resume" : "queue-pause", "queue",
							  PQgetvalue(rows, i, 0), paused ? "Resume" : "Pause");
			buf_raw(out, "</td></tr>\n");
		}
		buf_raw(out, "</tbody></table>");
		if (PQntuples(rows) == 0)
			buf_raw(out, "<p class=\"empty\">No queue has tasks or limits.</p>");
	}
	PQclear(rows);
	page_end(res);
}

void
page_schedules(Request *req, Response *res, PGconn *conn)
{
	Buf		   *out = &res->body;
	PGresult   *rows;
	int			i;

	page_begin(req, res, conn, "Schedules", "/schedules");
	buf_raw(out, "<h1>Schedules</h1>");
	rows = db_query(conn,
					"SELECT s.schedule_id, s.spec, s.workflow_type, s.paused, s.note,"
					"       pg_catalog.to_char(s.next_fire_at, 'YYYY-MM-DD HH24:MI:SS'),"
					"       CASE WHEN s.next_fire_at IS NOT NULL THEN"
					"         (SELECT pg_catalog.concat_ws(', ', pg_catalog.to_char(n.f, 'YYYY-MM-DD HH24:MI:SS'),"
					"                 pg_catalog.to_char(workflow.schedule_next_fire(s.spec, n.tz, n.f),"
					"                                    'YYYY-MM-DD HH24:MI:SS'))"
					"            FROM (SELECT t.tz, workflow.schedule_next_fire(s.spec, t.tz, s.next_fire_at) AS f"
					"                    FROM (SELECT COALESCE(s.options->>'timezone', 'UTC') AS tz) t) n) END,"
"       pg_catalog.to_char(s.last_fire_at, 'YYYY-MM-DD HH24:MI:SS'), s.last_workflow_id,"
					"       s.missed, s.owner::text, s.options::text"
					"  FROM workflow.schedules s ORDER BY s.schedule_id",
					0, NULL);
	if (!db_ok(rows))
		db_error_html(out, conn, rows);
	else
	{
		buf_raw(out, "<table id=\"schedules\"><thead><tr><th>schedule</th><th>spec</th><th>type</th>"
				"<th>next fire (UTC)</th><th>then</th><th>last fire</th><th>last run</th>"
				"<th>missed</th><th>owner</th><th></th></tr></thead><tbody>");
		for (i = 0; i < PQntuples(rows); i++)
		{
			bool		paused = strcmp(PQgetvalue(rows, i, 3), "t") == 0;
			const char *id = PQgetvalue(rows, i, 0);

			buf_raw(out, "<tr data-schedule=\"");
			buf_html(out, id);
			buf_raw(out, "\"><td>");
			buf_html(out, id);
			if (paused)
			{
				buf_raw(out, " <span class=\"badge paused\" title=\"");
				buf_html(out, db_get(rows, i, 4));
				buf_raw(out, "\">paused</span>");
			}
			buf_raw(out, "</td><td><code>");
			buf_html(out, PQgetvalue(rows, i, 1));
			buf_raw(out, "</code></td><td>");
			buf_html(out, PQgetvalue(rows, i, 2));
			buf_raw(out, "</td><td>");
			buf_html(out, db_get(rows, i, 5));
			buf_raw(out, "</td><td>");
			buf_html(out, paused ? NULL : db_get(rows, i, 6));
			buf_raw(out, "</td><td>");
			buf_html(out, db_get(rows, i, 7));
			buf_raw(out, "</td><td>");
			if (db_get(rows, i, 8))
				link_run(out, db_get(rows, i, 8), NULL, NULL);
			buf_raw(out, "</td><td class=\"num\">");
			buf_html(out, PQgetvalue(rows, i, 9));
			buf_raw(out, "</td><td>");
			buf_html(out, PQgetvalue(rows, i, 10));
			buf_raw(out, "</td><td>");
			if (!req->read_only)
			{
				action_button(req, out, paused ? "schedule-resume" : "schedule-pause", "schedule", id,
							  paused ? "Resume" : "Pause");
				action_button(req, out, "schedule-trigger", "schedule", id, "Trigger now");
			}
			buf_raw(out, "</td></tr>\n");
		}
		buf_raw(out, "</tbody></table>");
		if (PQntuples(rows) == 0)
			buf_raw(out, "<p class=\"empty\">No schedules (that this role may see).</p>");
	}
	PQclear(rows);
	page_end(res);
}
