/* envinfo: environmentInfo as the reference server shapes it (see
 * reference/codex-client-surface.md §1). Capabilities are true only for
 * what ringexecd implements, so a client skips the rest. Reads the host's
 * environment; writes JSON only.
 */
#include "envinfo.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringexec_version.h"
#include "uri.h"

/* Capability flags in the reference's wire order. */
static const char *const envinfo_capabilities[] = {
	"networkProxyLaunch", "networkProxyReviewDomains", "networkProxyTransparentTcp",
	"credentialMasking",
	"credentialMaskingCustomProviders", "capabilityDiscoverySandbox", "fsWatchMissing",
	"capabilityDiscoveryV2", "environmentConfigRead", "httpHeaderEnvVars",
	"sandboxedFileStreaming", "fileWriteStreaming", "shellSnapshotV2", "windowsMxc",
	"linuxRootWritePreservesDevices", "linuxApprovedRootWritePreservesRestrictions",
};

void envinfo_write_file_uri(struct jw *w, const char *path)
{
	size_t len;
	char *uri = uri_from_path(path, &len);
	if (!uri) {
		jw_null(w);
		return;
	}
	jw_str(w, uri, len);
	free(uri);
}

void envinfo_write(struct jw *w)
{
	struct passwd *pw = getpwuid(getuid());
	const char *shell = getenv("SHELL");
	if (!shell || !shell[0])
		shell = pw && pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh";
	const char *home = getenv("HOME");
	if (!home || !home[0])
		home = pw && pw->pw_dir ? pw->pw_dir : "/";
	const char *tmp = getenv("TMPDIR");
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	const char *slash = strrchr(shell, '/');

	jw_obj_open(w);
	jw_key(w, "shell");
	jw_obj_open(w);
	jw_key(w, "name");
	jw_cstr(w, slash ? slash + 1 : shell);
	jw_key(w, "path");
	jw_cstr(w, shell);
	jw_obj_close(w);
	jw_key(w, "executorVersion");
	jw_cstr(w, RINGEXEC_VERSION);
	jw_key(w, "cwd");
	envinfo_write_file_uri(w, cwd);
	jw_key(w, "userHomeDir");
	envinfo_write_file_uri(w, home);
	jw_key(w, "platformOs");
	jw_cstr(w, "linux");
	jw_key(w, "temporaryDirectories");
	jw_arr_open(w);
	envinfo_write_file_uri(w, tmp);
	jw_arr_close(w);
	jw_key(w, "tempDir");
	envinfo_write_file_uri(w, tmp);
	jw_key(w, "capabilities");
	jw_obj_open(w);
	for (size_t i = 0; i < sizeof(envinfo_capabilities) / sizeof(envinfo_capabilities[0]); i++) {
		const char *name = envinfo_capabilities[i];
		jw_key(w, name);
		/* fs/watchMissing, fs/open "replace" + fs/writeBlock and
		 * environmentConfig/read are implemented. The sandbox needs no
		 * flag (codex sends its policy whatever they say); the managed
		 * network proxy, transparent TCP included, is not offered. */
		jw_bool(w, strcmp(name, "fsWatchMissing") == 0 || strcmp(name, "fileWriteStreaming") == 0 ||
			   strcmp(name, "environmentConfigRead") == 0);
	}
	jw_obj_close(w);
	jw_obj_close(w);
}
