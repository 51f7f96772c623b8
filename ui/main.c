/*-------------------------------------------------------------------------
 * main.c
 *	  workflow-ui: the web UI of the workflow extension.
 *
 *	  workflow-ui -d CONNINFO [--listen 127.0.0.1:8080] [--read-only]
 *
 *	  The HTTP server (libmicrohttpd, one thread per connection) and what
 *	  every request passes before a page sees it:
 *	  - the Host header must name the address listened on, or a loopback
 *	    name when on loopback (no DNS rebinding onto a local UI);
 *	  - a session token: a random cookie (HttpOnly, SameSite=Strict)
 *	    issued by this process; a POST must carry it both as the cookie
 *	    and as the form's "token" field, and an Origin header, if sent,
 *	    must be this server's: a page of another site can do neither;
 *	  - --read-only: no action is shown, and a POST is refused (403);
 *	  - the security headers: a CSP that allows only this server's script
 *	    and style, no framing, no sniffing, no referrer.
 *	  The UI holds no privilege of its own: each request runs its queries
 *	  on a connection made with CONNINFO (db.c), as that role.
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "assets.h"
#include "db.h"
#include "ui.h"

#define COOKIE_NAME "wfui_session"
#define TOKEN_BYTES 24
#define TOKEN_SLOTS 4096
#define MAX_BODY (1024 * 1024)

static struct
{
	const char *conninfo;
	char		host[256];		/* the address listened on, as given */
	int			port;
	bool		loopback;
	bool		read_only;
}			opts;

/* The tokens this process issued, newest overwriting the oldest. */
static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static char tokens[TOKEN_SLOTS][TOKEN_BYTES * 2 + 1];
static int	token_next;

/* Per-connection state: the body of a POST as it arrives. */
typedef struct Upload
{
	Buf			body;
	bool		too_large;
} Upload;

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: workflow-ui -d CONNINFO [--listen HOST:PORT] [--read-only]\n"
			"\n"
			"The web UI of the workflow extension: runs, one run's timeline and history,\n"
			"queues and schedules.  Every read and action runs as the role CONNINFO\n"
			"connects as; the UI adds no privilege.\n"
			"\n"
			"  -d, --dbname CONNINFO   libpq connection string or URI (required)\n"
			"  -l, --listen HOST:PORT  address to listen on (default 127.0.0.1:8080)\n"
			"  -r, --read-only         show no actions and refuse them (403)\n"
			"  -V, --version           print the version and exit\n"
			"  -h, --help              this help\n");
}

static bool
parse_listen(const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char	   *end;
	long		port;
	size_t		hostlen;

	if (colon == NULL)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return false;
	hostlen = (size_t) (colon - arg);
	if (hostlen == 0 || hostlen >= sizeof(opts.host))
		return false;
	memcpy(opts.host, arg, hostlen);
	opts.host[hostlen] = '\0';
	opts.port = (int) port;
	return true;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"read-only", no_argument, NULL, 'r'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	strcpy(opts.host, "127.0.0.1");
	opts.port = 8080;
	while ((c = getopt_long(argc, argv, "d:l:rVh", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opts.conninfo = optarg;
				break;
			case 'l':
				if (!parse_listen(optarg))
				{
					fprintf(stderr, "workflow-ui: --listen wants HOST:PORT, not \"%s\"\n", optarg);
					exit(2);
				}
				break;
			case 'r':
				opts.read_only = true;
				break;
			case 'V':
				printf("workflow-ui " UI_VERSION "\n");
				exit(0);
			case 'h':
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				exit(2);
		}
	}
	if (opts.conninfo == NULL || optind < argc)
	{
		usage(stderr);
		exit(2);
	}
}

/* ------------------------------------------------------------------ tokens */

static void
token_issue(char *out)
{
	unsigned char raw[TOKEN_BYTES];
	int			i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
	{
		fprintf(stderr, "workflow-ui: getrandom failed: %s\n", strerror(errno));
		abort();
	}
	for (i = 0; i < TOKEN_BYTES; i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	pthread_mutex_lock(&token_lock);
	strcpy(tokens[token_next], out);
	token_next = (token_next + 1) % TOKEN_SLOTS;
	pthread_mutex_unlock(&token_lock);
}

static bool
token_known(const char *token)
{
	bool		known = false;
	int			i;

	if (token == NULL || strlen(token) != TOKEN_BYTES * 2)
		return false;
	pthread_mutex_lock(&token_lock);
	for (i = 0; i < TOKEN_SLOTS && !known; i++)
		known = tokens[i][0] != '\0' && str_equal_ct(tokens[i], token);
	pthread_mutex_unlock(&token_lock);
	return known;
}

/* ------------------------------------------------------------------ checks */

const char *
req_arg(Request *req, const char *name)
{
	const char *v = MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, name);

	return v && *v ? v : NULL;
}

static const char *
header(struct MHD_Connection *mhd, const char *name)
{
	return MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, name);
}

/* Does Host name this server (the address listened on, or loopback)? */
static bool
host_allowed(const char *host)
{
	char		name[300];
	const char *end;
	size_t		n;

	if (host == NULL)
		return false;
	if (host[0] == '[')
		end = strchr(host, ']') ? strchr(host, ']') + 1 : host + strlen(host);
	else
		end = strchr(host, ':') ? strchr(host, ':') : host + strlen(host);
	n = (size_t) (end - host);
	if (n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (strcmp(name, opts.host) == 0)
		return true;
	if (opts.loopback)
		return strcmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0 ||
			strcmp(name, "[::1]") == 0;
	/* On another address the UI answers to any name it is reached by. */
	return true;
}

/* A POST from this UI's own page: known token in cookie and field, origin. */
static const char *
post_refusal(Request *req, const char *cookie)
{
	const char *field = form_get(&req->form, "token");
	const char *origin = header(req->mhd, "Origin");
	const char *site = header(req->mhd, "Sec-Fetch-Site");
	const char *host = header(req->mhd, "Host");

	if (!token_known(cookie))
		return "no valid session cookie: load a page of this UI first";
	if (field == NULL || !str_equal_ct(field, cookie))
		return "the form's session token is missing or wrong";
	if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return "a cross-site request";
	if (origin && strcmp(origin, "null") != 0)
	{
		if (strncmp(origin, "http://", 7) != 0 || host == NULL || strcmp(origin + 7, host) != 0)
			return "a request from another origin";
	}
	else if (origin)
		return "a request from an opaque origin";
	return NULL;
}

/* ------------------------------------------------------------------ responses */

static enum MHD_Result
send_response(struct MHD_Connection *mhd, Response *res, const char *new_token)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(res->body.len, res->body.data, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type",
							res->content_type ? res->content_type : "text/html; charset=utf-8");
	MHD_add_response_header(r, "Content-Security-Policy",
							"default-src 'none'; script-src 'self'; style-src 'self'; "
							"img-src 'self' data:; connect-src 'self'; form-action 'self'; "
							"frame-ancestors 'none'; base-uri 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (res->content_type == NULL || strncmp(res->content_type, "text/html", 9) == 0)
		MHD_add_response_header(r, "Cache-Control", "no-store");
	if (res->location)
		MHD_add_response_header(r, "Location", res->location);
	if (new_token)
	{
		char		cookie[200];

		snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict",
				 new_token);
		MHD_add_response_header(r, "Set-Cookie", cookie);
	}
	ret = MHD_queue_response(mhd, (unsigned int) res->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
plain_error(Response *res, int status, const char *title, const char *why)
{
	res->status = status;
	res->body.len = 0;
	buf_printf(&res->body, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>%d</title>"
			   "<link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main>"
			   "<h1>%d ", status, status);
	buf_html(&res->body, title);
	buf_raw(&res->body, "</h1><p class=\"refusal\">");
	buf_html(&res->body, why);
	buf_raw(&res->body, "</p><p><a href=\"/runs\">Runs</a></p></main></body></html>\n");
}

static bool
serve_asset(const char *path, Response *res)
{
	const UiAsset *a;

	for (a = ui_assets; a->path; a++)
	{
		if (strcmp(a->path, path) == 0)
		{
			buf_putn(&res->body, (const char *) a->data, a->len);
			res->content_type = a->content_type;
			res->status = 200;
			return true;
		}
	}
	return false;
}

/* Route a request that passed the checks to its page. */
static void
dispatch(Request *req, Response *res)
{
	PGconn	   *conn;
	char	   *error = NULL;
	bool		post = strcmp(req->method, "POST") == 0;

	if (!post && strcmp(req->path, "/") == 0)
	{
		res->status = 303;
		res->location = strdup("/runs");
		return;
	}
	if (!post && strncmp(req->path, "/static/", 8) == 0)
	{
		if (!serve_asset(req->path + 8, res))
			plain_error(res, 404, "Not found", "No such file.");
		return;
	}
	if (!(post ? strncmp(req->path, "/action/", 8) == 0 :
		  strcmp(req->path, "/runs") == 0 || strcmp(req->path, "/run") == 0 ||
		  strcmp(req->path, "/queues") == 0 || strcmp(req->path, "/schedules") == 0))
	{
		plain_error(res, post ? 404 : 404, "Not found", "No such page.");
		return;
	}
	conn = db_acquire(&error);
	if (conn == NULL)
	{
		plain_error(res, 503, "Database unavailable", error ? error : "cannot connect");
		free(error);
		return;
	}
	if (post)
		page_action(req, res, conn);
	else if (strcmp(req->path, "/runs") == 0)
		page_runs(req, res, conn);
	else if (strcmp(req->path, "/run") == 0)
		page_run(req, res, conn);
	else if (strcmp(req->path, "/queues") == 0)
		page_queues(req, res, conn);
	else
		page_schedules(req, res, conn);
	db_release(conn);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	Upload	   *up = *con_cls;
	Request		req;
	Response	res;
	const char *cookie;
	char		fresh[TOKEN_BYTES * 2 + 1];
	const char *new_token = NULL;
	enum MHD_Result ret;
	bool		post = strcmp(method, "POST") == 0;

	if (up == NULL)
	{
		up = calloc(1, sizeof(Upload));
		if (up == NULL)
			return MHD_NO;
		buf_init(&up->body);
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (up->body.len + *upload_data_size > MAX_BODY)
			up->too_large = true;
		else
			buf_putn(&up->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	buf_init(&res.body);
	res.status = 200;
	req.mhd = mhd;
	req.method = method;
	req.path = url;
	req.read_only = opts.read_only;

	cookie = MHD_lookup_connection_value(mhd, MHD_COOKIE_KIND, COOKIE_NAME);
	if (token_known(cookie))
		req.token = cookie;
	else
	{
		token_issue(fresh);
		req.token = new_token = fresh;
	}
	if (post)
		form_parse(&req.form, up->body.data, up->body.len);

	if (!host_allowed(header(mhd, "Host")))
		plain_error(&res, 421, "Misdirected request", "The Host header does not name this server.");
	else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !post)
		plain_error(&res, 405, "Method not allowed", "GET and POST only.");
	else if (post && opts.read_only)
		plain_error(&res, 403, "Forbidden", "workflow-ui runs with --read-only: actions are refused.");
	else if (post && up->too_large)
		plain_error(&res, 413, "Too large", "The form is larger than 1 MB.");
	else if (post && post_refusal(&req, cookie))
		plain_error(&res, 403, "Forbidden", post_refusal(&req, cookie));
	else
		dispatch(&req, &res);

	ret = send_response(mhd, &res, new_token);
	free(res.location);
	buf_free(&res.body);
	form_free(&req.form);
	return ret;
}

static void
request_done(void *cls, struct MHD_Connection *mhd, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	Upload	   *up = *con_cls;

	if (up)
	{
		buf_free(&up->body);
		free(up);
		*con_cls = NULL;
	}
}

/* ------------------------------------------------------------------ main */

static struct MHD_Daemon *
start_daemon(void)
{
	struct sockaddr_storage addr;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_ERROR_LOG;
	const char *host = opts.host;
	char		v6[256];

	memset(&addr, 0, sizeof(addr));
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
	{
		snprintf(v6, sizeof(v6), "%.*s", (int) strlen(host) - 2, host + 1);
		host = v6;
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *) &addr)->sin_addr) == 1)
	{
		struct sockaddr_in *a = (struct sockaddr_in *) &addr;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t) opts.port);
		opts.loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *) &addr)->sin6_addr) == 1)
	{
		struct sockaddr_in6 *a = (struct sockaddr_in6 *) &addr;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t) opts.port);
		opts.loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
		flags |= MHD_USE_IPv6;
	}
	else
	{
		fprintf(stderr, "workflow-ui: --listen wants a numeric address (or localhost), not \"%s\"\n",
				opts.host);
		exit(2);
	}
	return MHD_start_daemon(flags, (uint16_t) opts.port, NULL, NULL, handle, NULL,
							MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
							MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 64,
							MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
							MHD_OPTION_END);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	sigset_t	stop;
	int			sig;
	char	   *error = NULL;
	PGconn	   *probe;

	parse_options(argc, argv);
	db_setup(opts.conninfo);

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	daemon = start_daemon();
	if (daemon == NULL)
	{
		fprintf(stderr, "workflow-ui: cannot listen on %s:%d\n", opts.host, opts.port);
		return 1;
	}
	fprintf(stderr, "workflow-ui: listening on http://%s:%d/%s\n", opts.host, opts.port,
			opts.read_only ? " (read-only)" : "");

	/* Say at once if the database cannot be reached; the UI runs anyway. */
	probe = db_acquire(&error);
	if (probe == NULL)
	{
		fprintf(stderr, "workflow-ui: warning: cannot connect yet: %s", error);
		free(error);
	}
	db_release(probe);
	sigwait(&stop, &sig);
	MHD_stop_daemon(daemon);
	db_close_all();
	return 0;
}
