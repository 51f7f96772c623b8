/*-------------------------------------------------------------------------
 *
 * main.c
 *	  workflow-worker: claims activity tasks of the workflow extension from
 *	  one or more queues and runs a program (a handler) for each of them.
 *
 * The program is built in layers, each file including only the headers
 * of its own layer and those below:
 *
 *	 main.c			start-up and exit
 *	 slots.c		the concurrency slots and the event loop
 *	 handler.c		the handler contract: process, pipes, outcome
 *	 connection.c	connect, reconnect, LISTEN, notifications
 *	 options.c		the command line, in one struct
 *	 text.c, log.c	memory, buffers, JSON strings, clean text; log lines
 *	 protocol.c		the worker protocol's SQL, shared with bench/loadgen
 *
 * The manual is the README's "workflow-worker" section.
 *
 * worker/main.c
 *
 *-------------------------------------------------------------------------
 */
#include <fcntl.h>
#include <unistd.h>

#include "connection.h"
#include "log.h"
#include "options.h"
#include "slots.h"
#include "text.h"

/* Make sure descriptors 0, 1 and 2 exist so pipes never land on them. */
static void
ensure_std_fds(void)
{
	int			fd;

	do
	{
		fd = open("/dev/null", O_RDWR);
		if (fd > 2)
			close(fd);
	} while (fd >= 0 && fd <= 2);
}

/* Log the configuration at start-up. */
static void
log_startup(void)
{
	Buf			b = {0};

	for (int i = 0; i < opt.nqueues; i++)
	{
		buf_str(&b, i ? ", " : "");
		buf_str(&b, opt.queues[i].name);
	}
	buf_str(&b, "; activities: ");
	for (int i = 0; i < opt.nhandlers; i++)
	{
		buf_str(&b, i ? ", " : "");
		buf_str(&b, opt.handlers[i].name);
	}
	log_msg(LOG_INFO, "workflow-worker " WORKER_VERSION " starting: worker \"%s\", concurrency %d, queues: %s",
			opt.worker_id, opt.concurrency, b.data);
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	int			exit_code;

	ensure_std_fds();
	parse_options(argc, argv);
	log_verbose = opt.verbose;
	setup_signals();
	slots_init();
	log_startup();
	conn_start();
	exit_code = run_worker();
	slots_cleanup();
	free_options();
	conn_close();
	return exit_code;
}
