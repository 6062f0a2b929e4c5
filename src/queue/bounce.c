/*
 * bounce: enhanced status code texts and default bounce categories (see
 * bounce.h).  The patterns are compiled once, on first use, with PCRE2
 * (case-insensitive, as PMTA's pattern lists are) and a match limit.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "queue/bounce.h"

/* RFC 3463 (and RFC 3886/4954/5248 additions used by PMTA's samples). */
static const struct {
	const char *code;	/* "X.Y.Z" with X = '*' for either class */
	const char *text;
} bounce_texts[] = {
	{ "2.0.0", "success" },
	{ "*.0.0", "undefined status" },
	{ "*.1.0", "other address status" },
	{ "*.1.1", "bad destination mailbox address" },
	{ "*.1.2", "bad destination system address" },
	{ "*.1.3", "bad destination mailbox address syntax" },
	{ "*.1.4", "destination mailbox address ambiguous" },
	{ "*.1.5", "destination mailbox address valid" },
	{ "*.1.6", "mailbox has moved" },
	{ "*.1.7", "bad sender's mailbox address syntax" },
	{ "*.1.8", "bad sender's system address" },
	{ "*.1.10", "recipient address has null MX" },
	{ "*.2.0", "other or undefined mailbox status" },
	{ "*.2.1", "mailbox disabled, not accepting messages" },
	{ "*.2.2", "mailbox full" },
	{ "*.2.3", "message length exceeds administrative limit" },
	{ "*.2.4", "mailing list expansion problem" },
	{ "*.3.0", "other or undefined mail system status" },
	{ "*.3.1", "mail system full" },
	{ "*.3.2", "system not accepting network messages" },
	{ "*.3.3", "system not capable of selected features" },
	{ "*.3.4", "message too big for system" },
	{ "*.3.5", "system incorrectly configured" },
	{ "*.4.0", "other or undefined network or routing status" },
	{ "*.4.1", "no answer from host" },
	{ "*.4.2", "bad connection" },
	{ "*.4.3", "routing server failure" },
	{ "*.4.4", "unable to route" },
	{ "*.4.5", "network congestion" },
	{ "*.4.6", "routing loop detected" },
	{ "*.4.7", "delivery time expired" },
	{ "*.5.0", "other or undefined protocol status" },
	{ "*.5.1", "invalid command" },
	{ "*.5.2", "syntax error" },
	{ "*.5.3", "too many recipients" },
	{ "*.5.4", "invalid command arguments" },
	{ "*.5.5", "wrong protocol version" },
	{ "*.6.0", "other or undefined media error" },
	{ "*.6.1", "media not supported" },
	{ "*.6.2", "conversion required and prohibited" },
	{ "*.6.3", "conversion required but not supported" },
	{ "*.6.4", "conversion with loss performed" },
	{ "*.6.5", "conversion failed" },
	{ "*.7.0", "other or undefined security status" },
	{ "*.7.1", "delivery not authorized, message refused" },
	{ "*.7.2", "mailing list expansion prohibited" },
	{ "*.7.3", "security conversion required but not possible" },
	{ "*.7.4", "security features not supported" },
	{ "*.7.5", "cryptographic failure" },
	{ "*.7.6", "cryptographic algorithm not supported" },
	{ "*.7.7", "message integrity failure" },
};

void
bounce_dsn_status(const char *code, char *dst, size_t size)
{
	const char *text = "undefined status";
	size_t len = strlen(code);

	for (size_t i = 0; i < sizeof(bounce_texts) / sizeof(bounce_texts[0]); i++) {
		const char *c = bounce_texts[i].code;
		if (strlen(c) == len && (c[0] == code[0] || c[0] == '*') &&
		    strcmp(c + 1, code + 1) == 0) {
			text = bounce_texts[i].text;
			break;
		}
	}
	snprintf(dst, size, "%s (%s)", code, text);
}

/* PMTA's default <bounce-category-patterns> (pmta-reference.md §5.3). */
static const struct {
	const char *re;
	const char *category;
} bounce_defaults[] = {
	{ "spam", "spam-related" },
	{ "junk mail", "spam-related" },
	{ "blacklist", "spam-related" },
	{ "blocked", "spam-related" },
	{ "\\bU\\.?C\\.?E\\.?\\b", "spam-related" },
	{ "\\bAdv(ertisements?)?\\b", "spam-related" },
	{ "unsolicited", "spam-related" },
	{ "\\b(open)?RBL\\b", "spam-related" },
	{ "realtime blackhole", "spam-related" },
	{ "http://basic.wirehub.nl/blackholes.html", "spam-related" },
	{ "\\bvirus\\b", "virus-related" },
	{ "message +content", "content-related" },
	{ "content +rejected", "content-related" },
	{ "quota", "quota-issues" },
	{ "limit exceeded", "quota-issues" },
	{ "mailbox +(is +)?full", "quota-issues" },
	{ "\\bstorage\\b", "quota-issues" },
	{ "(user|mailbox|recipient|rcpt|local part|address|account|mail drop|ad(d?)ressee) (has|has been|is)? *(currently|temporarily +)?(disabled|expired|inactive|not activated)", "inactive-mailbox" },
	{ "(conta|usu.rio) inativ(a|o)", "inactive-mailbox" },
	{ "Too many (bad|invalid|unknown|illegal|unavailable) (user|mailbox|recipient|rcpt|local part|address|account|mail drop|ad(d?)ressee)", "other" },
	{ "(No such|bad|invalid|unknown|illegal|unavailable) (local +)?(user|mailbox|recipient|rcpt|local part|address|account|mail drop|ad(d?)ressee)", "bad-mailbox" },
	{ "(user|mailbox|recipient|rcpt|local part|address|account|mail drop|ad(d?)ressee) +(\\S+@\\S+ +)?(not (a +)?valid|not known|not here|not found|does not exist|bad|invalid|unknown|illegal|unavailable)", "bad-mailbox" },
	{ "\\S+@\\S+ +(is +)?(not (a +)?valid|not known|not here|not found|does not exist|bad|invalid|unknown|illegal|unavailable)", "bad-mailbox" },
	{ "no mailbox here by that name", "bad-mailbox" },
	{ "my badrcptto list", "bad-mailbox" },
	{ "not our customer", "bad-mailbox" },
	{ "no longer (valid|available)", "bad-mailbox" },
	{ "have a \\S+ account", "bad-mailbox" },
	{ "\\brelay(ing)?", "relaying-issues" },
	{ "domain (retired|bad|invalid|unknown|illegal|unavailable)", "bad-domain" },
	{ "domain no longer in use", "bad-domain" },
	{ "domain (\\S+ +)?(is +)?obsolete", "bad-domain" },
	{ "denied", "policy-related" },
	{ "prohibit", "policy-related" },
	{ "rejected", "policy-related" },
	{ "refused", "policy-related" },
	{ "allowed", "policy-related" },
	{ "banned", "policy-related" },
	{ "policy", "policy-related" },
	{ "suspicious activity", "policy-related" },
	{ "bad sequence", "protocol-errors" },
	{ "syntax error", "protocol-errors" },
	{ "\\broute\\b", "routing-errors" },
	{ "\\bunroutable\\b", "routing-errors" },
	{ "\\bunrouteable\\b", "routing-errors" },
	{ "^2.\\d.\\d", "success" },
	{ "^[45]\\.1\\.1", "bad-mailbox" },
	{ "^[45]\\.1\\.2", "bad-domain" },
	{ "^[45]\\.3\\.5", "bad-configuration" },
	{ "^[45]\\.4\\.1", "no-answer-from-host" },
	{ "^[45]\\.4\\.2", "bad-connection" },
	{ "^[45]\\.4\\.4", "routing-errors" },
	{ "^[45]\\.4\\.6", "routing-errors" },
	{ "^[45]\\.4\\.7", "message-expired" },
	{ "^[45]\\.7\\.1", "policy-related" },
};

#define BOUNCE_NDEFAULTS (sizeof(bounce_defaults) / sizeof(bounce_defaults[0]))

/* Compiled once; read-only afterwards (any thread may match). */
static pcre2_code *bounce_compiled[BOUNCE_NDEFAULTS];
static pcre2_match_context *bounce_mctx;
static bool bounce_ready;

#define BOUNCE_MATCH_LIMIT	100000	/* subjects come from the network */
#define BOUNCE_SUBJECT_MAX	4096

static void
bounce_compile(void)
{
	for (size_t i = 0; i < BOUNCE_NDEFAULTS; i++) {
		int err;
		PCRE2_SIZE off;

		bounce_compiled[i] = pcre2_compile(
		    (PCRE2_SPTR)bounce_defaults[i].re, PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS, &err, &off, NULL);
		if (bounce_compiled[i] == NULL)
			log_warnx("bounce: built-in pattern %zu does not compile", i);
	}
	if ((bounce_mctx = pcre2_match_context_create(NULL)) != NULL)
		pcre2_set_match_limit(bounce_mctx, BOUNCE_MATCH_LIMIT);
	bounce_ready = true;
}

static bool
bounce_matches(const pcre2_code *re, const char *subject,
    pcre2_match_data *md)
{
	return re != NULL && pcre2_match(re, (PCRE2_SPTR)subject,
	    strlen(subject), 0, 0, md, bounce_mctx) >= 0;
}

/* The category of the first of v[0..n) that matches, or NULL. */
static const char *
bounce_user_match(const struct model_pattern *v, size_t n,
    const char *subject, pcre2_match_data *md)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].rest != NULL && bounce_matches(v[i].re, subject, md))
			return v[i].rest;
	return NULL;
}

static const char *
bounce_default_match(const char *subject, pcre2_match_data *md)
{
	for (size_t i = 0; i < BOUNCE_NDEFAULTS; i++)
		if (bounce_matches(bounce_compiled[i], subject, md))
			return bounce_defaults[i].category;
	return "other";
}

const char *
bounce_category_match(const struct model_pattern *v, size_t n,
    const char *subject)
{
	const char *found;
	pcre2_match_data *md;

	if (!bounce_ready)
		bounce_compile();
	md = pcre2_match_data_create(4, NULL);
	if ((found = bounce_user_match(v, n, subject, md)) == NULL)
		found = bounce_default_match(subject, md);
	pcre2_match_data_free(md);
	return found;
}

const char *
bounce_category(const struct model *m, const char *dsn_status,
    const char *dsn_diag)
{
	char subject[BOUNCE_SUBJECT_MAX];
	const char *found = NULL;
	pcre2_match_data *md;

	if (!bounce_ready)
		bounce_compile();
	snprintf(subject, sizeof(subject), "%s %s", dsn_status, dsn_diag);
	md = pcre2_match_data_create(4, NULL);
	/* the user's blocks in file order, then the built-in list */
	for (size_t i = 0; m != NULL && i < m->nblocks && found == NULL; i++)
		if (strcmp(m->blocks[i].kind, "bounce-category-patterns") == 0)
			found = bounce_user_match(m->blocks[i].patterns,
			    m->blocks[i].npatterns, subject, md);
	if (found == NULL)
		found = bounce_default_match(subject, md);
	pcre2_match_data_free(md);
	return found;
}

void
bounce_cleanup(void)
{
	for (size_t i = 0; i < BOUNCE_NDEFAULTS; i++) {
		pcre2_code_free(bounce_compiled[i]);
		bounce_compiled[i] = NULL;
	}
	pcre2_match_context_free(bounce_mctx);
	bounce_mctx = NULL;
	bounce_ready = false;
}
