/*
 * conf: the PowerMTA configuration language, read into a syntax tree.
 *
 * The file is line-oriented: "directive value..." lines and
 * "<tag arg>" ... "</tag>" blocks, '#' comments (not inside double
 * quotes), double-quoted values with backslash escapes, CRLF or LF line
 * ends, a last line without a newline.  Every node remembers its
 * file:line.  Directive names and tags are lower-cased; values are kept
 * as written.
 *
 * The tree knows nothing of what directives mean: the directive table
 * (conf_directives.def) and the model builder give them meaning.  Errors
 * are collected, not fatal, so that every error in a file is reported.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct conf_node {
	char		 *name;		/* directive or tag, lower case */
	char		**args;		/* values after the name */
	size_t		  nargs;
	char		 *raw;		/* a directive's line as written, from its
					   first word, comments included */
	const char	 *file;		/* interned: lives as long as the process */
	int		  line;
	bool		  block;	/* <name args> ... </name> */
	struct conf_node **children;	/* of a block, in file order */
	size_t		  nchildren;
};

struct conf_errors {
	struct buf	text;		/* one "file:line: message\n" per error */
	int		count;
	int		warnings;
};

void	conf_errors_init(struct conf_errors *e);
void	conf_errors_free(struct conf_errors *e);
void	conf_error(struct conf_errors *e, const char *file, int line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	conf_warning(struct conf_errors *e, const char *file, int line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Parse text[0..len) as the contents of `file`.  Returns the root (a
 * block named "" holding the top-level nodes), never NULL; syntax errors
 * are added to *e.
 */
struct conf_node *conf_parse_text(const char *file, const char *text,
	    size_t len, struct conf_errors *e);
/*
 * Read and parse a file; an unreadable file is an error in *e.
 * "include FILE|PATTERN" lines are replaced by the nodes of the files
 * they name (relative names are taken from the including file's
 * directory; wildcard matches in sorted order); an include cycle, a
 * missing file (not a wildcard) or nesting deeper than 16 is an error.
 */
struct conf_node *conf_parse_file(const char *path, struct conf_errors *e);
void	conf_node_free(struct conf_node *n);

#endif
