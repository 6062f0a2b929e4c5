/*
 * Unit tests for <smtp-pattern-list> (pmta-reference §2.10): the actions
 * parsed at load and the invalid combinations refused at file:line, the
 * references a <domain> makes checked; the decision for a reply
 * (mta_patterns_decide: first match, case, which actions apply to which
 * reply, skip-mx and smtp-421-means-mx-unavailable); bounce categories
 * with a user's <bounce-category-patterns> (§2.12, §5: the user's entries
 * first, then the built-in list); the administrator notice.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "mta/mta_patterns.h"
#include "queue/bounce.h"
#include "queue/notice.h"
#include "tap.h"
#include "testutil.h"

static char dir[] = "/tmp/tern-test-patterns-XXXXXX";

static struct model *
load(const char *text, struct conf_errors *e)
{
	return test_model_load(dir, text, e);
}

/* Does the error text hold "config:LINE: ...needle"? */
static bool
error_at(const struct conf_errors *e, int line, const char *needle)
{
	char at[32];
	const char *p = buf_str(&e->text);

	snprintf(at, sizeof(at), "config:%d: ", line);
	while ((p = strstr(p, at)) != NULL) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char lineb[1024];

		snprintf(lineb, sizeof(lineb), "%.*s", (int)len, p);
		if (strstr(lineb, needle) != NULL)
			return true;
		p += len;
	}
	return false;
}

static const char *const good_conf =
    "spool /tmp/tern-test-patterns-spool\n"
    "<smtp-pattern-list isp>\n"
    "    reply /^421 .*too many errors/ mode=backoff,backoff-to-normal-after=3s\n"
    "    reply /exceeded the rate limit/ mode=backoff, defer-queue\n"
    "    reply /\\[TS0[123]\\]/ mode=backoff,disable-source-ip,reenable-after=1h\n"
    "    reply /too many connections/ skip-mx\n"
    "    reply /mailbox busy/ bounce-rcpt\n"
    "    reply /domain gone/ bounce-queue\n"
    "    reply /welcome back/ mode=normal\n"
    "    reply /(?-i)CaseSensitive/ defer-queue\n"
    "    reply /just match/\n"
    "    reply /never again/ disable-source-ip,reenable-after=never\n"
    "</smtp-pattern-list>\n"
    "<virtual-mta v1>\n"
    "    smtp-source-host 127.0.0.2 v1.test\n"
    "</virtual-mta>\n"
    "<domain *>\n"
    "    smtp-pattern-list isp\n"
    "    backoff-reroute-to-virtual-mta v1\n"
    "</domain>\n";

static const struct model_pattern *
isp_entries(const struct model *m, size_t *n)
{
	const struct model_block *b = model_block_find(m, "smtp-pattern-list",
	    "ISP");

	*n = b != NULL ? b->npatterns : 0;
	return b != NULL ? b->patterns : NULL;
}

static void
test_parse(void)
{
	struct conf_errors e;
	struct model *m = load(good_conf, &e);
	const struct model_pattern *v;
	size_t n;

	ok(m != NULL, "a list with every action loads: %s", buf_str(&e.text));
	if (m == NULL)
		return;
	v = isp_entries(m, &n);
	is_int((long long)n, 10, "ten entries (the list found without case)");
	if (n != 10)
		goto out;
	ok(v[0].actions == MODEL_ACT_BACKOFF && v[0].to_normal_after == 3 &&
	    v[0].reenable_after == -1, "mode=backoff,backoff-to-normal-after=3s");
	ok(v[1].actions == (MODEL_ACT_BACKOFF | MODEL_ACT_DEFER_QUEUE),
	    "\", \" between actions");
	ok(v[2].actions == (MODEL_ACT_BACKOFF | MODEL_ACT_DISABLE_SOURCE) &&
	    v[2].reenable_after == 3600, "disable-source-ip,reenable-after=1h");
	ok(v[3].actions == MODEL_ACT_SKIP_MX && v[4].actions ==
	    MODEL_ACT_BOUNCE_RCPT && v[5].actions == MODEL_ACT_BOUNCE_QUEUE &&
	    v[6].actions == MODEL_ACT_NORMAL, "skip-mx, bounce-rcpt, "
	    "bounce-queue, mode=normal");
	ok(v[8].actions == 0 && v[8].rest == NULL, "an entry without actions");
	ok(v[9].reenable_after == 0, "reenable-after=never");
	is_int(e.warnings, 0, "no warning");
out:
	model_unref(m);
	conf_errors_free(&e);
}

/* Each invalid entry is an error at its line. */
static void
test_invalid(void)
{
	static const struct {
		const char	*entry;
		const char	*error;
	} bad[] = {
		{ "reply /a/ mode=backoff,mode=normal", "mode=backoff and mode=normal" },
		{ "reply /a/ skip-mx,bounce-queue", "skip-mx and bounce-queue" },
		{ "reply /a/ mode=backoff,reenable-after=1h",
		    "reenable-after without disable-source-ip" },
		{ "reply /a/ disable-source-ip,reenable-after=1h,reenable-after=2h",
		    "reenable-after given twice" },
		{ "reply /a/ mode=backoff,fast", "unknown action" },
		{ "reply /a/ disable-source-ip,reenable-after=soon",
		    "invalid time interval" },
		{ "reply /a/ mode=backoff,backoff-to-normal-after=0",
		    "invalid time interval" },
		{ "reply /a(/ mode=backoff", "missing closing parenthesis" },
		{ "/a/ mode=backoff", "expected \"reply /REGEX/ ACTION\"" },
	};
	struct conf_errors e;
	struct model *m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char conf[512];

		snprintf(conf, sizeof(conf), "spool /tmp/x\n"
		    "<smtp-pattern-list l>\n    reply /ok/ mode=backoff\n"
		    "    %s\n</smtp-pattern-list>\n", bad[i].entry);
		m = load(conf, &e);
		ok(m == NULL && e.count == 1 && error_at(&e, 4, bad[i].error),
		    "refused at its line: %s", bad[i].entry);
		if (m == NULL && e.count != 1)
			diag("%s", buf_str(&e.text));
		model_unref(m);
		conf_errors_free(&e);
	}
	m = load("spool /tmp/x\n<smtp-pattern-list l>\n"
	    "    reply /a/ defer-queue,backoff-to-normal-after=1m\n"
	    "</smtp-pattern-list>\n", &e);
	ok(m != NULL && e.warnings == 1 && error_at(&e, 3,
	    "warning: <smtp-pattern-list>: backoff-to-normal-after= does "
	    "nothing without mode=backoff"), "backoff-to-normal-after= "
	    "without mode=backoff: a warning");
	model_unref(m);
	conf_errors_free(&e);
	m = load("spool /tmp/x\n<domain a.test>\n    smtp-pattern-list nope\n"
	    "    backoff-reroute-to-virtual-mta ghost\n</domain>\n", &e);
	ok(m == NULL && e.count == 2 && error_at(&e, 3,
	    "no <smtp-pattern-list nope>") && error_at(&e, 4,
	    "no virtual-mta or virtual-mta-pool \"ghost\""),
	    "a <domain> naming a list or a VirtualMTA that does not exist");
	model_unref(m);
	conf_errors_free(&e);
}

static void
decide(const struct model_pattern *v, size_t n, enum mta_pat_stage st,
    int code, const char *text, bool mx421, struct mta_pat_decision *d)
{
	mta_patterns_decide(v, n, st, code, text, mx421, d);
}

static long
rule_index(const struct model_pattern *v, const struct mta_pat_decision *d)
{
	return d->rule != NULL ? (long)(d->rule - v) : -1;
}

static void
test_decide(void)
{
	struct conf_errors e;
	struct model *m = load(good_conf, &e);
	const struct model_pattern *v;
	struct mta_pat_decision d;
	size_t n;

	if (m == NULL)
		return;
	v = isp_entries(m, &n);
	decide(v, n, MTA_PAT_RCPT, 421, "421 4.7.0 Too Many Errors from you",
	    false, &d);
	ok(rule_index(v, &d) == 0 && d.queue_acts == MODEL_ACT_BACKOFF &&
	    d.to_normal_after == 3 && !d.bounce && !d.failover,
	    "a 421 matches without case, the code included: backoff, 3s");
	decide(v, n, MTA_PAT_RCPT, 450, "450 4.7.0 too many errors", false, &d);
	ok(d.rule == NULL && d.queue_acts == 0, "^421 does not match a 450");
	decide(v, n, MTA_PAT_DOT, 451, "451 exceeded the rate limit; too many "
	    "connections", false, &d);
	ok(rule_index(v, &d) == 1 && d.queue_acts == (MODEL_ACT_BACKOFF |
	    MODEL_ACT_DEFER_QUEUE) && !d.failover,
	    "the first matching entry wins (not the skip-mx one after it)");
	decide(v, n, MTA_PAT_GREETING, 554, "554 [TS01] go away", false, &d);
	ok(d.queue_acts == (MODEL_ACT_BACKOFF | MODEL_ACT_DISABLE_SOURCE) &&
	    d.reenable_after == 3600, "disable-source-ip with its interval");
	decide(v, n, MTA_PAT_MAIL, 550, "550 too many connections", false, &d);
	ok(d.failover && !d.bounce && d.queue_acts == 0,
	    "skip-mx: the next MX, even on a 5xx");
	decide(v, n, MTA_PAT_RCPT, 452, "452 mailbox busy", false, &d);
	ok(d.bounce && !d.failover, "bounce-rcpt: a 4xx to RCPT bounces");
	decide(v, n, MTA_PAT_DOT, 452, "452 mailbox busy", false, &d);
	ok(!d.bounce && d.rule != NULL, "bounce-rcpt: not for the end of data");
	decide(v, n, MTA_PAT_RCPT, 552, "552 mailbox busy", false, &d);
	ok(!d.bounce, "bounce-rcpt: not for a 5xx (it bounces anyway)");
	decide(v, n, MTA_PAT_DATA, 451, "451 domain gone", true, &d);
	ok(d.bounce && d.queue_acts == MODEL_ACT_BOUNCE_QUEUE && !d.failover,
	    "bounce-queue: the queue and this reply's recipients bounce");
	decide(v, n, MTA_PAT_RCPT, 250, "250 2.1.5 ok, too many connections, "
	    "domain gone", false, &d);
	ok(d.rule != NULL && d.queue_acts == 0 && !d.failover && !d.bounce,
	    "a 2xx changes no outcome");
	decide(v, n, MTA_PAT_GREETING, 220, "220 welcome back", false, &d);
	ok(d.queue_acts == MODEL_ACT_NORMAL, "but a 2xx may change the mode");
	decide(v, n, MTA_PAT_RCPT, 451, "451 casesensitive", false, &d);
	ok(rule_index(v, &d) != 7, "(?-i) forces case");
	decide(v, n, MTA_PAT_RCPT, 451, "451 CaseSensitive", false, &d);
	ok(rule_index(v, &d) == 7 && d.queue_acts == MODEL_ACT_DEFER_QUEUE,
	    "defer-queue");
	decide(v, n, MTA_PAT_MAIL, 421, "421 just match", true, &d);
	ok(rule_index(v, &d) == 8 && d.queue_acts == 0 && d.failover,
	    "an entry without actions; smtp-421-means-mx-unavailable: the "
	    "next MX");
	decide(v, n, MTA_PAT_MAIL, 421, "421 exceeded the rate limit", true, &d);
	ok(!d.failover, "not when a rule defers the queue");
	decide(v, n, MTA_PAT_MAIL, 421, "421 nothing matches", false, &d);
	ok(d.rule == NULL && !d.failover, "without it a 421 stays on the MX");
	decide(NULL, 0, MTA_PAT_GREETING, 421, "421 busy", true, &d);
	ok(d.failover, "no list: smtp-421-means-mx-unavailable alone");
	decide(v, n, MTA_PAT_LOCAL, 451, "451 4.4.1 mx (10.0.0.1): too many "
	    "connections", false, &d);
	ok(d.rule != NULL && !d.failover && d.queue_acts == 0,
	    "a local failure: no skip-mx");
	decide(v, n, MTA_PAT_LOCAL, 451, "451 4.4.1 x exceeded the rate limit",
	    false, &d);
	ok(d.queue_acts == MODEL_ACT_BACKOFF && !d.bounce,
	    "a local failure: the mode, not defer-queue (it defers anyway)");
	model_unref(m);
	conf_errors_free(&e);
}

static void
test_categories(void)
{
	struct conf_errors e;
	struct model *m = load("spool /tmp/x\n"
	    "<bounce-category-patterns>\n"
	    "    /greylisted/ greylisting     # a custom name\n"
	    "    /^4\\.2\\.0/ mailbox-busy\n"
	    "</bounce-category-patterns>\n"
	    "<bounce-category-patterns>\n"
	    "    /spam/ not-spam\n"
	    "    /quota/ over-quota\n"
	    "</bounce-category-patterns>\n", &e);
	struct model *all;

	ok(m != NULL, "two <bounce-category-patterns> blocks load");
	if (m == NULL)
		return;
	is_str(bounce_category(m, "4.7.1 (delivery not authorized, message "
	    "refused)", "smtp;450 4.7.1 greylisted, try later"), "greylisting",
	    "a user pattern before the built-in ones (policy-related)");
	is_str(bounce_category(m, "4.2.0 (other or undefined mailbox status)",
	    "smtp;450 4.2.0 spam suspected"), "mailbox-busy",
	    "first match wins, the status included in the subject");
	is_str(bounce_category(m, "5.7.1 (delivery not authorized, message "
	    "refused)", "smtp;550 spam"), "not-spam",
	    "the second block after the first, before the built-in list");
	is_str(bounce_category(m, "5.1.1 (bad destination mailbox address)",
	    "smtp;550 5.1.1 no such user"), "bad-mailbox",
	    "no user match: the built-in list");
	is_str(bounce_category(NULL, "5.2.2 (mailbox full)",
	    "smtp;552 over quota"), "quota-issues", "no model: built-in only");
	model_unref(m);
	conf_errors_free(&e);
	all = load("spool /tmp/x\n<bounce-category-patterns>\n"
	    "    /virus/ custom-virus\n    // other    # catch-all\n"
	    "</bounce-category-patterns>\n", &e);
	ok(all != NULL, "a catch-all list loads");
	if (all == NULL)
		return;
	is_str(bounce_category(all, "5.1.1 (bad destination mailbox address)",
	    "smtp;550 no such user"), "other",
	    "a user catch-all hides the built-in list");
	is_str(bounce_category_match(all->blocks[0].patterns,
	    all->blocks[0].npatterns, "5.7.1 (x) smtp;554 virus found"),
	    "custom-virus", "bounce_category_match on the entries");
	model_unref(all);
	conf_errors_free(&e);
}

static void
test_notice(void)
{
	const char *to[] = { "ops@example.org", "noc@example.org" };
	struct notice nt = { "tern.test", to, 2, "Queue a.test/v1 is in "
	    "backoff mode", "65f.1.n1", 1700000000,
	    "Queue: a.test/v1\nReason: \"421 \x01" "bad\xff\" matched\n" };
	struct buf out;

	buf_init(&out, 64 * 1024);
	ok(notice_compose(&nt, &out) == 0, "a notice is composed");
	ok(strstr(buf_str(&out), "From: Mail Delivery System "
	    "<MAILER-DAEMON@tern.test>\r\nTo: <ops@example.org>,\r\n\t"
	    "<noc@example.org>\r\nSubject: Queue a.test/v1 is in backoff "
	    "mode\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "Message-ID: <65f.1.n1@tern.test>\r\n") != NULL,
	    "its header section");
	ok(strstr(buf_str(&out), "\r\n\r\nQueue: a.test/v1\r\nReason: "
	    "\"421 ?bad?\" matched\r\n") != NULL,
	    "control and 8-bit octets in the text become '?'");
	buf_reset(&out);
	nt.subject = "evil\r\nBcc: x@y";
	ok(notice_compose(&nt, &out) == -1, "a subject with CRLF is refused");
	buf_free(&out);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_parse();
	test_invalid();
	test_decide();
	test_categories();
	test_notice();
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/config", dir);
		unlink(path);
		rmdir(dir);
	}
	bounce_cleanup();
	return done_testing();
}
