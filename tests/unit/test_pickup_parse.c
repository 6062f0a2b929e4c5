/*
 * Unit tests for pickup/pickup_parse: both pickup file formats, LF and
 * CRLF line ends, missing and bad envelope fields, dot removal, the end
 * marker and what may follow it, and input split at every byte.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pickup/pickup_parse.h"
#include "queue/dsn.h"
#include "tap.h"

struct result {
	int			rc;		/* feed, then finish */
	struct pickup_parse	p;
	struct spool_envelope	env;
	struct buf		out;
};

/* Parse text fed in pieces of `step` bytes (0: all at once). */
static void
parse(struct result *r, const char *text, bool remove_dot, size_t step)
{
	size_t len = strlen(text), off = 0, n;

	memset(&r->env, 0, sizeof(r->env));
	buf_init(&r->out, 1024 * 1024);
	pickup_parse_init(&r->p, remove_dot);
	r->rc = 0;
	while (off < len && r->rc == 0) {
		n = step == 0 || len - off < step ? len - off : step;
		r->rc = pickup_parse_feed(&r->p, text + off, n, &r->env, &r->out);
		off += n;
	}
	if (r->rc == 0)
		r->rc = pickup_parse_finish(&r->p, &r->env, &r->out);
}

static void
done(struct result *r)
{
	pickup_parse_free(&r->p);
	spool_envelope_free(&r->env);
	buf_free(&r->out);
}

/* The file is bad, and the reason contains `why`. */
static void
bad(const char *text, bool remove_dot, const char *why, const char *name)
{
	struct result r;

	parse(&r, text, remove_dot, 0);
	ok(r.rc == -1 && strstr(r.p.error, why) != NULL, "bad: %s", name);
	if (r.rc != -1 || strstr(r.p.error, why) == NULL)
		diag("rc %d, error \"%s\", wanted \"%s\"", r.rc, r.p.error, why);
	done(&r);
}

static void
test_format_a(void)
{
	const char *lf = "x-sender: s@example.org\nX-Receiver: r1@demo.test\n"
	    "x-receiver: <r2@demo.test>\nx-envid: env-1\nx-job: job 7\n"
	    "Subject: hi\nFrom: s@example.org\n\nbody\n..two dots\n.\nend\n";
	const char *want = "Subject: hi\r\nFrom: s@example.org\r\n\r\nbody\r\n"
	    "..two dots\r\n.\r\nend\r\n";
	struct result r;

	parse(&r, lf, false, 0);
	is_int(r.rc, 0, "A: parses");
	is_int(r.p.format, PICKUP_FORMAT_HEADERS, "A: format A");
	is_str(r.env.orig, "s@example.org", "A: x-sender");
	is_int((long long)r.env.nrcpts, 2, "A: two x-receiver lines");
	ok(r.env.nrcpts == 2 && strcmp(r.env.rcpts[0], "r1@demo.test") == 0 &&
	    strcmp(r.env.rcpts[1], "r2@demo.test") == 0,
	    "A: recipients in order, <> removed, name in any case");
	is_str(r.env.envid, "env-1", "A: x-envid");
	is_str(r.env.jobid, "job 7", "A: x-job (made a job ID by smtpd_msg)");
	is_str(buf_str(&r.out), want,
	    "A: envelope lines removed, CRLF line ends, no dot touched, "
	    "a lone dot is content");
	is_int((long long)r.p.bytes, (long long)strlen(want), "A: bytes counted");
	done(&r);

	{
		char crlf[512];
		size_t j = 0;

		for (const char *s = lf; *s != '\0' && j < sizeof(crlf) - 2; s++) {
			if (*s == '\n')
				crlf[j++] = '\r';
			crlf[j++] = *s;
		}
		crlf[j] = '\0';
		parse(&r, crlf, false, 0);
		ok(r.rc == 0 && strcmp(buf_str(&r.out), want) == 0 &&
		    r.env.nrcpts == 2, "A: CRLF line ends give the same message");
		done(&r);
	}
	for (size_t step = 1; step <= 7; step++) {
		parse(&r, lf, false, step);
		if (r.rc != 0 || strcmp(buf_str(&r.out), want) != 0 ||
		    r.env.nrcpts != 2)
			break;
		done(&r);
		if (step == 7) {
			ok(1, "A: the same result for input split every 1..7 bytes");
			return;
		}
	}
	ok(0, "A: the same result for input split every 1..7 bytes");
	done(&r);
}

static void
test_format_a_fields(void)
{
	struct result r;

	parse(&r, "X-Virtual-MTA: v1\nx-sender: <>\nx-receiver: a@b.test\n"
	    "x-virtual-mta: v2\n  folded\nx-sender-override: o@example.org\n"
	    "Subject: s\n\nb\n", false, 0);
	is_int(r.rc, 0, "A: x-virtual-mta first, null sender, override");
	is_str(r.env.orig, "o@example.org", "A: x-sender-override replaces x-sender");
	is_str(buf_str(&r.out), "X-Virtual-MTA: v1\r\nx-virtual-mta: v2\r\n  folded\r\n"
	    "Subject: s\r\n\r\nb\r\n",
	    "A: x-virtual-mta lines (folded too) stay in the header section");
	done(&r);

	parse(&r, "x-sender:\nx-receiver: a@b.test\n\nbody", false, 0);
	ok(r.rc == 0 && strcmp(r.env.orig, "") == 0, "A: an empty x-sender is the null sender");
	is_str(buf_str(&r.out), "\r\nbody\r\n",
	    "A: an empty header section; a last line without line end gets CRLF");
	done(&r);

	parse(&r, "x-sender: s@x.test\r\nx-receiver: a@b.test\r\n", false, 0);
	ok(r.rc == 0 && r.out.len == 0 && r.p.in_message,
	    "A: envelope only: an empty message");
	done(&r);

	parse(&r, "x-sender: s@x.test\nx-receiver: a@b.test\nSubject: a\rb\n\nx", false, 0);
	is_str(buf_str(&r.out), "Subject: a\rb\r\n\r\nx\r\n", "A: a bare CR is kept");
	done(&r);

	bad("x-receiver: a@b.test\nSubject: x\n\nb\n", false, "no x-sender line",
	    "A without x-sender");
	bad("x-sender: s@x.test\nSubject: x\n\nb\n", false, "no recipients",
	    "A without x-receiver");
	bad("x-sender: s@x.test\nx-receiver: postmaster\n\nb\n", false,
	    "domain", "A: a recipient without a domain");
	bad("x-sender: s@x.test\nx-receiver: Joe <a@b.test>\n\nb\n", false,
	    "line 2", "A: a display name is not an address");
	bad("x-sender: s@x.test\nx-receiver: a@b.test c@d.test\n\nb\n", false,
	    "text after the address", "A: one address per x-receiver line");
	bad("x-sender: s@x.test\nx-sender: t@x.test\nx-receiver: a@b.test\n\nb\n",
	    false, "a second x-sender", "A: two x-sender lines");
	bad("x-sender: s@x.test\n  folded\nx-receiver: a@b.test\n\nb\n", false,
	    "folded envelope line", "A: a folded envelope line");
	bad("x-sender: s@x.test\nx-receiver: a@b.test\nx-envid:\n\nb\n", false,
	    "x-envid: empty", "A: an empty x-envid");
	bad("Subject: no envelope\n\nbody\n", false, "neither",
	    "neither format");
	bad("", false, "empty file", "an empty file");
}

static void
test_format_b(void)
{
	const char *f = "EHLO feeder.test\r\nXACK ON\r\nNOOP\r\n"
	    "MAIL FROM:<s@example.org> RET=FULL ENVID=a+2Bb\r\n"
	    "RCPT TO:<r1@demo.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y\r\n"
	    "RCPT TO:<r2@demo.test>\r\nDATA\r\nSubject: b\r\n\r\nhello\r\n"
	    "..x\r\n.\r\nQUIT\r\n";
	struct result r;

	parse(&r, f, false, 0);
	is_int(r.rc, 0, "B: parses");
	is_int(r.p.format, PICKUP_FORMAT_BSMTP, "B: format B");
	is_str(r.p.helo, "feeder.test", "B: the EHLO name");
	is_str(r.env.orig, "s@example.org", "B: MAIL FROM");
	ok(r.env.ret == 2 && r.env.envid != NULL &&
	    strcmp(r.env.envid, "a+b") == 0, "B: RET and ENVID (xtext)");
	ok(r.env.nrcpts == 2 && spool_envelope_notify(&r.env, 0) ==
	    (DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE) &&
	    strcmp(spool_envelope_orcpt(&r.env, 0), "rfc822;x@y") == 0 &&
	    spool_envelope_notify(&r.env, 1) == 0, "B: RCPT with NOTIFY and ORCPT");
	is_str(buf_str(&r.out), "Subject: b\r\n\r\nhello\r\n..x\r\n",
	    "B: the message up to \".\"; no dot removed without pickup-remove-dot");
	ok(r.p.done, "B: the end marker was seen");
	done(&r);

	parse(&r, "HELO h\nMAIL FROM:<>\nRCPT TO:<a@b.test>\nDATA\nx\n.\n", false, 3);
	ok(r.rc == 0 && strcmp(r.env.orig, "") == 0 &&
	    strcmp(buf_str(&r.out), "x\r\n") == 0, "B: LF line ends, null sender, split input");
	done(&r);

	parse(&r, "MAIL FROM:<s@x.test>\nRCPT TO:<a@b.test>\nDATA\nx\n.", false, 0);
	ok(r.rc == 0 && strcmp(buf_str(&r.out), "x\r\n") == 0,
	    "B: a final \".\" without line end ends the message");
	done(&r);

	parse(&r, "XACK OFF\nMAIL FROM:<s@x.test>\nRCPT TO:<bad>\nRCPT TO:<a@b.test>\n"
	    "RCPT TO:<c@d.test> FOO=1\nDATA\nx\n.\n", false, 0);
	ok(r.rc == 0 && r.env.nrcpts == 1 && r.p.rcpts_dropped == 2,
	    "B: after XACK OFF refused recipients are kept aside");
	ok(r.p.rcpts_dropped == 2 && strcmp(r.p.refused[0].rcpt, "bad") == 0 &&
	    strcmp(r.p.refused[0].status, "5.1.3") == 0 &&
	    strcmp(r.p.refused[1].rcpt, "c@d.test") == 0 &&
	    strcmp(r.p.refused[1].status, "5.5.4") == 0,
	    "B: each with its address as written and its status");
	done(&r);
	bad("XACK OFF\nMAIL FROM:<s@x.test>\nRCPT TO:<bad>\nDATA\nx\n.\n", false,
	    "no valid recipients", "B: XACK OFF and no good recipient");
	bad("MAIL FROM:<s@x.test>\nRCPT TO:<bad>\nDATA\nx\n.\n", false,
	    "line 2: RCPT", "B: a refused RCPT fails the file");
	bad("MAIL FROM:<s@x.test>\nRCPT TO:<a@b.test>\nDATA\nx\n", false,
	    "does not end", "B: no \".\" line");
	bad("MAIL FROM:<s@x.test>\nRCPT TO:<a@b.test>\nDATA\nx\n.\nMAIL FROM:<t@x.test>\n",
	    false, "text after the end", "B: a second message after \".\"");
	bad("MAIL FROM:<s@x.test>\nMAIL FROM:<t@x.test>\n", false,
	    "second MAIL", "B: two MAIL commands");
	bad("MAIL FROM:<s@x.test>\nDATA\nx\n.\n", false, "no recipients",
	    "B: DATA without RCPT");
	bad("EHLO h\nRCPT TO:<a@b.test>\n", false, "RCPT before MAIL",
	    "B: RCPT before MAIL");
	bad("EHLO h\nDATA\n", false, "DATA before MAIL", "B: DATA before MAIL");
	bad("XMRG FROM:<s@x.test>\n", false, "mailmerge", "B: mailmerge is refused");
	bad("EHLO h\nMAIL FROM:<s@x.test> FOO=bar\n", false,
	    "unsupported parameter FOO", "B: an unknown MAIL parameter");
	bad("EHLO h\nMAIL FROM:<s@x.test>\nRCPT TO:<a@b.test>\n", false,
	    "ends before DATA", "B: the file ends before DATA");
	bad("EHLO h\nSTARTTLS\n", false, "not allowed", "B: STARTTLS");
}

static void
test_dots(void)
{
	struct result r;

	parse(&r, "x-sender: s@x.test\nx-receiver: a@b.test\nS: 1\n\n..a\n.b\n..\n"
	    ".\nQUIT\n", true, 0);
	ok(r.rc == 0 && r.p.done, "remove-dot: a \".\" line ends a format A message");
	is_str(buf_str(&r.out), "S: 1\r\n\r\n.a\r\n.b\r\n.\r\n",
	    "remove-dot: \"..\" loses one dot, \".b\" stays, QUIT may follow");
	done(&r);

	parse(&r, "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\n..a\r\n"
	    "...\r\n.\r\n", true, 1);
	is_str(buf_str(&r.out), ".a\r\n..\r\n", "remove-dot: BSMTP unstuffed, byte by byte");
	done(&r);

	parse(&r, "x-sender: s@x.test\nx-receiver: a@b.test\n\nx\n..\n", true, 0);
	ok(r.rc == 0 && !r.p.done && strcmp(buf_str(&r.out), "\r\nx\r\n.\r\n") == 0,
	    "remove-dot: format A may also end without a \".\" line");
	done(&r);

	bad("x-sender: s@x.test\nx-receiver: a@b.test\n\nx\n.\nmore\n", true,
	    "text after the end", "remove-dot: text after the \".\" line");

	{
		char big[PICKUP_LINE_MAX + 64];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, "x-sender: ", 10);
		bad(big, false, "longer than", "an envelope line too long");
	}
}

/* --- mailmerge files: the calls the job gets, recorded --- */

struct rec {
	char		 log[4096];	/* one line per call */
	size_t		 fail_xdfn;	/* refuse the XDFN whose arg is this long */
	bool		 temp;		/* ... with a 4xx */
};

/* Append tag, then a[0..len) to the log. */
static void
rec_add(struct rec *r, const char *tag, const char *a, size_t len)
{
	size_t n = strlen(r->log);

	snprintf(r->log + n, sizeof(r->log) - n, "%s%.*s", tag, (int)len, a);
}

static int
rec_xdfn(void *arg, const char *a, size_t len, char *reply, size_t size)
{
	struct rec *r = arg;

	rec_add(r, "X ", a, len);
	rec_add(r, "", "\n", 1);
	if (len != r->fail_xdfn)
		return 0;
	snprintf(reply, size, r->temp ? "451 4.3.0 disk" :
	    "550 5.3.5 specified VirtualMTA does not exist");
	return -1;
}

static int
rec_rcpt_begin(void *arg, char *reply, size_t size)
{
	return 0;
}

static void
rec_rcpt_end(void *arg, bool accepted, size_t idx)
{
	char t[32];

	snprintf(t, sizeof(t), "R %s %zu\n", accepted ? "ok" : "no", idx);
	rec_add(arg, "", t, strlen(t));
}

static int
rec_part(void *arg, const char *a, size_t len, bool *last, char *reply,
    size_t size)
{
	*last = len > 2;
	rec_add(arg, "P ", a, len);
	rec_add(arg, "", "\n", 1);
	return 0;
}

static int
rec_part_data(void *arg, struct buf *out, bool end, char *reply, size_t size)
{
	rec_add(arg, "D ", out->data ? out->data : "", out->len);
	if (end)
		rec_add(arg, "", "|\n", 2);
	buf_reset(out);
	return 0;
}

static const struct pickup_merge_ops rec_ops = {
	rec_xdfn, rec_rcpt_begin, rec_rcpt_end, rec_part, rec_part_data,
};

static void
merge_parse(struct result *res, struct rec *r, const char *text, size_t step)
{
	size_t len = strlen(text), off = 0, n;

	memset(&res->env, 0, sizeof(res->env));
	buf_init(&res->out, 1024 * 1024);
	pickup_parse_init(&res->p, false);
	pickup_parse_merge(&res->p, &rec_ops, r);
	res->rc = 0;
	while (off < len && res->rc == 0) {
		n = step == 0 || len - off < step ? len - off : step;
		res->rc = pickup_parse_feed(&res->p, text + off, n, &res->env,
		    &res->out);
		off += n;
	}
	if (res->rc == 0)
		res->rc = pickup_parse_finish(&res->p, &res->env, &res->out);
}

/* The log with part data joined (pieces depend on the split). */
static void
rec_joined(const struct rec *r, char *out, size_t size)
{
	const char *s = r->log;
	size_t n = 0;

	while (*s != '\0' && n + 1 < size) {
		if (s[0] == 'D' && s[1] == ' ')
			s += 2;		/* data pieces run together */
		else
			out[n++] = *s++;
	}
	out[n] = '\0';
}

static void
test_merge(void)
{
	const char *job = "EHLO h\r\nXACK ON\r\nXMRG FROM:<s@x.test> VERP\r\n"
	    "XDFN a=1\r\nRCPT TO:<r1@d.test>\r\nXDFN a=2\r\n"
	    "RCPT TO:<r2@d.test> NOTIFY=NEVER\r\nXPRT 1\r\nHi [a]\r\n..dot\r\n"
	    ".\r\nXPRT 2 LAST\r\nbye\r\n.\r\nQUIT\r\n";
	const char *want = "X a=1\nR ok 0\nX a=2\nR ok 1\nP 1\nHi [a]\r\n"
	    "..dot\r\n|\nP 2 LAST\nbye\r\n|\n";
	char joined[4096];
	struct result res;
	struct rec r;
	size_t steps[] = { 0, 1, 2, 7 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.fail_xdfn = (size_t)-1;
		merge_parse(&res, &r, job, steps[i]);
		rec_joined(&r, joined, sizeof(joined));
		ok(res.rc == 0 && res.p.merge && res.p.done &&
		    strcmp(joined, want) == 0 && res.env.nrcpts == 2 &&
		    strcmp(res.env.orig, "s@x.test") == 0 && res.env.verp &&
		    res.out.len == 0,
		    "merge: sets, recipients and parts in order (split %zu)",
		    steps[i]);
		if (res.rc != 0 || strcmp(joined, want) != 0)
			diag("rc %d (%s), log:\n%s", res.rc, res.p.error, joined);
		done(&res);
	}

	/* XACK OFF: a refused XDFN refuses its RCPT, a bad RCPT is kept */
	memset(&r, 0, sizeof(r));
	r.fail_xdfn = 8;
	merge_parse(&res, &r, "XACK OFF\nXMRG FROM:<s@x.test>\nXDFN *vmta=no\n"
	    "RCPT TO:<r1@d.test>\nRCPT TO:<r2@d.test>\nRCPT TO:<bad> NOTIFY=NEVER\n"
	    "XPRT 1 LAST\nx\n.\n", 0);
	ok(res.rc == 0 && res.env.nrcpts == 1 && res.p.rcpts_dropped == 2 &&
	    strcmp(res.p.refused[0].rcpt, "r1@d.test") == 0 &&
	    strcmp(res.p.refused[0].status, "5.3.5") == 0 &&
	    strstr(res.p.refused[0].why, "VirtualMTA") != NULL &&
	    strcmp(res.p.refused[1].rcpt, "bad") == 0 &&
	    res.p.refused[1].notify == DSN_NOTIFY_NEVER &&
	    strstr(r.log, "R no 0\nR ok 0\nR no 1\n") != NULL,
	    "merge, XACK OFF: the refused XDFN's RCPT and a bad RCPT bounce, "
	    "the set goes with the next one");
	done(&res);

	/* XACK ON: the same XDFN makes the file bad; a 4xx is temporary */
	memset(&r, 0, sizeof(r));
	r.fail_xdfn = 8;
	merge_parse(&res, &r, "XMRG FROM:<s@x.test>\nXDFN *vmta=no\n", 0);
	ok(res.rc == -1 && !res.p.temporary && strstr(res.p.error, "5.3.5"),
	    "merge, XACK ON: a refused XDFN fails the file");
	done(&res);
	r.temp = true;
	r.log[0] = '\0';
	merge_parse(&res, &r, "XACK OFF\nXMRG FROM:<s@x.test>\nXDFN *vmta=no\n", 0);
	ok(res.rc == -1 && res.p.temporary, "merge: a 4xx from the job is temporary");
	done(&res);

	memset(&r, 0, sizeof(r));
	r.fail_xdfn = (size_t)-1;
	merge_parse(&res, &r, "XMRG FROM:<s@x.test>\nRCPT TO:<a@b.test>\nXPRT 1\nx\n.\n", 0);
	ok(res.rc == -1 && strstr(res.p.error, "LAST part"), "merge: no LAST part");
	done(&res);
	merge_parse(&res, &r, "XMRG FROM:<s@x.test>\nRCPT TO:<a@b.test>\nXPRT 1 LAST\nx\n", 0);
	ok(res.rc == -1 && strstr(res.p.error, "does not end"), "merge: a part without \".\"");
	done(&res);
	merge_parse(&res, &r, "XMRG FROM:<s@x.test>\nRCPT TO:<a@b.test>\nDATA\n", 0);
	ok(res.rc == -1 && strstr(res.p.error, "DATA in a mailmerge"), "merge: DATA");
	done(&res);
	merge_parse(&res, &r, "MAIL FROM:<s@x.test>\nXDFN a=1\n", 0);
	ok(res.rc == -1 && strstr(res.p.error, "XDFN before XMRG"), "XDFN without XMRG");
	done(&res);
	merge_parse(&res, &r, "XMRG FROM:<s@x.test>\nXMRG FROM:<s@x.test>\n", 0);
	ok(res.rc == -1 && strstr(res.p.error, "second MAIL"), "merge: two XMRG");
	done(&res);
	merge_parse(&res, &r, "XMRG FROM:<s@x.test>\nRCPT TO:<a@b.test>\nXPRT 1 LAST\n"
	    "x\n.\nRCPT TO:<c@b.test>\n", 0);
	ok(res.rc == -1 && strstr(res.p.error, "text after the end"),
	    "merge: nothing but QUIT after the LAST part");
	done(&res);
}

int
main(void)
{
	test_format_a();
	test_format_a_fields();
	test_format_b();
	test_dots();
	test_merge();
	return done_testing();
}
