/* ringexec_cp: `ringexec cp`, one file to or from the server.
 *
 * Owns the two directions: LOCAL :REMOTE (fs/writeFile; a REMOTE that is a
 * directory, or ends in '/', gets LOCAL's base name) and :REMOTE LOCAL
 * (fs/readFile; LOCAL likewise). "-" is stdin or stdout. A relative REMOTE
 * is relative to the server's working directory. The whole file travels in
 * one message, so the server's --max-message bounds its size.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringexec.h"

#define CP_MAX_FILE (256u << 20)	/* what one fs/writeFile can carry at most */

static const char cp_usage[] =
	"Usage: ringexec cp [OPTION]... LOCAL :REMOTE\n"
	"  or:  ringexec cp [OPTION]... :REMOTE LOCAL\n"
	"Copy a file to the server (fs/writeFile) or from it (fs/readFile). A REMOTE that is\n"
	"a directory or ends in '/' gets LOCAL's name, and a LOCAL that is a directory gets\n"
	"REMOTE's; a relative REMOTE is taken from the server's working directory; '-' as\n"
	"LOCAL is stdin or stdout. The file travels in one message (the server's\n"
	"--max-message, 64 MiB by default, holds about 48 MiB of file).\n"
	"\n"
	"      --url URL           the server (default $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	"      --token-file FILE   the bearer token (default $RINGEXEC_AUTH_TOKEN)\n"
	"  -h, --help              this text\n";

static const char *cp_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* dir + "/" + name (dir may end in '/'), malloc'd. */
static char *cp_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	char *out;

	if (asprintf(&out, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return out;
}

/* All of fd into *data (malloc'd). 0 or -errno (-EFBIG past CP_MAX_FILE). */
static int cp_slurp(int fd, char **data, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = cap >= CP_MAX_FILE ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return cap >= CP_MAX_FILE ? -EFBIG : -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*data = buf;
	*len = n;
	return 0;
}

/* Is uri a directory on the server? (Errors count as no: the write says why.) */
static bool cp_remote_is_dir(struct rpc *r, const char *uri)
{
	json_t *resp = rpc_call(r, "fs/getMetadata", json_pack("{s:s}", "path", uri), CLI_CALL_MS);
	bool dir = json_is_true(json_object_get(json_object_get(resp, "result"), "isDirectory"));

	json_decref(resp);
	return dir;
}

static int cp_upload(struct rpc *r, const char *cwd, const char *local, const char *remote)
{
	char *data = NULL, *b64 = NULL, *uri = NULL, *path = NULL, what[PATH_MAX + 8];
	int fd = strcmp(local, "-") ? open(local, O_RDONLY | O_CLOEXEC) : 0, err;
	size_t len = 0;
	json_t *res = NULL;

	if (fd < 0) {
		cli_error("cp: %s: %s", local, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	err = cp_slurp(fd, &data, &len);
	if (fd > 0)
		close(fd);
	if (err < 0) {
		cli_error("cp: %s: %s", local, err == -EFBIG ? "too big for one message" : strerror(-err));
		return CLI_EXIT_FAIL;
	}
	path = strdup(remote);
	uri = path ? cli_file_uri(path, cwd) : NULL;
	if (uri && (remote[strlen(remote) - 1] == '/' || cp_remote_is_dir(r, uri))) {
		if (!strcmp(local, "-")) {
			cli_error("cp: :%s is a directory, and stdin has no name to give the file", remote);
			goto out;
		}
		free(path);
		free(uri);
		path = cp_join(remote, cp_base(local));
		uri = path ? cli_file_uri(path, cwd) : NULL;
	}
	b64 = rpc_b64(data, len);
	if (!uri || !b64) {
		cli_error("cp: out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "cp: :%s", path);
	res = cli_call(r, what, "fs/writeFile",
		       json_pack("{s:s, s:s}", "path", uri, "dataBase64", b64), NULL);
out:
	free(data);
	free(b64);
	free(uri);
	free(path);
	json_decref(res);
	return res ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int cp_download(struct rpc *r, const char *cwd, const char *remote, const char *local)
{
	char *uri = cli_file_uri(remote, cwd), *data = NULL, *path = NULL, what[PATH_MAX + 8];
	const char *target = local;
	json_t *res = NULL;
	struct stat st;
	size_t len = 0;
	int fd, code = CLI_EXIT_FAIL;

	if (!uri)
		return CLI_EXIT_FAIL;
	snprintf(what, sizeof(what), "cp: :%s", remote);
	res = cli_call(r, what, "fs/readFile", json_pack("{s:s}", "path", uri), NULL);
	if (!res)
		goto out;
	data = rpc_unb64(json_string_value(json_object_get(res, "dataBase64")) ?: "", &len);
	if (!data) {
		cli_error("cp: %s: the server sent bad base64", remote);
		goto out;
	}
	if (strcmp(local, "-") &&
	    ((stat(local, &st) == 0 && S_ISDIR(st.st_mode)) || local[strlen(local) - 1] == '/')) {
		target = path = cp_join(local, cp_base(remote));
		if (!path)
			goto out;
	}
	fd = strcmp(target, "-") ? open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : 1;
	if (fd < 0) {
		cli_error("cp: %s: %s", target, strerror(errno));
		goto out;
	}
	if (!cli_write_all(fd, data, len) || (fd > 1 && close(fd) < 0))
		cli_error("cp: %s: %s", target, strerror(errno));
	else
		code = CLI_EXIT_OK;
out:
	free(uri);
	free(data);
	free(path);
	json_decref(res);
	return code;
}

int cli_cp(struct cli *cli, int argc, char **argv)
{
	const char *cwd, *src, *dst;
	struct rpc *r;
	json_t *init;
	int code;

	if ((code = cli_common_only(cli, "cp", cp_usage, argc, argv)) >= 0)
		return code;
	if (argc - optind != 2) {
		cli_usage_error("cp", "expected LOCAL :REMOTE or :REMOTE LOCAL");
		return CLI_EXIT_USAGE;
	}
	src = argv[optind];
	dst = argv[optind + 1];
	if ((src[0] == ':') == (dst[0] == ':') || !(src[0] == ':' ? src[1] : dst[1]) ||
	    !(src[0] == ':' ? dst[0] : src[0])) {
		cli_usage_error("cp", "exactly one side is :REMOTE (a server path after ':')");
		return CLI_EXIT_USAGE;
	}
	if (cli_open(cli, NULL, &r, &init) < 0)
		return CLI_EXIT_FAIL;
	cwd = json_string_value(json_object_get(json_object_get(init, "environmentInfo"), "cwd"));
	if (!cwd || strncmp(cwd, "file:///", 8) != 0)
		cwd = "file:///";
	code = src[0] == ':' ? cp_download(r, cwd, src + 1, dst) : cp_upload(r, cwd, src, dst + 1);
	json_decref(init);
	rpc_close(r, 1000, CLI_CALL_MS);
	return code;
}
