/*
 * model_build: the conf tree -> the model, through the directive table.
 *
 * Every node is looked up in the table for the scope it appears in: an
 * unknown name, a name in a scope the table does not allow, or a value
 * the value parser refuses is an error naming file:line, and the walk
 * goes on so that all errors are reported at once.  Legacy names are
 * accepted with a warning; directives Tern does not act on yet are
 * remembered for one log line at start.  A repeated single-valued
 * directive in one block: the last one wins (pmta-reference Q8).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "lib/xmalloc.h"
#include "model/model_private.h"

struct model_build {
	struct model		*m;
	struct conf_errors	*e;
	struct model_macros	*macros;
	int			 order;
};

/* Where the lines of a block go. */
struct model_ctx {
	unsigned			 scope;		/* CONF_SC_* of the block */
	struct model_settings		*settings;
	struct model_domain_list	*domains;	/* nested <domain> blocks */
};

static const struct {
	const char	*name;
	unsigned	 scope;
} model_block_scopes[] = {
	{ "source", CONF_SC_SOURCE },
	{ "smtp-listener", CONF_SC_LISTENER },
	{ "smtp-user", CONF_SC_USER },
	{ "source-group", CONF_SC_SOURCE_GROUP },
	{ "virtual-mta", CONF_SC_VMTA },
	{ "virtual-mta-pool", CONF_SC_POOL },
	{ "domain", CONF_SC_DOMAIN },
	{ "smtp-pattern-list", CONF_SC_SMTP_PATTERNS },
	{ "pattern-list", CONF_SC_PATTERNS },
	{ "bounce-category-patterns", CONF_SC_BOUNCE_CATS },
	{ "acct-file", CONF_SC_ACCT },
	{ "spool", CONF_SC_SPOOL },
	{ "bounce-processor", CONF_SC_BOUNCE_PROC },
	{ "feedback-loop-processor", CONF_SC_FBL_PROC },
	{ "address-list", CONF_SC_ADDRESS_LIST },
	{ "email-patterns", CONF_SC_EMAIL_PATTERNS },
	{ "mx-rollup-list", CONF_SC_ROLLUP },
	{ "dns", CONF_SC_DNS },
	{ "rewrite-list", CONF_SC_REWRITE },
	{ "domain-key-list", CONF_SC_KEY_LIST },
	{ "aliases", CONF_SC_ALIASES },
	{ "proxy", CONF_SC_PROXY },
	{ "transmissions-api", CONF_SC_TX_API },
	{ "transmissions-api-listener", CONF_SC_TX_API },
	{ "signals", CONF_SC_SIGNALS },
	{ "signals-filter", CONF_SC_SIGNALS },
};

static unsigned
model_block_scope(const char *name)
{
	for (size_t i = 0; i < sizeof(model_block_scopes) /
	    sizeof(model_block_scopes[0]); i++)
		if (strcmp(model_block_scopes[i].name, name) == 0)
			return model_block_scopes[i].scope;
	return CONF_SC_OTHER;
}

static void model_walk(struct model_build *b, const struct conf_node *parent,
    const struct model_ctx *ctx);

/* Directives whose first word is an IP address or CIDR range. */
static const char *const model_addr_first[] = {
	"smtp-source-host", "http-access", "dummy-smtp-ip",
	"source-ip-max-smtp-out", "source-ip-max-msg-rate",
	"source-ip-max-connect-rate", "source-ip-max-data-volume-rate",
	"ip-connection-limit", NULL,
};

/* Directives "WHAT N": two words, a count last. */
static const char *const model_word_count[] = {
	"mx-connection-limit", "ip-connection-limit", "source-ip-max-smtp-out",
	NULL,
};

/* Checks a value type cannot express; 0, or -1 after reporting. */
static int
model_check(struct model_build *b, const struct conf_node *n)
{
	struct addr_cidr c;
	const char *error;

	for (size_t i = 0; model_addr_first[i] != NULL; i++)
		if (strcmp(n->name, model_addr_first[i]) == 0 && n->nargs > 0 &&
		    addr_cidr_parse(n->args[0], &c, &error) == -1) {
			conf_error(b->e, n->file, n->line, "%s: \"%s\": %s",
			    n->name, n->args[0], error);
			return -1;
		}
	for (size_t i = 0; model_word_count[i] != NULL; i++) {
		char *end;
		long long v;

		if (strcmp(n->name, model_word_count[i]) != 0)
			continue;
		if (n->nargs != 2) {
			conf_error(b->e, n->file, n->line, "%s: expected %s N",
			    n->name, i == 0 ? "MX-PATTERN" : "CIDR");
			return -1;
		}
		v = strtoll(n->args[1], &end, 10);
		if (*end != '\0' || end == n->args[1] || v < 0 || v > 1000000) {
			conf_error(b->e, n->file, n->line, "%s: \"%s\": expected "
			    "a number of connections", n->name, n->args[1]);
			return -1;
		}
	}
	if (strcmp(n->name, "records") == 0) {
		for (size_t i = 0; i < n->nargs; i++) {
			char *w = xstrdup(n->args[i]), *save = NULL;
			int bad = 0;

			for (char *t = strtok_r(w, ",", &save); t != NULL && !bad;
			    t = strtok_r(NULL, ",", &save))
				if (model_record_type(t) == 0) {
					conf_error(b->e, n->file, n->line,
					    "records: unknown record type \"%s\"", t);
					bad = 1;
				}
			free(w);
			if (bad)
				return -1;
		}
		return 0;
	}
	if (strcmp(n->name, "pattern-list") == 0 && n->nargs == 1) {
		/* pmta-reference §1.6: defined before the <source> using it */
		for (size_t i = 0; i < b->m->nblocks; i++)
			if (strcmp(b->m->blocks[i].kind, "pattern-list") == 0 &&
			    strcasecmp(b->m->blocks[i].arg, n->args[0]) == 0)
				return 0;
		conf_error(b->e, n->file, n->line, "pattern-list: no "
		    "<pattern-list %s> defined before this line", n->args[0]);
		return -1;
	}
	return 0;
}

/* Store the value of one directive line into the block's settings. */
static void
model_set(struct model_build *b, struct model_settings *s,
    const struct conf_directive *d, const struct conf_node *n)
{
	struct model_setting *st = NULL;
	struct conf_value v;
	const char *error = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].id == d->id)
			st = &s->v[i];
	if (st != NULL && (d->flags & CONF_F_REPEAT)) {
		if (conf_value_parse(d, n->args, n->nargs, &st->val, &error) == -1)
			conf_error(b->e, n->file, n->line, "%s: %s", n->name, error);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (conf_value_parse(d, n->args, n->nargs, &v, &error) == -1) {
		conf_error(b->e, n->file, n->line, "%s: %s", n->name, error);
		conf_value_free(&v);
		return;
	}
	v.set = true;
	v.file = n->file;
	v.line = n->line;
	if (st == NULL) {
		st = MODEL_GROW(s->v, s->n);
		st->id = d->id;
	} else
		conf_value_free(&st->val);
	st->val = v;
}

static int
model_block_args(struct model_build *b, const struct conf_directive *d,
    const struct conf_node *n)
{
	if ((d->flags & CONF_F_NO_ARG) && n->nargs > 0)
		conf_error(b->e, n->file, n->line, "<%s> takes no argument",
		    n->name);
	else if ((d->flags & (CONF_F_NO_ARG | CONF_F_OPTIONAL_ARG)) == 0 &&
	    n->nargs == 0)
		conf_error(b->e, n->file, n->line, "<%s>: argument missing",
		    n->name);
	else if (n->nargs > 1 && d->id != CONF_ID_DOMAIN_BLOCK &&
	    d->id != CONF_ID_ACCT_BLOCK)
		conf_error(b->e, n->file, n->line,
		    "<%s> takes one argument, not %zu", n->name, n->nargs);
	else
		return 0;
	return -1;
}

static void
model_open_source(struct model_build *b, const struct conf_node *n)
{
	struct model_source *src = MODEL_GROW(b->m->sources, b->m->nsources);
	struct model_ctx inner = { CONF_SC_SOURCE, &src->settings, NULL };
	const char *error;

	src->text = xstrdup(n->args[0]);
	if (addr_cidr_parse(n->args[0], &src->cidr, &error) == -1) {
		/* a name: {auth}, {pickup}, or referenced by listener/user */
		if (strchr(n->args[0], '/') != NULL ||
		    isdigit((unsigned char)n->args[0][0]))
			conf_error(b->e, n->file, n->line, "<source %s>: %s",
			    n->args[0], error);
		src->named = true;
	}
	model_walk(b, n, &inner);
}

static struct model_vmta *
model_vmta_get(struct model *m, const char *name)
{
	struct model_vmta *v;

	for (size_t i = 0; i < m->nvmtas; i++)
		if (strcasecmp(m->vmtas[i].name, name) == 0)
			return &m->vmtas[i];
	v = MODEL_GROW(m->vmtas, m->nvmtas);
	v->name = xstrdup(name);
	return v;
}

static struct model_pool *
model_pool_get(struct model *m, const char *name)
{
	struct model_pool *p;

	for (size_t i = 0; i < m->npools; i++)
		if (strcasecmp(m->pools[i].name, name) == 0)
			return &m->pools[i];
	p = MODEL_GROW(m->pools, m->npools);
	p->name = xstrdup(name);
	return p;
}

/* <domain A [B...]>: each argument, macros expanded, shares one settings. */
static void
model_open_domain(struct model_build *b, const struct model_ctx *ctx,
    const struct conf_node *n)
{
	struct model_settings *s = xcalloc(1, sizeof(*s));
	struct model_ctx inner = { CONF_SC_DOMAIN, s, NULL };
	struct model *m = b->m;

	*MODEL_GROW(m->domain_settings, m->ndomain_settings) = s;
	if (n->nargs > 1)
		conf_warning(b->e, n->file, n->line,
		    "<domain> with %zu names: each gets these settings", n->nargs);
	model_walk(b, n, &inner);
	for (size_t i = 0; i < n->nargs; i++) {
		char **pats = NULL;
		size_t npats = 0;
		bool from_macro;
		const char *error;

		if (model_macros_expand(b->macros, n->args[i], &pats, &npats,
		    &from_macro, &error) == -1) {
			conf_error(b->e, n->file, n->line, "<domain %s>: %s",
			    n->args[i], error);
			continue;
		}
		for (size_t j = 0; j < npats; j++) {
			struct model_domain *d = MODEL_GROW(ctx->domains->v,
			    ctx->domains->n);
			if (model_domain_init(d, pats[j], from_macro, b->order++,
			    s) == -1) {
				conf_error(b->e, n->file, n->line,
				    "<domain %s>: invalid domain pattern", pats[j]);
				ctx->domains->n--;
			}
			free(pats[j]);
		}
		free(pats);
	}
}

static void
model_raw_line(struct model_block *blk, const char *text,
    const struct conf_node *c)
{
	size_t k = blk->nlines++;

	blk->lines = xreallocarray(blk->lines, blk->nlines, sizeof(char *));
	blk->line_files = xreallocarray(blk->line_files, blk->nlines,
	    sizeof(char *));
	blk->line_nums = xreallocarray(blk->line_nums, blk->nlines, sizeof(int));
	blk->lines[k] = xstrdup(text);
	blk->line_files[k] = c->file;
	blk->line_nums[k] = c->line;
}

/*
 * A block whose lines are entries (patterns, rollups ...): keep them raw.
 * A nested <pattern-list> inside a <pattern-list> keeps its place: its
 * entries come between MODEL_PL_OPEN and MODEL_PL_CLOSE lines; other
 * nested blocks are flattened.
 */
static void
model_collect_raw(struct model_block *blk, const struct conf_node *n)
{
	for (size_t i = 0; i < n->nchildren; i++) {
		const struct conf_node *c = n->children[i];
		bool mark = c->block && strcmp(blk->kind, "pattern-list") == 0 &&
		    strcmp(c->name, "pattern-list") == 0;

		if (!c->block) {
			model_raw_line(blk, c->raw ? c->raw : c->name, c);
			continue;
		}
		if (mark)
			model_raw_line(blk, MODEL_PL_OPEN, c);
		model_collect_raw(blk, c);
		if (mark)
			model_raw_line(blk, MODEL_PL_CLOSE, c);
	}
}

static void
model_open_other(struct model_build *b, const struct conf_directive *d,
    const struct conf_node *n)
{
	struct model_block *blk = MODEL_GROW(b->m->blocks, b->m->nblocks);
	struct model_ctx inner = { model_block_scope(n->name), &blk->settings,
	    NULL };

	blk->kind = xstrdup(n->name);
	blk->arg = xstrdup(n->nargs > 0 ? n->args[0] : "");
	blk->file = n->file;
	blk->line = n->line;
	if (d->flags & CONF_F_RAW_BODY)
		model_collect_raw(blk, n);
	else
		model_walk(b, n, &inner);
}

static void
model_open_block(struct model_build *b, const struct model_ctx *ctx,
    const struct conf_directive *d, const struct conf_node *n)
{
	struct model *m = b->m;
	struct model_ctx inner;

	if (model_block_args(b, d, n) == -1)
		return;
	switch (d->id) {
	case CONF_ID_SOURCE_BLOCK:
		model_open_source(b, n);
		return;
	case CONF_ID_DOMAIN_BLOCK:
		model_open_domain(b, ctx, n);
		return;
	case CONF_ID_ACCT_BLOCK: {
		struct model_acct *a = MODEL_GROW(m->accts, m->naccts);
		struct buf path;

		/* "<acct-file |command arg...>": the words make the command */
		buf_init(&path, 64 * 1024);
		for (size_t i = 0; i < n->nargs; i++)
			(void)buf_printf(&path, "%s%s", i ? " " : "", n->args[i]);
		a->path = buf_take(&path);
		inner = (struct model_ctx){ CONF_SC_ACCT, &a->settings, NULL };
		model_walk(b, n, &inner);
		return;
	}
	default:
		break;
	}
	if (strcmp(n->name, "virtual-mta") == 0) {
		struct model_vmta *v = model_vmta_get(m, n->args[0]);
		inner = (struct model_ctx){ CONF_SC_VMTA, &v->settings, &v->domains };
		model_walk(b, n, &inner);
	} else if (strcmp(n->name, "virtual-mta-pool") == 0) {
		struct model_pool *p = model_pool_get(m, n->args[0]);
		inner = (struct model_ctx){ CONF_SC_POOL, &p->settings, &p->domains };
		model_walk(b, n, &inner);
	} else if (d->id == CONF_ID_SPOOL_BLOCK) {
		if (m->spool_dir == NULL)
			m->spool_dir = xstrdup(n->args[0]);
		model_open_other(b, d, n);
	} else
		model_open_other(b, d, n);
}

static void
model_walk(struct model_build *b, const struct conf_node *parent,
    const struct model_ctx *ctx)
{
	for (size_t i = 0; i < parent->nchildren; i++) {
		const struct conf_node *n = parent->children[i];
		const struct conf_directive *d = conf_directive_lookup(n->name,
		    ctx->scope, n->block);

		if (d == NULL) {
			if (conf_directive_any(n->name, n->block) == NULL)
				conf_error(b->e, n->file, n->line,
				    "unknown %s \"%s\"", n->block ? "block" :
				    "directive", n->name);
			else
				conf_error(b->e, n->file, n->line,
				    "%s \"%s\" is not allowed %s", n->block ?
				    "block" : "directive", n->name,
				    conf_scope_name(ctx->scope));
			continue;
		}
		if (d->flags & CONF_F_LEGACY)
			conf_warning(b->e, n->file, n->line,
			    "\"%s\" is a legacy name; accepted", n->name);
		if ((d->flags & CONF_F_ACTED) == 0)
			b->m->unacted[d->id] = true;
		if (d->type == CONF_T_BLOCK)
			model_open_block(b, ctx, d, n);
		else if (strcmp(n->name, "domain-macro") != 0 &&
		    model_check(b, n) == 0)
			model_set(b, ctx->settings, d, n);
	}
}

/* Derived fields: listeners, names, paths, pools, accounting records. */
void	model_finish(struct model *m, struct conf_errors *e);

struct model *
model_load(const char *path, struct conf_errors *e)
{
	int before = e->count;
	struct conf_node *root = conf_parse_file(path, e);
	struct model_build b;
	struct model_ctx top;

	memset(&b, 0, sizeof(b));
	b.m = xcalloc(1, sizeof(*b.m));
	b.m->refs = 1;
	b.m->config_path = xstrdup(path);
	b.e = e;
	b.macros = model_macros_collect(root, e);
	top = (struct model_ctx){ CONF_SC_GLOBAL, &b.m->global, &b.m->domains };
	model_walk(&b, root, &top);
	model_macros_free(b.macros);
	conf_node_free(root);
	model_finish(b.m, e);
	if (e->count > before) {
		model_unref(b.m);
		return NULL;
	}
	return b.m;
}
