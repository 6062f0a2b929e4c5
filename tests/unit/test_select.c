/*
 * Unit tests for <pattern-list> (pmta-reference §2.11): the entries as
 * the model parses them (errors at file:line), and smtpd_select's
 * evaluation: header / mail-from / rcpt-to / *, first match wins, case
 * does not matter, raw header content, results, call-to, nested lists;
 * then cold-virtual-mta warm-up applied to an envelope (§3.2).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd/smtpd_select.h"
#include "tap.h"
#include "testutil.h"

static char dir[] = "/tmp/tern-test-select-XXXXXX";

static struct model *
load(const char *text, struct conf_errors *e)
{
	return test_model_load(dir, text, e);
}

static const char config[] =
    "spool /tmp/tern-test-select-spool\n"
    "<virtual-mta v1>\n</virtual-mta>\n"
    "<virtual-mta v2>\n</virtual-mta>\n"
    "<virtual-mta v3>\n</virtual-mta>\n"
    "<pattern-list other>\n"
    "    mail-from /@call\\.example$/ virtual-mta=v3,recipient-priority=7\n"
    "    * recipient-priority=11\n"
    "</pattern-list>\n"
    "<pattern-list sel>\n"
    "    header X-Stream /^\\s*transactional\\s*$/ virtual-mta=v1,recipient-priority=90\n"
    "    mail-from /@NEWS\\.example$/ virtual-mta=v2, recipient-priority=20 # comment\n"
    "    rcpt-to /^vip@/ virtual-mta=v1\n"
    "    mail-from /@nested\\.example$/ recipient-priority=5\n"
    "    <pattern-list>\n"
    "        header Subject /urgent/ virtual-mta=v2\n"
    "        rcpt-to /@deep\\.test$/\n"
    "        <pattern-list>\n"
    "            * virtual-mta=v3\n"
    "        </pattern-list>\n"
    "    </pattern-list>\n"
    "    mail-from /@call\\.example$/ recipient-priority=1,call-to:other\n"
    "    mail-from /@loop\\.example$/ call-to:loop\n"
    "    mail-from /@stop\\.example$/\n"
    "    header X-Tag /b/ virtual-mta=nosuch\n"
    "    * virtual-mta=v2\n"
    "</pattern-list>\n"
    "<pattern-list loop>\n"
    "    * call-to:LOOP\n"
    "</pattern-list>\n"
    "<pattern-list none>\n"
    "    mail-from /^$/ virtual-mta=v3\n"
    "</pattern-list>\n";

/* Evaluate list `list` for one message; "vmta/priority" or "-". */
static const char *
sel(const struct model *m, const char *list, const char *from,
    const char *rcpt1, const char *rcpt2, const char *hdr)
{
	static char out[300];
	char *rcpts[2] = { (char *)rcpt1, (char *)rcpt2 };
	struct smtpd_select_msg msg = { from, rcpts, rcpt2 ? 2 : 1, hdr,
	    hdr ? strlen(hdr) : 0 };
	struct smtpd_select s;

	if (!smtpd_select_patterns(m, list, &msg, &s))
		return s.vmta == NULL && s.priority == -1 ? "-" : "bad";
	snprintf(out, sizeof(out), "%s/%d", s.vmta ? s.vmta : "", s.priority);
	return out;
}

static void
test_select(const struct model *m)
{
	is_str(sel(m, "sel", "a@x.test", "r@d.test", NULL,
	    "From: a\r\nX-Stream:   transactional  \r\n\r\n"), "v1/90",
	    "header: the raw content, blanks included, matches ^\\s*...\\s*$");
	is_str(sel(m, "sel", "a@x.test", "r@d.test", NULL,
	    "x-stream: bulk\r\nX-STREAM: Transactional\r\n\r\n"), "v1/90",
	    "header: any occurrence, name and regex without case");
	is_str(sel(m, "sel", "a@x.test", "r@d.test", NULL,
	    "X-Stream: transactional mail\r\n\r\n"), "v2/-1",
	    "header: anchors are kept (no match, the catch-all)");
	is_str(sel(m, "sel", "a@news.example", "r@d.test", NULL,
	    "X-Stream: transactional\r\n\r\n"), "v1/90",
	    "first match wins: the header entry comes first");
	is_str(sel(m, "sel", "Bob@News.Example", "r@d.test", NULL, NULL),
	    "v2/20", "mail-from, case-insensitive; a comment after the result");
	is_str(sel(m, "sel", "a@x.test", "r@d.test", "VIP@d.test", NULL),
	    "v1/-1", "rcpt-to: the second recipient's match is the message's");
	is_str(sel(m, "sel", "x@nested.example", "r@d.test", NULL,
	    "Subject: urgent!\r\n\r\n"), "v2/5",
	    "nested list: the entry's priority, the nested entry's VMTA");
	is_str(sel(m, "sel", "x@nested.example", "r@deep.test", NULL,
	    "Subject: hi\r\n\r\n"), "v3/5", "nested twice");
	is_str(sel(m, "sel", "x@nested.example", "r@d.test", NULL,
	    "Subject: hi\r\n\r\n"), "/5",
	    "a matching entry ends the search even if its nested list does not match");
	is_str(sel(m, "sel", "x@call.example", "r@d.test", NULL, NULL), "v3/7",
	    "call-to: the called list's results replace the entry's");
	is_str(sel(m, "sel", "x@loop.example", "r@d.test", NULL, NULL), "/-1",
	    "a call-to loop ends (nothing selected)");
	is_str(sel(m, "sel", "x@stop.example", "r@d.test", NULL, NULL), "/-1",
	    "an entry without a result matches and selects nothing");
	is_str(sel(m, "sel", "x@y.test", "r@d.test", NULL, "X-Tag: abc\r\n\r\n"),
	    "nosuch/-1", "an unknown VirtualMTA name is returned as is");
	is_str(sel(m, "sel", "x@y.test", "r@d.test", NULL, NULL), "v2/-1",
	    "the catch-all");
	is_str(sel(m, "none", "x@y.test", "r@d.test", NULL, NULL), "-",
	    "no entry matches: nothing selected");
	is_str(sel(m, "none", "", "r@d.test", NULL, NULL), "v3/-1",
	    "the null sender is matched as \"\"");
	is_str(sel(m, "NONE", "", "r@d.test", NULL, NULL), "v3/-1",
	    "list names are compared without case");
	is_str(sel(m, "nosuch", "", "r@d.test", NULL, NULL), "-",
	    "a list that does not exist selects nothing");
	is_str(sel(m, "sel", "x@y.test", "r@d.test", NULL,
	    "X-Stream: transactional\r\n"), "v1/90",
	    "a header section without its empty line (cut) is still searched");
}

/* One bad pattern-list: the error names the line. */
static void
bad(const char *body, const char *want, const char *what)
{
	char text[2048];
	struct conf_errors e;
	struct model *m;

	snprintf(text, sizeof(text), "spool /tmp/x\n<pattern-list p>\n%s"
	    "</pattern-list>\n<pattern-list q>\n</pattern-list>\n", body);
	m = load(text, &e);
	ok(m == NULL && strstr(buf_str(&e.text), want) != NULL, "%s", what);
	if (m != NULL || strstr(buf_str(&e.text), want) == NULL)
		diag("errors: %s", buf_str(&e.text));
	if (m != NULL)
		model_unref(m);
	conf_errors_free(&e);
}

static void
test_errors(void)
{
	bad("* recipient-priority=101\n", "config:3: <pattern-list>: "
	    "recipient-priority must be 0 to 100", "recipient-priority above 100");
	bad("* recipient-priority=x\n", "recipient-priority must be 0 to 100",
	    "recipient-priority not a number");
	bad("* virtual-mtaa=v1\n", "config:3: <pattern-list>: unknown result",
	    "an unknown result word");
	bad("* call-to:q,call-to:q\n", "more than one call-to",
	    "two call-to in one entry");
	bad("* call-to:nosuch\n", "config:3: <pattern-list>: call-to:nosuch: "
	    "no <pattern-list nosuch>", "call-to an undefined list");
	bad("header /x/ virtual-mta=v1\n", "expected \"header NAME /REGEX/\"",
	    "header without a name");
	bad("<pattern-list>\n* virtual-mta=v1\n</pattern-list>\n",
	    "config:3: <pattern-list>: a nested <pattern-list> must follow",
	    "a nested list with no entry before it");
	bad("* virtual-mta=v1\n<pattern-list>\n</pattern-list>\n"
	    "<pattern-list>\n</pattern-list>\n",
	    "config:6: <pattern-list>: a nested <pattern-list> must follow",
	    "two nested lists after one entry");
	bad("reply /x/ mode=backoff\n", "expected mail-from, rcpt-to, header or *",
	    "a reply entry belongs to <smtp-pattern-list>");
	bad("* virtual-mta=v1\n<pattern-list>\n* nonsense\n</pattern-list>\n",
	    "config:5: <pattern-list>: unknown result", "errors inside a nested list");
}

/* The test's envelopes hold static strings: free only the rvmta lines. */
static void
free_rvmta(struct spool_envelope *env)
{
	for (size_t i = 0; i < env->nalloc_rvmta; i++)
		free(env->rvmta[i]);
	free(env->rvmta);
	env->rvmta = NULL;
	env->nalloc_rvmta = 0;
}

static void
test_cold(void)
{
	static const char text[] =
	    "spool /tmp/x\n"
	    "<virtual-mta warm>\n"
	    "    cold-virtual-mta cold1\n"
	    "    cold-virtual-mta nosuch\n"
	    "    cold-virtual-mta cold2\n"
	    "    <domain *>\n        max-cold-virtual-mta-msg 2/day\n    </domain>\n"
	    "</virtual-mta>\n"
	    "<virtual-mta cold1>\n</virtual-mta>\n"
	    "<virtual-mta cold2>\n</virtual-mta>\n"
	    "<virtual-mta plain>\n</virtual-mta>\n"
	    "<virtual-mta-pool pool>\n    virtual-mta plain\n"
	    "    cold-virtual-mta cold1\n</virtual-mta-pool>\n"
	    "<domain limited.test>\n    max-cold-virtual-mta-msg 1/day\n</domain>\n"
	    "<domain none.test>\n</domain>\n";
	char *rcpts[] = { "a@d.test", "b@D.TEST", "c@d.test", "d@d.test",
	    "e@d.test", "f@other.test" };
	struct spool_envelope env;
	struct conf_errors e;
	struct model *m = load(text, &e);
	struct cold *c;
	char path[512];

	ok(m != NULL, "cold config loads");
	if (m == NULL) {
		diag("%s", buf_str(&e.text));
		conf_errors_free(&e);
		return;
	}
	conf_errors_free(&e);
	snprintf(path, sizeof(path), "%s/cold", dir);
	c = cold_open(path, NULL);
	memset(&env, 0, sizeof(env));
	env.vmta = "warm";
	env.rcpts = rcpts;
	env.nrcpts = 6;
	is_int((long long)smtpd_select_cold(m, c, &env), 5, "5 of 6 recipients go cold");
	is_str(spool_envelope_rvmta(&env, 0), "cold1", "the first to cold1");
	is_str(spool_envelope_rvmta(&env, 1), "cold2", "the next to cold2 (an unknown name skipped)");
	is_str(spool_envelope_rvmta(&env, 2), "cold1", "then cold1 again");
	is_str(spool_envelope_rvmta(&env, 3), "cold2", "and cold2: both have taken 2");
	ok(spool_envelope_rvmta(&env, 4) == NULL, "the fifth of d.test stays warm");
	is_str(spool_envelope_rvmta(&env, 5), "cold1", "another domain has its own counters");
	smtpd_select_cold_undo(c, &env);
	is_int(cold_count(c, "cold1", "d.test") + cold_count(c, "cold2", "d.test"),
	    0, "undo gives every place back");
	free_rvmta(&env);

	{
		struct spool_envelope e2 = { .vmta = "pool", .rcpts = rcpts, .nrcpts = 2 };
		char *r2[] = { "x@limited.test", "y@limited.test", "z@none.test" };

		e2.rcpts = r2;
		e2.nrcpts = 3;
		is_int((long long)smtpd_select_cold(m, c, &e2), 1,
		    "a pool's own cold list, with the global <domain> limit of 1");
		is_str(spool_envelope_rvmta(&e2, 0), "cold1", "the first goes cold");
		ok(spool_envelope_rvmta(&e2, 2) == NULL,
		    "a domain whose limit is the default 0/d never goes cold");
		e2.vmta = "plain";
		free_rvmta(&e2);
		is_int((long long)smtpd_select_cold(m, c, &e2), 0,
		    "a VirtualMTA without cold-virtual-mta: nothing moves");
	}
	cold_free(c);
	model_unref(m);
}

int
main(void)
{
	struct conf_errors e;
	struct model *m;

	if (mkdtemp(dir) == NULL)
		abort();
	m = load(config, &e);
	ok(m != NULL, "the pattern-list config loads");
	if (m == NULL)
		diag("%s", buf_str(&e.text));
	conf_errors_free(&e);
	if (m != NULL) {
		test_select(m);
		model_unref(m);
	}
	test_errors();
	test_cold();
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/config", dir);
		unlink(path);
		rmdir(dir);
	}
	return done_testing();
}
