/*
 * dsn_sample: writes a few reports composed by src/queue/dsn into the
 * directory given as the only argument, one file per variant, for
 * test_dsn_parse.py to check with an independent parser.  The variants
 * and their inputs are fixed; the Python test knows what to expect.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "queue/dsn.h"

#define SAMPLE_MAX	(1024 * 1024)
#define SAMPLE_NOW	1700000000	/* Tue, 14 Nov 2023 22:13:20 +0000 */

static const char sample_original[] =
    "From: Sender <sender@origin.test>\r\n"
    "To: bob@dest.test\r\n"
    "Subject: Hello there\r\n"
    "Message-ID: <orig-1@origin.test>\r\n"
    "\r\n"
    "BODY-MARKER line one\r\n"
    "line two\r\n";

static char sample_long_diag[6000];

static int
sample_write(const char *dir, const char *name, const struct dsn_message *m)
{
	struct buf out;
	char path[4096];
	FILE *fp;
	int rc = -1;

	buf_init(&out, SAMPLE_MAX);
	if (dsn_compose(m, &out) == -1) {
		fprintf(stderr, "dsn_sample: %s: dsn_compose failed\n", name);
		goto done;
	}
	if (snprintf(path, sizeof(path), "%s/%s.eml", dir, name) >=
	    (int)sizeof(path))
		goto done;
	if ((fp = fopen(path, "wb")) == NULL) {
		perror(path);
		goto done;
	}
	if (fwrite(out.data, 1, out.len, fp) != out.len)
		perror(path);
	else
		rc = 0;
	if (fclose(fp) == EOF)
		rc = -1;
done:
	buf_free(&out);
	return rc;
}

static void
sample_base(struct dsn_message *m, const char *seed,
    const struct dsn_rcpt *r, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->reporting_mta = "mta.tern.test";
	m->to = "sender@origin.test";
	m->arrival = SAMPLE_NOW - 3600;
	m->now = SAMPLE_NOW;
	m->boundary_seed = seed;
	m->ret = DSN_RET_HEADERS;
	m->rcpts = r;
	m->nrcpts = n;
	m->original = sample_original;
	m->original_len = sizeof(sample_original) - 1;
	m->max_original = 10 * 1024 * 1024;
}

static const struct dsn_rcpt sample_failed = {
	.orcpt = "rfc822;Bob@Dest.test", .final_rcpt = "bob@dest.test",
	.action = DSN_FAILED, .status = "5.1.1",
	.remote_mta = "mx.dest.test (192.0.2.25)",
	.diagnostic = "smtp;550 5.1.1 <bob@dest.test>: user unknown",
	.last_attempt = SAMPLE_NOW - 60,
};

static int
sample_failures(const char *dir)
{
	struct dsn_message m;
	int rc = 0;

	sample_base(&m, "failure-headers", &sample_failed, 1);
	m.envid = "ENV-42";
	rc |= sample_write(dir, "failure_headers", &m);
	sample_base(&m, "failure-full", &sample_failed, 1);
	m.ret = DSN_RET_FULL;
	rc |= sample_write(dir, "failure_full", &m);
	sample_base(&m, "failure-overcap", &sample_failed, 1);
	m.ret = DSN_RET_FULL;
	m.max_original = 100;
	rc |= sample_write(dir, "failure_overcap", &m);
	sample_base(&m, "plain", &sample_failed, 1);
	m.ret = DSN_RET_FULL;
	m.plain_text = true;
	rc |= sample_write(dir, "plain", &m);
	sample_base(&m, "noorig", &sample_failed, 1);
	m.original = NULL;
	m.original_len = 0;
	rc |= sample_write(dir, "noorig", &m);
	return rc;
}

static int
sample_others(const char *dir)
{
	static const struct dsn_rcpt delayed = {
		.final_rcpt = "carol@slow.test", .action = DSN_DELAYED,
		.status = "4.4.1", .remote_mta = "mx.slow.test",
		.diagnostic = "smtp;421 4.4.1 try again later",
		.last_attempt = SAMPLE_NOW - 30,
		.will_retry_until = SAMPLE_NOW + 86400,
	};
	static const struct dsn_rcpt ok[] = {
		{ .final_rcpt = "dave@fast.test", .action = DSN_DELIVERED,
		  .status = "2.0.0", .remote_mta = "mx.fast.test",
		  .diagnostic = "smtp;250 2.0.0 ok queued as 1234",
		  .last_attempt = SAMPLE_NOW - 10 },
		{ .final_rcpt = "erin@old.test", .action = DSN_RELAYED,
		  .remote_mta = "mx.old.test",
		  .diagnostic = "smtp;250 ok", .last_attempt = SAMPLE_NOW - 5 },
	};
	struct dsn_message m;
	int rc = 0;

	sample_base(&m, "delay", &delayed, 1);
	rc |= sample_write(dir, "delay", &m);
	sample_base(&m, "success", ok, 2);
	m.ret = DSN_RET_FULL;	/* no failure: headers only (RFC 3461 §6.2) */
	rc |= sample_write(dir, "success", &m);
	return rc;
}

/* Injection attempts, a long diagnostic and 8-bit text. */
static int
sample_hostile(const char *dir)
{
	struct dsn_rcpt r[2] = {
		{ .final_rcpt = "mallory@evil.test\r\nX-Injected: final",
		  .action = DSN_FAILED, .status = "5.7.1",
		  .remote_mta = "mx.evil.test\r\nX-Injected: mta",
		  .diagnostic = "smtp;550 5.7.1 no\r\nX-Injected: diag\r\n\r\n"
		      "--=_tern_hostile--\r\ncaf\xc3\xa9 \x01\x7f bell" },
		{ .final_rcpt = "long@evil.test", .action = DSN_DELAYED,
		  .diagnostic = sample_long_diag },
	};
	struct dsn_message m;
	size_t i, n = 0;

	/* 400 short words, then one 1500-octet word. */
	for (i = 0; i < 400; i++) {
		memcpy(sample_long_diag + n, "word ", 5);
		n += 5;
	}
	memset(sample_long_diag + n, 'x', 1500);
	n += 1500;
	sample_long_diag[n] = '\0';
	sample_base(&m, "hostile", r, 2);
	m.to = "sender@origin.test>\r\nBcc: victim@else.test";
	m.from_header = "Postmaster <postmaster@tern.test>\r\nX-Injected: from";
	m.envid = "ENV\r\nX-Injected: envid";
	return sample_write(dir, "hostile", &m);
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: dsn_sample DIR\n");
		return 2;
	}
	rc = sample_failures(argv[1]);
	rc |= sample_others(argv[1]);
	rc |= sample_hostile(argv[1]);
	return rc == 0 ? 0 : 1;
}
