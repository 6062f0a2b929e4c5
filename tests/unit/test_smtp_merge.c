/*
 * Unit tests for smtp/smtp_merge: XDFN arguments (quoting, case, the
 * reserved names, the habits of pmta-interfaces §4.2), *parts lists,
 * template expansion (fed whole and byte by byte), VERP.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_merge.h"
#include "tap.h"

/* XDFN arg into a fresh set; the return value of smtp_merge_xdfn. */
static int
xdfn(struct smtp_merge_vars *v, const char *arg, const char **err)
{
	*err = NULL;
	return smtp_merge_xdfn(arg, strlen(arg), v, err);
}

static const char *
get(const struct smtp_merge_vars *v, const char *name)
{
	return smtp_merge_vars_get(v, name, strlen(name), NULL);
}

/* Expand text with v (whole, or one byte at a time) into a string. */
static const char *
expand(const struct smtp_merge_vars *v, bool keep, const char *text,
    bool bytewise)
{
	static char out[4096];
	struct smtp_merge_expand x;
	struct buf b;
	size_t len = strlen(text), i = 0, step, used;

	buf_init(&b, sizeof(out) - 1 + SMTP_MERGE_SET_MAX);
	smtp_merge_expand_init(&x, NULL, v, keep);
	while (i < len) {
		step = bytewise ? 1 : len - i;
		used = smtp_merge_expand_feed(&x, text + i, step, &b, sizeof(out) - 1);
		if (used == (size_t)-1)
			return "(error)";
		i += used;
	}
	if (smtp_merge_expand_end(&x, &b) == -1 || b.len >= sizeof(out))
		return "(error)";
	memcpy(out, buf_str(&b), b.len + 1);
	buf_free(&b);
	return out;
}

static void
test_xdfn(void)
{
	struct smtp_merge_vars v;
	const char *err;

	smtp_merge_vars_init(&v);
	is_int(xdfn(&v, "Name=\"John Smith\" city=Paris", &err), 0,
	    "two pairs, one quoted with a space");
	is_str(get(&v, "name"), "John Smith", "a quoted value keeps its blanks");
	is_str(get(&v, "CITY"), "Paris", "names compare without case");
	is_int(xdfn(&v, " *vmta=mta1   *parts=\"1-3\" ", &err), 0,
	    "unquoted *vmta, quoted *parts, runs of spaces");
	is_str(get(&v, "*VMTA"), "mta1", "reserved names without case");
	is_str(get(&v, "*parts"), "1-3", "quotes removed");
	is_int(xdfn(&v, "name=Jane", &err), 0, "a name defined again");
	is_str(get(&v, "Name"), "Jane", "the last definition wins");
	is_int(xdfn(&v, "empty=\"\" bare=", &err), 0, "empty values");
	is_str(get(&v, "empty"), "", "an empty quoted value");
	is_str(get(&v, "bare"), "", "an empty bare value");
	is_int(xdfn(&v, "q=\"he said \"hi\"\" r=1", &err), 0,
	    "a quote not followed by a blank is content");
	is_str(get(&v, "q"), "he said \"hi\"", "inner quotes kept");
	is_int(xdfn(&v, "q=\"a \"b\" c\"", &err), -1,
	    "a quote followed by a blank ends the value (no escapes)");
	is_int(xdfn(&v, "*from=<b@x.test> *priority=7", &err), 0,
	    "*from with brackets, *priority");
	is_str(get(&v, "*from"), "b@x.test", "*from is stored bare");
	is_int(xdfn(&v, "*from=c@x.test", &err), 0, "*from without brackets");
	is_str(get(&v, "*from"), "c@x.test", "a bare *from");
	is_int(xdfn(&v, "*to=x@y *date=now", &err), 0,
	    "*to and *date are accepted ...");
	ok(get(&v, "*to") == NULL && get(&v, "*date") == NULL,
	    "... and ignored (the server sets them)");

	smtp_merge_vars_reset(&v);
	is_int(xdfn(&v, "a=1 b", &err), -1, "a word without '='");
	ok(err != NULL && get(&v, "a") == NULL,
	    "a bad line adds nothing, not even its good pairs");
	is_int(xdfn(&v, "1a=x", &err), -1, "a name starting with a digit");
	is_int(xdfn(&v, "first-name=x", &err), -1, "a '-' in a name");
	is_int(xdfn(&v, "=x", &err), -1, "no name");
	is_int(xdfn(&v, "*nosuch=x", &err), -1, "an unknown reserved name");
	is_str(err, "unknown reserved variable", "its reason");
	is_int(xdfn(&v, "a=\"open", &err), -1, "an unterminated quote");
	is_int(xdfn(&v, "*parts=1-", &err), -1, "a bad *parts");
	is_int(xdfn(&v, "*priority=101", &err), -1, "*priority out of range");
	is_int(xdfn(&v, "*priority=0", &err), -1, "*priority 0");
	is_int(xdfn(&v, "*from=<a@b", &err), -1, "a bad *from");
	is_int((long long)v.n, 0, "the set stayed empty");

	(void)xdfn(&v, "a=1 b=2", &err);
	(void)xdfn(&v, "c=3", &err);
	smtp_merge_vars_truncate(&v, 2);
	ok(v.n == 2 && get(&v, "c") == NULL && strcmp(get(&v, "b"), "2") == 0,
	    "truncate drops the later definitions");
	is_int(xdfn(&v, "d=4", &err), 0, "and the set goes on");
	is_str(get(&v, "d"), "4", "after a truncation");
	smtp_merge_vars_free(&v);
}

static void
test_caps(void)
{
	struct smtp_merge_vars v, w;
	char line[300], big[SMTP_MERGE_SET_MAX];
	const char *err;
	int i, r = 0;

	smtp_merge_vars_init(&v);
	for (i = 0; i < SMTP_MERGE_VARS_MAX && r == 0; i++) {
		snprintf(line, sizeof(line), "v%d=%d", i, i);
		r = xdfn(&v, line, &err);
	}
	is_int(r, 0, "%d definitions fit", SMTP_MERGE_VARS_MAX);
	is_int(xdfn(&v, "one=more", &err), -1, "one more does not");
	is_str(err, "too many variables", "its reason");
	smtp_merge_vars_reset(&v);
	memset(big, 'x', sizeof(big));
	is_int(smtp_merge_vars_set(&v, "big", 3, big, sizeof(big) - 4), -1,
	    "a set is capped at %d bytes", SMTP_MERGE_SET_MAX);
	is_int(smtp_merge_vars_set(&v, "big", 3, big, sizeof(big) - 5), 0,
	    "up to the byte");
	memset(line, 'n', sizeof(line));
	ok(!smtp_merge_name_valid(line, SMTP_MERGE_NAME_MAX + 1),
	    "names are capped at %d", SMTP_MERGE_NAME_MAX);
	ok(smtp_merge_name_valid(line, SMTP_MERGE_NAME_MAX), "up to the byte");

	/* the stored form goes to a file and comes back */
	smtp_merge_vars_reset(&v);
	(void)xdfn(&v, "Name=\"A B\" *parts=2,1 name=C", &err);
	smtp_merge_vars_init(&w);
	is_int(smtp_merge_vars_load(&w, v.data.data, v.data.len), 0,
	    "a set loads from its bytes");
	is_str(get(&w, "NAME"), "C", "loaded: the last definition wins");
	is_str(get(&w, "*parts"), "2,1", "loaded: reserved values");
	is_int(smtp_merge_vars_load(&w, "a\0b", 3), -1, "truncated bytes");
	is_int((long long)w.n, 0, "leave an empty set");
	is_int(smtp_merge_vars_load(&w, "1\0b\0", 4), -1, "a bad name");
	is_int(smtp_merge_vars_load(&w, "", 0), 0, "no bytes: an empty set");
	smtp_merge_vars_free(&w);
	smtp_merge_vars_free(&v);
}

static void
test_parts(void)
{
	unsigned char list[8];
	size_t n;

	is_int(smtp_merge_parts("1,3,2", 5, list, sizeof(list), &n), 0, "1,3,2");
	ok(n == 3 && list[0] == 1 && list[1] == 3 && list[2] == 2, "in order given");
	is_int(smtp_merge_parts("1-3", 3, list, sizeof(list), &n), 0, "1-3");
	ok(n == 3 && list[0] == 1 && list[2] == 3, "a range");
	is_int(smtp_merge_parts(" 4 , 1-2 ", 9, list, sizeof(list), &n), 0,
	    "blanks, a list with a range");
	ok(n == 3 && list[0] == 4 && list[1] == 1 && list[2] == 2, "4,1,2");
	is_int(smtp_merge_parts("1,1", 3, list, sizeof(list), &n), 0,
	    "a part twice");
	is_int(smtp_merge_parts("", 0, list, sizeof(list), &n), -1, "empty");
	is_int(smtp_merge_parts("3-1", 3, list, sizeof(list), &n), -1,
	    "a range going down");
	is_int(smtp_merge_parts("0", 1, list, sizeof(list), &n), -1, "part 0");
	is_int(smtp_merge_parts("101", 3, list, sizeof(list), &n), -1,
	    "beyond %d", SMTP_MERGE_PART_MAX);
	is_int(smtp_merge_parts("1,", 2, list, sizeof(list), &n), -1,
	    "a trailing comma");
	is_int(smtp_merge_parts("1x", 2, list, sizeof(list), &n), -1,
	    "garbage after a number");
	is_int(smtp_merge_parts("1-9", 3, list, sizeof(list), &n), -1,
	    "more entries than fit");
	is_int(smtp_merge_parts("1-8", 3, list, sizeof(list), &n), 0,
	    "exactly as many as fit");
}

static void
test_expand(void)
{
	struct smtp_merge_vars v;
	char longtag[SMTP_MERGE_NAME_MAX + 4];
	const char *err;
	int bw;

	longtag[0] = '[';
	memset(longtag + 1, 'n', SMTP_MERGE_NAME_MAX + 1);
	memcpy(longtag + SMTP_MERGE_NAME_MAX + 2, "]", 2);
	smtp_merge_vars_init(&v);
	(void)xdfn(&v, "Name=\"Ann [x]\" x=X *vmta=v1", &err);
	for (bw = 0; bw <= 1; bw++) {
		const char *how = bw ? "bytewise" : "whole";

		is_str(expand(&v, false, "Dear [name], [[x] [x]", bw),
		    "Dear Ann [x], [x] X", "values are data, [[ is '[' (%s)", how);
		is_str(expand(&v, false, "a[nosuch]b", bw), "ab",
		    "undefined: nothing (%s)", how);
		is_str(expand(&v, true, "a[nosuch]b[NoSuch]", bw),
		    "a[nosuch]b[NoSuch]", "undefined kept as written (%s)", how);
		is_str(expand(&v, false, "[*vmta] [*]", bw), "v1 [*]",
		    "reserved names; a lone * is text (%s)", how);
		is_str(expand(&v, false, "[1] [] [a b] [x", bw),
		    "[1] [] [a b] [x", "not tags: copied (%s)", how);
		is_str(expand(&v, false, "[*nosuch] ]x[", bw), "[*nosuch] ]x[",
		    "an unknown reserved name is text (%s)", how);
		is_str(expand(&v, false, "[[[x]", bw), "[X",
		    "[[ then a tag (%s)", how);
		is_str(expand(NULL, true, longtag, bw), longtag,
		    "a name longer than %d is text (%s)", SMTP_MERGE_NAME_MAX, how);
	}
	/* the automatic set (*to, *date) is looked up first */
	{
		struct smtp_merge_vars a;
		struct smtp_merge_expand x;
		struct buf b;
		const char *t = "[*to]/[x]/[*date]";

		smtp_merge_vars_init(&a);
		(void)smtp_merge_vars_set(&a, "*to", 3, "u@d", 3);
		(void)smtp_merge_vars_set(&a, "x", 1, "auto", 4);
		buf_init(&b, 1024 + SMTP_MERGE_SET_MAX);
		smtp_merge_expand_init(&x, &a, &v, false);
		(void)smtp_merge_expand_feed(&x, t, strlen(t), &b, 1024);
		(void)smtp_merge_expand_end(&x, &b);
		is_str(buf_str(&b), "u@d/auto/", "automatic values first, then the set's");
		buf_free(&b);
		smtp_merge_vars_free(&a);
	}
	smtp_merge_vars_free(&v);
}

/* The limit stops the expander between whole tags; it goes on later. */
static void
test_limit(void)
{
	struct smtp_merge_vars v;
	struct smtp_merge_expand x;
	struct buf b;
	const char *err, *in = "0123456789[x][x]tail";
	size_t used, total = 0;
	int calls = 0;

	smtp_merge_vars_init(&v);
	(void)xdfn(&v, "x=VALUE", &err);
	buf_init(&b, 64 + SMTP_MERGE_SET_MAX);
	smtp_merge_expand_init(&x, NULL, &v, false);
	used = smtp_merge_expand_feed(&x, in, strlen(in), &b, 4);
	is_int((long long)used, 4, "stops at the limit in text");
	is_int((long long)b.len, 4, "with that much output");
	total = used;
	while (total < strlen(in) && calls++ < 100) {
		used = smtp_merge_expand_feed(&x, in + total, strlen(in) - total,
		    &b, b.len + 3);
		total += used;
	}
	is_str(buf_str(&b), "0123456789VALUEVALUEtail",
	    "fed with small limits, the output is the same");
	buf_free(&b);
	buf_init(&b, 8);
	smtp_merge_expand_init(&x, NULL, &v, false);
	is_int((long long)smtp_merge_expand_feed(&x, "[x][x]", 6, &b, 100),
	    (long long)(size_t)-1, "an output cap that is hit is an error");
	buf_free(&b);
	smtp_merge_vars_free(&v);
}

static void
test_verp(void)
{
	char out[64];

	is_int(smtp_merge_verp("jsmith@example.com", "jdoe@yahoo.com", out,
	    sizeof(out)), 0, "VERP");
	is_str(out, "jsmith-jdoe=yahoo.com@example.com", "the vendor's example");
	(void)smtp_merge_verp("", "jdoe@yahoo.com", out, sizeof(out));
	is_str(out, "", "the null sender stays null");
	(void)smtp_merge_verp("postmaster", "jdoe@yahoo.com", out, sizeof(out));
	is_str(out, "postmaster", "a sender without a domain is kept");
	is_int(smtp_merge_verp("jsmith@example.com", "jdoe@yahoo.com", out, 20),
	    -1, "too long for the output");
}

int
main(void)
{
	test_xdfn();
	test_caps();
	test_parts();
	test_expand();
	test_limit();
	test_verp();
	return done_testing();
}
