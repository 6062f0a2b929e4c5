/*
 * smtpd_acct: the `r` (received) accounting records, one per recipient
 * of a message once it is committed to the spool (pmta-reference §4.3):
 * the envelope, the client (srcMta, rcvSourceIp) and the address it
 * connected to (rcvDestinationIp; both empty for a pickup file), the VirtualMTA selected (a pool's
 * name when a pool was: PMTA's `vmta` for r records) and the pool.
 */
#include "config.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acct/acct.h"
#include "queue/queue.h"
#include "smtpd/smtpd_msg.h"
#include "smtpd/smtpd_private.h"

void
smtpd_set_acct(struct smtpd *d, struct acct *a)
{
	d->acct = a;
}

/* The message's header section, read from the spool once for all its
 * recipients. */
struct smtpd_acct_msg {
	struct spool			*spool;
	const struct spool_envelope	*env;
	int				 status;	/* 1: not read yet */
	struct buf			 cache;
};

static int
smtpd_acct_headers(void *arg, struct buf *out)
{
	struct smtpd_acct_msg *m = arg;
	int fd;

	if (m->status == 1) {
		m->status = -1;
		/* never past the body (a data file holds others after it) */
		buf_init(&m->cache, (off_t)out->max < m->env->body_size ?
		    out->max : (size_t)m->env->body_size);
		if ((fd = spool_open_message(m->spool, m->env)) != -1) {
			m->status = acct_read_headers(fd, m->env->body_offset,
			    &m->cache);
			close(fd);
		}
	}
	buf_reset(out);
	if (m->status == -1 || (m->cache.len > 0 &&
	    buf_append(out, m->cache.data, m->cache.len) == -1))
		return -1;
	return 0;
}

void
smtpd_acct_received(struct smtpd *d, const struct model *m,
    const struct spool_envelope *env, const struct smtpd_rcv *rcv)
{
	struct smtpd_acct_msg msg = { d->spool, env, 1, { 0 } };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char local[64] = "";
	struct acct_record rec = { .type = ACCT_R };

	if (!acct_wants(d->acct, ACCT_R))
		return;
	if (rcv->fd != -1 &&
	    getsockname(rcv->fd, (struct sockaddr *)&ss, &len) == 0)
		addr_ntop((struct sockaddr *)&ss, local, sizeof(local));
	rec.logged = time(NULL);
	rec.queued = env->queued;
	rec.orig = env->orig;
	rec.src_type = rcv->src_type;
	rec.src_mta = env->srcmta;
	rec.rcv_source_ip = rcv->src_ip;
	rec.rcv_smtp_user = env->auth_user;
	rec.rcv_destination_ip = local;
	rec.job_id = env->jobid;
	rec.env_id = env->envid;
	rec.dlv_size = -1;
	if (env->vmta != NULL && model_pool_find(m, env->vmta) != NULL)
		rec.vmta_pool = env->vmta;
	rec.headers = smtpd_acct_headers;
	rec.headers_arg = &msg;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const char *rv = spool_envelope_rvmta(env, i);

		rec.rcpt = env->rcpts[i];
		rec.orcpt = spool_envelope_orcpt(env, i);
		rec.vmta = rv ? rv : env->vmta ? env->vmta : QUEUE_DEFAULT_VMTA;
		acct_write(d->acct, &rec);
	}
	if (msg.status != 1)
		buf_free(&msg.cache);
}
