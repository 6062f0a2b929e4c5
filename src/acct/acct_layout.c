/*
 * acct_layout: the columns of an accounting destination (see acct.h).
 * Pure: no I/O.
 *
 * Each record type has a column list: its PMTA default (pmta-reference
 * §4.3; "*") or its `record-fields` (an explicit list both selects and
 * orders; "!x" drops x; "header_X" adds the message header X).  A
 * destination's columns are `type`, then the lists of the types it
 * takes, concatenated in the order d, b, t, tq, f, r, rb, rs with
 * duplicates dropped (R-Q13: the order of the one real multi-type header
 * known); a row fills only the columns of its own type.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acct/acct_private.h"
#include "lib/xmalloc.h"
#include "smtp/smtp_header.h"

static _Thread_local char acct_errbuf[256];

/* How a field's value is found in struct acct_record. */
enum acct_kind {
	ACCT_K_TYPE,		/* the type's letters */
	ACCT_K_STR,		/* a const char * member */
	ACCT_K_TIME,		/* a time_t member; 0 = empty */
	ACCT_K_SIZE,		/* dlv_size; < 0 = empty */
	ACCT_K_SECS,		/* totalSecondsQueued: logged - queued */
	ACCT_K_USER,		/* the destination's user-string */
	ACCT_K_NONE,		/* known, nothing produces it yet */
};

struct acct_field {
	const char	*name;
	enum acct_kind	 kind;
	size_t		 off;
};

#define ACCT_STR(n, m)	{ n, ACCT_K_STR, offsetof(struct acct_record, m) }
#define ACCT_TIME(n, m)	{ n, ACCT_K_TIME, offsetof(struct acct_record, m) }

static const struct acct_field acct_fields[] = {
	{ "type", ACCT_K_TYPE, 0 },
	ACCT_TIME("timeLogged", logged),
	ACCT_TIME("timeQueued", queued),
	ACCT_TIME("timeFirstAttempt", first_attempt),
	{ "totalSecondsQueued", ACCT_K_SECS, 0 },
	ACCT_STR("orig", orig),
	ACCT_STR("rcpt", rcpt),
	ACCT_STR("orcpt", orcpt),
	ACCT_STR("dsnAction", dsn_action),
	ACCT_STR("dsnStatus", dsn_status),
	ACCT_STR("dsnDiag", dsn_diag),
	ACCT_STR("dsnMta", dsn_mta),
	ACCT_STR("dsnReportingMta", dsn_reporting_mta),
	ACCT_STR("bounceCat", bounce_cat),
	ACCT_STR("srcType", src_type),
	ACCT_STR("srcMta", src_mta),
	ACCT_STR("rcvSourceIp", rcv_source_ip),
	ACCT_STR("rcvDestinationIp", rcv_destination_ip),
	ACCT_STR("rcvSmtpUser", rcv_smtp_user),
	ACCT_STR("dlvType", dlv_type),
	ACCT_STR("dlvSourceIp", dlv_source_ip),
	ACCT_STR("dlvDestinationIp", dlv_destination_ip),
	ACCT_STR("dlvEsmtpAvailable", dlv_esmtp_available),
	{ "dlvSize", ACCT_K_SIZE, 0 },
	ACCT_STR("dlvTlsProtocol", dlv_tls_protocol),
	ACCT_STR("dlvTlsCipher", dlv_tls_cipher),
	ACCT_STR("vmta", vmta),
	ACCT_STR("jobId", job_id),
	ACCT_STR("envId", env_id),
	ACCT_STR("queue", queue),
	ACCT_STR("vmtaPool", vmta_pool),
	{ "userString", ACCT_K_USER, 0 },
	{ "repSourceIp", ACCT_K_NONE, 0 },
	{ "feedbackType", ACCT_K_NONE, 0 },
	{ "format", ACCT_K_NONE, 0 },
	{ "userAgent", ACCT_K_NONE, 0 },
	{ "reportingMta", ACCT_K_NONE, 0 },
	{ "reportedDomain", ACCT_K_NONE, 0 },
};
#define ACCT_NFIELDS	(sizeof(acct_fields) / sizeof(acct_fields[0]))

static const struct {
	const char	*letters, *name, *alias;
	const char	*defaults;	/* pmta-reference §4.3 */
} acct_types[ACCT_NTYPES] = {
	[ACCT_D] = { "d", "delivery", NULL, ACCT_DEFAULT_FIELDS },
	[ACCT_B] = { "b", "bounce", NULL, ACCT_DEFAULT_FIELDS },
	[ACCT_T] = { "t", "transient", NULL, ACCT_DEFAULT_FIELDS },
	[ACCT_TQ] = { "tq", "transient-queue", NULL,
	    "type,timeLogged,dsnStatus,dsnDiag,dsnMta,dlvType,dlvSourceIp,"
	    "dlvDestinationIp,vmta,queue" },
	[ACCT_R] = { "r", "receipt", NULL,
	    "type,timeLogged,orig,rcpt,orcpt,srcType,srcMta,rcvSourceIp,"
	    "rcvDestinationIp,vmta,vmtaPool,jobId,envId" },
	[ACCT_F] = { "f", "feedback-loop", "fbl",
	    "type,timeLogged,repSourceIp,feedbackType,format,userAgent,envId,"
	    "orig,rcpt,reportingMta,dlvSourceIp,reportedDomain,header_From,"
	    "header_Return-Path,header_X-job,header_Subject" },
	[ACCT_RB] = { "rb", "remote-bounce", NULL,
	    "type,timeLogged,orig,rcpt,orcpt,dsnStatus,dsnDiag,dsnMta,"
	    "dsnReportingMta,bounceCat,srcType,srcMta,envId" },
	[ACCT_RS] = { "rs", "remote-status", NULL,
	    "type,timeLogged,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,"
	    "dsnMta,bounceCat,srcType,srcMta,envId" },
};

/* The order of the column union (R-Q13). */
static const enum acct_type acct_union_order[ACCT_NTYPES] = {
	ACCT_D, ACCT_B, ACCT_T, ACCT_TQ, ACCT_F, ACCT_R, ACCT_RB, ACCT_RS,
};

/* A column: a field, or a message header (field -1, hname as written). */
struct acct_col {
	int	 field;
	char	*hname;
};

struct acct_cols {
	struct acct_col	*v;
	size_t		 n;
};

/* map-header-to-field: the header's value, if present, fills field. */
struct acct_map {
	int	 field;
	char	*hname;
};

struct acct_layout {
	unsigned	 records;		/* 1 << type */
	struct acct_cols cols;			/* cols.v[0] is type */
	unsigned	*fills;			/* per column: 1 << type */
	struct acct_map	*maps[ACCT_NTYPES];
	size_t		 nmaps[ACCT_NTYPES];
	bool		 needs_headers[ACCT_NTYPES];
	bool		 iso;
	char		*user_string;
	char		*header;
};

const char *
acct_type_name(enum acct_type type)
{
	return (unsigned)type < ACCT_NTYPES ? acct_types[type].letters : "?";
}

int
acct_type_parse(const char *name)
{
	for (int t = 0; t < ACCT_NTYPES; t++)
		if (strcasecmp(name, acct_types[t].letters) == 0 ||
		    strcasecmp(name, acct_types[t].name) == 0 ||
		    (acct_types[t].alias != NULL &&
		    strcasecmp(name, acct_types[t].alias) == 0))
			return t;
	return -1;
}

static int
acct_field_find(const char *name)
{
	for (size_t i = 0; i < ACCT_NFIELDS; i++)
		if (strcasecmp(name, acct_fields[i].name) == 0)
			return (int)i;
	return -1;
}

static const char *acct_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const char *
acct_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(acct_errbuf, sizeof(acct_errbuf), fmt, ap);
	va_end(ap);
	return acct_errbuf;
}

static bool
acct_col_same(const struct acct_col *a, const struct acct_col *b)
{
	if (a->field != b->field)
		return false;
	return a->field != -1 || strcasecmp(a->hname, b->hname) == 0;
}

static ssize_t
acct_cols_find(const struct acct_cols *c, const struct acct_col *col)
{
	for (size_t i = 0; i < c->n; i++)
		if (acct_col_same(&c->v[i], col))
			return (ssize_t)i;
	return -1;
}

/* Append a copy of col unless the list has it; its index either way. */
static size_t
acct_cols_add(struct acct_cols *c, const struct acct_col *col)
{
	ssize_t i = acct_cols_find(c, col);

	if (i != -1)
		return (size_t)i;
	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	c->v[c->n].field = col->field;
	c->v[c->n].hname = col->hname ? xstrdup(col->hname) : NULL;
	return c->n++;
}

static void
acct_cols_free(struct acct_cols *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].hname);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* One token of a field list as a column.  -1 with *error_r. */
static int
acct_col_parse(const char *tok, struct acct_col *col, const char **error_r)
{
	col->hname = NULL;
	if (strncasecmp(tok, "header_", 7) == 0) {
		if (tok[7] == '\0') {
			*error_r = "header_ without a header name";
			return -1;
		}
		col->field = -1;
		col->hname = (char *)tok + 7;
		return 0;
	}
	if ((col->field = acct_field_find(tok)) == -1) {
		*error_r = acct_err("unknown field \"%s\"", tok);
		return -1;
	}
	return 0;
}

static int acct_list_parse(enum acct_type t, const char *list,
    struct acct_cols *out, const char **error_r);

/* One token: "*", "!field", "header_X" or a field name. */
static int
acct_list_token(enum acct_type t, const char *tok, struct acct_cols *out,
    struct acct_cols *drop, const char **error_r)
{
	struct acct_col col;

	if (strcmp(tok, "*") == 0)
		return acct_list_parse(t, acct_types[t].defaults, out, error_r);
	if (acct_col_parse(tok[0] == '!' ? tok + 1 : tok, &col, error_r) == -1)
		return -1;
	if (col.field == 0)		/* type: always first, never removed */
		return 0;
	(void)acct_cols_add(tok[0] == '!' ? drop : out, &col);
	return 0;
}

/* Parse a field list ("a,b", "*,!x", "* header_X") into out. */
static int
acct_list_parse(enum acct_type t, const char *list, struct acct_cols *out,
    const char **error_r)
{
	struct acct_cols drop = { NULL, 0 };
	char *copy = xstrdup(list), *save = NULL;
	int r = 0;

	for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL && r == 0;
	    tok = strtok_r(NULL, ", \t", &save))
		r = acct_list_token(t, tok, out, &drop, error_r);
	for (size_t i = 0; r == 0 && i < drop.n; i++) {
		ssize_t k = acct_cols_find(out, &drop.v[i]);
		if (k == -1)
			continue;
		free(out->v[k].hname);
		memmove(&out->v[k], &out->v[k + 1],
		    (out->n - (size_t)k - 1) * sizeof(*out->v));
		out->n--;
	}
	acct_cols_free(&drop);
	free(copy);
	return r;
}

/* "TYPE LIST": the type's columns, replacing what it had. */
static int
acct_fields_entry(const char *entry, struct acct_cols *per,
    const char **error_r)
{
	size_t n = strcspn(entry, " \t");
	char type[32];
	struct acct_cols cols = { NULL, 0 };
	int t;

	snprintf(type, sizeof(type), "%.*s", (int)n, entry);
	if ((t = acct_type_parse(type)) == -1) {
		*error_r = acct_err("record-fields: unknown record type \"%s\"",
		    type);
		return -1;
	}
	if (entry[n] == '\0') {
		*error_r = "record-fields: no field list";
		return -1;
	}
	if (acct_list_parse((enum acct_type)t, entry + n, &cols, error_r) == -1) {
		char why[sizeof(acct_errbuf)];

		snprintf(why, sizeof(why), "%s", *error_r);
		*error_r = acct_err("record-fields: %s", why);
		acct_cols_free(&cols);
		return -1;
	}
	acct_cols_free(&per[t]);
	per[t] = cols;
	return 0;
}

/* "TYPE header_X FIELD" (map-header-to-field). */
static int
acct_map_entry(struct acct_layout *l, const char *entry, const char **error_r)
{
	char type[32], hdr[256], field[64], extra[2];
	struct acct_col col;
	struct acct_map *m;
	int t, f;

	if (sscanf(entry, "%31s %255s %63s %1s", type, hdr, field, extra) != 3) {
		*error_r = "map-header-to-field: expected TYPE header_NAME FIELD";
		return -1;
	}
	if ((t = acct_type_parse(type)) == -1 || t == ACCT_TQ) {
		*error_r = acct_err("map-header-to-field: record type \"%s\" "
		    "not allowed", type);
		return -1;
	}
	if (acct_col_parse(hdr, &col, error_r) == -1 || col.field != -1) {
		*error_r = acct_err("map-header-to-field: \"%s\" is not a "
		    "header_NAME", hdr);
		return -1;
	}
	if ((f = acct_field_find(field)) <= 0) {
		*error_r = acct_err("map-header-to-field: unknown field \"%s\"",
		    field);
		return -1;
	}
	l->maps[t] = xreallocarray(l->maps[t], l->nmaps[t] + 1, sizeof(*m));
	m = &l->maps[t][l->nmaps[t]++];
	m->field = f;
	m->hname = xstrdup(col.hname);
	return 0;
}

/* The union of the per-type lists, the fill bits and the header line. */
static void
acct_layout_union(struct acct_layout *l, const struct acct_cols *per)
{
	struct acct_col type = { 0, NULL };
	struct buf h;

	(void)acct_cols_add(&l->cols, &type);
	for (size_t k = 0; k < ACCT_NTYPES; k++) {
		enum acct_type t = acct_union_order[k];
		if ((l->records & (1u << t)) == 0)
			continue;
		for (size_t i = 0; i < per[t].n; i++)
			(void)acct_cols_add(&l->cols, &per[t].v[i]);
	}
	l->fills = xcalloc(l->cols.n, sizeof(*l->fills));
	l->fills[0] = l->records;
	for (int t = 0; t < ACCT_NTYPES; t++)
		for (size_t i = 0; (l->records & (1u << t)) && i < per[t].n; i++) {
			size_t c = (size_t)acct_cols_find(&l->cols, &per[t].v[i]);
			l->fills[c] |= 1u << t;
			if (per[t].v[i].field == -1)
				l->needs_headers[t] = true;
		}
	buf_init(&h, ACCT_LINE_MAX);
	for (size_t i = 0; i < l->cols.n; i++) {
		const struct acct_col *c = &l->cols.v[i];
		(void)buf_printf(&h, "%s%s%s", i ? "," : "",
		    c->field == -1 ? "header_" : acct_fields[c->field].name,
		    c->field == -1 ? c->hname : "");
	}
	(void)buf_puts(&h, "\r\n");
	l->header = buf_take(&h);
}

struct acct_layout *
acct_layout_new(unsigned records, char *const *fields, size_t nfields,
    char *const *maps, size_t nmaps, const char **error_r)
{
	struct acct_layout *l = xcalloc(1, sizeof(*l));
	struct acct_cols per[ACCT_NTYPES];
	int r = 0;

	memset(per, 0, sizeof(per));
	l->records = records & ((1u << ACCT_NTYPES) - 1);
	l->iso = true;
	for (int t = 0; t < ACCT_NTYPES && r == 0; t++)
		r = acct_list_parse((enum acct_type)t, acct_types[t].defaults,
		    &per[t], error_r);
	for (size_t i = 0; i < nfields && r == 0; i++)
		r = acct_fields_entry(fields[i], per, error_r);
	for (size_t i = 0; i < nmaps && r == 0; i++)
		r = acct_map_entry(l, maps[i], error_r);
	if (r == 0)
		acct_layout_union(l, per);
	for (int t = 0; t < ACCT_NTYPES; t++) {
		acct_cols_free(&per[t]);
		l->needs_headers[t] |= l->nmaps[t] > 0;
	}
	if (r == -1) {
		acct_layout_free(l);
		return NULL;
	}
	return l;
}

void
acct_layout_free(struct acct_layout *l)
{
	if (l == NULL)
		return;
	acct_cols_free(&l->cols);
	for (int t = 0; t < ACCT_NTYPES; t++) {
		for (size_t i = 0; i < l->nmaps[t]; i++)
			free(l->maps[t][i].hname);
		free(l->maps[t]);
	}
	free(l->fills);
	free(l->user_string);
	free(l->header);
	free(l);
}

void
acct_layout_set_times(struct acct_layout *l, bool iso)
{
	l->iso = iso;
}

void
acct_layout_set_user_string(struct acct_layout *l, const char *s)
{
	free(l->user_string);
	l->user_string = s ? xstrdup(s) : NULL;
}

bool
acct_layout_takes(const struct acct_layout *l, enum acct_type type)
{
	return (unsigned)type < ACCT_NTYPES && (l->records & (1u << type));
}

bool
acct_layout_needs_headers(const struct acct_layout *l, enum acct_type type)
{
	return acct_layout_takes(l, type) && l->needs_headers[type];
}

const char *
acct_layout_header(const struct acct_layout *l)
{
	return l->header;
}

int
acct_csv_field(struct buf *out, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	if (strpbrk(s, ",\"\r\n") == NULL)
		return buf_puts(out, s);
	if (buf_puts(out, "\"") == -1)
		return -1;
	for (const char *p = s; *p != '\0'; p++)
		if (buf_append(out, p, 1) == -1 ||
		    (*p == '"' && buf_append(out, p, 1) == -1))
			return -1;
	return buf_puts(out, "\"");
}

void
acct_time(time_t t, char *dst, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(dst, size, "%Y-%m-%d %H:%M:%S%z", &tm) == 0 && size > 0)
		dst[0] = '\0';
}

/* The value of header `name` in hdrs, or NULL. */
static const char *
acct_header_value(struct buf *hdrs, const char *name, char *dst, size_t size)
{
	size_t len;

	if (hdrs == NULL || hdrs->len == 0)
		return NULL;
	len = hdrs->len;
	return smtp_header_take(hdrs, &len, name, false, dst, size) ? dst : NULL;
}

/* A standard field's own value (dst: room for numbers and times). */
static const char *
acct_field_value(const struct acct_layout *l, const struct acct_record *r,
    int field, char *dst, size_t size)
{
	const struct acct_field *f = &acct_fields[field];
	const char *base = (const char *)r;
	time_t t;

	switch (f->kind) {
	case ACCT_K_TYPE:
		return acct_type_name(r->type);
	case ACCT_K_STR:
		return *(const char *const *)(const void *)(base + f->off);
	case ACCT_K_TIME:
		memcpy(&t, base + f->off, sizeof(t));
		if (t == 0)
			return NULL;
		if (l->iso)
			acct_time(t, dst, size);
		else
			snprintf(dst, size, "%lld", (long long)t);
		return dst;
	case ACCT_K_SIZE:
		if (r->dlv_size < 0)
			return NULL;
		snprintf(dst, size, "%lld", r->dlv_size);
		return dst;
	case ACCT_K_SECS:
		if (r->queued == 0 || r->logged < r->queued)
			return NULL;
		snprintf(dst, size, "%lld", (long long)(r->logged - r->queued));
		return dst;
	case ACCT_K_USER:
		return l->user_string;
	case ACCT_K_NONE:
		break;
	}
	return NULL;
}

/* One cell: a header column, a mapped header, or the field itself. */
static const char *
acct_cell(const struct acct_layout *l, const struct acct_record *r,
    const struct acct_col *c, struct buf *hdrs, char *dst, size_t size)
{
	if (c->field == -1)
		return acct_header_value(hdrs, c->hname, dst, size);
	for (size_t i = 0; i < l->nmaps[r->type]; i++) {
		const struct acct_map *m = &l->maps[r->type][i];
		if (m->field == c->field &&
		    acct_header_value(hdrs, m->hname, dst, size) != NULL)
			return dst;
	}
	return acct_field_value(l, r, c->field, dst, size);
}

int
acct_format(struct buf *out, const struct acct_layout *l,
    const struct acct_record *r, struct buf *hdrs)
{
	unsigned bit = 1u << r->type;
	char cell[ACCT_VALUE_MAX + 1];

	if (!acct_layout_takes(l, r->type))
		return -1;
	for (size_t i = 0; i < l->cols.n; i++) {
		const char *v = NULL;

		if (l->fills[i] & bit)
			v = acct_cell(l, r, &l->cols.v[i], hdrs, cell, sizeof(cell));
		if ((i > 0 && buf_puts(out, ",") == -1) ||
		    acct_csv_field(out, v) == -1)
			return -1;
	}
	return buf_puts(out, "\r\n");
}
