/*-------------------------------------------------------------------------
 *
 * log.c
 *	  The worker's log lines on stderr.
 *
 * Two formats (--log-format).  text, the default, is "<UTC time with
 * milliseconds>Z workflow-worker[<pid>] <LEVEL>: <message>" followed by the
 * line's fields as logfmt pairs, key=value, a value in double quotes (with
 * \" \\ \n \r \t escapes) when it is empty or holds a space, '=', '"', a
 * backslash or a control character.  json writes one object per line:
 * "ts", "level", "pid", "msg" and the fields.  Either way a line is
 * written with one write(2), and text from outside (handler stderr, server
 * messages) is made valid UTF-8 first.  The README documents both formats
 * and operators parse them, so they do not change.  errno survives a log
 * call, so a caller may log before it reports errno.
 *
 * worker/log.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

bool		log_verbose;
LogFormat	log_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
static const char *const json_level_names[] = {"debug", "info", "warning", "error"};

/* Whether a logfmt value must be quoted. */
static bool
logfmt_needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s; s++)
		if (*s == ' ' || *s == '=' || *s == '"' || *s == '\\' ||
			(unsigned char) *s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Append a logfmt value, quoted and escaped if it must be. */
static void
buf_logfmt_value(Buf *b, const char *s)
{
	if (!logfmt_needs_quotes(s))
	{
		buf_str(b, s);
		return;
	}
	buf_json_string(b, s);
}

/* Append the clean (valid UTF-8) form of s as a JSON string. */
static void
buf_json_text(Buf *b, const char *s)
{
	char	   *clean = clean_text(s, strlen(s));

	buf_json_string(b, clean);
	free(clean);
}

/* Append the clean form of s as a logfmt value. */
static void
buf_logfmt_text(Buf *b, const char *s)
{
	char	   *clean = clean_text(s, strlen(s));

	buf_logfmt_value(b, clean);
	free(clean);
}

/* Build one line of the text format. */
static void
format_text(Buf *b, const char *stamp, long ms, LogLevel level, const char *msg,
			const LogField *fields, int nfields)
{
	char	   *clean = clean_text(msg, strlen(msg));

	buf_printf(b, "%s.%03ldZ workflow-worker[%d] %s: ", stamp, ms,
			   (int) getpid(), level_names[level]);
	/* a message is one line: a newline in it would start a fake one */
	for (char *p = clean; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	buf_str(b, clean);
	free(clean);
	for (int i = 0; i < nfields; i++)
	{
		buf_printf(b, " %s=", fields[i].key);
		buf_logfmt_text(b, fields[i].value);
	}
}

/* Build one line of the json format. */
static void
format_json(Buf *b, const char *stamp, long ms, LogLevel level, const char *msg,
			const LogField *fields, int nfields)
{
	buf_printf(b, "{\"ts\": \"%s.%03ldZ\", \"level\": \"%s\", \"pid\": %d, \"msg\": ",
			   stamp, ms, json_level_names[level], (int) getpid());
	buf_json_text(b, msg);
	for (int i = 0; i < nfields; i++)
	{
		buf_str(b, ", ");
		buf_json_string(b, fields[i].key);
		buf_str(b, ": ");
		if (fields[i].literal)
			buf_str(b, fields[i].value);
		else
			buf_json_text(b, fields[i].value);
	}
	buf_str(b, "}");
}

/* Write one log line with a message and fields, in --log-format. */
void
log_fields(LogLevel level, const char *msg, const LogField *fields, int nfields)
{
	struct timespec ts;
	struct tm	tm;
	char		stamp[32];
	Buf			b = {0};
	int			save_errno = errno;
	ssize_t		rc;

	if (level == LOG_DEBUG && !log_verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp),
			 log_format == LOG_FORMAT_JSON ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
	if (log_format == LOG_FORMAT_JSON)
		format_json(&b, stamp, ts.tv_nsec / 1000000, level, msg, fields, nfields);
	else
		format_text(&b, stamp, ts.tv_nsec / 1000000, level, msg, fields, nfields);
	buf_str(&b, "\n");
	rc = write(STDERR_FILENO, b.data, b.len);
	(void) rc;
	buf_free(&b);
	errno = save_errno;
}

/* Write one log line with a printf-style message and no fields. */
void
log_msg(LogLevel level, const char *fmt,...)
{
	va_list		ap;
	char	   *msg;
	int			n;
	int			save_errno = errno;

	if (level == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	msg = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t) n + 1, fmt, ap);
	va_end(ap);
	errno = save_errno;
	log_fields(level, msg, NULL, 0);
	free(msg);
	errno = save_errno;
}

/*
 * Report a fatal condition and exit.  Logging allocates, and running out
 * of memory is fatal: a die() from within the log call exits at once.
 */
void
die(const char *what)
{
	static bool dying;

	if (!dying)
	{
		dying = true;
		log_msg(LOG_ERROR, "%s", what);
	}
	exit(1);
}
