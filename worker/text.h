/*-------------------------------------------------------------------------
 *
 * text.h
 *	  Memory, growable buffers, JSON strings and clean text for the worker.
 *
 * worker/text.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_TEXT_H
#define WORKER_TEXT_H

#include <stddef.h>

/* Growable NUL-terminated byte buffer; {0} is an empty one. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

/* allocation that never returns NULL (it dies instead) */
extern void *xmalloc(size_t size);
extern void *xrealloc(void *old, size_t size);
extern char *xstrdup(const char *s);

/* buffers */
extern void buf_add(Buf *b, const char *data, size_t len);
extern void buf_str(Buf *b, const char *s);
extern void buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void buf_free(Buf *b);
extern void buf_json_string(Buf *b, const char *s);

/* text from outside (handler output, server messages) */
extern char *clean_text(const char *data, size_t len);
extern const char *one_line(const char *msg, char *buf, size_t size);

#endif							/* WORKER_TEXT_H */
