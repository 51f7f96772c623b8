/*-------------------------------------------------------------------------
 *
 * text.c
 *	  Memory, growable buffers, JSON strings and clean text for the worker.
 *
 * What a handler writes is arbitrary bytes, but what the worker sends to
 * the server (an error message, the details JSON) and writes to its log
 * must be valid UTF-8 without NUL bytes, and a log entry must stay on one
 * line.  clean_text and one_line make it so; buf_json_string then quotes
 * clean text as a JSON string.  Running out of memory is fatal: the worker
 * holds no state that outlives it (a claimed task comes back when its
 * lease expires).
 *
 * worker/text.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text.h"

/* malloc that never returns NULL. */
void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* realloc that never returns NULL. */
void *
xrealloc(void *old, size_t size)
{
	void	   *p = realloc(old, size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* strdup that never returns NULL. */
char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* Append len bytes to a buffer, keeping it NUL-terminated. */
void
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
void
buf_str(Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Append printf-style formatted text to a buffer. */
void
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
void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Append s as a JSON string literal (s must be valid UTF-8). */
void
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
char *
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
const char *
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
