/* ringexec_term: the local terminal while a remote PTY runs.
 *
 * Raw mode on and off (the saved settings always come back: on a normal
 * exit, on an error, on SIGTERM/SIGHUP through the caller's loop, and on a
 * crash through a handler that restores and re-raises), and the window size.
 */
#ifndef RINGEXEC_TERM_H
#define RINGEXEC_TERM_H

#include <stdbool.h>

/* Save fd's settings and put it in raw mode. 0 or -errno. */
int term_raw_enter(int fd);
/* Raw mode again with the saved settings kept (after SIGCONT). */
void term_raw_reapply(void);
/* Raw mode is on but the terminal says otherwise (someone reset it):
 * set it again. One tcgetattr when nothing is wrong. */
void term_raw_recheck(void);
/* The saved settings back for a while (before stopping ourselves on
 * SIGTSTP); term_raw_reapply() ends the pause. */
void term_pause(void);
/* Put the saved settings back, if raw mode is on. Idempotent and
 * async-signal-safe (atexit and the crash handler call it too). */
void term_restore(void);
/* The window size of the first terminal among fd 0, 1, 2; false if none. */
bool term_size(unsigned *rows, unsigned *cols);

#endif
