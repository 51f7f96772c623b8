/*
 * loadgen: the load driver of `make bench` (see tools/bench.sh).
 *
 * One libpq connection per thread; the connection parameters come from the
 * usual PG* environment variables.  Each scenario prints one machine-
 * readable line on stdout:
 *
 *   BENCH {"scenario": "...", ...}
 *
 * and progress on stderr.  Latencies are in milliseconds, measured on the
 * client with CLOCK_MONOTONIC around the libpq call (so they include the
 * commit's WAL flush and the round trip).  Nothing here asserts a timing.
 *
 * Scenarios (loadgen SCENARIO [options]):
 *   start    N start_workflow() calls from C clients, one call per
 *            transaction, like pgbench (no pipelining).
 *   drain    W workers that LISTEN on every queue, claim a batch and
 *            complete each task (pipelined, one transaction each) until
 *            N workflows' steps are all done.
 *   steady   workflows started at a fixed rate while W workers drain;
 *            start-to-completion latency measured client-side.
 *   latency  one workflow at a time; one worker per queue, each waiting
 *            on LISTEN; start-to-completion and notification-to-claim.
 *   --eager  (drain, latency) workers serve every queue and complete with
 *            workflow.complete_and_claim(), asking for the next step's
 *            queue: the engine's eager dispatch.
 *   timers   N workflows that sleep until a due time spread over a
 *            window; firing lateness from the history.
 *   scale    closed workflows generated with plain SQL up to each level;
 *            sequential claim / complete latency and RSS at each level.
 *   history  one workflow looping over activities, stepped by one
 *            connection; step time and backend RSS at each level of
 *            history events.
 *
 * The worker protocol (claim, complete, complete_and_claim, LISTEN on a
 * queue, the clocks) comes from worker/protocol.h: the workers here send
 * the same statements as workflow-worker.  Only the client's
 * start_workflow() and the scale generator's SQL are written here.
 *
 * Built by bench/Makefile (make, or make -C bench); not installed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "protocol.h"

#define MAXQ 8

/* what every activity of the bench returns */
#define EMPTY_RESULT "{}"

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct LoadgenOptions
{
	const char *scenario;
	const char *name;			/* scenario name in the BENCH line */
	int			clients;		/* start/timers: client connections */
	int			workers;		/* drain/steady: worker connections */
	long		n;				/* workflows (or probes per level) */
	int			batch;			/* max_tasks per claim */
	bool		pipeline;		/* pipeline the completes of a batch */
	double		rate;			/* steady: starts per second */
	double		seconds;		/* steady: how long to start */
	double		window;			/* timers: due times spread over */
	double		lead;			/* timers: first due time after start */
	double		poll_interval;	/* worker fallback poll, seconds */
	double		timeout;		/* give up waiting after, seconds */
	const char *type;			/* workflow type */
	const char *prefix;			/* workflow id prefix */
	const char *levels;			/* scale: comma-separated levels */
	int			warmup;			/* scale: probes not counted */
	int			gen_threads;	/* scale: generator connections */
	long		gen_chunk;		/* scale: workflows per INSERT */
	int			pgss_top;		/* scale: print top statements */
	const char *queues[MAXQ];
	int			nqueues;
	const char *final_activity; /* the last step of the workflow */
	bool		eager;			/* complete_and_claim the next step's queue */
} LoadgenOptions;

static LoadgenOptions opt = {
	.clients = 8,
	.workers = 8,
	.n = 1000,
	.batch = 10,
	.pipeline = true,
	.rate = 100,
	.seconds = 20,
	.window = 10,
	.lead = 5,
	.poll_interval = 1.0,
	.timeout = 300,
	.type = "order",
	.prefix = NULL,
	.levels = "10000,100000,1000000",
	.warmup = 20,
	.gen_threads = 2,
	.gen_chunk = 20000,
	.pgss_top = 0,
	.final_activity = "SendConfirmation",
};

static const char *default_queues[] = {"inventory", "payments", "shipping", "notifications"};

typedef struct Json Json;

static void die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
static void note(const char *fmt,...) __attribute__((format(printf, 1, 2)));
static void json_raw(Json *j, const char *key, const char *fmt,...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Utilities                                                           */
/* ------------------------------------------------------------------ */

/* Print "loadgen: <message>" on stderr and exit 1. */
static void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* Print a progress line on stderr, tagged with the scenario. */
static void
note(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen[%s]: ", opt.scenario);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* Sleep us microseconds (through signals). */
static void
sleep_us(int64_t us)
{
	struct timespec ts;

	if (us <= 0)
		return;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* calloc that never returns NULL. */
static void *
xcalloc(size_t n, size_t sz)
{
	void	   *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		die("out of memory");
	return p;
}

/* A growable vector of latencies in milliseconds. */
typedef struct
{
	double	   *v;
	size_t		n,
				cap;
	bool		sorted;
} Lat;

/* Add one latency to a vector. */
static void
lat_add(Lat *l, double ms)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(double));
		if (!l->v)
			die("out of memory");
	}
	l->v[l->n++] = ms;
	l->sorted = false;
}

/* Add all of src's latencies to dst. */
static void
lat_merge(Lat *dst, const Lat *src)
{
	size_t		i;

	for (i = 0; i < src->n; i++)
		lat_add(dst, src->v[i]);
}

/* qsort comparator for doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* Percentile p in [0,100], nearest rank; NAN when empty. */
static double
lat_pct(Lat *l, double p)
{
	size_t		k;

	if (l->n == 0)
		return NAN;
	if (!l->sorted)
	{
		qsort(l->v, l->n, sizeof(double), cmp_double);
		l->sorted = true;
	}
	k = (size_t) ceil(p / 100.0 * l->n);
	if (k < 1)
		k = 1;
	if (k > l->n)
		k = l->n;
	return l->v[k - 1];
}

/* Mean of a latency vector; NAN when empty. */
static double
lat_mean(const Lat *l)
{
	double		s = 0;
	size_t		i;

	if (l->n == 0)
		return NAN;
	for (i = 0; i < l->n; i++)
		s += l->v[i];
	return s / l->n;
}

/* JSON output: a line built piece by piece. */
struct Json
{
	char		buf[8192];
	size_t		len;
};

/* Start a BENCH line for a scenario (or its --name). */
static void
json_begin(Json *j, const char *scenario)
{
	j->len = snprintf(j->buf, sizeof(j->buf), "BENCH {\"scenario\": \"%s\"",
					  opt.name ? opt.name : scenario);
}

/* Add a key with a value formatted as given (already JSON). */
static void
json_raw(Json *j, const char *key, const char *fmt,...)
{
	va_list		ap;

	if (j->len >= sizeof(j->buf) - 64)
		return;
	j->len += snprintf(j->buf + j->len, sizeof(j->buf) - j->len, ", \"%s\": ", key);
	va_start(ap, fmt);
	j->len += vsnprintf(j->buf + j->len, sizeof(j->buf) - j->len, fmt, ap);
	va_end(ap);
	if (j->len > sizeof(j->buf) - 1)
		j->len = sizeof(j->buf) - 1;
}

/* Add a number: integral ones without decimals, NaN/inf as null. */
static void
json_num(Json *j, const char *key, double v)
{
	if (isnan(v) || isinf(v))
		json_raw(j, key, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		json_raw(j, key, "%.0f", v);
	else
		json_raw(j, key, "%.3f", v);
}

/* Add a string (not escaped: only our own names go here). */
static void
json_str(Json *j, const char *key, const char *s)
{
	json_raw(j, key, "\"%s\"", s);
}

/* p50/p95/p99/max/mean/count of a latency vector, keys prefixed. */
static void
json_lat(Json *j, const char *prefix, Lat *l)
{
	char		k[128];

	snprintf(k, sizeof(k), "%s_p50_ms", prefix);
	json_num(j, k, lat_pct(l, 50));
	snprintf(k, sizeof(k), "%s_p95_ms", prefix);
	json_num(j, k, lat_pct(l, 95));
	snprintf(k, sizeof(k), "%s_p99_ms", prefix);
	json_num(j, k, lat_pct(l, 99));
	snprintf(k, sizeof(k), "%s_max_ms", prefix);
	json_num(j, k, lat_pct(l, 100));
	snprintf(k, sizeof(k), "%s_mean_ms", prefix);
	json_num(j, k, lat_mean(l));
	snprintf(k, sizeof(k), "%s_n", prefix);
	json_num(j, k, (double) l->n);
}

/* Print the BENCH line. */
static void
json_end(Json *j)
{
	printf("%s}\n", j->buf);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Database helpers                                                    */
/* ------------------------------------------------------------------ */

/* Connect with the PG* environment, or die. */
static PGconn *
db_connect(const char *appname)
{
	const char *keys[] = {"application_name", NULL};
	const char *vals[] = {appname, NULL};
	PGconn	   *c = PQconnectdbParams(keys, vals, 0);

	if (PQstatus(c) != CONNECTION_OK)
		die("connection failed: %s", PQerrorMessage(c));
	return c;
}

/* Run one statement, or die. */
static void
db_exec(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* First column of the first row as a long (0 when NULL). */
static long
db_long(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);
	long		v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		die("%s: %s", sql, PQerrorMessage(c));
	v = PQgetisnull(r, 0, 0) ? 0 : atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* Prepare a statement, or die. */
static void
db_prepare(PGconn *c, const char *name, const char *sql, int nparams)
{
	PGresult   *r = PQprepare(c, name, sql, nparams, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("prepare %s: %s", name, PQerrorMessage(c));
	PQclear(r);
}

/* Prepare one statement of the worker protocol (worker/protocol.h). */
static void
db_prepare_wf(PGconn *c, WfStatement stmt)
{
	PGresult   *r = wf_prepare(c, stmt);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("prepare %s: %s", wf_statement_name(stmt), PQerrorMessage(c));
	PQclear(r);
}

/* LISTEN on a queue's channel. */
static void
db_listen(PGconn *c, const char *queue)
{
	char	   *sql = wf_listen_command(c, queue);

	if (sql == NULL)
		die("LISTEN %s: %s", queue, PQerrorMessage(c));
	db_exec(c, sql);
	free(sql);
}

/* Connect a client and prepare the start call as "start". */
static PGconn *
client_connect(const char *appname)
{
	PGconn	   *c = db_connect(appname);

	db_prepare(c, "start", "SELECT workflow.start_workflow($1, $2::jsonb, $3)", 3);
	return c;
}

/* start_workflow(opt.type, input, id) on a client_connect connection. */
static PGresult *
exec_start(PGconn *c, const char *id, const char *input)
{
	const char *params[3];

	params[0] = opt.type;
	params[1] = input;
	params[2] = id;
	return PQexecPrepared(c, "start", 3, params, NULL, NULL, 0);
}

/* VmRSS and RssAnon of a process, in kB (-1 when unreadable). */
static void
proc_rss(int pid, long *vmrss, long *anon)
{
	char		path[64],
				line[256];
	FILE	   *f;

	*vmrss = *anon = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f))
	{
		if (strncmp(line, "VmRSS:", 6) == 0)
			*vmrss = atol(line + 6);
		else if (strncmp(line, "RssAnon:", 8) == 0)
			*anon = atol(line + 8);
	}
	fclose(f);
}

/* CPU seconds (user + system) a process has used so far; -1 if gone. */
static double
proc_cpu_s(int pid)
{
	char		path[64],
				buf[1024];
	FILE	   *f;
	size_t		n;
	char	   *p;
	unsigned long utime,
				stime;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';

	/*
	 * Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime ...
	 */
	if (!(p = strrchr(buf, ')')) ||
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &utime, &stime) != 2)
		return -1;
	return (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

/*
 * Nanoseconds a process has spent on a CPU (/proc/PID/schedstat: exact,
 * unlike the clock ticks of /proc/PID/stat); -1 if unreadable.
 */
static double
proc_oncpu_ns(int pid)
{
	char		path[64];
	FILE	   *f;
	unsigned long long ns;
	int			ok;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	ok = fscanf(f, "%llu", &ns);
	fclose(f);
	return ok == 1 ? (double) ns : -1;
}

/* CPU seconds (user + system) this process has used. */
static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The pid of this database's workflow scheduler; 0 if none. */
static int
scheduler_pid(PGconn *c)
{
	return (int) db_long(c, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity "
						 "WHERE backend_type = 'workflow scheduler' AND datname = current_database()");
}

/* Index of a workflow id "<prefix><n>", or -1. */
static long
wf_index(const char *wfid)
{
	size_t		pl = strlen(opt.prefix);
	char	   *end;
	long		v;

	if (strncmp(wfid, opt.prefix, pl) != 0)
		return -1;
	v = strtol(wfid + pl, &end, 10);
	if (*end != '\0' || v < 0 || v >= opt.n)
		return -1;
	return v;
}

/* Index of a queue in opt.queues, or -1. */
static int
queue_index(const char *q)
{
	int			i;

	for (i = 0; i < opt.nqueues; i++)
		if (strcmp(opt.queues[i], q) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Activity workers                                                    */
/* ------------------------------------------------------------------ */

typedef struct Worker Worker;

/* Scenario hooks (called from worker threads). */
static void (*on_claimed) (Worker *w, int q, const char *wfid, const char *activity, int64_t t);
static void (*on_completed) (Worker *w, int q, const char *wfid, const char *activity, int64_t t, bool ok);

struct Worker
{
	int			id;
	pthread_t	th;
	PGconn	   *conn;
	char		worker_id[32];
	int			q[MAXQ];		/* queue indexes served */
	int			nq;
	bool		flag[MAXQ];		/* may have work */
	int64_t		last_notify[MAXQ];	/* arrival of the latest notification */
	int			rr;
	int			batch;
	bool		pipeline;
	bool		recheck;		/* claim again after a full batch */
	bool		eager;			/* complete_and_claim (serves every queue) */
	int			backend_pid;
	long		rss0,
				anon0,
				rss1,
				anon1;
	double		cpu0,
				cpu1;			/* its backend's CPU seconds */
	/* counters */
	long		claims,
				empty_claims,
				steps,
				notifies,
				fallback_polls,
				fallback_hits,
				eager_hits,
				errors;
	Lat			claim_lat,
				complete_lat;
};

static atomic_int stop_flag;
static atomic_int workers_ready;

/* Flag the queues notifications arrived for; returns how many arrived. */
static int
collect_notifies(Worker *w)
{
	PGnotify   *n;
	int			got = 0;
	int64_t		t = wf_mono_us();

	while ((n = PQnotifies(w->conn)) != NULL)
	{
		int			qi = queue_index(n->relname);
		int			k;

		for (k = 0; k < w->nq; k++)
			if (w->q[k] == qi)
			{
				w->flag[k] = true;
				w->last_notify[k] = t;
			}
		w->notifies++;
		got++;
		PQfreemem(n);
	}
	return got;
}

/*
 * Eager dispatch: complete a task with workflow.complete_and_claim(), asking
 * for a task of the queue the next step of the seed saga uses (the queues
 * are given in step order and this worker serves all of them), and go on
 * with whatever comes back.  The last step is a plain complete_activity.
 */
static void
eager_chain(Worker *w, int q, const char *task0, const char *wfid0, const char *activity0)
{
	char		task[32],
				wfid[128],
				activity[128];

	snprintf(task, sizeof(task), "%s", task0);
	snprintf(wfid, sizeof(wfid), "%s", wfid0);
	snprintf(activity, sizeof(activity), "%s", activity0);
	for (;;)
	{
		int			next = strcmp(activity, opt.final_activity) == 0 ? -1 : (q + 1) % opt.nqueues;
		PGresult   *r;
		WfTask		t;
		int64_t		t0,
					t1;
		bool		ok;

		t0 = wf_mono_us();
		if (next < 0)
			r = wf_complete(w->conn, task, EMPTY_RESULT, wfid);
		else
			r = wf_complete_and_claim(w->conn, task, EMPTY_RESULT, wfid,
									  opt.queues[next], w->worker_id, 1);
		t1 = wf_mono_us();
		ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		if (!ok && w->errors++ < 5)
			note("worker %d: complete(%s): %s", w->id, task, PQresultErrorMessage(r));
		lat_add(&w->complete_lat, (t1 - t0) / 1000.0);
		w->steps++;
		if (on_completed)
			on_completed(w, q, wfid, activity, t1, ok);
		if (!ok || next < 0 || PQntuples(r) == 0)
		{
			PQclear(r);
			return;
		}
		w->eager_hits++;
		wf_read_task(r, 0, &t);
		snprintf(task, sizeof(task), "%s", t.task_id);
		snprintf(wfid, sizeof(wfid), "%s", t.workflow_id);
		snprintf(activity, sizeof(activity), "%s", t.activity);
		PQclear(r);
		q = next;
		if (on_claimed)
			on_claimed(w, q, wfid, activity, t1);
	}
}

/* Complete the claimed tasks of result r (rows), one transaction each. */
static void
complete_tasks(Worker *w, int k, PGresult *r)
{
	int			rows = PQntuples(r);
	int			i;
	WfTask		t;

	if (w->eager)
	{
		for (i = 0; i < rows; i++)
		{
			wf_read_task(r, i, &t);
			eager_chain(w, w->q[k], t.task_id, t.workflow_id, t.activity);
		}
		return;
	}
	if (w->pipeline && rows > 1)
	{
		if (!PQenterPipelineMode(w->conn))
			die("enter pipeline mode: %s", PQerrorMessage(w->conn));
		for (i = 0; i < rows; i++)
		{
			wf_read_task(r, i, &t);
			if (!wf_send_complete(w->conn, t.task_id, EMPTY_RESULT, t.workflow_id) ||
				!PQpipelineSync(w->conn))
				die("send complete: %s", PQerrorMessage(w->conn));
		}
		for (i = 0; i < rows; i++)
		{
			PGresult   *cr;
			bool		ok = true;

			wf_read_task(r, i, &t);
			while ((cr = PQgetResult(w->conn)) != NULL)
			{
				if (PQresultStatus(cr) != PGRES_TUPLES_OK)
				{
					ok = false;
					if (w->errors++ < 5)
						note("worker %d: complete_activity(%s): %s", w->id,
							 t.task_id, PQresultErrorMessage(cr));
				}
				PQclear(cr);
			}
			cr = PQgetResult(w->conn);	/* the sync */
			if (!cr || PQresultStatus(cr) != PGRES_PIPELINE_SYNC)
				die("pipeline out of step: %s", PQerrorMessage(w->conn));
			PQclear(cr);
			w->steps++;
			if (on_completed)
				on_completed(w, w->q[k], t.workflow_id, t.activity, wf_mono_us(), ok);
		}
		if (!PQexitPipelineMode(w->conn))
			die("exit pipeline mode: %s", PQerrorMessage(w->conn));
		return;
	}
	for (i = 0; i < rows; i++)
	{
		int64_t		t0 = wf_mono_us(),
					t1;
		PGresult   *cr;
		bool		ok = true;

		wf_read_task(r, i, &t);
		cr = wf_complete(w->conn, t.task_id, EMPTY_RESULT, t.workflow_id);
		t1 = wf_mono_us();
		if (PQresultStatus(cr) != PGRES_TUPLES_OK)
		{
			ok = false;
			if (w->errors++ < 5)
				note("worker %d: complete_activity(%s): %s", w->id, t.task_id,
					 PQresultErrorMessage(cr));
		}
		PQclear(cr);
		lat_add(&w->complete_lat, (t1 - t0) / 1000.0);
		w->steps++;
		if (on_completed)
			on_completed(w, w->q[k], t.workflow_id, t.activity, t1, ok);
	}
}

/* A worker thread: LISTEN, claim and complete until stop_flag. */
static void *
worker_main(void *arg)
{
	Worker	   *w = arg;
	char		appname[64];
	int			k;
	int64_t		poll_us = (int64_t) (opt.poll_interval * 1e6);

	snprintf(appname, sizeof(appname), "loadgen-%s-worker-%d", opt.scenario, w->id);
	snprintf(w->worker_id, sizeof(w->worker_id), "bench-w%d", w->id);
	w->conn = db_connect(appname);
	for (k = 0; k < w->nq; k++)
	{
		db_listen(w->conn, opt.queues[w->q[k]]);
		w->flag[k] = true;		/* look once before waiting */
	}
	db_prepare_wf(w->conn, WF_CLAIM);
	db_prepare_wf(w->conn, WF_COMPLETE);
	if (w->eager)
		db_prepare_wf(w->conn, WF_COMPLETE_CLAIM);
	w->backend_pid = (int) db_long(w->conn, "SELECT pg_backend_pid()");
	proc_rss(w->backend_pid, &w->rss0, &w->anon0);
	w->cpu0 = proc_cpu_s(w->backend_pid);
	w->rr = w->id % (w->nq ? w->nq : 1);
	atomic_fetch_add(&workers_ready, 1);

	while (!atomic_load(&stop_flag))
	{
		int			pick = -1;
		bool		fallback = false;
		const char *queue;
		PGresult   *r;
		int64_t		t0,
					t1;
		int			rows;

		if (!PQconsumeInput(w->conn))
			die("worker %d: %s", w->id, PQerrorMessage(w->conn));
		collect_notifies(w);
		for (k = 0; k < w->nq; k++)
		{
			int			c = (w->rr + k) % w->nq;

			if (w->flag[c])
			{
				pick = c;
				break;
			}
		}
		if (pick < 0)
		{
			/* Nothing announced: sleep on the socket until a NOTIFY. */
			int64_t		idle_from = wf_mono_us();

			while (!atomic_load(&stop_flag))
			{
				struct pollfd pfd = {.fd = PQsocket(w->conn),.events = POLLIN};
				int64_t		left = poll_us - (wf_mono_us() - idle_from);
				int			pr;

				if (left <= 0)
				{
					for (k = 0; k < w->nq; k++)
						w->flag[k] = true;
					w->fallback_polls++;
					fallback = true;
					break;
				}
				pr = poll(&pfd, 1, (int) (left / 1000 < 50 ? left / 1000 + 1 : 50));
				if (pr > 0)
				{
					if (!PQconsumeInput(w->conn))
						die("worker %d: %s", w->id, PQerrorMessage(w->conn));
					if (collect_notifies(w) > 0)
						break;
				}
			}
			if (!fallback)
				continue;
			pick = w->rr % w->nq;
		}
		w->flag[pick] = false;
		w->rr = (pick + 1) % w->nq;

		queue = opt.queues[w->q[pick]];
		t0 = wf_mono_us();
		r = wf_claim(w->conn, queue, w->worker_id, w->batch);
		t1 = wf_mono_us();
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			if (w->errors++ < 5)
				note("worker %d: claim_activities(%s): %s", w->id, queue,
					 PQresultErrorMessage(r));
			PQclear(r);
			sleep_us(10000);
			continue;
		}
		w->claims++;
		lat_add(&w->claim_lat, (t1 - t0) / 1000.0);
		rows = PQntuples(r);
		if (rows == 0)
			w->empty_claims++;
		else if (fallback)
			w->fallback_hits++;
		if (rows == w->batch && w->recheck)
			w->flag[pick] = true;	/* there may be more */
		if (on_claimed)
		{
			int			i;
			WfTask		t;

			for (i = 0; i < rows; i++)
			{
				wf_read_task(r, i, &t);
				on_claimed(w, w->q[pick], t.workflow_id, t.activity, t1);
			}
		}
		if (rows > 0)
			complete_tasks(w, pick, r);
		PQclear(r);
	}
	proc_rss(w->backend_pid, &w->rss1, &w->anon1);
	w->cpu1 = proc_cpu_s(w->backend_pid);
	PQfinish(w->conn);
	return NULL;
}

/* Start n workers; all_queues: each serves every queue, else worker i serves queue i % nqueues. */
static Worker *
start_workers(int n, bool all_queues, int batch, bool pipeline, bool recheck)
{
	Worker	   *ws = xcalloc(n, sizeof(Worker));
	int			i,
				k;

	atomic_store(&stop_flag, 0);
	atomic_store(&workers_ready, 0);
	for (i = 0; i < n; i++)
	{
		Worker	   *w = &ws[i];

		w->id = i;
		w->batch = batch;
		w->pipeline = pipeline;
		w->recheck = recheck;
		w->eager = opt.eager && all_queues;
		if (all_queues)
		{
			for (k = 0; k < opt.nqueues; k++)
				w->q[w->nq++] = k;
		}
		else
			w->q[w->nq++] = i % opt.nqueues;
		if (pthread_create(&w->th, NULL, worker_main, w) != 0)
			die("pthread_create failed");
	}
	while (atomic_load(&workers_ready) < n)
		sleep_us(1000);
	return ws;
}

/* Stop, join, and sum up the workers into j. */
static void
stop_workers(Worker *ws, int n, Json *j)
{
	long		claims = 0,
				empty = 0,
				steps = 0,
				notifies = 0,
				polls = 0,
				hits = 0,
				eager = 0,
				errors = 0;
	long		rss0 = 0,
				rss1 = 0,
				anon0 = 0,
				anon1 = 0;
	Lat			cl = {0},
				co = {0};
	double		cpu = 0;
	int			i;

	atomic_store(&stop_flag, 1);
	for (i = 0; i < n; i++)
		pthread_join(ws[i].th, NULL);
	for (i = 0; i < n; i++)
	{
		Worker	   *w = &ws[i];

		claims += w->claims;
		empty += w->empty_claims;
		steps += w->steps;
		notifies += w->notifies;
		polls += w->fallback_polls;
		hits += w->fallback_hits;
		eager += w->eager_hits;
		errors += w->errors;
		lat_merge(&cl, &w->claim_lat);
		lat_merge(&co, &w->complete_lat);
		if (w->rss0 > rss0)
			rss0 = w->rss0;
		if (w->rss1 > rss1)
			rss1 = w->rss1;
		if (w->anon0 > anon0)
			anon0 = w->anon0;
		if (w->anon1 > anon1)
			anon1 = w->anon1;
		cpu += w->cpu1 - w->cpu0;
	}
	if (!j)
		return;
	json_num(j, "workers", n);
	json_num(j, "claims", claims);
	json_num(j, "empty_claims", empty);
	json_num(j, "steps", steps);
	json_num(j, "notifications", notifies);
	json_num(j, "fallback_polls", polls);
	json_num(j, "fallback_polls_with_work", hits);
	json_raw(j, "eager", opt.eager ? "true" : "false");
	json_num(j, "eager_dispatched", eager);
	json_num(j, "errors", errors);
	json_lat(j, "claim", &cl);
	if (co.n > 0)
		json_lat(j, "complete", &co);
	json_num(j, "worker_backend_rss_kb_start", rss0);
	json_num(j, "worker_backend_rss_kb_end", rss1);
	json_num(j, "worker_backend_anon_kb_start", anon0);
	json_num(j, "worker_backend_anon_kb_end", anon1);
	json_num(j, "worker_backends_cpu_s", cpu);
}

/* ------------------------------------------------------------------ */
/* Starting workflows                                                  */
/* ------------------------------------------------------------------ */

typedef struct
{
	int			id;
	pthread_t	th;
	bool		paced;			/* steady: start at opt.rate */
	Lat			lat;
	long		errors;
	long		done;
	double		cpu;			/* its backend's CPU seconds */
} Starter;

/* What a set of starters did, summed up. */
typedef struct
{
	Lat			lat;
	long		errors;
	long		done;
	double		cpu;
} StartTotals;

static atomic_long next_start;
static double *start_due;		/* timers: due epoch per workflow */
static double timers_t0;

/* steady: the pace of the starts */
static int64_t *st_begin;		/* per workflow: start call issued */
static int64_t steady_t0;		/* when workflow 0 is due */
static atomic_long steady_behind_max_us;

/* Connect a client, prepare the start call, note its backend's CPU. */
static PGconn *
starter_connect(Starter *s, int *pid)
{
	char		appname[64];
	PGconn	   *c;

	snprintf(appname, sizeof(appname), "loadgen-%s-client-%d", opt.scenario, s->id);
	c = client_connect(appname);
	*pid = (int) db_long(c, "SELECT pg_backend_pid()");
	s->cpu = -proc_cpu_s(*pid);
	return c;
}

/* Disconnect a client, adding its backend's CPU seconds. */
static void
starter_finish(Starter *s, PGconn *c, int pid)
{
	s->cpu += proc_cpu_s(pid);
	PQfinish(c);
}

/* The id and input of workflow number i. */
static void
start_args(long i, char *id, size_t idlen, char *input, size_t inputlen)
{
	snprintf(id, idlen, "%s%ld", opt.prefix, i);
	if (start_due)
		snprintf(input, inputlen, "{\"due\": %.6f}", start_due[i]);
	else
		snprintf(input, inputlen, "{\"order_id\": \"%s%ld\", \"items\": %ld, \"amount\": %ld.%02ld}",
				 opt.prefix, i, 1 + i % 5, 10 + i % 90, i % 100);
}

/* steady: wait until workflow i is due; note how far behind we are. */
static void
pace_start(long i)
{
	int64_t		due = steady_t0 + (int64_t) (i * 1e6 / opt.rate);
	int64_t		now = wf_mono_us();

	if (due > now)
		sleep_us(due - now);
	else if (now - due > atomic_load(&steady_behind_max_us))
		atomic_store(&steady_behind_max_us, now - due);
}

/* A client thread: start workflows (opt.n in all) until none are left. */
static void *
starter_main(void *arg)
{
	Starter    *s = arg;
	int			pid;
	PGconn	   *c = starter_connect(s, &pid);

	for (;;)
	{
		long		i = atomic_fetch_add(&next_start, 1);
		char		id[96],
					input[256];
		int64_t		t0;
		PGresult   *r;

		if (i >= opt.n)
			break;
		if (s->paced)
			pace_start(i);
		start_args(i, id, sizeof(id), input, sizeof(input));
		t0 = wf_mono_us();
		if (s->paced)
			st_begin[i] = t0;
		r = exec_start(c, id, input);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			if (s->errors++ < 5)
				note("start_workflow(%s): %s", id, PQresultErrorMessage(r));
		}
		else
			s->done++;
		PQclear(r);
		lat_add(&s->lat, (wf_mono_us() - t0) / 1000.0);
	}
	starter_finish(s, c, pid);
	return NULL;
}

/* Start opt.n workflows from n client threads and sum them up into tot. */
static void
run_start_threads(int n, bool paced, StartTotals *tot)
{
	Starter    *ss = xcalloc(n, sizeof(Starter));
	int			i;

	atomic_store(&next_start, 0);
	for (i = 0; i < n; i++)
	{
		ss[i].id = i;
		ss[i].paced = paced;
		if (pthread_create(&ss[i].th, NULL, starter_main, &ss[i]) != 0)
			die("pthread_create failed");
	}
	for (i = 0; i < n; i++)
	{
		pthread_join(ss[i].th, NULL);
		lat_merge(&tot->lat, &ss[i].lat);
		tot->errors += ss[i].errors;
		tot->done += ss[i].done;
		tot->cpu += ss[i].cpu;
		free(ss[i].lat.v);
	}
	free(ss);
}

/* Start opt.n workflows from opt.clients connections; returns seconds. */
static double
run_starters(Json *j)
{
	StartTotals tot = {0};
	int64_t		t0,
				t1;

	t0 = wf_mono_us();
	run_start_threads(opt.clients, false, &tot);
	t1 = wf_mono_us();
	if (j)
	{
		double		secs = (t1 - t0) / 1e6;

		json_num(j, "clients", opt.clients);
		json_num(j, "started", tot.done);
		json_num(j, "start_errors", tot.errors);
		json_num(j, "start_seconds", secs);
		json_num(j, "starts_per_s", tot.done / secs);
		json_lat(j, "start", &tot.lat);
		json_num(j, "client_backends_cpu_s", tot.cpu);
	}
	return (t1 - t0) / 1e6;
}

/* start: opt.n starts from opt.clients connections. */
static void
scenario_start(void)
{
	Json		j;

	json_begin(&j, "start_rate");
	json_str(&j, "workflow_type", opt.type);
	run_starters(&j);
	json_num(&j, "loadgen_cpu_s", self_cpu_s());
	json_end(&j);
}

/* ------------------------------------------------------------------ */
/* drain: N workflows already started, W workers, all queues           */
/* ------------------------------------------------------------------ */

static atomic_long steps_done;
static atomic_long workflows_done;
static long steps_target;

/* drain: count a step; stop once every step is done. */
static void
drain_completed(Worker *w, int q, const char *wfid, const char *activity, int64_t t, bool ok)
{
	long		s = atomic_fetch_add(&steps_done, 1) + 1;

	if (strcmp(activity, opt.final_activity) == 0)
		atomic_fetch_add(&workflows_done, 1);
	if (s >= steps_target)
		atomic_store(&stop_flag, 1);
}

/* drain: workers complete every step of opt.n started workflows. */
static void
scenario_drain(void)
{
	Json		j;
	Worker	   *ws;
	int64_t		t0,
				t1;
	long		last = 0;
	int64_t		last_t;
	double		secs;
	PGconn	   *c = db_connect("loadgen-drain-monitor");
	long		open_before;

	steps_target = opt.n * opt.nqueues;
	atomic_store(&steps_done, 0);
	atomic_store(&workflows_done, 0);
	on_claimed = NULL;
	on_completed = drain_completed;
	open_before = db_long(c, "SELECT count(*) FROM workflow.tasks WHERE status = 'ready'");
	note("%ld ready tasks; draining %ld steps with %d workers (batch %d, pipeline %s)",
		 open_before, steps_target, opt.workers, opt.batch, opt.pipeline ? "on" : "off");
	t0 = wf_mono_us();
	ws = start_workers(opt.workers, true, opt.batch, opt.pipeline, true);
	last_t = t0;
	while (!atomic_load(&stop_flag))
	{
		sleep_us(20000);
		if (wf_mono_us() - last_t >= 5000000)
		{
			long		s = atomic_load(&steps_done);

			note("%ld/%ld steps, %.0f steps/s", s, steps_target,
				 (s - last) / ((wf_mono_us() - last_t) / 1e6));
			last = s;
			last_t = wf_mono_us();
		}
		if ((wf_mono_us() - t0) / 1e6 > opt.timeout)
		{
			note("timeout after %.0f s", opt.timeout);
			break;
		}
	}
	t1 = wf_mono_us();
	secs = (t1 - t0) / 1e6;
	json_begin(&j, opt.eager ? "throughput_eager" : "throughput");
	json_num(&j, "workflows", opt.n);
	json_num(&j, "batch", opt.batch);
	json_raw(&j, "pipeline", opt.pipeline ? "true" : "false");
	json_num(&j, "drain_seconds", secs);
	json_num(&j, "workflows_completed", atomic_load(&workflows_done));
	json_num(&j, "workflows_per_s", atomic_load(&workflows_done) / secs);
	json_num(&j, "steps_per_s", atomic_load(&steps_done) / secs);
	json_raw(&j, "timed_out", atomic_load(&steps_done) >= steps_target ? "false" : "true");
	stop_workers(ws, opt.workers, &j);
	json_num(&j, "loadgen_cpu_s", self_cpu_s());
	json_num(&j, "workflows_closed_in_db",
			 db_long(c, "SELECT count(*) FROM workflow.workflows WHERE status = 'completed'"));
	json_end(&j);
	PQfinish(c);
}

/* ------------------------------------------------------------------ */
/* steady: starts at a fixed rate while workers drain                  */
/* ------------------------------------------------------------------ */

static int64_t *st_end;			/* per workflow: final complete returned */
static atomic_long steady_done;

/* steady: note when a workflow's last step completed. */
static void
steady_completed(Worker *w, int q, const char *wfid, const char *activity, int64_t t, bool ok)
{
	long		i;

	if (strcmp(activity, opt.final_activity) != 0)
		return;
	i = wf_index(wfid);
	if (i < 0)
		return;
	st_end[i] = t;
	atomic_fetch_add(&steady_done, 1);
}

/* steady: starts at opt.rate while workers drain; end-to-end latency. */
static void
scenario_steady(void)
{
	Json		j;
	Worker	   *ws;
	int			nstarters = 4;
	StartTotals tot = {0};
	Lat			e2e = {0};
	long		i;
	int64_t		t_started,
				deadline;
	double		start_secs;

	opt.n = (long) (opt.rate * opt.seconds);
	if (opt.n < 1)
		opt.n = 1;
	st_begin = xcalloc(opt.n, sizeof(int64_t));
	st_end = xcalloc(opt.n, sizeof(int64_t));
	on_claimed = NULL;
	on_completed = steady_completed;
	atomic_store(&steady_done, 0);
	atomic_store(&steady_behind_max_us, 0);
	ws = start_workers(opt.workers, true, opt.batch, opt.pipeline, true);
	note("starting %ld workflows at %.1f/s for %.0f s, %d workers", opt.n, opt.rate,
		 opt.seconds, opt.workers);
	steady_t0 = wf_mono_us() + 20000;
	run_start_threads(nstarters, true, &tot);
	t_started = wf_mono_us();
	start_secs = (t_started - steady_t0) / 1e6;
	deadline = t_started + (int64_t) (opt.timeout * 1e6);
	while (atomic_load(&steady_done) < tot.done && wf_mono_us() < deadline)
		sleep_us(10000);
	json_begin(&j, "steady");
	json_num(&j, "target_rate_per_s", opt.rate);
	json_num(&j, "achieved_rate_per_s", tot.done / start_secs);
	json_num(&j, "seconds", start_secs);
	json_num(&j, "started", tot.done);
	json_num(&j, "start_errors", tot.errors);
	json_num(&j, "starter_max_behind_ms", atomic_load(&steady_behind_max_us) / 1000.0);
	json_num(&j, "completed", atomic_load(&steady_done));
	json_num(&j, "batch", opt.batch);
	for (i = 0; i < opt.n; i++)
		if (st_begin[i] && st_end[i])
			lat_add(&e2e, (st_end[i] - st_begin[i]) / 1000.0);
	json_lat(&j, "e2e", &e2e);
	json_lat(&j, "start", &tot.lat);
	json_num(&j, "client_backends_cpu_s", tot.cpu);
	stop_workers(ws, opt.workers, &j);
	json_num(&j, "loadgen_cpu_s", self_cpu_s());
	json_end(&j);
}

/* ------------------------------------------------------------------ */
/* latency: one workflow at a time                                     */
/* ------------------------------------------------------------------ */

typedef struct
{
	int64_t		start_call;
	int64_t		start_ret;
	int64_t		notify[MAXQ];	/* notification arrival before the claim */
	int64_t		claim_ret[MAXQ];
	int64_t		complete_ret[MAXQ];
	bool		fallback[MAXQ];
} C1;

static C1  *c1;
static pthread_mutex_t c1_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c1_cv = PTHREAD_COND_INITIALIZER;
static long c1_done = -1;

/* latency: note a claim and the notification before it. */
static void
c1_claimed(Worker *w, int q, const char *wfid, const char *activity, int64_t t)
{
	long		i = wf_index(wfid);
	int			k;

	if (i < 0)
		return;
	c1[i].claim_ret[q] = t;
	for (k = 0; k < w->nq; k++)
		if (w->q[k] == q)
			c1[i].notify[q] = w->last_notify[k];
}

/* latency: note a completion; wake the client after the last step. */
static void
c1_completed(Worker *w, int q, const char *wfid, const char *activity, int64_t t, bool ok)
{
	long		i = wf_index(wfid);

	if (i < 0)
		return;
	c1[i].complete_ret[q] = t;
	if (q == opt.nqueues - 1 || !ok)
	{
		pthread_mutex_lock(&c1_mu);
		c1_done = i;
		pthread_cond_broadcast(&c1_cv);
		pthread_mutex_unlock(&c1_mu);
	}
}

/* latency: one workflow at a time, every step timed. */
static void
scenario_latency(void)
{
	Json		j;
	Worker	   *ws;
	PGconn	   *c;
	Lat			e2e = {0},
				n2c = {0},
				n2c_first = {0},
				c2n = {0},
				nclaim = {0},
				sl = {0},
				cl = {0};
	long		i,
				timeouts = 0;
	int			q;

	c1 = xcalloc(opt.n, sizeof(C1));
	on_claimed = c1_claimed;
	on_completed = c1_completed;

	/*
	 * One worker per queue, each LISTENing on its own queue only and claiming
	 * one task per notification (at concurrency 1 there is never a second one
	 * to look for).
	 */
	ws = start_workers(opt.nqueues, opt.eager, 1, false, false);
	c = client_connect("loadgen-latency-client");
	for (i = 0; i < opt.n; i++)
	{
		char		id[96],
					input[256];
		PGresult   *r;
		struct timespec ts;

		start_args(i, id, sizeof(id), input, sizeof(input));
		c1[i].start_call = wf_mono_us();
		r = exec_start(c, id, input);
		c1[i].start_ret = wf_mono_us();
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("start_workflow(%s): %s", id, PQresultErrorMessage(r));
		PQclear(r);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 30;
		pthread_mutex_lock(&c1_mu);
		while (c1_done < i)
			if (pthread_cond_timedwait(&c1_cv, &c1_mu, &ts) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&c1_mu);
		if (c1_done < i)
		{
			timeouts++;
			note("workflow %s did not finish within 30 s", id);
			break;
		}
	}
	for (i = 0; i < opt.n; i++)
	{
		C1		   *x = &c1[i];

		if (!x->complete_ret[opt.nqueues - 1])
			continue;
		lat_add(&e2e, (x->complete_ret[opt.nqueues - 1] - x->start_call) / 1000.0);
		lat_add(&sl, (x->start_ret - x->start_call) / 1000.0);
		for (q = 0; q < opt.nqueues; q++)
		{
			int64_t		ready = q == 0 ? x->start_ret : x->complete_ret[q - 1];

			lat_add(&n2c, (x->claim_ret[q] - ready) / 1000.0);
			if (q == 0)
				lat_add(&n2c_first, (x->claim_ret[q] - ready) / 1000.0);
			if (x->notify[q] >= (q == 0 ? x->start_call : x->claim_ret[q - 1]))
			{
				lat_add(&c2n, (x->notify[q] - ready) / 1000.0);
				lat_add(&nclaim, (x->claim_ret[q] - x->notify[q]) / 1000.0);
			}
			if (q > 0)
				lat_add(&cl, (x->complete_ret[q - 1] - x->claim_ret[q - 1]) / 1000.0);
		}
		lat_add(&cl, (x->complete_ret[opt.nqueues - 1] - x->claim_ret[opt.nqueues - 1]) / 1000.0);
	}
	json_begin(&j, opt.eager ? "latency_c1_eager" : "latency_c1");
	json_num(&j, "workflows", (double) e2e.n);
	json_num(&j, "timeouts", timeouts);
	json_lat(&j, "e2e", &e2e);
	json_lat(&j, "start", &sl);
	/* commit returned to the client -> the next worker's claim returned */
	json_lat(&j, "notify_to_claim", &n2c);
	/* the first step only: the one a notification always carries */
	json_lat(&j, "first_notify_to_claim", &n2c_first);

	/*
	 * commit returned -> NOTIFY arrived at the worker; arrival -> claim
	 * returned
	 */
	json_lat(&j, "commit_to_notify", &c2n);
	json_lat(&j, "notify_arrival_to_claim", &nclaim);
	json_lat(&j, "complete_call", &cl);
	stop_workers(ws, opt.nqueues, &j);
	json_num(&j, "loadgen_cpu_s", self_cpu_s());
	json_end(&j);
	PQfinish(c);
}

/* ------------------------------------------------------------------ */
/* timers: N sleeps due over a window                                  */
/* ------------------------------------------------------------------ */

/* Column col of a result's first row as a number; NAN when NULL. */
static double
col_num(const PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? NAN : atof(PQgetvalue(r, 0, col));
}

/* timers: opt.n sleeps due over a window; lateness from the history. */
static void
scenario_timers(void)
{
	Json		j;
	PGconn	   *c = db_connect("loadgen-timers-monitor");
	long		i,
				closed = 0;
	double		start_secs,
				end_by;
	char		sql[2048];
	PGresult   *r;
	unsigned int seed = 12345;
	int64_t		tw;

	start_due = xcalloc(opt.n, sizeof(double));
	timers_t0 = wf_wall_s();
	for (i = 0; i < opt.n; i++)
		start_due[i] = timers_t0 + opt.lead + opt.window * (rand_r(&seed) / (double) RAND_MAX);
	note("starting %ld sleeping workflows, due between +%.1f s and +%.1f s", opt.n, opt.lead,
		 opt.lead + opt.window);
	json_begin(&j, "timers");
	json_num(&j, "timers", opt.n);
	json_num(&j, "window_s", opt.window);
	json_num(&j, "lead_s", opt.lead);
	start_secs = run_starters(&j);
	end_by = timers_t0 + opt.lead + opt.window + opt.timeout;
	tw = wf_mono_us();
	/* Open runs only: a few index entries, not a scan of every run. */
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE '%s%%' "
			 "AND closed_at IS NULL", opt.prefix);
	while (wf_wall_s() < end_by)
	{
		closed = opt.n - db_long(c, sql);
		if (closed >= opt.n)
			break;
		sleep_us(500000);
	}
	note("%ld/%ld closed, %.1f s after the last start", closed, opt.n, (wf_mono_us() - tw) / 1e6);
	json_num(&j, "closed", closed);
	json_raw(&j, "all_started_before_first_due", start_secs < opt.lead ? "true" : "false");

	/* Lateness: TimerFired.created_at - TimerStarted.data->>'fire_at'. */
	snprintf(sql, sizeof(sql),
			 "WITH s AS (SELECT workflow_id, run_id, data->>'seq' AS seq, "
			 "  (data->>'fire_at')::timestamptz AS fire_at, created_at AS started "
			 "  FROM workflow.history WHERE workflow_id LIKE '%1$s%%' AND event_type = 'TimerStarted'), "
			 "f AS (SELECT workflow_id, run_id, data->>'seq' AS seq, created_at AS fired "
			 "  FROM workflow.history WHERE workflow_id LIKE '%1$s%%' AND event_type = 'TimerFired'), "
			 "e AS (SELECT workflow_id, run_id, created_at AS ended "
			 "  FROM workflow.history WHERE workflow_id LIKE '%1$s%%' AND event_type = 'WorkflowCompleted'), "
			 "x AS (SELECT 1000 * extract(epoch FROM f.fired - s.fire_at) AS late, "
			 "  1000 * extract(epoch FROM e.ended - s.fire_at) AS late_done, "
			 "  s.fire_at < s.started AS due_before_start "
			 "  FROM s JOIN f USING (workflow_id, run_id, seq) LEFT JOIN e USING (workflow_id, run_id)) "
			 "SELECT count(*), count(*) FILTER (WHERE due_before_start), "
			 " percentile_cont(0.5) WITHIN GROUP (ORDER BY late), "
			 " percentile_cont(0.95) WITHIN GROUP (ORDER BY late), "
			 " percentile_cont(0.99) WITHIN GROUP (ORDER BY late), max(late), min(late), "
			 " percentile_cont(0.5) WITHIN GROUP (ORDER BY late_done), "
			 " percentile_cont(0.99) WITHIN GROUP (ORDER BY late_done), "
			 " percentile_cont(0.99) WITHIN GROUP (ORDER BY late) FILTER (WHERE NOT due_before_start) "
			 "FROM x", opt.prefix);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("lateness query: %s", PQerrorMessage(c));
	json_num(&j, "fired", atol(PQgetvalue(r, 0, 0)));
	json_num(&j, "due_before_started", atol(PQgetvalue(r, 0, 1)));
	json_num(&j, "late_p50_ms", col_num(r, 2));
	json_num(&j, "late_p95_ms", col_num(r, 3));
	json_num(&j, "late_p99_ms", col_num(r, 4));
	json_num(&j, "late_max_ms", col_num(r, 5));
	json_num(&j, "late_min_ms", col_num(r, 6));
	json_num(&j, "completed_after_due_p50_ms", col_num(r, 7));
	json_num(&j, "completed_after_due_p99_ms", col_num(r, 8));
	json_num(&j, "late_p99_ms_future_only", col_num(r, 9));
	PQclear(r);
	json_end(&j);
	PQfinish(c);
}

/* ------------------------------------------------------------------ */
/* scale: closed workflows generated with SQL, then sequential probes  */
/* ------------------------------------------------------------------ */

/*
 * One closed 4-activity order run per i in [$1, $2): its workflows row and
 * the 14 history events the engine writes for it, shaped like the real
 * ones, with payloads of the same size (constant except the scheduled
 * task and activity ids).  run_id is derived from the id so both INSERTs
 * agree.
 */
static const char *gen_workflows_sql =
"INSERT INTO workflow.workflows (workflow_id, run_id, workflow_type, status, input, result,"
"  queue, owner, created_at, updated_at, closed_at, last_event_id)"
" SELECT id, md5(id)::uuid, 'order', 'completed',"
"  jsonb_build_object('order_id', id, 'items', 1 + i % 5, 'amount', 10 + i % 90),"
"  '{\"reserved\": true}', 'default', 'postgres'::regrole, t, t + interval '40 ms',"
"  t + interval '40 ms', 14"
" FROM generate_series($1::bigint, $2::bigint - 1) AS i,"
"  LATERAL (SELECT 'gen-' || lpad(i::text, 9, '0') AS id,"
"                  timestamptz '2026-01-01' + i * interval '10 ms' AS t) AS x";

static const char *gen_history_sql =
"INSERT INTO workflow.history (workflow_id, run_id, event_id, event_type, created_at, data)"
" SELECT x.id, x.rid, ev.e, ev.typ, x.t + ev.e * interval '3 ms',"
"  CASE WHEN ev.typ = 'ActivityScheduled'"
"       THEN ev.data || jsonb_build_object('task_id', x.i * 4 + ev.s,"
"                                          'activity_id', x.id || '/' || x.rid || '/' || ev.s)"
"       ELSE ev.data END"
/* OFFSET 0: compute md5() once per run, not once per event */
" FROM (SELECT i, 'gen-' || lpad(i::text, 9, '0') AS id,"
"              md5('gen-' || lpad(i::text, 9, '0'))::uuid AS rid,"
"              timestamptz '2026-01-01' + i * interval '10 ms' AS t"
"       FROM generate_series($1::bigint, $2::bigint - 1) AS i OFFSET 0) AS x"
" CROSS JOIN (VALUES"
"  (1, 'WorkflowStarted', NULL::int, '{\"input\": {\"items\": 2, \"order_id\": \"gen\"}, \"queue\": \"default\", \"options\": {}, \"started_by\": \"postgres\", \"workflow_type\": \"order\"}'::jsonb),"
"  (2, 'ActivityScheduled', 1, '{\"seq\": 1, \"input\": {}, \"queue\": \"inventory\", \"options\": {}, \"activity\": \"ReserveInventory\", \"compensation\": \"ReleaseInventory\", \"compensation_queue\": \"inventory\"}'),"
"  (3, 'ActivityStarted', 1, '{\"seq\": 1, \"attempt\": 1, \"task_id\": 1, \"activity\": \"ReserveInventory\", \"worker_id\": \"gen\", \"started_at\": \"2026-01-01 00:00:00.000001+00\"}'),"
"  (4, 'ActivityCompleted', 1, '{\"seq\": 1, \"result\": {\"reserved\": true}, \"task_id\": 1, \"activity\": \"ReserveInventory\"}'),"
"  (5, 'ActivityScheduled', 2, '{\"seq\": 2, \"input\": {\"reserved\": true}, \"queue\": \"payments\", \"options\": {}, \"activity\": \"ChargePayment\", \"compensation\": \"RefundPayment\", \"compensation_queue\": \"payments\"}'),"
"  (6, 'ActivityStarted', 2, '{\"seq\": 2, \"attempt\": 1, \"task_id\": 2, \"activity\": \"ChargePayment\", \"worker_id\": \"gen\", \"started_at\": \"2026-01-01 00:00:00.000001+00\"}'),"
"  (7, 'ActivityCompleted', 2, '{\"seq\": 2, \"result\": {}, \"task_id\": 2, \"activity\": \"ChargePayment\"}'),"
"  (8, 'ActivityScheduled', 3, '{\"seq\": 3, \"input\": {\"reserved\": true}, \"queue\": \"shipping\", \"options\": {\"retry\": {\"initial_interval\": \"1 second\", \"maximum_attempts\": 3}}, \"activity\": \"CreateShipment\"}'),"
"  (9, 'ActivityStarted', 3, '{\"seq\": 3, \"attempt\": 1, \"task_id\": 3, \"activity\": \"CreateShipment\", \"worker_id\": \"gen\", \"started_at\": \"2026-01-01 00:00:00.000001+00\"}'),"
"  (10, 'ActivityCompleted', 3, '{\"seq\": 3, \"result\": {}, \"task_id\": 3, \"activity\": \"CreateShipment\"}'),"
"  (11, 'ActivityScheduled', 4, '{\"seq\": 4, \"input\": {\"reserved\": true}, \"queue\": \"notifications\", \"options\": {}, \"activity\": \"SendConfirmation\"}'),"
"  (12, 'ActivityStarted', 4, '{\"seq\": 4, \"attempt\": 1, \"task_id\": 4, \"activity\": \"SendConfirmation\", \"worker_id\": \"gen\", \"started_at\": \"2026-01-01 00:00:00.000001+00\"}'),"
"  (13, 'ActivityCompleted', 4, '{\"seq\": 4, \"result\": {}, \"task_id\": 4, \"activity\": \"SendConfirmation\"}'),"
"  (14, 'WorkflowCompleted', NULL, '{\"result\": {\"reserved\": true}}')"
" ) AS ev(e, typ, s, data)";

static atomic_long gen_next;
static long gen_end;

/* A generator thread: insert closed runs chunk by chunk until gen_end. */
static void *
gen_main(void *arg)
{
	PGconn	   *c = db_connect("loadgen-scale-generator");

	db_exec(c, "SET synchronous_commit = off");
	db_prepare(c, "w", gen_workflows_sql, 2);
	db_prepare(c, "h", gen_history_sql, 2);
	for (;;)
	{
		long		a = atomic_fetch_add(&gen_next, opt.gen_chunk);
		long		b = a + opt.gen_chunk;
		char		sa[32],
					sb[32];
		const char *params[2] = {sa, sb};
		PGresult   *r;

		if (a >= gen_end)
			break;
		if (b > gen_end)
			b = gen_end;
		snprintf(sa, sizeof(sa), "%ld", a);
		snprintf(sb, sizeof(sb), "%ld", b);
		db_exec(c, "BEGIN");
		r = PQexecPrepared(c, "w", 2, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("generate workflows: %s", PQerrorMessage(c));
		PQclear(r);
		r = PQexecPrepared(c, "h", 2, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("generate history: %s", PQerrorMessage(c));
		PQclear(r);
		db_exec(c, "COMMIT");
	}
	PQfinish(c);
	return NULL;
}

/* Generate closed runs from..to-1; returns seconds. */
static double
generate_closed(long from, long to)
{
	pthread_t  *th = xcalloc(opt.gen_threads, sizeof(pthread_t));
	int64_t		t0 = wf_mono_us();
	int			i;

	atomic_store(&gen_next, from);
	gen_end = to;
	for (i = 0; i < opt.gen_threads; i++)
		if (pthread_create(&th[i], NULL, gen_main, NULL) != 0)
			die("pthread_create failed");
	for (i = 0; i < opt.gen_threads; i++)
		pthread_join(th[i], NULL);
	free(th);
	return (wf_mono_us() - t0) / 1e6;
}

/* Print the top opt.pgss_top statements of pg_stat_statements. */
static void
print_pgss(PGconn *c, const char *label)
{
	char		sql[1024];
	PGresult   *r;
	int			i;

	snprintf(sql, sizeof(sql),
			 "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 4),"
			 " round((shared_blks_hit + shared_blks_read)::numeric / greatest(calls, 1), 1),"
			 " regexp_replace(left(query, 160), '\\s+', ' ', 'g')"
			 " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
			 " ORDER BY total_exec_time DESC LIMIT %d", opt.pgss_top);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		note("pg_stat_statements: %s", PQerrorMessage(c));
		PQclear(r);
		return;
	}
	printf("PGSS %s: calls | total_ms | mean_ms | blocks/call | query\n", label);
	for (i = 0; i < PQntuples(r); i++)
		printf("PGSS %s: %s | %s | %s | %s | %s\n", label, PQgetvalue(r, i, 0),
			   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
	fflush(stdout);
	PQclear(r);
}

/* scale: sequential probes at each level of closed workflows. */
static void
scenario_scale(void)
{
	PGconn	   *m = client_connect("loadgen-scale-probe");
	int			mpid,
				spid;
	long		rss,
				anon,
				srss,
				sanon;
	long		have;
	char	   *levels = strdup(opt.levels),
			   *tok,
			   *save = NULL;
	long		first_rss = -1,
				first_anon = -1,
				first_srss = -1,
				first_sanon = -1;

	db_prepare_wf(m, WF_CLAIM);
	db_prepare_wf(m, WF_COMPLETE);
	mpid = (int) db_long(m, "SELECT pg_backend_pid()");
	spid = scheduler_pid(m);
	have = db_long(m, "SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE 'gen-%'");
	if (have > 0)
		have = db_long(m, "SELECT max(substr(workflow_id, 5)::bigint) + 1 FROM workflow.workflows "
					   "WHERE workflow_id LIKE 'gen-%'");

	for (tok = strtok_r(levels, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		long		level = atol(tok);
		double		gen_s = 0,
					an_s;
		Lat			sl = {0},
					cl = {0},
					co = {0};
		long		i,
					misses = 0;
		int			q;
		Json		j;
		char		label[64];
		int64_t		t0;

		if (level > have)
		{
			note("generating closed workflows %ld..%ld", have, level);
			gen_s = generate_closed(have, level);
			have = level;
		}

		/*
		 * The state autovacuum reaches in a system that accumulated these
		 * runs over time: visibility map set, statistics current, the live
		 * queue tables free of dead rows.  Otherwise an autovacuum of the
		 * bulk load, triggered during the probes, is what gets measured.
		 */
		t0 = wf_mono_us();
		{
			/* Its own connection: the probe backend's memory stays its own. */
			PGconn	   *v = db_connect("loadgen-scale-vacuum");

			db_exec(v, "VACUUM (ANALYZE) workflow.workflows, workflow.history, "
					"workflow.tasks, workflow.timers");
			/* Write the generated pages out now, not during the probes. */
			db_exec(v, "CHECKPOINT");
			PQfinish(v);
		}
		an_s = (wf_mono_us() - t0) / 1e6;
		if (opt.pgss_top > 0)
			db_exec(m, "SELECT pg_stat_statements_reset()");
		for (i = 0; i < opt.warmup + opt.n; i++)
		{
			char		id[96],
						input[256];
			PGresult   *r;
			int64_t		a,
						b;

			snprintf(id, sizeof(id), "p7-%ld-%ld", level, i);
			snprintf(input, sizeof(input), "{\"order_id\": \"%s\", \"items\": 2}", id);
			a = wf_mono_us();
			r = exec_start(m, id, input);
			b = wf_mono_us();
			if (PQresultStatus(r) != PGRES_TUPLES_OK)
				die("start_workflow: %s", PQerrorMessage(m));
			PQclear(r);
			if (i >= opt.warmup)
				lat_add(&sl, (b - a) / 1000.0);
			for (q = 0; q < opt.nqueues; q++)
			{
				char		task[32];
				WfTask		t;

				a = wf_mono_us();
				r = wf_claim(m, opt.queues[q], "bench-probe", 1);
				b = wf_mono_us();
				if (PQresultStatus(r) != PGRES_TUPLES_OK)
					die("claim_activities: %s", PQerrorMessage(m));
				if (PQntuples(r) != 1)
				{
					PQclear(r);
					misses++;
					break;
				}
				wf_read_task(r, 0, &t);
				snprintf(task, sizeof(task), "%s", t.task_id);
				PQclear(r);
				if (i >= opt.warmup)
					lat_add(&cl, (b - a) / 1000.0);
				a = wf_mono_us();
				r = wf_complete(m, task, EMPTY_RESULT, NULL);
				b = wf_mono_us();
				if (PQresultStatus(r) != PGRES_TUPLES_OK)
					die("complete_activity: %s", PQerrorMessage(m));
				PQclear(r);
				if (i >= opt.warmup)
					lat_add(&co, (b - a) / 1000.0);
			}
		}
		proc_rss(mpid, &rss, &anon);
		spid = scheduler_pid(m);
		proc_rss(spid, &srss, &sanon);
		if (first_rss < 0)
		{
			first_rss = rss;
			first_anon = anon;
			first_srss = srss;
			first_sanon = sanon;
		}
		json_begin(&j, "scale");
		json_num(&j, "closed_workflows", level);
		json_num(&j, "history_rows",
				 db_long(m, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'workflow.history'::regclass"));
		json_num(&j, "history_mb",
				 db_long(m, "SELECT pg_total_relation_size('workflow.history') / 1048576"));
		json_num(&j, "workflows_mb",
				 db_long(m, "SELECT pg_total_relation_size('workflow.workflows') / 1048576"));
		json_num(&j, "generate_seconds", gen_s);
		json_num(&j, "vacuum_checkpoint_seconds", an_s);
		json_num(&j, "probes", opt.n);
		json_num(&j, "claim_misses", misses);
		json_lat(&j, "claim", &cl);
		json_lat(&j, "complete", &co);
		json_lat(&j, "start", &sl);
		json_num(&j, "backend_pid", mpid);
		json_num(&j, "backend_rss_kb", rss);
		json_num(&j, "backend_anon_kb", anon);
		json_num(&j, "backend_rss_kb_first_level", first_rss);
		json_num(&j, "backend_anon_kb_first_level", first_anon);
		json_num(&j, "scheduler_pid", spid);
		json_num(&j, "scheduler_rss_kb", srss);
		json_num(&j, "scheduler_anon_kb", sanon);
		json_num(&j, "scheduler_rss_kb_first_level", first_srss);
		json_num(&j, "scheduler_anon_kb_first_level", first_sanon);
		json_end(&j);
		if (opt.pgss_top > 0)
		{
			snprintf(label, sizeof(label), "scale-%ld", level);
			print_pgss(m, label);
		}
	}
	free(levels);
	PQfinish(m);
}

/*
 * history: one workflow that loops over activities (bench_history, no
 * continue-as-new), stepped by one connection with claim then complete.
 * At each level of history events (--levels), the next -n steps are
 * timed, and the backend's memory read.
 */
static void
scenario_history(void)
{
	PGconn	   *m = client_connect("loadgen-history");
	int			mpid;
	char	   *levels = strdup(opt.levels),
			   *tok,
			   *save = NULL;
	char		wfid[64];
	char		input[64];
	long		events = 0,
				steps = 0;
	PGresult   *r;

	db_prepare_wf(m, WF_CLAIM);
	db_prepare_wf(m, WF_COMPLETE);
	db_prepare(m, "hist_events",
			   "SELECT last_event_id FROM workflow.workflows WHERE workflow_id = $1 AND closed_at IS NULL", 1);
	mpid = (int) db_long(m, "SELECT pg_backend_pid()");

	/*
	 * Warm the backend up (plans, the workflow function compiled) with a
	 * short run of the same type stepped to its end, so that the first
	 * level measures steps, not a new connection.
	 */
	snprintf(wfid, sizeof(wfid), "%swarmup", opt.prefix);
	r = exec_start(m, wfid, "{\"steps\": 20}");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("start_workflow: %s", PQerrorMessage(m));
	PQclear(r);
	for (;;)
	{
		WfTask		t;
		char		task[32];

		r = wf_claim(m, opt.queues[0], "bench-history", 1);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("claim_activities: %s", PQerrorMessage(m));
		if (PQntuples(r) == 0)
		{
			PQclear(r);
			break;
		}
		wf_read_task(r, 0, &t);
		snprintf(task, sizeof(task), "%s", t.task_id);
		PQclear(r);
		r = wf_complete(m, task, EMPTY_RESULT, NULL);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("complete_activity: %s", PQerrorMessage(m));
		PQclear(r);
	}

	snprintf(wfid, sizeof(wfid), "%shistory", opt.prefix);
	snprintf(input, sizeof(input), "{\"steps\": 1000000}");
	r = exec_start(m, wfid, input);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("start_workflow: %s", PQerrorMessage(m));
	PQclear(r);

	for (tok = strtok_r(levels, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		long		level = atol(tok);
		long		i,
					level_events = -1;
		Lat			st = {0},
					cl = {0},
					co = {0};
		long		rss,
					anon;
		int64_t		t_level = wf_mono_us();
		double		cpu0 = -1;
		Json		j;

		for (i = 0; i < opt.n || events < level; )
		{
			bool		timed = events >= level;
			char		task[32];
			const char *params[1] = {wfid};
			WfTask		t;
			int64_t		a,
						b,
						c;

			if (timed && level_events < 0)
			{
				level_events = events;
				cpu0 = proc_oncpu_ns(mpid);
			}
			a = wf_mono_us();
			r = wf_claim(m, opt.queues[0], "bench-history", 1);
			b = wf_mono_us();
			if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
				die("claim_activities at step %ld: %s", steps, PQerrorMessage(m));
			wf_read_task(r, 0, &t);
			snprintf(task, sizeof(task), "%s", t.task_id);
			PQclear(r);
			r = wf_complete(m, task, EMPTY_RESULT, NULL);
			c = wf_mono_us();
			if (PQresultStatus(r) != PGRES_TUPLES_OK)
				die("complete_activity: %s", PQerrorMessage(m));
			PQclear(r);
			steps++;
			if (timed)
			{
				lat_add(&st, (c - a) / 1000.0);
				lat_add(&cl, (b - a) / 1000.0);
				lat_add(&co, (c - b) / 1000.0);
				i++;
			}
			r = PQexecPrepared(m, "hist_events", 1, params, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
				die("the history workflow is not running: %s", PQerrorMessage(m));
			events = atol(PQgetvalue(r, 0, 0));
			PQclear(r);
		}
		proc_rss(mpid, &rss, &anon);
		json_begin(&j, "history");
		json_num(&j, "level_events", level);
		json_num(&j, "events_at_first_timed_step", level_events);
		json_num(&j, "events_after", events);
		json_num(&j, "steps_so_far", steps);
		json_num(&j, "probes", opt.n);
		json_num(&j, "level_seconds", (wf_mono_us() - t_level) / 1e6);
		json_lat(&j, "step", &st);
		/* the backend's CPU per step: what other load on the machine does not change */
		json_num(&j, "step_backend_cpu_ms", (proc_oncpu_ns(mpid) - cpu0) / 1e6 / opt.n);
		json_lat(&j, "claim", &cl);
		json_lat(&j, "complete", &co);
		json_num(&j, "backend_pid", mpid);
		json_num(&j, "backend_rss_kb", rss);
		json_num(&j, "backend_anon_kb", anon);
		json_end(&j);
	}
	{
		const char *params[1] = {wfid};

		r = PQexecParams(m, "SELECT workflow.terminate_workflow($1, 'bench done')",
						 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("terminate_workflow: %s", PQerrorMessage(m));
		PQclear(r);
	}
	free(levels);
	PQfinish(m);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

/* Print the usage and exit 2. */
static void
usage(void)
{
	fprintf(stderr,
			"usage: loadgen {start|drain|steady|latency|timers|scale|history} [options]\n"
			"  -c, --clients N        client connections (start, timers)   [8]\n"
			"  -w, --workers N        worker connections (drain, steady)   [8]\n"
			"  -n, --workflows N      workflows (scale: probes per level)  [1000]\n"
			"  -b, --batch N          max_tasks per claim                  [10]\n"
			"      --no-pipeline      complete one call at a time\n"
			"  -r, --rate R           steady: starts per second            [100]\n"
			"  -s, --seconds S        steady: seconds of starting          [20]\n"
			"      --window S         timers: spread of due times          [10]\n"
			"      --lead S           timers: first due time after start   [5]\n"
			"      --poll-interval S  worker fallback poll                 [1]\n"
			"      --timeout S        give up waiting after                [300]\n"
			"  -t, --type T           workflow type                        [order]\n"
			"  -p, --prefix P         workflow id prefix                   [<scenario>-]\n"
			"      --levels L,L,..    scale: closed workflows per level;\n"
			"                         history: history events per level\n"
			"      --warmup N         scale: probes not counted            [20]\n"
			"      --gen-threads N    scale: generator connections         [2]\n"
			"      --pgss-top N       scale: print top N statements per level\n"
			"  -q, --queue Q          queue, in step order (repeatable)    [the seed's four]\n"
			"      --final A          the workflow's last activity         [SendConfirmation]\n"
			"      --name NAME        scenario name in the BENCH line\n"
			"      --eager            drain, latency: workers serve every queue and use\n"
			"                         workflow.complete_and_claim() for the next step's queue\n"
			"Connection: the PG* environment variables.\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct option longopts[] = {
		{"clients", required_argument, NULL, 'c'},
		{"workers", required_argument, NULL, 'w'},
		{"workflows", required_argument, NULL, 'n'},
		{"batch", required_argument, NULL, 'b'},
		{"no-pipeline", no_argument, NULL, 'P'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{"window", required_argument, NULL, 'W'},
		{"lead", required_argument, NULL, 'L'},
		{"poll-interval", required_argument, NULL, 'I'},
		{"timeout", required_argument, NULL, 'T'},
		{"type", required_argument, NULL, 't'},
		{"prefix", required_argument, NULL, 'p'},
		{"levels", required_argument, NULL, 'l'},
		{"warmup", required_argument, NULL, 'u'},
		{"gen-threads", required_argument, NULL, 'g'},
		{"gen-chunk", required_argument, NULL, 'C'},
		{"pgss-top", required_argument, NULL, 'S'},
		{"queue", required_argument, NULL, 'q'},
		{"final", required_argument, NULL, 'F'},
		{"eager", no_argument, NULL, 'E'},
		{"name", required_argument, NULL, 'N'},
		{NULL, 0, NULL, 0}
	};
	int			ch;
	static char prefix[64];

	if (argc < 2 || argv[1][0] == '-')
		usage();
	opt.scenario = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:w:n:b:r:s:t:p:q:", longopts, NULL)) != -1)
	{
		switch (ch)
		{
			case 'c':
				opt.clients = atoi(optarg);
				break;
			case 'w':
				opt.workers = atoi(optarg);
				break;
			case 'n':
				opt.n = atol(optarg);
				break;
			case 'b':
				opt.batch = atoi(optarg);
				break;
			case 'P':
				opt.pipeline = false;
				break;
			case 'r':
				opt.rate = atof(optarg);
				break;
			case 's':
				opt.seconds = atof(optarg);
				break;
			case 'W':
				opt.window = atof(optarg);
				break;
			case 'L':
				opt.lead = atof(optarg);
				break;
			case 'I':
				opt.poll_interval = atof(optarg);
				break;
			case 'T':
				opt.timeout = atof(optarg);
				break;
			case 't':
				opt.type = optarg;
				break;
			case 'p':
				opt.prefix = optarg;
				break;
			case 'l':
				opt.levels = optarg;
				break;
			case 'u':
				opt.warmup = atoi(optarg);
				break;
			case 'g':
				opt.gen_threads = atoi(optarg);
				break;
			case 'C':
				opt.gen_chunk = atol(optarg);
				break;
			case 'S':
				opt.pgss_top = atoi(optarg);
				break;
			case 'q':
				if (opt.nqueues >= MAXQ)
					die("at most %d queues", MAXQ);
				opt.queues[opt.nqueues++] = optarg;
				break;
			case 'F':
				opt.final_activity = optarg;
				break;
			case 'E':
				opt.eager = true;
				break;
			case 'N':
				opt.name = optarg;
				break;
			default:
				usage();
		}
	}
	if (opt.nqueues == 0)
	{
		int			i;

		for (i = 0; i < 4; i++)
			opt.queues[opt.nqueues++] = default_queues[i];
	}
	if (!opt.prefix)
	{
		snprintf(prefix, sizeof(prefix), "%s-", opt.scenario);
		opt.prefix = prefix;
	}
	if (opt.clients < 1 || opt.workers < 1 || opt.n < 1 || opt.batch < 1 || opt.gen_chunk < 1)
		usage();

	if (strcmp(opt.scenario, "start") == 0)
		scenario_start();
	else if (strcmp(opt.scenario, "drain") == 0)
		scenario_drain();
	else if (strcmp(opt.scenario, "steady") == 0)
		scenario_steady();
	else if (strcmp(opt.scenario, "latency") == 0)
		scenario_latency();
	else if (strcmp(opt.scenario, "timers") == 0)
		scenario_timers();
	else if (strcmp(opt.scenario, "scale") == 0)
		scenario_scale();
	else if (strcmp(opt.scenario, "history") == 0)
		scenario_history();
	else
		usage();
	return 0;
}
