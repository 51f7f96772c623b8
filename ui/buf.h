/*-------------------------------------------------------------------------
 * buf.h
 *	  Growable strings, and the three ways workflow-ui writes a value it
 *	  did not make: HTML-escaped text, URL-encoded query parts, and the
 *	  decoding of form bodies.  Every value from the database or from a
 *	  request reaches a page through buf_html (or buf_url inside an
 *	  attribute, which buf_html then escapes too).
 *-------------------------------------------------------------------------
 */
#ifndef UI_BUF_H
#define UI_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

extern void buf_init(Buf *b);
extern void buf_free(Buf *b);
extern void buf_putn(Buf *b, const char *s, size_t n);
extern void buf_put(Buf *b, const char *s);
extern void buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
/* Text that is ours (markup); no escaping. */
#define buf_raw buf_put
/* Any other text: &, <, >, " and ' escaped; NULL writes nothing. */
extern void buf_html(Buf *b, const char *s);
/* A value inside a URL's query: percent-encoded (then HTML-escape the URL). */
extern void buf_url(Buf *b, const char *s);
extern char *buf_take(Buf *b);

/* A decoded application/x-www-form-urlencoded body. */
typedef struct Form
{
	int			n;
	char	  **keys;
	char	  **values;
} Form;

extern void form_parse(Form *f, const char *body, size_t len);
extern const char *form_get(const Form *f, const char *key);
extern void form_free(Form *f);

/* Constant-time comparison of two NUL-terminated strings. */
extern bool str_equal_ct(const char *a, const char *b);

#endif							/* UI_BUF_H */
