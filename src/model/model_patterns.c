/*
 * model_patterns: the entries of pattern blocks, parsed and checked:
 *   <bounce-category-patterns>	/REGEX/ CATEGORY
 *   <smtp-pattern-list NAME>	reply /REGEX/ ACTION[,ACTION...]
 *					(MODEL_ACT_* bits and the intervals of
 *					reenable-after= and
 *					backoff-to-normal-after=; the invalid
 *					combinations of §2.10 refused)
 *   <pattern-list NAME>		mail-from|rcpt-to /REGEX/ RESULT,
 *					header NAME /REGEX/ RESULT, * RESULT
 * Regexes are PCRE2, case-insensitive (pmta-reference §2.10-§2.12), and
 * are compiled here so that a bad one is an error at its file:line.  A
 * regex not closed on its line (a copy/paste wrap seen in real configs)
 * is such an error too.
 *
 * A <pattern-list> entry's RESULT is checked and kept parsed
 * (virtual-mta=NAME, recipient-priority=0..100, call-to:LIST); an
 * anonymous nested <pattern-list> is the result of the entry right
 * before it (whose own results, if any, apply first).  A call-to naming
 * no <pattern-list> is an error.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "lib/xmalloc.h"
#include "model/model_private.h"

/* Find the regex "/.../" at *p; its source (without slashes) in *re. */
static int
model_regex_token(const char **p, char **re, const char **error_r)
{
	const char *s = *p, *q;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '/') {
		*error_r = "expected a /regular expression/";
		return -1;
	}
	for (q = s + 1; *q != '\0' && *q != '/'; q++)
		if (*q == '\\' && q[1] != '\0')
			q++;
	if (*q != '/') {
		*error_r = "the /regular expression/ is not closed on its line";
		return -1;
	}
	*re = xstrndup(s + 1, (size_t)(q - s - 1));
	*p = q + 1;
	return 0;
}

#define MODEL_REGEX_MSG	160
#define MODEL_HEADER_NAME_MAX	128

static int
model_regex_compile(struct model_pattern *pt, char *msg, const char **error_r)
{
	PCRE2_SIZE off;
	int err;

	pt->re = pcre2_compile((PCRE2_SPTR)pt->regex, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS, &err, &off, NULL);
	if (pt->re != NULL)
		return 0;
	pcre2_get_error_message(err, (PCRE2_UCHAR *)msg, MODEL_REGEX_MSG);
	*error_r = msg;
	return -1;
}

/* The words after the regex, '#' comments removed; NULL when none. */
static char *
model_rest(const char *p)
{
	const char *hash = p;
	char *rest;
	size_t len;

	while ((hash = strchr(hash, '#')) != NULL &&
	    hash != p && hash[-1] != ' ' && hash[-1] != '\t')
		hash++;
	len = hash ? (size_t)(hash - p) : strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	if (len == 0)
		return NULL;
	rest = xstrndup(p, len);
	return rest;
}

static const struct {
	const char	*word;
	unsigned	 bit;
} model_smtp_actions[] = {
	{ "mode=backoff", MODEL_ACT_BACKOFF },
	{ "mode=normal", MODEL_ACT_NORMAL },
	{ "skip-mx", MODEL_ACT_SKIP_MX },
	{ "bounce-queue", MODEL_ACT_BOUNCE_QUEUE },
	{ "bounce-rcpt", MODEL_ACT_BOUNCE_RCPT },
	{ "disable-source-ip", MODEL_ACT_DISABLE_SOURCE },
	{ "defer-queue", MODEL_ACT_DEFER_QUEUE },
};

/* "NAME=INTERVAL" (or "never") into *secs (0 = never); 0, or -1. */
static int
model_action_interval(const char *a, long long *secs, const char **error_r)
{
	const char *v = strchr(a, '=') + 1;

	if (*secs != -1) {
		*error_r = strncasecmp(a, "reenable", 8) == 0 ?
		    "reenable-after given twice" :
		    "backoff-to-normal-after given twice";
		return -1;
	}
	if (strcasecmp(v, "never") == 0) {
		*secs = 0;
		return 0;
	}
	if (conf_parse_time(v, secs) == -1 || *secs <= 0) {
		*secs = -1;
		*error_r = "invalid time interval in an action";
		return -1;
	}
	return 0;
}

/* One action word into pt; 0, or -1 with *error_r. */
static int
model_action_word(struct model_pattern *pt, const char *a,
    const char **error_r)
{
	for (size_t i = 0; i < sizeof(model_smtp_actions) /
	    sizeof(model_smtp_actions[0]); i++)
		if (strcasecmp(a, model_smtp_actions[i].word) == 0) {
			pt->actions |= model_smtp_actions[i].bit;
			return 0;
		}
	if (strncasecmp(a, "reenable-after=", 15) == 0)
		return model_action_interval(a, &pt->reenable_after, error_r);
	if (strncasecmp(a, "backoff-to-normal-after=", 24) == 0)
		return model_action_interval(a, &pt->to_normal_after, error_r);
	*error_r = "unknown action";
	return -1;
}

/*
 * The ACTION[,ACTION...] of a reply entry (pt->rest), into pt->actions
 * and its intervals, with the invalid combinations of pmta-reference
 * §2.10 refused.  *warning_r is set for a combination that does nothing.
 */
static int
model_smtp_actions_parse(struct model_pattern *pt, const char **error_r,
    const char **warning_r)
{
	char *w = xstrdup(pt->rest), *save = NULL;
	int r = 0;
	unsigned a;

	for (char *t = strtok_r(w, ", \t", &save); t != NULL && r == 0;
	    t = strtok_r(NULL, ", \t", &save))
		r = model_action_word(pt, t, error_r);
	free(w);
	if (r == -1)
		return -1;
	a = pt->actions;
	if ((a & MODEL_ACT_BACKOFF) && (a & MODEL_ACT_NORMAL))
		*error_r = "mode=backoff and mode=normal in one entry";
	else if ((a & MODEL_ACT_SKIP_MX) && (a & MODEL_ACT_BOUNCE_QUEUE))
		*error_r = "skip-mx and bounce-queue in one entry";
	else if (pt->reenable_after != -1 && !(a & MODEL_ACT_DISABLE_SOURCE))
		*error_r = "reenable-after without disable-source-ip";
	else {
		if (pt->to_normal_after != -1 && !(a & MODEL_ACT_BACKOFF))
			*warning_r = "backoff-to-normal-after= does nothing "
			    "without mode=backoff";
		return 0;
	}
	return -1;
}

/* "mail-from", "rcpt-to", "header NAME" or "*" at *p (moved past it). */
static int
model_plist_subject(const char **p, struct model_pattern *pt,
    const char **error_r)
{
	size_t kw = strcspn(*p, " \t"), len;

	if (kw == 1 && **p == '*')
		pt->subject = MODEL_PL_ANY;
	else if (kw == 9 && strncasecmp(*p, "mail-from", 9) == 0)
		pt->subject = MODEL_PL_MAIL_FROM;
	else if (kw == 7 && strncasecmp(*p, "rcpt-to", 7) == 0)
		pt->subject = MODEL_PL_RCPT_TO;
	else if (kw == 6 && strncasecmp(*p, "header", 6) == 0)
		pt->subject = MODEL_PL_HEADER;
	else {
		*error_r = "expected mail-from, rcpt-to, header or *";
		return -1;
	}
	*p += kw;
	if (pt->subject != MODEL_PL_HEADER)
		return 0;
	*p += strspn(*p, " \t");
	len = strcspn(*p, " \t");
	if (len == 0 || **p == '/' || len > MODEL_HEADER_NAME_MAX) {
		*error_r = "expected \"header NAME /REGEX/\"";
		return -1;
	}
	pt->header = xstrndup(*p, len);
	*p += len;
	return 0;
}

/* One word of a <pattern-list> RESULT. */
static int
model_plist_word(struct model_pattern *pt, const char *a, const char **error_r)
{
	const char *errstr = NULL;
	long long n;

	if (strncasecmp(a, "virtual-mta=", 12) == 0 && a[12] != '\0') {
		free(pt->vmta);
		pt->vmta = xstrdup(a + 12);
	} else if (strncasecmp(a, "recipient-priority=", 19) == 0) {
		n = strtonum(a + 19, 0, 100, &errstr);
		if (errstr != NULL) {
			*error_r = "recipient-priority must be 0 to 100";
			return -1;
		}
		pt->priority = (int)n;
	} else if (strncasecmp(a, "call-to:", 8) == 0 && a[8] != '\0') {
		if (pt->call_to != NULL) {
			*error_r = "more than one call-to in an entry";
			return -1;
		}
		pt->call_to = xstrdup(a + 8);
	} else {
		*error_r = "unknown result (expected virtual-mta=NAME, "
		    "recipient-priority=N or call-to:LIST)";
		return -1;
	}
	return 0;
}

/* The RESULT of a <pattern-list> entry (pt->rest), parsed. */
static int
model_plist_result(struct model_pattern *pt, const char **error_r)
{
	char *w, *save = NULL;
	int r = 0;

	if (pt->rest == NULL)
		return 0;
	w = xstrdup(pt->rest);
	for (char *a = strtok_r(w, ", \t", &save); a != NULL && r == 0;
	    a = strtok_r(NULL, ", \t", &save))
		r = model_plist_word(pt, a, error_r);
	free(w);
	return r;
}

/* One entry line of a pattern block; 0, or -1 with *error_r. */
static int
model_pattern_parse(const char *kind, const char *line,
    struct model_pattern *pt, char *msg, const char **error_r,
    const char **warning_r)
{
	const char *p = line;

	memset(pt, 0, sizeof(*pt));
	pt->reenable_after = pt->to_normal_after = -1;
	if (strcmp(kind, "smtp-pattern-list") == 0) {
		if (strncasecmp(p, "reply", 5) != 0 || !isspace((unsigned char)p[5])) {
			*error_r = "expected \"reply /REGEX/ ACTION\"";
			return -1;
		}
		p += 5;
	} else if (strcmp(kind, "pattern-list") == 0) {
		pt->priority = -1;
		if (model_plist_subject(&p, pt, error_r) == -1)
			return -1;
		if (pt->subject == MODEL_PL_ANY) {
			pt->rest = model_rest(p);
			return model_plist_result(pt, error_r);
		}
	}
	if (model_regex_token(&p, &pt->regex, error_r) == -1 ||
	    model_regex_compile(pt, msg, error_r) == -1)
		return -1;
	pt->rest = model_rest(p);
	if (strcmp(kind, "pattern-list") == 0)
		return model_plist_result(pt, error_r);
	if (strcmp(kind, "bounce-category-patterns") == 0 &&
	    (pt->rest == NULL || strpbrk(pt->rest, " \t") != NULL)) {
		*error_r = "expected \"/REGEX/ CATEGORY\"";
		return -1;
	}
	/* an entry without an action only matches (and stops the search) */
	if (strcmp(kind, "smtp-pattern-list") == 0 && pt->rest != NULL &&
	    model_smtp_actions_parse(pt, error_r, warning_r) == -1)
		return -1;
	return 0;
}

void
model_pattern_free(struct model_pattern *pt)
{
	for (size_t i = 0; i < pt->nnested; i++)
		model_pattern_free(&pt->nested[i]);
	free(pt->nested);
	pcre2_code_free(pt->re);
	free(pt->regex);
	free(pt->rest);
	free(pt->header);
	free(pt->vmta);
	free(pt->call_to);
	memset(pt, 0, sizeof(*pt));
}

/* Parse line j of block b into a new entry of *v; errors reported. */
static void
model_pattern_add(struct model_block *b, size_t j, struct model_pattern **v,
    size_t *n, struct conf_errors *e)
{
	struct model_pattern *pt;
	char msg[MODEL_REGEX_MSG];
	const char *error = NULL, *warning = NULL;

	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	pt = &(*v)[*n];
	if (model_pattern_parse(b->kind, b->lines[j], pt, msg, &error,
	    &warning) == -1) {
		conf_error(e, b->line_files[j], b->line_nums[j],
		    "<%s>: %s: %s", b->kind, error, b->lines[j]);
		model_pattern_free(pt);
		return;
	}
	if (warning != NULL)
		conf_warning(e, b->line_files[j], b->line_nums[j],
		    "<%s>: %s: %s", b->kind, warning, b->lines[j]);
	pt->file = b->line_files[j];
	pt->line = b->line_nums[j];
	(*n)++;
}

/*
 * The entries of a <pattern-list> from line *j on, into *v, up to the
 * MODEL_PL_CLOSE of a nested list (or the block's end).  A nested list
 * becomes the result of the entry before it.
 */
static void
model_plist_build(struct model_block *b, size_t *j, struct model_pattern **v,
    size_t *n, struct conf_errors *e)
{
	while (*j < b->nlines) {
		size_t at = (*j)++;
		struct model_pattern *prev = *n > 0 ? &(*v)[*n - 1] : NULL;

		if (strcmp(b->lines[at], MODEL_PL_CLOSE) == 0)
			return;
		if (strcmp(b->lines[at], MODEL_PL_OPEN) != 0) {
			model_pattern_add(b, at, v, n, e);
			continue;
		}
		if (prev == NULL || prev->has_nested) {
			struct model_pattern *junk = NULL;
			size_t njunk = 0;

			conf_error(e, b->line_files[at], b->line_nums[at],
			    "<pattern-list>: a nested <pattern-list> must follow "
			    "the entry whose result it is");
			model_plist_build(b, j, &junk, &njunk, e);
			while (njunk > 0)
				model_pattern_free(&junk[--njunk]);
			free(junk);
			continue;
		}
		prev->has_nested = true;
		model_plist_build(b, j, &prev->nested, &prev->nnested, e);
	}
}

/* Every call-to of entries v[0..n) names a <pattern-list>. */
static void
model_plist_check_calls(const struct model *m, const struct model_pattern *v,
    size_t n, struct conf_errors *e)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].call_to != NULL &&
		    model_block_find(m, "pattern-list", v[i].call_to) == NULL)
			conf_error(e, v[i].file, v[i].line,
			    "<pattern-list>: call-to:%s: no <pattern-list %s>",
			    v[i].call_to, v[i].call_to);
		model_plist_check_calls(m, v[i].nested, v[i].nnested, e);
	}
}

/* Parse the entries of every pattern block collected raw. */
void
model_patterns_build(struct model *m, struct conf_errors *e)
{
	for (size_t i = 0; i < m->nblocks; i++) {
		struct model_block *b = &m->blocks[i];
		size_t j = 0;

		if (strcmp(b->kind, "pattern-list") == 0) {
			while (j < b->nlines)
				model_plist_build(b, &j, &b->patterns,
				    &b->npatterns, e);
			continue;
		}
		if (strcmp(b->kind, "bounce-category-patterns") != 0 &&
		    strcmp(b->kind, "smtp-pattern-list") != 0)
			continue;
		for (j = 0; j < b->nlines; j++)
			model_pattern_add(b, j, &b->patterns, &b->npatterns, e);
	}
	for (size_t i = 0; i < m->nblocks; i++)
		if (strcmp(m->blocks[i].kind, "pattern-list") == 0)
			model_plist_check_calls(m, m->blocks[i].patterns,
			    m->blocks[i].npatterns, e);
}

/*
 * relay-address (pmta-reference §3.1 point 3): a /regex/ (PCRE2,
 * case-insensitive, matched against the whole address as written in
 * RCPT, without <>; anchor it with ^...$ to match exactly) or an address,
 * compared without case.
 */
int
model_relay_address_init(struct model_pattern *pt, const char *arg,
    const char **error_r)
{
	static char msg[MODEL_REGEX_MSG];
	const char *p = arg;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '/') {
		if (*p == '\0' || strpbrk(p, " \t") != NULL ||
		    strchr(p, '@') == NULL) {
			*error_r = "expected an email address or a /regex/";
			return -1;
		}
		pt->rest = xstrdup(p);
		return 0;
	}
	if (model_regex_token(&p, &pt->regex, error_r) == -1)
		return -1;
	if ((pt->rest = model_rest(p)) != NULL) {
		*error_r = "text after the /regex/";
		return -1;
	}
	return model_regex_compile(pt, msg, error_r);
}

bool
model_relay_address(const struct model *m, const char *addr)
{
	pcre2_match_data *md;
	bool hit = false;

	for (size_t i = 0; i < m->nrelay_addrs && !hit; i++) {
		const struct model_pattern *pt = &m->relay_addrs[i];

		if (pt->re == NULL) {
			hit = pt->rest != NULL && strcasecmp(pt->rest, addr) == 0;
			continue;
		}
		if ((md = pcre2_match_data_create_from_pattern(pt->re,
		    NULL)) == NULL)
			continue;
		hit = pcre2_match(pt->re, (PCRE2_SPTR)addr, strlen(addr), 0, 0,
		    md, NULL) >= 0;
		pcre2_match_data_free(md);
	}
	return hit;
}
