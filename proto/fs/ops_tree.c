/* ops_tree: the fs methods' work on whole trees, in slices (see ops.h).
 *
 * Owns recursive remove, recursive copy, directory listing and the walk,
 * each an explicit state (a stack of open directories, or a queue) that a
 * step advances by at most one slice (struct fs_slice: entries and time,
 * and FS_SLICE_BYTES of file data), in the same order and with the same outcome as one call
 * doing it all. Must not: know JSON, the connection or the ring, follow a
 * symlink where the method says not to, or keep anything between steps
 * outside the state it is given.
 */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool fs_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* ---- fs/remove ---- */

struct fs_rm_frame {
	DIR *d;				/* the directory being emptied */
	char *name;			/* its name in the frame below (the path at depth 0) */
};

static int fs_rm_dirfd(const struct fs_rm *rm)
{
	return rm->depth ? dirfd(rm->stack[rm->depth - 1].d) : AT_FDCWD;
}

/* name under dfd: a directory is opened and pushed, anything else unlinked. */
static int fs_rm_enter(struct fs_rm *rm, int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
		return errno == ENOENT ? 0 : -errno;
	}
	char *copy = strdup(name);
	if (!copy || fs_op_grow((void **)&rm->stack, &rm->cap, rm->depth, sizeof(*rm->stack)) < 0) {
		free(copy);
		close(fd);
		return -ENOMEM;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		free(copy);
		return -err;
	}
	rm->stack[rm->depth++] = (struct fs_rm_frame){ d, copy };
	return 0;
}

/* The top directory is empty: close it and remove it. */
static int fs_rm_leave(struct fs_rm *rm)
{
	struct fs_rm_frame f = rm->stack[--rm->depth];
	closedir(f.d);
	int r = unlinkat(fs_rm_dirfd(rm), f.name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
	free(f.name);
	return r;
}

static int fs_rm_begin(struct fs_rm *rm)
{
	struct stat st;
	if (lstat(rm->path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(rm->path) < 0 ? -errno : 0;
	if (!rm->recursive)
		return rmdir(rm->path) < 0 ? -errno : 0;
	return fs_rm_enter(rm, AT_FDCWD, rm->path);
}

/* One entry of the top directory, or the directory itself once it is empty. */
static int fs_rm_next(struct fs_rm *rm)
{
	DIR *d = rm->stack[rm->depth - 1].d;
	struct dirent *de = readdir(d);
	if (!de)
		return fs_rm_leave(rm);
	if (fs_dot(de->d_name))
		return 0;
	if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
		return fs_rm_enter(rm, dirfd(d), de->d_name);
	return unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

int fs_rm_step(struct fs_rm *rm)
{
	int r = 0;
	if (!rm->started) {
		rm->started = true;
		r = fs_rm_begin(rm);
	}
	struct fs_slice sl;
	fs_slice_begin(&sl);
	while (r == 0 && rm->depth > 0) {
		if (!fs_slice_take(&sl))
			return 1;
		r = fs_rm_next(rm);
	}
	return r == -ENOENT && rm->force ? 0 : r;
}

void fs_rm_free(struct fs_rm *rm)
{
	while (rm->depth > 0) {
		struct fs_rm_frame *f = &rm->stack[--rm->depth];
		closedir(f->d);
		free(f->name);
	}
	free(rm->stack);
	rm->stack = NULL;
}

/* ---- fs/copy ---- */

struct fs_copy_frame {
	DIR *d;				/* the source directory being read */
	char *src, *dst;		/* owned */
};

static int fs_copy_symlink(const char *src, const char *dst)
{
	char target[PATH_MAX];
	ssize_t n = readlink(src, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	return symlink(target, dst) < 0 ? -errno : 0;
}

/* Start copying the regular file src to dst (cp->in, cp->out). 0 or -errno. */
static int fs_copy_file_open(struct fs_copy *cp, const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return -errno;
	struct stat st;
	if (fstat(in, &st) < 0) {
		int err = errno;
		close(in);
		return -err;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0) {
		int err = errno;
		close(in);
		return -err;
	}
	cp->in = in;
	cp->out = out;
	cp->fallback = false;
	return 0;
}

/* One piece of the file being copied, at most want bytes: the bytes
 * copied, 0 at its end, or -errno. */
static ssize_t fs_copy_piece(struct fs_copy *cp, size_t want)
{
	for (;;) {
		ssize_t n;
		if (!cp->fallback) {
			n = copy_file_range(cp->in, NULL, cp->out, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				cp->fallback = true;
				continue;
			}
		} else {
			char buf[65536];
			n = read(cp->in, buf, want < sizeof(buf) ? want : sizeof(buf));
			if (n > 0 && fs_op_write_all(cp->out, buf, (size_t)n, false, 0) < 0)
				n = -1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

/* Go on copying the current file with *budget bytes left: 1 when the
 * budget ran out first, 0 when the file is done, or -errno. */
static int fs_copy_file_more(struct fs_copy *cp, size_t *budget)
{
	ssize_t n;
	while ((n = fs_copy_piece(cp, *budget)) > 0) {
		*budget -= (size_t)n;
		if (*budget == 0)
			return 1;
	}
	int r = (int)n;
	close(cp->in);
	if (close(cp->out) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	cp->in = cp->out = -1;
	return r;
}

/* Create dst (mode's permissions) and push src to be read; takes both. */
static int fs_copy_enter(struct fs_copy *cp, char *src, char *dst, mode_t mode)
{
	int r = 0;
	DIR *d = NULL;
	if (mkdir(dst, mode & 07777) < 0) {
		struct stat st;
		if (errno != EEXIST || stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
			r = -errno;
	}
	if (r == 0 && !(d = opendir(src)))
		r = -errno;
	if (r == 0 && fs_op_grow((void **)&cp->stack, &cp->cap, cp->depth, sizeof(*cp->stack)) < 0)
		r = -ENOMEM;
	if (r < 0) {
		if (d)
			closedir(d);
		free(src);
		free(dst);
		return r;
	}
	cp->stack[cp->depth++] = (struct fs_copy_frame){ d, src, dst };
	return 0;
}

/* Is dst (resolved as far as it exists) src or below it? 0, FS_COPY_INTO_ITSELF or -errno. */
static int fs_copy_inside(const char *src, const char *dst)
{
	char *rs = realpath(src, NULL), *rd = realpath(dst, NULL);
	if (!rd) {
		const char *slash = strrchr(dst, '/');
		char *parent = strndup(dst, slash && slash != dst ? (size_t)(slash - dst) : 1);
		char *rparent = parent ? realpath(parent, NULL) : NULL;
		free(parent);
		rd = rparent ? fs_op_join(rparent, slash ? slash + 1 : dst) : NULL;
		free(rparent);
	}
	if (!rd) {
		int err = errno;
		free(rs);
		return -err;
	}
	size_t n = rs ? strlen(rs) : 0;
	bool inside = rs && strncmp(rd, rs, n) == 0 &&
		      (rd[n] == '\0' || rd[n] == '/' || (n == 1 && rs[0] == '/'));
	free(rs);
	free(rd);
	return inside ? FS_COPY_INTO_ITSELF : 0;
}

static int fs_copy_begin(struct fs_copy *cp)
{
	struct stat st;
	if (lstat(cp->src, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return fs_copy_symlink(cp->src, cp->dst);
	if (S_ISREG(st.st_mode))
		return fs_copy_file_open(cp, cp->src, cp->dst);
	if (!S_ISDIR(st.st_mode))
		return FS_COPY_UNSUPPORTED;
	if (!cp->recursive)
		return FS_COPY_DIR_NEEDS_RECURSIVE;
	int r = fs_copy_inside(cp->src, cp->dst);
	if (r < 0)
		return r;
	char *s = strdup(cp->src), *t = strdup(cp->dst);
	if (!s || !t) {
		free(s);
		free(t);
		return -ENOMEM;
	}
	return fs_copy_enter(cp, s, t, st.st_mode);
}

/* One entry of the top directory, or leave it once it is read. */
static int fs_copy_next(struct fs_copy *cp)
{
	struct fs_copy_frame *f = &cp->stack[cp->depth - 1];
	struct dirent *de = readdir(f->d);
	if (!de) {
		closedir(f->d);
		free(f->src);
		free(f->dst);
		cp->depth--;
		return 0;
	}
	if (fs_dot(de->d_name))
		return 0;
	char *s = fs_op_join(f->src, de->d_name), *t = fs_op_join(f->dst, de->d_name);
	struct stat st;
	int r = 0;
	if (!s || !t) {
		r = -ENOMEM;
	} else if (lstat(s, &st) < 0) {
		r = errno == ENOENT ? 0 : -errno;
	} else if (S_ISDIR(st.st_mode)) {
		r = fs_copy_enter(cp, s, t, st.st_mode);
		s = t = NULL;	/* taken */
	} else if (S_ISLNK(st.st_mode)) {
		r = fs_copy_symlink(s, t);
	} else if (S_ISREG(st.st_mode)) {
		r = fs_copy_file_open(cp, s, t);
	}
	free(s);
	free(t);
	return r;
}

int fs_copy_step(struct fs_copy *cp)
{
	size_t bytes = FS_SLICE_BYTES;
	int r = 0;
	if (!cp->started) {
		cp->started = true;
		cp->in = cp->out = -1;
		r = fs_copy_begin(cp);
	}
	struct fs_slice sl;
	fs_slice_begin(&sl);
	while (r == 0 && (cp->in >= 0 || cp->depth > 0)) {
		if (!fs_slice_take(&sl))
			return 1;
		if (cp->in >= 0) {
			r = fs_copy_file_more(cp, &bytes);
			if (r > 0)
				return 1;
		} else {
			r = fs_copy_next(cp);
		}
	}
	return r;
}

void fs_copy_free(struct fs_copy *cp)
{
	if (cp->started && cp->in >= 0) {
		close(cp->in);
		close(cp->out);
	}
	while (cp->depth > 0) {
		struct fs_copy_frame *f = &cp->stack[--cp->depth];
		closedir(f->d);
		free(f->src);
		free(f->dst);
	}
	free(cp->stack);
	cp->stack = NULL;
}

/* ---- fs/readDirectory ---- */

static void fs_list_clear(struct fs_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->batch[i].name);
	l->n = 0;
}

int fs_list_step(struct fs_list *l)
{
	fs_list_clear(l);
	if (!l->d) {
		int dfd = open(l->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		if (!d) {
			int err = errno;
			if (dfd >= 0)
				close(dfd);
			return -err;
		}
		l->d = d;
	}
	if (!l->batch && !(l->batch = malloc(FS_SLICE_ENTRIES * sizeof(*l->batch)))) {
		l->nomem = true;
		return 0;
	}
	struct fs_slice sl;
	fs_slice_begin(&sl);
	while (fs_slice_take(&sl)) {
		struct dirent *de = readdir(l->d);
		if (!de)
			return 0;
		struct stat st;
		if (fs_dot(de->d_name) || fstatat(dirfd(l->d), de->d_name, &st, 0) < 0)
			continue;	/* a dangling symlink (or gone meanwhile) */
		char *name = strdup(de->d_name);
		if (!name) {
			l->nomem = true;
			return 0;
		}
		l->batch[l->n++] = (struct fs_list_entry){ name, S_ISDIR(st.st_mode), S_ISREG(st.st_mode) };
	}
	return 1;
}

void fs_list_free(struct fs_list *l)
{
	fs_list_clear(l);
	free(l->batch);
	l->batch = NULL;
	if (l->d)
		closedir(l->d);
	l->d = NULL;
}
