/* unit_loop: the loop's timers on a real ring: arming allocates nothing (so
 * a TTL or timeoutMs timer cannot be lost to ENOMEM), every armed timer
 * fires once, in deadline order, not before its deadline; cancelled ones
 * never fire; a callback may re-arm itself or cancel another.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "loop.h"
#include "tap.h"

#define N_TIMERS 2000

struct tick {
	struct loop_timer t;
	int fired;		/* times fn ran */
	bool cancelled;		/* the test cancelled it for good */
	int rearm;		/* times fn re-arms it */
	struct tick *kill;	/* fn cancels this one */
};

static struct loop *lp;
static struct tick ticks[N_TIMERS];
static uint64_t order[N_TIMERS * 2];	/* deadline of each firing, in firing order */
static size_t nfired, want_fired;
static bool late;			/* a timer fired before its deadline */
static struct loop_timer guard;		/* ends a run that would never end */

static void tick_fn(struct loop_timer *t)
{
	struct tick *k = (struct tick *)t;
	k->fired++;
	if (loop_now_ns(lp) < t->deadline_ns)
		late = true;
	if (nfired < sizeof(order) / sizeof(order[0]))
		order[nfired] = t->deadline_ns;
	nfired++;
	if (k->rearm > 0) {
		k->rearm--;
		want_fired++;
		loop_timer_arm(lp, t, 1);
	}
	if (k->kill)
		loop_timer_cancel(lp, &k->kill->t);
	if (nfired == want_fired)
		loop_stop(lp);
}

static void guard_fn(struct loop_timer *t)
{
	(void)t;
	loop_stop(lp);
}

/* A small deterministic PRNG (xorshift). */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Run lp (a fresh loop per case: a stopped loop stays stopped) until every
 * timer that should fire has, then free it. */
static void run_and_check(void)
{
	loop_timer_init(&guard, guard_fn);
	loop_timer_arm(lp, &guard, 10000);
	REQUIRE(loop_run(lp) == 0);
	CHECKF(loop_timer_armed(&guard), "the run took 10 s: %zu of %zu fired", nfired, want_fired);
	loop_timer_cancel(lp, &guard);
	CHECKF(nfired == want_fired, "%zu fired, want %zu", nfired, want_fired);
	CHECK(!late);
	int wrong = 0;
	for (size_t i = 0; i < N_TIMERS; i++)
		if (ticks[i].cancelled ? ticks[i].fired != 0 : ticks[i].fired < 1)
			wrong++;
	CHECKF(wrong == 0, "%d timers fired the wrong number of times", wrong);
}

static bool new_loop(void)
{
	return loop_new(&lp, 64) == 0;
}

/* With every allocation failing, 2,000 timers armed, re-armed and
 * cancelled in a random order still all fire: arming needs no memory. */
static void test_arm_never_allocates(void)
{
	memset(ticks, 0, sizeof(ticks));
	nfired = want_fired = 0;
	late = false;
	REQUIRE(new_loop());
	failalloc_set(0);
	for (size_t i = 0; i < N_TIMERS; i++) {
		loop_timer_init(&ticks[i].t, tick_fn);
		loop_timer_arm(lp, &ticks[i].t, rnd() % 40);
	}
	for (size_t i = 0; i < N_TIMERS; i++) {
		size_t j = rnd() % N_TIMERS;
		if (rnd() % 3 == 0) {
			loop_timer_cancel(lp, &ticks[j].t);
			ticks[j].cancelled = true;
		} else {
			loop_timer_arm(lp, &ticks[j].t, rnd() % 40);
			ticks[j].cancelled = false;
		}
	}
	for (size_t i = 0; i < N_TIMERS; i++)
		want_fired += !ticks[i].cancelled;
	long asked = failalloc_count();
	failalloc_set(-1);
	CHECKF(asked == 0, "arming asked for %ld allocations", asked);
	run_and_check();
	/* Fired in deadline order (within one run of due timers the heap
	 * hands out the earliest first; nothing re-arms here). */
	size_t inversions = 0;
	for (size_t i = 1; i < nfired; i++)
		inversions += order[i] < order[i - 1];
	CHECKF(inversions == 0, "%zu firings out of deadline order", inversions);
	loop_free(lp);
}

/* Callbacks that re-arm themselves and cancel timers due later. */
static void test_rearm_and_cancel_from_callback(void)
{
	memset(ticks, 0, sizeof(ticks));
	nfired = want_fired = 0;
	late = false;
	REQUIRE(new_loop());
	for (size_t i = 0; i < 64; i++) {
		loop_timer_init(&ticks[i].t, tick_fn);
		loop_timer_arm(lp, &ticks[i].t, i < 32 ? 1 : 30 + i);
		want_fired++;
	}
	for (size_t i = 64; i < N_TIMERS; i++)
		ticks[i].cancelled = true;	/* never armed */
	ticks[0].rearm = 3;
	/* The first 8 each cancel one of the late ones before it is due. */
	for (size_t i = 0; i < 8; i++) {
		ticks[i].kill = &ticks[56 + i];
		ticks[56 + i].cancelled = true;
		want_fired--;
	}
	run_and_check();
	CHECK(ticks[0].fired == 4);
	loop_free(lp);
}

static void test_cancel_idle_and_twice(void)
{
	struct loop_timer t;
	REQUIRE(new_loop());
	loop_timer_init(&t, guard_fn);
	CHECK(!loop_timer_armed(&t));
	loop_timer_cancel(lp, &t);
	loop_timer_arm(lp, &t, 1000);
	loop_timer_arm(lp, &t, 2000);	/* re-arm moves it */
	CHECK(loop_timer_armed(&t));
	loop_timer_cancel(lp, &t);
	loop_timer_cancel(lp, &t);
	CHECK(!loop_timer_armed(&t));
	loop_free(lp);
}

/* A deadline past the clock's range (waitMs near 2^64) is "never": it
 * must not wrap around and fire at once. */
static void test_huge_deadline_never_fires(void)
{
	memset(ticks, 0, sizeof(ticks));
	nfired = want_fired = 0;
	late = false;
	REQUIRE(new_loop());
	static const uint64_t huge[] = { UINT64_MAX, UINT64_MAX / 1000000u, UINT64_MAX / 1000000u + 1,
					 (uint64_t)1 << 62 };
	for (size_t i = 0; i < 4; i++) {
		loop_timer_init(&ticks[i].t, tick_fn);
		loop_timer_arm(lp, &ticks[i].t, huge[i]);
		CHECKF(ticks[i].t.deadline_ns > loop_now_ns(lp) + 1000000000ull * 86400 * 365,
		       "%zu: a deadline of %llu ms is due within a year", i, (unsigned long long)huge[i]);
	}
	loop_timer_init(&ticks[4].t, tick_fn);
	loop_timer_arm(lp, &ticks[4].t, 20);
	want_fired = 1;
	REQUIRE(loop_run(lp) == 0);
	for (size_t i = 0; i < 4; i++)
		CHECKF(ticks[i].fired == 0, "the timer of %llu ms fired", (unsigned long long)huge[i]);
	CHECK(ticks[4].fired == 1);
	for (size_t i = 0; i < 4; i++)
		loop_timer_cancel(lp, &ticks[i].t);
	loop_free(lp);
}

static const struct tap_case cases[] = {
	{ "a huge deadline never fires (no wrap-around)", test_huge_deadline_never_fires },
	{ "arm_never_allocates", test_arm_never_allocates },
	{ "rearm_and_cancel_from_callback", test_rearm_and_cancel_from_callback },
	{ "cancel_idle_and_twice", test_cancel_idle_and_twice },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	if (!new_loop()) {
		printf("1..0 # SKIP io_uring unavailable\n");
		return 0;
	}
	loop_free(lp);
	return tap_main(argc, argv, cases);
}
