/*
 * smtpd_msg: a message's way from its envelope to the queues, shared by
 * the SMTP sessions and the pickup directory (see smtpd_msg.h).
 *
 * Selection happens once, when the header section is in: the pattern
 * list sees the section as received, then X-Virtual-MTA and X-Job are
 * read (and removed unless retained), and the spool file starts with an
 * envelope that already carries the choice.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "queue/dsn.h"
#include "smtp/smtp_header.h"
#include "smtp/smtp_merge.h"
#include "smtpd/smtpd_msg.h"
#include "smtpd/smtpd_private.h"
#include "smtpd/smtpd_select.h"

const struct conf_value *
smtpd_origin_value(const struct smtpd_origin *o, int id)
{
	const struct conf_value *v = NULL;

	if (o->user_source != NULL)
		v = model_source_named_value(o->model, o->user_source, id);
	if (v == NULL && o->source != NULL)
		v = model_source_named_value(o->model, o->source, id);
	if (v == NULL && o->peer != NULL)
		v = model_source_value(o->model, o->peer, id);
	return v;
}

bool
smtpd_origin_bool(const struct smtpd_origin *o, int id)
{
	return conf_value_bool(smtpd_origin_value(o, id), &conf_directives[id]);
}

static bool
smtpd_param_is(const struct smtp_param *p, const char *key)
{
	return p->key_len == strlen(key) && strncasecmp(p->key, key, p->key_len) == 0;
}

int
smtpd_msg_mail_params(const struct smtp_cmd *c, struct spool_envelope *env,
    bool merge, const struct smtp_param **bad)
{
	char envid[SMTP_ADDR_MAX + 1];

	for (size_t i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];

		/* SIZE, SMTPUTF8 and VERP are the session's checks
		 * (smtpd_mail_check) */
		if (smtpd_param_is(p, "BODY") || smtpd_param_is(p, "SIZE") ||
		    smtpd_param_is(p, "VERP") || smtpd_param_is(p, "SMTPUTF8"))
			continue;
		if (smtpd_param_is(p, "RET") && p->value != NULL) {
			env->ret = strncasecmp(p->value, "FULL", 4) == 0 ? 2 : 1;
			continue;
		}
		if (smtpd_param_is(p, "ENVID") && p->value != NULL &&
		    smtp_xtext_decode(p->value, p->value_len, envid,
		    sizeof(envid)) == 0) {
			free(env->envid);
			env->envid = xstrdup(envid);
			continue;
		}
		*bad = p;
		return -1;
	}
	return 0;
}

/* NOTIFY=a,b,...: NEVER, SUCCESS, DELAY; anything else counts as FAILURE. */
static unsigned
smtpd_notify_bits(const char *value, size_t len)
{
	char *v = xstrndup(value, len), *save = NULL;
	unsigned bits = 0;

	for (char *w = strtok_r(v, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save))
		bits |= strcasecmp(w, "NEVER") == 0 ? DSN_NOTIFY_NEVER :
		    strcasecmp(w, "SUCCESS") == 0 ? DSN_NOTIFY_SUCCESS :
		    strcasecmp(w, "DELAY") == 0 ? DSN_NOTIFY_DELAY :
		    DSN_NOTIFY_FAILURE;
	free(v);
	return bits;
}

int
smtpd_msg_rcpt_params(const struct smtp_cmd *c, unsigned *notify,
    char *orcpt, size_t size, const struct smtp_param **bad)
{
	*notify = 0;
	orcpt[0] = '\0';
	for (size_t i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];

		if (smtpd_param_is(p, "NOTIFY") && p->value != NULL)
			*notify |= smtpd_notify_bits(p->value, p->value_len);
		else if (!smtpd_param_is(p, "ORCPT") || p->value == NULL ||
		    smtp_xtext_decode(p->value, p->value_len, orcpt, size) == -1) {
			*bad = p;
			return -1;
		}
	}
	return 0;
}

void
smtpd_msg_add_rcpt(struct spool_envelope *env, const char *addr,
    unsigned notify, const char *orcpt)
{
	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(char *));
	env->rcpts[env->nrcpts++] = xstrdup(addr);
	if (notify != 0)
		spool_envelope_set_notify(env, env->nrcpts - 1, notify);
	if (orcpt != NULL && orcpt[0] != '\0')
		spool_envelope_set_orcpt(env, env->nrcpts - 1, orcpt);
}

void
smtpd_msg_dsn_defaults(const struct smtpd_origin *o, struct spool_envelope *env)
{
	const struct conf_value *v = smtpd_origin_value(o,
	    CONF_ID_DSN_RETURN_DEFAULT);

	env->no_dsn = smtpd_origin_bool(o, CONF_ID_SUPPRESS_LOCAL_DSN);
	if (env->ret == 0 && v != NULL && v->set && v->u.s != NULL)
		env->ret = strcmp(v->u.s, "full") == 0 ? 2 :
		    strcmp(v->u.s, "headers") == 0 ? 1 : 0;
}

/* What the origin's <pattern-list> selects, on the header section as
 * received (before any X-header is removed). */
static void
smtpd_select_by_patterns(const struct smtpd_origin *o,
    const struct spool_envelope *env, const struct buf *body, size_t hdr,
    struct smtpd_select *sel)
{
	const struct conf_value *v = smtpd_origin_value(o,
	    CONF_ID_SOURCE_PATTERN_LIST);
	struct smtpd_select_msg msg = { env->orig, env->rcpts, env->nrcpts,
	    body->data, hdr };

	sel->vmta = NULL;
	sel->priority = -1;
	if (v != NULL && v->u.s != NULL)
		(void)smtpd_select_patterns(o->model, v->u.s, &msg, sel);
}

/* A name that is neither a VirtualMTA nor a pool: refused (-1), or the
 * invalid-virtual-mta-fallback in name. */
static int
smtpd_select_fallback(const struct smtpd_origin *o, char *name, size_t size)
{
	const struct conf_value *v;

	if (name[0] == '\0' || model_vmta_find(o->model, name) != NULL ||
	    model_pool_find(o->model, name) != NULL)
		return 0;
	v = model_settings_get(&o->model->global, CONF_ID_INVALID_VMTA_FALLBACK);
	if (smtpd_origin_bool(o, CONF_ID_REJECT_INVALID_VMTA) || v == NULL ||
	    v->u.s == NULL)
		return -1;
	snprintf(name, size, "%s", v->u.s);
	return 0;
}

/*
 * The VirtualMTA a message selects (pmta-reference §3.2), highest first:
 * X-Virtual-MTA when the source processes it (removed unless retained),
 * the source's <pattern-list>, the source's default-virtual-mta.  A name
 * that is neither a VMTA nor a pool refuses the message
 * (reject-invalid-virtual-mta, the default) or falls back to
 * invalid-virtual-mta-fallback.  The pattern list's recipient-priority
 * applies whichever VirtualMTA wins.  A mailmerge recipient's `ov`
 * comes first: *vmta beats everything, *priority the pattern list's, and
 * the job's first X-Virtual-MTA stands for every recipient of the job.
 * -1 when refused.
 */
static int
smtpd_select_vmta(const struct smtpd_origin *o, struct buf *body, size_t *hdr,
    struct spool_envelope *env, struct smtpd_override *ov)
{
	const struct conf_value *v;
	struct smtpd_select sel;
	char name[256] = "";

	smtpd_select_by_patterns(o, env, body, *hdr, &sel);
	if (sel.priority >= 0)
		spool_envelope_set_priority(env, sel.priority);
	if (ov != NULL && ov->priority >= 0)
		spool_envelope_set_priority(env, ov->priority);
	if (smtpd_origin_bool(o, CONF_ID_PROCESS_X_VIRTUAL_MTA))
		(void)smtp_header_take(body, hdr, "X-Virtual-MTA",
		    !smtpd_origin_bool(o, CONF_ID_RETAIN_X_VIRTUAL_MTA), name,
		    sizeof(name));
	if (ov != NULL && ov->xvmta[0] != '\0')
		snprintf(name, sizeof(name), "%s", ov->xvmta);
	else if (ov != NULL)
		snprintf(ov->xvmta, sizeof(ov->xvmta), "%s", name);
	if (ov != NULL && ov->vmta != NULL)
		snprintf(name, sizeof(name), "%s", ov->vmta);
	if (name[0] == '\0' && sel.vmta != NULL)
		snprintf(name, sizeof(name), "%s", sel.vmta);
	if (name[0] == '\0' && (v = smtpd_origin_value(o,
	    CONF_ID_DEFAULT_VIRTUAL_MTA)) != NULL && v->u.s != NULL &&
	    strcmp(v->u.s, "by-smtp-source-ip") != 0)
		snprintf(name, sizeof(name), "%s", v->u.s);
	if (smtpd_select_fallback(o, name, sizeof(name)) == -1)
		return -1;
	free(env->vmta);
	env->vmta = name[0] != '\0' ? xstrdup(name) : NULL;
	return 0;
}

/*
 * The job of a message (pmta-interfaces §4.3): X-Job when the source
 * processes it (removed unless retained), else the source's jobid-header,
 * else the job the envelope brought (a pickup file's x-job line); a
 * mailmerge recipient's *jobid beats them all; with the source's
 * jobid-prefix in front (`jobid-prefix {auth}`: the name of the SMTP
 * AUTH user, nothing when the client did not authenticate).  Job IDs
 * are printable and without white space: anything else becomes '_'.
 */
static void
smtpd_select_job(const struct smtpd_origin *o, struct buf *body, size_t *hdr,
    struct spool_envelope *env, const struct smtpd_override *ov)
{
	const struct conf_value *alt, *prefix;
	const char *pfx;
	char job[256] = "";

	if (smtpd_origin_bool(o, CONF_ID_PROCESS_X_JOB))
		(void)smtp_header_take(body, hdr, "X-Job",
		    !smtpd_origin_bool(o, CONF_ID_RETAIN_X_JOB), job, sizeof(job));
	if (job[0] == '\0' && (alt = smtpd_origin_value(o,
	    CONF_ID_JOBID_HEADER)) != NULL && alt->u.s != NULL)
		(void)smtp_header_take(body, hdr, alt->u.s, false, job,
		    sizeof(job));
	if (job[0] == '\0' && env->jobid != NULL)
		snprintf(job, sizeof(job), "%s", env->jobid);
	if (ov != NULL && ov->jobid != NULL)
		snprintf(job, sizeof(job), "%s", ov->jobid);
	if (job[0] == '\0')
		return;
	prefix = smtpd_origin_value(o, CONF_ID_JOBID_PREFIX);
	pfx = prefix != NULL && prefix->u.s != NULL ? prefix->u.s : "";
	if (strcmp(pfx, "{auth}") == 0)
		pfx = o->user != NULL ? o->user : "";
	free(env->jobid);
	env->jobid = xasprintf("%s%s", pfx, job);
	for (char *p = env->jobid; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*p = '_';
}

/* Insert text[0..n) into b at `at`; false (nothing done) when b's cap
 * does not take it. */
static bool
smtpd_insert(struct buf *b, size_t at, const char *text, size_t n)
{
	size_t tail = b->len - at;

	if (buf_append(b, text, n) == -1)
		return false;
	memmove(b->data + at + n, b->data + at, tail);
	memcpy(b->data + at, text, n);
	return true;
}

/* RFC 5322 date, as PMTA writes it: "Wed, 15 Dec 2010 12:21:20 -0500". */
static void
smtpd_rfc5322_date(time_t t, char *out, size_t size)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	char zone[8];

	localtime_r(&t, &tm);
	if (strftime(zone, sizeof(zone), "%z", &tm) == 0)
		snprintf(zone, sizeof(zone), "+0000");
	snprintf(out, size, "%s, %d %s %d %02d:%02d:%02d %s",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

/* Where fields are added at the end of the header section: before its
 * empty line, or after its last complete line; (size_t)-1 when the
 * section does not end at a line end (an over-long section cut). */
static size_t
smtpd_header_tail(const struct buf *b, size_t hdr)
{
	const char *d = b->data;

	if (hdr == 2 && d[0] == '\r' && d[1] == '\n')
		return 0;
	if (hdr >= 4 && memcmp(d + hdr - 4, "\r\n\r\n", 4) == 0)
		return hdr - 2;
	if (hdr >= 2 && memcmp(d + hdr - 2, "\r\n", 2) == 0)
		return hdr;
	return hdr == 0 ? 0 : (size_t)-1;
}

/*
 * Our Received: field, in PMTA's form (seen in real headers):
 *   Received: from HELO (IP) by HOST (Tern vX) id ID for <RCPT>; DATE
 *       (envelope-from <SENDER>)
 * on one line; "from HELO (IP)" left out with hide-message-source, "for"
 * only with one recipient, whose VERP return path is then the sender.
 */
static void
smtpd_add_received(const struct smtpd_origin *o, struct buf *body,
    size_t *hdr, const struct spool_envelope *env, const char *date)
{
	char from[400] = "", verp[SMTP_ADDR_MAX + 1], line[2048];
	const char *orig = env->orig;
	int n;

	if (!smtpd_origin_bool(o, CONF_ID_HIDE_MESSAGE_SOURCE))
		snprintf(from, sizeof(from), "from %.255s (%s) ", o->helo,
		    o->client_ip != NULL ? o->client_ip : "");
	if (env->verp && env->nrcpts == 1 && smtp_merge_verp(env->orig,
	    env->rcpts[0], verp, sizeof(verp)) == 0)
		orig = verp;
	n = snprintf(line, sizeof(line), "Received: %sby %s (Tern v%s) id %s%s%s%s; "
	    "%s (envelope-from <%s>)\r\n", from, o->model->host_name,
	    PACKAGE_VERSION, env->id, env->nrcpts == 1 ? " for <" : "",
	    env->nrcpts == 1 ? env->rcpts[0] : "", env->nrcpts == 1 ? ">" : "",
	    date, orig);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    smtpd_insert(body, 0, line, (size_t)n))
		*hdr += (size_t)n;
}

/* The header fields added at reception (see smtpd_msg_start). */
static void
smtpd_msg_headers(const struct smtpd_origin *o, struct buf *body, size_t *hdr,
    const struct spool_envelope *env)
{
	const struct conf_value *v;
	char date[64], line[600], dummy[8];
	size_t at;
	bool add_date, override = false;
	int n;

	smtpd_rfc5322_date(env->queued, date, sizeof(date));
	if (o->helo != NULL &&
	    smtpd_origin_bool(o, CONF_ID_ADD_RECEIVED_HEADER))
		smtpd_add_received(o, body, hdr, env, date);
	v = smtpd_origin_value(o, CONF_ID_ADD_DATE_HEADER);
	add_date = v != NULL && (v->is_bool ? v->u.b : (v->u.s != NULL &&
	    strcmp(v->u.s, "override") == 0));
	if (add_date && !(v->is_bool))
		override = true;
	if (override)
		(void)smtp_header_take(body, hdr, "Date", true, dummy,
		    sizeof(dummy));
	if ((at = smtpd_header_tail(body, *hdr)) == (size_t)-1)
		return;
	if (add_date && !smtp_header_take(body, hdr, "Date", false, dummy,
	    sizeof(dummy))) {
		n = snprintf(line, sizeof(line), "Date: %s\r\n", date);
		if (n > 0 && smtpd_insert(body, at, line, (size_t)n)) {
			*hdr += (size_t)n;
			at += (size_t)n;
		}
	}
	if (smtpd_origin_bool(o, CONF_ID_ADD_MESSAGE_ID_HEADER) &&
	    !smtp_header_take(body, hdr, "Message-Id", false, dummy,
	    sizeof(dummy))) {
		v = model_settings_get(&o->model->global, CONF_ID_HOST_ID);
		n = snprintf(line, sizeof(line), "Message-Id: <%s.%lld@%s>\r\n",
		    env->id, conf_value_num(v, &conf_directives[CONF_ID_HOST_ID]),
		    o->model->host_name);
		if (n > 0 && smtpd_insert(body, at, line, (size_t)n))
			*hdr += (size_t)n;
	}
}

/* process-x-envid: X-Envid (removed) is the DSN envelope ID, unless MAIL
 * gave one with ENVID=. */
static void
smtpd_take_x_envid(const struct smtpd_origin *o, struct buf *body,
    size_t *hdr, struct spool_envelope *env)
{
	char envid[SMTP_ADDR_MAX + 1];

	if (!smtpd_origin_bool(o, CONF_ID_PROCESS_X_ENVID) ||
	    !smtp_header_take(body, hdr, "X-Envid", true, envid,
	    sizeof(envid)))
		return;
	for (char *p = envid; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	if (env->envid == NULL && envid[0] != '\0')
		env->envid = xstrdup(envid);
}

enum smtpd_msg_start
smtpd_msg_start(struct smtpd *d, const struct smtpd_origin *o,
    struct buf *body, size_t *hdr, struct spool_envelope *env,
    struct spool_writer *w, bool *cold_taken, struct smtpd_override *ov)
{
	const char *error;

	*cold_taken = false;
	free(env->auth_user);
	env->auth_user = o->user != NULL ? xstrdup(o->user) : NULL;
	if (smtpd_select_vmta(o, body, hdr, env, ov) == -1)
		return SMTPD_MSG_BAD_VMTA;
	smtpd_select_job(o, body, hdr, env, ov);
	smtpd_take_x_envid(o, body, hdr, env);
	*cold_taken = smtpd_select_cold(o->model, d->cold, env) > 0;
	if (spool_writer_begin(d->spool, env, w, &error) == -1) {
		log_warnx("cannot spool a message from <%s>: %s", env->orig,
		    error);
		return SMTPD_MSG_SPOOL_ERROR;
	}
	/* the spool ID is known now, and nothing of the body is written */
	smtpd_msg_headers(o, body, hdr, env);
	return SMTPD_MSG_STARTED;
}

void
smtpd_msg_cold_undo(struct smtpd *d, const struct spool_envelope *env)
{
	smtpd_select_cold_undo(d->cold, env);
}

void
smtpd_msg_commit(struct smtpd *d, struct spool_envelope *env,
    struct spool_writer *w, spool_commit_cb *cb, void *arg)
{
	env->body_size = w->size - env->body_offset;
	spool_writer_commit_async(d->spool, w, env, cb, arg);
}

void
smtpd_msg_accepted(struct smtpd *d, const struct model *m,
    const struct spool_envelope *env, const struct smtpd_rcv *rcv)
{
	meter_add(&d->stats.traffic, time(NULL), env->nrcpts, 1, rcv->bytes);
	smtpd_acct_received(d, m, env, rcv);
	queue_add(d->qm, env, NULL);
}
