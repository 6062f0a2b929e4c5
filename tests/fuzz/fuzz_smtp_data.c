/*
 * fuzz_smtp_data: fuzz target for smtp_data (DATA receive and send).
 *
 * The whole input is the bytes after a DATA command.  It is received in
 * one feed, one byte at a time, and in chunks whose sizes come from the
 * input itself; the three runs must agree on everything.  Invariants
 * (abort() on violation):
 *  - a feed never consumes more than it was given, and stops early only
 *    at the end marker;
 *  - rx stops exactly after the first CRLF "." CRLF of CRLF + input (the
 *    DATA line's CRLF), and nowhere else;
 *  - bytes == output length; every LF in the output follows a CR;
 *  - bare_lf is set exactly when the consumed input has an LF not
 *    preceded by a CR;
 *  - max_line lies between the longest complete output line and the
 *    longest output segment;
 *  - an output cap failure returns (size_t)-1 and restores the state;
 *  - tx + finish of the output, received again, gives the output back
 *    (plus the CRLF that finish adds to content without one);
 *  - the same bytes as BDAT chunks (raw): see fz_check_raw().
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp_data.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

struct fz_run {
	struct smtp_data_rx	d;
	struct buf		out;
	size_t			consumed;
};

/* Receive in[0..len): mode 0 whole, 1 byte by byte, 2 data-driven. */
static void
fz_rx(struct fz_run *r, const char *in, size_t len, int mode)
{
	size_t n, got, k = 0;

	smtp_data_rx_init(&r->d);
	buf_init(&r->out, 2 * len + 16);
	r->consumed = 0;
	while (r->consumed < len && !r->d.done) {
		n = len - r->consumed;
		if (mode == 1)
			n = 1;
		else if (mode == 2 && n > 1)
			n = 1 + (unsigned char)in[k++ % len] %
			    (n < 64 ? n : 64);
		got = smtp_data_rx_feed(&r->d, in + r->consumed, n, &r->out);
		CHECK(got != (size_t)-1 && got <= n);
		CHECK(got == n || r->d.done);
		r->consumed += got;
	}
	CHECK(r->d.bytes == r->out.len);
}

static void
fz_same(const struct fz_run *a, const struct fz_run *b)
{
	CHECK(a->consumed == b->consumed && a->out.len == b->out.len);
	CHECK(memcmp(buf_str(&a->out), buf_str(&b->out), a->out.len) == 0);
	CHECK(a->d.done == b->d.done && a->d.state == b->d.state);
	CHECK(a->d.line_len == b->d.line_len && a->d.max_line == b->d.max_line);
	CHECK(a->d.bare_lf == b->d.bare_lf && a->d.bytes == b->d.bytes);
}

/* Where rx must stop: after the first CRLF.CRLF of CRLF + in; 0: none. */
static size_t
fz_marker_end(const char *in, size_t len)
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
fz_check_output(const struct fz_run *r, const char *in)
{
	const char *o = buf_str(&r->out);
	size_t i, seg = 0, longest = 0, longest_done = 0;
	bool bare = false;

	for (i = 0; i < r->consumed; i++)
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			bare = true;
	CHECK(bare == r->d.bare_lf);
	for (i = 0; i < r->out.len; i++) {
		if (o[i] == '\n') {
			CHECK(i > 0 && o[i - 1] == '\r');
			seg--;		/* the CR of the CRLF */
			if (seg > longest_done)
				longest_done = seg;
			seg = 0;
			continue;
		}
		if (++seg > longest)
			longest = seg;
	}
	CHECK(r->d.max_line >= longest_done && r->d.max_line <= longest);
}

/* Output over a small cap: either the same result or a clean failure. */
static void
fz_check_cap(const struct fz_run *whole, const char *in, size_t len,
    size_t cap)
{
	struct smtp_data_rx d, fresh;
	struct buf out;
	size_t got;

	smtp_data_rx_init(&d);
	fresh = d;
	buf_init(&out, cap);
	got = smtp_data_rx_feed(&d, in, len, &out);
	if (got == (size_t)-1)
		CHECK(whole->out.len > cap &&
		    memcmp(&d, &fresh, sizeof(d)) == 0);
	else
		CHECK(got == whole->consumed && out.len == whole->out.len);
	buf_free(&out);
}

/* tx + finish, then rx again: the content comes back. */
static void
fz_check_round_trip(const struct fz_run *r)
{
	struct smtp_data_tx t;
	struct buf wire;
	struct fz_run back;
	const char *o = buf_str(&r->out);
	size_t n = r->out.len, half = n / 2;
	bool add_crlf;

	buf_init(&wire, 2 * n + 16);
	smtp_data_tx_init(&t);
	CHECK(smtp_data_tx_feed(&t, o, half, &wire) == 0);
	CHECK(smtp_data_tx_feed(&t, o + half, n - half, &wire) == 0);
	CHECK(smtp_data_tx_finish(&t, &wire) == 0);
	fz_rx(&back, buf_str(&wire), wire.len, 2);
	CHECK(back.d.done && back.consumed == wire.len);
	add_crlf = n > 0 && (n < 2 || memcmp(o + n - 2, "\r\n", 2) != 0);
	CHECK(back.out.len == n + (add_crlf ? 2 : 0));
	CHECK(memcmp(buf_str(&back.out), o, n) == 0);
	CHECK(!add_crlf || memcmp(buf_str(&back.out) + n, "\r\n", 2) == 0);
	buf_free(&back.out);
	buf_free(&wire);
}

/*
 * BDAT chunks (smtp_data_rx_raw): the input in one chunk and in
 * data-driven chunks gives the same output, which is the input with each
 * bare LF made CRLF: every LF follows a CR, and dropping the CRs before
 * the LFs the input did not have gives the input back.
 */
static void
fz_check_raw(const char *in, size_t len)
{
	struct smtp_data_rx a, b;
	struct buf oa, ob;
	size_t off = 0, n, k = 0, i, j;

	smtp_data_rx_init(&a);
	smtp_data_rx_init(&b);
	buf_init(&oa, 2 * len + 16);
	buf_init(&ob, 2 * len + 16);
	CHECK(smtp_data_rx_raw(&a, in, len, &oa) == 0);
	while (off < len) {
		n = 1 + (unsigned char)in[k++ % len] % (len - off < 64 ?
		    len - off : 64);
		CHECK(smtp_data_rx_raw(&b, in + off, n, &ob) == 0);
		off += n;
	}
	CHECK(oa.len == ob.len && memcmp(oa.data, ob.data, oa.len) == 0);
	CHECK(a.bytes == oa.len && b.bytes == ob.len && a.bare_lf == b.bare_lf);
	for (i = j = 0; i < oa.len; i++) {
		if (oa.data[i] == '\n')
			CHECK(i > 0 && oa.data[i - 1] == '\r');
		if (oa.data[i] == '\r' && i + 1 < oa.len &&
		    oa.data[i + 1] == '\n' && j < len && in[j] == '\n')
			continue;	/* the CR added before a bare LF */
		CHECK(j < len && oa.data[i] == in[j]);
		j++;
	}
	CHECK(j == len);
	buf_free(&oa);
	buf_free(&ob);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct fz_run whole, other;
	size_t end;
	int mode;

	fz_rx(&whole, in, size, 0);
	for (mode = 1; mode <= 2; mode++) {
		fz_rx(&other, in, size, mode);
		fz_same(&whole, &other);
		buf_free(&other.out);
	}
	end = fz_marker_end(in, size);
	CHECK(whole.d.done == (end != 0));
	CHECK(whole.consumed == (end != 0 ? end : size));
	fz_check_output(&whole, in);
	if (size > 0)
		fz_check_cap(&whole, in, size, data[0]);
	fz_check_round_trip(&whole);
	buf_free(&whole.out);
	fz_check_raw(in, size);
	return 0;
}
