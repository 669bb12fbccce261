/* ringexec: what the subcommands of the command-line client share.
 *
 * The global options (server URL, token), the exit codes, connecting with
 * one-line errors, and the small helpers every subcommand needs. Each
 * subcommand lives in its own cmd/ringexec_*.c and is reached from the table
 * in cmd/ringexec.c. Nothing here knows server internals: the client talks
 * to ringexecd only through cmd/client/ (wsc, rpc).
 */
#ifndef RINGEXEC_CLI_H
#define RINGEXEC_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"

#define CLI_DEFAULT_URL "ws://127.0.0.1:8765"
#define CLI_CALL_MS 30000	/* deadline of one request answered at once */

/* Exit codes of ringexec itself (a process's own status passes through). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,	/* ps, kill, cp, health: it did not work */
	CLI_EXIT_USAGE = 2,	/* ps, kill, cp, health: bad command line */
	CLI_EXIT_TIMEOUT = 124,	/* run --timeout expired (as timeout(1)) */
	CLI_EXIT_RUN = 125,	/* run, attach: ringexec's own failure (as docker run) */
	CLI_EXIT_NOEXEC = 126,	/* run: the command cannot be executed */
	CLI_EXIT_NOTFOUND = 127,	/* run: the command was not found */
};

/* The global options, given before or after the subcommand's name. */
struct cli {
	const char *url;	/* --url, $RINGEXEC_URL, or CLI_DEFAULT_URL */
	const char *token_file;	/* --token-file; else $RINGEXEC_AUTH_TOKEN */
	const char *session;	/* --session (ps, kill); else $RINGEXEC_SESSION */
};

/* The long options every subcommand takes, to end its own option table with;
 * cli_common_opt() handles them (it returns false for a code not its own). */
#define CLI_OPT_URL 0x100
#define CLI_OPT_TOKEN_FILE 0x101
#define CLI_COMMON_OPTIONS                                            \
	{ "url", required_argument, NULL, CLI_OPT_URL },              \
	{ "token-file", required_argument, NULL, CLI_OPT_TOKEN_FILE }, \
	{ "help", no_argument, NULL, 'h' }
bool cli_common_opt(struct cli *cli, int opt, const char *arg);
/* Parse the options of a subcommand that has only the common ones: -1 to
 * go on (optind at its first argument), or the exit code (after --help or
 * a usage error). */
int cli_common_only(struct cli *cli, const char *cmd, const char *usage, int argc, char **argv);

/* Write all n bytes (retrying EINTR and short writes); false on an error. */
bool cli_write_all(int fd, const char *p, size_t n);

/* "ringexec: <message>" on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "ringexec CMD: <message>\nTry 'ringexec CMD --help'." on stderr. */
void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connect to cli->url (with the token, if any) and initialize; resume is a
 * session id to resume, or NULL for a new session. On success *r is ready
 * for process methods and *result (if non-NULL) holds the initialize result
 * (new reference). On failure prints one line saying why and returns -1. */
int cli_open(const struct cli *cli, const char *resume, struct rpc **r, json_t **result);

/* A request answered at once: its result (new reference), or NULL after
 * printing "ringexec: <what>: <server message>" (or the connection's fate).
 * *code (if non-NULL) gets the JSON-RPC error code, or 0. */
json_t *cli_call(struct rpc *r, const char *what, const char *method, json_t *params, int *code);

/* After rpc_* returned nothing because the connection ended: why, as text. */
const char *cli_lost_reason(const struct rpc *r, char *buf, size_t size);

/* A file: URI for path: absolute as it is, relative to base_uri (a file: URI,
 * e.g. the server's cwd); bytes outside the unreserved set percent-encoded.
 * malloc'd, NULL on ENOMEM. */
char *cli_file_uri(const char *path, const char *base_uri);

/* The process/list entry of id in the session (NULL id: its only process),
 * new reference; NULL after a message naming what is wrong. */
json_t *cli_find_process(struct rpc *r, const char *session, const char *id);
/* The session for ps and kill: --session, else $RINGEXEC_SESSION; NULL after a message. */
const char *cli_session(const struct cli *cli, const char *cmd);

/* Subcommands: argc/argv start at the subcommand's name; they return the exit code. */
int cli_run(struct cli *cli, int argc, char **argv);
int cli_attach(struct cli *cli, int argc, char **argv);
int cli_ps(struct cli *cli, int argc, char **argv);
int cli_kill(struct cli *cli, int argc, char **argv);
int cli_cp(struct cli *cli, int argc, char **argv);
int cli_health(struct cli *cli, int argc, char **argv);

#endif
