/* util: the few macros every part uses (container_of). Header only.
 *
 * Must not: grow functions, state or includes beyond <stddef.h>; anything
 * with a module of its own belongs in that module.
 */
#ifndef RINGEXEC_UTIL_H
#define RINGEXEC_UTIL_H

#include <stddef.h>

/* The struct of type `type` whose member `member` is at ptr. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
