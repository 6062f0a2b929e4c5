/*
 * conf_format: a value back as text, show-settings style (see
 * conf_value.c's comment).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_value.h"
#include "conf/conf_value_private.h"
#include "lib/xmalloc.h"

/* ---- formatting ---- */

void
conf_format_time(long long secs, struct buf *out)
{
	static const struct {
		long long	secs;
		char		unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };

	if (secs <= 0) {
		(void)buf_printf(out, "%lld", secs);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (secs >= units[i].secs) {
			(void)buf_printf(out, "%lld%c", secs / units[i].secs,
			    units[i].unit);
			secs %= units[i].secs;
		}
}

void
conf_format_size(long long bytes, struct buf *out)
{
	static const char units[] = "TGMK";
	long long mult = 1LL << 40;

	for (size_t i = 0; bytes != 0 && i < sizeof(units) - 1; i++) {
		if (bytes % mult == 0) {
			(void)buf_printf(out, "%lld%c", bytes / mult, units[i]);
			return;
		}
		mult >>= 10;
	}
	(void)buf_printf(out, "%lld", bytes);
}

/* A rate's denominator: "s", "m", "h", "d", or "10m" style. */
static void
conf_format_per(long long per, struct buf *out)
{
	static const struct {
		long long	secs;
		char		unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };

	if (per <= 0)
		per = 1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (per % units[i].secs == 0) {
			if (per != units[i].secs)
				(void)buf_printf(out, "%lld", per / units[i].secs);
			(void)buf_printf(out, "%c", units[i].unit);
			return;
		}
}

void
conf_format_rate(const struct conf_rate *r, struct buf *out)
{
	if (r->count == 0) {
		(void)buf_puts(out, "unlimited");
		return;
	}
	(void)buf_printf(out, "%lld/", r->count);
	conf_format_per(r->per, out);
}

/* A word as written, or in double quotes when the config reader would
 * otherwise not give it back (empty, blanks, '#', '"'). */
static void
conf_format_word(const char *s, struct buf *out)
{
	if (s[0] != '\0' && strpbrk(s, " \t#\"") == NULL) {
		(void)buf_puts(out, s);
		return;
	}
	(void)buf_puts(out, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			(void)buf_puts(out, "\\");
		(void)buf_append(out, s, 1);
	}
	(void)buf_puts(out, "\"");
}

static void
conf_format_hosts(const struct conf_value *v, struct buf *out)
{
	const struct conf_host *h;

	if (v->u.hosts.n == 0)
		(void)buf_puts(out, "\"\"");
	for (size_t i = 0; i < v->u.hosts.n; i++) {
		h = &v->u.hosts.v[i];
		if (i > 0)
			(void)buf_puts(out, h->level != h[-1].level ? ";" : ",");
		if (h->lookup_mx)
			(void)buf_printf(out, "lookup-mx:%s", h->name);
		else if (strchr(h->name, ':') != NULL)
			(void)buf_printf(out, "[IPv6:%s]", h->name);
		else if (conf_ip_valid(h->name))
			(void)buf_printf(out, "[%s]", h->name);
		else
			(void)buf_puts(out, h->name);
		if (h->port > 0)
			(void)buf_printf(out, ":%d", h->port);
	}
}

static void
conf_format_nums(const struct conf_value *v, struct buf *out)
{
	for (size_t i = 0; i < v->u.nums.n; i++) {
		if (i > 0)
			(void)buf_puts(out, ",");
		if (v->type == CONF_T_DAILY)
			(void)buf_printf(out, "%lld/d", v->u.nums.v[i]);
		else
			conf_format_time(v->u.nums.v[i], out);
	}
}

static void
conf_format_list(const struct conf_value *v, const char *sep,
    struct buf *out)
{
	if (v->u.list.n == 0)
		(void)buf_puts(out, "\"\"");
	for (size_t i = 0; i < v->u.list.n; i++) {
		if (i > 0)
			(void)buf_puts(out, sep);
		(void)buf_puts(out, v->u.list.v[i]);
	}
}

static void
conf_format_typed(const struct conf_value *v, struct buf *out)
{
	switch (v->type) {
	case CONF_T_BLOCK:
		(void)buf_puts(out, "\"\"");
		break;
	case CONF_T_FLAG: case CONF_T_BOOL:
		(void)buf_puts(out, v->u.b ? "yes" : "no");
		break;
	case CONF_T_INT:
		(void)buf_printf(out, "%lld", v->u.i);
		break;
	case CONF_T_TIME:
		conf_format_time(v->u.i, out);
		break;
	case CONF_T_SIZE:
		conf_format_size(v->u.i, out);
		break;
	case CONF_T_TIME_LIST: case CONF_T_DAILY:
		conf_format_nums(v, out);
		break;
	case CONF_T_RATE:
		conf_format_rate(&v->u.rate, out);
		break;
	case CONF_T_DATA_RATE:
		conf_format_size(v->u.rate.count, out);
		(void)buf_puts(out, "/");
		conf_format_per(v->u.rate.per, out);
		break;
	case CONF_T_HOST_LIST:
		conf_format_hosts(v, out);
		break;
	case CONF_T_WORDS: case CONF_T_EMAIL_LIST: case CONF_T_DOMAIN_LIST:
		conf_format_list(v, ",", out);
		break;
	case CONF_T_RAW: case CONF_T_LISTENER:
		conf_format_list(v, " ", out);
		break;
	default:
		conf_format_word(v->u.s != NULL ? v->u.s : "", out);
		break;
	}
}

void
conf_value_format(const struct conf_directive *d, const struct conf_value *v,
    struct buf *out)
{
	if (v == NULL || !v->set)	/* NULL: nothing set anywhere */
		(void)buf_puts(out, d->def != NULL && d->def[0] != '\0' ?
		    d->def : "\"\"");
	else if (v->unlimited)
		(void)buf_puts(out, "unlimited");
	else if (v->never)
		(void)buf_puts(out, "never");
	else if (v->is_bool)
		(void)buf_puts(out, v->u.b ? "yes" : "no");
	else if (v->type == CONF_T_BOOL_OR_TIME)
		conf_format_time(v->u.i, out);
	else
		conf_format_typed(v, out);
}
