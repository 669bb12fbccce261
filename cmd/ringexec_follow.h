/* ringexec_follow: stay with one remote process until it closes.
 *
 * The one poll() loop of `run` and `attach`: output to stdout/stderr in seq
 * order (replaying what was missed with process/read), local input to
 * process/write, local signals to process/signal or process/resize, and the
 * exit status at the end.
 */
#ifndef RINGEXEC_FOLLOW_H
#define RINGEXEC_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"

struct follow_opts {
	const char *url;	/* for messages */
	const char *session_id;
	const char *process_id;
	bool tty;		/* the process has a PTY: SIGWINCH sends process/resize */
	bool raw;		/* fd 0 is a terminal to put in raw mode while following */
	bool forward_stdin;	/* read fd 0 and write it to the process; EOF closes its stdin */
	uint64_t after_seq;	/* output up to this seq is not shown */
	bool replay;		/* read what came after after_seq with process/read first */
	unsigned timeout_s;	/* the --timeout given, for the message (0: none) */
	int sigfd;		/* from follow_signals_open(), or -1: follow_run opens it */
};

/* Block the signals follow_run() handles and return a signalfd for them, or
 * -errno. Called before process/start, so that a SIGTERM arriving while the
 * process starts is passed on, not lost. follow_signals_close() undoes it. */
int follow_signals_open(void);
void follow_signals_close(int sigfd);

/* Follow the process until process/closed, then close r (freed either way).
 * Returns the exit code for ringexec: the process's status (128+n for a
 * signal), 124 after its --timeout, 128+n when a SIGTERM/SIGHUP made us
 * leave, 141 when our stdout closed, 125 when the connection was lost. */
int follow_run(struct rpc *r, const struct follow_opts *o);

#endif
