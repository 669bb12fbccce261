/* unit_proc_state: the write status each process state gives (DESIGN
 * "Spawning"): `starting` can only be seen through this pure function,
 * since the spawn is synchronous on the loop; the others also end to end.
 */
#include "proc.h"
#include "tap.h"

static void test_starting(void)
{
	CHECK(proc_write_status_of(PROC_STARTING, false) == PROC_WRITE_STARTING);
	CHECK(proc_write_status_of(PROC_STARTING, true) == PROC_WRITE_STARTING);
}

static void test_running(void)
{
	CHECK(proc_write_status_of(PROC_RUNNING, true) == PROC_WRITE_ACCEPTED);
	CHECK(proc_write_status_of(PROC_RUNNING, false) == PROC_WRITE_STDIN_CLOSED);
}

static void test_exited_draining(void)
{
	/* A grandchild may still read stdin after the leader exits. */
	CHECK(proc_write_status_of(PROC_EXITED, true) == PROC_WRITE_ACCEPTED);
	CHECK(proc_write_status_of(PROC_EXITED, false) == PROC_WRITE_STDIN_CLOSED);
}

static void test_closed(void)
{
	CHECK(proc_write_status_of(PROC_CLOSED, true) == PROC_WRITE_STDIN_CLOSED);
	CHECK(proc_write_status_of(PROC_CLOSED, false) == PROC_WRITE_STDIN_CLOSED);
}

static const struct tap_case cases[] = {
	{ "starting", test_starting },
	{ "running", test_running },
	{ "exited_draining", test_exited_draining },
	{ "closed", test_closed },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
