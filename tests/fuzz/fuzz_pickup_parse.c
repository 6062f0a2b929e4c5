/*
 * fuzz_pickup_parse: fuzz target for pickup_parse (the pickup file
 * formats).
 *
 * The input is a whole pickup file.  It is parsed with and without
 * pickup-remove-dot, each time fed whole, one byte at a time and in
 * chunks whose sizes come from the input; the three runs must agree on
 * everything.  Invariants (abort() on violation):
 *  - the result, the reason, the envelope and the message are the same
 *    however the input is split;
 *  - bytes == output length, and every LF in the output follows a CR;
 *  - a file that parses has a complete envelope: the message started,
 *    a sender, 1..PICKUP_RCPT_MAX recipients;
 *  - a file that does not parse says why;
 *  - a mailmerge file (parsed with ops that keep the parts' text, and
 *    refuse an XDFN holding "bad" with 5xx, "tmp" with 4xx) hands the
 *    same calls and text to its job however it is split, every byte it
 *    counted, and a file that parses has read its LAST part.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "pickup/pickup_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

struct fz_run {
	int			rc;
	struct pickup_parse	p;
	struct spool_envelope	env;
	struct buf		out;
	struct buf		calls;		/* what the job was given */
	unsigned long long	part_bytes;
};

static int
fz_xdfn(void *arg, const char *a, size_t len, char *reply, size_t size)
{
	struct fz_run *r = arg;

	(void)buf_append(&r->calls, "X", 1);
	(void)buf_append(&r->calls, a, len);
	for (size_t i = 0; i + 3 <= len; i++)
		if (memcmp(a + i, "bad", 3) == 0 || memcmp(a + i, "tmp", 3) == 0) {
			(void)snprintf(reply, size, "%s", a[i] == 'b' ?
			    "550 5.3.5 refused" : "451 4.3.0 later");
			return -1;
		}
	return 0;
}

static int
fz_rcpt_begin(void *arg, char *reply, size_t size)
{
	return 0;
}

static void
fz_rcpt_end(void *arg, bool accepted, size_t idx)
{
	struct fz_run *r = arg;

	(void)buf_append(&r->calls, accepted ? "R" : "r", 1);
}

static int
fz_part(void *arg, const char *a, size_t len, bool *last, char *reply,
    size_t size)
{
	struct fz_run *r = arg;

	*last = len > 0 && (a[len - 1] == 'T' || a[len - 1] == 't');
	(void)buf_append(&r->calls, "P", 1);
	(void)buf_append(&r->calls, a, len);
	return 0;
}

static int
fz_part_data(void *arg, struct buf *out, bool end, char *reply, size_t size)
{
	struct fz_run *r = arg;

	r->part_bytes += out->len;
	(void)buf_append(&r->calls, out->data ? out->data : "", out->len);
	buf_reset(out);
	if (end)
		(void)buf_append(&r->calls, "|", 1);
	return 0;
}

static const struct pickup_merge_ops fz_ops = {
	fz_xdfn, fz_rcpt_begin, fz_rcpt_end, fz_part, fz_part_data,
};

/* Parse in[0..len): mode 0 whole, 1 byte by byte, 2 data-driven. */
static void
fz_parse(struct fz_run *r, const char *in, size_t len, bool dot, int mode)
{
	size_t off = 0, n, k = 0;

	memset(&r->env, 0, sizeof(r->env));
	buf_init(&r->out, 2 * len + 64);
	buf_init(&r->calls, 4 * len + 64);
	r->part_bytes = 0;
	pickup_parse_init(&r->p, dot);
	pickup_parse_merge(&r->p, &fz_ops, r);
	r->rc = 0;
	while (off < len && r->rc == 0) {
		n = len - off;
		if (mode == 1)
			n = 1;
		else if (mode == 2 && n > 1)
			n = 1 + (unsigned char)in[k++ % len] % (n < 64 ? n : 64);
		r->rc = pickup_parse_feed(&r->p, in + off, n, &r->env, &r->out);
		off += n;
	}
	if (r->rc == 0)
		r->rc = pickup_parse_finish(&r->p, &r->env, &r->out);
}

static void
fz_free(struct fz_run *r)
{
	pickup_parse_free(&r->p);
	spool_envelope_free(&r->env);
	buf_free(&r->out);
	buf_free(&r->calls);
}

static bool
fz_str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
fz_same(const struct fz_run *a, const struct fz_run *b)
{
	CHECK(a->rc == b->rc && strcmp(a->p.error, b->p.error) == 0);
	CHECK(a->out.len == b->out.len &&
	    memcmp(buf_str(&a->out), buf_str(&b->out), a->out.len) == 0);
	CHECK(a->env.nrcpts == b->env.nrcpts && a->env.ret == b->env.ret);
	for (size_t i = 0; i < a->env.nrcpts; i++)
		CHECK(strcmp(a->env.rcpts[i], b->env.rcpts[i]) == 0);
	CHECK(fz_str_eq(a->env.orig, b->env.orig) &&
	    fz_str_eq(a->env.envid, b->env.envid) &&
	    fz_str_eq(a->env.jobid, b->env.jobid) &&
	    fz_str_eq(a->p.helo, b->p.helo));
	CHECK(a->p.done == b->p.done && a->p.format == b->p.format);
	CHECK(a->p.merge == b->p.merge && a->p.temporary == b->p.temporary &&
	    a->p.rcpts_dropped == b->p.rcpts_dropped);
	CHECK(a->calls.len == b->calls.len &&
	    memcmp(buf_str(&a->calls), buf_str(&b->calls), a->calls.len) == 0);
}

static void
fz_check(const struct fz_run *r)
{
	const char *o = buf_str(&r->out);

	CHECK(r->p.bytes == r->out.len + r->part_bytes);
	CHECK(!r->p.merge || r->out.len == 0);
	for (size_t i = 0; i < r->out.len; i++)
		if (o[i] == '\n')
			CHECK(i > 0 && o[i - 1] == '\r');
	if (r->rc == 0)
		CHECK((r->p.in_message || (r->p.merge && r->p.done)) &&
		    r->env.orig != NULL &&
		    r->env.nrcpts >= 1 && r->env.nrcpts <= PICKUP_RCPT_MAX &&
		    r->p.error[0] == '\0');
	else
		CHECK(r->rc == -1 && r->p.error[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct fz_run whole, other;

	for (int dot = 0; dot <= 1; dot++) {
		fz_parse(&whole, in, size, dot, 0);
		fz_check(&whole);
		for (int mode = 1; mode <= 2; mode++) {
			fz_parse(&other, in, size, dot, mode);
			fz_same(&whole, &other);
			fz_free(&other);
		}
		fz_free(&whole);
	}
	return 0;
}
