/*
 * smtpd_mjob: a mailmerge job, from its collection to its committed
 * messages (see smtpd_mjob.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtp/smtp_header.h"
#include "smtp/smtp_merge.h"
#include "smtpd/smtpd_mjob.h"
#include "smtpd/smtpd_private.h"
#include "smtpd/smtpd_select.h"

#define SMTPD_MJOB_MAGIC	0x6d6a6f62u
#define SMTPD_MJOB_CHUNK	(64 * 1024)	/* read from the scratch file */
#define SMTPD_MJOB_SIZE_MAX	(1024LL * 1024 * 1024)	/* when unlimited */
#define SMTPD_MJOB_SLICE_MSGS	64	/* messages made per loop turn */
#define SMTPD_MJOB_SLICE_BYTES	(1024 * 1024)
/* the message buffer: the header section (SMTPD_FLUSH), what one
 * expansion step may add past it, and the header fields of reception */
#define SMTPD_MJOB_BODY_MAX	(2 * SMTPD_FLUSH + SMTP_MERGE_SET_MAX + \
				 SMTP_MERGE_NAME_MAX + 4096)

#if SMTPD_MJOB_CHUNK < SMTP_MERGE_SET_MAX
#error "a variable set must fit the read buffer"
#endif

enum smtpd_mjob_msg {
	SMTPD_MJOB_MSG_NONE,		/* not made (yet) */
	SMTPD_MJOB_MSG_SUBMITTED,	/* in the group commit */
	SMTPD_MJOB_MSG_DURABLE,
	SMTPD_MJOB_MSG_FAILED,
};

struct smtpd_mjob_rcpt {
	off_t		 vars_off;	/* its variable set in the scratch file */
	uint32_t	 vars_len;
	uint8_t		 msg;		/* enum smtpd_mjob_msg */
};

struct smtpd_mjob_part {
	off_t		 off, len;	/* in the scratch file */
	bool		 present;
};

/* A spool commit's callback argument: the job and the message. */
struct smtpd_mjob_commit {
	struct smtpd_mjob	*j;
	size_t			 idx;
};

struct smtpd_mjob {
	unsigned		 magic;
	struct smtpd		*d;
	int			 fd;		/* the scratch file */
	off_t			 fsize;
	long long		 max_size;	/* the parts; each message */
	bool			 verp;
	/* collecting */
	struct smtp_merge_vars	 cur;		/* XDFN for the next RCPT */
	off_t			 cur_off;	/* where RCPT stored it */
	uint32_t		 cur_len;
	struct smtpd_mjob_rcpt	*rcpts;		/* as the envelope's rcpts */
	size_t			 nalloc;
	struct smtpd_mjob_part	 parts[SMTP_MERGE_PART_MAX + 1];
	off_t			 parts_bytes;
	int			 part;		/* being received */
	off_t			 part_off;
	bool			 too_big, write_failed;
	/* making the messages */
	struct smtpd_origin	 o;
	smtpd_mjob_done_cb	*cb;
	void			*cb_arg;
	struct spool_envelope	 job;		/* the XMRG envelope */
	struct spool_envelope	*msgs;		/* one per recipient */
	struct smtpd_mjob_commit *commits;
	size_t			 next, outstanding;
	bool			 running, generated, in_slice, settled;
	bool			 keep_undefined, orphan, reported;
	char			 error[SMTPD_MJOB_REPLY_MAX];	/* the failure */
	struct smtpd_override	 ov;
	struct smtp_merge_vars	 vars, automatic;
	char			*rbuf;
	char			 date[64];
	unsigned long long	 bytes;
	ev_timer		 timer;
	/* the message being made */
	struct spool_envelope	 env;
	struct spool_writer	 writer;
	struct buf		 body;
	bool			 writing, headers_done, cold_taken;
};

OBJ_DEFINE_CAST(smtpd_mjob)

static void smtpd_mjob_fail(struct smtpd_mjob *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The job's failure reply: the first one stands. */
static void
smtpd_mjob_fail(struct smtpd_mjob *j, const char *fmt, ...)
{
	va_list ap;

	if (j->error[0] != '\0')
		return;
	va_start(ap, fmt);
	(void)vsnprintf(j->error, sizeof(j->error), fmt, ap);
	va_end(ap);
}

/* --- the scratch file --- */

/* An unlinked read-write file in dir. */
static int
smtpd_mjob_tmpfile(const char *dir)
{
	char path[PATH_MAX];
	int fd, n;

#ifdef O_TMPFILE
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		return fd;
#endif
	n = snprintf(path, sizeof(path), "%s/merge.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	(void)unlink(path);
	return fd;
}

/* Append p[0..n) to the scratch file.  0 or -1. */
static int
smtpd_mjob_store(struct smtpd_mjob *j, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = pwrite(j->fd, c, n, j->fsize);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
		j->fsize += w;
	}
	return 0;
}

/* --- the job --- */

struct smtpd_mjob *
smtpd_mjob_new(struct smtpd *d, long long max_size, bool verp)
{
	struct smtpd_mjob *j = xcalloc(1, sizeof(*j));

	OBJ_INIT(j, SMTPD_MJOB_MAGIC);
	j->d = d;
	j->verp = verp;
	j->max_size = max_size > 0 && max_size < SMTPD_MJOB_SIZE_MAX ?
	    max_size : SMTPD_MJOB_SIZE_MAX;
	if ((j->fd = smtpd_mjob_tmpfile(spool_dir(d->spool))) == -1) {
		log_warn("mailmerge: scratch file in %s", spool_dir(d->spool));
		OBJ_WIPE(j);
		free(j);
		return NULL;
	}
	smtp_merge_vars_init(&j->cur);
	smtp_merge_vars_init(&j->vars);
	smtp_merge_vars_init(&j->automatic);
	buf_init(&j->body, SMTPD_MJOB_BODY_MAX);
	return j;
}

/* The message being made is given up. */
static void
smtpd_mjob_msg_abort(struct smtpd_mjob *j)
{
	if (j->writing)
		spool_writer_abort(&j->writer);
	j->writing = false;
	if (j->cold_taken)
		smtpd_select_cold_undo(j->d->cold, &j->env);
	j->cold_taken = false;
	spool_envelope_free(&j->env);
	buf_reset(&j->body);
}

static void
smtpd_mjob_destroy(struct smtpd_mjob *j)
{
	ev_timer_stop(j->d->loop, &j->timer);
	smtpd_mjob_msg_abort(j);
	for (size_t i = 0; j->msgs != NULL && i < j->job.nrcpts; i++)
		spool_envelope_free(&j->msgs[i]);
	spool_envelope_free(&j->job);
	free(j->msgs);
	free(j->commits);
	free(j->rcpts);
	free(j->rbuf);
	buf_free(&j->body);
	smtp_merge_vars_free(&j->cur);
	smtp_merge_vars_free(&j->vars);
	smtp_merge_vars_free(&j->automatic);
	close(j->fd);
	OBJ_WIPE(j);
	free(j);
}

/* Not accepted: the messages already durable go again. */
static void
smtpd_mjob_cancel(struct smtpd_mjob *j)
{
	size_t removed = 0;

	j->settled = true;
	for (size_t i = 0; j->msgs != NULL && i < j->job.nrcpts; i++) {
		if (j->rcpts[i].msg == SMTPD_MJOB_MSG_NONE)
			continue;
		if (j->rcpts[i].msg == SMTPD_MJOB_MSG_DURABLE) {
			(void)spool_remove(j->d->spool, j->msgs[i].seg,
			    j->msgs[i].id, j->msgs[i].body_in_data);
			removed++;
		}
		smtpd_select_cold_undo(j->d->cold, &j->msgs[i]);
	}
	if (removed > 0)
		log_info("mailmerge: job not accepted, %zu message(s) removed "
		    "from the spool", removed);
}

void
smtpd_mjob_free(struct smtpd_mjob *j)
{
	if (j == NULL)
		return;
	OBJ_CHECK(j, SMTPD_MJOB_MAGIC);
	ev_timer_stop(j->d->loop, &j->timer);
	if (j->outstanding > 0) {
		/* commits in flight: their callbacks end the job */
		j->orphan = j->generated = true;
		smtpd_mjob_fail(j, "421 4.4.2 job abandoned");
		return;
	}
	if (!j->settled)
		smtpd_mjob_cancel(j);
	smtpd_mjob_destroy(j);
}

/* --- collecting --- */

/* May a message select VirtualMTA `name` (else it is refused)? */
static bool
smtpd_mjob_vmta_ok(const struct smtpd_origin *o, const char *name)
{
	const struct conf_value *v;

	if (model_vmta_find(o->model, name) != NULL ||
	    model_pool_find(o->model, name) != NULL)
		return true;
	v = model_settings_get(&o->model->global, CONF_ID_INVALID_VMTA_FALLBACK);
	return !smtpd_origin_bool(o, CONF_ID_REJECT_INVALID_VMTA) &&
	    v != NULL && v->u.s != NULL;
}

int
smtpd_mjob_xdfn(struct smtpd_mjob *j, const struct smtpd_origin *o,
    const char *arg, size_t len, char reply[SMTPD_MJOB_REPLY_MAX])
{
	size_t n = j->cur.n;
	const char *error = "bad XDFN", *vmta;

	if (smtp_merge_xdfn(arg, len, &j->cur, &error) == -1) {
		snprintf(reply, SMTPD_MJOB_REPLY_MAX, "501 5.5.4 %s", error);
		return -1;
	}
	vmta = smtp_merge_vars_get(&j->cur, "*vmta", 5, NULL);
	if (vmta != NULL && vmta[0] != '\0' && !smtpd_mjob_vmta_ok(o, vmta)) {
		smtp_merge_vars_truncate(&j->cur, n);
		snprintf(reply, SMTPD_MJOB_REPLY_MAX,
		    "550 5.3.5 specified VirtualMTA does not exist");
		return -1;
	}
	return 0;
}

int
smtpd_mjob_rcpt_begin(struct smtpd_mjob *j)
{
	j->cur_off = j->fsize;
	j->cur_len = (uint32_t)j->cur.data.len;
	if (smtpd_mjob_store(j, j->cur.data.data, j->cur.data.len) == 0)
		return 0;
	log_warn("mailmerge: scratch file");
	smtp_merge_vars_reset(&j->cur);
	return -1;
}

void
smtpd_mjob_rcpt_end(struct smtpd_mjob *j, bool accepted, size_t idx)
{
	if (accepted) {
		if (j->nalloc <= idx) {
			j->nalloc = j->nalloc ? 2 * j->nalloc : 16;
			if (j->nalloc <= idx)
				j->nalloc = idx + 1;
			j->rcpts = xreallocarray(j->rcpts, j->nalloc,
			    sizeof(*j->rcpts));
		}
		j->rcpts[idx].vars_off = j->cur_off;
		j->rcpts[idx].vars_len = j->cur_len;
		j->rcpts[idx].msg = SMTPD_MJOB_MSG_NONE;
	}
	smtp_merge_vars_reset(&j->cur);
}

/* --- receiving the parts --- */

int
smtpd_mjob_part_begin(struct smtpd_mjob *j, const char *arg, size_t len,
    bool *last, char reply[SMTPD_MJOB_REPLY_MAX])
{
	size_t i;
	int n = 0;

	for (i = 0; i < len && arg[i] >= '0' && arg[i] <= '9'; i++)
		if (n <= SMTP_MERGE_PART_MAX)
			n = n * 10 + (arg[i] - '0');
	*last = i < len;		/* " LAST" (the parser checked it) */
	if (n < 1 || n > SMTP_MERGE_PART_MAX) {
		snprintf(reply, SMTPD_MJOB_REPLY_MAX,
		    "501 5.5.4 part numbers go from 1 to %d",
		    SMTP_MERGE_PART_MAX);
		return -1;
	}
	if (j->parts[n].present) {
		snprintf(reply, SMTPD_MJOB_REPLY_MAX,
		    "503 5.5.1 part %d was sent already", n);
		return -1;
	}
	j->part = n;
	j->part_off = j->fsize;
	j->too_big = j->write_failed = false;
	return 0;
}

void
smtpd_mjob_part_write(struct smtpd_mjob *j, const char *data, size_t len)
{
	if (j->too_big || j->write_failed)
		return;			/* refused: the rest is dropped */
	if (j->parts_bytes + (j->fsize - j->part_off) + (off_t)len >
	    j->max_size) {
		j->too_big = true;
		return;
	}
	if (smtpd_mjob_store(j, data, len) == -1) {
		log_warn("mailmerge: scratch file");
		j->write_failed = true;
	}
}

void
smtpd_mjob_part_fail(struct smtpd_mjob *j)
{
	j->write_failed = true;
}

int
smtpd_mjob_part_end(struct smtpd_mjob *j, char reply[SMTPD_MJOB_REPLY_MAX])
{
	struct smtpd_mjob_part *p = &j->parts[j->part];

	if (j->too_big || j->write_failed) {
		snprintf(reply, SMTPD_MJOB_REPLY_MAX, "%s", j->too_big ?
		    "552 5.3.4 message too big" :
		    "451 4.3.0 cannot write to the spool");
		j->fsize = j->part_off;	/* its bytes are not used */
		return -1;
	}
	p->off = j->part_off;
	p->len = j->fsize - j->part_off;
	p->present = true;
	j->parts_bytes += p->len;
	return 0;
}

/* --- making the messages --- */

/* Recipient i's variables into j->vars, *to and *date into j->automatic. */
static int
smtpd_mjob_load_vars(struct smtpd_mjob *j, size_t i)
{
	const struct smtpd_mjob_rcpt *r = &j->rcpts[i];
	const char *to = j->job.rcpts[i];
	ssize_t n = 0;

	if (r->vars_len > 0)
		n = pread(j->fd, j->rbuf, r->vars_len, r->vars_off);
	if (n != (ssize_t)r->vars_len ||
	    smtp_merge_vars_load(&j->vars, j->rbuf, r->vars_len) == -1) {
		log_warn("mailmerge: reading back the variables of <%s>", to);
		smtpd_mjob_fail(j, "451 4.3.0 cannot read the mailmerge data");
		return -1;
	}
	smtp_merge_vars_reset(&j->automatic);
	(void)smtp_merge_vars_set(&j->automatic, "*to", 3, to, strlen(to));
	(void)smtp_merge_vars_set(&j->automatic, "*date", 5, j->date,
	    strlen(j->date));
	return 0;
}

/* A variable's value, or NULL when undefined or empty. */
static const char *
smtpd_mjob_var(const struct smtpd_mjob *j, const char *name)
{
	const char *v = smtp_merge_vars_get(&j->vars, name, strlen(name), NULL);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The parts recipient i's message is made of, in order. */
static int
smtpd_mjob_list(struct smtpd_mjob *j, size_t i, unsigned char *list,
    size_t max, size_t *n)
{
	const char *parts = smtpd_mjob_var(j, "*parts");

	*n = 0;
	if (parts == NULL) {	/* every part sent, in number order */
		for (int p = 1; p <= SMTP_MERGE_PART_MAX && *n < max; p++)
			if (j->parts[p].present)
				list[(*n)++] = (unsigned char)p;
		return 0;
	}
	if (smtp_merge_parts(parts, strlen(parts), list, max, n) == -1) {
		smtpd_mjob_fail(j, "554 5.5.4 bad *parts for <%s>",
		    j->job.rcpts[i]);
		return -1;
	}
	for (size_t k = 0; k < *n; k++)
		if (!j->parts[list[k]].present) {
			smtpd_mjob_fail(j, "554 5.5.1 part %d for <%s> was not "
			    "sent", list[k], j->job.rcpts[i]);
			return -1;
		}
	return 0;
}

/* Recipient i's envelope into j->env: *from (with VERP), *envid, the
 * job's DSN settings, and the recipient. */
static void
smtpd_mjob_envelope(struct smtpd_mjob *j, size_t i)
{
	struct spool_envelope *e = &j->env, *jb = &j->job;
	const char *from = smtpd_mjob_var(j, "*from");
	const char *envid = smtpd_mjob_var(j, "*envid");
	char verp[SMTP_ADDR_MAX + 1];

	if (from == NULL)
		from = smtp_merge_vars_get(&j->vars, "*from", 5, NULL) ?
		    "" : jb->orig;	/* "*from=<>": the null sender */
	if (j->verp && smtp_merge_verp(from, jb->rcpts[i], verp,
	    sizeof(verp)) == 0)
		from = verp;
	e->orig = xstrdup(from);
	e->srcmta = xstrdup(jb->srcmta);
	e->envid = envid != NULL ? xstrdup(envid) :
	    jb->envid != NULL ? xstrdup(jb->envid) : NULL;
	e->jobid = jb->jobid != NULL ? xstrdup(jb->jobid) : NULL;
	e->ret = jb->ret;
	e->no_dsn = jb->no_dsn;
	e->smtputf8 = jb->smtputf8;
	e->rcpts = xcalloc(1, sizeof(char *));
	e->rcpts[0] = xstrdup(jb->rcpts[i]);
	e->nrcpts = 1;
	if (spool_envelope_notify(jb, i) != 0)
		spool_envelope_set_notify(e, 0, spool_envelope_notify(jb, i));
	if (spool_envelope_orcpt(jb, i) != NULL)
		spool_envelope_set_orcpt(e, 0, spool_envelope_orcpt(jb, i));
}

/* The header section is in: select, edit the X-headers, start the file. */
static int
smtpd_mjob_start(struct smtpd_mjob *j)
{
	size_t hdr = smtp_header_end(j->body.data, j->body.len);

	j->headers_done = true;
	if (hdr == 0)
		hdr = j->body.len;	/* no end seen: all of it is header */
	switch (smtpd_msg_start(j->d, &j->o, &j->body, &hdr, &j->env,
	    &j->writer, &j->cold_taken, &j->ov)) {
	case SMTPD_MSG_STARTED:
		j->writing = true;
		return 0;
	case SMTPD_MSG_BAD_VMTA:
		smtpd_mjob_fail(j, "550 5.3.5 specified VirtualMTA does not exist");
		return -1;
	default:
		smtpd_mjob_fail(j, "451 4.3.0 cannot write to the spool");
		return -1;
	}
}

/* Write what the message buffer holds to the spool file (size capped). */
static int
smtpd_mjob_flush(struct smtpd_mjob *j)
{
	off_t size = j->writer.size - j->env.body_offset + (off_t)j->body.len;

	if (size > j->max_size) {
		smtpd_mjob_fail(j, "552 5.3.4 message for <%s> too big",
		    j->env.rcpts[0]);
		return -1;
	}
	if (spool_writer_write(&j->writer, j->body.data, j->body.len) == -1) {
		log_warn("mailmerge: spool write");
		smtpd_mjob_fail(j, "451 4.3.0 cannot write to the spool");
		return -1;
	}
	j->bytes += j->body.len;
	buf_reset(&j->body);
	return 0;
}

/* After output was added: start the file once the header section is in,
 * write out whenever the buffer is full. */
static int
smtpd_mjob_emit(struct smtpd_mjob *j, bool end)
{
	if (!j->headers_done && (end || j->body.len >= SMTPD_FLUSH ||
	    smtp_header_end(j->body.data, j->body.len) > 0) &&
	    smtpd_mjob_start(j) == -1)
		return -1;
	if (j->headers_done && (end || j->body.len >= SMTPD_FLUSH))
		return smtpd_mjob_flush(j);
	return 0;
}

/* Expand part p of the scratch file into the message. */
static int
smtpd_mjob_expand(struct smtpd_mjob *j, int p)
{
	struct smtp_merge_expand x;
	off_t off = j->parts[p].off, end = off + j->parts[p].len;
	size_t done, used;
	ssize_t n;

	smtp_merge_expand_init(&x, &j->automatic, &j->vars, j->keep_undefined);
	while (off < end) {
		n = pread(j->fd, j->rbuf, (size_t)(end - off < SMTPD_MJOB_CHUNK ?
		    end - off : SMTPD_MJOB_CHUNK), off);
		if (n <= 0) {
			log_warn("mailmerge: reading back part %d", p);
			smtpd_mjob_fail(j, "451 4.3.0 cannot read the mailmerge data");
			return -1;
		}
		for (done = 0; done < (size_t)n; done += used) {
			used = smtp_merge_expand_feed(&x, j->rbuf + done,
			    (size_t)n - done, &j->body, SMTPD_FLUSH);
			if (used == (size_t)-1) {
				smtpd_mjob_fail(j, "451 4.3.0 mailmerge buffer full");
				return -1;
			}
			if (smtpd_mjob_emit(j, false) == -1)
				return -1;
		}
		off += n;
	}
	if (smtp_merge_expand_end(&x, &j->body) == -1) {
		smtpd_mjob_fail(j, "451 4.3.0 mailmerge buffer full");
		return -1;
	}
	return smtpd_mjob_emit(j, false);
}

static void smtpd_mjob_committed(void *arg, int error);

/* The message is written: into the group commit, its envelope kept. */
static void
smtpd_mjob_submit(struct smtpd_mjob *j, size_t i)
{
	j->writing = false;
	j->env.body_size = j->writer.size - j->env.body_offset;
	j->msgs[i] = j->env;
	memset(&j->env, 0, sizeof(j->env));
	j->cold_taken = false;		/* undone by the job if it fails */
	j->rcpts[i].msg = SMTPD_MJOB_MSG_SUBMITTED;
	j->outstanding++;
	j->commits[i].j = j;
	j->commits[i].idx = i;
	spool_writer_commit_async(j->d->spool, &j->writer, &j->msgs[i],
	    smtpd_mjob_committed, &j->commits[i]);
}

/* Make recipient i's message.  0, or -1 with j->error set. */
static int
smtpd_mjob_make(struct smtpd_mjob *j, size_t i)
{
	unsigned char list[SMTP_MERGE_LIST_MAX];
	const char *prio;
	size_t n;

	if (smtpd_mjob_load_vars(j, i) == -1 ||
	    smtpd_mjob_list(j, i, list, sizeof(list), &n) == -1)
		return -1;
	smtpd_mjob_envelope(j, i);
	j->ov.vmta = smtpd_mjob_var(j, "*vmta");
	j->ov.jobid = smtpd_mjob_var(j, "*jobid");
	prio = smtpd_mjob_var(j, "*priority");
	j->ov.priority = prio != NULL ? (int)strtol(prio, NULL, 10) : -1;
	j->headers_done = false;
	buf_reset(&j->body);
	for (size_t k = 0; k < n; k++)
		if (smtpd_mjob_expand(j, list[k]) == -1)
			return -1;
	if (smtpd_mjob_emit(j, true) == -1)
		return -1;
	if (j->writer.failed) {
		smtpd_mjob_fail(j, "451 4.3.0 cannot write to the spool");
		return -1;
	}
	smtpd_mjob_submit(j, i);
	return 0;
}

/* Finished when every message is made (or the job failed) and every
 * commit has answered: the owner hears it once. */
static void
smtpd_mjob_check_done(struct smtpd_mjob *j)
{
	if (j->outstanding > 0 || !j->generated || j->reported)
		return;
	if (j->orphan) {		/* the owner went first */
		smtpd_mjob_cancel(j);
		smtpd_mjob_destroy(j);
		return;
	}
	j->reported = true;
	if (j->error[0] != '\0') {
		smtpd_mjob_cancel(j);
		j->cb(j->cb_arg, j->error);
	} else
		j->cb(j->cb_arg, NULL);
}

static void
smtpd_mjob_committed(void *arg, int error)
{
	struct smtpd_mjob_commit *c = arg;
	struct smtpd_mjob *j = OBJ_CAST(smtpd_mjob, c->j, SMTPD_MJOB_MAGIC);

	j->rcpts[c->idx].msg = error == 0 ? SMTPD_MJOB_MSG_DURABLE :
	    SMTPD_MJOB_MSG_FAILED;
	j->outstanding--;
	if (error != 0)
		smtpd_mjob_fail(j, "451 4.3.0 cannot write to the spool");
	if (!j->in_slice)
		smtpd_mjob_check_done(j);
}

/* One slice of messages per loop turn. */
static void
smtpd_mjob_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtpd_mjob *j = OBJ_CAST(smtpd_mjob, w->data, SMTPD_MJOB_MAGIC);
	unsigned long long start = j->bytes;
	size_t made = 0;

	j->in_slice = true;
	while (j->next < j->job.nrcpts && j->error[0] == '\0' &&
	    made++ < SMTPD_MJOB_SLICE_MSGS &&
	    j->bytes - start < SMTPD_MJOB_SLICE_BYTES)
		if (smtpd_mjob_make(j, j->next++) == -1)
			smtpd_mjob_msg_abort(j);
	j->in_slice = false;
	if (j->next == j->job.nrcpts || j->error[0] != '\0')
		j->generated = true;
	else {
		ev_timer_set(&j->timer, 0., 0.);
		ev_timer_start(loop, &j->timer);
	}
	smtpd_mjob_check_done(j);
}

void
smtpd_mjob_run(struct smtpd_mjob *j, struct spool_envelope *env,
    const struct smtpd_origin *o, smtpd_mjob_done_cb *cb, void *arg)
{
	const struct conf_value *v = model_settings_get(&o->model->global,
	    CONF_ID_MAILMERGE_EXPANDS_UNDEFINED);
	time_t now = time(NULL);
	struct tm tm;

	j->job = *env;
	memset(env, 0, sizeof(*env));
	j->o = *o;
	j->cb = cb;
	j->cb_arg = arg;
	j->running = true;
	j->msgs = xcalloc(j->job.nrcpts, sizeof(*j->msgs));
	j->commits = xcalloc(j->job.nrcpts, sizeof(*j->commits));
	j->rbuf = xmalloc(SMTPD_MJOB_CHUNK);
	j->keep_undefined = !conf_value_bool(v,
	    &conf_directives[CONF_ID_MAILMERGE_EXPANDS_UNDEFINED]);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(j->date, sizeof(j->date), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0)
		j->date[0] = '\0';
	ev_timer_init(&j->timer, smtpd_mjob_on_timer, 0., 0.);
	j->timer.data = j;
	ev_timer_start(j->d->loop, &j->timer);
}

void
smtpd_mjob_abort(struct smtpd_mjob *j, const char *reply)
{
	smtpd_mjob_fail(j, "%s", reply);
}

void
smtpd_mjob_accept(struct smtpd_mjob *j, const struct model *m,
    const struct smtpd_rcv *rcv)
{
	j->settled = true;
	for (size_t i = 0; i < j->job.nrcpts; i++) {
		struct smtpd_rcv r = *rcv;

		r.bytes = (unsigned long long)j->msgs[i].body_size;
		smtpd_msg_accepted(j->d, m, &j->msgs[i], &r);
	}
}

size_t
smtpd_mjob_count(const struct smtpd_mjob *j)
{
	return j->job.nrcpts;
}

const struct spool_envelope *
smtpd_mjob_first(const struct smtpd_mjob *j)
{
	return j->msgs != NULL && j->job.nrcpts > 0 &&
	    j->rcpts[0].msg == SMTPD_MJOB_MSG_DURABLE ? &j->msgs[0] : NULL;
}
