/*
 * fuzz_smtp_merge: fuzz target for smtp_merge (mailmerge variables,
 * XDFN arguments, *parts lists, template expansion, VERP).
 *
 * Input: the first byte picks the options (bit 0: keep undefined
 * variables; bits 1-4: the piece size for the chunked expansion; bits
 * 5-7: its output limit).  Then lines up to a line "--": each is an
 * XDFN argument added to one set, and also tried as a *parts list and a
 * VERP pair (split at the first blank).  Everything after "--" is a
 * template, expanded with the set.
 *
 * Invariants (abort() on violation): a failed XDFN leaves the set as it
 * was; every stored name is valid and its lookup finds a value; a set
 * reloaded from its bytes is the same set; a parts list holds part
 * numbers within range and no more entries than asked; the expansion
 * gives the same output fed whole or in small pieces under small output
 * limits; with no variables, kept undefined variables and no "[[", the
 * output is the input.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_merge.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define FUZZ_OUT_MAX	(256 * 1024)

static void
check_set(const struct smtp_merge_vars *v)
{
	struct smtp_merge_vars w;

	CHECK(v->n <= SMTP_MERGE_VARS_MAX && v->data.len <= SMTP_MERGE_SET_MAX);
	for (size_t i = 0; i < v->n; i++) {
		const char *name = v->data.data + v->off[i];
		size_t nlen = strlen(name);

		CHECK(smtp_merge_name_valid(name, nlen));
		CHECK(smtp_merge_vars_get(v, name, nlen, NULL) != NULL);
	}
	smtp_merge_vars_init(&w);
	CHECK(smtp_merge_vars_load(&w, v->data.data, v->data.len) == 0);
	CHECK(w.n == v->n && w.data.len == v->data.len);
	CHECK(v->data.len == 0 || memcmp(w.data.data, v->data.data,
	    v->data.len) == 0);
	smtp_merge_vars_free(&w);
}

static void
check_line(struct smtp_merge_vars *v, const char *line, size_t len)
{
	unsigned char list[16];
	char a[600], b[600], out[1400];
	size_t before = v->data.len, n_before = v->n, n, sp;
	const char *err = NULL;

	if (smtp_merge_xdfn(line, len, v, &err) == -1)
		CHECK(err != NULL && v->data.len == before && v->n == n_before);
	check_set(v);
	if (smtp_merge_parts(line, len, list, sizeof(list), &n) == 0) {
		CHECK(n > 0 && n <= sizeof(list));
		for (size_t i = 0; i < n; i++)
			CHECK(list[i] >= 1 && list[i] <= SMTP_MERGE_PART_MAX);
	}
	for (sp = 0; sp < len && line[sp] != ' '; sp++)
		;
	if (sp < sizeof(a) && len - sp < sizeof(b) + 1 && sp < len &&
	    memchr(line, '\0', len) == NULL) {
		memcpy(a, line, sp);
		a[sp] = '\0';
		memcpy(b, line + sp + 1, len - sp - 1);
		b[len - sp - 1] = '\0';
		if (smtp_merge_verp(a, b, out, sizeof(out)) == 0)
			CHECK(strlen(out) >= strlen(a));
	}
}

/* Expand text[0..len) in pieces of `piece` bytes under limits `step`
 * above the output so far; the output into *out. */
static bool
expand(const struct smtp_merge_vars *v, bool keep, const char *text,
    size_t len, size_t piece, size_t step, struct buf *out)
{
	struct smtp_merge_expand x;
	size_t i = 0, n, used, stalls = 0;

	buf_reset(out);
	smtp_merge_expand_init(&x, NULL, v, keep);
	while (i < len) {
		n = piece < len - i ? piece : len - i;
		used = smtp_merge_expand_feed(&x, text + i, n, out,
		    out->len + step);
		if (used == (size_t)-1)
			return false;
		CHECK(used <= n);
		/* nothing consumed only when a held tag was let go as text */
		stalls = used == 0 ? stalls + 1 : 0;
		CHECK(stalls < 2);
		i += used;
	}
	return smtp_merge_expand_end(&x, out) == 0;
}

static void
check_expand(const struct smtp_merge_vars *v, bool keep, const char *text,
    size_t len, size_t piece, size_t step)
{
	struct buf whole, pieces;
	bool ok1, ok2;

	buf_init(&whole, FUZZ_OUT_MAX + SMTP_MERGE_SET_MAX + 2 * SMTP_MERGE_NAME_MAX);
	buf_init(&pieces, FUZZ_OUT_MAX + SMTP_MERGE_SET_MAX + 2 * SMTP_MERGE_NAME_MAX);
	ok1 = expand(v, keep, text, len, len ? len : 1, FUZZ_OUT_MAX, &whole);
	ok2 = expand(v, keep, text, len, piece, step, &pieces);
	if (ok1 && ok2) {
		CHECK(whole.len == pieces.len);
		CHECK(whole.len == 0 || memcmp(whole.data, pieces.data,
		    whole.len) == 0);
	}
	if (ok1 && v->n == 0 && keep) {
		bool dbl = false;

		for (size_t i = 0; i + 1 < len && !dbl; i++)
			dbl = text[i] == '[' && text[i + 1] == '[';
		if (!dbl)
			CHECK(whole.len == len && (len == 0 ||
			    memcmp(whole.data, text, len) == 0));
	}
	buf_free(&whole);
	buf_free(&pieces);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_merge_vars v;
	const char *p = (const char *)data, *nl;
	size_t len, piece, step;
	bool keep;

	if (size == 0)
		return 0;
	keep = data[0] & 1;
	piece = 1 + ((data[0] >> 1) & 0x0f);
	step = 1 + ((size_t)(data[0] >> 5) << 3);
	p++;
	size--;
	smtp_merge_vars_init(&v);
	while (size > 0) {
		nl = memchr(p, '\n', size);
		len = nl != NULL ? (size_t)(nl - p) : size;
		if (len == 2 && p[0] == '-' && p[1] == '-') {
			len = nl != NULL ? len + 1 : len;
			p += len;
			size -= len;
			check_expand(&v, keep, p, size, piece, step);
			smtp_merge_vars_reset(&v);
			check_expand(&v, true, p, size, piece, step);
			break;
		}
		check_line(&v, p, len);
		len = nl != NULL ? len + 1 : len;
		p += len;
		size -= len;
	}
	smtp_merge_vars_free(&v);
	return 0;
}
