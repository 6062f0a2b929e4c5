/*
 * fuzz_conf: fuzz target for the config reader (conf_parse_text) and the
 * typed value parsers (conf_value).  The input is a config text.  Every
 * node of the tree whose name the directive table knows, in any scope,
 * as something other than a block goes through conf_value_parse() (twice
 * for a repeatable directive, to append), conf_value_format(),
 * conf_value_copy() and conf_value_free().
 *
 * Invariants (abort() on violation): a failure has a reason and leaves
 * an unset value untouched; a success sets the value; a copy formats
 * like its original; a freed value is all zero; for the one-word numeric
 * and host-list types, the formatted value parses again to a value that
 * formats the same.
 *
 * The table may lack rows of some types, so directives named "x-TYPE"
 * (x-bool, x-rate-unlimited, x-host-list, ...; see fuzz_extra) are
 * looked up in a small table of this file as well.
 *
 * conf_parse_text() follows "include FILE" lines, which read the file
 * system; inputs that could make an "include" line are skipped (the
 * check below is conservative: it ignores quotes and backslashes, which
 * the tokenizer may remove from inside a word).
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_schema.h"
#include "conf/conf_value.h"
#include "lib/buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define FUZZ_FORMAT_MAX	(4 * 1024 * 1024)
#define FUZZ_SCOPES	27

/* Could a line of data be read as "include ..."? */
static bool
fuzz_may_include(const uint8_t *data, size_t size)
{
	static const char word[] = "include";
	size_t i, j, k;

	for (i = 0; i < size; i++) {
		for (j = i, k = 0; j < size && k < sizeof(word) - 1; j++) {
			if (data[j] == '"' || data[j] == '\\')
				continue;
			if (tolower(data[j]) != word[k])
				break;
			k++;
		}
		if (k < sizeof(word) - 1)
			continue;
		while (j < size && (data[j] == '"' || data[j] == '\\'))
			j++;
		if (j == size || data[j] == ' ' || data[j] == '\t' ||
		    data[j] == '\r' || data[j] == '\n' || data[j] == '#' ||
		    data[j] == '\0')
			return true;
	}
	return false;
}

static bool
fuzz_zero(const struct conf_value *v)
{
	static const struct conf_value zero;

	return memcmp(v, &zero, sizeof(zero)) == 0;
}

/* The formatted value of the one-word types parses back to itself. */
static void
fuzz_round_trip(const struct conf_directive *d, const char *text)
{
	struct conf_value again;
	struct buf out;
	const char *err = NULL;
	char *arg[1];

	switch (d->type) {
	case CONF_T_BOOL: case CONF_T_INT: case CONF_T_TIME:
	case CONF_T_TIME_LIST: case CONF_T_SIZE: case CONF_T_RATE:
	case CONF_T_DATA_RATE: case CONF_T_DAILY: case CONF_T_HOST_LIST:
	case CONF_T_BOOL_OR_TIME:
		break;
	default:
		return;
	}
	arg[0] = (char *)(strcmp(text, "\"\"") == 0 ? "" : text);
	memset(&again, 0, sizeof(again));
	CHECK(conf_value_parse(d, arg, 1, &again, &err) == 0);
	buf_init(&out, FUZZ_FORMAT_MAX);
	conf_value_format(d, &again, &out);
	CHECK(out.err || strcmp(buf_str(&out), text) == 0);
	buf_free(&out);
	conf_value_free(&again);
}

static void
fuzz_value(const struct conf_directive *d, const struct conf_node *n)
{
	struct conf_value v, copy;
	struct buf a, b;
	const char *err = NULL;
	int rc;

	memset(&v, 0, sizeof(v));
	rc = conf_value_parse(d, n->args, n->nargs, &v, &err);
	CHECK(d->type != CONF_T_BLOCK || rc == -1);
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		CHECK(err != NULL && fuzz_zero(&v));
		return;
	}
	CHECK(v.set);
	if (d->flags & CONF_F_REPEAT)
		CHECK(conf_value_parse(d, n->args, n->nargs, &v, &err) == 0);
	conf_value_copy(&copy, &v);
	buf_init(&a, FUZZ_FORMAT_MAX);
	buf_init(&b, FUZZ_FORMAT_MAX);
	conf_value_format(d, &v, &a);
	conf_value_format(d, &copy, &b);
	CHECK(a.err || b.err || strcmp(buf_str(&a), buf_str(&b)) == 0);
	if (!a.err && !(d->flags & CONF_F_REPEAT))
		fuzz_round_trip(d, buf_str(&a));
	buf_free(&a);
	buf_free(&b);
	conf_value_free(&v);
	conf_value_free(&copy);
	CHECK(fuzz_zero(&v) && fuzz_zero(&copy));
}

#define X(name, type, flags, min, max, choices) \
	{ 0, name, CONF_SC_GLOBAL, type, flags, min, max, "", choices, "" }
static const struct conf_directive fuzz_extra[] = {
	X("x-flag", CONF_T_FLAG, 0, 0, 0, ""),
	X("x-bool", CONF_T_BOOL, 0, 0, 0, ""),
	X("x-int", CONF_T_INT, 0, 0, 0, ""),
	X("x-int-range", CONF_T_INT, CONF_F_UNLIMITED, -5, 100, ""),
	X("x-time", CONF_T_TIME, 0, 0, 0, ""),
	X("x-time-never", CONF_T_TIME, CONF_F_NEVER | CONF_F_UNLIMITED, 60,
	    30 * 86400, ""),
	X("x-time-list", CONF_T_TIME_LIST, 0, 0, 0, ""),
	X("x-size", CONF_T_SIZE, CONF_F_UNLIMITED, 0, 0, ""),
	X("x-size-range", CONF_T_SIZE, 0, 1024, 1LL << 30, ""),
	X("x-rate", CONF_T_RATE, 0, 0, 0, ""),
	X("x-rate-unlimited", CONF_T_RATE, CONF_F_UNLIMITED, 0, 0, ""),
	X("x-data-rate", CONF_T_DATA_RATE, CONF_F_UNLIMITED, 0, 0, ""),
	X("x-daily", CONF_T_DAILY, 0, 0, 0, ""),
	X("x-string", CONF_T_STRING, 0, 0, 0, ""),
	X("x-words", CONF_T_WORDS, 0, 0, 0, ""),
	X("x-enum", CONF_T_ENUM, 0, 0, 0, "a|bb|ccc-d"),
	X("x-bool-or-enum", CONF_T_BOOL_OR_ENUM, 0, 0, 0, "if-present|x"),
	X("x-bool-or-time", CONF_T_BOOL_OR_TIME, CONF_F_NEVER, 0, 0, ""),
	X("x-email", CONF_T_EMAIL, 0, 0, 0, ""),
	X("x-email-list", CONF_T_EMAIL_LIST, 0, 0, 0, ""),
	X("x-cidr", CONF_T_CIDR, 0, 0, 0, ""),
	X("x-listener", CONF_T_LISTENER, 0, 0, 0, ""),
	X("x-host-list", CONF_T_HOST_LIST, 0, 0, 0, ""),
	X("x-domain", CONF_T_DOMAIN, 0, 0, 0, ""),
	X("x-domain-list", CONF_T_DOMAIN_LIST, 0, 0, 0, ""),
	X("x-regex", CONF_T_REGEX, 0, 0, 0, ""),
	X("x-path", CONF_T_PATH, 0, 0, 0, ""),
	X("x-raw", CONF_T_RAW, 0, 0, 0, ""),
	X("x-email-repeat", CONF_T_EMAIL, CONF_F_REPEAT, 0, 0, ""),
	X("x-listener-repeat", CONF_T_LISTENER, CONF_F_REPEAT, 0, 0, ""),
	X("x-host-list-repeat", CONF_T_HOST_LIST, CONF_F_REPEAT, 0, 0, ""),
	X("x-block", CONF_T_BLOCK, 0, 0, 0, ""),
};
#undef X

static void
fuzz_node(const struct conf_node *n)
{
	const struct conf_directive *seen[FUZZ_SCOPES], *d;
	size_t nseen = 0, i;

	for (unsigned bit = 0; bit < FUZZ_SCOPES && !n->block; bit++) {
		if ((d = conf_directive_lookup(n->name, 1u << bit, false)) == NULL ||
		    d->type == CONF_T_BLOCK)
			continue;
		for (i = 0; i < nseen && seen[i] != d; i++)
			;
		if (i < nseen)
			continue;
		seen[nseen++] = d;
		fuzz_value(d, n);
	}
	for (i = 0; i < sizeof(fuzz_extra) / sizeof(fuzz_extra[0]); i++)
		if (!n->block && strcmp(n->name, fuzz_extra[i].name) == 0)
			fuzz_value(&fuzz_extra[i], n);
	for (i = 0; i < n->nchildren; i++)
		fuzz_node(n->children[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errors;
	struct conf_node *root;

	if (fuzz_may_include(data, size))
		return 0;
	conf_errors_init(&errors);
	root = conf_parse_text("fuzz.conf", (const char *)data, size, &errors);
	CHECK(root != NULL);
	fuzz_node(root);
	conf_node_free(root);
	conf_errors_free(&errors);
	return 0;
}
