/*
 * smtp_data: the message body on the wire (see smtp_data.h).
 *
 * Owns dot-stuffing in both directions and the end-of-data marker.
 *
 * Receiving: a byte-driven state machine that survives any split of the
 * input.  Two kinds of line start are told apart: after a real CRLF (or
 * at the start of the data, which follows the DATA command's CRLF) and
 * after a bare LF.  Only the first kind can begin the end marker, so
 * <LF>.<LF>, <LF>.<CRLF> and <CRLF>.<LF> are content.  Because a bare LF
 * is stored as CRLF, the line after it is a line of the stored message,
 * and a leading dot on it is unstuffed like any other (clients that end
 * lines with LF stuff after LF); a "." alone on such a line is kept.
 * RFC 5321 4.5.2: a leading dot is dropped when other characters follow
 * on the line; a lone "." is the marker (after a real CRLF) or content.
 * Runs of ordinary bytes are appended in one call.
 *
 * If an append fails (out's cap), smtp_data_rx_feed() restores *d to its
 * state before the call and returns (size_t)-1; out may hold part of the
 * call's output.  A caller that wants to swallow the rest of an oversized
 * message can buf_reset(out) and feed the same bytes again.
 *
 * Sending: stuffs a dot at the start of every line and turns a bare LF
 * into CRLF, so that stored content from any source (a pickup file with
 * LF line ends) never puts a bare LF on the wire: strict receivers
 * refuse it, and lenient ones could take "<LF>.<CRLF>" as the end.  A
 * bare CR is sent as is.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "smtp/smtp_data.h"

enum smtp_data_rx_state {
	RX_BOL = 0,	/* line start after a real CRLF (or the DATA line) */
	RX_BOL_LF,	/* line start after a bare LF */
	RX_DOT,		/* RX_BOL, then "." */
	RX_DOT_CR,	/* RX_BOL, then ".\r" */
	RX_DOT_LF,	/* RX_BOL_LF, then "." */
	RX_DOT_LF_CR,	/* RX_BOL_LF, then ".\r" */
	RX_TEXT,	/* inside a line */
	RX_CR,		/* inside a line, just after a CR (already output) */
};

void
smtp_data_rx_init(struct smtp_data_rx *d)
{
	d->state = RX_BOL;
	d->line_len = 0;
	d->max_line = 0;
	d->bytes = 0;
	d->bare_lf = false;
	d->done = false;
}

static int
smtp_data_put(struct smtp_data_rx *d, struct buf *out, const char *p,
    size_t n)
{
	if (buf_append(out, p, n) == -1)
		return -1;
	d->bytes += n;
	return 0;
}

/* Bytes that belong to the current line. */
static int
smtp_data_text(struct smtp_data_rx *d, struct buf *out, const char *p,
    size_t n)
{
	if (smtp_data_put(d, out, p, n) == -1)
		return -1;
	d->line_len += n;
	return 0;
}

static void
smtp_data_eol(struct smtp_data_rx *d)
{
	if (d->line_len > d->max_line)
		d->max_line = d->line_len;
	d->line_len = 0;
}

int
smtp_data_rx_raw(struct smtp_data_rx *d, const char *in, size_t len,
    struct buf *out)
{
	struct smtp_data_rx saved = *d;
	size_t start = 0, i;
	bool cr = d->state == RX_CR;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n') {
			if (!cr) {
				/* a bare LF: the run before it, then CRLF */
				if (smtp_data_put(d, out, in + start,
				    i - start) == -1 ||
				    smtp_data_put(d, out, "\r\n", 2) == -1)
					goto full;
				d->bare_lf = true;
				start = i + 1;
			}
			smtp_data_eol(d);
		} else
			d->line_len++;
		cr = in[i] == '\r';
	}
	if (smtp_data_put(d, out, in + start, len - start) == -1)
		goto full;
	if (len > 0)
		d->state = cr ? RX_CR : RX_TEXT;
	return 0;
full:
	*d = saved;
	return -1;
}

/* A byte inside a line (RX_TEXT, or a state that fell back to it). */
static int
smtp_data_rx_text(struct smtp_data_rx *d, struct buf *out, char c)
{
	if (c == '\r') {
		d->state = RX_CR;
		return smtp_data_put(d, out, "\r", 1);
	}
	if (c == '\n') {
		d->bare_lf = true;
		d->state = RX_BOL_LF;
		smtp_data_eol(d);
		return smtp_data_put(d, out, "\r\n", 2);
	}
	d->state = RX_TEXT;
	return smtp_data_text(d, out, &c, 1);
}

/* After ".": "\r" waits, "\n" ends a "." line, anything else unstuffs. */
static int
smtp_data_rx_dot(struct smtp_data_rx *d, struct buf *out, char c)
{
	if (c == '\r') {
		d->state = d->state == RX_DOT ? RX_DOT_CR : RX_DOT_LF_CR;
		return 0;
	}
	if (c == '\n') {
		if (smtp_data_text(d, out, ".", 1) == -1)
			return -1;
		return smtp_data_rx_text(d, out, c);
	}
	return smtp_data_rx_text(d, out, c);
}

/* After ".\r": "\n" is the end marker or a kept "." line. */
static int
smtp_data_rx_dot_cr(struct smtp_data_rx *d, struct buf *out, char c)
{
	if (c == '\n' && d->state == RX_DOT_CR) {
		d->done = true;
		return 0;
	}
	if (c == '\n') {
		if (smtp_data_put(d, out, ".\r\n", 3) == -1)
			return -1;
		d->line_len = 1;
		smtp_data_eol(d);
		d->state = RX_BOL;
		return 0;
	}
	/* ".\rX": the dot is stuffing; the CR was a bare one. */
	if (smtp_data_text(d, out, "\r", 1) == -1)
		return -1;
	return smtp_data_rx_text(d, out, c);
}

static int
smtp_data_rx_byte(struct smtp_data_rx *d, struct buf *out, char c)
{
	switch (d->state) {
	case RX_BOL:
	case RX_BOL_LF:
		if (c != '.')
			return smtp_data_rx_text(d, out, c);
		d->state = d->state == RX_BOL ? RX_DOT : RX_DOT_LF;
		return 0;
	case RX_DOT:
	case RX_DOT_LF:
		return smtp_data_rx_dot(d, out, c);
	case RX_DOT_CR:
	case RX_DOT_LF_CR:
		return smtp_data_rx_dot_cr(d, out, c);
	case RX_CR:
		if (c == '\n') {
			smtp_data_eol(d);
			d->state = RX_BOL;
			return smtp_data_put(d, out, "\n", 1);
		}
		d->line_len++;		/* the CR was a bare one */
		return smtp_data_rx_text(d, out, c);
	default:
		return smtp_data_rx_text(d, out, c);
	}
}

size_t
smtp_data_rx_feed(struct smtp_data_rx *d, const char *in, size_t len,
    struct buf *out)
{
	struct smtp_data_rx saved = *d;
	size_t i = 0, n;

	while (i < len && !d->done) {
		if (d->state == RX_TEXT) {
			n = i;
			while (n < len && in[n] != '\r' && in[n] != '\n')
				n++;
			if (n > i) {
				if (smtp_data_text(d, out, in + i, n - i) == -1)
					goto fail;
				i = n;
				continue;
			}
		}
		if (smtp_data_rx_byte(d, out, in[i++]) == -1)
			goto fail;
	}
	if (d->line_len > d->max_line)
		d->max_line = d->line_len;
	return i;
fail:
	*d = saved;
	return (size_t)-1;
}

void
smtp_data_tx_init(struct smtp_data_tx *t)
{
	t->at_line_start = true;
	t->after_cr = false;
}

int
smtp_data_tx_feed(struct smtp_data_tx *t, const char *in, size_t len,
    struct buf *out)
{
	size_t i, span = 0;
	char c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if ((c == '.' && t->at_line_start) ||
		    (c == '\n' && !t->after_cr)) {
			if (buf_append(out, in + span, i - span) == -1 ||
			    buf_append(out, c == '.' ? "." : "\r", 1) == -1)
				return -1;
			span = i;
		}
		t->at_line_start = c == '\n';
		t->after_cr = c == '\r';
	}
	return buf_append(out, in + span, len - span);
}

int
smtp_data_tx_finish(struct smtp_data_tx *t, struct buf *out)
{
	int rc;

	if (t->at_line_start)
		rc = buf_append(out, ".\r\n", 3);
	else
		rc = buf_append(out, "\r\n.\r\n", 5);
	if (rc == 0) {
		t->at_line_start = true;
		t->after_cr = false;
	}
	return rc;
}
