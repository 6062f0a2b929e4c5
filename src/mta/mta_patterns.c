/*
 * mta_patterns: the queue's <smtp-pattern-list> and
 * smtp-421-means-mx-unavailable applied to a delivery session's replies
 * (see mta_patterns.h for the decision, mta_private.h for the hooks).
 *
 * The decision is pure (mta_patterns_decide); the rest applies it: the
 * mode (queue_set_mode_for, with the rule's backoff-to-normal-after=),
 * bounce-queue (mta_bounce_queue), defer-queue (queue_failure),
 * disable-source-ip (queue_source_disable, then
 * backoff-upon-all-sources-disabled), and the session's own part:
 * failures that bounce, and leaving the host (mta_session.c).
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "mta/mta_patterns.h"
#include "mta/mta_private.h"

#define MTA_PAT_WHY_MAX	512

/* The first entry of v[0..n) whose regex matches text, or NULL. */
static const struct model_pattern *
mta_patterns_first(const struct model_pattern *v, size_t n, const char *text)
{
	const struct model_pattern *found = NULL;
	pcre2_match_context *mc;
	pcre2_match_data *md;

	if (n == 0)
		return NULL;
	mc = pcre2_match_context_create(NULL);
	md = pcre2_match_data_create(4, NULL);
	if (mc != NULL)
		pcre2_set_match_limit(mc, MTA_PAT_MATCH_LIMIT);
	for (size_t i = 0; i < n && found == NULL && md != NULL; i++)
		if (v[i].re != NULL && pcre2_match(v[i].re, (PCRE2_SPTR)text,
		    strlen(text), 0, 0, md, mc) >= 0)
			found = &v[i];
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return found;
}

void
mta_patterns_decide(const struct model_pattern *v, size_t n,
    enum mta_pat_stage stage, int code, const char *text, bool mx421,
    struct mta_pat_decision *d)
{
	unsigned a = 0;

	memset(d, 0, sizeof(*d));
	d->to_normal_after = d->reenable_after = -1;
	if ((d->rule = mta_patterns_first(v, n, text)) != NULL) {
		a = d->rule->actions;
		d->to_normal_after = d->rule->to_normal_after;
		d->reenable_after = d->rule->reenable_after;
	}
	if (code < 400)		/* a success only changes the mode */
		a &= MODEL_ACT_BACKOFF | MODEL_ACT_NORMAL;
	if (stage == MTA_PAT_LOCAL)	/* the queue waits, the host is left */
		a &= ~(MODEL_ACT_SKIP_MX | MODEL_ACT_BOUNCE_RCPT |
		    MODEL_ACT_DEFER_QUEUE);
	d->queue_acts = a & (MODEL_ACT_BACKOFF | MODEL_ACT_NORMAL |
	    MODEL_ACT_DISABLE_SOURCE | MODEL_ACT_DEFER_QUEUE |
	    MODEL_ACT_BOUNCE_QUEUE);
	if (stage == MTA_PAT_LOCAL)
		return;
	d->bounce = (a & MODEL_ACT_BOUNCE_QUEUE) != 0 ||
	    ((a & MODEL_ACT_BOUNCE_RCPT) && stage == MTA_PAT_RCPT &&
	    code / 100 == 4);
	if (d->bounce || (a & MODEL_ACT_DEFER_QUEUE))
		return;
	d->failover = (a & MODEL_ACT_SKIP_MX) != 0 || (mx421 && code == 421);
}

/* The queue's <smtp-pattern-list>, looked up once per session. */
static const struct model_block *
mta_patterns_list(struct mta_session *s)
{
	const struct conf_value *v;

	if (s->patterns_found)
		return s->patterns;
	s->patterns_found = true;
	v = model_queue_value(s->model, s->q->domain, s->q->vmta,
	    CONF_ID_DOMAIN_SMTP_PATTERN_LIST);
	if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0')
		s->patterns = model_block_find(s->model, "smtp-pattern-list",
		    v->u.s);
	return s->patterns;
}

/* smtp-421-means-mx-unavailable, or its legacy spelling. */
static bool
mta_patterns_mx421(const struct mta_session *s)
{
	const struct conf_value *v = model_queue_value(s->model, s->q->domain,
	    s->q->vmta, CONF_ID_SMTP_421_MEANS_MX_UNAVAILABLE);

	if (v == NULL)
		v = model_queue_value(s->model, s->q->domain, s->q->vmta,
		    CONF_ID_LEGACY_421_MEANS_MX_UNAVAILABLE);
	return conf_value_bool(v,
	    &conf_directives[CONF_ID_SMTP_421_MEANS_MX_UNAVAILABLE]);
}

static enum mta_pat_stage
mta_patterns_stage(const struct mta_session *s)
{
	switch (s->state) {
	case MTA_GREETING:
		return MTA_PAT_GREETING;
	case MTA_EHLO:
	case MTA_HELO:
		return MTA_PAT_HELLO;
	case MTA_ENVELOPE:	/* reply k: 0 MAIL, 1..n RCPT, n + 1 DATA */
		return s->replies == 0 ? MTA_PAT_MAIL :
		    s->replies <= s->batch.n ? MTA_PAT_RCPT : MTA_PAT_DATA;
	case MTA_DOT:
		return MTA_PAT_DOT;
	default:
		return MTA_PAT_OTHER;
	}
}

bool
mta_patterns_no_source(const struct model *model, struct queue *q)
{
	const struct conf_value *v;

	if (q->nsources_off == 0 || queue_sources_disabled(q) == 0)
		return false;
	v = model_vmta_value(model, q->vmta, CONF_ID_SMTP_SOURCE_HOST);
	if (v == NULL || v->u.list.n == 0)
		return true;	/* the system's address is the only one */
	for (size_t k = 0, n = mta_limits_sources(v); k < n; k++) {
		struct mta_source src;

		/* (an entry that is no address is not disabled either) */
		if (!mta_limits_source_at(v, k, &src) ||
		    !queue_source_disabled(q, src.ip))
			return false;
	}
	return true;
}

/* disable-source-ip: the local address that got the reply. */
static void
mta_patterns_disable(struct mta_session *s, long long after)
{
	struct queue *q = s->q;
	char msg[MTA_PAT_WHY_MAX];

	if (s->src_ip[0] == '\0')
		return;
	if (after < 0)
		after = conf_value_num(model_queue_value(s->model, q->domain,
		    q->vmta, CONF_ID_REENABLE_SOURCE_IP_AFTER),
		    &conf_directives[CONF_ID_REENABLE_SOURCE_IP_AFTER]);
	if (!queue_source_disable(q, s->src_ip, after))
		return;
	log_info("%s: source %s disabled (%s)", q->name, s->src_ip,
	    after > 0 ? "disable-source-ip, for a while" :
	    "disable-source-ip, until a restart");
	mta_notify_source(s->mta, q, s->src_ip);
	if (!mta_patterns_no_source(s->model, q))
		return;
	snprintf(msg, sizeof(msg), "All SMTP sources for queue %s are now "
	    "disabled.", q->name);
	log_info("%s", msg);
	queue_note_error(q, msg);
	if (conf_value_bool(model_queue_value(s->model, q->domain, q->vmta,
	    CONF_ID_BACKOFF_UPON_ALL_SOURCES_DISABLED),
	    &conf_directives[CONF_ID_BACKOFF_UPON_ALL_SOURCES_DISABLED]))
		queue_set_mode(q, QUEUE_BACKOFF, "all SMTP sources disabled");
}

/* The queue part of a decision; why: what matched which rule. */
static void
mta_patterns_apply(struct mta_session *s, const struct mta_pat_decision *d,
    int code, const char *text)
{
	struct queue *q = s->q;
	char why[MTA_PAT_WHY_MAX], status[16];
	unsigned a = d->queue_acts;

	if (d->rule == NULL)
		return;
	snprintf(why, sizeof(why), "\"%.200s\" from %.100s (%s) matched /%.80s/",
	    text, s->dest_name[0] ? s->dest_name : "-",
	    s->dest_ip[0] ? s->dest_ip : "-", d->rule->regex);
	log_info("%s: %s (%s:%d: %s)", q->name, why, d->rule->file,
	    d->rule->line, d->rule->rest ? d->rule->rest : "no action");
	if (a & MODEL_ACT_BACKOFF)
		queue_set_mode_for(q, QUEUE_BACKOFF, why, d->to_normal_after);
	if (a & MODEL_ACT_NORMAL)
		queue_set_mode(q, QUEUE_NORMAL, why);
	if (a & MODEL_ACT_BOUNCE_QUEUE) {
		mta_result_enhanced(code, text, status, sizeof(status));
		mta_bounce_queue(s->mta, q, status, text);
	}
	if (a & MODEL_ACT_DEFER_QUEUE)
		queue_failure(q, text);
	if (a & MODEL_ACT_DISABLE_SOURCE)
		mta_patterns_disable(s, d->reenable_after);
}

/* The error event of a move to the next host (PMTA's wording). */
static void
mta_patterns_failover_event(struct mta_session *s,
    const struct mta_pat_decision *d, const char *text)
{
	char ev[1024];		/* queue_note_error() keeps what fits */

	snprintf(ev, sizeof(ev), "%s: \"%.200s\" received from %.100s (%s) "
	    "while connected from %.100s (%s)", d->rule != NULL ?
	    "skip of MX requested" : "MX unavailable (421)", text,
	    s->dest_name, s->dest_ip, s->ehlo, s->src_ip);
	queue_note_error(s->q, ev);
}

int
mta_patterns_reply(struct mta_session *s, int code, const char *text)
{
	const struct model_block *b = mta_patterns_list(s);
	bool mx421 = code == 421 && mta_patterns_mx421(s);
	struct mta_pat_decision d;

	s->pat_bounce = s->pat_matched = false;
	if (b == NULL && !mx421)
		return 0;
	mta_patterns_decide(b != NULL ? b->patterns : NULL,
	    b != NULL ? b->npatterns : 0, mta_patterns_stage(s), code, text,
	    mx421, &d);
	s->pat_matched = d.rule != NULL && code >= 400;
	mta_patterns_apply(s, &d, code, text);
	s->pat_bounce = d.bounce;
	if (!d.failover)
		return 0;
	mta_patterns_failover_event(s, &d, text);
	s->failover = true;
	return -1;
}

void
mta_patterns_local(struct mta_session *s, const char *why)
{
	const struct model_block *b;
	struct mta_pat_decision d;
	int code = mta_result_code_of(why);

	/* a failure that follows a reply a rule matched (the connection
	 * closed after a 421 ...) was that rule's business */
	if (s->pat_matched || (b = mta_patterns_list(s)) == NULL)
		return;
	mta_patterns_decide(b->patterns, b->npatterns, MTA_PAT_LOCAL, code,
	    why, false, &d);
	mta_patterns_apply(s, &d, code, why);
}
