/*
 * Unit tests for conf_value: every value type with its accepted
 * spellings and rejections, range edges, "unlimited" and "never",
 * repeated directives, formatting (and parse -> format -> parse round
 * trips), copy and free.  The directives are built here, one per case,
 * so that the tests do not depend on rows of the real table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_value.h"
#include "lib/buf.h"
#include "tap.h"

#define MAX_WORDS	40

static struct conf_directive
dir(enum conf_type type, unsigned flags, long long min, long long max,
    const char *def, const char *choices)
{
	struct conf_directive d;

	memset(&d, 0, sizeof(d));
	d.name = "test";
	d.scopes = CONF_SC_GLOBAL;
	d.type = type;
	d.flags = flags;
	d.min = min;
	d.max = max;
	d.def = def;
	d.choices = choices;
	d.doc = "";
	return d;
}

/*
 * Parse the words of s, split at single spaces, into *v (appending for
 * a repeated directive); the word `""` stands for the empty string and
 * an empty s for no words at all.
 */
static int
parse_into(const struct conf_directive *d, const char *s,
    struct conf_value *v, const char **err)
{
	char copy[4096], *args[MAX_WORDS], *p = copy;
	size_t n = 0;

	snprintf(copy, sizeof(copy), "%s", s);
	while (*p != '\0' && n < MAX_WORDS) {
		args[n++] = p;
		p += strcspn(p, " ");
		if (*p == ' ')
			*p++ = '\0';
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(args[i], "\"\"") == 0)
			args[i][0] = '\0';
	*err = NULL;
	return conf_value_parse(d, args, n, v, err);
}

static int
parse(const struct conf_directive *d, const char *s, struct conf_value *v,
    const char **err)
{
	memset(v, 0, sizeof(*v));
	return parse_into(d, s, v, err);
}

/* The formatted value, in a static buffer. */
static const char *
fmt(const struct conf_directive *d, const struct conf_value *v)
{
	static char text[4096];
	struct buf b;

	buf_init(&b, sizeof(text) - 1);
	conf_value_format(d, v, &b);
	snprintf(text, sizeof(text), "%s", b.err ? "<overflow>" : buf_str(&b));
	buf_free(&b);
	return text;
}

static bool
is_zero(const struct conf_value *v)
{
	static const struct conf_value zero;

	return memcmp(v, &zero, sizeof(zero)) == 0;
}

/* s parses and formats as want. */
static void
good(const struct conf_directive *d, const char *s, const char *want)
{
	struct conf_value v;
	const char *err;
	int rc = parse(d, s, &v, &err);

	if (!ok(rc == 0 && v.set, "accepts '%s'", s))
		diag("error: %s", err ? err : "(none)");
	is_str(fmt(d, &v), want, "'%s' formats as '%s'", s, want);
	conf_value_free(&v);
}

/* s is rejected with an error that contains why, and v stays zeroed. */
static void
bad(const struct conf_directive *d, const char *s, const char *why)
{
	struct conf_value v;
	const char *err;
	int rc = parse(d, s, &v, &err);

	ok(rc == -1 && is_zero(&v), "rejects '%s'", s);
	if (!ok(err != NULL && strstr(err, why) != NULL,
	    "'%s': error mentions '%s'", s, why))
		diag("error: %s", err ? err : "(none)");
	conf_value_free(&v);
}

/* s parses to the number want (u.i). */
static void
num(const struct conf_directive *d, const char *s, long long want)
{
	struct conf_value v;
	const char *err;

	ok(parse(d, s, &v, &err) == 0, "accepts '%s'", s);
	is_int(v.u.i, want, "'%s' is %lld", s, want);
	conf_value_free(&v);
}

/* s parses to the rate count/per. */
static void
rate(const struct conf_directive *d, const char *s, long long count,
    long long per)
{
	struct conf_value v;
	const char *err;

	ok(parse(d, s, &v, &err) == 0 && !v.unlimited, "accepts '%s'", s);
	ok(v.u.rate.count == count && v.u.rate.per == per,
	    "'%s' is %lld per %lld s", s, count, per);
	conf_value_free(&v);
}

/* parse -> format -> parse gives the same value (and the same text). */
static void
round_trip(const struct conf_directive *d, const char *s)
{
	struct conf_value a, b;
	const char *err;
	char first[4096];

	ok(parse(d, s, &a, &err) == 0, "round trip: accepts '%s'", s);
	snprintf(first, sizeof(first), "%s", fmt(d, &a));
	ok(parse(d, first, &b, &err) == 0, "round trip: '%s' -> '%s' parses",
	    s, first);
	is_str(fmt(d, &b), first, "round trip: '%s' formats the same", s);
	switch (d->type) {
	case CONF_T_TIME: case CONF_T_SIZE:
		is_int(b.u.i, a.u.i, "round trip: '%s' same number", s);
		break;
	case CONF_T_RATE: case CONF_T_DATA_RATE:
		ok(a.u.rate.count == b.u.rate.count &&
		    a.u.rate.per == b.u.rate.per &&
		    a.unlimited == b.unlimited, "round trip: '%s' same rate", s);
		break;
	case CONF_T_HOST_LIST:
		ok(a.u.hosts.n == b.u.hosts.n, "round trip: '%s' same hosts", s);
		for (size_t i = 0; i < a.u.hosts.n && i < b.u.hosts.n; i++)
			ok(strcmp(a.u.hosts.v[i].name, b.u.hosts.v[i].name) == 0 &&
			    a.u.hosts.v[i].port == b.u.hosts.v[i].port &&
			    a.u.hosts.v[i].level == b.u.hosts.v[i].level &&
			    a.u.hosts.v[i].lookup_mx == b.u.hosts.v[i].lookup_mx,
			    "round trip: '%s' host %zu", s, i);
		break;
	default:
		break;
	}
	conf_value_free(&a);
	conf_value_free(&b);
}

/* "item,item,..." n times into dst. */
static void
repeat_item(char *dst, size_t size, const char *item, int n)
{
	struct buf b;

	buf_init(&b, size - 1);
	for (int i = 0; i < n; i++)
		(void)buf_printf(&b, "%s%s", i > 0 ? "," : "", item);
	snprintf(dst, size, "%s", buf_str(&b));
	buf_free(&b);
}

static void
test_counts(void)
{
	struct conf_directive d = dir(CONF_T_BOOL, 0, 0, 0, "no", "");
	struct conf_directive blk = dir(CONF_T_BLOCK, 0, 0, 0, "", "");
	struct conf_directive hl = dir(CONF_T_HOST_LIST, 0, 0, 0, "", "");
	struct conf_value v;
	const char *err;

	ok(parse(&d, "", &v, &err) == -1, "a bool without value fails");
	is_str(err, "argument missing", "... argument missing");
	ok(parse(&d, "yes no", &v, &err) == -1, "a bool with two values fails");
	is_str(err, "too many arguments", "... too many arguments");
	ok(parse(&blk, "x", &v, &err) == -1, "a block is not a value");
	is_str(err, "not a value", "... not a value");
	ok(parse(&hl, "", &v, &err) == -1, "a host list needs a value");
	is_str(err, "argument missing", "... argument missing");
	d = dir(CONF_T_FLAG, 0, 0, 0, "", "");
	ok(parse(&d, "", &v, &err) == 0 && v.set && v.u.b,
	    "a flag takes no value");
	is_str(fmt(&d, &v), "yes", "a given flag formats as yes");
	bad(&d, "yes", "too many arguments");
	d = dir(CONF_T_TIME, 0, 0, 0, "", "");
	bad(&d, "4x", "invalid time interval \"4x\"");
	d = dir(CONF_T_STRING, 0, 0, 0, "", "");
	bad(&d, "a b", "too many arguments");
}

static void
test_bool(void)
{
	struct conf_directive d = dir(CONF_T_BOOL, 0, 0, 0, "no", "");
	static const char *const yes[] = { "yes", "true", "YES", "True", "tRuE" };
	static const char *const no[] = { "no", "false", "No", "FALSE", "fAlSe" };
	struct conf_value v;
	const char *err;
	bool b;

	for (size_t i = 0; i < 5; i++) {
		good(&d, yes[i], "yes");
		good(&d, no[i], "no");
	}
	bad(&d, "maybe", "expected yes, no, true or false");
	bad(&d, "1", "expected yes");
	bad(&d, "on", "expected yes");
	bad(&d, "\"\"", "expected yes");
	bad(&d, "yess", "expected yes");
	ok(conf_parse_bool("TRUE", &b) == 0 && b, "conf_parse_bool TRUE");
	ok(conf_parse_bool("no", &b) == 0 && !b, "conf_parse_bool no");
	ok(conf_parse_bool("off", &b) == -1, "conf_parse_bool off fails");
	memset(&v, 0, sizeof(v));
	is_str(fmt(&d, &v), "no", "an unset bool formats as its default");
	d.def = "";
	is_str(fmt(&d, &v), "\"\"", "an unset value without default is \"\"");
	(void)err;
}

static void
test_int(void)
{
	struct conf_directive d = dir(CONF_T_INT, 0, 0, 0, "20", "");

	num(&d, "0", 0);
	num(&d, "20", 20);
	num(&d, "007", 7);
	num(&d, "9223372036854775807", 9223372036854775807LL);
	good(&d, "1200", "1200");
	bad(&d, "-1", "negative number");
	bad(&d, "abc", "invalid number \"abc\"");
	bad(&d, "1x", "invalid number");
	bad(&d, "+5", "invalid number");
	bad(&d, "\"\"", "invalid number");
	bad(&d, "1.5", "invalid number");
	bad(&d, "9223372036854775808", "invalid number");
	bad(&d, "unlimited", "invalid number");
	d = dir(CONF_T_INT, 0, 1, 100, "50", "");
	num(&d, "1", 1);
	num(&d, "100", 100);
	bad(&d, "0", "value out of range 1..100");
	bad(&d, "101", "value out of range 1..100");
	bad(&d, "-1", "value out of range 1..100");
	d = dir(CONF_T_INT, 0, -10, 10, "0", "");
	num(&d, "-10", -10);
	good(&d, "-3", "-3");
	bad(&d, "-11", "value out of range -10..10");
	d = dir(CONF_T_INT, 0, 0, 100, "0", "");
	num(&d, "0", 0);
	bad(&d, "101", "value out of range 0..100");
	d = dir(CONF_T_INT, CONF_F_UNLIMITED, 0, 0, "unlimited", "");
	good(&d, "unlimited", "unlimited");
	good(&d, "Unlimited", "unlimited");
	good(&d, "5", "5");
	d = dir(CONF_T_INT, CONF_F_UNLIMITED, 1, 10, "unlimited", "");
	good(&d, "UNLIMITED", "unlimited");
}

static void
test_time_parse(void)
{
	struct conf_directive d = dir(CONF_T_TIME, 0, 0, 0, "10m", "");
	long long s;

	num(&d, "10m", 600);
	num(&d, "4d12h", 388800);
	num(&d, "1w2d12h30m10s", 7 * 86400 + 2 * 86400 + 12 * 3600 + 1810);
	num(&d, "300s", 300);
	num(&d, "30", 30);
	num(&d, "0", 0);
	num(&d, "0s", 0);
	num(&d, "1H", 3600);
	num(&d, "10M", 600);
	num(&d, "1W", 604800);
	num(&d, "2D", 172800);
	num(&d, "30m1h", 5400);
	num(&d, "15S", 15);
	bad(&d, "\"\"", "invalid time interval");
	bad(&d, "-1m", "invalid time interval \"-1m\"");
	bad(&d, "1x", "invalid time interval");
	bad(&d, "m", "invalid time interval");
	bad(&d, "1h30", "invalid time interval");
	bad(&d, "1.5h", "invalid time interval");
	bad(&d, "1 h", "too many arguments");
	bad(&d, "1hh", "invalid time interval");
	bad(&d, "1min", "invalid time interval");
	bad(&d, "99999999999999999999", "invalid time interval");
	bad(&d, "9223372036854775807w", "invalid time interval");
	bad(&d, "9223372036854775807s1s", "invalid time interval");
	bad(&d, "never", "invalid time interval");
	bad(&d, "unlimited", "invalid time interval");
	ok(conf_parse_time("1d", &s) == 0 && s == 86400, "conf_parse_time 1d");
	ok(conf_parse_time("", &s) == -1, "conf_parse_time empty fails");
	ok(conf_parse_time("1d ", &s) == -1, "conf_parse_time trailing blank fails");
}

static void
test_time_misc(void)
{
	struct conf_directive d = dir(CONF_T_TIME, CONF_F_NEVER, 0, 0, "never", "");
	struct conf_value v;
	const char *err;

	ok(parse(&d, "never", &v, &err) == 0 && v.never && v.set,
	    "never with CONF_F_NEVER");
	is_str(fmt(&d, &v), "never", "never formats as never");
	good(&d, "NEVER", "never");
	good(&d, "2h", "2h");
	d = dir(CONF_T_TIME, CONF_F_UNLIMITED, 0, 0, "", "");
	good(&d, "unlimited", "unlimited");
	d = dir(CONF_T_TIME, 0, 60, 600, "5m", "");
	num(&d, "1m", 60);
	num(&d, "10m", 600);
	num(&d, "600", 600);
	bad(&d, "59s", "value out of range 1m..10m");
	bad(&d, "10m1s", "value out of range 1m..10m");
	d = dir(CONF_T_TIME, CONF_F_NEVER, 0, 600, "never", "");
	good(&d, "never", "never");
	bad(&d, "11m", "value out of range 0..10m");
}

static void
test_time_format(void)
{
	static const struct {
		long long	 secs;
		const char	*text;
	} cases[] = {
		{ 0, "0" }, { 1, "1s" }, { 59, "59s" }, { 60, "1m" },
		{ 90, "1m30s" }, { 600, "10m" }, { 3600, "1h" }, { 5400, "1h30m" },
		{ 86400, "1d" }, { 86401, "1d1s" }, { 388800, "4d12h" },
		{ 604800, "7d" }, { 691200, "8d" }, { 90061, "1d1h1m1s" },
	};
	struct conf_directive d = dir(CONF_T_TIME, 0, 0, 0, "", "");
	static const char *const trips[] = {
		"0", "1", "30", "300s", "10m", "4d12h", "1w2d12h30m10s", "90",
		"3600", "1W", "86399", "9223372036854775807",
	};
	struct buf b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 64);
		conf_format_time(cases[i].secs, &b);
		is_str(buf_str(&b), cases[i].text, "conf_format_time(%lld)",
		    cases[i].secs);
		buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++)
		round_trip(&d, trips[i]);
	good(&d, "600", "10m");
	good(&d, "1w", "7d");
}

static void
test_time_list(void)
{
	struct conf_directive d = dir(CONF_T_TIME_LIST, 0, 0, 0, "10m", "");
	struct conf_value v;
	const char *err;
	char many[512];

	ok(parse(&d, "10m,10m,20m,1h", &v, &err) == 0 && v.u.nums.n == 4 &&
	    v.u.nums.v[0] == 600 && v.u.nums.v[2] == 1200 &&
	    v.u.nums.v[3] == 3600, "10m,10m,20m,1h");
	is_str(fmt(&d, &v), "10m,10m,20m,1h", "... formats back");
	conf_value_free(&v);
	good(&d, "1h", "1h");
	good(&d, "600,1H,4d12h", "10m,1h,4d12h");
	bad(&d, "10m,,1h", "invalid time interval list \"10m,,1h\"");
	bad(&d, ",10m", "invalid time interval list");
	bad(&d, "10m,", "invalid time interval list");
	bad(&d, "10m,x", "invalid time interval list");
	bad(&d, "10m, 20m", "too many arguments");
	bad(&d, "\"\"", "invalid time interval list");
	repeat_item(many, sizeof(many), "1m", 30);
	ok(parse(&d, many, &v, &err) == 0 && v.u.nums.n == 30,
	    "30 intervals are accepted");
	conf_value_free(&v);
	repeat_item(many, sizeof(many), "1m", 31);
	bad(&d, many, "too many intervals");
	d = dir(CONF_T_TIME_LIST, 0, 60, 3600, "", "");
	good(&d, "1m,1h", "1m,1h");
	bad(&d, "1m,2h", "value out of range 1m..1h");
	d = dir(CONF_T_TIME_LIST, CONF_F_NEVER, 0, 0, "", "");
	good(&d, "never", "never");
}

static void
test_size(void)
{
	struct conf_directive d = dir(CONF_T_SIZE, 0, 0, 0, "", "");
	static const char *const trips[] = {
		"0", "1", "100", "40K", "25M", "1G", "1T", "1536", "1025K",
		"2048T", "9223372036854775807",
	};
	long long n;

	num(&d, "40K", 40960);
	num(&d, "40k", 40960);
	num(&d, "25M", 25LL << 20);
	num(&d, "250m", 250LL << 20);
	num(&d, "1G", 1LL << 30);
	num(&d, "5g", 5LL << 30);
	num(&d, "1T", 1LL << 40);
	num(&d, "100", 100);
	num(&d, "100b", 100);
	num(&d, "100B", 100);
	num(&d, "0", 0);
	num(&d, "52428800", 52428800);
	bad(&d, "\"\"", "invalid size");
	bad(&d, "1.5G", "invalid size \"1.5G\"");
	bad(&d, "10KB", "invalid size");
	bad(&d, "K", "invalid size");
	bad(&d, "-1", "invalid size");
	bad(&d, "10X", "invalid size");
	bad(&d, "9999999T", "invalid size");
	bad(&d, "unlimited", "invalid size");
	good(&d, "1024", "1K");
	good(&d, "1536", "1536");
	good(&d, "52428800", "50M");
	good(&d, "3072M", "3G");
	good(&d, "100b", "100");
	for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++)
		round_trip(&d, trips[i]);
	d = dir(CONF_T_SIZE, CONF_F_UNLIMITED, 1 << 20, 1 << 30, "250M", "");
	good(&d, "unlimited", "unlimited");
	good(&d, "1M", "1M");
	good(&d, "1G", "1G");
	bad(&d, "1023K", "value out of range 1M..1G");
	bad(&d, "1025M", "value out of range 1M..1G");
	ok(conf_parse_size("10M", &n) == 0 && n == 10 << 20, "conf_parse_size 10M");
	ok(conf_parse_size("10 M", &n) == -1, "conf_parse_size '10 M' fails");
}

static void
test_rate_parse(void)
{
	struct conf_directive d = dir(CONF_T_RATE, 0, 0, 0, "", "");
	struct conf_rate r;

	rate(&d, "500/h", 500, 3600);
	rate(&d, "83/10m", 83, 600);
	rate(&d, "100/15m", 100, 900);
	rate(&d, "6/sec", 6, 1);
	rate(&d, "10/m", 10, 60);
	rate(&d, "1/day", 1, 86400);
	rate(&d, "20/min", 20, 60);
	rate(&d, "10/s", 10, 1);
	rate(&d, "1/hr", 1, 3600);
	rate(&d, "3/hour", 3, 3600);
	rate(&d, "2/D", 2, 86400);
	rate(&d, "1/6m", 1, 360);
	rate(&d, "1/5s", 1, 5);
	rate(&d, "5/SEC", 5, 1);
	rate(&d, "25/Min", 25, 60);
	rate(&d, "1/2day", 1, 172800);
	bad(&d, "0/h", "invalid rate \"0/h\"");
	bad(&d, "500", "invalid rate");
	bad(&d, "500/", "invalid rate");
	bad(&d, "/h", "invalid rate");
	bad(&d, "500/x", "invalid rate");
	bad(&d, "500/0m", "invalid rate");
	bad(&d, "500/h2", "invalid rate");
	bad(&d, "-1/h", "invalid rate");
	bad(&d, "500/w", "invalid rate");
	bad(&d, "500/hours", "invalid rate");
	bad(&d, "1.5/h", "invalid rate");
	bad(&d, "500/ h", "too many arguments");
	bad(&d, "0", "invalid rate");
	bad(&d, "unlimited", "invalid rate");
	bad(&d, "99999999999999999999/h", "invalid rate");
	bad(&d, "1/9999999999999999d", "invalid rate");
	ok(conf_parse_rate("300/h", &r) == 0 && r.count == 300 && r.per == 3600,
	    "conf_parse_rate 300/h");
	ok(conf_parse_rate("300/", &r) == -1, "conf_parse_rate 300/ fails");
}

static void
test_rate_misc(void)
{
	struct conf_directive d = dir(CONF_T_RATE, CONF_F_UNLIMITED, 0, 0,
	    "unlimited", "");
	static const char *const trips[] = {
		"500/h", "83/10m", "6/sec", "1/day", "10/m", "1/5s", "1/90s",
		"7/2h", "1/2d", "3/25h", "0", "unlimited",
	};
	struct conf_value v;
	const char *err;

	ok(parse(&d, "0", &v, &err) == 0 && v.unlimited && v.u.rate.per > 0,
	    "0 is unlimited for a rate that takes unlimited");
	is_str(fmt(&d, &v), "unlimited", "... and formats as unlimited");
	conf_value_free(&v);
	good(&d, "unlimited", "unlimited");
	good(&d, "UNLIMITED", "unlimited");
	bad(&d, "0/h", "invalid rate");
	good(&d, "500/h", "500/h");
	good(&d, "83/10m", "83/10m");
	good(&d, "6/sec", "6/s");
	good(&d, "1/day", "1/d");
	good(&d, "1/60s", "1/m");
	good(&d, "1/120m", "1/2h");
	good(&d, "1/90s", "1/90s");
	good(&d, "1/24h", "1/d");
	good(&d, "2/1h", "2/h");
	for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++)
		round_trip(&d, trips[i]);
	memset(&v, 0, sizeof(v));
	is_str(fmt(&d, &v), "unlimited", "an unset rate formats its default");
}

static void
test_data_rate(void)
{
	struct conf_directive d = dir(CONF_T_DATA_RATE, CONF_F_UNLIMITED, 0, 0,
	    "unlimited", "");
	static const char *const trips[] = {
		"12M/m", "2g/10h", "1T/7d", "500/s", "1536/90s", "0", "1K/hr",
	};
	struct conf_rate r;

	rate(&d, "12M/m", 12LL << 20, 60);
	rate(&d, "2g/10h", 2LL << 30, 36000);
	rate(&d, "1T/7d", 1LL << 40, 604800);
	rate(&d, "500/s", 500, 1);
	rate(&d, "10k/min", 10240, 60);
	good(&d, "0", "unlimited");
	good(&d, "unlimited", "unlimited");
	good(&d, "12M/m", "12M/m");
	good(&d, "2g/10h", "2G/10h");
	good(&d, "1536/sec", "1536/s");
	bad(&d, "0M/h", "invalid data rate \"0M/h\"");
	bad(&d, "12M", "invalid data rate");
	bad(&d, "12X/m", "invalid data rate");
	bad(&d, "12M/", "invalid data rate");
	bad(&d, "12M/w", "invalid data rate");
	for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++)
		round_trip(&d, trips[i]);
	d.flags = 0;
	bad(&d, "0", "invalid data rate");
	bad(&d, "unlimited", "invalid data rate");
	ok(conf_parse_data_rate("1M/h", &r) == 0 && r.count == 1 << 20 &&
	    r.per == 3600, "conf_parse_data_rate 1M/h");
}

static void
test_daily(void)
{
	struct conf_directive d = dir(CONF_T_DAILY, 0, 0, 0, "0/d", "");
	struct conf_value v;
	const char *err;
	char many[4096];

	ok(parse(&d, "1/day,2/day,3/day", &v, &err) == 0 && v.u.nums.n == 3 &&
	    v.u.nums.v[0] == 1 && v.u.nums.v[2] == 3, "1/day,2/day,3/day");
	is_str(fmt(&d, &v), "1/d,2/d,3/d", "... formats as 1/d,2/d,3/d");
	conf_value_free(&v);
	good(&d, "400/DAY", "400/d");
	good(&d, "0/d", "0/d");
	good(&d, "50/day,100/D", "50/d,100/d");
	bad(&d, "1/h", "invalid daily limit list \"1/h\"");
	bad(&d, "1/2d", "invalid daily limit list");
	bad(&d, "1/day,", "invalid daily limit list");
	bad(&d, "x/day", "invalid daily limit list");
	bad(&d, "\"\"", "invalid daily limit list");
	bad(&d, "1/day, 2/day", "too many arguments");
	repeat_item(many, sizeof(many), "1/d", 366);
	ok(parse(&d, many, &v, &err) == 0 && v.u.nums.n == 366,
	    "366 days are accepted");
	conf_value_free(&v);
	repeat_item(many, sizeof(many), "1/d", 367);
	bad(&d, many, "too many days");
	memset(&v, 0, sizeof(v));
	is_str(fmt(&d, &v), "0/d", "unset: the default");
}

static void
test_strings(void)
{
	struct conf_directive d = dir(CONF_T_STRING, 0, 0, 0, "", "");
	struct conf_value v;
	const char *err;
	char *args[1] = { (char *)"Postmaster <x@example.com>" };

	good(&d, "abc", "abc");
	good(&d, "\"\"", "\"\"");
	good(&d, "c:\\my\\acct.csv", "c:\\my\\acct.csv");
	ok(conf_value_parse(&d, args, 1, &v, &err) == 0 &&
	    strcmp(v.u.s, "Postmaster <x@example.com>") == 0,
	    "a string with blanks is kept as written");
	is_str(fmt(&d, &v), "\"Postmaster <x@example.com>\"",
	    "... and formats quoted");
	conf_value_free(&v);
	args[0] = (char *)"say \"hi\" \\ # x";
	ok(conf_value_parse(&d, args, 1, &v, &err) == 0, "quotes and '#'");
	is_str(fmt(&d, &v), "\"say \\\"hi\\\" \\\\ # x\"", "... are escaped");
	conf_value_free(&v);
	d = dir(CONF_T_PATH, 0, 0, 0, "", "");
	good(&d, "/var/spool/tern", "/var/spool/tern");
	good(&d, "|/usr/bin/logger", "|/usr/bin/logger");
	bad(&d, "\"\"", "empty path");
	bad(&d, "/a /b", "too many arguments");
}

static void
test_words(void)
{
	struct conf_directive d = dir(CONF_T_WORDS, 0, 0, 0, "d,b", "");
	struct conf_value v;
	const char *err;

	ok(parse(&d, "d,b", &v, &err) == 0 && v.u.list.n == 1 &&
	    strcmp(v.u.list.v[0], "d,b") == 0, "words: one word kept as written");
	conf_value_free(&v);
	ok(parse(&d, "d b t", &v, &err) == 0 && v.u.list.n == 3 &&
	    strcmp(v.u.list.v[2], "t") == 0, "words: three words");
	is_str(fmt(&d, &v), "d,b,t", "words format comma-separated");
	conf_value_free(&v);
	ok(parse(&d, "\"\"", &v, &err) == 0 && v.set && v.u.list.n == 0,
	    "words: \"\" clears");
	is_str(fmt(&d, &v), "\"\"", "an empty list formats as \"\"");
	conf_value_free(&v);
	memset(&v, 0, sizeof(v));
	is_str(fmt(&d, &v), "d,b", "words: unset formats the default");
	d = dir(CONF_T_RAW, 0, 0, 0, "", "");
	ok(parse(&d, "1.2.3.4 out.example.com", &v, &err) == 0 &&
	    v.u.list.n == 2, "raw: two words");
	is_str(fmt(&d, &v), "1.2.3.4 out.example.com", "raw formats with blanks");
	conf_value_free(&v);
	ok(parse(&d, "\"\"", &v, &err) == 0 && v.u.list.n == 1 &&
	    v.u.list.v[0][0] == '\0', "raw: \"\" is kept as a word");
	conf_value_free(&v);
	bad(&d, "", "argument missing");
}

static void
test_enum(void)
{
	struct conf_directive d = dir(CONF_T_ENUM, 0, 0, 0, "standard",
	    "standard|plain-text");
	struct conf_value v;
	const char *err;

	good(&d, "standard", "standard");
	ok(parse(&d, "PLAIN-TEXT", &v, &err) == 0 &&
	    strcmp(v.u.s, "plain-text") == 0, "enum: any case, stored as listed");
	conf_value_free(&v);
	bad(&d, "plain", "expected one of standard|plain-text");
	bad(&d, "standard|plain-text", "expected one of");
	bad(&d, "\"\"", "expected one of");
	bad(&d, "yes", "expected one of");
	bad(&d, "plain-textx", "expected one of");
	d.choices = "";
	bad(&d, "standard", "expected one of");
	d = dir(CONF_T_BOOL_OR_ENUM, 0, 0, 0, "no", "if-x-dkim-options-present");
	ok(parse(&d, "Yes", &v, &err) == 0 && v.is_bool && v.u.b,
	    "bool-or-enum: a bool");
	is_str(fmt(&d, &v), "yes", "... formats as yes");
	conf_value_free(&v);
	ok(parse(&d, "If-X-DKIM-Options-Present", &v, &err) == 0 && !v.is_bool &&
	    strcmp(v.u.s, "if-x-dkim-options-present") == 0,
	    "bool-or-enum: a choice");
	is_str(fmt(&d, &v), "if-x-dkim-options-present", "... formats as listed");
	conf_value_free(&v);
	good(&d, "false", "no");
	bad(&d, "maybe", "expected yes, no, true, false or one of");
}

static void
test_bool_or_time(void)
{
	struct conf_directive d = dir(CONF_T_BOOL_OR_TIME, 0, 0, 0, "no", "");
	struct conf_value v;
	const char *err;

	ok(parse(&d, "yes", &v, &err) == 0 && v.is_bool && v.u.b,
	    "bool-or-time: yes");
	conf_value_free(&v);
	ok(parse(&d, "2h", &v, &err) == 0 && !v.is_bool && v.u.i == 7200,
	    "bool-or-time: 2h");
	is_str(fmt(&d, &v), "2h", "... formats as 2h");
	conf_value_free(&v);
	good(&d, "FALSE", "no");
	good(&d, "90", "1m30s");
	good(&d, "0", "0");
	bad(&d, "x", "expected yes, no, true, false or a time interval");
	bad(&d, "never", "expected yes, no");
	round_trip(&d, "4d12h");
	d = dir(CONF_T_BOOL_OR_TIME, CONF_F_NEVER, 0, 3600, "no", "");
	good(&d, "never", "never");
	good(&d, "true", "yes");
	bad(&d, "2h", "value out of range 0..1h");
}

static void
test_email(void)
{
	struct conf_directive d = dir(CONF_T_EMAIL, 0, 0, 0, "", "");
	struct conf_value v;
	const char *err;

	good(&d, "postmaster@example.com", "postmaster@example.com");
	good(&d, "@example.net", "@example.net");
	good(&d, "*@example.org", "*@example.org");
	good(&d, "abuse@PLACEHOLDER", "abuse@PLACEHOLDER");
	good(&d, "\"a@b\"@c.d", "\"\\\"a@b\\\"@c.d\"");
	bad(&d, "example.com", "invalid address \"example.com\"");
	bad(&d, "a@", "invalid address");
	bad(&d, "\"\"", "invalid address");
	bad(&d, "a@b c@d", "too many arguments");
	d = dir(CONF_T_EMAIL_LIST, 0, 0, 0, "", "");
	ok(parse(&d, "a@b.c, d@e.f", &v, &err) == 0 && v.u.list.n == 2 &&
	    strcmp(v.u.list.v[1], "d@e.f") == 0, "email list: 'a@b.c, d@e.f'");
	is_str(fmt(&d, &v), "a@b.c,d@e.f", "... formats comma-separated");
	conf_value_free(&v);
	good(&d, "a@b,c@d", "a@b,c@d");
	good(&d, "a@b ,c@d", "a@b,c@d");
	good(&d, "a@b , c@d", "a@b,c@d");
	good(&d, "\"\"", "\"\"");
	bad(&d, "a@b,,c@d", "empty entry in list");
	bad(&d, "a@b,", "empty entry in list");
	bad(&d, ",a@b", "empty entry in list");
	bad(&d, "a@b c@d", "expected ','");
	bad(&d, "a@b,x", "invalid address \"x\"");
}

static void
test_cidr(void)
{
	struct conf_directive d = dir(CONF_T_CIDR, 0, 0, 0, "", "");

	good(&d, "10/8", "10/8");
	good(&d, "0/0", "0/0");
	good(&d, "10.0.0.5", "10.0.0.5");
	good(&d, "10.0.0.0/8", "10.0.0.0/8");
	good(&d, "173.194/16", "173.194/16");
	good(&d, "2001:db8::/32", "2001:db8::/32");
	good(&d, "::1", "::1");
	bad(&d, "10/33", "invalid IP address or range \"10/33\"");
	bad(&d, "1.2.3.4.5", "invalid IP address or range");
	bad(&d, "host.example.com", "invalid IP address or range");
	bad(&d, "\"\"", "invalid IP address or range");
	bad(&d, "10/8 11/8", "too many arguments");
}

static void
test_listener(void)
{
	struct conf_directive d = dir(CONF_T_LISTENER, 0, 0, 0, "0/0:25", "");
	struct conf_value v;
	const char *err;

	good(&d, "0/0:25", "0/0:25");
	good(&d, "1.2.3.4:25", "1.2.3.4:25");
	good(&d, "0.0.0.0:2525", "0.0.0.0:2525");
	good(&d, "10.1.0.0/16:25", "10.1.0.0/16:25");
	good(&d, "[::1]:25", "[::1]:25");
	good(&d, "[IPv6:2001:db8::/32]:587", "[IPv6:2001:db8::/32]:587");
	good(&d, "0/0:2525 tls=no", "0/0:2525 tls=no");
	ok(parse(&d, "0/0:25 source=local tls=yes", &v, &err) == 0 &&
	    v.u.list.n == 3 && strcmp(v.u.list.v[0], "0/0:25") == 0 &&
	    strcmp(v.u.list.v[1], "source=local") == 0,
	    "listener: the address and key=value words");
	conf_value_free(&v);
	bad(&d, "0/0", "expected CIDR:PORT, not \"0/0\"");
	bad(&d, "0/0:0", "invalid port in \"0/0:0\"");
	bad(&d, "0/0:65536", "invalid port");
	bad(&d, "0/0:", "invalid port");
	bad(&d, "::1:25", "expected CIDR:PORT");
	bad(&d, "host.example.com:25", "invalid address in");
	bad(&d, "[::1]", "expected CIDR:PORT");
	bad(&d, "[::1]25", "expected CIDR:PORT");
	bad(&d, "[]:25", "expected CIDR:PORT");
	bad(&d, "[::1/200]:25", "invalid address");
	bad(&d, "[::1]:x", "invalid port");
	bad(&d, ":25", "expected CIDR:PORT");
	bad(&d, "10.0.0.0/33:25", "invalid address");
	bad(&d, "0/0:25 source", "expected key=value, not \"source\"");
	bad(&d, "0/0:25 =x", "expected key=value");
	bad(&d, "0/0:25 x=", "expected key=value");
	bad(&d, "", "argument missing");
}

static void
test_hosts_parse(void)
{
	struct conf_directive d = dir(CONF_T_HOST_LIST, 0, 0, 0, "", "");
	struct conf_value v;
	const char *err;
	struct conf_host *h;

	ok(parse(&d, "[127.0.0.1]:2526; mx2.example.com:25", &v, &err) == 0 &&
	    v.u.hosts.n == 2, "[127.0.0.1]:2526; mx2.example.com:25");
	h = v.u.hosts.v;
	ok(strcmp(h[0].name, "127.0.0.1") == 0 && h[0].port == 2526 &&
	    h[0].level == 0 && !h[0].lookup_mx, "... the literal, its port");
	ok(strcmp(h[1].name, "mx2.example.com") == 0 && h[1].port == 25 &&
	    h[1].level == 1, "... the next level");
	is_str(fmt(&d, &v), "[127.0.0.1]:2526;mx2.example.com:25", "... formats");
	conf_value_free(&v);
	ok(parse(&d, "a, b; c", &v, &err) == 0 && v.u.hosts.n == 3 &&
	    v.u.hosts.v[1].level == 0 && v.u.hosts.v[2].level == 1 &&
	    v.u.hosts.v[0].port == 0, "'a, b; c' (args a, b; c)");
	is_str(fmt(&d, &v), "a,b;c", "... formats as a,b;c");
	conf_value_free(&v);
	ok(parse(&d, "lookup-mx:other.domain", &v, &err) == 0 &&
	    v.u.hosts.n == 1 && v.u.hosts.v[0].lookup_mx &&
	    strcmp(v.u.hosts.v[0].name, "other.domain") == 0, "lookup-mx:domain");
	conf_value_free(&v);
	ok(parse(&d, "[IPv6:2001:db8::1]:25", &v, &err) == 0 &&
	    strcmp(v.u.hosts.v[0].name, "2001:db8::1") == 0 &&
	    v.u.hosts.v[0].port == 25, "[IPv6:2001:db8::1]:25");
	conf_value_free(&v);
	ok(parse(&d, "\"\"", &v, &err) == 0 && v.set && v.u.hosts.n == 0,
	    "\"\" clears the host list");
	is_str(fmt(&d, &v), "\"\"", "... and formats as \"\"");
	conf_value_free(&v);
	good(&d, "a ; b", "a;b");
	good(&d, "a,b,c;d;e,f", "a,b,c;d;e,f");
	good(&d, "LOOKUP-MX:x.example:2525", "lookup-mx:x.example:2525");
	good(&d, "[2001:db8::1]", "[IPv6:2001:db8::1]");
	good(&d, "5.181.234.238:22400", "[5.181.234.238]:22400");
	good(&d, "yahoo.com", "yahoo.com");
	good(&d, "smtp.sparkpostmail.com:587", "smtp.sparkpostmail.com:587");
	good(&d, "[10.1.1.1]", "[10.1.1.1]");
	good(&d, "h1,h2;[10.1.1.1]:2525;last", "h1,h2;[10.1.1.1]:2525;last");
	good(&d, "b\xc3\xbc" "cher.de", "b\xc3\xbc" "cher.de");
}

static void
test_hosts_bad(void)
{
	struct conf_directive d = dir(CONF_T_HOST_LIST, 0, 0, 0, "", "");
	static const char *const trips[] = {
		"a", "a,b;c", "[127.0.0.1]:2526;mx2.example.com:25",
		"lookup-mx:x.y", "lookup-mx:x.y:26", "[IPv6:2001:db8::1]:25",
		"[::1]", "1.2.3.4:25", "h1,h2;[10.1.1.1]:2525;last",
	};
	struct conf_host *hosts;
	char *args[3] = { (char *)"a,", (char *)"b;", (char *)"c" };
	const char *err;
	size_t n;

	bad(&d, "a,,b", "empty entry in host list");
	bad(&d, ",a", "empty entry in host list");
	bad(&d, "a,", "empty entry in host list");
	bad(&d, "a;", "empty entry in host list");
	bad(&d, "a;;b", "empty entry in host list");
	bad(&d, "a b", "expected ',' or ';' between hosts");
	bad(&d, "[1.2.3.4", "invalid host \"[1.2.3.4\"");
	bad(&d, "[1.2.3.4]x", "invalid host");
	bad(&d, "[host.example]", "invalid host");
	bad(&d, "[1.2.3.256]", "invalid host");
	bad(&d, "2001:db8::1", "invalid host");
	bad(&d, "a:0", "invalid port in \"a:0\"");
	bad(&d, "a:65536", "invalid port");
	bad(&d, "a:x", "invalid port");
	bad(&d, "a:", "invalid port");
	bad(&d, "a..b", "invalid host");
	bad(&d, "lookup-mx:", "invalid host");
	bad(&d, "a!b", "invalid host");
	bad(&d, ";", "empty entry in host list");
	for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++)
		round_trip(&d, trips[i]);
	ok(conf_parse_host_list(args, 3, &hosts, &n, &err) == 0 && n == 3 &&
	    hosts[2].level == 1, "conf_parse_host_list on three args");
	for (size_t i = 0; i < n; i++)
		free(hosts[i].name);
	free(hosts);
	ok(conf_parse_host_list(args, 0, &hosts, &n, &err) == -1 &&
	    hosts == NULL && n == 0, "conf_parse_host_list without args fails");
}

static void
test_domain(void)
{
	static const char *const goods[] = {
		"*", "example.com", "*.example.com", "[*.]example.com",
		"[127.0.0.1]", "[0/0]", "[10.0.0.0/8]", "[IPv6:2001:db8::1]",
		"{sparkpost}", "{feedbackLoop}", "{bounce}", "local", "localhost",
		"b\xc3\xbc" "cher.de", "$hotmail", "yahoo.$topLevel",
		"hotmail.queue", "gmail.rollup", "_dmarc.example.com", "EXAMPLE.COM",
	};
	static const char *const bads[] = {
		"", "*example.com", "a*.com", "ex ample.com", "[*.]", "*.", "**",
		"[1.2.3.4", "{}", "{a b}", "{a", "a..b", ".a", "a.", "$", "[host]",
		"a/b", "[*.]*.a", "*.*", "x.$", "$a-b",
	};
	struct conf_directive d = dir(CONF_T_DOMAIN, 0, 0, 0, "", "");
	char longname[300];

	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
		ok(conf_domain_pattern_valid(goods[i]), "domain pattern '%s'",
		    goods[i]);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		ok(!conf_domain_pattern_valid(bads[i]), "not a domain pattern '%s'",
		    bads[i]);
	memset(longname, 'a', 64);
	longname[64] = '\0';
	ok(!conf_domain_pattern_valid(longname), "a 64-byte label is too long");
	longname[63] = '\0';
	ok(conf_domain_pattern_valid(longname), "a 63-byte label is fine");
	memset(longname, 'a', 256);
	for (int i = 1; i <= 3; i++)
		longname[i * 64 - 1] = '.';
	longname[256] = '\0';
	ok(!conf_domain_pattern_valid(longname), "a 256-byte name is too long");
	good(&d, "[*.]example.com", "[*.]example.com");
	bad(&d, "a*.com", "invalid domain pattern \"a*.com\"");
	bad(&d, "a.com b.com", "too many arguments");
	d = dir(CONF_T_DOMAIN_LIST, 0, 0, 0, "", "");
	good(&d, "a.com, b.com", "a.com,b.com");
	good(&d, "a.com b.com *.c.com", "a.com,b.com,*.c.com");
	good(&d, "a.com,[*.]b.com", "a.com,[*.]b.com");
	good(&d, "\"\"", "\"\"");
	bad(&d, "a.com,,b.com", "empty entry in list");
	bad(&d, "a.com,", "empty entry in list");
	bad(&d, "a.com a*b", "invalid domain pattern \"a*b\"");
}

static void
test_regex(void)
{
	struct conf_directive d = dir(CONF_T_REGEX, 0, 0, 0, "", "");
	char *args[1] = { (char *)"/exceeded the rate limit/" };
	struct conf_value v;
	const char *err;

	good(&d, "/abc/", "/abc/");
	good(&d, "/^421/i", "/^421/i");
	good(&d, "/a\\/b/", "/a\\/b/");
	good(&d, "//", "//");
	good(&d, "/x/imsx", "/x/imsx");
	good(&d, "/(?<dlvSourceIp>[0-9.]+)/", "/(?<dlvSourceIp>[0-9.]+)/");
	good(&d, "/\\x23/", "/\\x23/");
	ok(conf_value_parse(&d, args, 1, &v, &err) == 0,
	    "a regex with blanks (quoted in the file)");
	is_str(fmt(&d, &v), "\"/exceeded the rate limit/\"", "... formats quoted");
	conf_value_free(&v);
	bad(&d, "abc", "expected /regex/, not \"abc\"");
	bad(&d, "/abc", "expected /regex/");
	bad(&d, "/", "expected /regex/");
	bad(&d, "\"\"", "expected /regex/");
	bad(&d, "/(/", "invalid regular expression");
	bad(&d, "/[a/", "invalid regular expression");
	bad(&d, "/a/q", "unknown regex flag");
}

static void
test_repeat(void)
{
	struct conf_directive d = dir(CONF_T_EMAIL, CONF_F_REPEAT, 0, 0, "", "");
	struct conf_value v;
	const char *err;

	memset(&v, 0, sizeof(v));
	v.file = "x.conf";
	v.line = 7;
	ok(parse_into(&d, "a@b.c", &v, &err) == 0 && v.set &&
	    v.type == CONF_T_WORDS && v.u.list.n == 1, "repeat: first line");
	ok(parse_into(&d, "x@y.z", &v, &err) == 0 && v.u.list.n == 2 &&
	    strcmp(v.u.list.v[1], "x@y.z") == 0, "repeat: second line appends");
	is_str(fmt(&d, &v), "a@b.c,x@y.z", "repeat: formats comma-separated");
	ok(parse_into(&d, "bad", &v, &err) == -1 && v.u.list.n == 2,
	    "repeat: each line is checked as its type; a bad one adds nothing");
	ok(err != NULL && strstr(err, "invalid address") != NULL,
	    "... with the type's error");
	ok(parse_into(&d, "a@b c@d", &v, &err) == -1 && v.u.list.n == 2 &&
	    strcmp(err, "too many arguments") == 0,
	    "repeat: a single-value type still takes one word");
	ok(strcmp(v.file, "x.conf") == 0 && v.line == 7,
	    "repeat: file and line are kept");
	ok(parse_into(&d, "\"\"", &v, &err) == 0 && v.set && v.u.list.n == 0,
	    "repeat: \"\" clears the list");
	is_str(fmt(&d, &v), "\"\"", "... which formats as \"\"");
	conf_value_free(&v);
	ok(is_zero(&v), "free leaves a zeroed value");
	d = dir(CONF_T_LISTENER, CONF_F_REPEAT, 0, 0, "0/0:25", "");
	memset(&v, 0, sizeof(v));
	is_str(fmt(&d, &v), "0/0:25", "repeat: unset formats the default");
	ok(parse_into(&d, "0/0:25 source=x", &v, &err) == 0 &&
	    parse_into(&d, "1.2.3.4:2525", &v, &err) == 0 && v.u.list.n == 2 &&
	    strcmp(v.u.list.v[0], "0/0:25 source=x") == 0,
	    "repeat listener: one entry per line, words joined by a blank");
	is_str(fmt(&d, &v), "0/0:25 source=x,1.2.3.4:2525", "... formats");
	ok(parse_into(&d, "0/0", &v, &err) == -1 && v.u.list.n == 2,
	    "repeat listener: a bad address is rejected");
	conf_value_free(&v);
	d = dir(CONF_T_CIDR, CONF_F_REPEAT, 0, 0, "", "");
	bad(&d, "10/33", "invalid IP address or range");
	good(&d, "10/8", "10/8");
	d = dir(CONF_T_RAW, CONF_F_REPEAT, 0, 0, "", "");
	good(&d, "1.2.3.4 out.example.com", "1.2.3.4 out.example.com");
	d = dir(CONF_T_FLAG, CONF_F_REPEAT, 0, 0, "", "");
	bad(&d, "x", "too many arguments");
}

static void
test_replace(void)
{
	struct conf_directive d = dir(CONF_T_TIME, 0, 0, 0, "", "");
	struct conf_directive s = dir(CONF_T_STRING, 0, 0, 0, "", "");
	struct conf_value v;
	const char *err;

	ok(parse(&d, "10m", &v, &err) == 0, "a first value");
	v.file = "a.conf";
	v.line = 3;
	ok(parse_into(&d, "1h", &v, &err) == 0 && v.u.i == 3600,
	    "parsing again replaces the value");
	ok(v.file != NULL && strcmp(v.file, "a.conf") == 0 && v.line == 3,
	    "... keeping file and line");
	ok(parse_into(&d, "x", &v, &err) == -1 && v.u.i == 3600 && v.set,
	    "a failed parse leaves the value as it was");
	conf_value_free(&v);
	ok(parse(&s, "one", &v, &err) == 0 && parse_into(&s, "two", &v, &err) == 0 &&
	    strcmp(v.u.s, "two") == 0, "a string replaced (no leak under ASan)");
	conf_value_free(&v);
}

/* copy, free the original, the copy still formats the same; free it. */
static void
copy_check(const struct conf_directive *d, const char *s)
{
	struct conf_value v, c;
	const char *err;
	char before[4096];

	ok(parse(d, s, &v, &err) == 0, "copy: parse '%s'", s);
	snprintf(before, sizeof(before), "%s", fmt(d, &v));
	conf_value_copy(&c, &v);
	conf_value_free(&v);
	ok(is_zero(&v), "copy: the freed original is zeroed ('%s')", s);
	is_str(fmt(d, &c), before, "copy: '%s' survives the original", s);
	conf_value_free(&c);
	ok(is_zero(&c), "copy: the freed copy is zeroed ('%s')", s);
}

static void
test_copy(void)
{
	struct conf_directive d;
	struct conf_value v, c;

	d = dir(CONF_T_STRING, 0, 0, 0, "", "");
	copy_check(&d, "hello");
	d = dir(CONF_T_TIME_LIST, 0, 0, 0, "", "");
	copy_check(&d, "10m,20m,1h");
	d = dir(CONF_T_DAILY, 0, 0, 0, "", "");
	copy_check(&d, "1/d,2/d");
	d = dir(CONF_T_WORDS, 0, 0, 0, "", "");
	copy_check(&d, "a b c");
	copy_check(&d, "\"\"");
	d = dir(CONF_T_EMAIL_LIST, 0, 0, 0, "", "");
	copy_check(&d, "a@b,c@d");
	d = dir(CONF_T_HOST_LIST, 0, 0, 0, "", "");
	copy_check(&d, "a, b; [1.2.3.4]:25; lookup-mx:x.y");
	copy_check(&d, "\"\"");
	d = dir(CONF_T_BOOL_OR_ENUM, 0, 0, 0, "", "a|b");
	copy_check(&d, "yes");
	copy_check(&d, "B");
	d = dir(CONF_T_RATE, CONF_F_UNLIMITED, 0, 0, "", "");
	copy_check(&d, "83/10m");
	copy_check(&d, "unlimited");
	d = dir(CONF_T_LISTENER, 0, 0, 0, "", "");
	copy_check(&d, "0/0:25 source=x");
	d = dir(CONF_T_REGEX, 0, 0, 0, "", "");
	copy_check(&d, "/a+/i");
	d = dir(CONF_T_EMAIL, CONF_F_REPEAT, 0, 0, "", "");
	memset(&v, 0, sizeof(v));
	(void)parse_into(&d, "a@b", &v, (const char *[]){ NULL });
	(void)parse_into(&d, "c@d", &v, (const char *[]){ NULL });
	conf_value_copy(&c, &v);
	conf_value_free(&v);
	ok(c.u.list.n == 2 && strcmp(c.u.list.v[1], "c@d") == 0,
	    "copy: a repeated directive's lines");
	conf_value_free(&c);
	memset(&v, 0, sizeof(v));
	conf_value_copy(&c, &v);
	ok(is_zero(&c), "copy: a zeroed value copies as zeroed");
	conf_value_free(&c);
}

static void
test_format_helpers(void)
{
	struct conf_rate r = { 83, 600 };
	struct buf b;

	buf_init(&b, 64);
	conf_format_rate(&r, &b);
	is_str(buf_str(&b), "83/10m", "conf_format_rate 83/10m");
	buf_reset(&b);
	r.count = 500;
	r.per = 3600;
	conf_format_rate(&r, &b);
	is_str(buf_str(&b), "500/h", "conf_format_rate 500/h");
	buf_reset(&b);
	r.per = 86400 * 7;
	conf_format_rate(&r, &b);
	is_str(buf_str(&b), "500/7d", "conf_format_rate 500/7d");
	buf_reset(&b);
	conf_format_size(10 << 20, &b);
	is_str(buf_str(&b), "10M", "conf_format_size 10M");
	buf_reset(&b);
	conf_format_size(0, &b);
	is_str(buf_str(&b), "0", "conf_format_size 0");
	buf_reset(&b);
	conf_format_size(1000, &b);
	is_str(buf_str(&b), "1000", "conf_format_size 1000");
	buf_free(&b);
	buf_init(&b, 3);
	conf_format_time(388800, &b);
	ok(b.err, "formatting past the buffer's cap is reported");
	buf_free(&b);
}

static void
test_errors(void)
{
	struct conf_directive d = dir(CONF_T_TIME, 0, 0, 0, "", "");
	struct conf_value v;
	const char *err;
	char longword[200];

	memset(longword, 'x', sizeof(longword) - 1);
	longword[sizeof(longword) - 1] = '\0';
	ok(parse(&d, longword, &v, &err) == -1 && strlen(err) < 120 &&
	    strstr(err, "...\"") != NULL, "a long value is cut in the error");
	ok(parse(&d, "1\x01h", &v, &err) == -1 && strstr(err, "1?h") != NULL,
	    "control characters are not copied into errors");
}

int
main(void)
{
	test_counts();
	test_bool();
	test_int();
	test_time_parse();
	test_time_misc();
	test_time_format();
	test_time_list();
	test_size();
	test_rate_parse();
	test_rate_misc();
	test_data_rate();
	test_daily();
	test_strings();
	test_words();
	test_enum();
	test_bool_or_time();
	test_email();
	test_cidr();
	test_listener();
	test_hosts_parse();
	test_hosts_bad();
	test_domain();
	test_regex();
	test_repeat();
	test_replace();
	test_copy();
	test_format_helpers();
	test_errors();
	return done_testing();
}
