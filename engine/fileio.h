/* fileio: the engine's asynchronous file work, for proto's fs methods:
 * whole-file reads through the ring, inotify watches read through the ring,
 * and tasks (long file jobs cut into slices that run on later loop turns).
 *
 * Each is an opaque object the engine allocates; its ring op is embedded in
 * it (DESIGN rule 1). Its user cancels or drops it at any time and never
 * hears from it again; the object itself lives on until its op completes
 * (or until engine_free, which frees whatever is left), so no completion
 * ever touches freed memory. The functions take plain values and
 * callbacks, so each can be an entry of the engine's operation table.
 *
 * Must not: know JSON, connections or sessions, or decide what a watched
 * event means (that is the caller's: it is told "something happened").
 */
#ifndef RINGEXEC_FILEIO_H
#define RINGEXEC_FILEIO_H

#include <stddef.h>

struct engine;
struct loop;
struct fileio;			/* the engine's set of live objects */
struct fileio_read;
struct fileio_watch;
struct fileio_task;

/* The set, for engine.c: created with the engine, and freed with it
 * (every object still there is closed and freed, its callback not called). */
int fileio_new(struct fileio **out, struct loop *lp);
void fileio_free(struct fileio *fio);

/* ---- whole-file reads ---- */

/* The read ended: err 0 with the file's len bytes in data (valid during
 * the call only), -EFBIG when the file has more than max bytes, or the
 * read's -errno. The read is gone once this returns. */
typedef void fileio_read_done(void *ctx, int err, const char *data, size_t len);

/* Read fd from offset 0 to its end through the ring (IORING_OP_READ, at
 * most FILEIO_READ_CHUNK bytes each), into a buffer sized for size_hint
 * bytes and grown as needed; done() comes on the loop, never before this
 * returns. fd is taken (closed by fileio) in every case. 0, or -ENOMEM. */
#define FILEIO_READ_CHUNK (1u << 20)
int fileio_read_start(struct engine *eng, int fd, size_t size_hint, size_t max,
		      fileio_read_done *done, void *ctx, struct fileio_read **out);
/* Stop: done() is never called. Not from inside done(). */
void fileio_read_cancel(struct fileio_read *r);

/* ---- inotify watches ---- */

/* Events arrived on the watch (err 0), or its read failed (-errno; -EINTR
 * and -EAGAIN included). The read is re-armed after this returns unless
 * the callback dropped the watch. */
typedef void fileio_watch_event(void *ctx, int err);

/* A new inotify instance watching nothing, not yet read. 0 or -errno. */
int fileio_watch_new(struct engine *eng, struct fileio_watch **out);
/* Watch directory dir for entries created or moved in and for its own
 * deletion or move (IN_ONLYDIR). 0 or inotify_add_watch's -errno. A plain
 * syscall resolving dir where it runs: callable inside sandbox_run. */
int fileio_watch_dir(struct fileio_watch *w, const char *dir);
/* Start reading events; fn(ctx, err) on the loop for each batch. */
void fileio_watch_start(struct fileio_watch *w, fileio_watch_event *fn, void *ctx);
/* Stop and free (now, or once the cancelled read completes). fn is never
 * called again. Safe from inside fn. */
void fileio_watch_drop(struct fileio_watch *w);

/* ---- tasks: the next slice of a long job, on a later turn ---- */

typedef void fileio_task_fn(void *ctx);

/* A task that calls fn(ctx) once per fileio_task_next(). 0 or -ENOMEM. */
int fileio_task_new(struct engine *eng, fileio_task_fn *fn, void *ctx, struct fileio_task **out);
/* Call fn at the top of the next loop turn, after the completions of this
 * one (so other clients are served between two slices). Never fails. */
void fileio_task_next(struct fileio_task *t);
/* Free it; fn is not called again. Safe from inside fn. */
void fileio_task_free(struct fileio_task *t);

#endif
