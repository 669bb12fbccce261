/* ringexec_term: raw mode for the local terminal, always undone.
 *
 * Owns the one saved termios. The crash handler (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGABRT) restores the terminal and re-raises with the default
 * action; every other way out goes through term_restore() from the caller
 * or atexit. It must not read or write the terminal's data.
 */
#include "ringexec_term.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios term_saved;
static int term_fd = -1;	/* the terminal in raw mode, -1 when none */
static volatile sig_atomic_t term_raw_on;

void term_restore(void)
{
	if (!term_raw_on)
		return;
	term_raw_on = 0;
	/* TCSADRAIN: what was written to the terminal is shown in raw mode first. */
	while (tcsetattr(term_fd, TCSADRAIN, &term_saved) < 0 && errno == EINTR)
		;
}

void term_pause(void)
{
	if (term_raw_on)
		tcsetattr(term_fd, TCSADRAIN, &term_saved);
}

static void term_crash(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void term_install_handlers(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	static bool done;
	struct sigaction sa;

	if (done)
		return;
	done = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = term_crash;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(term_restore);
}

static int term_set_raw(void)
{
	struct termios raw = term_saved;

	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	term_raw_on = 1;	/* before the change: a crash right after restores too */
	while (tcsetattr(term_fd, TCSADRAIN, &raw) < 0) {
		if (errno != EINTR) {
			int err = -errno;

			term_raw_on = 0;
			return err;
		}
	}
	return 0;
}

int term_raw_enter(int fd)
{
	if (tcgetattr(fd, &term_saved) < 0)
		return -errno;
	term_fd = fd;
	term_install_handlers();
	return term_set_raw();
}

void term_raw_reapply(void)
{
	if (term_fd >= 0 && term_raw_on)
		term_set_raw();
}

void term_raw_recheck(void)
{
	struct termios now;
	if (term_fd < 0 || !term_raw_on || tcgetattr(term_fd, &now) < 0)
		return;
	if (now.c_lflag & (ICANON | ISIG | ECHO))
		term_set_raw();
}

bool term_size(unsigned *rows, unsigned *cols)
{
	for (int fd = 0; fd <= 2; fd++) {
		struct winsize ws;

		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
			*rows = ws.ws_row;
			*cols = ws.ws_col;
			return true;
		}
	}
	return false;
}
