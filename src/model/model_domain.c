/*
 * model_domain: domain patterns, domain-macro expansion, the resolution
 * of a queue's settings through the <domain> levels, and `show settings`.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "lib/xmalloc.h"
#include "model/model_private.h"

#define MODEL_MACRO_DEPTH	8
#define MODEL_MACRO_MAX		100000	/* patterns from one <domain> tag */

struct model_macro {
	char	 *name;
	char	**values;
	size_t	  nvalues;
};

struct model_macros {
	struct model_macro	*v;
	size_t			 n;
};

static const struct model_macro *
model_macro_find(const struct model_macros *mm, const char *name, size_t len)
{
	for (size_t i = 0; i < mm->n; i++)
		if (strlen(mm->v[i].name) == len &&
		    strncasecmp(mm->v[i].name, name, len) == 0)
			return &mm->v[i];
	return NULL;
}

/* "domain-macro NAME a, b,c" anywhere at the global level. */
struct model_macros *
model_macros_collect(const struct conf_node *root, struct conf_errors *e)
{
	struct model_macros *mm = xcalloc(1, sizeof(*mm));

	for (size_t i = 0; i < root->nchildren; i++) {
		const struct conf_node *n = root->children[i];
		struct model_macro *mac;

		if (n->block || strcmp(n->name, "domain-macro") != 0)
			continue;
		if (n->nargs < 2) {
			conf_error(e, n->file, n->line,
			    "domain-macro: expected a name and a list of domains");
			continue;
		}
		if (n->args[0][strspn(n->args[0], "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] != '\0') {
			conf_error(e, n->file, n->line, "domain-macro: the name "
			    "\"%s\" may hold only letters, digits and '_'",
			    n->args[0]);
			continue;
		}
		mac = MODEL_GROW(mm->v, mm->n);
		mac->name = xstrdup(n->args[0]);
		for (size_t j = 1; j < n->nargs; j++) {
			char *w = xstrdup(n->args[j]), *save = NULL;
			for (char *t = strtok_r(w, ",", &save); t != NULL;
			    t = strtok_r(NULL, ",", &save))
				*MODEL_GROW(mac->values, mac->nvalues) = xstrdup(t);
			free(w);
		}
	}
	return mm;
}

void
model_macros_free(struct model_macros *mm)
{
	for (size_t i = 0; i < mm->n; i++) {
		for (size_t j = 0; j < mm->v[i].nvalues; j++)
			free(mm->v[i].values[j]);
		free(mm->v[i].values);
		free(mm->v[i].name);
	}
	free(mm->v);
	free(mm);
}

struct model_expansion {
	char		**out;
	size_t		  n;
	bool		  used;
	const char	 *error;
};

/* Replace the first $NAME of s by each of its values, recursively. */
static void
model_expand(const struct model_macros *mm, const char *s, int depth,
    struct model_expansion *x)
{
	const char *dollar = strchr(s, '$');
	const struct model_macro *mac;
	size_t len = 0;

	if (x->error != NULL)
		return;
	if (dollar == NULL) {
		if (x->n >= MODEL_MACRO_MAX)
			x->error = "too many domains from macros";
		else
			*MODEL_GROW(x->out, x->n) = xstrdup(s);
		return;
	}
	while (isalnum((unsigned char)dollar[1 + len]) || dollar[1 + len] == '_')
		len++;
	if ((mac = model_macro_find(mm, dollar + 1, len)) == NULL) {
		x->error = "undefined domain-macro";
		return;
	}
	if (depth >= MODEL_MACRO_DEPTH) {
		x->error = "domain-macro loop";
		return;
	}
	x->used = true;
	for (size_t i = 0; i < mac->nvalues && x->error == NULL; i++) {
		char *next = xasprintf("%.*s%s%s", (int)(dollar - s), s,
		    mac->values[i], dollar + 1 + len);
		model_expand(mm, next, depth + 1, x);
		free(next);
	}
}

int
model_macros_expand(const struct model_macros *mm, const char *arg,
    char ***out, size_t *nout, bool *from_macro, const char **error_r)
{
	struct model_expansion x = { NULL, 0, false, NULL };

	model_expand(mm, arg, 0, &x);
	if (x.error != NULL) {
		for (size_t i = 0; i < x.n; i++)
			free(x.out[i]);
		free(x.out);
		*error_r = x.error;
		return -1;
	}
	*out = x.out;
	*nout = x.n;
	*from_macro = x.used;
	return 0;
}

int
model_domain_init(struct model_domain *d, const char *pattern,
    bool from_macro, int order, struct model_settings *settings)
{
	const char *error;
	size_t len;

	memset(d, 0, sizeof(*d));
	d->pattern = xstrdup(pattern);
	for (char *p = d->pattern; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	d->from_macro = from_macro;
	d->order = order;
	d->settings = settings;
	len = strlen(d->pattern);
	if (strcmp(d->pattern, "*") == 0) {
		d->kind = MODEL_PAT_ALL;
		d->suffix = d->pattern + 1;
	} else if (strncmp(d->pattern, "[*.]", 4) == 0) {
		d->kind = MODEL_PAT_DOMAIN_SUBS;
		d->suffix = d->pattern + 4;
	} else if (strncmp(d->pattern, "*.", 2) == 0) {
		d->kind = MODEL_PAT_SUBS;
		d->suffix = d->pattern + 2;
	} else if (d->pattern[0] == '[' && len > 2 && d->pattern[len - 1] == ']') {
		char *inner = xstrndup(d->pattern + 1, len - 2);
		int r = addr_cidr_parse(inner, &d->literal, &error);
		free(inner);
		d->kind = MODEL_PAT_LITERAL;
		d->suffix = d->pattern;
		if (r == -1)
			return -1;
	} else {
		d->kind = MODEL_PAT_EXACT;
		d->suffix = d->pattern;
	}
	if (!conf_domain_pattern_valid(d->pattern)) {
		free(d->pattern);
		d->pattern = NULL;
		return -1;
	}
	return 0;
}

void
model_domain_list_free(struct model_domain_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].pattern);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool
model_ends_with_label(const char *domain, const char *suffix)
{
	size_t dl = strlen(domain), sl = strlen(suffix);

	return dl > sl && domain[dl - sl - 1] == '.' &&
	    strcmp(domain + dl - sl, suffix) == 0;
}

bool
model_domain_match(const struct model_domain *d, const char *domain)
{
	switch (d->kind) {
	case MODEL_PAT_ALL:
		return true;
	case MODEL_PAT_EXACT:
		return strcmp(d->pattern, domain) == 0;
	case MODEL_PAT_SUBS:
		return model_ends_with_label(domain, d->suffix);
	case MODEL_PAT_DOMAIN_SUBS:
		return strcmp(d->suffix, domain) == 0 ||
		    model_ends_with_label(domain, d->suffix);
	case MODEL_PAT_LITERAL: {
		struct addr_cidr lit;
		struct sockaddr_storage ss;
		socklen_t len;
		const char *error;
		size_t n = strlen(domain);
		char *inner;
		bool r = false;

		if (n < 3 || domain[0] != '[' || domain[n - 1] != ']')
			return false;
		inner = xstrndup(domain + 1, n - 2);
		if (addr_cidr_parse(inner, &lit, &error) == 0 &&
		    addr_parse_hostport(inner, 25, false, &ss, &len, &error) == 0)
			r = addr_cidr_match(&d->literal, (struct sockaddr *)&ss);
		free(inner);
		return r;
	}
	}
	return false;
}

long
model_domain_rank(const struct model_domain *d)
{
	static const int kind_rank[] = { 0, 1, 2, 3, 3 };

	return ((long)strlen(d->suffix) * 4 + kind_rank[d->kind]) * 2 +
	    (d->from_macro ? 0 : 1);
}

/* The most specific pattern of the list that matches and sets id. */
static const struct conf_value *
model_domain_level(const struct model_domain_list *l, const char *domain,
    int id)
{
	const struct model_domain *best = NULL;
	const struct conf_value *val = NULL;

	for (size_t i = 0; i < l->n; i++) {
		const struct model_domain *d = &l->v[i];
		const struct conf_value *v;

		if (!model_domain_match(d, domain) ||
		    (v = model_settings_get(d->settings, id)) == NULL)
			continue;
		if (best == NULL || model_domain_rank(d) > model_domain_rank(best) ||
		    (model_domain_rank(d) == model_domain_rank(best) &&
		    d->order > best->order)) {
			best = d;
			val = v;
		}
	}
	return val;
}

/* Settings whose default is another setting's value (pmta-reference §2.2). */
static int
model_default_from(int id)
{
	switch (id) {
	case CONF_ID_BACKOFF_MAX_MSG_RATE:
		return CONF_ID_MAX_MSG_RATE;
	case CONF_ID_BACKOFF_MAX_CONNECT_RATE:
		return CONF_ID_MAX_CONNECT_RATE;
	case CONF_ID_BACKOFF_MAX_DATA_VOLUME_RATE:
		return CONF_ID_MAX_DATA_VOLUME_RATE;
	case CONF_ID_MAX_RCPT_PER_TRANSACTION:	/* its <domain> synonym */
		return CONF_ID_DOMAIN_MAX_RCPT_PER_MESSAGE;
	default:
		return -1;
	}
}

const struct conf_value *
model_queue_value(const struct model *m, const char *domain, const char *vmta,
    int id)
{
	const struct model_vmta *v = vmta ? model_vmta_find(m, vmta) : NULL;
	const struct model_pool *p = v != NULL ? v->pool :
	    vmta != NULL ? model_pool_find(m, vmta) : NULL;
	const struct conf_value *val;

	if (v != NULL && (val = model_domain_level(&v->domains, domain, id)))
		return val;
	if (p != NULL && (val = model_domain_level(&p->domains, domain, id)))
		return val;
	if ((val = model_domain_level(&m->domains, domain, id)) != NULL)
		return val;
	if (model_default_from(id) != -1)
		return model_queue_value(m, domain, vmta, model_default_from(id));
	return NULL;
}

static int
model_name_cmp(const void *a, const void *b)
{
	const struct conf_directive *x = *(const struct conf_directive *const *)a;
	const struct conf_directive *y = *(const struct conf_directive *const *)b;

	return strcmp(x->name, y->name);
}

/* The non-block directives of a scope, sorted by name. */
static size_t
model_sorted(unsigned scope, unsigned exclude, const struct conf_directive **out)
{
	size_t n = 0;

	for (size_t i = 0; i < CONF_ID_COUNT; i++) {
		const struct conf_directive *d = &conf_directives[i];
		if ((d->scopes & scope) && !(d->scopes & exclude) &&
		    d->type != CONF_T_BLOCK && !(d->flags & CONF_F_LEGACY) &&
		    strcmp(d->name, "include") != 0)
			out[n++] = d;
	}
	qsort(out, n, sizeof(*out), model_name_cmp);
	return n;
}

int
model_show_settings(const struct model *m, const char *queue, struct buf *out)
{
	const struct conf_directive *list[CONF_ID_COUNT];
	const char *slash = strchr(queue, '/');
	char *domain = xstrndup(queue, slash ? (size_t)(slash - queue) : strlen(queue));
	const char *vmta = slash ? slash + 1 : NULL;
	size_t n;

	for (char *p = domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (vmta != NULL && strcmp(vmta, "{default}") != 0 &&
	    model_vmta_find(m, vmta) == NULL) {
		(void)buf_printf(out, "no virtual MTA named \"%s\"\n", vmta);
		free(domain);
		return -1;
	}
	(void)buf_puts(out, "Virtual MTA Settings\n--------------------\n");
	n = model_sorted(CONF_SC_VMTA, CONF_SC_DOMAIN, list);
	for (size_t i = 0; i < n; i++) {
		(void)buf_printf(out, "%s ", list[i]->name);
		conf_value_format(list[i], model_vmta_value(m, vmta, list[i]->id), out);
		(void)buf_puts(out, "\n");
	}
	(void)buf_puts(out, "\nQueue Settings\n--------------\n");
	n = model_sorted(CONF_SC_DOMAIN, 0, list);
	for (size_t i = 0; i < n; i++) {
		(void)buf_printf(out, "%s ", list[i]->name);
		conf_value_format(list[i], model_queue_value(m, domain, vmta,
		    list[i]->id), out);
		(void)buf_puts(out, "\n");
	}
	free(domain);
	return 0;
}
