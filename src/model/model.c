/*
 * model: the snapshot's lifecycle, derived fields and lookups (see
 * model.h).  model_build.c fills it from the conf tree.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "lib/xmalloc.h"
#include "model/model_private.h"

void	model_finish(struct model *m, struct conf_errors *e);

#define MODEL_DEFAULT_SPOOL	"/var/spool/pmta"

const struct conf_value *
model_settings_get(const struct model_settings *s, int id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].id == id)
			return &s->v[i].val;
	return NULL;
}

void
model_settings_free(struct model_settings *s)
{
	for (size_t i = 0; i < s->n; i++)
		conf_value_free(&s->v[i].val);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/*
 * A relative path in the config is taken relative to the directory
 * pmtad (or pmta) was started from, and made absolute here, so that the
 * daemon may change directory and the CLI finds the same files.
 */
void
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

static char *
model_global_string(const struct model *m, int id)
{
	const struct conf_value *v = model_settings_get(&m->global, id);

	if (v == NULL)
		return NULL;
	if (conf_directives[id].flags & CONF_F_REPEAT)	/* the first one */
		return v->u.list.n > 0 ? xstrdup(v->u.list.v[0]) : NULL;
	return v->u.s != NULL ? xstrdup(v->u.s) : NULL;
}

/* pickup PICKUPDIR BADDIR: two distinct directories. */
static void
model_finish_pickup(struct model *m, struct conf_errors *e)
{
	const struct conf_value *v = model_settings_get(&m->global,
	    CONF_ID_PICKUP);

	if (v == NULL)
		return;
	if (v->u.list.n != 2) {
		conf_error(e, v->file, v->line,
		    "pickup needs two directories: PICKUPDIR BADDIR");
		return;
	}
	m->pickup_dir = xstrdup(v->u.list.v[0]);
	m->pickup_bad_dir = xstrdup(v->u.list.v[1]);
	model_abspath(&m->pickup_dir);
	model_abspath(&m->pickup_bad_dir);
	if (strcmp(m->pickup_dir, m->pickup_bad_dir) == 0)
		conf_error(e, v->file, v->line,
		    "pickup: the bad-file directory must not be the pickup "
		    "directory");
}

/* One listener: its address text, the named source, await-slot, its
 * block (-1: the directive form). */
static struct model_listener *
model_add_listener(struct model *m, struct conf_errors *e, const char *file,
    int line, const char *text, const char *source, bool await_slot,
    int block)
{
	struct model_listener *l = MODEL_GROW(m->listeners, m->nlisteners);
	const char *error;

	l->text = xstrdup(text);
	l->source = source != NULL && source[0] != '\0' ? xstrdup(source) : NULL;
	l->await_slot = await_slot;
	l->block = block;
	if (addr_parse_hostport(l->text, 0, true, &l->ss, &l->sslen,
	    &error) == -1)
		conf_error(e, file, line, "smtp-listener %s: %s "
		    "(Tern listens on one address or on all of them)",
		    l->text, error);
	return l;
}

/*
 * smtp-listener lines ("CIDR:PORT [source=NAME] [other=...]"), then the
 * block form <smtp-listener CIDR:PORT> with its `source`, `await-slot`
 * and `immediate-tls` (its tls-* settings: model_tls.c); none at all
 * means 0/0:25.
 */
static void
model_finish_listeners(struct model *m, struct conf_errors *e)
{
	const struct conf_value *v = model_settings_get(&m->global,
	    CONF_ID_SMTP_LISTENER);
	const char *error;

	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		char *words = xstrdup(v->u.list.v[i]), *save = NULL;
		char *w = strtok_r(words, " \t", &save), *text;
		char *source = NULL;
		bool await = false;

		text = xstrdup(w ? w : "");
		while ((w = strtok_r(NULL, " \t", &save)) != NULL)
			if (strncasecmp(w, "source=", 7) == 0)
				source = w + 7;
			else if (strncasecmp(w, "await-slot=", 11) == 0)
				(void)conf_parse_bool(w + 11, &await);
		(void)model_add_listener(m, e, v->file, v->line, text, source,
		    await, -1);
		free(text);
		free(words);
	}
	for (size_t i = 0; i < m->nblocks; i++) {
		const struct model_block *b = &m->blocks[i];
		const struct conf_value *src, *aw, *imm;
		struct model_listener *l;

		if (strcmp(b->kind, "smtp-listener") != 0)
			continue;
		src = model_settings_get(&b->settings, CONF_ID_LISTENER_SOURCE);
		aw = model_settings_get(&b->settings, CONF_ID_AWAIT_SLOT);
		imm = model_settings_get(&b->settings, CONF_ID_IMMEDIATE_TLS);
		l = model_add_listener(m, e, b->file, b->line, b->arg,
		    src != NULL ? src->u.s : NULL, aw != NULL && aw->u.b,
		    (int)i);
		l->immediate_tls = imm != NULL && imm->u.b;
	}
	if (m->nlisteners == 0) {
		struct model_listener *l = MODEL_GROW(m->listeners, m->nlisteners);
		l->block = -1;
		l->text = xstrdup("0/0:25");
		(void)addr_parse_hostport(l->text, 0, true, &l->ss, &l->sslen,
		    &error);
	}
}

/* relay-domain patterns, and the postmaster address. */
static void
model_finish_relay(struct model *m, struct conf_errors *e)
{
	const struct conf_value *v = model_settings_get(&m->global,
	    CONF_ID_RELAY_DOMAIN);

	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		struct model_domain *d = MODEL_GROW(m->relay_domains.v,
		    m->relay_domains.n);

		if (model_domain_init(d, v->u.list.v[i], false, (int)i,
		    NULL) == -1) {
			conf_error(e, v->file, v->line,
			    "relay-domain %s: invalid domain pattern",
			    v->u.list.v[i]);
			m->relay_domains.n--;
		}
	}
	v = model_settings_get(&m->global, CONF_ID_RELAY_ADDRESS);
	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		struct model_pattern *pt = MODEL_GROW(m->relay_addrs,
		    m->nrelay_addrs);
		const char *error = NULL;

		memset(pt, 0, sizeof(*pt));
		if (model_relay_address_init(pt, v->u.list.v[i], &error) == -1) {
			conf_error(e, v->file, v->line, "relay-address %s: %s",
			    v->u.list.v[i], error);
			model_pattern_free(pt);
			m->nrelay_addrs--;
		}
	}
	m->postmaster = model_global_string(m, CONF_ID_POSTMASTER);
}

static void
model_finish_pools(struct model *m, struct conf_errors *e)
{
	int vid = conf_directive_lookup("virtual-mta", CONF_SC_POOL, false) ?
	    conf_directive_lookup("virtual-mta", CONF_SC_POOL, false)->id : -1;

	for (size_t i = 0; i < m->npools; i++) {
		struct model_pool *p = &m->pools[i];
		const struct conf_value *v = model_settings_get(&p->settings, vid);

		if (model_vmta_find(m, p->name) != NULL)
			conf_error(e, m->config_path, 0,
			    "virtual-mta-pool %s has the name of a virtual-mta",
			    p->name);
		for (size_t j = 0; v != NULL && j < v->u.list.n; j++) {
			struct model_vmta *vm = (struct model_vmta *)
			    model_vmta_find(m, v->u.list.v[j]);
			if (vm == NULL) {
				conf_error(e, v->file, v->line,
				    "virtual-mta-pool %s: no virtual-mta \"%s\"",
				    p->name, v->u.list.v[j]);
				continue;
			}
			*MODEL_GROW(p->members, p->nmembers) =
			    xstrdup(v->u.list.v[j]);
			if (vm->pool == NULL)
				vm->pool = p;
		}
	}
}

unsigned
model_record_type(const char *name)
{
	static const struct { const char *name, *alias; unsigned bit; } types[] = {
		{ "d", "delivery", MODEL_RECORD_D }, { "b", "bounce", MODEL_RECORD_B },
		{ "t", "transient", MODEL_RECORD_T },
		{ "tq", "transient-queue", MODEL_RECORD_TQ },
		{ "r", "receipt", MODEL_RECORD_R },
		{ "f", "feedback-loop", MODEL_RECORD_F },
		{ "rb", "remote-bounce", MODEL_RECORD_RB },
		{ "rs", "remote-status", MODEL_RECORD_RS },
	};

	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (strcasecmp(name, types[k].name) == 0 ||
		    strcasecmp(name, types[k].alias) == 0)
			return types[k].bit;
	return 0;
}

/* records (checked line by line when read) -> bits; default d,b. */
static void
model_finish_accts(struct model *m)
{
	for (size_t i = 0; i < m->naccts; i++) {
		struct model_acct *a = &m->accts[i];
		const struct conf_value *v = model_settings_get(&a->settings,
		    CONF_ID_RECORDS);

		a->records = v ? 0 : MODEL_RECORD_D | MODEL_RECORD_B;
		for (size_t j = 0; v != NULL && j < v->u.list.n; j++) {
			char *w = xstrdup(v->u.list.v[j]), *save = NULL;
			for (char *t = strtok_r(w, ", \t", &save); t != NULL;
			    t = strtok_r(NULL, ", \t", &save))
				a->records |= model_record_type(t);
			free(w);
		}
		model_abspath(&a->path);
	}
}

/*
 * <smtp-user> blocks that cannot work as written: warnings only, so the
 * config loads (a password user without a password, or a certificate
 * user without tls-certificate, cannot authenticate; a `source` naming
 * no <source> block gives the user only the settings of its address).
 * A system user's account is looked up when it logs in, not here: the
 * account may be made after the configuration is loaded.
 */
static void
model_finish_users(struct model *m, struct conf_errors *e)
{
	for (size_t i = 0; i < m->nblocks; i++) {
		const struct model_block *b = &m->blocks[i];
		const struct conf_value *v;
		const char *method = "password";
		bool found = false;

		if (strcmp(b->kind, "smtp-user") != 0)
			continue;
		v = model_settings_get(&b->settings, CONF_ID_AUTHENTICATION_METHOD);
		if (v != NULL && v->u.s != NULL)
			method = v->u.s;
		if (strcmp(method, "password") == 0 && ((v = model_settings_get(
		    &b->settings, CONF_ID_PASSWORD)) == NULL || v->u.s == NULL ||
		    v->u.s[0] == '\0'))
			conf_warning(e, b->file, b->line, "smtp-user %s: no "
			    "password: the user cannot authenticate", b->arg);
		else if (strcmp(method, "certificate") == 0 &&
		    ((v = model_settings_get(&b->settings,
		    CONF_ID_TLS_CERTIFICATE)) == NULL || v->u.list.n == 0))
			conf_warning(e, b->file, b->line, "smtp-user %s: "
			    "authentication-method certificate without "
			    "tls-certificate: the user cannot authenticate",
			    b->arg);
		v = model_settings_get(&b->settings, CONF_ID_USER_SOURCE);
		if (v == NULL || v->u.s == NULL)
			continue;
		for (size_t j = 0; j < m->nsources && !found; j++)
			found = m->sources[j].named &&
			    strcasecmp(m->sources[j].text, v->u.s) == 0;
		if (!found)
			conf_warning(e, v->file, v->line, "smtp-user %s: source "
			    "%s: no <source %s>", b->arg, v->u.s, v->u.s);
	}
}

/*
 * Names a <domain> block gives that must exist: its smtp-pattern-list
 * and its backoff-reroute-to-virtual-mta (a VirtualMTA or a pool).
 */
static void
model_finish_domain_refs(struct model *m, struct conf_errors *e)
{
	for (size_t i = 0; i < m->ndomain_settings; i++) {
		const struct model_settings *s = m->domain_settings[i];
		const struct conf_value *v;

		v = model_settings_get(s, CONF_ID_DOMAIN_SMTP_PATTERN_LIST);
		if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0' &&
		    model_block_find(m, "smtp-pattern-list", v->u.s) == NULL)
			conf_error(e, v->file, v->line, "smtp-pattern-list: no "
			    "<smtp-pattern-list %s>", v->u.s);
		v = model_settings_get(s, CONF_ID_BACKOFF_REROUTE_TO_VIRTUAL_MTA);
		if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0' &&
		    model_vmta_find(m, v->u.s) == NULL &&
		    model_pool_find(m, v->u.s) == NULL)
			conf_error(e, v->file, v->line,
			    "backoff-reroute-to-virtual-mta: no virtual-mta or "
			    "virtual-mta-pool \"%s\"", v->u.s);
	}
}

void
model_finish(struct model *m, struct conf_errors *e)
{
	char host[256];

	m->host_name = model_global_string(m, CONF_ID_HOST_NAME);
	if (m->host_name == NULL) {
		if (gethostname(host, sizeof(host)) == -1)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		m->host_name = xstrdup(host);
	}
	m->log_file = model_global_string(m, CONF_ID_LOG_FILE);
	if (m->spool_dir == NULL)
		m->spool_dir = model_global_string(m, CONF_ID_SPOOL);
	if (m->spool_dir == NULL)	/* PMTA's installed default */
		m->spool_dir = xstrdup(MODEL_DEFAULT_SPOOL);
	model_abspath(&m->spool_dir);
	model_abspath(&m->log_file);
	model_finish_pickup(m, e);
	model_finish_listeners(m, e);
	model_finish_relay(m, e);
	model_finish_pools(m, e);
	model_finish_accts(m);
	model_patterns_build(m, e);
	model_finish_domain_refs(m, e);
	model_finish_users(m, e);
}

char *
model_peek_spool(const char *path)
{
	struct conf_errors e;
	struct conf_node *root;
	char *spool = NULL;

	conf_errors_init(&e);
	root = conf_parse_file(path, &e);
	for (size_t i = 0; i < root->nchildren && spool == NULL; i++) {
		const struct conf_node *n = root->children[i];
		if (strcmp(n->name, "spool") == 0 && n->nargs > 0)
			spool = xstrdup(n->args[0]);
	}
	conf_node_free(root);
	conf_errors_free(&e);
	model_abspath(&spool);
	return spool;
}

struct model *
model_ref(struct model *m)
{
	m->refs++;
	return m;
}

static void
model_free_blocks(struct model *m)
{
	for (size_t i = 0; i < m->nblocks; i++) {
		struct model_block *b = &m->blocks[i];
		for (size_t j = 0; j < b->nlines; j++)
			free(b->lines[j]);
		for (size_t j = 0; j < b->npatterns; j++)
			model_pattern_free(&b->patterns[j]);
		free(b->patterns);
		free(b->lines);
		free(b->line_files);
		free(b->line_nums);
		free(b->kind);
		free(b->arg);
		model_settings_free(&b->settings);
	}
	free(m->blocks);
}

static void
model_free_vmtas(struct model *m)
{
	for (size_t i = 0; i < m->nvmtas; i++) {
		free(m->vmtas[i].name);
		model_settings_free(&m->vmtas[i].settings);
		model_domain_list_free(&m->vmtas[i].domains);
	}
	free(m->vmtas);
	for (size_t i = 0; i < m->npools; i++) {
		struct model_pool *p = &m->pools[i];
		for (size_t j = 0; j < p->nmembers; j++)
			free(p->members[j]);
		free(p->members);
		free(p->name);
		model_settings_free(&p->settings);
		model_domain_list_free(&p->domains);
	}
	free(m->pools);
}

void
model_unref(struct model *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	for (size_t i = 0; i < m->nlisteners; i++) {
		free(m->listeners[i].text);
		free(m->listeners[i].source);
	}
	for (size_t i = 0; i < m->nsources; i++) {
		free(m->sources[i].text);
		model_settings_free(&m->sources[i].settings);
	}
	for (size_t i = 0; i < m->naccts; i++) {
		free(m->accts[i].path);
		model_settings_free(&m->accts[i].settings);
	}
	for (size_t i = 0; i < m->ndomain_settings; i++) {
		model_settings_free(m->domain_settings[i]);
		free(m->domain_settings[i]);
	}
	model_domain_list_free(&m->domains);
	model_domain_list_free(&m->relay_domains);
	for (size_t i = 0; i < m->nrelay_addrs; i++)
		model_pattern_free(&m->relay_addrs[i]);
	free(m->relay_addrs);
	free(m->postmaster);
	model_free_vmtas(m);
	model_free_blocks(m);
	model_tls_free(m);
	model_settings_free(&m->global);
	free(m->domain_settings);
	free(m->listeners);
	free(m->sources);
	free(m->accts);
	free(m->config_path);
	free(m->host_name);
	free(m->spool_dir);
	free(m->pickup_dir);
	free(m->pickup_bad_dir);
	free(m->log_file);
	free(m);
}

const struct model_vmta *
model_vmta_find(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->nvmtas; i++)
		if (strcasecmp(m->vmtas[i].name, name) == 0)
			return &m->vmtas[i];
	return NULL;
}

const struct model_pool *
model_pool_find(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->npools; i++)
		if (strcasecmp(m->pools[i].name, name) == 0)
			return &m->pools[i];
	return NULL;
}

const struct model_block *
model_block_find(const struct model *m, const char *kind, const char *arg)
{
	for (size_t i = 0; i < m->nblocks; i++)
		if (strcmp(m->blocks[i].kind, kind) == 0 &&
		    strcasecmp(m->blocks[i].arg, arg) == 0)
			return &m->blocks[i];
	return NULL;
}

const struct conf_value *
model_vmta_value(const struct model *m, const char *vmta, int id)
{
	const struct model_vmta *v = vmta ? model_vmta_find(m, vmta) : NULL;
	const struct conf_value *val;

	if (v != NULL && (val = model_settings_get(&v->settings, id)) != NULL)
		return val;
	if (v != NULL && v->pool != NULL &&
	    (val = model_settings_get(&v->pool->settings, id)) != NULL)
		return val;
	return model_settings_get(&m->global, id);
}

const struct conf_value *
model_source_value(const struct model *m, const struct sockaddr *sa, int id)
{
	const struct conf_value *best = NULL;
	int best_prefix = -1;

	for (size_t i = 0; i < m->nsources; i++) {
		const struct model_source *s = &m->sources[i];
		const struct conf_value *v;

		if (s->named || !addr_cidr_match(&s->cidr, sa) ||
		    s->cidr.prefix < best_prefix ||
		    (v = model_settings_get(&s->settings, id)) == NULL)
			continue;
		best = v;
		best_prefix = s->cidr.prefix;
	}
	return best;
}

const struct conf_value *
model_source_named_value(const struct model *m, const char *name, int id)
{
	const struct conf_value *v = NULL;

	/* a block opened twice merges: the later one's value wins */
	for (size_t i = 0; i < m->nsources; i++) {
		const struct model_source *s = &m->sources[i];
		const struct conf_value *sv;

		if (s->named && strcasecmp(s->text, name) == 0 &&
		    (sv = model_settings_get(&s->settings, id)) != NULL)
			v = sv;
	}
	return v;
}

bool
model_source_relaying(const struct model *m, const struct sockaddr *sa)
{
	const struct conf_value *v = model_source_value(m, sa,
	    CONF_ID_ALWAYS_ALLOW_RELAYING);

	return v != NULL && v->u.b;
}

/* The name equals a host-name line's first word (global or VMTA). */
static bool
model_host_name_is(const struct conf_value *v, const char *domain)
{
	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		const char *h = v->u.list.v[i];
		size_t n = strcspn(h, " \t");

		if (n == strlen(domain) && strncasecmp(h, domain, n) == 0)
			return true;
	}
	return false;
}

bool
model_local_domain(const struct model *m, const char *domain)
{
	char low[256];
	size_t n = strlen(domain);

	if (n == 0 || n >= sizeof(low))
		return false;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)domain[i]);
	for (size_t i = 0; i < m->relay_domains.n; i++)
		if (model_domain_match(&m->relay_domains.v[i], low))
			return true;
	if (strcasecmp(m->host_name, low) == 0 ||
	    model_host_name_is(model_settings_get(&m->global,
	    CONF_ID_HOST_NAME), low))
		return true;
	for (size_t i = 0; i < m->nvmtas; i++)
		if (model_host_name_is(model_settings_get(&m->vmtas[i].settings,
		    CONF_ID_HOST_NAME), low))
			return true;
	return false;
}

void
model_unacted(const struct model *m, struct buf *out)
{
	for (size_t i = 0; i < CONF_ID_COUNT; i++)
		if (m->unacted[i])
			(void)buf_printf(out, "%s%s", out->len ? ", " : "",
			    conf_directives[i].name);
}
