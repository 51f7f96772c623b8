/*-------------------------------------------------------------------------
 *
 * options.h
 *	  The worker's command line: every setting in one struct.
 *
 * worker/options.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_OPTIONS_H
#define WORKER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define WORKER_VERSION "0.2"

/* An --handler option: activity name and what to execute for it. */
typedef struct Handler
{
	char	   *name;
	char	   *command;
	char	  **argv;			/* built once --shell is known */
} Handler;

/*
 * A --queue option.  has_work is the run-time "a claim may find something
 * here": set by notifications, on connecting and by the fallback poll,
 * cleared when a claim comes back short.
 */
typedef struct Queue
{
	char	   *name;
	bool		has_work;
} Queue;

/* The command line; defaults as in --help. */
typedef struct WorkerOptions
{
	char	   *conninfo;		/* -d; NULL: the PG* environment */
	Queue	   *queues;			/* -q, in order, without duplicates */
	int			nqueues;
	Handler    *handlers;		/* -H, one per activity */
	int			nhandlers;
	bool		shell;			/* --shell: commands run by /bin/sh -c */
	int			concurrency;	/* -c: handlers running at once */
	int			batch;			/* -b: tasks per claim at most */
	double		timeout;		/* -t: seconds before a handler is killed */
	double		heartbeat;		/* --heartbeat-interval, seconds */
	double		poll;			/* --poll-interval, seconds */
	size_t		max_output;		/* --max-output, bytes of stdout */
	double		grace;			/* --grace, seconds after SIGTERM/SIGINT */
	double		kill_grace;		/* --kill-grace, SIGTERM to SIGKILL */
	long		max_tasks;		/* --max-tasks; 0: no limit */
	bool		once;			/* --once */
	char	   *worker_id;		/* --worker-id, default host:pid */
	bool		verbose;		/* -v */
	bool		eager;			/* false with --no-eager */
	bool		exit_on_error;	/* --exit-on-error */
	LogFormat	log_format;		/* --log-format */
} WorkerOptions;

extern WorkerOptions opt;

extern void parse_options(int argc, char **argv);
extern void free_options(void);
extern Queue *find_queue(const char *name);
extern const Handler *find_handler(const char *activity);

#endif							/* WORKER_OPTIONS_H */
