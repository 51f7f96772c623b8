/*-------------------------------------------------------------------------
 *
 * log.c
 *	  The worker's log lines on stderr.
 *
 * Every line is "<UTC time with milliseconds>Z workflow-worker[<pid>]
 * <LEVEL>: <message>"; the README documents the format and operators parse
 * it, so it does not change.  errno survives a log call, so a caller may
 * log before it reports errno.
 *
 * worker/log.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

bool		log_verbose;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

/* Write one log line to stderr: UTC timestamp, pid, level, message. */
void
log_msg(LogLevel level, const char *fmt,...)
{
	struct timespec ts;
	struct tm	tm;
	char		stamp[32];
	va_list		ap;
	int			save_errno = errno;

	if (level == LOG_DEBUG && !log_verbose)
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
void
die(const char *what)
{
	log_msg(LOG_ERROR, "%s", what);
	exit(1);
}
