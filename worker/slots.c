/*-------------------------------------------------------------------------
 *
 * slots.c
 *	  The worker's concurrency slots and its event loop.
 *
 * Everything happens in one single-threaded loop.  poll() watches the
 * libpq socket (LISTEN notifications, non-blocking connects), a self-pipe
 * fed by the signal handlers, and the pipes of up to --concurrency handler
 * processes.  Claims, reports and heartbeats are short synchronous queries
 * on the same connection.
 *
 * A task owns its slot from the claim until its outcome has been reported
 * (or rejected by the server as late), so results of handlers that finish
 * while the server is away are kept and reported after the reconnect, and
 * the worker never has more than --concurrency tasks in hand.  A slot is
 * SLOT_FREE, SLOT_RUNNING (the handler has not been reaped yet) or
 * SLOT_DONE (its outcome waits to be reported).
 *
 * Eager dispatch: a successful task is reported with complete_and_claim,
 * which claims, in the same transaction, up to as many tasks of its queue
 * as there will be free slots; those are started at once, so the next
 * step of a workflow needs no notification and no claim of its own.
 *
 * Shutdown: the first SIGTERM/SIGINT stops claiming and gives running
 * handlers --grace seconds, then stops them (the task fails retryably);
 * a second signal stops them at once.  Reports still pending are given
 * up GIVE_UP_AFTER seconds after that, with exit status 1.  A claim the
 * server refuses for good (a queue not granted, the extension missing)
 * stops the worker the same way under --once or --exit-on-error, with
 * exit status EXIT_SERVER_REFUSED; otherwise it is logged and tried again
 * at the next notification or poll.
 *
 * worker/slots.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connection.h"
#include "handler.h"
#include "log.h"
#include "options.h"
#include "protocol.h"
#include "slots.h"
#include "text.h"

#define REPORT_RETRY	1.0		/* delay after a transient report error */
#define GIVE_UP_AFTER	10.0	/* extra time for reports at shutdown */
#define MIN_HEARTBEAT	0.1		/* shortest heartbeat interval, seconds */

/* slots and counters */
static Slot *slots;
static long tasks_claimed;
static long tasks_finished;
static int	next_queue;

/* the poll set, sized for every slot's three pipes */
static struct pollfd *poll_fds;
static int *poll_tags;

/* shutdown */
static volatile sig_atomic_t stop_signals;
static volatile sig_atomic_t last_signal;
static volatile sig_atomic_t hup_signals;
static int	hup_signals_seen;
static int	stop_signals_seen;
static bool stopping;
static double stop_deadline;
static int	self_pipe[2] = {-1, -1};
static int	exit_code;

/* Signal handler: record stop requests and wake the event loop. */
static void
on_signal(int signo)
{
	int			save_errno = errno;
	ssize_t		rc;

	if (signo == SIGTERM || signo == SIGINT)
	{
		stop_signals++;
		last_signal = signo;
	}
	else if (signo == SIGHUP)
		hup_signals++;
	rc = write(self_pipe[1], "x", 1);
	(void) rc;
	errno = save_errno;
}

/* Install signal handlers and the self-pipe they write to. */
void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe(self_pipe) != 0)
		die("could not create pipe");
	set_fd_flags(self_pipe[0], true);
	set_fd_flags(self_pipe[1], true);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Allocate the --concurrency slots (all free) and the poll set. */
void
slots_init(void)
{
	slots = xmalloc(opt.concurrency * sizeof(Slot));
	for (int i = 0; i < opt.concurrency; i++)
		slot_clear(&slots[i]);
	poll_fds = xmalloc((2 + 3 * opt.concurrency) * sizeof(struct pollfd));
	poll_tags = xmalloc((2 + 3 * opt.concurrency) * sizeof(int));
}

/* Number of slots in use. */
static int
busy_slots(void)
{
	int			n = 0;

	for (int i = 0; i < opt.concurrency; i++)
		if (slots[i].state != SLOT_FREE)
			n++;
	return n;
}

/* Fill a free slot with a claimed task and start its handler. */
static void
start_task(Slot *s, const WfTask *t)
{
	slot_clear(s);
	s->task_id = xstrdup(t->task_id);
	s->activity_id = xstrdup(t->activity_id);
	s->workflow_id = xstrdup(t->workflow_id);
	s->run_id = xstrdup(t->run_id);
	s->queue = xstrdup(t->queue);
	s->activity = xstrdup(t->activity);
	/* the handler reads one line of JSON: end it with a newline */
	s->input = xmalloc(t->input_len + 2);
	sprintf(s->input, "%s\n", t->input);
	s->attempt = t->attempt;
	s->timeout = (t->start_to_close > 0 && t->start_to_close < opt.timeout) ?
		t->start_to_close : opt.timeout;
	s->heartbeat_every = opt.heartbeat;
	if (t->heartbeat_timeout > 0 && t->heartbeat_timeout / 3 < s->heartbeat_every)
		s->heartbeat_every = t->heartbeat_timeout / 3;
	if (t->lease_left > 0 && t->lease_left / 3 < s->heartbeat_every)
		s->heartbeat_every = t->lease_left / 3;
	if (s->heartbeat_every < MIN_HEARTBEAT)
		s->heartbeat_every = MIN_HEARTBEAT;
	s->started = s->ended = wf_mono_s();
	s->next_heartbeat = s->started + s->heartbeat_every;
	s->state = SLOT_RUNNING;
	tasks_claimed++;
	start_handler(s);
}

/* Start the tasks a claim (or complete_and_claim) returned in free slots. */
static void
start_claimed(const PGresult *res)
{
	int			rows = PQntuples(res);

	for (int i = 0, next = 0; i < rows; i++)
	{
		WfTask		t;

		while (next < opt.concurrency && slots[next].state != SLOT_FREE)
			next++;
		if (next == opt.concurrency)
		{
			log_msg(LOG_WARNING, "claimed more tasks than asked for; the rest come back when their lease expires");
			break;
		}
		wf_read_task(res, i, &t);
		start_task(&slots[next], &t);
	}
}

/*
 * Whether a claim failed because the server refuses it for good: the
 * queue is not granted to our role (or the schema not usable: 42501), or
 * the extension is gone (undefined function, schema or table).
 */
static bool
claim_refused(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL &&
		(strcmp(state, "42501") == 0 || strcmp(state, "42883") == 0 ||
		 strcmp(state, "3F000") == 0 || strcmp(state, "42P01") == 0);
}

/*
 * A claim was refused under --once or --exit-on-error: claim nothing
 * more, let running handlers finish (as after SIGTERM) and exit with
 * EXIT_SERVER_REFUSED.
 */
static void
stop_refused(const Queue *q, const char *error)
{
	log_msg(LOG_ERROR, "could not claim tasks from queue \"%s\": %s; exiting (%s)",
			q->name, error, opt.once ? "--once" : "--exit-on-error");
	exit_code = EXIT_SERVER_REFUSED;
	if (!stopping)
	{
		stopping = true;
		stop_deadline = wf_mono_s() + opt.grace;
	}
}

/* Claim up to n tasks from a queue and start them. */
static void
claim_from(Queue *q, int n)
{
	PGresult   *res;
	char		line[1024];
	int			rows = 0;

	res = wf_claim(conn.pg, q->name, opt.worker_id, n);
	switch (db_result(res))
	{
		case WF_OK:
			rows = PQntuples(res);
			start_claimed(res);
			q->has_work = rows >= n;
			log_msg(LOG_DEBUG, "claimed %d of %d from queue \"%s\"", rows, n, q->name);
			break;
		case WF_LOST:
			conn_lost(NULL);
			break;
		default:
			if (claim_refused(res) && (opt.once || opt.exit_on_error))
				stop_refused(q, db_error(res, line, sizeof(line)));
			else
				log_msg(LOG_WARNING, "could not claim tasks from queue \"%s\": %s",
						q->name, db_error(res, line, sizeof(line)));
			q->has_work = false;
			break;
	}
	PQclear(res);
	drain_notifies();
}

/* Claim while there are free slots and queues that may have work. */
static void
claim_work(double now)
{
	poll_queues(now);
	while (conn.state == CONN_UP && !stopping)
	{
		int			free_slots = opt.concurrency - busy_slots();
		int			n = free_slots < opt.batch ? free_slots : opt.batch;
		int			qi = -1;

		if (opt.max_tasks > 0 && opt.max_tasks - tasks_claimed < n)
			n = (int) (opt.max_tasks - tasks_claimed);
		if (n <= 0)
			return;
		for (int k = 0; k < opt.nqueues && qi < 0; k++)
			if (opt.queues[(next_queue + k) % opt.nqueues].has_work)
				qi = (next_queue + k) % opt.nqueues;
		if (qi < 0)
			return;
		next_queue = (qi + 1) % opt.nqueues;
		claim_from(&opt.queues[qi], n);
	}
}

/* Free a slot's memory, make it available again and count the task. */
static void
release_slot(Slot *s)
{
	slot_free(s);
	tasks_finished++;
}

/*
 * The one log line for a finished task.  report is NULL when the outcome
 * was reported, else what became of the report ("rejected", "failed",
 * "none"); why says why.
 */
static void
log_task(const Slot *s, LogLevel level, const char *report, const char *why)
{
	LogField	f[13];
	int			n = 0;
	char		attempt[16];
	char		status[16];
	char		duration[32];

#define FIELD(k, v, lit) (f[n].key = (k), f[n].value = (v), f[n++].literal = (lit))
	snprintf(attempt, sizeof(attempt), "%d", s->attempt);
	snprintf(duration, sizeof(duration), "%.3fs", s->ended - s->started);
	FIELD("task", s->task_id, false);
	FIELD("queue", s->queue, false);
	FIELD("activity", s->activity, false);
	FIELD("workflow", s->workflow_id, false);
	FIELD("attempt", attempt, true);
	FIELD("outcome", s->label, false);
	if (s->pid > 0 && WIFEXITED(s->wstatus))
	{
		snprintf(status, sizeof(status), "%d", WEXITSTATUS(s->wstatus));
		FIELD("exit", status, true);
	}
	else if (s->pid > 0 && WIFSIGNALED(s->wstatus))
	{
		snprintf(status, sizeof(status), "%d", WTERMSIG(s->wstatus));
		FIELD("signal", status, true);
	}
	FIELD("duration", duration, false);
	if (s->out_kind == OUT_FAIL)
	{
		FIELD("retryable", s->retryable ? "true" : "false", true);
		FIELD("error", s->error, false);
	}
	if (report != NULL)
		FIELD("report", report, false);
	if (why != NULL)
		FIELD("report_error", why, false);
#undef FIELD
	log_fields(level, "task finished", f, n);
}

/*
 * How many tasks to claim with the completion of s (eager dispatch): the
 * slots free once s is reported, at most --batch and what --max-tasks
 * leaves; 0 when no new task may be taken (eager dispatch off or not
 * available, shutting down, --max-tasks reached, --once and the queue
 * drained), or when another queue is waiting for a claim: claim_work's
 * round robin then picks the queue, so a busy queue cannot starve others.
 */
static int
eager_count(const Slot *s)
{
	const Queue *q = find_queue(s->queue);
	int			n = opt.concurrency - busy_slots() + 1;

	if (!conn.eager_ready || stopping || q == NULL || (opt.once && !q->has_work))
		return 0;
	for (int i = 0; i < opt.nqueues; i++)
		if (&opt.queues[i] != q && opt.queues[i].has_work)
			return 0;
	if (n > opt.batch)
		n = opt.batch;
	if (opt.max_tasks > 0 && opt.max_tasks - tasks_claimed < n)
		n = (int) (opt.max_tasks - tasks_claimed);
	return n > 0 ? n : 0;
}

/*
 * Report a finished task's outcome; the slot is freed unless it must wait.
 * A completion claims more tasks of its queue along with it when it may
 * (see eager_count); they are started right away.
 */
static void
report_slot(Slot *s)
{
	PGresult   *res;
	char		line[1024];
	int			eager = 0;
	Queue	   *q = NULL;

	if (s->out_kind == OUT_DROP)
	{
		log_task(s, LOG_WARNING, "none", "the task's lease was lost");
		release_slot(s);
		return;
	}
	if (s->out_kind == OUT_COMPLETE && (eager = eager_count(s)) > 0)
	{
		q = find_queue(s->queue);
		res = wf_complete_and_claim(conn.pg, s->task_id, s->out.data,
									s->workflow_id, s->queue, opt.worker_id,
									eager);
	}
	else if (s->out_kind == OUT_COMPLETE)
		res = wf_complete(conn.pg, s->task_id, s->out.data, s->workflow_id);
	else
		res = wf_fail(conn.pg, s->task_id, s->error, s->retryable, s->details,
					  s->workflow_id);
	switch (db_result(res))
	{
		case WF_OK:
			log_task(s, LOG_INFO, NULL, NULL);
			if (q != NULL)
				log_msg(LOG_DEBUG, "claimed %d of %d from queue \"%s\" with the completion of task %s (complete_and_claim)",
						PQntuples(res), eager, q->name, s->task_id);
			release_slot(s);
			if (q != NULL)
			{
				/* the claimed tasks are ours now: they must be run */
				start_claimed(res);
				q->has_work = PQntuples(res) >= eager;
			}
			break;
		case WF_LATE:
			log_task(s, LOG_WARNING, "rejected", db_error(res, line, sizeof(line)));
			release_slot(s);
			/* nothing was claimed with it: let the free slot claim as usual */
			if (q != NULL && !opt.once)
				q->has_work = true;
			break;
		case WF_BAD_DATA:
			if (s->out_kind == OUT_COMPLETE)
			{
				char		msg[1100];
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

				snprintf(msg, sizeof(msg), "%s: %s",
						 strncmp(state, "22", 2) == 0 ? "activity handler output is not valid JSON"
						 : "activity handler output was rejected by the server",
						 db_error(res, line, sizeof(line)));
				fail_slot(s, "invalid-output", msg, false, true);
				PQclear(res);
				report_slot(s);
				return;
			}
			/* a failure report the server cannot take: nothing else to try */
			/* FALLTHROUGH */
		case WF_ERROR:
			if (q != NULL)
			{
				/* maybe only the claim is refused: report without it */
				log_msg(LOG_WARNING, "task %s: complete_and_claim failed, reporting with complete_activity; eager dispatch is off until the next reconnect: %s",
						s->task_id, db_error(res, line, sizeof(line)));
				conn.eager_ready = false;
				PQclear(res);
				report_slot(s);
				return;
			}
			log_task(s, LOG_ERROR, "failed", db_error(res, line, sizeof(line)));
			release_slot(s);
			break;
		case WF_LOST:
			conn_lost(NULL);
			break;
		case WF_TRANSIENT:
			log_msg(LOG_WARNING, "task %s: could not report, will retry: %s",
					s->task_id, db_error(res, line, sizeof(line)));
			s->retry_at = wf_mono_s() + REPORT_RETRY;
			break;
	}
	PQclear(res);
	drain_notifies();
}

/* Send one heartbeat for a running task and act on the answer. */
static void
heartbeat_slot(Slot *s, double now)
{
	PGresult   *res;
	char		line[1024];

	s->next_heartbeat = now + s->heartbeat_every;
	res = wf_heartbeat(conn.pg, s->task_id, NULL, s->workflow_id);
	switch (db_result(res))
	{
		case WF_OK:
			log_msg(LOG_DEBUG, "task %s: heartbeat", s->task_id);
			if (wf_cancel_requested(res))
			{
				log_msg(LOG_INFO, "task %s: cancellation requested, stopping the handler", s->task_id);
				kill_slot(s, KILL_CANCEL);
			}
			break;
		case WF_LATE:
			log_msg(LOG_WARNING, "task %s: lease lost (%s), stopping the handler",
					s->task_id, db_error(res, line, sizeof(line)));
			kill_slot(s, KILL_LOST);
			break;
		case WF_LOST:
			conn_lost(NULL);
			break;
		default:
			log_msg(LOG_WARNING, "task %s: heartbeat failed: %s",
					s->task_id, db_error(res, line, sizeof(line)));
			break;
	}
	PQclear(res);
	drain_notifies();
}

/* Report finished tasks and send due heartbeats while connected. */
static void
talk_to_server(double now)
{
	for (int i = 0; i < opt.concurrency && conn.state == CONN_UP; i++)
	{
		Slot	   *s = &slots[i];

		if (s->state == SLOT_DONE && now >= s->retry_at)
			report_slot(s);
		else if (s->state == SLOT_RUNNING && s->kill_reason == KILL_NONE &&
				 now >= s->next_heartbeat)
			heartbeat_slot(s, now);
	}
}

/* Reap exited handlers and settle their outcome. */
static void
reap_children(void)
{
	pid_t		pid;
	int			wstatus;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
	{
		for (int i = 0; i < opt.concurrency; i++)
		{
			Slot	   *s = &slots[i];

			if (s->state != SLOT_RUNNING || s->pid != pid)
				continue;
			handler_exited(s, wstatus);
			break;
		}
	}
}

/* Enforce timeouts, shutdown grace and SIGKILL escalation. */
static void
check_timers(double now)
{
	for (int i = 0; i < opt.concurrency; i++)
	{
		Slot	   *s = &slots[i];

		if (s->state != SLOT_RUNNING || s->reaped)
			continue;
		if (now >= s->started + s->timeout)
			kill_slot(s, KILL_TIMEOUT);
		if (stopping && now >= stop_deadline)
			kill_slot(s, KILL_SHUTDOWN);
		if (s->kill_reason != KILL_NONE && !s->sigkill_sent && now >= s->kill_at)
		{
			log_msg(LOG_WARNING, "task %s: handler (pid %d) ignored SIGTERM, sending SIGKILL",
					s->task_id, (int) s->pid);
			kill(-s->pid, SIGKILL);
			s->sigkill_sent = true;
		}
	}
}

/*
 * Act on SIGTERM/SIGINT recorded by the signal handler; log SIGHUP, which
 * changes nothing: the configuration is the command line, read once.
 */
static void
handle_signals(void)
{
	char		junk[64];
	int			seen = stop_signals;
	int			hups = hup_signals;

	while (read(self_pipe[0], junk, sizeof(junk)) > 0)
		;
	if (hups != hup_signals_seen)
	{
		hup_signals_seen = hups;
		log_msg(LOG_INFO, "received SIGHUP: ignored (workflow-worker reads its options only at start-up; restart it to change them)");
	}
	if (seen == stop_signals_seen)
		return;
	stop_signals_seen = seen;
	if (!stopping)
	{
		stopping = true;
		stop_deadline = wf_mono_s() + opt.grace;
		log_msg(LOG_INFO, "received %s: no new tasks; waiting up to %g s for %d running task(s)",
				last_signal == SIGINT ? "SIGINT" : "SIGTERM", opt.grace, busy_slots());
	}
	else
	{
		stop_deadline = wf_mono_s();
		log_msg(LOG_INFO, "received another signal: stopping running handlers now");
	}
}

/* Whether the worker is done; sets exit_code when giving up. */
static bool
should_exit(double now)
{
	bool		drained = true;

	if (conn.state == CONN_GAVE_UP)
	{
		exit_code = conn.exit_status;
		return true;
	}
	if (stopping && now >= stop_deadline + opt.kill_grace + GIVE_UP_AFTER)
	{
		for (int i = 0; i < opt.concurrency; i++)
			if (slots[i].state != SLOT_FREE)
			{
				log_msg(LOG_ERROR, "task %s: giving up, its outcome was not reported", slots[i].task_id);
				exit_code = 1;
			}
		return true;
	}
	if (busy_slots() > 0)
		return false;
	if (stopping || (opt.max_tasks > 0 && tasks_finished >= opt.max_tasks))
		return true;
	if (!opt.once || conn.state != CONN_UP)
		return false;
	for (int i = 0; i < opt.nqueues; i++)
		if (opt.queues[i].has_work)
			drained = false;
	return drained;
}

/* Earliest time the loop must wake up for, given the current state. */
static double
next_wakeup(double now)
{
	double		t = conn_next_wakeup(now + 60, stopping);

#define EARLIER(x) do { if ((x) < t) t = (x); } while (0)
	if (stopping)
		EARLIER(stop_deadline + opt.kill_grace + GIVE_UP_AFTER);
	for (int i = 0; i < opt.concurrency; i++)
	{
		const Slot *s = &slots[i];

		if (s->state == SLOT_DONE && conn.state == CONN_UP)
			EARLIER(s->retry_at);
		if (s->state != SLOT_RUNNING || s->reaped)
			continue;
		if (s->kill_reason == KILL_NONE)
		{
			EARLIER(s->started + s->timeout);
			if (stopping)
				EARLIER(stop_deadline);
			if (conn.state == CONN_UP)
				EARLIER(s->next_heartbeat);
		}
		else if (!s->sigkill_sent)
			EARLIER(s->kill_at);
	}
#undef EARLIER
	return t;
}

/* Add a descriptor to the poll set, remembering what it belongs to. */
static void
watch(int *n, int fd, short events, int tag)
{
	poll_fds[*n].fd = fd;
	poll_fds[*n].events = events;
	poll_fds[*n].revents = 0;
	poll_tags[*n] = tag;
	(*n)++;
}

/* Sleep in poll() until something happens or the deadline passes. */
static void
wait_for_events(double until)
{
	int			n = 0;
	double		wait = until - wf_mono_s();
	int			timeout_ms = wait <= 0 ? 0 : (int) (wait * 1000) + 1;

	watch(&n, self_pipe[0], POLLIN, -1);
	if (conn.state == CONN_UP)
		watch(&n, PQsocket(conn.pg), POLLIN, -2);
	else if (conn.state == CONN_CONNECTING && PQsocket(conn.pg) >= 0)
		watch(&n, PQsocket(conn.pg),
			  conn.poll == PGRES_POLLING_READING ? POLLIN : POLLOUT, -2);
	for (int i = 0; i < opt.concurrency; i++)
	{
		const Slot *s = &slots[i];

		if (s->state != SLOT_RUNNING)
			continue;
		if (s->in_fd >= 0)
			watch(&n, s->in_fd, POLLOUT, 3 * i);
		if (s->out_fd >= 0)
			watch(&n, s->out_fd, POLLIN, 3 * i + 1);
		if (s->err_fd >= 0)
			watch(&n, s->err_fd, POLLIN, 3 * i + 2);
	}
	if (poll(poll_fds, n, timeout_ms) < 0)
	{
		if (errno != EINTR)
			log_msg(LOG_WARNING, "poll failed: %s", strerror(errno));
		return;
	}
	for (int k = 0; k < n; k++)
	{
		Slot	   *s;

		if (poll_fds[k].revents == 0 || poll_tags[k] == -1)
			continue;
		if (poll_tags[k] == -2)
		{
			if (conn.state == CONN_CONNECTING)
				conn_continue();
			else if (conn.state == CONN_UP && !PQconsumeInput(conn.pg))
				conn_lost(NULL);
			else
				drain_notifies();
			continue;
		}
		s = &slots[poll_tags[k] / 3];
		if (poll_tags[k] % 3 == 0)
			write_stdin(s);
		else
			read_pipe(s, poll_tags[k] % 3 == 1);
	}
}

/*
 * The event loop: run until should_exit says so; returns the exit status
 * (0, or 1 when the worker gave up on connecting or on reports).
 */
int
run_worker(void)
{
	for (;;)
	{
		double		now;

		handle_signals();
		reap_children();
		now = wf_mono_s();
		check_timers(now);
		conn_tick(now);
		if (conn.state == CONN_UP)
			talk_to_server(now);
		if (conn.state == CONN_UP)
			claim_work(now);
		now = wf_mono_s();
		if (should_exit(now))
			break;
		wait_for_events(next_wakeup(now));
	}
	log_msg(LOG_INFO, "exiting after %ld task(s)", tasks_finished);
	return exit_code;
}

/* Stop what is still running and free everything the slots hold. */
void
slots_cleanup(void)
{
	for (int i = 0; i < opt.concurrency; i++)
		if (slots[i].state != SLOT_FREE)
		{
			if (slots[i].state == SLOT_RUNNING && !slots[i].reaped)
				kill(-slots[i].pid, SIGKILL);
			close_fd(&slots[i].in_fd);
			close_fd(&slots[i].out_fd);
			close_fd(&slots[i].err_fd);
			release_slot(&slots[i]);
		}
	free(slots);
	free(poll_fds);
	free(poll_tags);
	close(self_pipe[0]);
	close(self_pipe[1]);
}
