/*
 * pmta: the command-line tool.  It reads the same configuration file as
 * the daemon (to find the daemon's control socket in its spool
 * directory), sends the command over the UNIX-domain control socket and
 * prints the answer.  The daemon runs the command through src/ctl, the
 * layer the HTTP API uses too, so both give the same answers.
 *
 *	pmta [--config=PATH] COMMAND [ARGS...]
 *
 * Exit status: 0 when the command succeeded, 1 when it failed or the
 * daemon could not be reached, 2 for usage errors.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "ctl/ctl.h"
#include "lib/buf.h"
#include "model/model.h"

static void
pmta_usage(void)
{
	fprintf(stderr, "usage: pmta [--config=PATH] COMMAND [ARGS...]\n"
	    "commands: show status, show version\n");
	exit(2);
}

static int
pmta_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Send the words, read the whole answer into out. */
static int
pmta_exchange(int fd, int argc, char **argv, struct buf *out)
{
	struct buf req;
	char chunk[65536];
	ssize_t n;
	int r = 0;

	buf_init(&req, CTL_REQUEST_MAX);
	for (int i = 0; i < argc; i++)
		(void)buf_printf(&req, "%s%s", i ? "\t" : "", argv[i]);
	(void)buf_puts(&req, "\n");
	if (req.err || write(fd, req.data, req.len) != (ssize_t)req.len)
		r = -1;
	buf_free(&req);
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = -1;
		} else if (buf_append(out, chunk, (size_t)n) == -1)
			r = -1;
	}
	return r;
}

/* The daemon's socket, from the config's spool directory; the file need
 * not load completely (it may have been broken after the daemon started). */
static char *
pmta_socket(const char *config)
{
	char *spool = model_peek_spool(config), *path;

	if (spool == NULL) {
		fprintf(stderr, "pmta: %s names no spool directory, so the "
		    "daemon's control socket cannot be found\n", config);
		exit(1);
	}
	path = ctl_socket_path(spool);
	free(spool);
	return path;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = TERN_DEFAULT_CONFIG;
	struct buf out;
	char *path, *nl;
	int ch, fd, status;

	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'V':
			printf("pmta (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default: pmta_usage();
		}
	}
	if (optind == argc)
		pmta_usage();
	path = pmta_socket(config);
	if ((fd = pmta_connect(path)) == -1) {
		fprintf(stderr, "pmta: cannot reach pmtad at %s: %s (is it running?)\n",
		    path, strerror(errno));
		free(path);
		return 1;
	}
	free(path);
	buf_init(&out, CTL_REPLY_MAX + 64);
	if (pmta_exchange(fd, argc - optind, argv + optind, &out) == -1 ||
	    (nl = memchr(buf_str(&out), '\n', out.len)) == NULL) {
		fprintf(stderr, "pmta: no complete answer from pmtad\n");
		close(fd);
		buf_free(&out);
		return 1;
	}
	close(fd);
	status = out.data[0] - '0';
	fwrite(nl + 1, 1, out.len - (size_t)(nl + 1 - out.data), status ?
	    stderr : stdout);
	buf_free(&out);
	return status >= 0 && status <= 2 ? status : 1;
}
