/*-------------------------------------------------------------------------
 * buf.c
 *	  Growable strings, escaping and form decoding (see buf.h).
 *-------------------------------------------------------------------------
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n);

	if (q == NULL)
	{
		fprintf(stderr, "workflow-ui: out of memory\n");
		abort();
	}
	return q;
}

void
buf_init(Buf *b)
{
	b->cap = 256;
	b->len = 0;
	b->data = xrealloc(NULL, b->cap);
	b->data[0] = '\0';
}

void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void
buf_reserve(Buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
}

void
buf_putn(Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_put(Buf *b, const char *s)
{
	if (s)
		buf_putn(b, s, strlen(s));
}

void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

void
buf_html(Buf *b, const char *s)
{
	const char *run = s;

	if (s == NULL)
		return;
	for (; *s; s++)
	{
		const char *rep;

		switch (*s)
		{
			case '&':
				rep = "&amp;";
				break;
			case '<':
				rep = "&lt;";
				break;
			case '>':
				rep = "&gt;";
				break;
			case '"':
				rep = "&quot;";
				break;
			case '\'':
				rep = "&#39;";
				break;
			default:
				continue;
		}
		buf_putn(b, run, (size_t) (s - run));
		buf_put(b, rep);
		run = s + 1;
	}
	buf_putn(b, run, (size_t) (s - run));
}

void
buf_url(Buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~')
			buf_putn(b, (const char *) &c, 1);
		else
		{
			char		e[3] = {'%', hex[c >> 4], hex[c & 15]};

			buf_putn(b, e, 3);
		}
	}
}

char *
buf_take(Buf *b)
{
	char	   *s = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one urlencoded part ('+' is a space, %XX a byte). */
static char *
url_decode(const char *s, size_t n)
{
	char	   *out = xrealloc(NULL, n + 1);
	size_t		i,
				o = 0;

	for (i = 0; i < n; i++)
	{
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			out[o++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	/* A value with a NUL byte in it ends there: libpq takes C strings. */
	return out;
}

void
form_parse(Form *f, const char *body, size_t len)
{
	size_t		start = 0;

	f->n = 0;
	f->keys = NULL;
	f->values = NULL;
	while (start < len)
	{
		size_t		end = start,
					eq;

		while (end < len && body[end] != '&')
			end++;
		for (eq = start; eq < end && body[eq] != '='; eq++)
			;
		if (end > start)
		{
			f->keys = xrealloc(f->keys, sizeof(char *) * (f->n + 1));
			f->values = xrealloc(f->values, sizeof(char *) * (f->n + 1));
			f->keys[f->n] = url_decode(body + start, eq - start);
			f->values[f->n] = eq < end ? url_decode(body + eq + 1, end - eq - 1) : url_decode("", 0);
			f->n++;
		}
		start = end + 1;
	}
}

const char *
form_get(const Form *f, const char *key)
{
	int			i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->keys[i], key) == 0)
			return f->values[i];
	return NULL;
}

void
form_free(Form *f)
{
	int			i;

	for (i = 0; i < f->n; i++)
	{
		free(f->keys[i]);
		free(f->values[i]);
	}
	free(f->keys);
	free(f->values);
	f->n = 0;
}

bool
str_equal_ct(const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b),
				i;
	unsigned char diff = (unsigned char) (la != lb);

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char) (a[i] ^ b[i]);
	return diff == 0;
}
