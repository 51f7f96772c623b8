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

/* whether LOG_DEBUG lines are written (--verbose) */
extern bool log_verbose;

extern void log_msg(LogLevel level, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void die(const char *what) __attribute__((noreturn));

#endif							/* WORKER_LOG_H */
