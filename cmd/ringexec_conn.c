/* ringexec_conn: the global options, connecting to ringexecd, and errors.
 *
 * Owns turning --url/--token-file (or $RINGEXEC_URL/$RINGEXEC_AUTH_TOKEN)
 * into an initialized rpc connection, and every failure on the way into one
 * line a person can act on (connection refused, 401, unknown session). It
 * must not keep state between calls nor exit: callers pick the exit code.
 */
#include "ringexec.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringexec_version.h"

#define CLI_CONNECT_MS 10000
#define CLI_TOKEN_MAX 4096

bool cli_common_opt(struct cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_URL:
		cli->url = arg;
		return true;
	case CLI_OPT_TOKEN_FILE:
		cli->token_file = arg;
		return true;
	default:
		return false;
	}
}

int cli_common_only(struct cli *cli, const char *cmd, const char *usage, int argc, char **argv)
{
	static const struct option longs[] = { CLI_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	int opt;

	optind = 0;	/* 0: glibc forgets main's "+" ordering too */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
		if (opt == ':' || !cli_common_opt(cli, opt, optarg)) {
			cli_usage_error(cmd, "%s '%s'", opt == ':' ? "no value for" : "unknown option",
					argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	return -1;
}

bool cli_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ringexec: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ringexec %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ringexec %s --help'.\n", cmd);
}

/* The token from --token-file (its content less a trailing newline) or
 * $RINGEXEC_AUTH_TOKEN into buf ("" when neither). 0, or -1 after a message. */
static int cli_token(const struct cli *cli, char *buf, size_t size)
{
	const char *env = getenv("RINGEXEC_AUTH_TOKEN");
	size_t len = 0;

	buf[0] = '\0';
	if (cli->token_file) {
		int fd = open(cli->token_file, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0) {
			cli_error("token file %s: %s", cli->token_file, strerror(errno));
			return -1;
		}
		while ((n = read(fd, buf + len, size - 1 - len)) > 0)
			len += (size_t)n;
		close(fd);
		if (n < 0 || len == size - 1) {
			cli_error("token file %s: %s", cli->token_file,
				  n < 0 ? strerror(errno) : "too long");
			return -1;
		}
		buf[len] = '\0';
	} else if (env) {
		len = strlen(env);
		if (len >= size) {
			cli_error("RINGEXEC_AUTH_TOKEN is too long");
			return -1;
		}
		memcpy(buf, env, len + 1);
	}
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (strpbrk(buf, "\r\n")) {
		cli_error("the token must be one line");
		return -1;
	}
	return 0;
}

/* One line for a failed upgrade: err is wsc_connect()'s answer. */
static void cli_connect_error(const char *url, int err, bool have_token)
{
	switch (err) {
	case -EINVAL:
		cli_error("bad server URL '%s' (expected ws://IP:PORT or unix:///path)", url);
		break;
	case -ECONNREFUSED:
		cli_error("cannot connect to %s: connection refused (is ringexecd running? "
			  "--url or RINGEXEC_URL names the server)", url);
		break;
	case -ETIMEDOUT:
		cli_error("cannot connect to %s: timed out", url);
		break;
	case -EPROTO:
		cli_error("%s is not a ringexecd WebSocket endpoint (bad upgrade answer)", url);
		break;
	case 401:
		cli_error("%s: 401 Unauthorized: %s", url,
			  have_token ? "the server refused the token"
				     : "the server needs a token (--token-file or RINGEXEC_AUTH_TOKEN)");
		break;
	case 403:
		cli_error("%s: 403 Forbidden: the server refused this connection", url);
		break;
	case 503:
		cli_error("%s: 503 Service Unavailable: the server has too many connections", url);
		break;
	default:
		if (err > 0)
			cli_error("%s: the server answered HTTP %d instead of a WebSocket upgrade",
				  url, err);
		else
			cli_error("cannot connect to %s: %s", url, strerror(-err));
	}
}

const char *cli_lost_reason(const struct rpc *r, char *buf, size_t size)
{
	int code = rpc_close_code(r), err = rpc_fail_error(r);

	if (err)
		snprintf(buf, size, "%s", strerror(-err));
	else if (code == 1001)
		snprintf(buf, size, "the server is shutting down");
	else if (code == 1009)
		snprintf(buf, size, "a message was too big for the server (its --max-message)");
	else if (code > 0)
		snprintf(buf, size, "closed by the server (code %d)", code);
	else
		snprintf(buf, size, "closed by the server");
	return buf;
}

json_t *cli_call(struct rpc *r, const char *what, const char *method, json_t *params, int *code)
{
	json_t *resp = rpc_call(r, method, params, CLI_CALL_MS), *res, *err;
	char why[128];

	if (code)
		*code = 0;
	if (!resp) {
		if (rpc_close_code(r) >= 0)
			cli_error("%s: connection lost: %s", what, cli_lost_reason(r, why, sizeof(why)));
		else
			cli_error("%s: no answer from the server within %d s", what, CLI_CALL_MS / 1000);
		return NULL;
	}
	res = json_object_get(resp, "result");
	if (res) {
		json_incref(res);
		json_decref(resp);
		return res;
	}
	err = json_object_get(resp, "error");
	if (code)
		*code = (int)json_integer_value(json_object_get(err, "code"));
	cli_error("%s: %s", what,
		  json_string_value(json_object_get(err, "message")) ?: "the server answered an error");
	json_decref(resp);
	return NULL;
}

int cli_open(const struct cli *cli, const char *resume, struct rpc **out, json_t **result)
{
	char token[CLI_TOKEN_MAX], header[CLI_TOKEN_MAX + 32];
	struct wsc *c;
	struct rpc *r;
	json_t *params, *res;
	bool have_token;
	int err;

	*out = NULL;
	if (result)
		*result = NULL;
	if (cli_token(cli, token, sizeof(token)) < 0)
		return -1;
	if (token[0])
		snprintf(header, sizeof(header), "Authorization: Bearer %s\r\n", token);
	have_token = token[0] != '\0';
	err = wsc_connect(&c, cli->url, have_token ? header : NULL, CLI_CONNECT_MS);
	explicit_bzero(token, sizeof(token));
	explicit_bzero(header, sizeof(header));
	if (err != 0) {
		cli_connect_error(cli->url, err, have_token);
		return -1;
	}
	r = rpc_new(c);
	if (!r) {
		cli_error("out of memory");
		return -1;
	}
	rpc_set_quiet(r, true);
	params = json_pack("{s:s, s:s}", "clientName", "ringexec", "clientVersion", RINGEXEC_VERSION);
	if (resume)
		json_object_set_new(params, "resumeSessionId", json_string(resume));
	res = cli_call(r, resume ? "resuming the session" : "initialize", "initialize", params,
		       NULL);
	if (!res || rpc_notify(r, "initialized", NULL) < 0) {
		if (res)
			cli_error("initialize: the connection failed");
		json_decref(res);
		rpc_free(r);
		return -1;
	}
	if (result)
		*result = res;
	else
		json_decref(res);
	*out = r;
	return 0;
}

/* Bytes a path keeps in a URI: RFC 3986 unreserved, '/' and a few sub-delims. */
static bool cli_uri_keeps(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("-._~/!$&'()*+,;=:@", ch) != NULL;
}

char *cli_file_uri(const char *path, const char *base_uri)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *base = "file://";
	size_t blen, i = 0;
	char *out, *d;

	if (path[0] != '/' && base_uri && !strncmp(base_uri, "file://", 7))
		base = base_uri;
	blen = strlen(base);
	out = malloc(blen + 1 + strlen(path) * 3 + 1);
	if (!out)
		return NULL;
	memcpy(out, base, blen);
	d = out + blen;
	if (path[0] != '/' && (base != base_uri || d[-1] != '/'))
		*d++ = '/';
	for (; path[i]; i++) {
		unsigned char ch = (unsigned char)path[i];

		if (cli_uri_keeps(ch)) {
			*d++ = (char)ch;
		} else {
			*d++ = '%';
			*d++ = hex[ch >> 4];
			*d++ = hex[ch & 15];
		}
	}
	*d = '\0';
	return out;
}
