/* ops: the filesystem work of the fs methods, their execute step.
 *
 * Plain syscalls on absolute paths returning 0 (or an fd) or -errno, and
 * resumable tree jobs (remove, copy, list, walk) that do at most a slice of
 * work per call, so the loop serves others in between (FS_SLICE_*).
 * Everything here runs on the loop or inside sandbox_run, whose child
 * shares our memory and fds: what it returns (memory, fds) is the caller's.
 *
 * Must not: know JSON, connections, sessions or the ring; block longer than
 * one slice (a file read or write of a request's own size aside).
 */
#ifndef RINGEXEC_FS_OPS_H
#define RINGEXEC_FS_OPS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Results beyond -errno. */
#define FS_NOT_A_FILE (-100000)		/* not a regular file */
#define FS_IS_SYMLINK (-100001)		/* a symlink where none may be */
#define FS_COPY_DIR_NEEDS_RECURSIVE (-100002)
#define FS_COPY_INTO_ITSELF (-100003)	/* a directory into itself or below */
#define FS_COPY_UNSUPPORTED (-100004)	/* not a file, directory or symlink */

/* One slice: at most FS_SLICE_ENTRIES directory entries and about
 * FS_SLICE_NS of time (on a slow disk an unlink costs far more than a
 * page-cache lookup), and at most FS_SLICE_BYTES of a copy. */
#define FS_SLICE_ENTRIES 512
#define FS_SLICE_NS 2000000u
#define FS_SLICE_BYTES (4u << 20)

struct fs_slice {
	unsigned left;			/* entries */
	uint64_t end_ns;		/* CLOCK_MONOTONIC */
};

void fs_slice_begin(struct fs_slice *s);
/* One entry's worth of the slice: false once it is spent (the clock is
 * read every 32 entries). */
bool fs_slice_take(struct fs_slice *s);

/* ---- one path ---- */

struct fs_stat {
	bool is_dir, is_file, is_link;
	uint64_t size;			/* 0 for what is neither file nor directory */
	int64_t created_ms;		/* 0 when unknown (only without following) */
	int64_t modified_ms;
};

/* fs/getMetadata: follow: stat (is_link from lstat); else every component
 * unfollowed, and a final symlink gives FS_IS_SYMLINK. 0 or -errno. */
int fs_op_stat(const char *path, bool follow, struct fs_stat *out);
/* A regular file opened for reading (non-blocking open, so a FIFO cannot
 * stall, then blocking): the fd, FS_NOT_A_FILE, or -errno. follow false:
 * no component may be a symlink. *size: its size. */
int fs_op_open_regular(const char *path, bool follow, uint64_t *size);
/* A file created or truncated for writing (fs/open "replace"): the fd,
 * FS_NOT_A_FILE for a directory, or -errno. */
int fs_op_open_replace(const char *path);
/* fs/writeFile: create or truncate path and write data. 0 or -errno. */
int fs_op_write_file(const char *path, const char *data, size_t len);
/* All of data to fd, at off when positional. 0 or -errno. */
int fs_op_write_all(int fd, const char *data, size_t len, bool positional, uint64_t off);
/* Up to len bytes of fd at off (fewer only at the end); *eof when the file
 * ends there. 0 or -errno. */
int fs_op_read_at(int fd, char *buf, size_t len, uint64_t off, size_t *got, bool *eof);
/* fs/createDirectory: mkdir, with its missing parents when recursive (an
 * existing directory is fine then). path is written to on the way and
 * restored. 0 or -errno. */
int fs_op_mkdir(char *path, bool recursive);
/* dir + "/" + name, malloc'd (NULL on ENOMEM). */
char *fs_op_join(const char *dir, const char *name);
/* Room for one more element in the array *v (elements of sz bytes, len
 * used of *cap): doubled (16 at first) when full. 0 or -ENOMEM. */
int fs_op_grow(void **v, size_t *cap, size_t len, size_t sz);
/* Does path exist (following symlinks)? */
bool fs_op_exists(const char *path);

/* ---- fs/remove ---- */

struct fs_rm_frame;

struct fs_rm {
	const char *path;		/* borrowed */
	bool recursive, force;
	bool started;
	struct fs_rm_frame *stack;	/* the directories being emptied, outermost first */
	size_t depth, cap;
};

/* Remove rm->path (a tree when recursive, never following symlinks; a
 * missing path is fine with force). 1: call again; 0: done; -errno. */
int fs_rm_step(struct fs_rm *rm);
void fs_rm_free(struct fs_rm *rm);

/* ---- fs/copy ---- */

struct fs_copy_frame;

struct fs_copy {
	const char *src, *dst;		/* borrowed */
	bool recursive;
	bool started;
	struct fs_copy_frame *stack;	/* directories being copied */
	size_t depth, cap;
	int in, out;			/* the regular file being copied, or -1 */
	bool fallback;			/* read/write instead of copy_file_range */
};

/* Copy a regular file, a symlink (as a symlink) or, when recursive, a
 * directory tree (files, symlinks and directories in it; other kinds are
 * skipped). 1: call again; 0: done; -errno, or FS_COPY_* for src. */
int fs_copy_step(struct fs_copy *cp);
void fs_copy_free(struct fs_copy *cp);

/* ---- fs/readDirectory ---- */

struct fs_list_entry {
	char *name;			/* owned */
	bool is_dir, is_file;		/* of what it points at */
};

struct fs_list {
	const char *path;		/* borrowed */
	DIR *d;
	struct fs_list_entry *batch;	/* what the last step found */
	size_t n;
	bool nomem;			/* it ran out of memory (and is done) */
};

/* The next entries of the directory (its dangling symlinks left out) into
 * l->batch, replacing the last batch (the caller takes the names and sets
 * n to 0, or fs_list_free frees them). 1: call again; 0: done; -errno. */
int fs_list_step(struct fs_list *l);
void fs_list_free(struct fs_list *l);

/* ---- fs/walk ---- */

struct fs_walk_entry {
	char *path;			/* owned */
	bool is_dir;			/* else a regular file */
};

struct fs_walk_error {
	char *path;			/* owned: a directory that could not be read */
	int err;			/* its errno */
};

struct fs_walk_dir {
	char *path;
	uint64_t depth;
};

/* A bottom-up merge sort in progress: runs of width are merged pairwise
 * from names into tmp, the pair at base with i, j, o its positions. */
struct fs_walk_sort {
	char **tmp;
	size_t width, base, i, j, o;
	bool in_pair;
};

struct fs_walk {
	const char *root;		/* borrowed */
	uint64_t max_depth, max_dirs, max_entries;
	bool follow;			/* descend into symlinks to directories */
	bool started;
	int phase;			/* what the current directory is at (ops_walk.c) */
	struct fs_walk_dir *q;		/* breadth-first queue of directories */
	size_t qhead, qlen, qcap;
	struct fs_walk_dir cur;		/* being read (d open) or listed */
	DIR *d;
	char **names;			/* cur's entries, sorted once all are read */
	size_t nnames, names_cap, next_name;
	struct fs_walk_sort sort;
	uint64_t ndirs, nentries;
	bool truncated, nomem;
	struct fs_walk_entry *batch;	/* entries the last step found */
	size_t n, batch_cap;
	struct fs_walk_error *errors;	/* every directory that could not be read */
	size_t nerrors, errors_cap;
};

/* Walk breadth-first from root (stat'ed first: -errno when it fails),
 * each directory's entries sorted by name, regular files and directories
 * only, up to the limits (truncated then). Entries go to w->batch as for
 * fs_list_step. 1: call again; 0: done (nomem: it ran out of memory). */
int fs_walk_step(struct fs_walk *w);
void fs_walk_free(struct fs_walk *w);

#endif
