/* ops: the one-path filesystem work of the fs methods (see ops.h).
 *
 * Owns the syscalls behind getMetadata, readFile's open, writeFile, open,
 * readBlock, writeBlock and createDirectory. Must not: know JSON, the
 * connection or the ring; look a path up twice where once will do (what a
 * check sees is what the use gets: openat from the fd of the parent).
 */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t fs_ms(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open the parent directory of path without following any symlink on the
 * way (a symlinked component gives ENOTDIR). *last points into path at the
 * final component ("." for "/"). Returns the fd or -errno. */
static int fs_open_parent_nofollow(const char *path, const char **last)
{
	int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	const char *p = path;
	while (*p == '/')
		p++;
	if (!*p) {
		*last = ".";
		return dfd;
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash) {
			*last = p;
			return dfd;
		}
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - p);
		if (n > NAME_MAX) {
			close(dfd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int nfd = openat(dfd, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		int err = errno;
		close(dfd);
		if (nfd < 0)
			return -(err == ELOOP ? ENOTDIR : err);
		dfd = nfd;
		p = slash + 1;
	}
}

static int fs_stat_nofollow(const char *path, struct fs_stat *out)
{
	const char *last;
	int dfd = fs_open_parent_nofollow(path, &last);
	if (dfd < 0)
		return dfd;
	struct statx sx;
	int r = statx(dfd, last, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx);
	int err = errno;
	close(dfd);
	if (r < 0)
		return -err;
	if (S_ISLNK(sx.stx_mode))
		return FS_IS_SYMLINK;
	out->is_dir = S_ISDIR(sx.stx_mode);
	out->is_file = S_ISREG(sx.stx_mode);
	out->size = out->is_dir || out->is_file ? sx.stx_size : 0;
	out->modified_ms = (int64_t)sx.stx_mtime.tv_sec * 1000 + sx.stx_mtime.tv_nsec / 1000000;
	if (sx.stx_mask & STATX_BTIME)
		out->created_ms = (int64_t)sx.stx_btime.tv_sec * 1000 + sx.stx_btime.tv_nsec / 1000000;
	return 0;
}

int fs_op_stat(const char *path, bool follow, struct fs_stat *out)
{
	memset(out, 0, sizeof(*out));
	if (!follow)
		return fs_stat_nofollow(path, out);
	struct stat lst, st;
	if (lstat(path, &lst) < 0 || stat(path, &st) < 0)
		return -errno;
	out->is_link = S_ISLNK(lst.st_mode);
	out->is_dir = S_ISDIR(st.st_mode);
	out->is_file = S_ISREG(st.st_mode);
	out->size = out->is_dir || out->is_file ? (uint64_t)st.st_size : 0;
	out->modified_ms = fs_ms(st.st_mtim);
	return 0;
}

/* fd back to blocking (it was opened O_NONBLOCK so a FIFO could not stall the open). */
static void fs_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

int fs_op_open_regular(const char *path, bool follow, uint64_t *size)
{
	int fd;
	if (follow) {
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	} else {
		const char *last;
		int dfd = fs_open_parent_nofollow(path, &last);
		if (dfd < 0)
			return dfd;
		fd = openat(dfd, last, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		close(dfd);
		if (fd < 0)
			return -err;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return FS_NOT_A_FILE;
	}
	fs_blocking(fd);
	*size = (uint64_t)st.st_size;
	return fd;
}

/* path created or truncated for writing; the fd or -errno. */
static int fs_open_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	fs_blocking(fd);
	return fd;
}

int fs_op_open_replace(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return FS_NOT_A_FILE;
	return fs_open_write(path);
}

int fs_op_write_all(int fd, const char *data, size_t len, bool positional, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = positional ? pwrite(fd, data + done, len - done, (off_t)(off + done))
				       : write(fd, data + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int fs_op_write_file(const char *path, const char *data, size_t len)
{
	int fd = fs_open_write(path);
	if (fd < 0)
		return fd;
	int r = fs_op_write_all(fd, data, len, false, 0);
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

int fs_op_read_at(int fd, char *buf, size_t len, uint64_t off, size_t *got, bool *eof)
{
	size_t n = 0;
	while (n < len) {
		ssize_t r = pread(fd, buf + n, len - n, (off_t)(off + n));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	struct stat st;
	*got = n;
	*eof = n < len || (fstat(fd, &st) == 0 && off + n >= (uint64_t)st.st_size);
	return 0;
}

/* mkdir -p (path is cut at each '/' on the way up, and restored). */
static int fs_mkdir_p(char *path)
{
	if (mkdir(path, 0777) == 0)
		return 0;
	int err = errno;
	struct stat st;
	if (err == EEXIST)
		return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -EEXIST;
	if (err != ENOENT)
		return -err;
	char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return -err;
	*slash = '\0';
	int r = fs_mkdir_p(path);
	*slash = '/';
	if (r < 0)
		return r;
	if (mkdir(path, 0777) == 0)
		return 0;
	err = errno;
	if (err == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return -err;
}

int fs_op_mkdir(char *path, bool recursive)
{
	if (!recursive)
		return mkdir(path, 0777) < 0 ? -errno : 0;
	return fs_mkdir_p(path);
}

char *fs_op_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *out = malloc(dl + nl + 2);
	if (!out)
		return NULL;
	memcpy(out, dir, dl);
	size_t o = dl;
	if (!dl || dir[dl - 1] != '/')
		out[o++] = '/';
	memcpy(out + o, name, nl + 1);
	return out;
}

int fs_op_grow(void **v, size_t *cap, size_t len, size_t sz)
{
	if (len < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, ncap * sz);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static uint64_t fs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fs_slice_begin(struct fs_slice *s)
{
	s->left = FS_SLICE_ENTRIES;
	s->end_ns = fs_now_ns() + FS_SLICE_NS;
}

bool fs_slice_take(struct fs_slice *s)
{
	if (s->left == 0)
		return false;
	if (s->left % 32 == 0 && s->left < FS_SLICE_ENTRIES && fs_now_ns() >= s->end_ns) {
		s->left = 0;
		return false;
	}
	s->left--;
	return true;
}

bool fs_op_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}
