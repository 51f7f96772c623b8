/*-------------------------------------------------------------------------
 *
 * handler.h
 *	  The handler contract: one claimed task and the process running it.
 *
 * worker/handler.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_HANDLER_H
#define WORKER_HANDLER_H

#include <stdbool.h>
#include <sys/types.h>

#include "text.h"

/* Why the worker signalled a handler. */
typedef enum KillReason
{
	KILL_NONE,
	KILL_TIMEOUT,
	KILL_CANCEL,
	KILL_LOST,
	KILL_SHUTDOWN,
	KILL_OVERFLOW
} KillReason;

/* What to tell the server about a finished task. */
typedef enum OutcomeKind
{
	OUT_COMPLETE,
	OUT_FAIL,
	OUT_DROP
} OutcomeKind;

/* Life cycle of a slot. */
typedef enum SlotState
{
	SLOT_FREE,
	SLOT_RUNNING,
	SLOT_DONE
} SlotState;

/* One claimed task and the handler process running it. */
typedef struct Slot
{
	SlotState	state;

	/* the task as claimed (all strings owned) */
	char	   *task_id;
	char	   *activity_id;
	char	   *workflow_id;
	char	   *run_id;
	char	   *queue;
	char	   *activity;
	char	   *input;
	int			attempt;
	double		heartbeat_every;
	double		timeout;

	/* the handler process */
	pid_t		pid;
	bool		reaped;
	int			wstatus;
	int			in_fd;
	int			out_fd;
	int			err_fd;
	size_t		in_off;
	size_t		in_len;
	Buf			out;
	Buf			err;
	double		started;
	double		ended;
	double		next_heartbeat;
	KillReason	kill_reason;
	double		kill_at;
	bool		sigkill_sent;

	/* the outcome, once the handler is done */
	OutcomeKind out_kind;
	char	   *error;
	bool		retryable;
	char	   *details;
	const char *label;
	double		retry_at;
} Slot;

extern void slot_clear(Slot *s);
extern void slot_free(Slot *s);

extern void start_handler(Slot *s);
extern void handler_exited(Slot *s, int wstatus);
extern void kill_slot(Slot *s, KillReason reason);
extern bool read_pipe(Slot *s, bool is_stdout);
extern void write_stdin(Slot *s);
extern void fail_slot(Slot *s, const char *label, const char *error,
					  bool retryable, bool with_stdout);

extern void set_fd_flags(int fd, bool nonblock);
extern void close_fd(int *fd);

#endif							/* WORKER_HANDLER_H */
