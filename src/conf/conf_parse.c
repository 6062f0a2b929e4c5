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
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "conf/conf.h"
#include "lib/xmalloc.h"

#define CONF_MAX_DEPTH		16
#define CONF_MAX_FILE		(64 * 1024 * 1024)
#define CONF_MAX_TOKENS		4096
#define CONF_MAX_INCLUDE	16

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
	free(n->raw);
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
	struct conf_errors	*e;
	struct conf_node	*stack[CONF_MAX_DEPTH + 1];
	int			 depth;
	struct conf_node	*last;		/* last directive, for continuations */
	const char		*files[CONF_MAX_INCLUDE];	/* include stack */
	int			 nfiles;
};

static void conf_parse_buffer(struct conf_parser *p, const char *file,
    const char *text, size_t len);

static void
conf_free_tokens(char **toks, int ntok)
{
	while (ntok > 0)
		free(toks[--ntok]);
}

static struct conf_node *
conf_node_from_tokens(const char *file, int line, bool block, char **toks,
    int ntok)
{
	struct conf_node *n = conf_node_new(file, line, block);

	n->name = toks[0];
	n->nargs = (size_t)ntok - 1;
	n->args = xreallocarray(NULL, n->nargs, sizeof(char *));
	memcpy(n->args, toks + 1, n->nargs * sizeof(char *));
	return n;
}

/* A "<tag args>" or "</tag>" line; toks[0] starts with '<'. */
static void
conf_tag_line(struct conf_parser *p, const char *file, int line, char **toks,
    int ntok, int base)
{
	size_t last = strlen(toks[ntok - 1]);
	bool closing = toks[0][1] == '/';
	struct conf_node *n;

	if (last == 0 || toks[ntok - 1][last - 1] != '>') {
		conf_error(p->e, file, line, "missing '>' in \"%s\"", toks[0]);
		conf_free_tokens(toks, ntok);
		return;
	}
	toks[ntok - 1][last - 1] = '\0';
	if (ntok > 1 && toks[ntok - 1][0] == '\0')
		free(toks[--ntok]);
	memmove(toks[0], toks[0] + 1 + closing, strlen(toks[0]) - closing);
	conf_lower(toks[0]);
	if (closing) {
		/* "</tag anything>": anything after the name is ignored */
		if (p->depth <= base)
			conf_error(p->e, file, line, "</%s> without an open <%s>",
			    toks[0], toks[0]);
		else if (strcmp(p->stack[p->depth]->name, toks[0]) != 0)
			conf_error(p->e, file, line,
			    "</%s> closes <%s> opened at line %d", toks[0],
			    p->stack[p->depth]->name, p->stack[p->depth]->line);
		else
			p->depth--;
		conf_free_tokens(toks, ntok);
		return;
	}
	if (p->depth == CONF_MAX_DEPTH) {
		conf_error(p->e, file, line, "blocks nested too deeply");
		conf_free_tokens(toks, ntok);
		return;
	}
	n = conf_node_from_tokens(file, line, true, toks, ntok);
	conf_node_add(p->stack[p->depth], n);
	p->stack[++p->depth] = n;
	p->last = NULL;
}

static bool
conf_has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Read a whole file into a capped buffer; -1 with errno on failure. */
static int
conf_read_file(const char *path, struct buf *text)
{
	char chunk[65536];
	size_t n;
	FILE *f;
	int r = 0;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(text, chunk, n) == -1) {
			errno = EFBIG;
			r = -1;
			break;
		}
	if (ferror(f)) {
		errno = EIO;
		r = -1;
	}
	fclose(f);
	return r;
}

/* Parse one included file at the current position of the tree. */
static void
conf_include_file(struct conf_parser *p, const char *from, int line,
    const char *path)
{
	char real[PATH_MAX];
	struct buf text;
	const char *name;

	if (realpath(path, real) == NULL) {
		conf_error(p->e, from, line, "include: cannot open \"%s\": %s",
		    path, strerror(errno));
		return;
	}
	for (int i = 0; i < p->nfiles; i++)
		if (strcmp(p->files[i], real) == 0) {
			conf_error(p->e, from, line,
			    "include: \"%s\" is already being read (include cycle)",
			    path);
			return;
		}
	if (p->nfiles == CONF_MAX_INCLUDE) {
		conf_error(p->e, from, line, "include: nested too deeply");
		return;
	}
	buf_init(&text, CONF_MAX_FILE);
	if (conf_read_file(path, &text) == -1) {
		conf_error(p->e, from, line, "include: cannot read \"%s\": %s",
		    path, strerror(errno));
		buf_free(&text);
		return;
	}
	name = conf_intern_file(path);
	p->files[p->nfiles++] = conf_intern_file(real);
	conf_parse_buffer(p, name, buf_str(&text), text.len);
	p->nfiles--;
	buf_free(&text);
}

/*
 * "include PATTERN": a file, or a wildcard (matches read in sorted
 * order; none is not an error), relative to the including file's
 * directory.  The text is read as if written at this point.
 */
static void
conf_include(struct conf_parser *p, const char *file, int line,
    char **toks, int ntok)
{
	char *dir, *pattern;
	glob_t g;

	if (ntok != 2) {
		conf_error(p->e, file, line, "include: expected one file name");
		return;
	}
	if (strncmp(toks[1], "http://", 7) == 0 ||
	    strncmp(toks[1], "https://", 8) == 0) {
		conf_error(p->e, file, line, "include: URLs are not supported");
		return;
	}
	dir = xstrdup(file);
	pattern = toks[1][0] == '/' ? xstrdup(toks[1]) :
	    xasprintf("%s/%s", dirname(dir), toks[1]);
	free(dir);
	if (!conf_has_wildcard(toks[1])) {
		conf_include_file(p, file, line, pattern);
		free(pattern);
		return;
	}
	memset(&g, 0, sizeof(g));
	if (glob(pattern, 0, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			conf_include_file(p, file, line, g.gl_pathv[i]);
	globfree(&g);
	free(pattern);
}

/*
 * domain-macro lists are wrapped over several lines in real configs,
 * with no continuation marker: a line following a domain-macro whose
 * last value ends with ',' continues it.
 */
static bool
conf_continues(const struct conf_parser *p)
{
	const struct conf_node *n = p->last;
	const char *lastarg;

	if (n == NULL || strcmp(n->name, "domain-macro") != 0 || n->nargs < 2)
		return false;
	lastarg = n->args[n->nargs - 1];
	return lastarg[0] != '\0' && lastarg[strlen(lastarg) - 1] == ',';
}

static void
conf_parse_line(struct conf_parser *p, const char *file, int line,
    const char *s, const char *end, int base)
{
	char *toks[CONF_MAX_TOKENS];
	const char *error = NULL;
	struct conf_node *n;
	int ntok;

	if (memchr(s, '\0', (size_t)(end - s)) != NULL) {
		conf_error(p->e, file, line, "a NUL byte in the line");
		return;
	}
	if ((ntok = conf_tokenize(s, end, toks, &error)) == -1) {
		conf_error(p->e, file, line, "%s", error);
		return;
	}
	if (ntok == 0)
		return;
	if (toks[0][0] == '<') {
		conf_tag_line(p, file, line, toks, ntok, base);
		return;
	}
	if (conf_continues(p)) {
		n = p->last;
		n->args = xreallocarray(n->args, n->nargs + (size_t)ntok,
		    sizeof(char *));
		memcpy(n->args + n->nargs, toks, (size_t)ntok * sizeof(char *));
		n->nargs += (size_t)ntok;
		return;
	}
	conf_lower(toks[0]);
	if (strcmp(toks[0], "include") == 0) {
		conf_include(p, file, line, toks, ntok);
		conf_free_tokens(toks, ntok);
		p->last = NULL;
		return;
	}
	n = conf_node_from_tokens(file, line, false, toks, ntok);
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	n->raw = xstrndup(s, (size_t)(end - s));
	n->raw[strcspn(n->raw, "\r")] = '\0';
	conf_node_add(p->stack[p->depth], n);
	p->last = n;
}

static void
conf_parse_buffer(struct conf_parser *p, const char *file, const char *text,
    size_t len)
{
	const char *s = text, *end = text + len;
	int base = p->depth, line = 0;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		s += 3;		/* a UTF-8 byte order mark */
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;

		line++;
		conf_parse_line(p, file, line, s, eol, base);
		s = nl ? nl + 1 : end;
	}
	for (; p->depth > base; p->depth--)
		conf_error(p->e, file, p->stack[p->depth]->line,
		    "<%s> is not closed", p->stack[p->depth]->name);
	p->last = NULL;
}

struct conf_node *
conf_parse_text(const char *file, const char *text, size_t len,
    struct conf_errors *e)
{
	struct conf_parser p;
	const char *name = conf_intern_file(file);

	memset(&p, 0, sizeof(p));
	p.e = e;
	p.stack[0] = conf_node_new(name, 0, true);
	p.stack[0]->name = xstrdup("");
	p.files[p.nfiles++] = name;
	conf_parse_buffer(&p, name, text, len);
	return p.stack[0];
}

struct conf_node *
conf_parse_file(const char *path, struct conf_errors *e)
{
	struct conf_parser p;
	char real[PATH_MAX];
	struct buf text;
	const char *name = conf_intern_file(path);

	memset(&p, 0, sizeof(p));
	p.e = e;
	p.stack[0] = conf_node_new(name, 0, true);
	p.stack[0]->name = xstrdup("");
	buf_init(&text, CONF_MAX_FILE);
	if (conf_read_file(path, &text) == -1) {
		conf_error(e, path, 0, "cannot read: %s", strerror(errno));
	} else {
		p.files[p.nfiles++] = conf_intern_file(
		    realpath(path, real) ? real : path);
		conf_parse_buffer(&p, name, buf_str(&text), text.len);
	}
	buf_free(&text);
	return p.stack[0];
}
