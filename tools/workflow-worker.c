/*-------------------------------------------------------------------------
 *
 * workflow-worker.c
 *	  Activity worker for the workflow extension: claims activity tasks
 *	  from one or more queues and runs a program for each of them.
 *
 * Everything happens in one single-threaded event loop.  poll() watches
 * the libpq socket (LISTEN notifications, non-blocking connects), a
 * self-pipe fed by the signal handlers, and the pipes of up to
 * --concurrency handler processes.  Claims, reports and heartbeats are
 * short synchronous queries on the same connection.
 *
 * A task owns its slot from the claim until its outcome has been
 * reported (or rejected by the server as late), so results of handlers
 * that finish while the server is away are kept and reported after the
 * reconnect, and the worker never has more than --concurrency tasks in
 * hand.
 *
 * Eager dispatch: a successful task is reported with complete_and_claim,
 * which claims, in the same transaction, up to as many tasks of its queue
 * as there will be free slots; those are started at once, so the next
 * step of a workflow needs no notification and no claim of its own.
 *
 * tools/workflow-worker.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <libpq-fe.h>

#define WORKER_VERSION "0.1"

#define ERR_TAIL		2048	/* bytes of stderr kept for the error */
#define STDOUT_HEAD		2048	/* bytes of bad stdout kept in details */
#define READ_CHUNK		65536
#define CONNECT_TIMEOUT 10.0	/* seconds for one connection attempt */
#define BACKOFF_MIN		0.1		/* first reconnect delay, seconds */
#define BACKOFF_MAX		5.0		/* reconnect delay cap, seconds */
#define REPORT_RETRY	1.0		/* delay after a transient report error */
#define GIVE_UP_AFTER	10.0	/* extra time for reports at shutdown */
#define MIN_HEARTBEAT	0.1		/* shortest heartbeat interval, seconds */
#define MAX_BATCH		1000	/* claim_activities' max_tasks limit */
#define MAX_CONCURRENCY 10000

/* An --handler option: activity name and what to execute for it. */
typedef struct Handler
{
	char	   *name;
	char	   *command;
	char	  **argv;
} Handler;

/* A queue we listen on; has_work is cleared when a claim comes back short. */
typedef struct Queue
{
	char	   *name;
	bool		has_work;
} Queue;

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

/* Growable NUL-terminated byte buffer. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

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

/* Connection life cycle. */
typedef enum ConnState
{
	CONN_DOWN,
	CONN_CONNECTING,
	CONN_UP
} ConnState;

/* How a query went, as far as the worker cares. */
typedef enum DbStatus
{
	DB_OK,
	DB_LOST,
	DB_LATE,
	DB_BAD_DATA,
	DB_TRANSIENT,
	DB_ERROR
} DbStatus;

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR
} LogLevel;

/* command-line settings */
static char *opt_conninfo;
static Queue *queues;
static int	nqueues;
static Handler *handlers;
static int	nhandlers;
static bool opt_shell;
static int	opt_concurrency = 4;
static int	opt_batch = 10;
static double opt_timeout = 300;
static double opt_heartbeat = 10;
static double opt_poll = 5;
static size_t opt_max_output = 1024 * 1024;
static double opt_grace = 30;
static double opt_kill_grace = 5;
static long opt_max_tasks;
static bool opt_once;
static char *opt_worker_id;
static bool opt_verbose;
static bool opt_eager = true;

/* connection */
static PGconn *conn;
static ConnState conn_state = CONN_DOWN;
static PostgresPollingStatusType conn_poll;
static double conn_retry_at;
static double conn_started;
static double backoff = BACKOFF_MIN;
static bool ever_connected;
static bool eager_ready;		/* wf_complete_claim prepared on conn */

/* slots and counters */
static Slot *slots;
static long tasks_claimed;
static long tasks_finished;
static int	next_queue;
static double next_fallback;

/* shutdown */
static volatile sig_atomic_t stop_signals;
static volatile sig_atomic_t last_signal;
static int	stop_signals_seen;
static bool stopping;
static double stop_deadline;
static int	self_pipe[2] = {-1, -1};
static int	exit_code;
static bool quit;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static const char *sql_claim =
"SELECT task_id, activity_id, workflow_id, run_id, queue, activity, input, attempt,"
" extract(epoch FROM heartbeat_timeout), extract(epoch FROM start_to_close_timeout),"
" extract(epoch FROM lease_expires_at - now())"
" FROM workflow.claim_activities($1::text, $2::text, $3::int)";
static const char *sql_complete =
"SELECT workflow.complete_activity($1::bigint, $2::jsonb)";
/* same columns as sql_claim, so start_task reads both */
static const char *sql_complete_claim =
"SELECT task_id, activity_id, workflow_id, run_id, queue, activity, input, attempt,"
" extract(epoch FROM heartbeat_timeout), extract(epoch FROM start_to_close_timeout),"
" extract(epoch FROM lease_expires_at - now())"
" FROM workflow.complete_and_claim($1::bigint, $2::jsonb, $3::text, $4::text, $5::int)";
static const char *sql_fail =
"SELECT workflow.fail_activity($1::bigint, $2::text, $3::boolean, $4::jsonb)";
static const char *sql_heartbeat =
"SELECT workflow.heartbeat_activity($1::bigint, $2::jsonb)";

static void log_msg(LogLevel level, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static void die(const char *what) __attribute__((noreturn));
static void bad_option(const char *opt, const char *value) __attribute__((noreturn));
static void conn_lost(const char *why);

/* Current time on the monotonic clock, in seconds. */
static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write one log line to stderr: UTC timestamp, pid, level, message. */
static void
log_msg(LogLevel level, const char *fmt,...)
{
	struct timespec ts;
	struct tm	tm;
	char		stamp[32];
	va_list		ap;
	int			save_errno = errno;

	if (level == LOG_DEBUG && !opt_verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ workflow-worker[%d] %s: ", stamp,
			ts.tv_nsec / 1000000, (int) getpid(), level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = save_errno;
}

/* Report a fatal condition and exit. */
static void
die(const char *what)
{
	log_msg(LOG_ERROR, "%s", what);
	exit(1);
}

/* malloc that never returns NULL. */
static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* realloc that never returns NULL. */
static void *
xrealloc(void *old, size_t size)
{
	void	   *p = realloc(old, size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* strdup that never returns NULL. */
static char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* Append len bytes to a buffer, keeping it NUL-terminated. */
static void
buf_add(Buf *b, const char *data, size_t len)
{
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (cap < b->len + len + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* Append a C string to a buffer. */
static void
buf_str(Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Append printf-style formatted text to a buffer. */
static void __attribute__((format(printf, 2, 3)))
buf_printf(Buf *b, const char *fmt,...)
{
	char		tmp[512];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_add(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

/* Release a buffer's memory and empty it. */
static void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Append s as a JSON string literal (s must be valid UTF-8). */
static void
buf_json_string(Buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			buf_add(b, "\\", 1);
			buf_add(b, s, 1);
		}
		else if (c == '\n')
			buf_str(b, "\\n");
		else if (c == '\t')
			buf_str(b, "\\t");
		else if (c == '\r')
			buf_str(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_add(b, s, 1);
	}
	buf_add(b, "\"", 1);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static int
utf8_seq_len(const unsigned char *p, size_t n)
{
	int			len;
	unsigned char lo = 0x80,
				hi = 0xbf;

	if (p[0] > 0 && p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
	{
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	}
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
	{
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	}
	else
		return 0;
	if ((size_t) len > n || p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Copy of data[0..len) as valid UTF-8 text without NUL bytes (anything
 * else becomes '?'), with surrounding whitespace trimmed; caller frees.
 */
static char *
clean_text(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;
	char	   *out = xmalloc(len + 1);
	size_t		o = 0;
	size_t		i = 0;

	while (i < len)
	{
		int			n = utf8_seq_len(p + i, len - i);

		if (n == 0)
		{
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	while (o > 0 && isspace((unsigned char) out[o - 1]))
		o--;
	out[o] = '\0';
	i = 0;
	while (isspace((unsigned char) out[i]))
		i++;
	if (i > 0)
		memmove(out, out + i, o - i + 1);
	return out;
}

/* Copy msg into buf as one line: whitespace runs become one space. */
static const char *
one_line(const char *msg, char *buf, size_t size)
{
	size_t		n = 0;

	for (; msg && *msg && n + 1 < size; msg++)
	{
		bool		space = isspace((unsigned char) *msg);

		if (space && (n == 0 || buf[n - 1] == ' '))
			continue;
		buf[n++] = space ? ' ' : *msg;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

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
	rc = write(self_pipe[1], "x", 1);
	(void) rc;
	errno = save_errno;
}

/* Set O_NONBLOCK and/or FD_CLOEXEC on a descriptor. */
static void
set_fd_flags(int fd, bool nonblock)
{
	if (nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

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

/* Install signal handlers and the self-pipe they write to. */
static void
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
	signal(SIGPIPE, SIG_IGN);
}

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
		   "  -v, --verbose                 debug logging\n"
		   "  -V, --version                 print the version and exit\n"
		   "  -h, --help                    print this help and exit\n\n"
		   "A handler gets the input JSON on stdin and WORKFLOW_ID, WORKFLOW_RUN_ID,\n"
		   "ACTIVITY_ID, ACTIVITY, ATTEMPT, TASK_ID, QUEUE, WORKER_ID in its environment.\n"
		   "Exit 0 completes the activity with stdout (JSON) as the result; exit 75\n"
		   "fails it retryably, exit 65 non-retryably, any other status retryably with\n"
		   "the tail of stderr as the error.\n");
}

/* Complain about a bad option value and exit. */
static void
bad_option(const char *opt, const char *value)
{
	fprintf(stderr, "workflow-worker: invalid value \"%s\" for %s\n"
			"Try \"workflow-worker --help\" for more information.\n", value, opt);
	exit(1);
}

/* Parse an integer option between 1 and max. */
static long
parse_count(const char *opt, const char *value, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v <= 0 || v > max)
		bad_option(opt, value);
	return v;
}

/* Parse a number of seconds (fractions allowed); zero only if allow_zero. */
static double
parse_seconds(const char *opt, const char *value, bool allow_zero)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !isfinite(v) ||
		v < 0 || (v == 0 && !allow_zero) || v > 1e7)
		bad_option(opt, value);
	return v;
}

/* Parse a byte count with an optional K or M suffix. */
static size_t
parse_bytes(const char *opt, const char *value)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || end == value || value[0] == '-')
		bad_option(opt, value);
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v == 0 || v > (unsigned long long) 1 << 30)
		bad_option(opt, value);
	return (size_t) v;
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
	for (int i = 0; i < nqueues; i++)
		if (strcmp(queues[i].name, name) == 0)
			return;
	queues = xrealloc(queues, (nqueues + 1) * sizeof(Queue));
	queues[nqueues].name = xstrdup(name);
	queues[nqueues].has_work = true;
	nqueues++;
}

/* Record a --handler NAME=COMMAND option. */
static void
add_handler(const char *spec)
{
	const char *eq = strchr(spec, '=');
	Handler    *h;

	if (eq == NULL || eq == spec || strspn(eq + 1, " \t\n") == strlen(eq + 1))
		bad_option("--handler", spec);
	for (int i = 0; i < nhandlers; i++)
		if (strncmp(handlers[i].name, spec, eq - spec) == 0 &&
			handlers[i].name[eq - spec] == '\0')
		{
			fprintf(stderr, "workflow-worker: duplicate handler for activity \"%.*s\"\n",
					(int) (eq - spec), spec);
			exit(1);
		}
	handlers = xrealloc(handlers, (nhandlers + 1) * sizeof(Handler));
	h = &handlers[nhandlers++];
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
	for (int i = 0; i < nhandlers; i++)
	{
		Handler    *h = &handlers[i];

		if (opt_shell)
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

/* Parse the command line into the opt_* settings. */
static void
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
				opt_conninfo = optarg;
				break;
			case 'q':
				add_queue(optarg);
				break;
			case 'H':
				add_handler(optarg);
				break;
			case 1:
				opt_shell = true;
				break;
			case 'c':
				opt_concurrency = (int) parse_count("--concurrency", optarg, MAX_CONCURRENCY);
				break;
			case 'b':
				opt_batch = (int) parse_count("--batch", optarg, MAX_BATCH);
				break;
			case 't':
				opt_timeout = parse_seconds("--timeout", optarg, false);
				break;
			case 2:
				opt_heartbeat = parse_seconds("--heartbeat-interval", optarg, false);
				break;
			case 3:
				opt_poll = parse_seconds("--poll-interval", optarg, false);
				break;
			case 4:
				opt_max_output = parse_bytes("--max-output", optarg);
				break;
			case 5:
				opt_grace = parse_seconds("--grace", optarg, true);
				break;
			case 6:
				opt_kill_grace = parse_seconds("--kill-grace", optarg, true);
				break;
			case 7:
				opt_max_tasks = parse_count("--max-tasks", optarg, LONG_MAX);
				break;
			case 8:
				opt_once = true;
				break;
			case 9:
				if (optarg[0] == '\0')
					bad_option("--worker-id", optarg);
				free(opt_worker_id);
				opt_worker_id = clean_text(optarg, strlen(optarg));
				break;
			case 10:
				opt_eager = false;
				break;
			case 'v':
				opt_verbose = true;
				break;
			case 'V':
				printf("workflow-worker " WORKER_VERSION "\n");
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
	if (nqueues == 0 || nhandlers == 0)
	{
		fprintf(stderr, "workflow-worker: at least one --queue and one --handler are required\n"
				"Try \"workflow-worker --help\" for more information.\n");
		exit(1);
	}
	if (opt_conninfo)
	{
		char	   *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(opt_conninfo, &err);

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
	if (opt_worker_id == NULL)
	{
		char		host[256];
		char		id[300];

		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(id, sizeof(id), "%s:%d", host, (int) getpid());
		opt_worker_id = clean_text(id, strlen(id));
	}
	prepare_handlers();
}

/* Look up a queue we serve by name; NULL if it is not one of ours. */
static Queue *
find_queue(const char *name)
{
	for (int i = 0; i < nqueues; i++)
		if (strcmp(queues[i].name, name) == 0)
			return &queues[i];
	return NULL;
}

/* Look up the handler for an activity name. */
static const Handler *
find_handler(const char *activity)
{
	for (int i = 0; i < nhandlers; i++)
		if (strcmp(handlers[i].name, activity) == 0)
			return &handlers[i];
	return NULL;
}

/* Number of slots in use. */
static int
busy_slots(void)
{
	int			n = 0;

	for (int i = 0; i < opt_concurrency; i++)
		if (slots[i].state != SLOT_FREE)
			n++;
	return n;
}

/* Classify a query result; res may be NULL. */
static DbStatus
db_status(const PGresult *res, ExecStatusType want)
{
	const char *state;

	if (res != NULL && PQresultStatus(res) == want)
		return DB_OK;
	if (PQstatus(conn) == CONNECTION_BAD)
		return DB_LOST;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL)
		return DB_TRANSIENT;
	if (strcmp(state, "WF010") == 0)
		return DB_LATE;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "54", 2) == 0)
		return DB_BAD_DATA;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 ||
		strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0)
		return DB_TRANSIENT;
	return DB_ERROR;
}

/* A query's error as one line, "message (detail)", in buf. */
static const char *
db_error(const PGresult *res, char *buf, size_t size)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char		tmp[1024];

	if (primary == NULL)
		return one_line(PQerrorMessage(conn), buf, size);
	if (detail)
		snprintf(tmp, sizeof(tmp), "%s (%s)", primary, detail);
	else
		snprintf(tmp, sizeof(tmp), "%s", primary);
	return one_line(tmp, buf, size);
}

/* Mark queues that got a notification as having work. */
static void
drain_notifies(void)
{
	PGnotify   *n;

	if (conn_state != CONN_UP)
		return;
	while ((n = PQnotifies(conn)) != NULL)
	{
		for (int i = 0; i < nqueues; i++)
			if (!opt_once && strcmp(queues[i].name, n->relname) == 0)
			{
				queues[i].has_work = true;
				log_msg(LOG_DEBUG, "notification for queue \"%s\"", n->relname);
			}
		PQfreemem(n);
	}
}

/* Route server notices (e.g. shutdown messages) into our log. */
static void
notice_processor(void *arg, const char *message)
{
	char		line[1024];

	(void) arg;
	log_msg(LOG_INFO, "server: %s", one_line(message, line, sizeof(line)));
}

/* Forget the connection; schedule the next attempt and return its delay. */
static double
conn_schedule_retry(void)
{
	double		delay = backoff;

	if (conn != NULL)
		PQfinish(conn);
	conn = NULL;
	conn_state = CONN_DOWN;
	eager_ready = false;
	conn_retry_at = now_mono() + delay;
	backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
	return delay;
}

/* A connection attempt failed: log why and retry later (or give up). */
static void
conn_failed(const char *why)
{
	char		line[1024];

	one_line(why ? why : PQerrorMessage(conn), line, sizeof(line));
	if (opt_once && !ever_connected)
	{
		log_msg(LOG_ERROR, "could not connect: %s", line);
		exit_code = 1;
		quit = true;
		PQfinish(conn);
		conn = NULL;
		conn_state = CONN_DOWN;
		return;
	}
	log_msg(LOG_WARNING, "could not connect: %s (retrying in %.1f s)",
			line, conn_schedule_retry());
}

/* An established connection broke. */
static void
conn_lost(const char *why)
{
	char		line[1024];

	one_line(why ? why : PQerrorMessage(conn), line, sizeof(line));
	log_msg(LOG_WARNING, "connection lost: %s (reconnecting in %.1f s)",
			line, conn_schedule_retry());
}

/* Start a non-blocking connection attempt. */
static void
conn_start(void)
{
	const char *keys[8];
	const char *vals[8];
	int			n = 0;

	/* defaults the connection string may override */
	keys[n] = "fallback_application_name";
	vals[n++] = "workflow-worker";
	keys[n] = "keepalives_idle";
	vals[n++] = "30";
	keys[n] = "keepalives_interval";
	vals[n++] = "10";
	keys[n] = "keepalives_count";
	vals[n++] = "3";
	keys[n] = "tcp_user_timeout";
	vals[n++] = "60000";
	if (opt_conninfo)
	{
		keys[n] = "dbname";
		vals[n++] = opt_conninfo;
	}
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	keys[n] = NULL;
	vals[n] = NULL;
	conn = PQconnectStartParams(keys, vals, 1);
	if (conn == NULL)
		die("out of memory");
	conn_started = now_mono();
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		conn_failed(NULL);
		return;
	}
	conn_state = CONN_CONNECTING;
	conn_poll = PGRES_POLLING_WRITING;
	log_msg(LOG_DEBUG, "connecting");
}

/* Run one utility command; false (and the reason logged) on failure. */
static bool
conn_command(const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		char		line[1024];

		log_msg(LOG_WARNING, "\"%s\" failed: %s", sql, db_error(res, line, sizeof(line)));
	}
	PQclear(res);
	return ok;
}

/* Prepare one statement; false (and the reason logged) on failure. */
static bool
conn_prepare(const char *name, const char *sql, int nparams)
{
	PGresult   *res = PQprepare(conn, name, sql, nparams, NULL);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		char		line[1024];

		log_msg(LOG_WARNING, "could not prepare %s: %s", name, db_error(res, line, sizeof(line)));
	}
	PQclear(res);
	return ok;
}

/*
 * Prepare complete_and_claim for eager dispatch (unless --no-eager).  An
 * extension that predates it (SQLSTATE 42883) is served without; false,
 * with the reason logged, only when the set-up must be given up.
 */
static bool
conn_prepare_eager(void)
{
	PGresult   *res;
	const char *state;
	bool		ok = true;

	eager_ready = false;
	if (!opt_eager)
		return true;
	res = PQprepare(conn, "wf_complete_claim", sql_complete_claim, 5, NULL);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		eager_ready = true;
	else if (state != NULL && strcmp(state, "42883") == 0)
		log_msg(LOG_INFO, "the server has no workflow.complete_and_claim (older extension): eager dispatch is off");
	else
	{
		char		line[1024];

		log_msg(LOG_WARNING, "could not prepare wf_complete_claim: %s", db_error(res, line, sizeof(line)));
		ok = false;
	}
	PQclear(res);
	return ok;
}

/* The connection is open: prepare statements, LISTEN, start claiming. */
static void
conn_ready(void)
{
	bool		ok;

	PQsetNoticeProcessor(conn, notice_processor, NULL);
	ok = conn_prepare("wf_claim", sql_claim, 3) &&
		conn_prepare("wf_complete", sql_complete, 2) &&
		conn_prepare("wf_fail", sql_fail, 4) &&
		conn_prepare("wf_heartbeat", sql_heartbeat, 2) &&
		conn_prepare_eager();
	for (int i = 0; ok && i < nqueues; i++)
	{
		char	   *ident = PQescapeIdentifier(conn, queues[i].name, strlen(queues[i].name));
		char	   *sql;

		if (ident == NULL)
		{
			ok = false;
			break;
		}
		sql = xmalloc(strlen(ident) + 8);
		sprintf(sql, "LISTEN %s", ident);
		ok = conn_command(sql);
		free(sql);
		PQfreemem(ident);
	}
	if (!ok)
	{
		if (PQstatus(conn) == CONNECTION_BAD)
			conn_lost(NULL);
		else
			conn_failed("connection set-up failed (is the workflow extension installed?)");
		return;
	}
	conn_state = CONN_UP;
	ever_connected = true;
	backoff = BACKOFF_MIN;
	for (int i = 0; i < nqueues; i++)
		queues[i].has_work = true;
	next_fallback = now_mono() + opt_poll;
	log_msg(LOG_INFO, "connected to database \"%s\" on %s:%s as worker \"%s\"",
			PQdb(conn), PQhost(conn), PQport(conn), opt_worker_id);
}

/* Advance a non-blocking connection attempt. */
static void
conn_continue(void)
{
	conn_poll = PQconnectPoll(conn);
	if (conn_poll == PGRES_POLLING_OK)
		conn_ready();
	else if (conn_poll == PGRES_POLLING_FAILED)
		conn_failed(NULL);
}

/* Send SIGTERM to a handler's process group and note why. */
static void
kill_slot(Slot *s, KillReason reason)
{
	if (s->reaped || s->pid <= 0 || s->kill_reason != KILL_NONE)
		return;
	s->kill_reason = reason;
	s->kill_at = now_mono() + opt_kill_grace;
	kill(-s->pid, SIGTERM);
	log_msg(LOG_DEBUG, "task %s: sent SIGTERM to handler (pid %d)", s->task_id, (int) s->pid);
}

/* Close a descriptor if open and mark it closed. */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * Read once from a handler's stdout or stderr.  Returns true if more may
 * be waiting; false on EOF, error or nothing to read.
 */
static bool
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
	else if (s->out.len + n > opt_max_output)
		kill_slot(s, KILL_OVERFLOW);
	else
		buf_add(&s->out, chunk, n);
	return true;
}

/* Feed more of the input to a handler's stdin; close it when done. */
static void
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
	buf_json_string(&b, opt_worker_id);
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
static void
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
					 opt_max_output);
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

		if (tail[0] == '\0')
			snprintf(msg, sizeof(msg), "activity handler exited with status %d", code);
		fail_slot(s, "failed", tail[0] ? tail : msg, code != EX_DATAERR, false);
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

/* Reap exited handlers and settle their outcome. */
static void
reap_children(void)
{
	pid_t		pid;
	int			wstatus;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
	{
		for (int i = 0; i < opt_concurrency; i++)
		{
			Slot	   *s = &slots[i];

			if (s->state != SLOT_RUNNING || s->pid != pid)
				continue;
			s->reaped = true;
			s->wstatus = wstatus;
			s->ended = now_mono();
			drain_slot(s);
			decide_outcome(s);
			break;
		}
	}
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
		_exit(127);
#endif
	if (dup2(fds[0], 0) < 0 || dup2(fds[3], 1) < 0 || dup2(fds[5], 2) < 0)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
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
	setenv("WORKER_ID", opt_worker_id, 1);
	execvp(h->argv[0], h->argv);
	fprintf(stderr, "workflow-worker: could not execute \"%s\": %s\n",
			h->argv[0], strerror(errno));
	_exit(127);
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

/* Fill a free slot from claim result row i and start its handler. */
static void
start_task(Slot *s, const PGresult *res, int i)
{
	const Handler *h;
	double		hb_timeout = PQgetisnull(res, i, 8) ? 0 : atof(PQgetvalue(res, i, 8));
	double		stc = PQgetisnull(res, i, 9) ? 0 : atof(PQgetvalue(res, i, 9));
	double		lease = PQgetisnull(res, i, 10) ? 0 : atof(PQgetvalue(res, i, 10));
	char		msg[512];

	memset(s, 0, sizeof(*s));
	s->in_fd = s->out_fd = s->err_fd = -1;
	s->task_id = xstrdup(PQgetvalue(res, i, 0));
	s->activity_id = xstrdup(PQgetvalue(res, i, 1));
	s->workflow_id = xstrdup(PQgetvalue(res, i, 2));
	s->run_id = xstrdup(PQgetvalue(res, i, 3));
	s->queue = xstrdup(PQgetvalue(res, i, 4));
	s->activity = xstrdup(PQgetvalue(res, i, 5));
	/* the handler reads one line of JSON: end it with a newline */
	s->input = xmalloc(PQgetlength(res, i, 6) + 2);
	sprintf(s->input, "%s\n", PQgetvalue(res, i, 6));
	s->attempt = atoi(PQgetvalue(res, i, 7));
	s->timeout = (stc > 0 && stc < opt_timeout) ? stc : opt_timeout;
	s->heartbeat_every = opt_heartbeat;
	if (hb_timeout > 0 && hb_timeout / 3 < s->heartbeat_every)
		s->heartbeat_every = hb_timeout / 3;
	if (lease > 0 && lease / 3 < s->heartbeat_every)
		s->heartbeat_every = lease / 3;
	if (s->heartbeat_every < MIN_HEARTBEAT)
		s->heartbeat_every = MIN_HEARTBEAT;
	s->started = s->ended = now_mono();
	s->next_heartbeat = s->started + s->heartbeat_every;
	s->state = SLOT_RUNNING;
	tasks_claimed++;

	h = find_handler(s->activity);
	if (h == NULL)
	{
		snprintf(msg, sizeof(msg), "no handler for activity \"%s\" on worker \"%s\"",
				 s->activity, opt_worker_id);
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

/* Start the tasks a claim (or complete_and_claim) returned in free slots. */
static void
start_claimed(const PGresult *res)
{
	int			rows = PQntuples(res);

	for (int i = 0, next = 0; i < rows; i++)
	{
		while (next < opt_concurrency && slots[next].state != SLOT_FREE)
			next++;
		if (next == opt_concurrency)
		{
			log_msg(LOG_WARNING, "claimed more tasks than asked for; the rest come back when their lease expires");
			break;
		}
		start_task(&slots[next], res, i);
	}
}

/* Claim up to n tasks from a queue and start them. */
static void
claim_from(Queue *q, int n)
{
	char		nbuf[16];
	const char *params[3];
	PGresult   *res;
	char		line[1024];
	int			rows = 0;

	snprintf(nbuf, sizeof(nbuf), "%d", n);
	params[0] = q->name;
	params[1] = opt_worker_id;
	params[2] = nbuf;
	res = PQexecPrepared(conn, "wf_claim", 3, params, NULL, NULL, 0);
	switch (db_status(res, PGRES_TUPLES_OK))
	{
		case DB_OK:
			rows = PQntuples(res);
			start_claimed(res);
			q->has_work = rows >= n;
			log_msg(LOG_DEBUG, "claimed %d of %d from queue \"%s\"", rows, n, q->name);
			break;
		case DB_LOST:
			PQclear(res);
			conn_lost(NULL);
			return;
		default:
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
	if (!opt_once && now >= next_fallback)
	{
		for (int i = 0; i < nqueues; i++)
			queues[i].has_work = true;
		next_fallback = now + opt_poll;
	}
	while (conn_state == CONN_UP && !stopping && !quit)
	{
		int			free_slots = opt_concurrency - busy_slots();
		int			n = free_slots < opt_batch ? free_slots : opt_batch;
		int			qi = -1;

		if (opt_max_tasks > 0 && opt_max_tasks - tasks_claimed < n)
			n = (int) (opt_max_tasks - tasks_claimed);
		if (n <= 0)
			return;
		for (int k = 0; k < nqueues && qi < 0; k++)
			if (queues[(next_queue + k) % nqueues].has_work)
				qi = (next_queue + k) % nqueues;
		if (qi < 0)
			return;
		next_queue = (qi + 1) % nqueues;
		claim_from(&queues[qi], n);
	}
}

/* Free a slot's memory and make it available again. */
static void
release_slot(Slot *s)
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
	memset(s, 0, sizeof(*s));
	s->state = SLOT_FREE;
	s->in_fd = s->out_fd = s->err_fd = -1;
	tasks_finished++;
}

/* The one log line for a finished task. */
static void
log_task(const Slot *s, LogLevel level, const char *report)
{
	char		status[32] = "";
	char		error[300] = "";

	if (s->pid > 0 && WIFEXITED(s->wstatus))
		snprintf(status, sizeof(status), " exit=%d", WEXITSTATUS(s->wstatus));
	else if (s->pid > 0 && WIFSIGNALED(s->wstatus))
		snprintf(status, sizeof(status), " signal=%d", WTERMSIG(s->wstatus));
	if (s->out_kind == OUT_FAIL)
	{
		char		line[256];

		snprintf(error, sizeof(error), " retryable=%s error=\"%s\"",
				 s->retryable ? "true" : "false", one_line(s->error, line, sizeof(line)));
	}
	log_msg(level, "task %s queue=%s activity=%s workflow=%s attempt=%d outcome=%s%s duration=%.3fs%s%s",
			s->task_id, s->queue, s->activity, s->workflow_id, s->attempt, s->label,
			status, s->ended - s->started, error, report);
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
	int			n = opt_concurrency - busy_slots() + 1;

	if (!eager_ready || stopping || quit || q == NULL || (opt_once && !q->has_work))
		return 0;
	for (int i = 0; i < nqueues; i++)
		if (&queues[i] != q && queues[i].has_work)
			return 0;
	if (n > opt_batch)
		n = opt_batch;
	if (opt_max_tasks > 0 && opt_max_tasks - tasks_claimed < n)
		n = (int) (opt_max_tasks - tasks_claimed);
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
	const char *params[5];
	char		line[1024];
	char		note[1100];
	char		nbuf[16];
	int			eager = 0;
	Queue	   *q = NULL;

	if (s->out_kind == OUT_DROP)
	{
		log_task(s, LOG_WARNING, " report=none (the task's lease was lost)");
		release_slot(s);
		return;
	}
	params[0] = s->task_id;
	if (s->out_kind == OUT_COMPLETE && (eager = eager_count(s)) > 0)
	{
		q = find_queue(s->queue);
		snprintf(nbuf, sizeof(nbuf), "%d", eager);
		params[1] = s->out.data;
		params[2] = s->queue;
		params[3] = opt_worker_id;
		params[4] = nbuf;
		res = PQexecPrepared(conn, "wf_complete_claim", 5, params, NULL, NULL, 0);
	}
	else if (s->out_kind == OUT_COMPLETE)
	{
		params[1] = s->out.data;
		res = PQexecPrepared(conn, "wf_complete", 2, params, NULL, NULL, 0);
	}
	else
	{
		params[1] = s->error;
		params[2] = s->retryable ? "true" : "false";
		params[3] = s->details;
		res = PQexecPrepared(conn, "wf_fail", 4, params, NULL, NULL, 0);
	}
	switch (db_status(res, PGRES_TUPLES_OK))
	{
		case DB_OK:
			log_task(s, LOG_INFO, "");
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
		case DB_LATE:
			snprintf(note, sizeof(note), " report=rejected (%s)", db_error(res, line, sizeof(line)));
			log_task(s, LOG_WARNING, note);
			release_slot(s);
			/* nothing was claimed with it: let the free slot claim as usual */
			if (q != NULL && !opt_once)
				q->has_work = true;
			break;
		case DB_BAD_DATA:
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
		case DB_ERROR:
			if (q != NULL)
			{
				/* maybe only the claim is refused: report without it */
				log_msg(LOG_WARNING, "task %s: complete_and_claim failed, reporting with complete_activity; eager dispatch is off until the next reconnect: %s",
						s->task_id, db_error(res, line, sizeof(line)));
				eager_ready = false;
				PQclear(res);
				report_slot(s);
				return;
			}
			snprintf(note, sizeof(note), " report=failed (%s)", db_error(res, line, sizeof(line)));
			log_task(s, LOG_ERROR, note);
			release_slot(s);
			break;
		case DB_LOST:
			PQclear(res);
			conn_lost(NULL);
			return;
		case DB_TRANSIENT:
			log_msg(LOG_WARNING, "task %s: could not report, will retry: %s",
					s->task_id, db_error(res, line, sizeof(line)));
			s->retry_at = now_mono() + REPORT_RETRY;
			break;
	}
	PQclear(res);
	drain_notifies();
}

/* Send one heartbeat for a running task and act on the answer. */
static void
heartbeat_slot(Slot *s, double now)
{
	const char *params[2];
	PGresult   *res;
	char		line[1024];

	params[0] = s->task_id;
	params[1] = NULL;
	s->next_heartbeat = now + s->heartbeat_every;
	res = PQexecPrepared(conn, "wf_heartbeat", 2, params, NULL, NULL, 0);
	switch (db_status(res, PGRES_TUPLES_OK))
	{
		case DB_OK:
			log_msg(LOG_DEBUG, "task %s: heartbeat", s->task_id);
			if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			{
				log_msg(LOG_INFO, "task %s: cancellation requested, stopping the handler", s->task_id);
				kill_slot(s, KILL_CANCEL);
			}
			break;
		case DB_LATE:
			log_msg(LOG_WARNING, "task %s: lease lost (%s), stopping the handler",
					s->task_id, db_error(res, line, sizeof(line)));
			kill_slot(s, KILL_LOST);
			break;
		case DB_LOST:
			PQclear(res);
			conn_lost(NULL);
			return;
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
	for (int i = 0; i < opt_concurrency && conn_state == CONN_UP; i++)
	{
		Slot	   *s = &slots[i];

		if (s->state == SLOT_DONE && now >= s->retry_at)
			report_slot(s);
		else if (s->state == SLOT_RUNNING && s->kill_reason == KILL_NONE &&
				 now >= s->next_heartbeat)
			heartbeat_slot(s, now);
	}
}

/* Enforce timeouts, shutdown grace and SIGKILL escalation. */
static void
check_timers(double now)
{
	for (int i = 0; i < opt_concurrency; i++)
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

/* Act on SIGTERM/SIGINT recorded by the signal handler. */
static void
handle_signals(void)
{
	char		junk[64];
	int			seen = stop_signals;

	while (read(self_pipe[0], junk, sizeof(junk)) > 0)
		;
	if (seen == stop_signals_seen)
		return;
	stop_signals_seen = seen;
	if (!stopping)
	{
		stopping = true;
		stop_deadline = now_mono() + opt_grace;
		log_msg(LOG_INFO, "received %s: no new tasks; waiting up to %g s for %d running task(s)",
				last_signal == SIGINT ? "SIGINT" : "SIGTERM", opt_grace, busy_slots());
	}
	else
	{
		stop_deadline = now_mono();
		log_msg(LOG_INFO, "received another signal: stopping running handlers now");
	}
}

/* Whether the worker is done; sets exit_code when giving up on reports. */
static bool
should_exit(double now)
{
	bool		drained = true;

	if (quit)
		return true;
	if (stopping && now >= stop_deadline + opt_kill_grace + GIVE_UP_AFTER)
	{
		for (int i = 0; i < opt_concurrency; i++)
			if (slots[i].state != SLOT_FREE)
			{
				log_msg(LOG_ERROR, "task %s: giving up, its outcome was not reported", slots[i].task_id);
				exit_code = 1;
			}
		return true;
	}
	if (busy_slots() > 0)
		return false;
	if (stopping || (opt_max_tasks > 0 && tasks_finished >= opt_max_tasks))
		return true;
	if (!opt_once || conn_state != CONN_UP)
		return false;
	for (int i = 0; i < nqueues; i++)
		if (queues[i].has_work)
			drained = false;
	return drained;
}

/* Earliest time the loop must wake up for, given the current state. */
static double
next_wakeup(double now)
{
	double		t = now + 60;

#define EARLIER(x) do { if ((x) < t) t = (x); } while (0)
	if (conn_state == CONN_DOWN)
		EARLIER(conn_retry_at);
	if (conn_state == CONN_CONNECTING)
		EARLIER(conn_started + CONNECT_TIMEOUT);
	if (conn_state == CONN_UP && !opt_once && !stopping)
		EARLIER(next_fallback);
	if (stopping)
		EARLIER(stop_deadline + opt_kill_grace + GIVE_UP_AFTER);
	for (int i = 0; i < opt_concurrency; i++)
	{
		const Slot *s = &slots[i];

		if (s->state == SLOT_DONE && conn_state == CONN_UP)
			EARLIER(s->retry_at);
		if (s->state != SLOT_RUNNING || s->reaped)
			continue;
		if (s->kill_reason == KILL_NONE)
		{
			EARLIER(s->started + s->timeout);
			if (stopping)
				EARLIER(stop_deadline);
			if (conn_state == CONN_UP)
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
watch(struct pollfd *fds, int *tags, int *n, int fd, short events, int tag)
{
	fds[*n].fd = fd;
	fds[*n].events = events;
	fds[*n].revents = 0;
	tags[*n] = tag;
	(*n)++;
}

/* Sleep in poll() until something happens or the deadline passes. */
static void
wait_for_events(struct pollfd *fds, int *tags, double until)
{
	int			n = 0;
	double		wait = until - now_mono();
	int			timeout_ms = wait <= 0 ? 0 : (int) (wait * 1000) + 1;

	watch(fds, tags, &n, self_pipe[0], POLLIN, -1);
	if (conn_state == CONN_UP)
		watch(fds, tags, &n, PQsocket(conn), POLLIN, -2);
	else if (conn_state == CONN_CONNECTING && PQsocket(conn) >= 0)
		watch(fds, tags, &n, PQsocket(conn),
			  conn_poll == PGRES_POLLING_READING ? POLLIN : POLLOUT, -2);
	for (int i = 0; i < opt_concurrency; i++)
	{
		const Slot *s = &slots[i];

		if (s->state != SLOT_RUNNING)
			continue;
		if (s->in_fd >= 0)
			watch(fds, tags, &n, s->in_fd, POLLOUT, 3 * i);
		if (s->out_fd >= 0)
			watch(fds, tags, &n, s->out_fd, POLLIN, 3 * i + 1);
		if (s->err_fd >= 0)
			watch(fds, tags, &n, s->err_fd, POLLIN, 3 * i + 2);
	}
	if (poll(fds, n, timeout_ms) < 0)
	{
		if (errno != EINTR)
			log_msg(LOG_WARNING, "poll failed: %s", strerror(errno));
		return;
	}
	for (int k = 0; k < n; k++)
	{
		Slot	   *s;

		if (fds[k].revents == 0 || tags[k] == -1)
			continue;
		if (tags[k] == -2)
		{
			if (conn_state == CONN_CONNECTING)
				conn_continue();
			else if (conn_state == CONN_UP && !PQconsumeInput(conn))
				conn_lost(NULL);
			else
				drain_notifies();
			continue;
		}
		s = &slots[tags[k] / 3];
		if (tags[k] % 3 == 0)
			write_stdin(s);
		else
			read_pipe(s, tags[k] % 3 == 1);
	}
}

/* Log the configuration at start-up. */
static void
log_startup(void)
{
	Buf			b = {0};

	for (int i = 0; i < nqueues; i++)
	{
		buf_str(&b, i ? ", " : "");
		buf_str(&b, queues[i].name);
	}
	buf_str(&b, "; activities: ");
	for (int i = 0; i < nhandlers; i++)
	{
		buf_str(&b, i ? ", " : "");
		buf_str(&b, handlers[i].name);
	}
	log_msg(LOG_INFO, "workflow-worker " WORKER_VERSION " starting: worker \"%s\", concurrency %d, queues: %s",
			opt_worker_id, opt_concurrency, b.data);
	buf_free(&b);
}

/* Free everything still allocated at exit. */
static void
cleanup(void)
{
	for (int i = 0; i < opt_concurrency; i++)
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
	for (int i = 0; i < nqueues; i++)
		free(queues[i].name);
	free(queues);
	for (int i = 0; i < nhandlers; i++)
	{
		for (char **a = handlers[i].argv; *a; a++)
			free(*a);
		free(handlers[i].argv);
		free(handlers[i].name);
		free(handlers[i].command);
	}
	free(handlers);
	free(opt_worker_id);
	if (conn != NULL)
		PQfinish(conn);
	close(self_pipe[0]);
	close(self_pipe[1]);
}

int
main(int argc, char **argv)
{
	struct pollfd *fds;
	int		   *tags;

	ensure_std_fds();
	parse_options(argc, argv);
	setup_signals();
	slots = xmalloc(opt_concurrency * sizeof(Slot));
	for (int i = 0; i < opt_concurrency; i++)
	{
		memset(&slots[i], 0, sizeof(Slot));
		slots[i].in_fd = slots[i].out_fd = slots[i].err_fd = -1;
	}
	fds = xmalloc((2 + 3 * opt_concurrency) * sizeof(struct pollfd));
	tags = xmalloc((2 + 3 * opt_concurrency) * sizeof(int));
	log_startup();
	conn_start();

	for (;;)
	{
		double		now;

		handle_signals();
		reap_children();
		now = now_mono();
		check_timers(now);
		if (conn_state == CONN_DOWN && now >= conn_retry_at && !quit)
			conn_start();
		else if (conn_state == CONN_CONNECTING && now >= conn_started + CONNECT_TIMEOUT)
			conn_failed("timeout expired");
		else if (conn_state == CONN_CONNECTING && PQsocket(conn) < 0)
			conn_continue();
		if (conn_state == CONN_UP)
			talk_to_server(now);
		if (conn_state == CONN_UP)
			claim_work(now);
		now = now_mono();
		if (should_exit(now))
			break;
		wait_for_events(fds, tags, next_wakeup(now));
	}

	log_msg(LOG_INFO, "exiting after %ld task(s)", tasks_finished);
	free(fds);
	free(tags);
	cleanup();
	return exit_code;
}
