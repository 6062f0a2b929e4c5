/*
 * Unit tests for smtp/smtp_data: the end-of-data marker (only
 * CRLF.CRLF, whatever the split of the input), dot-stuffing in both
 * directions, line-end normalisation, pipelined bytes, the output cap,
 * and tx -> rx round trips of random content.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp_data.h"
#include "tap.h"

#define BIG	(1024 * 1024)

/* Everything one rx pass produced. */
struct rx_result {
	struct buf		out;
	struct smtp_data_rx	d;
	size_t			consumed;
	bool			failed;	/* a feed returned (size_t)-1 */
};

/* xorshift32: deterministic, good enough to pick chunk sizes and bytes. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * Feed in[0..len) in chunks: chunk 0 = all at once, 1 = one byte at a
 * time, otherwise random sizes from seed `chunk`.  Stops when done.
 */
static void
rx_run(struct rx_result *r, const char *in, size_t len, uint32_t chunk)
{
	uint32_t seed = chunk;
	size_t n, got;

	buf_init(&r->out, BIG);
	smtp_data_rx_init(&r->d);
	r->consumed = 0;
	r->failed = false;
	while (r->consumed < len && !r->d.done) {
		n = len - r->consumed;
		if (chunk == 1)
			n = 1;
		else if (chunk > 1 && n > 1)
			n = 1 + rnd(&seed) % (n < 17 ? n : 17);
		got = smtp_data_rx_feed(&r->d, in + r->consumed, n, &r->out);
		if (got == (size_t)-1) {
			r->failed = true;
			return;
		}
		if (got < n && !r->d.done) {
			ok(0, "a feed stopped early without the marker");
			return;
		}
		r->consumed += got;
	}
}

static bool
rx_same(const struct rx_result *a, const struct rx_result *b)
{
	return a->consumed == b->consumed && a->failed == b->failed &&
	    a->out.len == b->out.len &&
	    memcmp(buf_str(&a->out), buf_str(&b->out), a->out.len) == 0 &&
	    a->d.done == b->d.done && a->d.bytes == b->d.bytes &&
	    a->d.max_line == b->d.max_line && a->d.bare_lf == b->d.bare_lf &&
	    a->d.line_len == b->d.line_len && a->d.state == b->d.state;
}

static void
rx_str(struct rx_result *r, const char *in)
{
	rx_run(r, in, strlen(in), 0);
}

/* One-shot rx of a NUL-terminated input, checked against want. */
static void
rx_is(const char *in, const char *want, bool done, size_t consumed,
    const char *what)
{
	struct rx_result r;

	rx_run(&r, in, strlen(in), 0);
	is_mem(buf_str(&r.out), r.out.len, want, strlen(want), "%s", what);
	ok(r.d.done == done, "  done is %d", done);
	is_int((long long)r.consumed, (long long)consumed, "  consumed");
	is_int((long long)r.d.bytes, (long long)r.out.len,
	    "  bytes == out len");
	buf_free(&r.out);
}

static void
test_rx_basic(void)
{
	const char *m = "Subject: x\r\n\r\nbody\r\n.\r\n";

	rx_is(m, "Subject: x\r\n\r\nbody\r\n", true, strlen(m), "a message");
	rx_is(".\r\n", "", true, 3, "an empty message");
	rx_is("\r\n.\r\n", "\r\n", true, 5, "one empty line");
	rx_is("..a\r\n..\r\n...\r\n.x\r\n. \r\n.\r\n",
	    ".a\r\n.\r\n..\r\nx\r\n \r\n", true, 25, "stuffing removed");
	rx_is("a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", true, 11,
	    "'.\\rb': the dot is stuffing, the CR bare");
	rx_is("a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n", true, 10,
	    "'.\\r\\r\\n': the dot is stuffing");
	rx_is("x\r\n.\r\nQUIT\r\n", "x\r\n", true, 6,
	    "pipelined bytes after the marker are not consumed");
	rx_is("abc", "abc", false, 3, "no marker yet");
	rx_is("abc\r\n.", "abc\r\n", false, 6, "a pending dot");
	rx_is("abc\r\n.\r", "abc\r\n", false, 7, "a pending dot and CR");
	rx_is("abc\r", "abc\r", false, 4, "a pending CR");
}

static void
test_rx_smuggling(void)
{
	const char *t;

	t = "a\n.\nb\r\n.\r\n";
	rx_is(t, "a\r\n.\r\nb\r\n", true, strlen(t), "<LF>.<LF> is content");
	t = "a\n.\r\nb\r\n.\r\n";
	rx_is(t, "a\r\n.\r\nb\r\n", true, strlen(t), "<LF>.<CRLF> is content");
	t = "a\r\n.\nb\r\n.\r\n";
	rx_is(t, "a\r\n.\r\nb\r\n", true, strlen(t), "<CRLF>.<LF> is content");
	t = "a\r.\r\nb\r\n.\r\n";
	rx_is(t, "a\r.\r\nb\r\n", true, strlen(t), "<CR>.<CRLF> is content");
	t = "a\r\n.\r.\r\n.\r\n";
	rx_is(t, "a\r\n\r.\r\n", true, strlen(t), "<CRLF>.<CR>. is content");
	t = ".\n";
	rx_is(t, ".\r\n", false, 2, "'.<LF>' at the start is content");
	t = "\n.\r\n";
	rx_is(t, "\r\n.\r\n", false, 4, "'<LF>.<CRLF>' at the start");
	t = "a\n..b\r\n.\r\n";
	rx_is(t, "a\r\n.b\r\n", true, strlen(t),
	    "a line after a bare LF is unstuffed");
	t = "a\n.\r\n.\r\n";
	rx_is(t, "a\r\n.\r\n", true, strlen(t),
	    "the CRLF after a kept '.' line can start the marker");
	t = "a\r\n.\r\n";
	rx_is(t, "a\r\n", true, strlen(t), "the real marker");
}

static void
test_rx_line_ends(void)
{
	struct rx_result r;

	rx_str(&r, "a\nb\r\n.\r\n");
	is_str(buf_str(&r.out), "a\r\nb\r\n", "a bare LF is stored as CRLF");
	ok(r.d.bare_lf, "  and noted");
	buf_free(&r.out);
	rx_str(&r, "a\rb\r\n.\r\n");
	is_str(buf_str(&r.out), "a\rb\r\n", "a bare CR is kept");
	ok(!r.d.bare_lf, "  bare_lf stays false");
	is_int((long long)r.d.max_line, 3, "  and counts in the line length");
	buf_free(&r.out);
	rx_str(&r, "a\r\r\n.\r\n");
	is_str(buf_str(&r.out), "a\r\r\n", "CR before CRLF");
	buf_free(&r.out);
	rx_str(&r, "\n\n.\r\n");
	is_str(buf_str(&r.out), "\r\n\r\n.\r\n", "bare LFs at the start");
	ok(!r.d.done, "  no marker after a bare LF");
	buf_free(&r.out);
	rx_str(&r, "abc\r\n12345\r\n..xy\r\n.\r\n");
	is_int((long long)r.d.max_line, 5, "max_line without CRLF");
	buf_free(&r.out);
	rx_str(&r, "..xyzw\r\n.\r\n");
	is_int((long long)r.d.max_line, 5, "max_line counts unstuffed bytes");
	buf_free(&r.out);
	rx_str(&r, "abcdefgh");
	is_int((long long)r.d.max_line, 8, "max_line of a partial line");
	buf_free(&r.out);
	rx_str(&r, "a\n.\n");
	is_int((long long)r.d.max_line, 1, "a kept '.' line has length 1");
	buf_free(&r.out);
}

/* Compare one-shot, byte-at-a-time and random chunks; 1 if all agree. */
static bool
rx_splits_agree(const char *in, size_t len, uint32_t seeds)
{
	struct rx_result whole, other;
	uint32_t s;
	bool same = true;

	rx_run(&whole, in, len, 0);
	for (s = 1; s <= seeds && same; s++) {
		rx_run(&other, in, len, s);
		same = rx_same(&whole, &other);
		buf_free(&other.out);
	}
	buf_free(&whole.out);
	return same;
}

static void
test_rx_splits(void)
{
	const char *in =
	    "hello\r\n..dot\r\nbare\nlf\r\n\r\n.\r\nMAIL FROM:<>\r\n";
	size_t len = strlen(in), k, k2, got;
	struct rx_result whole;
	struct smtp_data_rx d;
	struct buf out;
	bool all = true;

	rx_run(&whole, in, len, 0);
	ok(whole.d.done && whole.consumed == len - 14, "reference run");
	for (k = 0; k <= len && all; k++) {
		for (k2 = k; k2 <= len && all; k2++) {
			buf_init(&out, BIG);
			smtp_data_rx_init(&d);
			got = smtp_data_rx_feed(&d, in, k, &out);
			if (!d.done)
				got += smtp_data_rx_feed(&d, in + k, k2 - k,
				    &out);
			if (!d.done)
				got += smtp_data_rx_feed(&d, in + k2, len - k2,
				    &out);
			all = d.done && got == whole.consumed &&
			    out.len == whole.out.len &&
			    memcmp(out.data, whole.out.data, out.len) == 0 &&
			    d.max_line == whole.d.max_line &&
			    d.bare_lf == whole.d.bare_lf;
			if (!all)
				diag("split at %zu and %zu differs", k, k2);
			buf_free(&out);
		}
	}
	ok(all, "every split into three feeds gives the same result");
	ok(rx_splits_agree(in, len, 50),
	    "one byte at a time and random chunks give the same result");
	buf_free(&whole.out);
}

/* Random bytes over an alphabet rich in line ends and dots. */
static size_t
random_input(char *p, size_t max, uint32_t *s)
{
	static const char alpha[] = "..\r\r\n\nab ";
	size_t n = rnd(s) % max, i;

	for (i = 0; i < n; i++)
		p[i] = alpha[rnd(s) % (sizeof(alpha) - 1)];
	return n;
}

/* The first "\r\n.\r\n" in "\r\n" + in: where rx must stop, or 0. */
static size_t
marker_end(const char *in, size_t len)
{
	size_t i;

	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

static void
test_rx_random(void)
{
	char in[300];
	size_t len, end, i;
	uint32_t s = 12345;
	struct rx_result r;
	bool agree = true, oracle = true, crlf = true;
	int iter;

	for (iter = 0; iter < 3000; iter++) {
		len = random_input(in, sizeof(in), &s);
		if (!rx_splits_agree(in, len, 4)) {
			agree = false;
			diag("iteration %d: splits disagree", iter);
		}
		rx_run(&r, in, len, 0);
		end = marker_end(in, len);
		if (r.d.done != (end != 0) || r.consumed != (end ? end : len))
			oracle = false;
		for (i = 0; i < r.out.len; i++)
			if (r.out.data[i] == '\n' &&
			    (i == 0 || r.out.data[i - 1] != '\r'))
				crlf = false;
		buf_free(&r.out);
	}
	ok(agree, "random inputs: every split gives the same result");
	ok(oracle, "random inputs: rx stops exactly after the first CRLF.CRLF");
	ok(crlf, "random inputs: the output has only CRLF line ends");
}

static void
test_rx_cap(void)
{
	const char *in = "0123456789ABCDEF\r\n.\r\n";
	struct smtp_data_rx d, before;
	struct buf out;
	size_t got, pos, n, fails;
	char big[200];

	buf_init(&out, 10);
	smtp_data_rx_init(&d);
	before = d;
	got = smtp_data_rx_feed(&d, in, strlen(in), &out);
	ok(got == (size_t)-1, "output over the cap: (size_t)-1");
	ok(memcmp(&d, &before, sizeof(d)) == 0, "  the state is restored");
	buf_free(&out);

	buf_init(&out, 18);
	smtp_data_rx_init(&d);
	got = smtp_data_rx_feed(&d, in, strlen(in), &out);
	ok(got == strlen(in) && d.done && out.len == 18,
	    "output exactly at the cap fits");
	buf_free(&out);

	buf_init(&out, 11);
	smtp_data_rx_init(&d);
	ok(smtp_data_rx_feed(&d, "a\n\n\n\n\n", 6, &out) == 6,
	    "five bare LFs fit in 11 bytes");
	ok(smtp_data_rx_feed(&d, "\n", 1, &out) == (size_t)-1,
	    "a sixth does not (LF grows to CRLF)");
	buf_free(&out);

	/* Swallowing an oversized message: reset the output and go on. */
	memset(big, 'x', 100);
	memcpy(big + 100, "\r\n.\r\nQUIT\r\n", 12);
	buf_init(&out, 8);
	smtp_data_rx_init(&d);
	for (pos = 0, fails = 0; !d.done && pos < 111; pos += got) {
		n = 111 - pos < 5 ? 111 - pos : 5;
		got = smtp_data_rx_feed(&d, big + pos, n, &out);
		if (got == (size_t)-1) {
			buf_reset(&out);
			got = smtp_data_rx_feed(&d, big + pos, n, &out);
			fails++;
		}
		if (got == (size_t)-1)
			break;
	}
	ok(d.done && pos == 105,
	    "an oversized message is swallowed to its end");
	ok(fails > 0, "  after cap failures");
	is_str(big + pos, "QUIT\r\n", "  and the next command is left");
	buf_free(&out);
	smtp_data_rx_init(&d);
	buf_init(&out, 8);
	ok(smtp_data_rx_feed(&d, ".\r\n", 3, &out) == 3 && d.done,
	    "done after the marker");
	ok(smtp_data_rx_feed(&d, "more", 4, &out) == 0,
	    "  and consumes nothing more");
	buf_free(&out);
}

/* Dot-stuff chunks of a NUL-terminated string (chunk 0 = whole). */
static void
tx_is(const char *in, size_t chunk, bool finish, const char *want,
    const char *what)
{
	struct smtp_data_tx t;
	struct buf out;
	size_t len = strlen(in), pos, n;
	int rc = 0;

	buf_init(&out, BIG);
	smtp_data_tx_init(&t);
	for (pos = 0; pos < len && rc == 0; pos += n) {
		n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		rc = smtp_data_tx_feed(&t, in + pos, n, &out);
	}
	if (finish && rc == 0)
		rc = smtp_data_tx_finish(&t, &out);
	ok(rc == 0, "%s: no error", what);
	is_mem(buf_str(&out), out.len, want, strlen(want), "  %s", what);
	buf_free(&out);
}

static void
test_tx(void)
{
	size_t chunk;

	for (chunk = 0; chunk <= 2; chunk++) {
		tx_is("a\r\n.b\r\n", chunk, false, "a\r\n..b\r\n",
		    "dot after CRLF");
		tx_is(".x\r\n", chunk, false, "..x\r\n", "dot at the start");
		tx_is(".\r\n..\r\n", chunk, false, "..\r\n...\r\n",
		    "lone and double dots");
		tx_is("a.b\r\n", chunk, false, "a.b\r\n", "dot inside a line");
		tx_is("a\r.b\r\n", chunk, false, "a\r.b\r\n",
		    "no stuffing after a bare CR");
		tx_is("a\n.b\r\n", chunk, false, "a\r\n..b\r\n",
		    "a bare LF becomes CRLF, then stuffing");
		tx_is("a\n\nb", chunk, false, "a\r\n\r\nb", "two bare LFs");
	}
	tx_is("", 0, true, ".\r\n", "empty content: just the marker");
	tx_is("abc\r\n", 0, true, "abc\r\n.\r\n", "content ending in CRLF");
	tx_is("abc", 0, true, "abc\r\n.\r\n", "finish adds the missing CRLF");
	tx_is("abc\r", 0, true, "abc\r\r\n.\r\n", "content ending in a CR");
	tx_is("abc\n", 0, true, "abc\r\n.\r\n", "content ending in a bare LF");
	tx_is(".", 0, true, "..\r\n.\r\n", "a lone dot without CRLF");
}

static void
test_tx_cap(void)
{
	struct smtp_data_tx t;
	struct buf out;

	buf_init(&out, 4);
	smtp_data_tx_init(&t);
	ok(smtp_data_tx_feed(&t, "abcd", 4, &out) == 0, "tx at the cap");
	ok(smtp_data_tx_feed(&t, "e", 1, &out) == -1, "tx over the cap");
	ok(smtp_data_tx_finish(&t, &out) == -1, "finish over the cap");
	buf_reset(&out);
	smtp_data_tx_init(&t);
	ok(smtp_data_tx_feed(&t, "...", 3, &out) == 0 && out.len == 4,
	    "a stuffed dot counts against the cap");
	ok(smtp_data_tx_feed(&t, "", 0, &out) == 0, "an empty feed");
	buf_free(&out);
}

/* Random CRLF-terminated content: lines over a small alphabet. */
static size_t
random_content(char *p, size_t max, uint32_t *s, bool bare_lf)
{
	static const char alpha[] = "...ab \r";
	size_t n = 0, line;

	while (n + 40 < max && rnd(s) % 8 != 0) {
		for (line = rnd(s) % 30; line > 0; line--) {
			p[n] = alpha[rnd(s) % (sizeof(alpha) - 1)];
			if (bare_lf && rnd(s) % 10 == 0)
				p[n] = '\n';
			/* "\r" then "\n" would be a CRLF, fine either way */
			n++;
		}
		memcpy(p + n, "\r\n", 2);
		n += 2;
	}
	return n;
}

/* The content as rx stores it: every bare LF as CRLF. */
static size_t
normalise(const char *in, size_t len, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = in[i];
	}
	return n;
}

static void
test_round_trip(void)
{
	char in[1200], norm[2400];
	struct smtp_data_tx t;
	struct buf wire;
	struct rx_result r;
	size_t len, nlen, pos, n;
	uint32_t s = 99;
	bool good = true, ended = true;
	int iter;

	for (iter = 0; iter < 2000 && good; iter++) {
		len = random_content(in, sizeof(in), &s, iter % 2 == 1);
		nlen = normalise(in, len, norm);
		buf_init(&wire, BIG);
		smtp_data_tx_init(&t);
		for (pos = 0; pos < len; pos += n) {
			n = 1 + rnd(&s) % 23;
			n = n > len - pos ? len - pos : n;
			if (smtp_data_tx_feed(&t, in + pos, n, &wire) == -1)
				good = false;
		}
		if (smtp_data_tx_finish(&t, &wire) == -1)
			good = false;
		rx_run(&r, wire.data, wire.len, (uint32_t)iter + 2);
		if (!r.d.done || r.consumed != wire.len)
			ended = false;
		if (r.out.len != nlen ||
		    memcmp(buf_str(&r.out), norm, nlen) != 0) {
			good = false;
			diag("iteration %d: round trip differs", iter);
		}
		buf_free(&r.out);
		buf_free(&wire);
	}
	ok(ended, "rx finds the end of every tx output, and nothing after it");
	ok(good, "tx -> rx gives back random CRLF-terminated content "
	    "(bare LFs as CRLF)");
}

/* BDAT: octets as sent, a bare LF made CRLF, whatever the chunking. */
static void
test_rx_raw(void)
{
	static const char in[] = "a\r\n.\r\nb\nc\r\r\nd\r";
	static const char want[] = "a\r\n.\r\nb\r\nc\r\r\nd\r";
	size_t len = sizeof(in) - 1;
	bool all = true;

	for (size_t cut = 0; cut <= len; cut++) {
		struct smtp_data_rx d;
		struct buf out;

		buf_init(&out, BIG);
		smtp_data_rx_init(&d);
		if (smtp_data_rx_raw(&d, in, cut, &out) == -1 ||
		    smtp_data_rx_raw(&d, in + cut, len - cut, &out) == -1 ||
		    out.len != sizeof(want) - 1 ||
		    memcmp(out.data, want, out.len) != 0 || d.bytes != out.len ||
		    !d.bare_lf || d.done)
			all = false;
		buf_free(&out);
	}
	ok(all, "raw (BDAT): any split of two chunks gives the same CRLF text");
	{
		struct smtp_data_rx d;
		struct buf out;

		buf_init(&out, BIG);
		smtp_data_rx_init(&d);
		ok(smtp_data_rx_raw(&d, "x\r", 2, &out) == 0 &&
		    smtp_data_rx_raw(&d, "\ny", 2, &out) == 0 &&
		    out.len == 4 && memcmp(out.data, "x\r\ny", 4) == 0 &&
		    !d.bare_lf, "raw: a CRLF split across chunks stays one CRLF");
		buf_free(&out);
		buf_init(&out, 3);
		smtp_data_rx_init(&d);
		ok(smtp_data_rx_raw(&d, "abcd", 4, &out) == -1 && d.bytes == 0,
		    "raw: over the cap fails and leaves the state as it was");
		buf_free(&out);
	}
}

int
main(void)
{
	test_rx_basic();
	test_rx_smuggling();
	test_rx_line_ends();
	test_rx_splits();
	test_rx_random();
	test_rx_cap();
	test_rx_raw();
	test_tx();
	test_tx_cap();
	test_round_trip();
	return done_testing();
}
