/*
 * conf_value: typed directive values (see conf_value.h).
 *
 * Owns: the memory hanging off a struct conf_value (strings, lists,
 * host lists); conf_value_free() releases it and leaves a zeroed struct.
 * No global state apart from one thread-local buffer that holds the text
 * of the last error reason (valid until the next call in that thread).
 *
 * Strategy: the arguments of a line are first checked for their count
 * (single-value types take exactly one word, list types one or more,
 * FLAG none), then parsed by one small function per type into a scratch
 * value that replaces *v only on success, so a failed parse never leaves
 * a half-built value behind.  A CONF_F_REPEAT directive is parsed the
 * same way for validation only; what it keeps is the line's words joined
 * by one space, appended to v->u.list, and v->type is then CONF_T_WORDS
 * (the representation), so that copy and free, which see no directive,
 * know the layout.
 *
 * Spellings (PowerMTA's, pmta-reference.md §1.2-1.4): times are
 * [0-9]+[wdhms] pieces concatenated, or one bare number of seconds;
 * sizes a number with an optional b/k/m/g/t suffix (k = 1024); rates
 * N/[M]unit with unit d, day, h, hr, hour, m, min, s or sec; units, yes/
 * no/true/false, "unlimited" and "never" in any case.  "0" is unlimited
 * for a rate or data rate that accepts "unlimited" (open question Q19).
 * "unlimited" and "never" are taken only where the directive's flags
 * say so; the number beside them is then 0.  A lone "" clears a list
 * (host list, words, address and domain lists, a repeated directive).
 *
 * Formatting is show-settings style: the largest exact units ("4d12h",
 * "10m", "0" for no time, no weeks), "500/h" or "83/10m", "10M" or plain
 * bytes, yes/no; a word that would not read back (empty, blanks, '#',
 * '"') in double quotes.  A NULL or unset value prints the default.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_value.h"
#include "conf/conf_value_private.h"
#include "lib/addr.h"
#include "lib/xmalloc.h"

_Thread_local char conf_value_errbuf[CONF_ERRBUF_SIZE];

/* "what \"value\"" in the error buffer; the value is cut and made printable. */
const char *
conf_value_err(const char *what, const char *s)
{
	char shown[CONF_ITEM_MAX + 1];
	size_t i;

	for (i = 0; s[i] != '\0' && i < CONF_ITEM_MAX; i++)
		shown[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	shown[i] = '\0';
	(void)snprintf(conf_value_errbuf, sizeof(conf_value_errbuf),
	    "%s \"%s%s\"", what, shown, s[i] != '\0' ? "..." : "");
	return conf_value_errbuf;
}

/* Leading decimal digits of *sp, without sign; advances *sp. */
int
conf_digits(const char **sp, long long *out)
{
	const char *s = *sp;
	long long v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		int d = *s - '0';

		if (v > (LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

/* *acc += n * mult, or -1 on overflow. */
int
conf_mul_add(long long *acc, long long n, long long mult)
{
	long long part;

	if (__builtin_mul_overflow(n, mult, &part) ||
	    __builtin_add_overflow(*acc, part, acc))
		return -1;
	return 0;
}

bool
conf_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The line's words joined by sep, or NULL (value too long). */
char *
conf_join(char *const *args, size_t nargs, const char *sep,
    const char **error_r)
{
	struct buf b;

	buf_init(&b, CONF_VALUE_MAX);
	for (size_t i = 0; i < nargs; i++) {
		if (i > 0)
			(void)buf_puts(&b, sep);
		(void)buf_puts(&b, args[i]);
	}
	if (b.err) {
		buf_free(&b);
		*error_r = "value too long";
		return NULL;
	}
	return buf_take(&b);
}

void
conf_list_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

static void
conf_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Split s into items at ',' (blanks around it allowed) and, when
 * space_sep, at blanks alone; empty items are errors.  Each item must
 * pass valid(); what names it in errors.
 */
static int
conf_list_split(const char *p, bool space_sep, bool (*valid)(const char *),
    const char *what, struct conf_value *v, const char **error_r)
{
	bool need = true;
	char *item;
	size_t len;

	for (;;) {
		while (conf_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p == ',') {
			if (need)
				goto empty;
			need = true;
			p++;
			continue;
		}
		if (!need && !space_sep) {
			*error_r = conf_value_err("expected ',' before", p);
			return -1;
		}
		if (v->u.list.n == CONF_LIST_MAX) {
			*error_r = "too many entries";
			return -1;
		}
		len = strcspn(p, " \t,");
		item = xstrndup(p, len);
		conf_list_push(&v->u.list.v, &v->u.list.n, item);
		if (!valid(item)) {
			*error_r = conf_value_err(what, item);
			return -1;
		}
		need = false;
		p += len;
	}
	if (!need || v->u.list.n == 0)
		return 0;
empty:
	*error_r = "empty entry in list";
	return -1;
}

static int
conf_value_list(const struct conf_directive *d, char *const *args,
    size_t nargs, struct conf_value *v, const char **error_r)
{
	char *s;
	int rc;

	if (nargs == 1 && args[0][0] == '\0')
		return 0;		/* "" clears an inherited list */
	if ((s = conf_join(args, nargs, " ", error_r)) == NULL)
		return -1;
	if (d->type == CONF_T_EMAIL_LIST)
		rc = conf_list_split(s, false, conf_email_valid,
		    "invalid address", v, error_r);
	else
		rc = conf_list_split(s, true, conf_domain_pattern_valid,
		    "invalid domain pattern", v, error_r);
	free(s);
	return rc;
}

static int
conf_value_words(const struct conf_directive *d, char *const *args,
    size_t nargs, struct conf_value *v, const char **error_r)
{
	if (nargs > CONF_LIST_MAX) {
		*error_r = "too many arguments";
		return -1;
	}
	if (d->type == CONF_T_WORDS && nargs == 1 && args[0][0] == '\0')
		return 0;		/* "" clears an inherited list */
	for (size_t i = 0; i < nargs; i++)
		conf_list_push(&v->u.list.v, &v->u.list.n, xstrdup(args[i]));
	return 0;
}

/* ---- single values ---- */

static int
conf_value_range(const struct conf_directive *d, long long x,
    const char **error_r)
{
	struct buf lo, hi;

	if ((d->min == 0 && d->max == 0) || (x >= d->min && x <= d->max))
		return 0;
	buf_init(&lo, 64);
	buf_init(&hi, 64);
	if (d->type == CONF_T_TIME || d->type == CONF_T_TIME_LIST ||
	    d->type == CONF_T_BOOL_OR_TIME) {
		conf_format_time(d->min, &lo);
		conf_format_time(d->max, &hi);
	} else if (d->type == CONF_T_SIZE) {
		conf_format_size(d->min, &lo);
		conf_format_size(d->max, &hi);
	} else {
		(void)buf_printf(&lo, "%lld", d->min);
		(void)buf_printf(&hi, "%lld", d->max);
	}
	(void)snprintf(conf_value_errbuf, sizeof(conf_value_errbuf),
	    "value out of range %s..%s", buf_str(&lo), buf_str(&hi));
	buf_free(&lo);
	buf_free(&hi);
	*error_r = conf_value_errbuf;
	return -1;
}

/* "unlimited", "never" and a rate's "0" where the directive takes them;
 * true when s was one of them. */
static bool
conf_value_special(const struct conf_directive *d, const char *s,
    struct conf_value *v)
{
	bool rate = d->type == CONF_T_RATE || d->type == CONF_T_DATA_RATE;

	switch (d->type) {
	case CONF_T_INT: case CONF_T_TIME: case CONF_T_TIME_LIST:
	case CONF_T_SIZE: case CONF_T_RATE: case CONF_T_DATA_RATE:
	case CONF_T_DAILY: case CONF_T_BOOL_OR_TIME:
		break;
	default:
		return false;
	}
	if ((d->flags & CONF_F_UNLIMITED) && (strcasecmp(s, "unlimited") == 0 ||
	    (rate && strcmp(s, "0") == 0))) {
		v->unlimited = true;
		if (rate)
			v->u.rate.per = 1;
		return true;
	}
	if ((d->flags & CONF_F_NEVER) && strcasecmp(s, "never") == 0) {
		v->never = true;
		return true;
	}
	return false;
}

static int
conf_value_int(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	const char *p = s + (s[0] == '-');
	long long n;

	if (conf_digits(&p, &n) == -1 || *p != '\0') {
		*error_r = conf_value_err("invalid number", s);
		return -1;
	}
	if (s[0] == '-') {
		n = -n;
		if (d->min == 0 && d->max == 0) {
			*error_r = conf_value_err("negative number", s);
			return -1;
		}
	}
	if (conf_value_range(d, n, error_r) == -1)
		return -1;
	v->u.i = n;
	return 0;
}

static int
conf_value_time(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	if (conf_parse_time(s, &v->u.i) == -1) {
		*error_r = conf_value_err("invalid time interval", s);
		return -1;
	}
	return conf_value_range(d, v->u.i, error_r);
}

static int
conf_value_size(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	if (conf_parse_size(s, &v->u.i) == -1) {
		*error_r = conf_value_err("invalid size", s);
		return -1;
	}
	return conf_value_range(d, v->u.i, error_r);
}

/* A comma list of times (TIME_LIST) or of N/d (DAILY) into v->u.nums. */
static int
conf_value_nums(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	bool daily = d->type == CONF_T_DAILY;
	size_t max = daily ? CONF_DAILY_MAX : CONF_TIME_LIST_MAX;
	const char *p = s, *comma;
	char item[CONF_ITEM_MAX];
	long long n;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof(item))
			goto bad;
		memcpy(item, p, len);
		item[len] = '\0';
		if ((daily ? conf_parse_daily(item, &n) :
		    conf_parse_time(item, &n)) == -1)
			goto bad;
		if (!daily && conf_value_range(d, n, error_r) == -1)
			return -1;
		if (v->u.nums.n == max) {
			*error_r = daily ? "too many days (at most 366)" :
			    "too many intervals (at most 30)";
			return -1;
		}
		v->u.nums.v = xreallocarray(v->u.nums.v, v->u.nums.n + 1,
		    sizeof(*v->u.nums.v));
		v->u.nums.v[v->u.nums.n++] = n;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
bad:
	*error_r = conf_value_err(daily ? "invalid daily limit list" :
	    "invalid time interval list", s);
	return -1;
}

static int
conf_value_rate(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	if (d->type == CONF_T_RATE ? conf_parse_rate(s, &v->u.rate) == -1 :
	    conf_parse_data_rate(s, &v->u.rate) == -1) {
		*error_r = conf_value_err(d->type == CONF_T_RATE ?
		    "invalid rate" : "invalid data rate", s);
		return -1;
	}
	return 0;
}

/* The choice of d->choices ('|'-separated) that s names, any case. */
static const char *
conf_choice(const struct conf_directive *d, const char *s, size_t *len)
{
	const char *c = d->choices != NULL ? d->choices : "";

	while (*c != '\0') {
		*len = strcspn(c, "|");
		if (*len > 0 && strlen(s) == *len && strncasecmp(c, s, *len) == 0)
			return c;
		c += *len + (c[*len] == '|');
	}
	return NULL;
}

static int
conf_value_enum(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	const char *c;
	size_t len;

	if ((c = conf_choice(d, s, &len)) != NULL) {
		v->u.s = xstrndup(c, len);
		return 0;
	}
	(void)snprintf(conf_value_errbuf, sizeof(conf_value_errbuf),
	    "expected %sone of %s", d->type == CONF_T_BOOL_OR_ENUM ?
	    "yes, no, true, false or " : "",
	    d->choices != NULL ? d->choices : "");
	*error_r = conf_value_errbuf;
	return -1;
}

static int
conf_value_bool_or(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	if (conf_parse_bool(s, &v->u.b) == 0) {
		v->is_bool = true;
		return 0;
	}
	if (d->type == CONF_T_BOOL_OR_ENUM)
		return conf_value_enum(d, s, v, error_r);
	if (conf_parse_time(s, &v->u.i) == -1) {
		*error_r = conf_value_err(
		    "expected yes, no, true, false or a time interval, not", s);
		return -1;
	}
	return conf_value_range(d, v->u.i, error_r);
}

/* STRING, PATH, EMAIL, CIDR, DOMAIN, REGEX: checked, kept as written. */
static int
conf_value_text(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	struct addr_cidr c;
	const char *err;

	if (d->type == CONF_T_PATH && s[0] == '\0') {
		*error_r = "empty path";
		return -1;
	}
	if (d->type == CONF_T_EMAIL && !conf_email_valid(s)) {
		*error_r = conf_value_err("invalid address", s);
		return -1;
	}
	if (d->type == CONF_T_CIDR && addr_cidr_parse(s, &c, &err) == -1) {
		*error_r = conf_value_err("invalid IP address or range", s);
		return -1;
	}
	if (d->type == CONF_T_DOMAIN && !conf_domain_pattern_valid(s)) {
		*error_r = conf_value_err("invalid domain pattern", s);
		return -1;
	}
	if (d->type == CONF_T_REGEX && conf_regex_check(s, error_r) == -1)
		return -1;
	v->u.s = xstrdup(s);
	return 0;
}

static int
conf_value_single(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **error_r)
{
	if (conf_value_special(d, s, v))
		return 0;
	switch (d->type) {
	case CONF_T_BOOL:
		if (conf_parse_bool(s, &v->u.b) == -1) {
			*error_r = conf_value_err(
			    "expected yes, no, true or false, not", s);
			return -1;
		}
		return 0;
	case CONF_T_INT:
		return conf_value_int(d, s, v, error_r);
	case CONF_T_TIME:
		return conf_value_time(d, s, v, error_r);
	case CONF_T_SIZE:
		return conf_value_size(d, s, v, error_r);
	case CONF_T_TIME_LIST: case CONF_T_DAILY:
		return conf_value_nums(d, s, v, error_r);
	case CONF_T_RATE: case CONF_T_DATA_RATE:
		return conf_value_rate(d, s, v, error_r);
	case CONF_T_ENUM:
		return conf_value_enum(d, s, v, error_r);
	case CONF_T_BOOL_OR_ENUM: case CONF_T_BOOL_OR_TIME:
		return conf_value_bool_or(d, s, v, error_r);
	default:
		return conf_value_text(d, s, v, error_r);
	}
}

/* ---- the public entry points ---- */

static int
conf_value_nargs(const struct conf_directive *d, size_t nargs,
    const char **error_r)
{
	switch (d->type) {
	case CONF_T_FLAG:
		if (nargs > 0) {
			*error_r = "too many arguments";
			return -1;
		}
		return 0;
	case CONF_T_HOST_LIST: case CONF_T_WORDS: case CONF_T_RAW:
	case CONF_T_EMAIL_LIST: case CONF_T_DOMAIN_LIST: case CONF_T_LISTENER:
		if (nargs == 0) {
			*error_r = "argument missing";
			return -1;
		}
		return 0;
	default:
		if (nargs != 1) {
			*error_r = nargs == 0 ? "argument missing" :
			    "too many arguments";
			return -1;
		}
		return 0;
	}
}

/* Parse into *v, a fresh value; on failure *v is left zeroed. */
static int
conf_value_parse_one(const struct conf_directive *d, char *const *args,
    size_t nargs, struct conf_value *v, const char **error_r)
{
	int rc;

	memset(v, 0, sizeof(*v));
	v->type = d->type;
	if (conf_value_nargs(d, nargs, error_r) == -1)
		return -1;
	switch (d->type) {
	case CONF_T_FLAG:
		v->u.b = true;
		rc = 0;
		break;
	case CONF_T_HOST_LIST:
		rc = conf_parse_host_list(args, nargs, &v->u.hosts.v,
		    &v->u.hosts.n, error_r);
		break;
	case CONF_T_WORDS: case CONF_T_RAW:
		rc = conf_value_words(d, args, nargs, v, error_r);
		break;
	case CONF_T_EMAIL_LIST: case CONF_T_DOMAIN_LIST:
		rc = conf_value_list(d, args, nargs, v, error_r);
		break;
	case CONF_T_LISTENER:
		rc = conf_value_listener(args, nargs, v, error_r);
		break;
	default:
		rc = conf_value_single(d, args[0], v, error_r);
		break;
	}
	if (rc == -1) {
		conf_value_free(v);
		return -1;
	}
	v->set = true;
	return 0;
}

/* v holds a repeated directive's lines (keeping where it was set). */
static void
conf_value_lines(struct conf_value *v)
{
	const char *file = v->file;
	int line = v->line;

	if (v->type == CONF_T_WORDS)
		return;
	conf_value_free(v);
	v->type = CONF_T_WORDS;
	v->file = file;
	v->line = line;
}

/* A CONF_F_REPEAT line: checked as its type, kept as its joined words. */
static int
conf_value_repeat(const struct conf_directive *d, char *const *args,
    size_t nargs, struct conf_value *v, const char **error_r)
{
	struct conf_value check;
	char *line;

	if (nargs == 1 && args[0][0] == '\0') {
		conf_value_lines(v);
		conf_list_free(v->u.list.v, v->u.list.n);	/* "" clears */
		v->u.list.v = NULL;
		v->u.list.n = 0;
		v->set = true;
		return 0;
	}
	if (conf_value_parse_one(d, args, nargs, &check, error_r) == -1)
		return -1;
	conf_value_free(&check);
	if (v->type == CONF_T_WORDS && v->u.list.n == CONF_REPEAT_MAX) {
		*error_r = "too many lines for a repeated directive";
		return -1;
	}
	if ((line = conf_join(args, nargs, " ", error_r)) == NULL)
		return -1;
	conf_value_lines(v);
	conf_list_push(&v->u.list.v, &v->u.list.n, line);
	v->set = true;
	return 0;
}

int
conf_value_parse(const struct conf_directive *d, char *const *args,
    size_t nargs, struct conf_value *v, const char **error_r)
{
	struct conf_value tmp;
	const char *file = v->file;
	int line = v->line;

	if (d->type == CONF_T_BLOCK) {
		*error_r = "not a value";
		return -1;
	}
	if (d->flags & CONF_F_REPEAT)
		return conf_value_repeat(d, args, nargs, v, error_r);
	if (conf_value_parse_one(d, args, nargs, &tmp, error_r) == -1)
		return -1;
	conf_value_free(v);
	*v = tmp;
	v->file = file;
	v->line = line;
	return 0;
}

/* ---- copy and free ---- */

enum conf_layout {
	CONF_LAYOUT_NONE,
	CONF_LAYOUT_STRING,
	CONF_LAYOUT_NUMS,
	CONF_LAYOUT_LIST,
	CONF_LAYOUT_HOSTS,
};

/* Which member of v->u owns memory. */
static enum conf_layout
conf_value_layout(const struct conf_value *v)
{
	switch (v->type) {
	case CONF_T_STRING: case CONF_T_ENUM: case CONF_T_EMAIL:
	case CONF_T_PATH: case CONF_T_REGEX: case CONF_T_CIDR:
	case CONF_T_DOMAIN:
		return CONF_LAYOUT_STRING;
	case CONF_T_BOOL_OR_ENUM:
		return v->is_bool ? CONF_LAYOUT_NONE : CONF_LAYOUT_STRING;
	case CONF_T_TIME_LIST: case CONF_T_DAILY:
		return CONF_LAYOUT_NUMS;
	case CONF_T_WORDS: case CONF_T_RAW: case CONF_T_EMAIL_LIST:
	case CONF_T_DOMAIN_LIST: case CONF_T_LISTENER:
		return CONF_LAYOUT_LIST;
	case CONF_T_HOST_LIST:
		return CONF_LAYOUT_HOSTS;
	default:
		return CONF_LAYOUT_NONE;
	}
}

void
conf_value_copy(struct conf_value *dst, const struct conf_value *src)
{
	size_t n;

	*dst = *src;
	switch (conf_value_layout(src)) {
	case CONF_LAYOUT_STRING:
		dst->u.s = src->u.s != NULL ? xstrdup(src->u.s) : NULL;
		break;
	case CONF_LAYOUT_NUMS:
		if ((n = src->u.nums.n) == 0) {
			dst->u.nums.v = NULL;
			break;
		}
		dst->u.nums.v = xreallocarray(NULL, n, sizeof(*src->u.nums.v));
		memcpy(dst->u.nums.v, src->u.nums.v, n * sizeof(*src->u.nums.v));
		break;
	case CONF_LAYOUT_LIST:
		dst->u.list.v = NULL;
		dst->u.list.n = 0;
		for (size_t i = 0; i < src->u.list.n; i++)
			conf_list_push(&dst->u.list.v, &dst->u.list.n,
			    xstrdup(src->u.list.v[i]));
		break;
	case CONF_LAYOUT_HOSTS:
		if ((n = src->u.hosts.n) == 0) {
			dst->u.hosts.v = NULL;
			break;
		}
		dst->u.hosts.v = xreallocarray(NULL, n, sizeof(*src->u.hosts.v));
		for (size_t i = 0; i < n; i++) {
			dst->u.hosts.v[i] = src->u.hosts.v[i];
			dst->u.hosts.v[i].name = xstrdup(src->u.hosts.v[i].name);
		}
		break;
	case CONF_LAYOUT_NONE:
		break;
	}
}

void
conf_value_free(struct conf_value *v)
{
	switch (conf_value_layout(v)) {
	case CONF_LAYOUT_STRING:
		free(v->u.s);
		break;
	case CONF_LAYOUT_NUMS:
		free(v->u.nums.v);
		break;
	case CONF_LAYOUT_LIST:
		conf_list_free(v->u.list.v, v->u.list.n);
		break;
	case CONF_LAYOUT_HOSTS:
		conf_hosts_free(v->u.hosts.v, v->u.hosts.n);
		break;
	case CONF_LAYOUT_NONE:
		break;
	}
	memset(v, 0, sizeof(*v));
}

long long
conf_value_num(const struct conf_value *v, const struct conf_directive *d)
{
	long long n = 0;

	if (v != NULL)
		return v->unlimited || v->never ? 0 : v->u.i;
	switch (d->type) {
	case CONF_T_TIME:
		(void)conf_parse_time(d->def, &n);
		break;
	case CONF_T_SIZE:
		(void)conf_parse_size(d->def, &n);
		break;
	default:
		n = strtoll(d->def, NULL, 10);	/* "unlimited", "": 0 */
		break;
	}
	return n;
}

bool
conf_value_bool(const struct conf_value *v, const struct conf_directive *d)
{
	bool b = false;

	if (v != NULL)
		return v->u.b;
	(void)conf_parse_bool(d->def, &b);
	return b;
}
