/* timer: the node a timer's owner embeds, and nothing that runs it.
 *
 * A struct loop_timer lives inside its owner (a session, a process entry,
 * a waiting read), so arming one never allocates and cannot fail. Whoever
 * runs timers owns the links and `armed`: the loop (loop_timer_arm in
 * loop.h, a pairing heap on deadline_ns), or, for proto/, the engine table
 * (engine_ops.h), which a test replaces with a list it advances by hand. Pure
 * data: no ring, no clock.
 */
#ifndef RINGEXEC_TIMER_H
#define RINGEXEC_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop_timer {
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC; set by whoever arms it */
	/* Links owned by whoever runs the timer (the loop: pairing-heap links,
	 * the first child, the next sibling, and the previous sibling, which
	 * is the parent for a first child). */
	struct loop_timer *child, *next, *prev;
	bool armed;			/* waiting to fire */
	void (*fn)(struct loop_timer *t);	/* set by the owner */
};

static inline void loop_timer_init(struct loop_timer *t, void (*fn)(struct loop_timer *t))
{
	t->deadline_ns = 0;
	t->child = t->next = t->prev = NULL;
	t->armed = false;
	t->fn = fn;
}

static inline bool loop_timer_armed(const struct loop_timer *t) { return t->armed; }

#endif
