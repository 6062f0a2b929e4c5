/*
 * smtp_header: find, read and remove header fields in a message's header
 * section (RFC 5322: "Name: value" lines, continuation lines starting
 * with white space).  Pure, on a capped buffer.
 */
#ifndef TERN_SMTP_HEADER_H
#define TERN_SMTP_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * The length of the header section at the start of text[0..len): up to
 * and including the empty line that ends it.  0 when no complete
 * section is there yet (more data needed).
 */
size_t	smtp_header_end(const char *text, size_t len);

/*
 * Look for the first field `name` (case-insensitive) in the header section
 * b->data[0..hdr_len).  Returns true and the unfolded, trimmed value in
 * value[0..size) (cut to fit) when found; with `remove`, every field of
 * that name is cut out of b and *hdr_len shrinks accordingly.
 */
bool	smtp_header_take(struct buf *b, size_t *hdr_len, const char *name,
	    bool remove, char *value, size_t size);

/*
 * The next field `name` (case-insensitive) at or after *off in the header
 * section text[0..hdr_len): true with its raw content in *value and *vlen
 * (everything after the colon, folded lines and white space kept, the
 * field's final line end left out), and *off moved past the field.
 * false when no such field is left.
 */
bool	smtp_header_next(const char *text, size_t hdr_len, const char *name,
	    size_t *off, const char **value, size_t *vlen);

#endif
