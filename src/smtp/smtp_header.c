/*
 * smtp_header: header fields of a message (see smtp_header.h).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_header.h"

size_t
smtp_header_end(const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	/* an empty header section: the body starts at once */
	if (len >= 2 && text[0] == '\r' && text[1] == '\n')
		return 2;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return 0;
		p = nl + 1;
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			return (size_t)(p + 2 - text);
	}
	return 0;
}

/* Length of the field starting at p (its continuation lines included). */
static size_t
smtp_header_field_len(const char *p, const char *end)
{
	const char *q = p;

	for (;;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));

		if (nl == NULL)
			return (size_t)(end - p);
		q = nl + 1;
		if (q >= end || (*q != ' ' && *q != '\t'))
			return (size_t)(q - p);
	}
}

/* Copy the value of a field (after "name:") unfolded and trimmed. */
static void
smtp_header_value(const char *v, const char *end, char *out, size_t size)
{
	size_t n = 0;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	for (; v < end && n + 1 < size; v++) {
		if (*v == '\r' || *v == '\n')
			continue;
		out[n++] = *v == '\t' ? ' ' : *v;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

bool
smtp_header_take(struct buf *b, size_t *hdr_len, const char *name,
    bool remove, char *value, size_t size)
{
	size_t nlen = strlen(name), off = 0;
	bool found = false;

	while (off < *hdr_len) {
		const char *p = b->data + off, *end = b->data + *hdr_len;
		size_t flen = smtp_header_field_len(p, end);

		if (flen > nlen && strncasecmp(p, name, nlen) == 0 &&
		    p[nlen] == ':') {
			if (!found && size > 0)
				smtp_header_value(p + nlen + 1, p + flen, value, size);
			found = true;
			if (remove) {
				memmove(b->data + off, b->data + off + flen,
				    b->len - off - flen);
				b->len -= flen;
				b->data[b->len] = '\0';
				*hdr_len -= flen;
				continue;
			}
		}
		off += flen;
	}
	return found;
}

bool
smtp_header_next(const char *text, size_t hdr_len, const char *name,
    size_t *off, const char **value, size_t *vlen)
{
	size_t nlen = strlen(name);

	while (*off < hdr_len) {
		const char *p = text + *off;
		size_t flen = smtp_header_field_len(p, text + hdr_len);

		*off += flen;
		if (flen <= nlen || strncasecmp(p, name, nlen) != 0 ||
		    p[nlen] != ':')
			continue;
		*value = p + nlen + 1;
		*vlen = flen - nlen - 1;
		if (*vlen > 0 && (*value)[*vlen - 1] == '\n')
			(*vlen)--;
		if (*vlen > 0 && (*value)[*vlen - 1] == '\r')
			(*vlen)--;
		return true;
	}
	return false;
}
