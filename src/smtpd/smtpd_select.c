/*
 * smtpd_select: <pattern-list> evaluation and cold-virtual-mta warm-up
 * at reception (see smtpd_select.h).
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "smtp/smtp_header.h"
#include "smtpd/smtpd_select.h"

/* Regexes run on data from the network: bound their work. */
#define SMTPD_SELECT_MATCH_LIMIT	100000
#define SMTPD_SELECT_DEPTH_LIMIT	10000
#define SMTPD_DOMAIN_MAX		256

struct smtpd_select_ctx {
	const struct model		*m;
	const struct smtpd_select_msg	*msg;
	pcre2_match_context		*mctx;
	pcre2_match_data		*md;
};

static bool smtpd_select_list(struct smtpd_select_ctx *ctx,
    const struct model_pattern *v, size_t n, int depth,
    struct smtpd_select *out);

static bool
smtpd_select_re(struct smtpd_select_ctx *ctx, const struct model_pattern *pt,
    const char *s, size_t len)
{
	return pcre2_match(pt->re, (PCRE2_SPTR)s, len, 0, 0, ctx->md,
	    ctx->mctx) >= 0;
}

static bool
smtpd_select_header(struct smtpd_select_ctx *ctx,
    const struct model_pattern *pt)
{
	const struct smtpd_select_msg *msg = ctx->msg;
	const char *value;
	size_t off = 0, vlen;

	while (msg->hdr != NULL && smtp_header_next(msg->hdr, msg->hdr_len,
	    pt->header, &off, &value, &vlen))
		if (smtpd_select_re(ctx, pt, value, vlen))
			return true;
	return false;
}

static bool
smtpd_select_matches(struct smtpd_select_ctx *ctx,
    const struct model_pattern *pt)
{
	const struct smtpd_select_msg *msg = ctx->msg;

	switch (pt->subject) {
	case MODEL_PL_ANY:
		return true;
	case MODEL_PL_MAIL_FROM:
		return smtpd_select_re(ctx, pt, msg->mail_from,
		    strlen(msg->mail_from));
	case MODEL_PL_RCPT_TO:
		for (size_t i = 0; i < msg->nrcpts; i++)
			if (smtpd_select_re(ctx, pt, msg->rcpts[i],
			    strlen(msg->rcpts[i])))
				return true;
		return false;
	case MODEL_PL_HEADER:
		return smtpd_select_header(ctx, pt);
	}
	return false;
}

/* The results of a matching entry: its own, then call-to, then nested. */
static void
smtpd_select_apply(struct smtpd_select_ctx *ctx,
    const struct model_pattern *pt, int depth, struct smtpd_select *out)
{
	const struct model_block *b;

	if (pt->vmta != NULL)
		out->vmta = pt->vmta;
	if (pt->priority >= 0)
		out->priority = pt->priority;
	if (pt->call_to != NULL &&
	    (b = model_block_find(ctx->m, "pattern-list", pt->call_to)) != NULL)
		(void)smtpd_select_list(ctx, b->patterns, b->npatterns,
		    depth + 1, out);
	if (pt->nnested > 0)
		(void)smtpd_select_list(ctx, pt->nested, pt->nnested, depth + 1,
		    out);
}

static bool
smtpd_select_list(struct smtpd_select_ctx *ctx, const struct model_pattern *v,
    size_t n, int depth, struct smtpd_select *out)
{
	if (depth > SMTPD_SELECT_DEPTH)
		return false;	/* a call-to loop: it selects nothing more */
	for (size_t i = 0; i < n; i++)
		if (smtpd_select_matches(ctx, &v[i])) {
			smtpd_select_apply(ctx, &v[i], depth, out);
			return true;
		}
	return false;
}

bool
smtpd_select_patterns(const struct model *m, const char *list,
    const struct smtpd_select_msg *msg, struct smtpd_select *out)
{
	struct smtpd_select_ctx ctx = { m, msg, NULL, NULL };
	const struct model_block *b;
	bool r;

	out->vmta = NULL;
	out->priority = -1;
	if (list == NULL ||
	    (b = model_block_find(m, "pattern-list", list)) == NULL)
		return false;
	if ((ctx.md = pcre2_match_data_create(1, NULL)) == NULL)
		fatalx("pattern-list: out of memory");
	if ((ctx.mctx = pcre2_match_context_create(NULL)) != NULL) {
		pcre2_set_match_limit(ctx.mctx, SMTPD_SELECT_MATCH_LIMIT);
		pcre2_set_depth_limit(ctx.mctx, SMTPD_SELECT_DEPTH_LIMIT);
	}
	r = smtpd_select_list(&ctx, b->patterns, b->npatterns, 0, out);
	pcre2_match_context_free(ctx.mctx);
	pcre2_match_data_free(ctx.md);
	return r;
}

/* --- cold-virtual-mta --- */

/* The cold VirtualMTAs of a selected name: a pool's own list, or a
 * VirtualMTA's (else its pool's). */
static const struct conf_value *
smtpd_cold_list(const struct model *m, const char *name)
{
	const struct model_pool *p = model_pool_find(m, name);

	if (p != NULL)
		return model_settings_get(&p->settings, CONF_ID_COLD_VIRTUAL_MTA);
	if (model_vmta_find(m, name) == NULL)
		return NULL;
	return model_vmta_value(m, name, CONF_ID_COLD_VIRTUAL_MTA);
}

/* The recipient's domain, lower case; false if it does not fit. */
static bool
smtpd_cold_domain(const char *rcpt, char *out, size_t size)
{
	const char *at = strrchr(rcpt, '@');
	size_t n = 0;

	for (const char *p = at ? at + 1 : ""; *p != '\0'; p++) {
		if (n + 1 >= size)
			return false;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return n > 0;
}

static bool
smtpd_cold_rcpt(const struct model *m, struct cold *cold,
    struct spool_envelope *env, size_t i, char *const *colds, size_t ncolds)
{
	char domain[SMTPD_DOMAIN_MAX];
	const struct conf_value *lim;
	const char *name;

	if (!smtpd_cold_domain(env->rcpts[i], domain, sizeof(domain)))
		return false;
	lim = model_queue_value(m, domain, env->vmta,
	    CONF_ID_MAX_COLD_VIRTUAL_MTA_MSG);
	if (lim == NULL || lim->u.nums.n == 0)
		return false;
	name = cold_pick(cold, env->vmta, colds, ncolds, domain, lim->u.nums.v,
	    lim->u.nums.n);
	if (name == NULL)
		return false;
	spool_envelope_set_rvmta(env, i, name);
	log_debug("(in) <%s>: cold-virtual-mta %s instead of %s",
	    env->rcpts[i], name, env->vmta);
	return true;
}

size_t
smtpd_select_cold(const struct model *m, struct cold *cold,
    struct spool_envelope *env)
{
	char *colds[SMTPD_COLD_MAX];
	const struct conf_value *list;
	size_t ncolds = 0, moved = 0;

	if (cold == NULL || env->vmta == NULL ||
	    (list = smtpd_cold_list(m, env->vmta)) == NULL)
		return 0;
	for (size_t i = 0; i < list->u.list.n && ncolds < SMTPD_COLD_MAX; i++) {
		char *name = list->u.list.v[i];

		if (strcasecmp(name, env->vmta) != 0 &&
		    (model_vmta_find(m, name) != NULL ||
		    model_pool_find(m, name) != NULL))
			colds[ncolds++] = name;
	}
	for (size_t i = 0; i < env->nrcpts && ncolds > 0; i++)
		moved += smtpd_cold_rcpt(m, cold, env, i, colds, ncolds);
	return moved;
}

void
smtpd_select_cold_undo(struct cold *cold, const struct spool_envelope *env)
{
	char domain[SMTPD_DOMAIN_MAX];

	for (size_t i = 0; cold != NULL && i < env->nrcpts; i++)
		if (spool_envelope_rvmta(env, i) != NULL &&
		    smtpd_cold_domain(env->rcpts[i], domain, sizeof(domain)))
			cold_unpick(cold, spool_envelope_rvmta(env, i), domain);
}
