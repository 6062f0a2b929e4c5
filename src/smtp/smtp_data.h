/*
 * smtp_data: the message body on the wire.  Pure, incremental, no I/O.
 *
 * Receiving (server side, smtp_data_rx): removes dot-stuffing and finds
 * the end-of-data marker.  The marker is ONLY <CRLF>.<CRLF> (the "."
 * line must follow a real CRLF and be ended by one); anything else, such
 * as <LF>.<LF> or <LF>.<CRLF>, is message content (no SMTP smuggling).
 * A bare LF inside the body is stored as CRLF; a bare CR is kept as is.
 * The output therefore always has CRLF line ends.
 *
 * Sending (client side, smtp_data_tx): dot-stuffs stored content (CRLF
 * line ends) and appends the end marker.
 */
#ifndef TERN_SMTP_DATA_H
#define TERN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct smtp_data_rx {
	int	state;		/* private */
	size_t	line_len;	/* length of the current line so far */
	size_t	max_line;	/* longest line seen, CRLF excluded */
	size_t	bytes;		/* bytes written to the output */
	bool	bare_lf;	/* a bare LF was seen (and stored as CRLF) */
	bool	done;		/* the end marker was seen */
};

void	smtp_data_rx_init(struct smtp_data_rx *d);
/*
 * Consume in[0..len): append the unstuffed content to out, stop right
 * after the end marker (then d->done is set).  Returns the number of
 * input bytes consumed; fewer than len only when done (what follows is
 * the next pipelined command).  Returns (size_t)-1 if an append to out
 * failed (out's cap was reached): the caller rejects the message.
 */
size_t	smtp_data_rx_feed(struct smtp_data_rx *d, const char *in, size_t len,
	    struct buf *out);

/*
 * BDAT (RFC 3030): append a chunk's octets in[0..len) to out as they
 * are, except that a bare LF becomes CRLF (the stored format of DATA);
 * a CR at the end of one chunk and an LF at the start of the next are
 * one CRLF.  d->bytes counts the output; d->done is left to the caller.
 * 0, or -1 when out is full (d is then as before the call).
 */
int	smtp_data_rx_raw(struct smtp_data_rx *d, const char *in, size_t len,
	    struct buf *out);

struct smtp_data_tx {
	bool	at_line_start;
	bool	after_cr;
};

void	smtp_data_tx_init(struct smtp_data_tx *t);
/* Append in[0..len) dot-stuffed to out.  0, or -1 when out is full. */
int	smtp_data_tx_feed(struct smtp_data_tx *t, const char *in, size_t len,
	    struct buf *out);
/* Append the end marker (".\r\n", preceded by CRLF when the content did
 * not end with one).  0, or -1 when out is full. */
int	smtp_data_tx_finish(struct smtp_data_tx *t, struct buf *out);

#endif
