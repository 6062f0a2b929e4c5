/*
 * ctl: the one command layer behind `pmta` (over the control socket) and,
 * later, the HTTP API: both call ctl_exec(), so their answers are
 * identical.  Commands read the daemon's state through struct ctl_ctx,
 * on the loop thread.
 */
#ifndef TERN_CTL_H
#define TERN_CTL_H

#include <time.h>
#include <ev.h>

#include "acct/acct.h"
#include "dns/dns.h"
#include "lib/buf.h"
#include "model/model.h"
#include "mta/mta.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"

struct ctl_ctx {
	struct model *const	*model;
	const struct smtpd	*smtpd;
	struct mta		*mta;
	struct queue_mgr	*qm;
	struct acct		*acct;		/* NULL: no accounting */
	time_t			 started;
	/* reload the configuration: 0 when swapped in, -1 (errors in out)
	 * when the old one stays */
	int			(*reload)(void *arg, struct buf *out);
	void			*reload_arg;
	struct dns		*dns;		/* or NULL */
};

enum ctl_status {
	CTL_OK = 0,
	CTL_ERROR = 1,		/* the command failed; out says why */
	CTL_USAGE = 2,		/* unknown command or bad arguments */
	CTL_PENDING = 3,	/* ctl_exec_async: the answer comes later */
};

enum ctl_status ctl_exec(const struct ctl_ctx *ctx, int argc, char **argv,
	    struct buf *out);

/*
 * The same, for callers that can wait: a command that needs the loop
 * (resolve) returns CTL_PENDING, sets *wait, and later calls
 * done(arg, status, output) on the loop thread, once.  ctl_wait_cancel()
 * before that (the client went away) means done is never called.
 * Every other command answers at once, as ctl_exec().
 */
struct ctl_wait;
typedef void ctl_done_cb(void *arg, enum ctl_status st, const struct buf *out);
enum ctl_status ctl_exec_async(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out, ctl_done_cb *done, void *arg,
	    struct ctl_wait **wait);
void	ctl_wait_cancel(struct ctl_wait *wait);

/* The control socket of a daemon: "<spool>/pmtad.sock". */
char	*ctl_socket_path(const char *spool_dir);

/* Daemon side: serve ctl_exec() on the control socket. */
struct ctl_server;
struct ctl_server *ctl_server_new(struct ev_loop *loop,
	    const struct ctl_ctx *ctx, const char *path, const char **error_r);
void	ctl_server_free(struct ctl_server *srv);

/* Wire format, both directions (see ctl_server.c). */
#define CTL_REQUEST_MAX		(64 * 1024)
#define CTL_REPLY_MAX		(64 * 1024 * 1024)

#endif
