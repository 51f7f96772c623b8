/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Parse the worker's command line into one WorkerOptions struct.
 *
 * Every option is checked here, before anything connects: a bad value
 * ends the program with exit status 1 and a line on stderr that names the
 * option (no log prefix: nothing has started yet).  A handler's command is
 * split on whitespace into an argv, or with --shell handed to /bin/sh -c;
 * either way it is done once, after all options are known.
 *
 * worker/options.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "options.h"
#include "text.h"

#define MAX_BATCH		1000	/* claim_activities' max_tasks limit */
#define MAX_CONCURRENCY 10000

WorkerOptions opt = {
	.concurrency = 4,
	.batch = 10,
	.timeout = 300,
	.heartbeat = 10,
	.poll = 5,
	.max_output = 1024 * 1024,
	.grace = 30,
	.kill_grace = 5,
	.eager = true,
};

static void bad_option(const char *option, const char *value) __attribute__((noreturn));

/* Print the usage text. */
static void
usage(void)
{
	printf("workflow-worker runs activity tasks of the workflow extension.\n\n"
		   "Usage:\n"
		   "  workflow-worker [OPTION]... -q QUEUE --handler NAME=COMMAND...\n\n"
		   "Options:\n"
		   "  -d, --dbname=CONNSTR          libpq connection string (default: PG* environment)\n"
		   "  -q, --queue=NAME              queue to serve (repeatable, at least one)\n"
		   "  -H, --handler=NAME=COMMAND    run COMMAND for activity NAME (repeatable)\n"
		   "      --shell                   run commands with /bin/sh -c instead of splitting\n"
		   "                                them on whitespace\n"
		   "  -c, --concurrency=N           handlers running at once (default 4)\n"
		   "  -b, --batch=N                 tasks claimed per query at most (default 10)\n"
		   "  -t, --timeout=SECONDS         kill a handler after this long (default 300)\n"
		   "      --heartbeat-interval=SECONDS\n"
		   "                                heartbeat period while a handler runs (default 10)\n"
		   "      --poll-interval=SECONDS   claim this often even without notifications\n"
		   "                                (default 5)\n"
		   "      --max-output=BYTES        largest accepted stdout, K/M suffix allowed\n"
		   "                                (default 1M)\n"
		   "      --grace=SECONDS           on SIGTERM/SIGINT, wait this long for running\n"
		   "                                handlers before killing them (default 30)\n"
		   "      --kill-grace=SECONDS      SIGTERM to SIGKILL delay for handlers (default 5)\n"
		   "      --max-tasks=N             exit after N tasks have finished\n"
		   "      --once                    run what can be claimed now, then exit\n"
		   "      --worker-id=ID            worker id given to the server (default host:pid)\n"
		   "      --no-eager                never claim along with a completion: report\n"
		   "                                with complete_activity, claim separately\n"
		   "      --exit-on-error           exit (status 2) when a queue is not granted or\n"
		   "                                the extension is missing, instead of retrying\n"
		   "                                (always so with --once)\n"
		   "      --log-format=FORMAT       text (logfmt fields, the default) or json\n"
		   "  -v, --verbose                 debug logging\n"
		   "  -V, --version                 print the version and exit\n"
		   "  -h, --help                    print this help and exit\n\n"
		   "A handler gets the input JSON on stdin and WORKFLOW_ID, WORKFLOW_RUN_ID,\n"
		   "ACTIVITY_ID, ACTIVITY, ATTEMPT, TASK_ID, QUEUE, WORKER_ID in its environment.\n"
		   "Exit 0 completes the activity with stdout (JSON) as the result; exit 75\n"
		   "fails it retryably, exit 65 non-retryably, any other status retryably with\n"
		   "the tail of stderr as the error; 126 and 127 (cannot execute) fail it\n"
		   "non-retryably.  Every handler's program is checked at start-up.\n"
		   "SIGTERM/SIGINT stop the worker gracefully; SIGHUP is logged and ignored.\n");
}

/* Complain about a bad option value and exit. */
static void
bad_option(const char *option, const char *value)
{
	fprintf(stderr, "workflow-worker: invalid value \"%s\" for %s\n"
			"Try \"workflow-worker --help\" for more information.\n", value, option);
	exit(1);
}

/* Parse an integer option between 1 and max. */
static long
parse_count(const char *option, const char *value, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v <= 0 || v > max)
		bad_option(option, value);
	return v;
}

/* Parse a number of seconds (fractions allowed); zero only if allow_zero. */
static double
parse_seconds(const char *option, const char *value, bool allow_zero)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !isfinite(v) ||
		v < 0 || (v == 0 && !allow_zero) || v > 1e7)
		bad_option(option, value);
	return v;
}

/* Parse a byte count with an optional K or M suffix. */
static size_t
parse_bytes(const char *option, const char *value)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || end == value || value[0] == '-')
		bad_option(option, value);
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v == 0 || v > (unsigned long long) 1 << 30)
		bad_option(option, value);
	return (size_t) v;
}

/* Parse --log-format. */
static LogFormat
parse_log_format(const char *value)
{
	if (strcmp(value, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(value, "json") == 0)
		return LOG_FORMAT_JSON;
	bad_option("--log-format", value);
}

/* Split a command line on whitespace into a NULL-terminated argv. */
static char **
split_words(const char *command)
{
	char	  **argv = xmalloc((strlen(command) / 2 + 2) * sizeof(char *));
	int			n = 0;
	const char *p = command;

	for (;;)
	{
		const char *start;
		char	   *word;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && !isspace((unsigned char) *p))
			p++;
		word = xmalloc(p - start + 1);
		memcpy(word, start, p - start);
		word[p - start] = '\0';
		argv[n++] = word;
	}
	argv[n] = NULL;
	return argv;
}

/* Record a --queue option (duplicates are ignored). */
static void
add_queue(const char *name)
{
	if (name[0] == '\0')
		bad_option("--queue", name);
	if (find_queue(name) != NULL)
		return;
	opt.queues = xrealloc(opt.queues, (opt.nqueues + 1) * sizeof(Queue));
	opt.queues[opt.nqueues].name = xstrdup(name);
	opt.queues[opt.nqueues].has_work = true;
	opt.nqueues++;
}

/* Record a --handler NAME=COMMAND option. */
static void
add_handler(const char *spec)
{
	const char *eq = strchr(spec, '=');
	Handler    *h;

	if (eq == NULL || eq == spec || strspn(eq + 1, " \t\n") == strlen(eq + 1))
		bad_option("--handler", spec);
	for (int i = 0; i < opt.nhandlers; i++)
		if (strncmp(opt.handlers[i].name, spec, eq - spec) == 0 &&
			opt.handlers[i].name[eq - spec] == '\0')
		{
			fprintf(stderr, "workflow-worker: duplicate handler for activity \"%.*s\"\n",
					(int) (eq - spec), spec);
			exit(1);
		}
	opt.handlers = xrealloc(opt.handlers, (opt.nhandlers + 1) * sizeof(Handler));
	h = &opt.handlers[opt.nhandlers++];
	h->name = xmalloc(eq - spec + 1);
	memcpy(h->name, spec, eq - spec);
	h->name[eq - spec] = '\0';
	h->command = xstrdup(eq + 1);
	h->argv = NULL;
}

/* Build each handler's argv once all options (including --shell) are known. */
static void
prepare_handlers(void)
{
	for (int i = 0; i < opt.nhandlers; i++)
	{
		Handler    *h = &opt.handlers[i];

		if (opt.shell)
		{
			h->argv = xmalloc(4 * sizeof(char *));
			h->argv[0] = xstrdup("/bin/sh");
			h->argv[1] = xstrdup("-c");
			h->argv[2] = xstrdup(h->command);
			h->argv[3] = NULL;
		}
		else
			h->argv = split_words(h->command);
	}
}

/* Why path cannot be executed (a static string), or NULL if it can. */
static const char *
not_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? "not found" : "cannot be examined";
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
		return "is not executable";
	return NULL;
}

/*
 * Why a program name cannot be executed, looked up like execvp() does: a
 * name with a slash is a path (relative to the working directory), any
 * other is searched in PATH.  NULL when it can be.
 */
static const char *
program_problem(const char *program)
{
	const char *path = getenv("PATH");
	const char *why = "not found in PATH";

	if (strchr(program, '/') != NULL)
		return not_executable(program);
	if (path == NULL || path[0] == '\0')
		path = "/bin:/usr/bin";
	while (why != NULL)
	{
		size_t		len = strcspn(path, ":");
		char	   *candidate = xmalloc(len + strlen(program) + 3);

		sprintf(candidate, "%.*s/%s", (int) len, len ? path : ".", program);
		if (not_executable(candidate) == NULL)
			why = NULL;
		free(candidate);
		if (path[len] == '\0')
			break;
		path += len + 1;
	}
	return why;
}

/*
 * Refuse to start with a handler whose program cannot be executed: every
 * task of its activity would fail.  With --shell the command is the
 * shell's business; /bin/sh is checked, and at run time the shell's "not
 * found" (127) or "cannot execute" (126) fails the task for good.
 */
static void
check_handlers(void)
{
	for (int i = 0; i < opt.nhandlers; i++)
	{
		const Handler *h = &opt.handlers[i];
		const char *why = program_problem(h->argv[0]);

		if (why != NULL)
		{
			fprintf(stderr, "workflow-worker: the handler for activity \"%s\" cannot be executed: \"%s\" %s\n",
					h->name, h->argv[0], why);
			exit(1);
		}
	}
}

/* Refuse a connection string libpq cannot parse. */
static void
check_conninfo(void)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(opt.conninfo, &err);

	if (opts == NULL)
	{
		char		line[512];

		fprintf(stderr, "workflow-worker: invalid connection string: %s\n",
				one_line(err ? err : "out of memory", line, sizeof(line)));
		PQfreemem(err);
		exit(1);
	}
	PQconninfoFree(opts);
}

/* The default worker id: host:pid. */
static char *
default_worker_id(void)
{
	char		host[256];
	char		id[300];

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(id, sizeof(id), "%s:%d", host, (int) getpid());
	return clean_text(id, strlen(id));
}

/*
 * Parse the command line into opt; exits on a bad one (status 1) and on
 * --help or --version (status 0).
 */
void
parse_options(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"queue", required_argument, NULL, 'q'},
		{"handler", required_argument, NULL, 'H'},
		{"shell", no_argument, NULL, 1},
		{"concurrency", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'},
		{"heartbeat-interval", required_argument, NULL, 2},
		{"poll-interval", required_argument, NULL, 3},
		{"max-output", required_argument, NULL, 4},
		{"grace", required_argument, NULL, 5},
		{"kill-grace", required_argument, NULL, 6},
		{"max-tasks", required_argument, NULL, 7},
		{"once", no_argument, NULL, 8},
		{"worker-id", required_argument, NULL, 9},
		{"no-eager", no_argument, NULL, 10},
		{"exit-on-error", no_argument, NULL, 11},
		{"log-format", required_argument, NULL, 12},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	while ((c = getopt_long(argc, argv, "d:q:H:c:b:t:vVh", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opt.conninfo = optarg;
				break;
			case 'q':
				add_queue(optarg);
				break;
			case 'H':
				add_handler(optarg);
				break;
			case 1:
				opt.shell = true;
				break;
			case 'c':
				opt.concurrency = (int) parse_count("--concurrency", optarg, MAX_CONCURRENCY);
				break;
			case 'b':
				opt.batch = (int) parse_count("--batch", optarg, MAX_BATCH);
				break;
			case 't':
				opt.timeout = parse_seconds("--timeout", optarg, false);
				break;
			case 2:
				opt.heartbeat = parse_seconds("--heartbeat-interval", optarg, false);
				break;
			case 3:
				opt.poll = parse_seconds("--poll-interval", optarg, false);
				break;
			case 4:
				opt.max_output = parse_bytes("--max-output", optarg);
				break;
			case 5:
				opt.grace = parse_seconds("--grace", optarg, true);
				break;
			case 6:
				opt.kill_grace = parse_seconds("--kill-grace", optarg, true);
				break;
			case 7:
				opt.max_tasks = parse_count("--max-tasks", optarg, LONG_MAX);
				break;
			case 8:
				opt.once = true;
				break;
			case 9:
				if (optarg[0] == '\0')
					bad_option("--worker-id", optarg);
				free(opt.worker_id);
				opt.worker_id = clean_text(optarg, strlen(optarg));
				break;
			case 10:
				opt.eager = false;
				break;
			case 11:
				opt.exit_on_error = true;
				break;
			case 12:
				opt.log_format = parse_log_format(optarg);
				break;
			case 'v':
				opt.verbose = true;
				break;
			case 'V':
				printf("workflow-worker " WORKER_VERSION "\n"
					   "features: handler programs checked at start-up, SIGHUP ignored,\n"
					   "--exit-on-error (exit status 2), --log-format=text|json\n");
				exit(0);
			case 'h':
				usage();
				exit(0);
			default:
				fprintf(stderr, "Try \"workflow-worker --help\" for more information.\n");
				exit(1);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "workflow-worker: unexpected argument \"%s\"\n"
				"Try \"workflow-worker --help\" for more information.\n", argv[optind]);
		exit(1);
	}
	if (opt.nqueues == 0 || opt.nhandlers == 0)
	{
		fprintf(stderr, "workflow-worker: at least one --queue and one --handler are required\n"
				"Try \"workflow-worker --help\" for more information.\n");
		exit(1);
	}
	if (opt.conninfo)
		check_conninfo();
	if (opt.worker_id == NULL)
		opt.worker_id = default_worker_id();
	prepare_handlers();
	check_handlers();
	log_format = opt.log_format;
}

/* Free what parse_options allocated. */
void
free_options(void)
{
	for (int i = 0; i < opt.nqueues; i++)
		free(opt.queues[i].name);
	free(opt.queues);
	for (int i = 0; i < opt.nhandlers; i++)
	{
		for (char **a = opt.handlers[i].argv; *a; a++)
			free(*a);
		free(opt.handlers[i].argv);
		free(opt.handlers[i].name);
		free(opt.handlers[i].command);
	}
	free(opt.handlers);
	free(opt.worker_id);
}

/* Look up a queue we serve by name; NULL if it is not one of ours. */
Queue *
find_queue(const char *name)
{
	for (int i = 0; i < opt.nqueues; i++)
		if (strcmp(opt.queues[i].name, name) == 0)
			return &opt.queues[i];
	return NULL;
}

/* Look up the handler for an activity name; NULL if there is none. */
const Handler *
find_handler(const char *activity)
{
	for (int i = 0; i < opt.nhandlers; i++)
		if (strcmp(opt.handlers[i].name, activity) == 0)
			return &opt.handlers[i];
	return NULL;
}
