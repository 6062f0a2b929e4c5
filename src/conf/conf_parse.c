/*
 * conf_parse: PowerMTA config text -> conf_node tree (see conf.h).
 *
 * Strategy: split the text into physical lines; tokenize each line
 * (quotes, escapes, comments); a line whose first token starts with '<'
 * opens or closes a block, anything else is a directive.  A stack of
 * open blocks gives the nesting; a mismatched or unclosed block is an
 * error at the line where it shows.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "conf/conf.h"
#include "lib/xmalloc.h"

#define CONF_MAX_DEPTH		16
#define CONF_MAX_FILE		(64 * 1024 * 1024)
#define CONF_MAX_TOKENS		256

/* File names live as long as the process: nodes point at them. */
struct conf_file_name {
	struct conf_file_name	*next;
	char			 name[];
};
static struct conf_file_name *conf_file_names;

static const char *
conf_intern_file(const char *file)
{
	struct conf_file_name *f;
	size_t len = strlen(file);

	for (f = conf_file_names; f != NULL; f = f->next)
		if (strcmp(f->name, file) == 0)
			return f->name;
	f = xmalloc(sizeof(*f) + len + 1);
	memcpy(f->name, file, len + 1);
	f->next = conf_file_names;
	conf_file_names = f;
	return f->name;
}

void
conf_errors_init(struct conf_errors *e)
{
	buf_init(&e->text, 1024 * 1024);
	e->count = e->warnings = 0;
}

void
conf_errors_free(struct conf_errors *e)
{
	buf_free(&e->text);
}

static void conf_vreport(struct conf_errors *, const char *, const char *,
    int, const char *, va_list) __attribute__((format(printf, 5, 0)));

static void
conf_vreport(struct conf_errors *e, const char *kind, const char *file,
    int line, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		(void)buf_printf(&e->text, "%s:%d: %s%s\n", file, line, kind, msg);
	else
		(void)buf_printf(&e->text, "%s: %s%s\n", file, kind, msg);
}

void
conf_error(struct conf_errors *e, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vreport(e, "", file, line, fmt, ap);
	va_end(ap);
	e->count++;
}

void
conf_warning(struct conf_errors *e, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vreport(e, "warning: ", file, line, fmt, ap);
	va_end(ap);
	e->warnings++;
}

static struct conf_node *
conf_node_new(const char *file, int line, bool block)
{
	struct conf_node *n = xcalloc(1, sizeof(*n));

	n->file = file;
	n->line = line;
	n->block = block;
	return n;
}

static void
conf_node_add(struct conf_node *parent, struct conf_node *child)
{
	parent->children = xreallocarray(parent->children,
	    parent->nchildren + 1, sizeof(*parent->children));
	parent->children[parent->nchildren++] = child;
}

void
conf_node_free(struct conf_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nchildren; i++)
		conf_node_free(n->children[i]);
	for (size_t i = 0; i < n->nargs; i++)
		free(n->args[i]);
	free(n->args);
	free(n->children);
	free(n->name);
	free(n);
}

/*
 * Tokenize one line into toks (each a fresh string).  Returns the number
 * of tokens, or -1 with *error_r set.
 */
static int
conf_tokenize(const char *p, const char *end, char **toks, const char **error_r)
{
	int ntok = 0;

	for (;;) {
		struct buf t;
		bool quoted = false;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end || *p == '#')
			return ntok;
		if (ntok == CONF_MAX_TOKENS) {
			*error_r = "too many values on one line";
			goto fail;
		}
		buf_init(&t, 64 * 1024);
		while (p < end && (quoted || (*p != ' ' && *p != '\t' &&
		    *p != '\r' && *p != '#'))) {
			if (*p == '"') {
				quoted = !quoted;
				p++;
				continue;
			}
			if (quoted && *p == '\\' && p + 1 < end)
				p++;
			if (buf_append(&t, p++, 1) == -1)
				break;
		}
		if (quoted || t.err) {
			buf_free(&t);
			*error_r = quoted ? "unterminated quoted string" :
			    "value too long";
			goto fail;
		}
		toks[ntok++] = buf_take(&t);
	}
fail:
	while (ntok > 0)
		free(toks[--ntok]);
	return -1;
}

static void
conf_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

struct conf_parser {
	const char		*file;
	struct conf_errors	*e;
	struct conf_node	*stack[CONF_MAX_DEPTH + 1];
	int			 depth;
};

/* A "<tag args>" or "</tag>" line; toks[0] starts with '<'. */
static void
conf_tag_line(struct conf_parser *p, int line, char **toks, int ntok)
{
	size_t last = strlen(toks[ntok - 1]);
	bool closing = toks[0][1] == '/';
	struct conf_node *n;

	if (toks[ntok - 1][last - 1] != '>') {
		conf_error(p->e, p->file, line, "missing '>' in \"%s\"", toks[0]);
		return;
	}
	toks[ntok - 1][last - 1] = '\0';
	if (ntok > 1 && toks[ntok - 1][0] == '\0') {
		free(toks[--ntok]);
	}
	memmove(toks[0], toks[0] + 1 + closing, strlen(toks[0]) - closing);
	conf_lower(toks[0]);
	if (closing) {
		/* "</tag anything>": anything after the name is ignored */
		if (p->depth == 0) {
			conf_error(p->e, p->file, line,
			    "</%s> without an open <%s>", toks[0], toks[0]);
		} else if (strcmp(p->stack[p->depth]->name, toks[0]) != 0) {
			conf_error(p->e, p->file, line,
			    "</%s> closes <%s> opened at line %d", toks[0],
			    p->stack[p->depth]->name, p->stack[p->depth]->line);
		} else
			p->depth--;
		for (int i = 0; i < ntok; i++)
			free(toks[i]);
		return;
	}
	if (p->depth == CONF_MAX_DEPTH) {
		conf_error(p->e, p->file, line, "blocks nested too deeply");
		for (int i = 0; i < ntok; i++)
			free(toks[i]);
		return;
	}
	n = conf_node_new(p->file, line, true);
	n->name = toks[0];
	n->nargs = (size_t)ntok - 1;
	n->args = xreallocarray(NULL, n->nargs, sizeof(char *));
	memcpy(n->args, toks + 1, n->nargs * sizeof(char *));
	conf_node_add(p->stack[p->depth], n);
	p->stack[++p->depth] = n;
}

static void
conf_parse_line(struct conf_parser *p, int line, const char *s,
    const char *end)
{
	char *toks[CONF_MAX_TOKENS];
	const char *error;
	struct conf_node *n;
	int ntok;

	if ((ntok = conf_tokenize(s, end, toks, &error)) == -1) {
		conf_error(p->e, p->file, line, "%s", error);
		return;
	}
	if (ntok == 0)
		return;
	if (toks[0][0] == '<') {
		conf_tag_line(p, line, toks, ntok);
		return;
	}
	n = conf_node_new(p->file, line, false);
	conf_lower(toks[0]);
	n->name = toks[0];
	n->nargs = (size_t)ntok - 1;
	n->args = xreallocarray(NULL, n->nargs, sizeof(char *));
	memcpy(n->args, toks + 1, n->nargs * sizeof(char *));
	conf_node_add(p->stack[p->depth], n);
}

struct conf_node *
conf_parse_text(const char *file, const char *text, size_t len,
    struct conf_errors *e)
{
	struct conf_parser p = { conf_intern_file(file), e, { NULL }, 0 };
	const char *s = text, *end = text + len;
	int line = 0;

	p.stack[0] = conf_node_new(p.file, 0, true);
	p.stack[0]->name = xstrdup("");
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;

		line++;
		conf_parse_line(&p, line, s, eol);
		s = nl ? nl + 1 : end;
	}
	for (; p.depth > 0; p.depth--)
		conf_error(e, p.file, p.stack[p.depth]->line,
		    "<%s> is not closed", p.stack[p.depth]->name);
	return p.stack[0];
}

struct conf_node *
conf_parse_file(const char *path, struct conf_errors *e)
{
	struct buf text;
	char chunk[65536];
	struct conf_node *root;
	FILE *f;
	size_t n;

	buf_init(&text, CONF_MAX_FILE);
	if ((f = fopen(path, "r")) == NULL) {
		conf_error(e, path, 0, "cannot open: %s", strerror(errno));
		return conf_parse_text(path, "", 0, e);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&text, chunk, n) == -1)
			break;
	if (ferror(f) || text.err)
		conf_error(e, path, 0, "cannot read: %s",
		    text.err ? "file too large" : strerror(errno));
	fclose(f);
	root = conf_parse_text(path, buf_str(&text), text.len, e);
	buf_free(&text);
	return root;
}
