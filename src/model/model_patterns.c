/*
 * model_patterns: the entries of pattern blocks, parsed and checked:
 *   <bounce-category-patterns>	/REGEX/ CATEGORY
 *   <smtp-pattern-list NAME>	reply /REGEX/ ACTION[,ACTION...]
 *   <pattern-list NAME>		mail-from|rcpt-to /REGEX/ RESULT,
 *					header NAME /REGEX/ RESULT, * RESULT
 * Regexes are PCRE2, case-insensitive (pmta-reference §2.10-§2.12), and
 * are compiled here so that a bad one is an error at its file:line.  A
 * regex not closed on its line (a copy/paste wrap seen in real configs)
 * is such an error too.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *const model_smtp_actions[] = {
	"mode=backoff", "mode=normal", "skip-mx", "bounce-queue",
	"bounce-rcpt", "disable-source-ip", "defer-queue", NULL,
};

static int
model_check_actions(const char *rest, const char **error_r)
{
	char *w = xstrdup(rest), *save = NULL;
	int r = 0, modes = 0, reenable = 0, disable = 0, skip = 0, bq = 0;

	for (char *a = strtok_r(w, ", \t", &save); a != NULL && r == 0;
	    a = strtok_r(NULL, ", \t", &save)) {
		size_t i;

		for (i = 0; model_smtp_actions[i] != NULL; i++)
			if (strcasecmp(a, model_smtp_actions[i]) == 0)
				break;
		if (model_smtp_actions[i] != NULL) {
			modes += strncasecmp(a, "mode=", 5) == 0;
			disable += strcasecmp(a, "disable-source-ip") == 0;
			skip += strcasecmp(a, "skip-mx") == 0;
			bq += strcasecmp(a, "bounce-queue") == 0;
		} else if (strncasecmp(a, "reenable-after=", 15) == 0 ||
		    strncasecmp(a, "backoff-to-normal-after=", 24) == 0) {
			long long secs;
			reenable += a[0] == 'r' || a[0] == 'R';
			if (conf_parse_time(strchr(a, '=') + 1, &secs) == -1) {
				*error_r = "invalid time interval in an action";
				r = -1;
			}
		} else {
			*error_r = "unknown action";
			r = -1;
		}
	}
	free(w);
	if (r == 0 && (modes > 1 || (skip && bq) || reenable > 1 ||
	    (reenable && !disable))) {
		*error_r = "conflicting actions";
		r = -1;
	}
	return r;
}

/* One entry line of a pattern block; 0, or -1 with *error_r. */
static int
model_pattern_parse(const char *kind, const char *line,
    struct model_pattern *pt, char *msg, const char **error_r)
{
	const char *p = line;

	memset(pt, 0, sizeof(*pt));
	if (strcmp(kind, "smtp-pattern-list") == 0) {
		if (strncasecmp(p, "reply", 5) != 0 || !isspace((unsigned char)p[5])) {
			*error_r = "expected \"reply /REGEX/ ACTION\"";
			return -1;
		}
		p += 5;
	} else if (strcmp(kind, "pattern-list") == 0) {
		size_t kw = strcspn(p, " \t");

		if (kw == 1 && p[0] == '*') {
			pt->rest = model_rest(p + 1);
			return 0;
		}
		if (!(kw == 9 && strncasecmp(p, "mail-from", 9) == 0) &&
		    !(kw == 7 && strncasecmp(p, "rcpt-to", 7) == 0) &&
		    !(kw == 6 && strncasecmp(p, "header", 6) == 0)) {
			*error_r = "expected mail-from, rcpt-to, header or *";
			return -1;
		}
		p += kw;
		if (kw == 6) {	/* header NAME /re/ */
			p += strspn(p, " \t");
			p += strcspn(p, " \t");
		}
	}
	if (model_regex_token(&p, &pt->regex, error_r) == -1 ||
	    model_regex_compile(pt, msg, error_r) == -1)
		return -1;
	pt->rest = model_rest(p);
	if (strcmp(kind, "bounce-category-patterns") == 0 &&
	    (pt->rest == NULL || strpbrk(pt->rest, " \t") != NULL)) {
		*error_r = "expected \"/REGEX/ CATEGORY\"";
		return -1;
	}
	/* an entry without an action only matches (and stops the search) */
	if (strcmp(kind, "smtp-pattern-list") == 0 && pt->rest != NULL &&
	    model_check_actions(pt->rest, error_r) == -1)
		return -1;
	return 0;
}

void
model_pattern_free(struct model_pattern *pt)
{
	pcre2_code_free(pt->re);
	free(pt->regex);
	free(pt->rest);
	memset(pt, 0, sizeof(*pt));
}

/* Parse the entries of every pattern block collected raw. */
void
model_patterns_build(struct model *m, struct conf_errors *e)
{
	for (size_t i = 0; i < m->nblocks; i++) {
		struct model_block *b = &m->blocks[i];

		if (strcmp(b->kind, "bounce-category-patterns") != 0 &&
		    strcmp(b->kind, "smtp-pattern-list") != 0 &&
		    strcmp(b->kind, "pattern-list") != 0)
			continue;
		b->patterns = xcalloc(b->nlines, sizeof(*b->patterns));
		for (size_t j = 0; j < b->nlines; j++) {
			char msg[MODEL_REGEX_MSG];
			const char *error = NULL;

			if (model_pattern_parse(b->kind, b->lines[j],
			    &b->patterns[b->npatterns], msg, &error) == -1) {
				conf_error(e, b->line_files[j], b->line_nums[j],
				    "<%s>: %s: %s", b->kind, error, b->lines[j]);
				model_pattern_free(&b->patterns[b->npatterns]);
			} else
				b->npatterns++;
		}
	}
}
