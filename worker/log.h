/*-------------------------------------------------------------------------
 *
 * log.h
 *	  The worker's log lines on stderr.
 *
 * worker/log.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_LOG_H
#define WORKER_LOG_H

#include <stdbool.h>

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR
} LogLevel;

/* --log-format */
typedef enum LogFormat
{
	LOG_FORMAT_TEXT,			/* "<time> workflow-worker[pid] LEVEL: msg k=v" */
	LOG_FORMAT_JSON				/* one JSON object per line */
} LogFormat;

/*
 * A key=value pair of a log line.  A literal value (a number, true or
 * false) is written without quotes in JSON; any other value is a string.
 */
typedef struct LogField
{
	const char *key;
	const char *value;
	bool		literal;
} LogField;

/* whether LOG_DEBUG lines are written (--verbose) */
extern bool log_verbose;
extern LogFormat log_format;

extern void log_msg(LogLevel level, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void log_fields(LogLevel level, const char *msg, const LogField *fields, int nfields);
extern void die(const char *what) __attribute__((noreturn));

#endif							/* WORKER_LOG_H */
