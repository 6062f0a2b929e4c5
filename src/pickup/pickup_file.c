/*
 * pickup_file: one pickup file's way into the spool.
 *
 * Open (never following a symbolic link), flock() it exclusively without
 * waiting, check its size, then chunk by chunk: parse, hold the message
 * until its header section is in, let smtpd_msg choose the VirtualMTA
 * and the job for <source {pickup}> and start the spool file, stream the
 * rest, commit.  Only the commit callback removes the file, and only if
 * the name still holds the file that was read (a writer may have renamed
 * a new file over it).  The envelope carries the file's identity, so
 * that recovery can finish the removal if pmtad dies before it.  The lock is held until then, and dies with the
 * process.
 *
 * A BSMTP mailmerge file (XMRG) drives a struct smtpd_mjob, the job the
 * SMTP server's XMRG uses: the parser hands it the XDFN sets, the
 * recipients and the parts as they are read, and at the end of the file
 * the job makes every recipient's message with <source {pickup}>'s
 * settings and commits them; the file is removed only when all are
 * durable.  Those messages do not carry the file's identity (only the
 * whole job accepts the file): if pmtad stops between their commit and
 * the removal, the file is taken again at start (duplicates, never a
 * loss).
 *
 * Refused recipients of an accepted file (a RCPT refused after XACK OFF)
 * bounce once it is accepted: a b record each, and a report to the
 * file's sender (smtpd_msg_refused()).
 *
 * Outcomes: durable -> removed and queued; bad (the file can never be
 * injected) -> moved to the bad-file directory with a log line; a
 * temporary failure (spool, read error) -> left for the next scan.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "pickup/pickup_private.h"
#include "smtp/smtp_header.h"
#include "smtpd/smtpd_mjob.h"
#include "smtpd/smtpd_msg.h"

OBJ_DEFINE_CAST(pickup_file)

/*
 * Move `name` to the bad-file directory (NAME, else NAME.1 ... NAME.99:
 * nothing there is overwritten).  When that is impossible (another file
 * system, no room for a name) it is renamed ".NAME.bad" in place, which
 * scans skip, so it is not taken again.
 */
static void
pickup_move_bad(struct pickup *p, const char *name, const char *why)
{
	char target[NAME_MAX + 1];
	int n, e = 0;

	for (int i = 0; i < 100; i++) {
		n = i == 0 ? snprintf(target, sizeof(target), "%s", name) :
		    snprintf(target, sizeof(target), "%s.%d", name, i);
		if (n < 0 || (size_t)n >= sizeof(target))
			break;
		if (linkat(p->dirfd, name, p->badfd, target, 0) == 0) {
			(void)unlinkat(p->dirfd, name, 0);
			log_warnx("pickup: %s moved to %s/%s: %s", name,
			    p->bad_dir, target, why);
			return;
		}
		if ((e = errno) != EEXIST)
			break;
	}
	n = snprintf(target, sizeof(target), ".%.240s.bad", name);
	if (renameat(p->dirfd, name, p->dirfd, target) == 0)
		log_warnx("pickup: %s is bad (%s); it cannot be moved to %s "
		    "(%s), renamed %s", name, why, p->bad_dir, strerror(e),
		    target);
	else
		log_warn("pickup: %s is bad (%s) and cannot be moved", name, why);
}

void
pickup_file_free(struct pickup_file *f)
{
	struct pickup *p = f->p;

	OBJ_CHECK(f, PICKUP_FILE_MAGIC);
	if (p->reading == f)
		p->reading = NULL;
	if (f->writing)
		spool_writer_abort(&f->writer);
	if (f->cold_taken)
		smtpd_msg_cold_undo(p->smtpd, &f->env);
	smtpd_mjob_free(f->job);	/* not accepted: its messages go */
	free(f->merge_sender);
	spool_envelope_free(&f->env);
	pickup_parse_free(&f->parse);
	buf_free(&f->out);
	if (f->fd != -1)
		close(f->fd);	/* and the lock goes */
	model_unref(f->model);
	free(f->name);
	OBJ_WIPE(f);
	free(f);
}

static void
pickup_file_bad(struct pickup_file *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The file can never be injected: to the bad-file directory. */
static void
pickup_file_bad(struct pickup_file *f, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (pickup_unchanged(f->p, f->name, &f->st))
		pickup_move_bad(f->p, f->name, why);
	else
		log_warnx("pickup: %s is bad (%s) but was changed meanwhile",
		    f->name, why);
	pickup_file_free(f);
}

/* --- a mailmerge file's job (pickup_merge_ops) --- */

static struct pickup_file *
pickup_file_of(void *arg)
{
	return OBJ_CAST(pickup_file, arg, PICKUP_FILE_MAGIC);
}

/* VERP for the file's message(s): the MAIL/XMRG parameter, or the
 * verp-default of <source {pickup}>. */
static bool
pickup_file_verp(const struct pickup_file *f)
{
	const struct smtpd_origin o = { .model = f->model,
	    .source = PICKUP_SOURCE };

	return f->env.verp || smtpd_origin_bool(&o, CONF_ID_VERP_DEFAULT);
}

/* The job, made at its first use (VERP is applied per message). */
static int
pickup_job(struct pickup_file *f, char *reply, size_t size)
{
	if (f->job != NULL)
		return 0;
	if ((f->job = smtpd_mjob_new(f->p->smtpd, f->cap,
	    pickup_file_verp(f))) == NULL) {
		snprintf(reply, size, "451 4.3.0 cannot write to the spool");
		return -1;
	}
	f->env.verp = false;
	return 0;
}

static int
pickup_op_xdfn(void *arg, const char *a, size_t len, char *reply, size_t size)
{
	struct pickup_file *f = pickup_file_of(arg);
	const struct smtpd_origin o = { .model = f->model,
	    .source = PICKUP_SOURCE };
	char r[SMTPD_MJOB_REPLY_MAX];

	if (pickup_job(f, reply, size) == -1)
		return -1;
	if (smtpd_mjob_xdfn(f->job, &o, a, len, r) == 0)
		return 0;
	snprintf(reply, size, "%s", r);
	return -1;
}

static int
pickup_op_rcpt_begin(void *arg, char *reply, size_t size)
{
	struct pickup_file *f = pickup_file_of(arg);

	if (pickup_job(f, reply, size) == -1)
		return -1;
	if (smtpd_mjob_rcpt_begin(f->job) == 0)
		return 0;
	snprintf(reply, size, "451 4.3.0 cannot write to the spool");
	return -1;
}

static void
pickup_op_rcpt_end(void *arg, bool accepted, size_t idx)
{
	smtpd_mjob_rcpt_end(pickup_file_of(arg)->job, accepted, idx);
}

static int
pickup_op_part(void *arg, const char *a, size_t len, bool *last, char *reply,
    size_t size)
{
	struct pickup_file *f = pickup_file_of(arg);
	char r[SMTPD_MJOB_REPLY_MAX];

	if (pickup_job(f, reply, size) == -1)
		return -1;
	if (smtpd_mjob_part_begin(f->job, a, len, last, r) == 0)
		return 0;
	snprintf(reply, size, "%s", r);
	return -1;
}

static int
pickup_op_part_data(void *arg, struct buf *out, bool end, char *reply,
    size_t size)
{
	struct pickup_file *f = pickup_file_of(arg);
	char r[SMTPD_MJOB_REPLY_MAX];

	smtpd_mjob_part_write(f->job, out->data, out->len);
	buf_reset(out);
	if (!end || smtpd_mjob_part_end(f->job, r) == 0)
		return 0;
	snprintf(reply, size, "%s", r);
	return -1;
}

static const struct pickup_merge_ops pickup_merge_ops = {
	pickup_op_xdfn, pickup_op_rcpt_begin, pickup_op_rcpt_end,
	pickup_op_part, pickup_op_part_data,
};

/* pickup-remove-dot, the size cap (max-message-size of {pickup}), and
 * mailmerge files unless <source {pickup}> says allow-mailmerge no. */
static void
pickup_file_settings(struct pickup_file *f)
{
	const struct smtpd_origin o = { .model = f->model,
	    .source = PICKUP_SOURCE };
	const struct conf_value *v = smtpd_origin_value(&o,
	    CONF_ID_MAX_MESSAGE_SIZE);
	bool remove_dot = conf_value_bool(model_settings_get(&f->model->global,
	    CONF_ID_PICKUP_REMOVE_DOT), &conf_directives[CONF_ID_PICKUP_REMOVE_DOT]);

	const struct conf_value *mm = smtpd_origin_value(&o,
	    CONF_ID_ALLOW_MAILMERGE);

	f->cap = v != NULL && !v->unlimited && v->u.i > 0 ? v->u.i :
	    PICKUP_SIZE_DEFAULT;
	pickup_parse_init(&f->parse, remove_dot);
	if (mm == NULL || !mm->set || mm->u.b)
		pickup_parse_merge(&f->parse, &pickup_merge_ops, f);
}

/* An open() failure: gone (quietly), bad (moved), or later (logged). */
static void
pickup_open_failed(struct pickup *p, const char *name)
{
	if (errno == ENOENT)
		return;
	if (errno == ELOOP)
		pickup_move_bad(p, name, "a symbolic link, not a file");
	else if (errno == EACCES || errno == EPERM)
		pickup_move_bad(p, name, strerror(errno));
	else
		log_warn("pickup: %s/%s (tried again later)", p->dir, name);
}

struct pickup_file *
pickup_file_open(struct pickup *p, const char *name)
{
	struct pickup_file *f;
	struct stat st;
	int fd;

	fd = openat(p->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		pickup_open_failed(p, name);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			log_debug("pickup: %s is locked by its writer", name);
		close(fd);		/* not a file, or not now */
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	OBJ_INIT(f, PICKUP_FILE_MAGIC);
	f->p = p;
	f->name = xstrdup(name);
	f->fd = fd;
	f->st = st;
	f->model = model_ref(*p->model);
	buf_init(&f->out, PICKUP_OUT_MAX);
	pickup_file_settings(f);
	if (st.st_size > f->cap) {
		pickup_file_bad(f, "too large: %lld bytes, the limit is %lld",
		    (long long)st.st_size, f->cap);
		return NULL;
	}
	return f;
}

/* The file is accepted: its refused recipients bounce to sender, with
 * env (an accepted message of the file) as the original. */
static void
pickup_file_bounce(struct pickup_file *f, const struct spool_envelope *env,
    const char *sender)
{
	size_t n = f->parse.rcpts_dropped;
	struct smtpd_refusal *r;
	char **diag;

	if (n == 0 || env == NULL)
		return;
	r = xcalloc(n, sizeof(*r));
	diag = xcalloc(n, sizeof(*diag));
	for (size_t i = 0; i < n; i++) {
		const struct pickup_refused *pr = &f->parse.refused[i];

		diag[i] = xasprintf("x-pmta;pickup file %s: %s", f->name,
		    pr->why);
		r[i].rcpt = pr->rcpt;
		r[i].notify = pr->notify;
		r[i].orcpt = pr->orcpt;
		r[i].status = pr->status;
		r[i].diag = diag[i];
	}
	smtpd_msg_refused(f->p->smtpd, f->model, env, sender, r, n);
	for (size_t i = 0; i < n; i++)
		free(diag[i]);
	free(diag);
	free(r);
}

/* The file's messages are durable: remove it, if it is still the file
 * that was read. */
static void
pickup_file_remove(struct pickup_file *f, const char *what)
{
	struct pickup *p = f->p;

	if (!pickup_unchanged(p, f->name, &f->st))
		log_warnx("pickup: %s was changed while it was read; "
		    "it stays and will be taken again", f->name);
	else if (unlinkat(p->dirfd, f->name, 0) == -1)
		log_warn("pickup: %s is queued (%s) but cannot be removed",
		    f->name, what);
}

/* The spool's answer: durable, or not (the file stays for a retry). */
static void
pickup_file_committed(void *arg, int error)
{
	struct pickup_file *f = OBJ_CAST(pickup_file, arg, PICKUP_FILE_MAGIC);
	struct pickup *p = f->p;
	struct smtpd_rcv rcv = { "smtp", "", -1, f->parse.bytes };

	LIST_REMOVE(f, entry);
	p->ncommitting--;
	if (error != 0) {
		log_warnx("pickup: %s: cannot write to the spool (%s); tried "
		    "again later", f->name, strerror(error));
	} else {
		f->cold_taken = false;
		pickup_file_remove(f, f->env.id);
		log_debug("pickup: %s: message %s queued for %zu recipient(s)",
		    f->name, f->env.id, f->env.nrcpts);
		smtpd_msg_accepted(p->smtpd, f->model, &f->env, &rcv);
		pickup_file_bounce(f, &f->env, f->env.orig);
	}
	pickup_file_free(f);
	pickup_kick(p);
}

/* The whole file is read and written: to the spool's group commit.
 * The callback may run before this returns; f is not used after. */
static void
pickup_file_commit(struct pickup_file *f)
{
	struct pickup *p = f->p;

	if (f->parse.rcpts_dropped > 0)
		log_warnx("pickup: %s: %zu recipient(s) refused after XACK OFF; "
		    "they bounce", f->name, f->parse.rcpts_dropped);
	p->reading = NULL;
	f->writing = false;
	buf_free(&f->out);		/* up to PICKUP_OUT_MAX, while waiting */
	LIST_INSERT_HEAD(&p->committing, f, entry);
	p->ncommitting++;
	smtpd_msg_commit(p->smtpd, &f->env, &f->writer, pickup_file_committed, f);
}

/* The header section is in: choose for {pickup}, start the spool file.
 * -1 when the file was given up (bad, or left for later). */
static int
pickup_file_begin(struct pickup_file *f, size_t *hdr)
{
	const struct smtpd_origin o = { .model = f->model,
	    .source = PICKUP_SOURCE };

	f->env.srcmta = f->parse.helo != NULL ?
	    xasprintf("%s (%s)", f->parse.helo, PICKUP_SOURCE) :
	    xstrdup(PICKUP_SOURCE);
	f->env.pickup = pickup_identity(f->name, &f->st);
	f->env.verp = pickup_file_verp(f);
	smtpd_msg_dsn_defaults(&o, &f->env);
	switch (smtpd_msg_start(f->p->smtpd, &o, &f->out, hdr, &f->env,
	    &f->writer, &f->cold_taken, NULL)) {
	case SMTPD_MSG_STARTED:
		f->writing = true;
		return 0;
	case SMTPD_MSG_BAD_VMTA:
		pickup_file_bad(f, "specified VirtualMTA does not exist");
		return -1;
	default:
		log_warnx("pickup: %s: spool error; tried again later", f->name);
		pickup_file_free(f);
		return -1;
	}
}

/* Start the spool file once the header section is in (or the message
 * ended, or PICKUP_FLUSH bytes are held), then write what is held in
 * runs of PICKUP_FLUSH (all of it at the end).  -1 when given up. */
static int
pickup_file_flush(struct pickup_file *f, bool end)
{
	size_t hdr;

	if (!f->writing) {
		if (!f->parse.in_message)
			return 0;
		hdr = smtp_header_end(f->out.data, f->out.len);
		if (hdr == 0 && !end && !f->parse.done &&
		    f->out.len < PICKUP_FLUSH)
			return 0;
		if (hdr == 0)
			hdr = f->out.len;	/* all of it is header */
		if (pickup_file_begin(f, &hdr) == -1)
			return -1;
	}
	if (f->out.len < PICKUP_FLUSH && !end)
		return 0;
	if (spool_writer_write(&f->writer, f->out.data, f->out.len) == -1) {
		log_warn("pickup: %s: spool write; tried again later", f->name);
		pickup_file_free(f);
		return -1;
	}
	buf_reset(&f->out);
	return 0;
}

/* A mailmerge file's job is over: every message durable, or none. */
static void
pickup_job_done(void *arg, const char *error)
{
	struct pickup_file *f = pickup_file_of(arg);
	struct pickup *p = f->p;
	struct smtpd_rcv rcv = { "smtp", "", -1, 0 };

	LIST_REMOVE(f, entry);
	p->ncommitting--;
	if (error != NULL && error[0] == '4') {
		log_warnx("pickup: %s: mailmerge job not accepted (%s); tried "
		    "again later", f->name, error);
		pickup_file_free(f);
	} else if (error != NULL) {
		/* error lives in the job, which pickup_file_bad() frees last */
		pickup_file_bad(f, "mailmerge job not accepted: %s", error);
	} else {
		pickup_file_remove(f, "mailmerge job");
		log_debug("pickup: %s: mailmerge job of %zu message(s) queued",
		    f->name, smtpd_mjob_count(f->job));
		smtpd_mjob_accept(f->job, f->model, &rcv);
		if (f->parse.rcpts_dropped > 0)
			log_warnx("pickup: %s: %zu recipient(s) refused after "
			    "XACK OFF; they bounce", f->name,
			    f->parse.rcpts_dropped);
		pickup_file_bounce(f, smtpd_mjob_first(f->job), f->merge_sender);
		pickup_file_free(f);
	}
	pickup_kick(p);
}

/* The whole mailmerge file is read: the job makes its messages.  The
 * callback runs from a later loop turn. */
static void
pickup_file_run_job(struct pickup_file *f)
{
	const struct smtpd_origin o = { .model = f->model,
	    .source = PICKUP_SOURCE };
	struct pickup *p = f->p;

	f->env.srcmta = f->parse.helo != NULL ?
	    xasprintf("%s (%s)", f->parse.helo, PICKUP_SOURCE) :
	    xstrdup(PICKUP_SOURCE);
	smtpd_msg_dsn_defaults(&o, &f->env);
	f->merge_sender = xstrdup(f->env.orig);
	p->reading = NULL;
	buf_free(&f->out);
	LIST_INSERT_HEAD(&p->committing, f, entry);
	p->ncommitting++;
	smtpd_mjob_run(f->job, &f->env, &o, pickup_job_done, f);
}

/* The parser refused the file: for now (left for the next scan), or for
 * good (moved to the bad directory). */
static void
pickup_file_parse_failed(struct pickup_file *f)
{
	if (f->parse.temporary) {
		log_warnx("pickup: %s: %s; tried again later", f->name,
		    f->parse.error);
		pickup_file_free(f);
	} else
		pickup_file_bad(f, "%s", f->parse.error);
}

static void
pickup_file_eof(struct pickup_file *f)
{
	if (pickup_parse_finish(&f->parse, &f->env, &f->out) == -1) {
		pickup_file_parse_failed(f);
		return;
	}
	if (f->parse.merge) {
		pickup_file_run_job(f);
		return;
	}
	if (pickup_file_flush(f, true) == -1)
		return;
	pickup_file_commit(f);
}

void
pickup_file_step(struct pickup_file *f)
{
	ssize_t n = read(f->fd, f->p->chunk, PICKUP_CHUNK);

	if (n == -1) {
		if (errno == EINTR)
			return;
		log_warn("pickup: %s: read (tried again later)", f->name);
		pickup_file_free(f);
		return;
	}
	if (n == 0) {
		pickup_file_eof(f);
		return;
	}
	f->nread += n;
	if (f->nread > f->cap) {
		pickup_file_bad(f, "too large: more than %lld bytes", f->cap);
		return;
	}
	if (pickup_parse_feed(&f->parse, f->p->chunk, (size_t)n, &f->env,
	    &f->out) == -1) {
		pickup_file_parse_failed(f);
		return;
	}
	(void)pickup_file_flush(f, false);
}
