/*-------------------------------------------------------------------------
 * run.c
 *	  One run's page: its summary, the runs of its workflow_id (a
 *	  continue-as-new chain, resets), parent and children, the timeline as
 *	  an SVG Gantt chart (workflow.timeline()), pending work
 *	  (workflow.describe(), when the database has it), the history,
 *	  published state, input/result/error and the actions.
 *
 *	  The chart has one lane per activity, compensation, timer, signal
 *	  wait and child (by seq), one rect per attempt; the lanes of a saga's
 *	  declared steps that never ran are drawn empty ("not reached").  The
 *	  part that changes while the run is open is in <div id="live">, which
 *	  app.js reloads every 2 seconds until the run closes.
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "ui.h"

#define LABEL_W 300
#define CHART_W 840
#define LANE_H 26
#define AXIS_H 34
#define MAX_LANES 400
#define HISTORY_ROWS 5000
#define UI_STR(x) UI_STR_(x)
#define UI_STR_(x) #x

typedef struct Lane
{
	const char *kind;
	const char *name;
	const char *seq;
	const char *compensates;
	int			first_row;
	int			nspans;
} Lane;

/* Columns of the timeline query. */
enum
{
	T_SEQ, T_KIND, T_NAME, T_ATTEMPT, T_OUTCOME, T_DETAIL, T_START, T_END, T_START_TXT,
	T_END_TXT, T_NOW, T_COMPENSATES
};

static const char *
nz(const char *s)
{
	return s ? s : "";
}

static bool
same(const char *a, const char *b)
{
	return strcmp(nz(a), nz(b)) == 0;
}

/* A tick step of 1, 2 or 5 times a power of ten (or minutes, hours) for ~6 ticks. */
static double
tick_step(double range)
{
	static const double steps[] = {
		0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30,
		60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400
	};
	int			i;

	for (i = 0; i < (int) (sizeof(steps) / sizeof(steps[0])); i++)
		if (range / steps[i] <= 7)
			return steps[i];
	return ceil(range / 7 / 86400) * 86400;
}

static void
tick_label(Buf *out, double offset, double step)
{
	if (step < 1)
		buf_printf(out, "+%.0f ms", offset * 1000);
	else if (step < 60)
		buf_printf(out, "+%.0f s", offset);
	else if (step < 3600)
		buf_printf(out, "+%.0f min", offset / 60);
	else if (step < 86400)
		buf_printf(out, "+%.0f h", offset / 3600);
	else
		buf_printf(out, "+%.0f d", offset / 86400);
}

/* Which lane does row i go into?  A new one at its first appearance. */
static int
lane_of(PGresult *t, int i, Lane *lanes, int *nlanes)
{
	const char *kind = PQgetvalue(t, i, T_KIND);
	const char *name = PQgetvalue(t, i, T_NAME);
	const char *seq = db_get(t, i, T_SEQ);
	int			l;

	for (l = 0; l < *nlanes; l++)
	{
		/* Workflow task failures share one lane; the others go by seq. */
		if (same(lanes[l].kind, kind) &&
			(strcmp(kind, "task_failure") == 0 ||
			 (same(lanes[l].seq, seq) && same(lanes[l].name, name))))
			return l;
	}
	if (*nlanes >= MAX_LANES)
		return -1;
	lanes[*nlanes].kind = kind;
	lanes[*nlanes].name = strcmp(kind, "task_failure") == 0 ? "workflow task" : name;
	lanes[*nlanes].seq = seq;
	lanes[*nlanes].compensates = db_get(t, i, T_COMPENSATES);
	lanes[*nlanes].first_row = i;
	lanes[*nlanes].nspans = 0;
	return (*nlanes)++;
}

static void
lane_label(Buf *out, const Lane *lane, int y, bool reached)
{
	static const struct
	{
		const char *kind;
		const char *icon;
	}			icons[] = {
		{"run", "▶"}, {"activity", "●"}, {"compensation", "↩"}, {"timer", "◔"},
		{"signal", "✉"}, {"child", "⤷"}, {"task_failure", "⚠"}
	};
	const char *icon = "";
	int			i;

	for (i = 0; i < 7; i++)
		if (strcmp(icons[i].kind, lane->kind) == 0)
			icon = icons[i].icon;
	buf_printf(out, "<text class=\"lane-label\" x=\"6\" y=\"%d\">%s ", y + 17, icon);
	buf_html(out, lane->name);
	if (lane->compensates)
	{
		buf_raw(out, "<tspan class=\"undoes\"> undoes ");
		buf_html(out, lane->compensates);
		buf_raw(out, "</tspan>");
	}
	else if (strcmp(lane->kind, "timer") == 0 || strcmp(lane->kind, "signal") == 0 ||
			 strcmp(lane->kind, "child") == 0)
	{
		buf_raw(out, "<tspan class=\"undoes\"> ");
		buf_html(out, lane->kind);
		buf_raw(out, "</tspan>");
	}
	if (!reached)
		buf_raw(out, "<tspan class=\"undoes\"> (not reached)</tspan>");
	buf_raw(out, "</text>");
}

/* The hover text of a span: what, when, how long, its detail. */
static void
span_title(Buf *out, PGresult *t, int i)
{
	double		start = atof(PQgetvalue(t, i, T_START));
	double		end = db_get(t, i, T_END) ? atof(PQgetvalue(t, i, T_END)) : atof(PQgetvalue(t, i, T_NOW));

	buf_raw(out, "<title>");
	buf_html(out, PQgetvalue(t, i, T_KIND));
	buf_raw(out, " ");
	buf_html(out, PQgetvalue(t, i, T_NAME));
	if (db_get(t, i, T_ATTEMPT))
	{
		buf_raw(out, ", attempt ");
		buf_html(out, PQgetvalue(t, i, T_ATTEMPT));
	}
	buf_raw(out, ": ");
	buf_html(out, db_get(t, i, T_OUTCOME) ? PQgetvalue(t, i, T_OUTCOME) : "open");
	buf_raw(out, "\n");
	buf_html(out, PQgetvalue(t, i, T_START_TXT));
	buf_raw(out, " → ");
	buf_html(out, db_get(t, i, T_END) ? PQgetvalue(t, i, T_END_TXT) : "now");
	buf_printf(out, " (%.3f s)\n", end - start);
	buf_html(out, PQgetvalue(t, i, T_DETAIL));
	buf_raw(out, "</title>");
}

static void
draw_span(Buf *out, PGresult *t, int i, int y, double t0, double scale, double now)
{
	double		start = atof(PQgetvalue(t, i, T_START));
	double		end = db_get(t, i, T_END) ? atof(PQgetvalue(t, i, T_END)) : now;
	double		x = LABEL_W + (start - t0) * scale;
	double		w = fmax((end - start) * scale, 3);
	const char *outcome = db_get(t, i, T_OUTCOME) ? PQgetvalue(t, i, T_OUTCOME) : "open";

	buf_raw(out, "<g class=\"span k-");
	buf_html(out, PQgetvalue(t, i, T_KIND));
	buf_raw(out, " o-");
	buf_html(out, outcome);
	buf_raw(out, "\" data-kind=\"");
	buf_html(out, PQgetvalue(t, i, T_KIND));
	buf_raw(out, "\" data-name=\"");
	buf_html(out, PQgetvalue(t, i, T_NAME));
	buf_raw(out, "\" data-attempt=\"");
	buf_html(out, db_get(t, i, T_ATTEMPT));
	buf_raw(out, "\" data-outcome=\"");
	buf_html(out, outcome);
	buf_printf(out, "\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"3\"></rect>",
			   x, y + 5, w, LANE_H - 10);
	span_title(out, t, i);
	if (db_get(t, i, T_ATTEMPT) && atoi(PQgetvalue(t, i, T_ATTEMPT)) > 1)
	{
		buf_printf(out, "<text class=\"attempt\" x=\"%.1f\" y=\"%d\">#", x + w + 2, y + 4);
		buf_html(out, PQgetvalue(t, i, T_ATTEMPT));
		buf_raw(out, "</text>");
	}
	buf_raw(out, "</g>");
}

/* A dashed line for the backoff between two attempts of one lane. */
static void
draw_backoff(Buf *out, PGresult *t, int prev, int next, int y, double t0, double scale)
{
	double		x1,
				x2;

	if (!db_get(t, prev, T_END))
		return;
	x1 = LABEL_W + (atof(PQgetvalue(t, prev, T_END)) - t0) * scale;
	x2 = LABEL_W + (atof(PQgetvalue(t, next, T_START)) - t0) * scale;
	if (x2 - x1 < 2)
		return;
	buf_printf(out, "<line class=\"backoff\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\">"
			   "<title>backoff before attempt ", x1, y + LANE_H / 2, x2, y + LANE_H / 2);
	buf_html(out, PQgetvalue(t, next, T_ATTEMPT));
	buf_raw(out, "</title></line>");
}

static void
draw_axis(Buf *out, double t0, double range, double scale, int height, const char *t0_text)
{
	double		step = tick_step(range);
	double		off;

	buf_printf(out, "<text class=\"axis-origin\" x=\"6\" y=\"20\">0 = ");
	buf_html(out, t0_text);
	buf_raw(out, " UTC</text>");
	for (off = 0; off <= range + 1e-9; off += step)
	{
		double		x = LABEL_W + off * scale;

		buf_printf(out, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"></line>"
				   "<text class=\"tick-label\" x=\"%.1f\" y=\"20\">", x, AXIS_H - 6, x, height, x + 2);
		tick_label(out, off, step);
		buf_raw(out, "</text>");
	}
}

/*
 * The chart.  t holds the run's spans in workflow.timeline()'s order;
 * steps the declared activities of a saga type (or none).
 */
static void
draw_timeline(Buf *out, PGresult *t, PGresult *steps)
{
	Lane	   *lanes = calloc(MAX_LANES, sizeof(Lane));
	int		   *lane_rows = calloc((size_t) PQntuples(t) + 1, sizeof(int));
	int			nlanes = 0,
				nreached,
				i,
				l,
				height;
	double		t0 = INFINITY,
				t1 = -INFINITY,
				now,
				scale;

	if (PQntuples(t) == 0)
	{
		buf_raw(out, "<p class=\"empty\">No spans yet.</p>");
		free(lanes);
		free(lane_rows);
		return;
	}
	now = atof(PQgetvalue(t, 0, T_NOW));
	for (i = 0; i < PQntuples(t); i++)
	{
		double		s = atof(PQgetvalue(t, i, T_START));
		double		e = db_get(t, i, T_END) ? atof(PQgetvalue(t, i, T_END)) : now;

		t0 = fmin(t0, s);
		t1 = fmax(t1, fmax(s, e));
		lane_rows[i] = lane_of(t, i, lanes, &nlanes);
		if (lane_rows[i] >= 0)
			lanes[lane_rows[i]].nspans++;
	}
	nreached = nlanes;
	/* A saga's steps that never ran: their lanes, empty. */
	for (i = 0; steps && i < PQntuples(steps) && nlanes < MAX_LANES; i++)
	{
		bool		found = false;

		for (l = 0; l < nreached && !found; l++)
			found = strcmp(lanes[l].kind, "activity") == 0 &&
				strcmp(lanes[l].name, PQgetvalue(steps, i, 0)) == 0;
		if (found)
			continue;
		lanes[nlanes].kind = "activity";
		lanes[nlanes].name = PQgetvalue(steps, i, 0);
		lanes[nlanes].seq = NULL;
		lanes[nlanes].compensates = NULL;
		nlanes++;
	}
	if (t1 - t0 < 0.001)
		t1 = t0 + 0.001;
	scale = CHART_W / (t1 - t0);
	height = AXIS_H + nlanes * LANE_H + 8;

	buf_printf(out, "<svg id=\"timeline\" class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
			   "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
			   "aria-label=\"timeline of the run\">",
			   LABEL_W + CHART_W + 40, height, LABEL_W + CHART_W + 40, height);
	buf_raw(out, "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
			"patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" class=\"hatch-bg\"></rect>"
			"<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" class=\"hatch-line\"></line></pattern></defs>");
	draw_axis(out, t0, t1 - t0, scale, height, PQgetvalue(t, 0, T_START_TXT));
	for (l = 0; l < nlanes; l++)
	{
		int			y = AXIS_H + l * LANE_H;
		int			prev = -1;

		buf_raw(out, "<g class=\"lane lane-");
		buf_html(out, lanes[l].kind);
		buf_raw(out, l >= nreached ? " not-reached" : "");
		buf_raw(out, "\" data-kind=\"");
		buf_html(out, lanes[l].kind);
		buf_raw(out, "\" data-lane=\"");
		buf_html(out, lanes[l].name);
		buf_printf(out, "\" data-spans=\"%d\">", lanes[l].nspans);
		buf_printf(out, "<rect class=\"lane-bg\" x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\"></rect>",
				   y, LABEL_W + CHART_W + 40, LANE_H);
		lane_label(out, &lanes[l], y, l < nreached);
		for (i = 0; l < nreached && i < PQntuples(t); i++)
		{
			if (lane_rows[i] != l)
				continue;
			if (prev >= 0)
				draw_backoff(out, t, prev, i, y, t0, scale);
			draw_span(out, t, i, y, t0, scale, now);
			prev = i;
		}
		buf_raw(out, "</g>");
	}
	buf_raw(out, "</svg>\n<p class=\"legend\"><span class=\"lg o-completed\">completed</span> "
			"<span class=\"lg o-failed\">failed</span> <span class=\"lg o-timed_out\">timed out</span> "
			"<span class=\"lg o-cancelled\">cancelled</span> <span class=\"lg o-open\">open</span> "
			"<span class=\"lg k-compensation\">compensation</span> "
			"<span class=\"lg backoff\">backoff</span> · hover a bar for its details</p>\n");
	free(lanes);
	free(lane_rows);
}

static PGresult *
timeline_rows(PGconn *conn, const char *id, const char *run_id)
{
	const char *params[2] = {id, run_id};

	return db_query(conn,
					"SELECT t.seq, t.kind, t.name, t.attempt, t.outcome, t.detail::text,"
					"       EXTRACT(epoch FROM t.started_at), EXTRACT(epoch FROM t.ended_at),"
					"       pg_catalog.to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'),"
					"       pg_catalog.to_char(t.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'),"
					"       EXTRACT(epoch FROM pg_catalog.clock_timestamp()), t.detail->>'compensates'"
					"  FROM workflow.timeline($1) WITH ORDINALITY"
					"       AS t(run_id, seq, kind, name, attempt, started_at, ended_at, outcome, detail, n)"
					" WHERE t.run_id = $2::uuid ORDER BY t.n",
					2, params);
}

static void
section_timeline(Buf *out, PGconn *conn, const char *id, const char *run_id, const char *type)
{
	PGresult   *t = timeline_rows(conn, id, run_id);
	const char *params[1] = {type};
	PGresult   *steps = db_query(conn,
								 "SELECT s.step->>'activity' FROM workflow.workflow_types wt,"
								 "       pg_catalog.jsonb_array_elements(wt.steps) WITH ORDINALITY s(step, n)"
								 " WHERE wt.workflow_type = $1 AND wt.steps IS NOT NULL ORDER BY s.n",
								 1, params);

	buf_raw(out, "<section><h2>Timeline</h2>");
	if (!db_ok(t))
		db_error_html(out, conn, t);
	else
		draw_timeline(out, t, db_ok(steps) ? steps : NULL);
	buf_raw(out, "</section>\n");
	PQclear(t);
	PQclear(steps);
}

/* The rows of describe()'s waiting_on, one per thing the run waits on. */
static void
pending_table(Buf *out, PGconn *conn, const char *described)
{
	const char *params[1] = {described};
	PGresult   *res = db_query(conn,
							   "SELECT w->>'kind',"
							   "       COALESCE(w->>'activity', w->>'signal', w->>'workflow_id', ''),"
							   "       COALESCE(w->>'state', ''), COALESCE(w->>'queue', ''),"
							   "       COALESCE(w->>'attempt', ''), COALESCE(w->>'worker', ''),"
							   "       COALESCE(w->>'next_attempt_at', w->>'fire_at', w->>'lease_expires_at',"
							   "                w->>'ready_since', w->>'due_at', ''),"
							   "       COALESCE(w->'last_error'->>'error', w->'last_error'->>'message', '')"
							   "  FROM pg_catalog.jsonb_array_elements($1::jsonb->'waiting_on') w",
							   1, params);
	static const char *const heads[] = {"waits on", "name", "state", "queue", "attempt",
	"worker", "when", "last error"};
	int			i,
				col;

	if (!db_ok(res))
	{
		db_error_html(out, conn, res);
		PQclear(res);
		return;
	}
	if (PQntuples(res) == 0)
	{
		buf_raw(out, "<p class=\"empty\" id=\"waiting-on\">Waiting on nothing.</p>");
		PQclear(res);
		return;
	}
	buf_raw(out, "<table class=\"history\" id=\"waiting-on\"><thead><tr>");
	for (col = 0; col < 8; col++)
	{
		buf_raw(out, "<th>");
		buf_html(out, heads[col]);
		buf_raw(out, "</th>");
	}
	buf_raw(out, "</tr></thead><tbody>");
	for (i = 0; i < PQntuples(res); i++)
	{
		buf_raw(out, "<tr data-kind=\"");
		buf_html(out, PQgetvalue(res, i, 0));
		buf_raw(out, "\">");
		for (col = 0; col < 8; col++)
		{
			buf_raw(out, "<td>");
			buf_html(out, PQgetvalue(res, i, col));
			buf_raw(out, "</td>");
		}
		buf_raw(out, "</tr>\n");
	}
	buf_raw(out, "</tbody></table>");
	PQclear(res);
}

static void
section_pending(Buf *out, PGconn *conn, const char *id, bool open)
{
	const char *params[1] = {id};
	PGresult   *res;

	buf_raw(out, "<section><h2>Pending work</h2>");
	if (!db_has_function(conn, "workflow.describe(text)"))
		buf_raw(out, "<p class=\"unavailable\" id=\"describe-unavailable\">not available: this "
				"database has no <code>workflow.describe()</code> yet. Open spans are the bars "
				"marked open above.</p>");
	else
	{
		res = db_query(conn, "SELECT pg_catalog.jsonb_pretty(workflow.describe($1))", 1, params);
		if (!db_ok(res))
			db_error_html(out, conn, res);
		else
		{
			pending_table(out, conn, db_get(res, 0, 0));
			buf_raw(out, "<details><summary><code>workflow.describe()</code></summary>"
					"<pre id=\"describe\">");
			buf_html(out, db_get(res, 0, 0));
			buf_raw(out, "</pre></details>");
		}
		PQclear(res);
	}
	if (!open)
		buf_raw(out, "<p class=\"note\">The run is closed.</p>");
	buf_raw(out, "</section>\n");
}

static void
section_history(Buf *out, PGconn *conn, const char *id, const char *run_id)
{
	const char *params[2] = {id, run_id};
	PGresult   *res = db_query(conn,
							   "SELECT h.event_id, h.event_type,"
							   "       pg_catalog.to_char(h.created_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS'),"
							   "       h.data::text"
							   "  FROM workflow.history h WHERE h.workflow_id = $1 AND h.run_id = $2::uuid"
							   " ORDER BY h.event_id LIMIT " UI_STR(HISTORY_ROWS),
							   2, params);
	int			i;

	buf_raw(out, "<section><h2>History</h2>");
	if (!db_ok(res))
		db_error_html(out, conn, res);
	else
	{
		buf_raw(out, "<table class=\"history\" id=\"history\"><thead><tr><th>#</th><th>event</th>"
				"<th>at (UTC)</th><th>data</th></tr></thead><tbody>");
		for (i = 0; i < PQntuples(res); i++)
		{
			buf_raw(out, "<tr class=\"ev-");
			buf_html(out, PQgetvalue(res, i, 1));
			buf_raw(out, "\"><td class=\"num\">");
			buf_html(out, PQgetvalue(res, i, 0));
			buf_raw(out, "</td><td>");
			buf_html(out, PQgetvalue(res, i, 1));
			buf_raw(out, "</td><td>");
			buf_html(out, PQgetvalue(res, i, 2));
			buf_raw(out, "</td><td><code>");
			buf_html(out, PQgetvalue(res, i, 3));
			buf_raw(out, "</code></td></tr>\n");
		}
		buf_raw(out, "</tbody></table>");
		if (PQntuples(res) == HISTORY_ROWS)
			buf_printf(out, "<p class=\"note\">The first %d events; the rest are in "
					   "<code>workflow.history</code>.</p>", HISTORY_ROWS);
	}
	buf_raw(out, "</section>\n");
	PQclear(res);
}

static void
section_state(Request *req, Buf *out, PGconn *conn, const char *id, const char *run_id)
{
	const char *params[2] = {id, run_id};
	PGresult   *res;
	int			i;

	buf_raw(out, "<section><h2>Published state</h2>");
	res = db_query(conn, "SELECT pg_catalog.has_table_privilege('workflow.state', 'SELECT')", 0, NULL);
	if (db_ok(res) && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
	{
		PQclear(res);
		res = db_query(conn, "SELECT s.key, s.value::text FROM workflow.state s"
					   " WHERE s.workflow_id = $1 AND s.run_id = $2::uuid ORDER BY s.key", 2, params);
		if (!db_ok(res))
			db_error_html(out, conn, res);
		else if (PQntuples(res) == 0)
			buf_raw(out, "<p class=\"empty\">Nothing published (workflow.set_state).</p>");
		else
		{
			buf_raw(out, "<table id=\"state\"><tbody>");
			for (i = 0; i < PQntuples(res); i++)
			{
				buf_raw(out, "<tr><th>");
				buf_html(out, PQgetvalue(res, i, 0));
				buf_raw(out, "</th><td><code>");
				buf_html(out, db_get(res, i, 1));
				buf_raw(out, "</code></td></tr>");
			}
			buf_raw(out, "</tbody></table>");
		}
	}
	else
	{
		/* The role may not list keys: ask for one through workflow.get_state. */
		const char *key = req_arg(req, "state_key");

		buf_raw(out, "<form method=\"get\" action=\"/run\"><input type=\"hidden\" name=\"id\" value=\"");
		buf_html(out, id);
		buf_raw(out, "\"><label>key <input name=\"state_key\" value=\"");
		buf_html(out, key);
		buf_raw(out, "\"></label> <button>workflow.get_state</button></form>");
		if (key)
		{
			const char *p2[2] = {id, key};

			PQclear(res);
			res = db_query(conn, "SELECT workflow.get_state($1, $2)::text", 2, p2);
			if (!db_ok(res))
				db_error_html(out, conn, res);
			else
			{
				buf_raw(out, "<pre id=\"state-value\">");
				buf_html(out, db_get(res, 0, 0) ? db_get(res, 0, 0) : "null");
				buf_raw(out, "</pre>");
			}
		}
	}
	PQclear(res);
	buf_raw(out, "</section>\n");
}

static void
json_block(Buf *out, const char *title, const char *cls, const char *json)
{
	if (json == NULL)
		return;
	buf_printf(out, "<div class=\"json\"><h3>%s</h3><pre class=\"%s\">", title, cls);
	buf_html(out, json);
	buf_raw(out, "</pre></div>");
}

static void
section_actions(Request *req, Buf *out, PGconn *conn, const char *id, bool open)
{
	bool		reset = db_has_function(conn, "workflow.reset_workflow(text,bigint,text)");

	if (req->read_only)
		return;
	buf_raw(out, "<section class=\"actions\" id=\"actions\"><h2>Actions</h2>"
			"<p class=\"note\">They run as the connected role: the database decides.</p>");
	if (open)
	{
		buf_raw(out, "<form method=\"post\" action=\"/action/signal\" class=\"signal\">");
		form_token(req, out);
		buf_raw(out, "<input type=\"hidden\" name=\"id\" value=\"");
		buf_html(out, id);
		buf_raw(out, "\"><h3>Signal</h3><label>signal <input name=\"signal\" required></label>"
				"<label>payload (JSON) <textarea name=\"payload\" class=\"json-editor\" rows=\"4\">"
				"{}</textarea></label><span class=\"json-status\"></span>"
				"<button data-action=\"signal\">Send signal</button></form>");
		buf_raw(out, "<form method=\"post\" action=\"/action/cancel\" data-confirm=\"Cancel this run?\">");
		form_token(req, out);
		buf_raw(out, "<input type=\"hidden\" name=\"id\" value=\"");
		buf_html(out, id);
		buf_raw(out, "\"><h3>Cancel</h3><label>reason <input name=\"reason\"></label>"
				"<button data-action=\"cancel\">Cancel (compensate)</button></form>");
		buf_raw(out, "<form method=\"post\" action=\"/action/terminate\" data-confirm=\"Terminate this run? No compensation runs.\">");
		form_token(req, out);
		buf_raw(out, "<input type=\"hidden\" name=\"id\" value=\"");
		buf_html(out, id);
		buf_raw(out, "\"><h3>Terminate</h3><label>reason <input name=\"reason\"></label>"
				"<button data-action=\"terminate\" class=\"danger\">Terminate</button></form>");
	}
	buf_raw(out, "<form method=\"post\" action=\"/action/reset\" data-confirm=\"Reset: start a new run from this event?\">");
	form_token(req, out);
	buf_raw(out, "<input type=\"hidden\" name=\"id\" value=\"");
	buf_html(out, id);
	buf_raw(out, "\"><h3>Reset</h3>");
	if (reset)
		buf_raw(out, "<label>to event # <input name=\"event_id\" type=\"number\" min=\"1\" value=\"1\" required></label>"
				"<label>reason <input name=\"reason\"></label>"
				"<button data-action=\"reset\">Reset to event</button>");
	else
		buf_raw(out, "<p class=\"unavailable\" id=\"reset-unavailable\">not available: this database has "
				"no <code>workflow.reset_workflow()</code> yet.</p>");
	buf_raw(out, "</form></section>\n");
}

/* The runs of this workflow_id, oldest first: a chain, or resets. */
static void
section_runs_of_id(Buf *out, PGresult *runs, int current)
{
	int			i;

	if (PQntuples(runs) < 2)
		return;
	buf_raw(out, "<section><h2>Runs of this workflow_id</h2><ol class=\"chain\" id=\"chain\">");
	for (i = 0; i < PQntuples(runs); i++)
	{
		buf_raw(out, i == current ? "<li class=\"current\">" : "<li>");
		link_run(out, PQgetvalue(runs, i, 13), PQgetvalue(runs, i, 0), PQgetvalue(runs, i, 0));
		buf_raw(out, " ");
		status_badge(out, PQgetvalue(runs, i, 2), NULL);
		buf_raw(out, " ");
		buf_html(out, PQgetvalue(runs, i, 5));
		buf_raw(out, "</li>");
	}
	buf_raw(out, "</ol></section>\n");
}

static void
section_family(Buf *out, PGconn *conn, PGresult *runs, int r)
{
	const char *params[2] = {PQgetvalue(runs, r, 13), PQgetvalue(runs, r, 0)};
	PGresult   *kids = db_query(conn,
								"SELECT w.workflow_id, w.run_id, w.workflow_type, w.status"
								"  FROM workflow.workflows w"
								" WHERE w.parent_workflow_id = $1 AND w.parent_run_id = $2::uuid"
								" ORDER BY w.created_at LIMIT 500",
								2, params);
	int			i;

	if (db_get(runs, r, 7))
	{
		buf_raw(out, "<p id=\"parent\">Parent: ");
		link_run(out, PQgetvalue(runs, r, 7), db_get(runs, r, 8), NULL);
		buf_raw(out, "</p>");
	}
	if (db_ok(kids) && PQntuples(kids) > 0)
	{
		buf_raw(out, "<p>Children:</p><ul id=\"children\">");
		for (i = 0; i < PQntuples(kids); i++)
		{
			buf_raw(out, "<li>");
			link_run(out, PQgetvalue(kids, i, 0), PQgetvalue(kids, i, 1), NULL);
			buf_raw(out, " ");
			buf_html(out, PQgetvalue(kids, i, 2));
			buf_raw(out, " ");
			status_badge(out, PQgetvalue(kids, i, 3), NULL);
			buf_raw(out, "</li>");
		}
		buf_raw(out, "</ul>");
	}
	PQclear(kids);
}

static void
summary(Buf *out, PGresult *runs, int r)
{
	static const struct
	{
		int			col;
		const char *label;
	}			rows[] = {
		{0, "run_id"}, {1, "type"}, {3, "queue"}, {4, "owner"}, {5, "created (UTC)"},
		{6, "closed (UTC)"}, {12, "search attributes"}
	};
	int			i;

	buf_raw(out, "<dl class=\"summary\">");
	for (i = 0; i < 7; i++)
	{
		if (!db_get(runs, r, rows[i].col))
			continue;
		buf_printf(out, "<dt>%s</dt><dd>", rows[i].label);
		buf_html(out, PQgetvalue(runs, r, rows[i].col));
		buf_raw(out, "</dd>");
	}
	buf_raw(out, "</dl>");
}

void
page_run(Request *req, Response *res, PGconn *conn)
{
	Buf		   *out = &res->body;
	const char *id = req_arg(req, "id");
	const char *want = req_arg(req, "run");
	const char *params[1] = {id};
	PGresult   *runs;
	int			r,
				i;
	bool		open;

	if (id == NULL)
	{
		res->status = 400;
		page_begin(req, res, conn, "Run", "/runs");
		buf_raw(out, "<p class=\"refusal\">Which run? /run?id=WORKFLOW_ID</p>");
		page_end(res);
		return;
	}
	runs = db_query(conn,
					"SELECT w.run_id, w.workflow_type, w.status, w.queue, w.owner::text,"
					"       pg_catalog.to_char(w.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
					"       pg_catalog.to_char(w.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
					"       w.parent_workflow_id, w.parent_run_id, pg_catalog.jsonb_pretty(w.input),"
					"       pg_catalog.jsonb_pretty(w.result), pg_catalog.jsonb_pretty(w.error),"
					"       NULLIF(w.search_attributes, '{}')::text, w.workflow_id, w.closed_at IS NULL"
					"  FROM workflow.workflows w WHERE w.workflow_id = $1"
					" ORDER BY w.created_at, (SELECT h.created_at FROM workflow.history h"
					"   WHERE h.workflow_id = w.workflow_id AND h.run_id = w.run_id AND h.event_id = 1), w.run_id",
					1, params);
	page_begin(req, res, conn, id, "/runs");
	if (!db_ok(runs))
	{
		res->status = db_error_status(runs);
		db_error_html(out, conn, runs);
		PQclear(runs);
		page_end(res);
		return;
	}
	if (PQntuples(runs) == 0)
	{
		res->status = 404;
		buf_raw(out, "<h1>");
		buf_html(out, id);
		buf_raw(out, "</h1><p class=\"refusal\">No run with this workflow_id that the role "
				"connected may see.</p>");
		PQclear(runs);
		page_end(res);
		return;
	}
	r = PQntuples(runs) - 1;
	for (i = 0; want && i < PQntuples(runs); i++)
		if (strcmp(PQgetvalue(runs, i, 0), want) == 0)
			r = i;
	open = strcmp(PQgetvalue(runs, r, 14), "t") == 0;

	buf_raw(out, "<h1 id=\"run-title\">");
	buf_html(out, id);
	buf_raw(out, " ");
	status_badge(out, PQgetvalue(runs, r, 2), "run-status");
	buf_raw(out, "</h1>");
	summary(out, runs, r);
	section_family(out, conn, runs, r);
	section_runs_of_id(out, runs, r);

	/* What app.js reloads while the run is open. */
	buf_printf(out, "<div id=\"live\" data-open=\"%d\">", open ? 1 : 0);
	section_timeline(out, conn, id, PQgetvalue(runs, r, 0), PQgetvalue(runs, r, 1));
	section_pending(out, conn, id, open);
	buf_raw(out, "<section class=\"io\"><h2>Input, result, error</h2>");
	json_block(out, "input", "input", db_get(runs, r, 9));
	json_block(out, "result", "result", db_get(runs, r, 10));
	json_block(out, "error", "run-error", db_get(runs, r, 11));
	buf_raw(out, "</section>\n");
	section_history(out, conn, id, PQgetvalue(runs, r, 0));
	buf_raw(out, "</div>\n");
	section_state(req, out, conn, id, PQgetvalue(runs, r, 0));
	section_actions(req, out, conn, id, open);
	PQclear(runs);
	page_end(res);
}
