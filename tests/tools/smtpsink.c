/*
 * smtpsink: the fault-injecting SMTP sink used by the end-to-end tests
 * and by ./scripts/run as the quickstart's delivery target.
 *
 * One process, one libev loop, any number of listeners and connections.
 * Every socket is non-blocking and every buffer is capped (smtpsink.h).
 * Replies are scripted per recipient from the RCPT local part
 * ("alice+r450+w200@x", see smtpsink_smtp.c) and every event can be
 * appended to a JSON-lines file for the tests to read
 * (smtpsink_record.c).
 *
 * This file: command line, listeners, signals and the accept loop.  It
 * prints "smtpsink: listening on IP:PORT" to stderr for each listener
 * once all of them are bound (port 0 binds an ephemeral port and prints
 * the real one), runs until SIGTERM or SIGINT, and exits 0.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ev.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtpsink.h"

OBJ_DEFINE_CAST(sink)
OBJ_DEFINE_CAST(sink_listener)

#define SINK_BACKLOG	1024

static void
sink_usage(void)
{
	fprintf(stderr,
	    "usage: smtpsink --listen IP:PORT [--listen IP:PORT ...]\n"
	    "\t[--record FILE] [--maildir DIR] [--hostname NAME]\n"
	    "\t[--greeting CODE] [--mail-reply CODE] [--no-ehlo]\n"
	    "\t[--no-pipelining] [--pidfile FILE] [--quiet]\n"
	    "\t[--tls-cert PEM]  (certificate and key: offer STARTTLS)\n"
	    "\t[--greeting-delay MS] [--ehlo-reply CODE] [--ehlo-stall MS]\n"
	    "\t[--size N] [--no-ext KEYWORD ...]\n"
	    "IP is IPv4 or [IPv6]; port 0 picks a free port.\n");
	exit(2);
}

/*
 * "a.b.c.d:port" or "[v6]:port" to a sockaddr.  0, or -1 with *error_r.
 * Only numeric addresses: the sink never resolves names.
 */
static int
sink_parse_listen(const char *spec, struct sockaddr_storage *ss,
    socklen_t *len, const char **error_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = spec;
	size_t hl;
	long port;
	bool v6 = spec[0] == '[';

	if (v6) {
		colon = strstr(spec, "]:");
		hs = spec + 1;
		hl = colon ? (size_t)(colon - hs) : 0;
		colon = colon ? colon + 1 : NULL;
	} else {
		colon = strrchr(spec, ':');
		hl = colon ? (size_t)(colon - spec) : 0;
	}
	if (colon == NULL || hl == 0 || hl >= sizeof(host)) {
		*error_r = "expected IP:PORT or [IPv6]:PORT";
		return -1;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if ((port = sink_number(colon + 1, strlen(colon + 1), 0, 65535)) < 0) {
		*error_r = "bad port";
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1)
			return 0;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		if (inet_pton(AF_INET, host, &s4->sin_addr) == 1)
			return 0;
	}
	*error_r = "bad IP address";
	return -1;
}

void
sink_addr_format(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, host,
		    sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &s4->sin_addr, host,
		    sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else
		snprintf(out, outlen, "unknown");
}

static void
sink_listeners_pause(struct sink *sink, bool pause)
{
	struct sink_listener *l;

	for (l = sink->listeners; l != NULL; l = l->next) {
		if (pause)
			ev_io_stop(sink->loop, &l->io);
		else
			ev_io_start(sink->loop, &l->io);
	}
}

static void
sink_accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink *sink = OBJ_CAST(sink, w->data, SINK_MAGIC);

	sink_listeners_pause(sink, false);
}

static void
sink_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sink_listener *l = OBJ_CAST(sink_listener, w->data,
	    SINK_LISTENER_MAGIC);
	struct sink *sink = l->sink;
	int fd;

	for (;;) {
		fd = accept(w->fd, NULL, NULL);
		if (fd != -1) {
			conn_accept(sink, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_warn("smtpsink: accept on %s", l->name);
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of descriptors: stop accepting for a moment
			 * rather than spin on a readable listener. */
			sink_listeners_pause(sink, true);
			ev_timer_set(&sink->accept_retry, 0.1, 0.);
			ev_timer_start(loop, &sink->accept_retry);
		}
		return;
	}
}

static int
sink_socket(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, on = 1;

	fd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    bind(fd, (const struct sockaddr *)ss, len) == -1 ||
	    listen(fd, SINK_BACKLOG) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void
sink_listen(struct sink *sink, const char *spec)
{
	struct sink_listener *l, **tail;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *error;
	int fd;

	if (sink_parse_listen(spec, &ss, &len, &error) == -1)
		fatalx("smtpsink: --listen %s: %s", spec, error);
	if ((fd = sink_socket(&ss, len)) == -1)
		fatal("smtpsink: listen on %s", spec);
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		fatal("smtpsink: getsockname");
	l = xcalloc(1, sizeof(*l));
	OBJ_INIT(l, SINK_LISTENER_MAGIC);
	l->sink = sink;
	sink_addr_format(&ss, l->name, sizeof(l->name));
	ev_io_init(&l->io, sink_accept_cb, fd, EV_READ);
	l->io.data = l;
	ev_io_start(sink->loop, &l->io);
	for (tail = &sink->listeners; *tail != NULL; tail = &(*tail)->next)
		continue;
	*tail = l;		/* keep the command line's order */
}

static void
sink_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static int
sink_code_option(const char *name, const char *value)
{
	int code = sink_code_parse(value, strlen(value));

	if (code == -1)
		fatalx("smtpsink: --%s %s: expected a reply code 2xx, 4xx "
		    "or 5xx", name, value);
	return code;
}

enum {
	OPT_LISTEN = 256, OPT_RECORD, OPT_MAILDIR, OPT_HOSTNAME, OPT_GREETING,
	OPT_MAIL_REPLY, OPT_NO_EHLO, OPT_NO_PIPELINING, OPT_PIDFILE, OPT_QUIET,
	OPT_TLS_CERT, OPT_GREETING_DELAY, OPT_EHLO_REPLY, OPT_EHLO_STALL,
	OPT_SIZE, OPT_NO_EXT,
};

static const struct option sink_options[] = {
	{ "listen",		required_argument, NULL, OPT_LISTEN },
	{ "record",		required_argument, NULL, OPT_RECORD },
	{ "maildir",		required_argument, NULL, OPT_MAILDIR },
	{ "hostname",		required_argument, NULL, OPT_HOSTNAME },
	{ "greeting",		required_argument, NULL, OPT_GREETING },
	{ "mail-reply",		required_argument, NULL, OPT_MAIL_REPLY },
	{ "no-ehlo",		no_argument,	   NULL, OPT_NO_EHLO },
	{ "no-pipelining",	no_argument,	   NULL, OPT_NO_PIPELINING },
	{ "pidfile",		required_argument, NULL, OPT_PIDFILE },
	{ "quiet",		no_argument,	   NULL, OPT_QUIET },
	{ "tls-cert",		required_argument, NULL, OPT_TLS_CERT },
	{ "greeting-delay",	required_argument, NULL, OPT_GREETING_DELAY },
	{ "ehlo-reply",		required_argument, NULL, OPT_EHLO_REPLY },
	{ "ehlo-stall",		required_argument, NULL, OPT_EHLO_STALL },
	{ "size",		required_argument, NULL, OPT_SIZE },
	{ "no-ext",		required_argument, NULL, OPT_NO_EXT },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL,			0,		   NULL, 0 },
};

/* A number of milliseconds (or bytes) for option `name`. */
static long
sink_ms_option(const char *name, const char *value, long max)
{
	long v = sink_number(value, strlen(value), 0, max);

	if (v == -1)
		fatalx("smtpsink: --%s %s: expected a number from 0 to %ld",
		    name, value, max);
	return v;
}

/* --no-ext KEYWORD: an EHLO keyword not to advertise. */
static unsigned
sink_ext_option(const char *value)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} ext[] = {
		{ "PIPELINING", SINK_EXT_PIPELINING },
		{ "8BITMIME", SINK_EXT_8BITMIME },
		{ "SIZE", SINK_EXT_SIZE },
		{ "ENHANCEDSTATUSCODES", SINK_EXT_ENHANCED },
		{ "SMTPUTF8", SINK_EXT_SMTPUTF8 },
		{ "DSN", SINK_EXT_DSN },
	};

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcasecmp(value, ext[i].name) == 0)
			return ext[i].bit;
	fatalx("smtpsink: --no-ext %s: expected PIPELINING, 8BITMIME, SIZE, "
	    "ENHANCEDSTATUSCODES, SMTPUTF8 or DSN", value);
}

/* Fill *sink from argv; the --listen specs go to listen[0..*nlisten). */
static void
sink_parse_args(struct sink *sink, int argc, char **argv,
    const char **listen_specs, size_t *nlisten)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "h", sink_options, NULL)) != -1) {
		switch (ch) {
		case OPT_LISTEN:
			listen_specs[(*nlisten)++] = optarg;
			break;
		case OPT_RECORD:	sink->record_path = optarg; break;
		case OPT_MAILDIR:	sink->maildir = optarg; break;
		case OPT_HOSTNAME:	sink->hostname = optarg; break;
		case OPT_PIDFILE:	sink->pidfile = optarg; break;
		case OPT_NO_EHLO:	sink->ehlo_reply = 502; break;
		case OPT_NO_PIPELINING:	sink->no_pipelining = true; break;
		case OPT_QUIET:		sink->quiet = true; break;
		case OPT_TLS_CERT:	sink->tls_cert = optarg; break;
		case OPT_GREETING:
			sink->greeting = sink_code_option("greeting", optarg);
			break;
		case OPT_MAIL_REPLY:
			sink->mail_reply = sink_code_option("mail-reply",
			    optarg);
			break;
		case OPT_GREETING_DELAY:
			sink->greeting_delay = sink_ms_option("greeting-delay",
			    optarg, SINK_WAIT_MAX);
			break;
		case OPT_EHLO_STALL:
			sink->ehlo_stall = sink_ms_option("ehlo-stall", optarg,
			    SINK_WAIT_MAX);
			break;
		case OPT_EHLO_REPLY:
			sink->ehlo_reply = sink_code_option("ehlo-reply",
			    optarg);
			if (sink->ehlo_reply / 100 == 2)
				fatalx("smtpsink: --ehlo-reply %s: expected "
				    "4xx or 5xx", optarg);
			break;
		case OPT_SIZE:
			sink->size = (unsigned long long)sink_ms_option("size",
			    optarg, LONG_MAX);
			break;
		case OPT_NO_EXT:
			sink->no_ext |= sink_ext_option(optarg);
			break;
		default:
			sink_usage();
		}
	}
	if (optind != argc || *nlisten == 0)
		sink_usage();
}

static void
sink_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fatal("smtpsink: %s", path);
	if (fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) == EOF)
		fatal("smtpsink: write %s", path);
}

/* Ignore SIGPIPE and allow as many descriptors as the hard limit. */
static void
sink_process_setup(void)
{
	struct sigaction sa;
	struct rlimit rl;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("smtpsink: sigaction");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("smtpsink: setrlimit");
	}
}

static void
sink_open_outputs(struct sink *sink)
{
	struct stat st;

	if (sink->record_path != NULL &&
	    (sink->record = fopen(sink->record_path, "a")) == NULL)
		fatal("smtpsink: %s", sink->record_path);
	if (sink->maildir != NULL && (stat(sink->maildir, &st) == -1 ||
	    !S_ISDIR(st.st_mode)))
		fatalx("smtpsink: --maildir %s: not a directory",
		    sink->maildir);
}

static void
sink_shutdown(struct sink *sink)
{
	struct sink_listener *l;

	conn_close_all(sink);
	while ((l = sink->listeners) != NULL) {
		sink->listeners = l->next;
		ev_io_stop(sink->loop, &l->io);
		close(l->io.fd);
		OBJ_WIPE(l);
		free(l);
	}
	ev_timer_stop(sink->loop, &sink->accept_retry);
	ev_signal_stop(sink->loop, &sink->sigterm);
	ev_signal_stop(sink->loop, &sink->sigint);
	if (sink->record != NULL && fclose(sink->record) == EOF)
		log_warn("smtpsink: close %s", sink->record_path);
	sink->record = NULL;
	if (sink->pidfile != NULL)
		unlink(sink->pidfile);
	ev_loop_destroy(sink->loop);
	SSL_CTX_free(sink->tls_ctx);
	OBJ_WIPE(sink);
}

int
main(int argc, char **argv)
{
	struct sink sink;
	struct sink_listener *l;
	const char **listen_specs;
	size_t i, nlisten = 0;

	memset(&sink, 0, sizeof(sink));
	OBJ_INIT(&sink, SINK_MAGIC);
	sink.hostname = "sink.test";
	sink.greeting = 220;
	sink.mail_reply = 250;
	sink.size = 104857600;
	sink.next_id = 1;
	listen_specs = xcalloc((size_t)argc, sizeof(*listen_specs));
	sink_parse_args(&sink, argc, argv, listen_specs, &nlisten);
	log_init(sink.quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO);
	sink_process_setup();
	sink_open_outputs(&sink);
	if (sink.tls_cert != NULL)
		sink_tls_init(&sink, sink.tls_cert);
	if ((sink.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("smtpsink: cannot initialise libev");
	for (i = 0; i < nlisten; i++)
		sink_listen(&sink, listen_specs[i]);
	free(listen_specs);
	ev_init(&sink.accept_retry, sink_accept_retry_cb);
	sink.accept_retry.data = &sink;
	ev_signal_init(&sink.sigterm, sink_signal_cb, SIGTERM);
	ev_signal_init(&sink.sigint, sink_signal_cb, SIGINT);
	ev_signal_start(sink.loop, &sink.sigterm);
	ev_signal_start(sink.loop, &sink.sigint);
	if (sink.pidfile != NULL)
		sink_write_pidfile(sink.pidfile);
	for (l = sink.listeners; l != NULL; l = l->next)
		fprintf(stderr, "smtpsink: listening on %s\n", l->name);
	fflush(stderr);
	ev_run(sink.loop, 0);
	sink_shutdown(&sink);
	return 0;
}
