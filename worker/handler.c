/*-------------------------------------------------------------------------
 *
 * handler.c
 *	  The handler contract: spawn the program for a task, feed it, read
 *	  it, and turn how it ended into the task's outcome.
 *
 * A handler is a process of its own (in its own process group, so a
 * signal reaches what it started too; on Linux it gets SIGTERM if the
 * worker dies).  It gets the task's input JSON and a newline on stdin and
 * WORKFLOW_ID, WORKFLOW_RUN_ID, ACTIVITY_ID, ACTIVITY, ATTEMPT, TASK_ID,
 * QUEUE and WORKER_ID in its environment.  Its pipes are non-blocking and
 * served from the event loop; stdout is kept up to --max-output bytes,
 * stderr only as its last ERR_TAIL bytes.
 *
 * The outcome, decided once the process is reaped and its pipes drained:
 *	 exit 0			complete, with stdout as the result (the server
 *					checks it is JSON)
 *	 exit 65		fail, not retryable (EX_DATAERR)
 *	 exit 126, 127	fail, not retryable: the program cannot be executed
 *					(the shell's statuses, and ours when exec fails)
 *	 other exits	fail, retryable (75, EX_TEMPFAIL, is the usual one),
 *					with the tail of stderr as the error
 *	 a signal		fail, retryable
 * unless the worker itself stopped the handler (KillReason): timeout,
 * cancellation, lost lease, shutdown, too much output.  A stop is SIGTERM
 * to the process group, then SIGKILL after --kill-grace.
 *
 * worker/handler.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "handler.h"
#include "log.h"
#include "options.h"
#include "protocol.h"

#define ERR_TAIL		2048	/* bytes of stderr kept for the error */
#define STDOUT_HEAD		2048	/* bytes of bad stdout kept in details */
#define READ_CHUNK		65536

/*
 * The shell's "cannot execute" and "not found" statuses, which the worker
 * uses too when exec fails: retrying would fail the same way.
 */
#define EXIT_CANNOT_EXECUTE	126
#define EXIT_NOT_FOUND		127

/* Make a slot empty: no task, no process, descriptors closed. */
void
slot_clear(Slot *s)
{
	memset(s, 0, sizeof(*s));
	s->state = SLOT_FREE;
	s->in_fd = s->out_fd = s->err_fd = -1;
}

/* Free a slot's memory and make it empty again. */
void
slot_free(Slot *s)
{
	free(s->task_id);
	free(s->activity_id);
	free(s->workflow_id);
	free(s->run_id);
	free(s->queue);
	free(s->activity);
	free(s->input);
	free(s->error);
	free(s->details);
	buf_free(&s->out);
	buf_free(&s->err);
	slot_clear(s);
}

/* Set O_NONBLOCK and/or FD_CLOEXEC on a descriptor. */
void
set_fd_flags(int fd, bool nonblock)
{
	if (nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Close a descriptor if open and mark it closed. */
void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Send SIGTERM to a handler's process group and note why. */
void
kill_slot(Slot *s, KillReason reason)
{
	if (s->reaped || s->pid <= 0 || s->kill_reason != KILL_NONE)
		return;
	s->kill_reason = reason;
	s->kill_at = wf_mono_s() + opt.kill_grace;
	kill(-s->pid, SIGTERM);
	log_msg(LOG_DEBUG, "task %s: sent SIGTERM to handler (pid %d)", s->task_id, (int) s->pid);
}

/*
 * Read once from a handler's stdout or stderr.  Returns true if more may
 * be waiting; false on EOF, error or nothing to read.
 */
bool
read_pipe(Slot *s, bool is_stdout)
{
	int		   *fd = is_stdout ? &s->out_fd : &s->err_fd;
	char		chunk[READ_CHUNK];
	ssize_t		n;

	if (*fd < 0)
		return false;
	n = read(*fd, chunk, sizeof(chunk));
	if (n < 0 && errno == EINTR)
		return true;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n <= 0)
	{
		close_fd(fd);
		return false;
	}
	if (!is_stdout)
	{
		buf_add(&s->err, chunk, n);
		if (s->err.len > 2 * ERR_TAIL)
		{
			memmove(s->err.data, s->err.data + s->err.len - ERR_TAIL, ERR_TAIL + 1);
			s->err.len = ERR_TAIL;
		}
	}
	else if (s->out.len + n > opt.max_output)
		kill_slot(s, KILL_OVERFLOW);
	else
		buf_add(&s->out, chunk, n);
	return true;
}

/* Feed more of the input to a handler's stdin; close it when done. */
void
write_stdin(Slot *s)
{
	ssize_t		n;

	if (s->in_fd < 0)
		return;
	n = write(s->in_fd, s->input + s->in_off, s->in_len - s->in_off);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0)
	{
		/* EPIPE: the handler does not read its input, which is its business */
		close_fd(&s->in_fd);
		return;
	}
	s->in_off += n;
	if (s->in_off >= s->in_len)
		close_fd(&s->in_fd);
}

/* Set a slot's outcome; error and details are copied. */
static void
set_outcome(Slot *s, OutcomeKind kind, const char *label, const char *error,
			bool retryable, const char *details)
{
	free(s->error);
	free(s->details);
	s->out_kind = kind;
	s->label = label;
	s->error = error ? xstrdup(error) : NULL;
	s->retryable = retryable;
	s->details = details ? xstrdup(details) : NULL;
	s->state = SLOT_DONE;
	s->retry_at = 0;
}

/* Build the details JSON for a failed task; caller frees. */
static char *
fail_details(const Slot *s, const char *stderr_tail, bool with_stdout)
{
	Buf			b = {0};

	buf_str(&b, "{");
	if (s->pid > 0 && WIFEXITED(s->wstatus))
		buf_printf(&b, "\"exit_code\": %d, ", WEXITSTATUS(s->wstatus));
	else if (s->pid > 0 && WIFSIGNALED(s->wstatus))
		buf_printf(&b, "\"signal\": %d, ", WTERMSIG(s->wstatus));
	buf_str(&b, "\"stderr\": ");
	buf_json_string(&b, stderr_tail);
	if (with_stdout)
	{
		char	   *head = clean_text(s->out.data ? s->out.data : "",
									  s->out.len > STDOUT_HEAD ? STDOUT_HEAD : s->out.len);

		buf_str(&b, ", \"stdout\": ");
		buf_json_string(&b, head);
		free(head);
	}
	buf_str(&b, ", \"worker_id\": ");
	buf_json_string(&b, opt.worker_id);
	buf_printf(&b, ", \"duration\": %.3f}", s->ended - s->started);
	return b.data;
}

/* The last ERR_TAIL bytes of a handler's stderr as clean text; caller frees. */
static char *
stderr_tail(const Slot *s)
{
	size_t		skip = s->err.len > ERR_TAIL ? s->err.len - ERR_TAIL : 0;

	return clean_text(s->err.data ? s->err.data + skip : "", s->err.len - skip);
}

/* Fail a slot's task with a message; details come from the handler's state. */
void
fail_slot(Slot *s, const char *label, const char *error, bool retryable,
		  bool with_stdout)
{
	char	   *tail = stderr_tail(s);
	char	   *details = fail_details(s, tail, with_stdout);

	set_outcome(s, OUT_FAIL, label, error, retryable, details);
	free(details);
	free(tail);
}

/* The handler is gone and its pipes drained: decide what to report. */
static void
decide_outcome(Slot *s)
{
	int			code = WIFEXITED(s->wstatus) ? WEXITSTATUS(s->wstatus) : -1;
	char		msg[256];

	switch (s->kill_reason)
	{
		case KILL_LOST:
			set_outcome(s, OUT_DROP, "lease-lost", NULL, false, NULL);
			return;
		case KILL_TIMEOUT:
			snprintf(msg, sizeof(msg), "activity handler timed out after %g s and was killed by workflow-worker",
					 s->timeout);
			fail_slot(s, "timed-out", msg, true, false);
			return;
		case KILL_SHUTDOWN:
			fail_slot(s, "killed", "workflow-worker shut down before the activity handler finished",
					  true, false);
			return;
		case KILL_OVERFLOW:
			snprintf(msg, sizeof(msg), "activity handler output exceeds the limit of %zu bytes (--max-output)",
					 opt.max_output);
			fail_slot(s, "invalid-output", msg, false, false);
			return;
		case KILL_CANCEL:
		case KILL_NONE:
			break;
	}
	if (code == 0)
	{
		if (s->out.len == 0 || memchr(s->out.data, '\0', s->out.len) != NULL)
			fail_slot(s, "invalid-output",
					  s->out.len == 0 ? "activity handler output is not valid JSON: empty output"
					  : "activity handler output is not valid JSON: it contains a NUL byte",
					  false, true);
		else
			set_outcome(s, OUT_COMPLETE, "completed", NULL, false, NULL);
	}
	else if (s->kill_reason == KILL_CANCEL)
		fail_slot(s, "cancelled", "activity cancelled at the workflow's request", false, false);
	else if (code < 0)
	{
		snprintf(msg, sizeof(msg), "activity handler was killed by signal %d (%s)",
				 WTERMSIG(s->wstatus), strsignal(WTERMSIG(s->wstatus)));
		fail_slot(s, "failed", msg, true, false);
	}
	else
	{
		char	   *tail = stderr_tail(s);
		bool		cannot_execute = code == EXIT_CANNOT_EXECUTE || code == EXIT_NOT_FOUND;

		if (tail[0] == '\0')
			snprintf(msg, sizeof(msg), "activity handler exited with status %d", code);
		fail_slot(s, cannot_execute ? "cannot-execute" : "failed", tail[0] ? tail : msg,
				  code != EX_DATAERR && !cannot_execute, false);
		free(tail);
	}
}

/* The handler process exited: collect what is left in its pipes. */
static void
drain_slot(Slot *s)
{
	while (read_pipe(s, true))
		;
	while (read_pipe(s, false))
		;
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	close_fd(&s->in_fd);
}

/* A slot's handler was reaped with wstatus: settle the task's outcome. */
void
handler_exited(Slot *s, int wstatus)
{
	s->reaped = true;
	s->wstatus = wstatus;
	s->ended = wf_mono_s();
	drain_slot(s);
	decide_outcome(s);
}

/* Child side of spawn_handler: set up stdio and environment, exec. */
static void
exec_handler(const Slot *s, const Handler *h, const int *fds, pid_t worker)
{
	sigset_t	none;
	char		attempt[16];

	setpgid(0, 0);
#ifdef PR_SET_PDEATHSIG
	/* a handler should not outlive a worker that was killed outright */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != worker)
		_exit(EX_TEMPFAIL);
#endif
	if (dup2(fds[0], 0) < 0 || dup2(fds[3], 1) < 0 || dup2(fds[5], 2) < 0)
		_exit(EX_TEMPFAIL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	snprintf(attempt, sizeof(attempt), "%d", s->attempt);
	setenv("WORKFLOW_ID", s->workflow_id, 1);
	setenv("WORKFLOW_RUN_ID", s->run_id, 1);
	setenv("ACTIVITY_ID", s->activity_id, 1);
	setenv("ACTIVITY", s->activity, 1);
	setenv("ATTEMPT", attempt, 1);
	setenv("TASK_ID", s->task_id, 1);
	setenv("QUEUE", s->queue, 1);
	setenv("WORKER_ID", opt.worker_id, 1);
	execvp(h->argv[0], h->argv);
	fprintf(stderr, "workflow-worker: could not execute \"%s\": %s\n",
			h->argv[0], strerror(errno));
	_exit(errno == ENOENT || errno == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
}

/* Start the handler for a slot's task; false with errno set on failure. */
static bool
spawn_handler(Slot *s, const Handler *h)
{
	int			fds[6];			/* stdin r/w, stdout r/w, stderr r/w */
	int			npipes;
	sigset_t	all,
				old;
	pid_t		worker = getpid();
	pid_t		pid;
	int			save_errno;

	for (npipes = 0; npipes < 3; npipes++)
		if (pipe(&fds[2 * npipes]) != 0)
			break;
	if (npipes < 3)
	{
		save_errno = errno;
		for (int i = 0; i < 2 * npipes; i++)
			close(fds[i]);
		errno = save_errno;
		return false;
	}
	for (int i = 0; i < 6; i++)
		set_fd_flags(fds[i], i == 1 || i == 2 || i == 4);

	/* keep our signal handlers from running in the child before exec */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		exec_handler(s, h, fds, worker);
	save_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[0]);
	close(fds[3]);
	close(fds[5]);
	if (pid < 0)
	{
		close(fds[1]);
		close(fds[2]);
		close(fds[4]);
		errno = save_errno;
		return false;
	}
	setpgid(pid, pid);
	s->pid = pid;
	s->in_fd = fds[1];
	s->out_fd = fds[2];
	s->err_fd = fds[4];
	s->in_off = 0;
	s->in_len = strlen(s->input);
	return true;
}

/*
 * Run the handler for a slot's freshly claimed task.  When there is no
 * handler for its activity or it cannot be started, the task is failed at
 * once (the slot is then SLOT_DONE).
 */
void
start_handler(Slot *s)
{
	const Handler *h = find_handler(s->activity);
	char		msg[512];

	if (h == NULL)
	{
		snprintf(msg, sizeof(msg), "no handler for activity \"%s\" on worker \"%s\"",
				 s->activity, opt.worker_id);
		s->reaped = true;
		fail_slot(s, "no-handler", msg, false, false);
		return;
	}
	if (!spawn_handler(s, h))
	{
		snprintf(msg, sizeof(msg), "could not start activity handler \"%s\": %s",
				 h->command, strerror(errno));
		s->reaped = true;
		fail_slot(s, "failed", msg, true, false);
		return;
	}
	log_msg(LOG_DEBUG, "task %s: started %s (pid %d) for workflow %s attempt %d, timeout %g s, heartbeat every %g s",
			s->task_id, s->activity, (int) s->pid, s->workflow_id, s->attempt,
			s->timeout, s->heartbeat_every);
}
