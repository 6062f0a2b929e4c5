/*
 * smtp_merge: mailmerge variables, XDFN arguments, *parts lists,
 * template expansion, VERP (see smtp_merge.h).
 *
 * A variable set is one capped buffer of "name\0value\0" pairs plus an
 * index of where each name starts, so that a set can be written to a
 * file as its buffer and read back with smtp_merge_vars_load().  Lookups
 * walk the index backwards, so the last definition of a name wins.
 *
 * The expander is a small state machine (text, '[' seen, inside a name)
 * so that a template can be fed in pieces of any size; its output is
 * the same whatever the pieces (the fuzz target checks it).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_addr.h"
#include "smtp/smtp_merge.h"

enum {
	SMTP_MERGE_TEXT,	/* copying text */
	SMTP_MERGE_OPEN,	/* after '[' */
	SMTP_MERGE_IN_NAME,	/* after '[' and the start of a name */
};

/* The reserved names; *to and *date are set by the server only. */
static const char *const smtp_merge_reserved[] = {
	"*from", "*envid", "*vmta", "*jobid", "*parts", "*priority",
	"*schedule", "*subaccountid", "*custommessageid", "*to", "*date",
};

#define SMTP_MERGE_NRESERVED \
	(sizeof(smtp_merge_reserved) / sizeof(smtp_merge_reserved[0]))

static bool
smtp_merge_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
smtp_merge_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
smtp_merge_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* a[0..n) and the string b, ignoring ASCII case */
static bool
smtp_merge_name_eq(const char *a, size_t n, const char *b)
{
	return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

/* --- variable sets --- */

void
smtp_merge_vars_init(struct smtp_merge_vars *v)
{
	buf_init(&v->data, SMTP_MERGE_SET_MAX);
	v->n = 0;
}

void
smtp_merge_vars_free(struct smtp_merge_vars *v)
{
	buf_free(&v->data);
	v->n = 0;
}

void
smtp_merge_vars_reset(struct smtp_merge_vars *v)
{
	buf_reset(&v->data);
	v->n = 0;
}

int
smtp_merge_vars_set(struct smtp_merge_vars *v, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	size_t start = v->data.len;

	if (v->n >= SMTP_MERGE_VARS_MAX ||
	    nlen + vlen + 2 > v->data.max - v->data.len ||
	    memchr(name, '\0', nlen) != NULL || memchr(value, '\0', vlen) != NULL)
		return -1;
	if (buf_append(&v->data, name, nlen) == -1 ||
	    buf_append(&v->data, "", 1) == -1 ||
	    buf_append(&v->data, value, vlen) == -1 ||
	    buf_append(&v->data, "", 1) == -1) {
		v->data.len = start;	/* cannot happen: room was checked */
		v->data.err = false;
		return -1;
	}
	v->off[v->n++] = (uint32_t)start;
	return 0;
}

void
smtp_merge_vars_truncate(struct smtp_merge_vars *v, size_t n)
{
	if (n >= v->n)
		return;
	v->data.len = v->off[n];
	v->data.data[v->data.len] = '\0';
	v->n = n;
}

const char *
smtp_merge_vars_get(const struct smtp_merge_vars *v, const char *name,
    size_t nlen, size_t *vlen_r)
{
	const char *n, *val;
	size_t i = v->n;

	while (i-- > 0) {
		n = v->data.data + v->off[i];
		if (!smtp_merge_name_eq(name, nlen, n))
			continue;
		val = n + nlen + 1;
		if (vlen_r != NULL)
			*vlen_r = strlen(val);
		return val;
	}
	return NULL;
}

int
smtp_merge_vars_load(struct smtp_merge_vars *v, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nul;

	smtp_merge_vars_reset(v);
	while (p < end) {
		const char *name = p, *value;
		size_t nlen;

		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL)
			goto bad;
		nlen = (size_t)(nul - name);
		value = nul + 1;
		if (value >= end ||
		    (nul = memchr(value, '\0', (size_t)(end - value))) == NULL)
			goto bad;
		if (!smtp_merge_name_valid(name, nlen) ||
		    smtp_merge_vars_set(v, name, nlen, value,
		    (size_t)(nul - value)) == -1)
			goto bad;
		p = nul + 1;
	}
	return 0;
bad:
	smtp_merge_vars_reset(v);
	return -1;
}

/* --- names --- */

static bool
smtp_merge_name_char(char c)
{
	return smtp_merge_is_alpha(c) || smtp_merge_is_digit(c) || c == '_';
}

/* A name's shape: a letter then letters, digits, '_'; or '*' and that. */
static bool
smtp_merge_name_shape(const char *name, size_t len)
{
	size_t i = 0;

	if (len > 0 && name[0] == '*')
		i = 1;
	if (len <= i || len > SMTP_MERGE_NAME_MAX || !smtp_merge_is_alpha(name[i]))
		return false;
	for (i++; i < len; i++)
		if (!smtp_merge_name_char(name[i]))
			return false;
	return true;
}

static bool
smtp_merge_reserved_known(const char *name, size_t len)
{
	for (size_t i = 0; i < SMTP_MERGE_NRESERVED; i++)
		if (smtp_merge_name_eq(name, len, smtp_merge_reserved[i]))
			return true;
	return false;
}

bool
smtp_merge_name_valid(const char *name, size_t len)
{
	if (!smtp_merge_name_shape(name, len))
		return false;
	return name[0] != '*' || smtp_merge_reserved_known(name, len);
}

/* --- XDFN --- */

static int
smtp_merge_error(const char **error_r, const char *msg)
{
	if (error_r != NULL)
		*error_r = msg;
	return -1;
}

/* *priority: 1..100 */
static bool
smtp_merge_priority_valid(const char *s, size_t len)
{
	int n = 0;

	if (len == 0 || len > 3)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!smtp_merge_is_digit(s[i]))
			return false;
		n = n * 10 + (s[i] - '0');
	}
	return n >= 1 && n <= 100;
}

/* Check (and for *from normalise) a reserved value, then store it. */
static int
smtp_merge_define(struct smtp_merge_vars *v, const char *name, size_t nlen,
    const char *val, size_t vlen, const char **error_r)
{
	unsigned char list[SMTP_MERGE_LIST_MAX];
	struct smtp_addr a;
	size_t used, n;

	if (smtp_merge_name_eq(name, nlen, "*to") ||
	    smtp_merge_name_eq(name, nlen, "*date"))
		return 0;	/* automatic: the server's value wins */
	if (smtp_merge_name_eq(name, nlen, "*from")) {
		if (smtp_addr_parse(val, vlen, SMTP_ADDR_ALLOW_NULL |
		    SMTP_ADDR_ALLOW_BARE, &a, &used, error_r) == -1 ||
		    used != vlen)
			return smtp_merge_error(error_r, "bad *from address");
		val = a.addr;
		vlen = a.len;
	} else if (smtp_merge_name_eq(name, nlen, "*parts") &&
	    smtp_merge_parts(val, vlen, list, sizeof(list), &n) == -1)
		return smtp_merge_error(error_r, "bad *parts list");
	else if (smtp_merge_name_eq(name, nlen, "*priority") &&
	    !smtp_merge_priority_valid(val, vlen))
		return smtp_merge_error(error_r, "*priority must be 1 to 100");
	if (smtp_merge_vars_set(v, name, nlen, val, vlen) == -1)
		return smtp_merge_error(error_r, "too many variables");
	return 0;
}

/* The value at s[*i..len): quoted or a run of non-blanks; moves *i. */
static int
smtp_merge_value(const char *s, size_t len, size_t *i, const char **val,
    size_t *vlen, const char **error_r)
{
	size_t j = *i;

	if (j < len && s[j] == '"') {
		for (j++; j < len; j++)
			if (s[j] == '"' && (j + 1 == len ||
			    smtp_merge_is_blank(s[j + 1])))
				break;
		if (j == len)
			return smtp_merge_error(error_r, "unterminated quoted value");
		*val = s + *i + 1;
		*vlen = j - *i - 1;
		*i = j + 1;
		return 0;
	}
	while (j < len && !smtp_merge_is_blank(s[j]))
		j++;
	*val = s + *i;
	*vlen = j - *i;
	*i = j;
	return 0;
}

int
smtp_merge_xdfn(const char *arg, size_t len, struct smtp_merge_vars *v,
    const char **error_r)
{
	size_t i = 0, start, nlen, vlen, keep_n = v->n;
	const char *name, *val;

	if (memchr(arg, '\0', len) != NULL)
		return smtp_merge_error(error_r, "NUL character in XDFN");
	for (;;) {
		while (i < len && smtp_merge_is_blank(arg[i]))
			i++;
		if (i == len)
			return 0;
		start = i;
		while (i < len && arg[i] != '=' && !smtp_merge_is_blank(arg[i]))
			i++;
		name = arg + start;
		nlen = i - start;
		if (i == len || arg[i] != '=') {
			smtp_merge_error(error_r, "expected name=value");
			break;
		}
		if (!smtp_merge_name_shape(name, nlen)) {
			smtp_merge_error(error_r, "bad variable name");
			break;
		}
		if (!smtp_merge_name_valid(name, nlen)) {
			smtp_merge_error(error_r, "unknown reserved variable");
			break;
		}
		i++;
		if (smtp_merge_value(arg, len, &i, &val, &vlen, error_r) == -1 ||
		    smtp_merge_define(v, name, nlen, val, vlen, error_r) == -1)
			break;
	}
	smtp_merge_vars_truncate(v, keep_n);	/* the line's definitions go */
	return -1;
}

/* --- *parts --- */

/* A part number at s[*i..len), skipping blanks around it. */
static int
smtp_merge_part_number(const char *s, size_t len, size_t *i)
{
	int n = 0, digits = 0;

	while (*i < len && smtp_merge_is_blank(s[*i]))
		(*i)++;
	while (*i < len && smtp_merge_is_digit(s[*i])) {
		if (++digits > 3)
			return -1;
		n = n * 10 + (s[(*i)++] - '0');
	}
	while (*i < len && smtp_merge_is_blank(s[*i]))
		(*i)++;
	return digits == 0 || n < 1 || n > SMTP_MERGE_PART_MAX ? -1 : n;
}

int
smtp_merge_parts(const char *s, size_t len, unsigned char *list, size_t max,
    size_t *n_r)
{
	size_t i = 0, n = 0;
	int lo, hi;

	*n_r = 0;
	for (;;) {
		if ((lo = smtp_merge_part_number(s, len, &i)) == -1)
			return -1;
		hi = lo;
		if (i < len && s[i] == '-') {
			i++;
			if ((hi = smtp_merge_part_number(s, len, &i)) == -1 ||
			    hi < lo)
				return -1;
		}
		if ((size_t)(hi - lo) >= max - n)
			return -1;
		for (int p = lo; p <= hi; p++)
			list[n++] = (unsigned char)p;
		if (i == len || s[i] != ',')
			break;
		i++;
	}
	if (i != len)
		return -1;
	*n_r = n;
	return 0;
}

/* --- expansion --- */

void
smtp_merge_expand_init(struct smtp_merge_expand *x,
    const struct smtp_merge_vars *automatic,
    const struct smtp_merge_vars *vars, bool keep_undefined)
{
	x->automatic = automatic;
	x->vars = vars;
	x->keep_undefined = keep_undefined;
	x->state = SMTP_MERGE_TEXT;
	x->nlen = 0;
}

/* A tag was closed: its value, or what an undefined one becomes. */
static int
smtp_merge_tag(struct smtp_merge_expand *x, struct buf *out)
{
	const char *val;
	size_t vlen;

	if (!smtp_merge_name_valid(x->name, x->nlen))
		goto literal;
	val = x->automatic != NULL ?
	    smtp_merge_vars_get(x->automatic, x->name, x->nlen, &vlen) : NULL;
	if (val == NULL && x->vars != NULL)
		val = smtp_merge_vars_get(x->vars, x->name, x->nlen, &vlen);
	if (val != NULL)
		return buf_append(out, val, vlen);
	if (!x->keep_undefined)
		return 0;
literal:
	if (buf_append(out, "[", 1) == -1 ||
	    buf_append(out, x->name, x->nlen) == -1)
		return -1;
	return buf_append(out, "]", 1);
}

/* An unfinished tag turns out to be text: copy what was held. */
static int
smtp_merge_unhold(struct smtp_merge_expand *x, struct buf *out)
{
	int r = buf_append(out, "[", 1);

	if (r == 0 && x->state == SMTP_MERGE_IN_NAME)
		r = buf_append(out, x->name, x->nlen);
	x->state = SMTP_MERGE_TEXT;
	x->nlen = 0;
	return r;
}

/* One byte in a tag context; false when it must be read again as text. */
static bool
smtp_merge_tag_byte(struct smtp_merge_expand *x, char c, struct buf *out,
    int *err)
{
	if (x->state == SMTP_MERGE_OPEN) {
		if (c == '[') {		/* "[[": a literal '[' */
			*err = buf_append(out, "[", 1);
			x->state = SMTP_MERGE_TEXT;
			return true;
		}
		if (smtp_merge_is_alpha(c) || c == '*') {
			x->name[0] = c;
			x->nlen = 1;
			x->state = SMTP_MERGE_IN_NAME;
			return true;
		}
	} else if (c == ']') {
		*err = smtp_merge_tag(x, out);
		x->state = SMTP_MERGE_TEXT;
		x->nlen = 0;
		return true;
	} else if (smtp_merge_name_char(c) && x->nlen < SMTP_MERGE_NAME_MAX) {
		x->name[x->nlen++] = c;
		return true;
	}
	*err = smtp_merge_unhold(x, out);
	return false;
}

size_t
smtp_merge_expand_feed(struct smtp_merge_expand *x, const char *in, size_t len,
    struct buf *out, size_t limit)
{
	size_t i = 0, run;
	const char *br;
	int err = 0;

	while (i < len && out->len < limit) {
		if (x->state != SMTP_MERGE_TEXT) {
			if (smtp_merge_tag_byte(x, in[i], out, &err))
				i++;
			if (err == -1)
				return (size_t)-1;
			continue;
		}
		br = memchr(in + i, '[', len - i);
		run = br != NULL ? (size_t)(br - (in + i)) : len - i;
		if (run > limit - out->len)
			run = limit - out->len;
		if (buf_append(out, in + i, run) == -1)
			return (size_t)-1;
		i += run;
		if (br != NULL && i == (size_t)(br - in)) {
			x->state = SMTP_MERGE_OPEN;
			i++;
		}
	}
	return i;
}

int
smtp_merge_expand_end(struct smtp_merge_expand *x, struct buf *out)
{
	if (x->state == SMTP_MERGE_TEXT)
		return 0;
	return smtp_merge_unhold(x, out);
}

/* --- VERP --- */

int
smtp_merge_verp(const char *sender, const char *rcpt, char *out, size_t size)
{
	const char *sat = strrchr(sender, '@'), *rat = strrchr(rcpt, '@');
	int n;

	if (sender[0] == '\0' || sat == NULL || rat == NULL)
		n = snprintf(out, size, "%s", sender);
	else
		n = snprintf(out, size, "%.*s-%.*s=%s%s", (int)(sat - sender),
		    sender, (int)(rat - rcpt), rcpt, rat + 1, sat);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
