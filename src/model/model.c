/*
 * model: build the immutable configuration snapshot from the conf tree
 * (see model.h).
 *
 * Every node is looked up in the directive table (conf_directives.def):
 * an unknown name, a directive in a scope the table does not allow, or a
 * value of the wrong type is an error naming file:line, and the walk goes
 * on so that all errors are reported at once.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "lib/xmalloc.h"
#include "conf/conf_schema.h"
#include "model/model.h"

/* The state of one walk: the snapshot being built and where we are. */
struct model_build {
	struct model		*m;
	struct conf_errors	*e;
	struct model_source	*source;	/* inside <source> */
	struct model_domain	*domain;	/* inside <domain> */
	struct model_acct	*acct;		/* inside <acct-file> */
};

static int
model_parse_bool(const char *s, bool *v)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0)
		*v = true;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0)
		*v = false;
	else
		return -1;
	return 0;
}

#define MODEL_GROW(arr, n) \
	((arr) = xreallocarray((arr), (n) + 1, sizeof(*(arr))), \
	 memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

static int
model_set_records(struct model_build *b, const struct conf_node *n)
{
	unsigned records = 0;

	for (size_t i = 0; i < n->nargs; i++) {
		char *list = xstrdup(n->args[i]), *tok, *save = NULL;

		for (tok = strtok_r(list, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			if (strcmp(tok, "d") == 0 || strcmp(tok, "delivery") == 0)
				records |= MODEL_RECORD_D;
			else if (strcmp(tok, "b") == 0 || strcmp(tok, "bounce") == 0)
				records |= MODEL_RECORD_B;
			else {
				conf_error(b->e, n->file, n->line,
				    "records: unknown or unsupported record type \"%s\"",
				    tok);
				free(list);
				return -1;
			}
		}
		free(list);
	}
	b->acct->records = records;
	return 0;
}

/* "h1, h2; [1.2.3.4]:2525" -> hosts with preference levels. */
static int
model_set_hosts(struct model_build *b, const struct conf_node *n)
{
	struct model_domain *d = b->domain;
	struct buf all;
	char *list, *p, *save = NULL;
	int level = 0;

	buf_init(&all, 64 * 1024);
	for (size_t i = 0; i < n->nargs; i++)
		(void)buf_printf(&all, "%s%s", i ? " " : "", n->args[i]);
	list = buf_take(&all);
	for (p = list; *p != '\0'; p++)
		if (*p == ' ' || *p == '\t')
			*p = ',';
	for (size_t i = 0; i < d->nhosts; i++)
		free(d->hosts[i].name);
	free(d->hosts);
	d->hosts = NULL;
	d->nhosts = 0;
	for (char *lvl = list; lvl != NULL; level++) {
		char *semi = strchr(lvl, ';');
		if (semi != NULL)
			*semi++ = '\0';
		for (char *h = strtok_r(lvl, ",", &save); h != NULL;
		    h = strtok_r(NULL, ",", &save)) {
			struct model_host *mh = MODEL_GROW(d->hosts, d->nhosts);
			char *colon, *close = NULL;
			const char *errstr;

			if (h[0] == '[' && (close = strchr(h, ']')) != NULL) {
				colon = close[1] == ':' ? close + 1 : NULL;
				*close = '\0';
				h++;
				if (strncasecmp(h, "ipv6:", 5) == 0)
					h += 5;
			} else
				colon = strchr(h, ':');
			if (colon != NULL) {
				*colon = '\0';
				mh->port = (int)strtonum(colon + 1, 1, 65535, &errstr);
				if (errstr != NULL) {
					conf_error(b->e, n->file, n->line,
					    "%s: invalid port in \"%s\"", n->name,
					    colon + 1);
					free(list);
					return -1;
				}
			}
			mh->name = xstrdup(h);
			mh->level = level;
		}
		lvl = semi;
	}
	free(list);
	return 0;
}

static int
model_set_value(struct model_build *b, const struct conf_directive *d,
    const struct conf_node *n)
{
	const char *error;
	bool v;

	if (n->nargs == 0) {
		conf_error(b->e, n->file, n->line, "%s: argument missing", n->name);
		return -1;
	}
	if (d->type != CONF_T_HOST_LIST && d->type != CONF_T_WORDS &&
	    n->nargs > 1 && d->type != CONF_T_LISTENER) {
		conf_error(b->e, n->file, n->line, "%s: too many arguments",
		    n->name);
		return -1;
	}
	switch (d->id) {
	case CONF_ID_SMTP_LISTENER: {
		struct model_listener *l = MODEL_GROW(b->m->listeners,
		    b->m->nlisteners);
		l->text = xstrdup(n->args[0]);
		if (n->nargs > 1)
			conf_warning(b->e, n->file, n->line,
			    "smtp-listener: parameters after the address are not yet acted on");
		if (addr_parse_hostport(n->args[0], 0, true, &l->ss, &l->sslen,
		    &error) == -1) {
			conf_error(b->e, n->file, n->line, "smtp-listener: %s: \"%s\"",
			    error, n->args[0]);
			return -1;
		}
		return 0;
	}
	case CONF_ID_HOST_NAME:
		free(b->m->host_name);
		b->m->host_name = xstrdup(n->args[0]);
		return 0;
	case CONF_ID_SPOOL:
		free(b->m->spool_dir);
		b->m->spool_dir = xstrdup(n->args[0]);
		return 0;
	case CONF_ID_LOG_FILE:
		free(b->m->log_file);
		b->m->log_file = xstrdup(n->args[0]);
		return 0;
	case CONF_ID_ALWAYS_ALLOW_RELAYING:
		if (model_parse_bool(n->args[0], &v) == -1) {
			conf_error(b->e, n->file, n->line,
			    "%s: expected yes, no, true or false, not \"%s\"",
			    n->name, n->args[0]);
			return -1;
		}
		b->source->always_allow_relaying = v;
		return 0;
	case CONF_ID_RECORDS:
		return model_set_records(b, n);
	case CONF_ID_ROUTE:
		conf_warning(b->e, n->file, n->line,
		    "route is deprecated; use smtp-hosts");
		/* FALLTHROUGH */
	case CONF_ID_SMTP_HOSTS:
		return model_set_hosts(b, n);
	default:
		return 0;
	}
}

static void model_walk(struct model_build *b, const struct conf_node *parent,
    unsigned scope);

static void
model_open_block(struct model_build *b, const struct conf_directive *d,
    const struct conf_node *n)
{
	struct model_build inner = *b;
	const char *error;
	unsigned scope;

	if (n->nargs != 1) {
		conf_error(b->e, n->file, n->line, "<%s> needs exactly one argument",
		    n->name);
		return;
	}
	switch (d->id) {
	case CONF_ID_SOURCE_BLOCK:
		inner.source = MODEL_GROW(b->m->sources, b->m->nsources);
		inner.source->text = xstrdup(n->args[0]);
		inner.source->always_allow_relaying = -1;
		if (addr_cidr_parse(n->args[0], &inner.source->cidr, &error) == -1)
			conf_error(b->e, n->file, n->line,
			    "<source %s>: %s (named sources are not yet supported)",
			    n->args[0], error);
		scope = CONF_SC_SOURCE;
		break;
	case CONF_ID_DOMAIN_BLOCK:
		inner.domain = MODEL_GROW(b->m->domains, b->m->ndomains);
		inner.domain->pattern = xstrdup(n->args[0]);
		for (char *p = inner.domain->pattern; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		scope = CONF_SC_DOMAIN;
		break;
	case CONF_ID_ACCT_BLOCK:
		inner.acct = MODEL_GROW(b->m->accts, b->m->naccts);
		inner.acct->path = xstrdup(n->args[0]);
		inner.acct->records = MODEL_RECORD_D | MODEL_RECORD_B;
		scope = CONF_SC_ACCT;
		break;
	case CONF_ID_SPOOL_BLOCK:
		free(b->m->spool_dir);
		b->m->spool_dir = xstrdup(n->args[0]);
		scope = CONF_SC_SPOOL;
		break;
	default:
		return;
	}
	model_walk(&inner, n, scope);
}

static void
model_walk(struct model_build *b, const struct conf_node *parent,
    unsigned scope)
{
	for (size_t i = 0; i < parent->nchildren; i++) {
		const struct conf_node *n = parent->children[i];
		const struct conf_directive *d = conf_directive_lookup(n->name,
		    scope, n->block);

		if (d == NULL && conf_directive_any(n->name, n->block) == NULL)
			conf_error(b->e, n->file, n->line, "unknown %s \"%s\"",
			    n->block ? "block" : "directive", n->name);
		else if (d == NULL)
			conf_error(b->e, n->file, n->line,
			    "%s \"%s\" is not allowed %s",
			    n->block ? "block" : "directive", n->name,
			    conf_scope_name(scope));
		else if (d->type == CONF_T_BLOCK)
			model_open_block(b, d, n);
		else
			(void)model_set_value(b, d, n);
	}
}

/*
 * A relative path in the config is taken relative to the directory
 * pmtad (or pmta) was started from, and made absolute here, so that the
 * daemon may change directory and the CLI finds the same files.
 */
static void
model_abspath(char **path)
{
	char cwd[4096];
	char *abs;

	if (*path == NULL || (*path)[0] == '/' || (*path)[0] == '|' ||
	    getcwd(cwd, sizeof(cwd)) == NULL)
		return;
	abs = xasprintf("%s/%s", cwd, *path);
	free(*path);
	*path = abs;
}

static void
model_defaults(struct model *m, const char *path, struct conf_errors *e)
{
	char host[256];

	if (m->host_name == NULL) {
		if (gethostname(host, sizeof(host)) == -1)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		m->host_name = xstrdup(host);
	}
	if (m->nlisteners == 0) {
		struct model_listener *l = MODEL_GROW(m->listeners, m->nlisteners);
		const char *error;

		l->text = xstrdup("0/0:25");
		(void)addr_parse_hostport(l->text, 0, true, &l->ss, &l->sslen,
		    &error);
	}
	if (m->spool_dir == NULL)
		conf_error(e, path, 0, "no spool directory: add \"<spool DIR>\" or \"spool DIR\"");
	model_abspath(&m->spool_dir);
	model_abspath(&m->log_file);
	for (size_t i = 0; i < m->naccts; i++)
		model_abspath(&m->accts[i].path);
}

struct model *
model_load(const char *path, struct conf_errors *e)
{
	int before = e->count;
	struct conf_node *root = conf_parse_file(path, e);
	struct model_build b = { NULL, e, NULL, NULL, NULL };

	b.m = xcalloc(1, sizeof(*b.m));
	b.m->refs = 1;
	b.m->config_path = xstrdup(path);
	model_walk(&b, root, CONF_SC_GLOBAL);
	conf_node_free(root);
	model_defaults(b.m, path, e);
	if (e->count > before) {
		model_unref(b.m);
		return NULL;
	}
	return b.m;
}

struct model *
model_ref(struct model *m)
{
	m->refs++;
	return m;
}

void
model_unref(struct model *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	for (size_t i = 0; i < m->nlisteners; i++)
		free(m->listeners[i].text);
	for (size_t i = 0; i < m->nsources; i++)
		free(m->sources[i].text);
	for (size_t i = 0; i < m->ndomains; i++) {
		for (size_t j = 0; j < m->domains[i].nhosts; j++)
			free(m->domains[i].hosts[j].name);
		free(m->domains[i].hosts);
		free(m->domains[i].pattern);
	}
	for (size_t i = 0; i < m->naccts; i++)
		free(m->accts[i].path);
	free(m->listeners);
	free(m->sources);
	free(m->domains);
	free(m->accts);
	free(m->config_path);
	free(m->host_name);
	free(m->spool_dir);
	free(m->log_file);
	free(m);
}

const struct model_source *
model_source_match(const struct model *m, const struct sockaddr *sa)
{
	const struct model_source *best = NULL;

	for (size_t i = 0; i < m->nsources; i++) {
		const struct model_source *s = &m->sources[i];
		if (addr_cidr_match(&s->cidr, sa) &&
		    (best == NULL || s->cidr.prefix >= best->cidr.prefix))
			best = s;
	}
	return best;
}

bool
model_source_relaying(const struct model *m, const struct sockaddr *sa)
{
	const struct model_source *best = NULL;

	/* most specific source that sets the value; less specific ones
	 * provide the default */
	for (size_t i = 0; i < m->nsources; i++) {
		const struct model_source *s = &m->sources[i];
		if (s->always_allow_relaying != -1 &&
		    addr_cidr_match(&s->cidr, sa) &&
		    (best == NULL || s->cidr.prefix >= best->cidr.prefix))
			best = s;
	}
	return best != NULL && best->always_allow_relaying == 1;
}

const struct model_domain *
model_domain_find(const struct model *m, const char *domain)
{
	const struct model_domain *star = NULL;

	for (size_t i = 0; i < m->ndomains; i++) {
		if (strcasecmp(m->domains[i].pattern, domain) == 0)
			return &m->domains[i];
		if (strcmp(m->domains[i].pattern, "*") == 0)
			star = &m->domains[i];
	}
	return star;
}
