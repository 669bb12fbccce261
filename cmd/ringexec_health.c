/* ringexec_health: `ringexec health`, is the server ready?
 *
 * Owns one plain HTTP GET of /readyz on the server's address (TCP or unix
 * socket), its answer printed, and the exit code a probe script tests: 0
 * when ready, 1 otherwise. It needs no token and opens no WebSocket.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringexec.h"

#define HEALTH_MS 5000

static const char health_usage[] =
	"Usage: ringexec health [OPTION]...\n"
	"Ask the server whether it is ready (GET /readyz): prints its answer and exits 0\n"
	"when it is, 1 when it is not or cannot be reached.\n"
	"\n"
	"      --url URL           the server (default $RINGEXEC_URL, else " CLI_DEFAULT_URL ")\n"
	"  -h, --help              this text\n";

int cli_health(struct cli *cli, int argc, char **argv)
{
	static const char req[] = "GET /readyz HTTP/1.1\r\nHost: ringexec\r\nConnection: close\r\n\r\n";
	char *body = NULL;
	int status;

	if ((status = cli_common_only(cli, "health", health_usage, argc, argv)) >= 0)
		return status;
	if (optind < argc) {
		cli_usage_error("health", "unexpected argument '%s'", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	status = wsc_http_raw(cli->url, req, &body, HEALTH_MS);
	if (status < 0) {
		cli_error("cannot reach %s: %s", cli->url,
			  status == -EINVAL ? "bad URL (expected ws://IP:PORT or unix:///path)"
					    : strerror(-status));
		return CLI_EXIT_FAIL;
	}
	body[strcspn(body, "\r\n")] = '\0';
	if (status == 200)
		printf("%s: %s\n", cli->url, body[0] ? body : "ready");
	else
		cli_error("%s: not ready: HTTP %d %s", cli->url, status, body);
	free(body);
	return status == 200 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
