/* ops_walk: fs/walk's work, in slices (see ops.h).
 *
 * Owns the breadth-first walk: a queue of directories; for the current one
 * its names are read (a slice at a time), sorted (a bottom-up merge sort,
 * also a slice at a time, so a huge directory does not stall the loop),
 * then looked at one by one: each regular file and directory is an entry,
 * each directory within maxDepth joins the queue. The limits and the
 * order are those of the reference's walk. Must not: know JSON, the
 * connection or the ring; follow a symlink unless asked to.
 */
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the current directory is at. */
enum {
	FS_WALK_NEXT,		/* take the next directory from the queue */
	FS_WALK_READ,		/* reading its names */
	FS_WALK_SORT,		/* sorting them */
	FS_WALK_LIST,		/* turning them into entries */
};

/* Moves of the sort that cost as much as one entry of a slice. */
#define FS_WALK_MOVES_PER_ENTRY 16

/* ---- a resumable merge sort of the current directory's names ---- */

/* One pass after another of a bottom-up merge of w->names through s->tmp,
 * up to *moves element moves. True once w->names is sorted. */
static bool fs_walk_merge(struct fs_walk *w, struct fs_walk_sort *s, size_t *moves)
{
	size_t n = w->nnames;
	while (s->width < n) {
		if (s->base >= n) {		/* a pass is done: its output is the input */
			char **t = w->names;
			w->names = s->tmp;
			s->tmp = t;
			s->width *= 2;
			s->base = 0;
			s->in_pair = false;
			continue;
		}
		size_t mid = s->base + s->width < n ? s->base + s->width : n;
		size_t end = s->base + 2 * s->width < n ? s->base + 2 * s->width : n;
		if (!s->in_pair) {
			s->i = s->base;
			s->j = mid;
			s->o = s->base;
			s->in_pair = true;
		}
		for (; s->o < end; (*moves)--) {
			if (*moves == 0)
				return false;
			if (s->i < mid && (s->j >= end || strcmp(w->names[s->i], w->names[s->j]) <= 0))
				s->tmp[s->o++] = w->names[s->i++];
			else
				s->tmp[s->o++] = w->names[s->j++];
		}
		s->base = end;
		s->in_pair = false;
	}
	return true;
}

/* Advance the sort while the slice lasts. True once w->names is sorted
 * (strcmp order, as qsort would give: names are unique). */
static bool fs_walk_sort(struct fs_walk *w, struct fs_slice *sl)
{
	while (fs_slice_take(sl)) {
		size_t moves = FS_WALK_MOVES_PER_ENTRY;
		if (fs_walk_merge(w, &w->sort, &moves))
			return true;
	}
	return false;
}

/* ---- the phases ---- */

static void fs_walk_drop_names(struct fs_walk *w)
{
	for (size_t i = w->next_name; i < w->nnames; i++)
		free(w->names[i]);
	free(w->names);
	free(w->sort.tmp);
	w->names = w->sort.tmp = NULL;
	w->nnames = w->names_cap = w->next_name = 0;
}

/* The current directory is done with. */
static void fs_walk_dir_done(struct fs_walk *w)
{
	if (w->d)
		closedir(w->d);
	w->d = NULL;
	fs_walk_drop_names(w);
	free(w->cur.path);
	w->cur.path = NULL;
	w->phase = FS_WALK_NEXT;
}

static void fs_walk_error(struct fs_walk *w, char *path, int err)
{
	if (fs_op_grow((void **)&w->errors, &w->errors_cap, w->nerrors, sizeof(*w->errors)) < 0) {
		free(path);
		return;		/* as the reference's error list when it cannot grow */
	}
	w->errors[w->nerrors++] = (struct fs_walk_error){ path, err };
}

/* Take the next directory off the queue. False when the walk is over. */
static bool fs_walk_next(struct fs_walk *w)
{
	while (!w->nomem && !w->truncated && w->qhead < w->qlen) {
		struct fs_walk_dir dir = w->q[w->qhead++];
		if (w->ndirs >= w->max_dirs) {
			w->truncated = true;
			free(dir.path);
			break;
		}
		w->ndirs++;
		w->d = opendir(dir.path);
		if (!w->d) {
			fs_walk_error(w, dir.path, errno);
			continue;
		}
		w->cur = dir;
		w->phase = FS_WALK_READ;
		return true;
	}
	return false;
}

/* Read names of the current directory while the slice lasts. */
static void fs_walk_read(struct fs_walk *w, struct fs_slice *sl)
{
	while (fs_slice_take(sl)) {
		struct dirent *de = readdir(w->d);
		if (!de) {
			closedir(w->d);
			w->d = NULL;
			w->sort = (struct fs_walk_sort){ .width = 1 };
			if (w->nnames > 1 && !(w->sort.tmp = malloc(w->nnames * sizeof(char *))))
				w->nomem = true;
			w->phase = FS_WALK_SORT;
			return;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fs_op_grow((void **)&w->names, &w->names_cap, w->nnames, sizeof(*w->names)) < 0 ||
		    !(w->names[w->nnames] = strdup(de->d_name))) {
			w->nomem = true;
			return;
		}
		w->nnames++;
	}
}

/* What p is as a walk entry: 1 a directory to descend into, 0 a file,
 * -1 neither (left out). */
static int fs_walk_kind(const struct fs_walk *w, const char *p)
{
	struct stat st;
	if (lstat(p, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return 1;
	if (S_ISREG(st.st_mode))
		return 0;
	if (S_ISLNK(st.st_mode) && w->follow && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return 1;
	return -1;
}

/* One name of the current directory: an entry (and a queued directory). */
static void fs_walk_name(struct fs_walk *w, char *name)
{
	char *p = fs_op_join(w->cur.path, name);
	free(name);
	if (!p) {
		w->nomem = true;
		return;
	}
	int kind = fs_walk_kind(w, p);
	if (kind < 0) {
		free(p);
		return;
	}
	if (w->nentries >= w->max_entries) {
		w->truncated = true;
		free(p);
		return;
	}
	w->nentries++;
	w->batch[w->n++] = (struct fs_walk_entry){ p, kind == 1 };
	if (kind == 1 && w->cur.depth < w->max_depth) {
		char *dup = strdup(p);
		if (!dup || fs_op_grow((void **)&w->q, &w->qcap, w->qlen, sizeof(*w->q)) < 0) {
			free(dup);
			w->nomem = true;
			return;
		}
		w->q[w->qlen++] = (struct fs_walk_dir){ dup, w->cur.depth + 1 };
	}
}

/* Turn sorted names into entries while the slice lasts. */
static void fs_walk_list(struct fs_walk *w, struct fs_slice *sl)
{
	while (w->next_name < w->nnames && !w->nomem && !w->truncated && fs_slice_take(sl))
		fs_walk_name(w, w->names[w->next_name++]);
	if (w->next_name == w->nnames || w->nomem || w->truncated)
		fs_walk_dir_done(w);
}

/* ---- the walk ---- */

static int fs_walk_begin(struct fs_walk *w)
{
	struct stat st;
	if (stat(w->root, &st) < 0)
		return -errno;
	w->batch = malloc(FS_SLICE_ENTRIES * sizeof(*w->batch));
	if (!w->batch) {
		w->nomem = true;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		char *p = strdup(w->root);
		if (!p || fs_op_grow((void **)&w->q, &w->qcap, w->qlen, sizeof(*w->q)) < 0) {
			free(p);
			w->nomem = true;
			return 0;
		}
		w->q[w->qlen++] = (struct fs_walk_dir){ p, 0 };
	}
	return 0;
}

/* The walk is over: what is still queued was cut off by a limit. */
static void fs_walk_end(struct fs_walk *w)
{
	fs_walk_dir_done(w);
	while (w->qhead < w->qlen) {
		free(w->q[w->qhead++].path);
		w->truncated = true;
	}
}

static void fs_walk_clear_batch(struct fs_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->batch[i].path);
	w->n = 0;
}

int fs_walk_step(struct fs_walk *w)
{
	fs_walk_clear_batch(w);
	if (!w->started) {
		w->started = true;
		int r = fs_walk_begin(w);
		if (r < 0)
			return r;
	}
	struct fs_slice sl;
	fs_slice_begin(&sl);
	while (sl.left > 0 && !w->nomem) {
		switch (w->phase) {
		case FS_WALK_NEXT:
			if (!fs_slice_take(&sl))
				break;
			if (!fs_walk_next(w)) {
				fs_walk_end(w);
				return 0;
			}
			break;
		case FS_WALK_READ:
			fs_walk_read(w, &sl);
			break;
		case FS_WALK_SORT:
			if (fs_walk_sort(w, &sl))
				w->phase = FS_WALK_LIST;
			break;
		case FS_WALK_LIST:
			fs_walk_list(w, &sl);
			break;
		}
	}
	if (w->nomem) {
		fs_walk_end(w);
		return 0;
	}
	return 1;
}

void fs_walk_free(struct fs_walk *w)
{
	fs_walk_end(w);
	free(w->q);
	fs_walk_clear_batch(w);
	free(w->batch);
	for (size_t i = 0; i < w->nerrors; i++)
		free(w->errors[i].path);
	free(w->errors);
	w->q = NULL;
	w->batch = NULL;
	w->errors = NULL;
	w->nerrors = 0;
}
