/*
 * Unit tests for conf: the syntax tree (comments, quotes, blocks, CRLF,
 * a last line without newline) and the errors with file:line.
 */
#include "config.h"

#include <string.h>

#include "conf/conf.h"
#include "tap.h"

static struct conf_node *
parse(const char *text, struct conf_errors *e)
{
	conf_errors_init(e);
	return conf_parse_text("t.conf", text, strlen(text), e);
}

int
main(void)
{
	struct conf_errors e;
	struct conf_node *r, *n;

	r = parse("# comment\r\nHost-Name  mail.example.com   # trailing\r\n"
	    "\t<domain *>\n  smtp-hosts \"[127.0.0.1]:25\" ; [10.0.0.1]\n"
	    "</domain>\nbackoff-notify \"\"\nlog-file \"/a b/c\\\"d\"", &e);
	is_int(e.count, 0, "a valid text has no errors");
	is_int((long long)r->nchildren, 4, "four top-level nodes");
	n = r->children[0];
	is_str(n->name, "host-name", "names are lower-cased");
	is_int((long long)n->nargs, 1, "a trailing comment is not a value");
	is_str(n->args[0], "mail.example.com", "the value is kept as written");
	is_int(n->line, 2, "line numbers count CRLF lines");
	n = r->children[1];
	ok(n->block && strcmp(n->name, "domain") == 0 && n->nargs == 1 &&
	    strcmp(n->args[0], "*") == 0, "<domain *> is a block with one argument");
	is_int((long long)n->nchildren, 1, "the block holds its directive");
	is_int((long long)n->children[0]->nargs, 3, "quoted and unquoted values");
	is_str(n->children[0]->args[0], "[127.0.0.1]:25", "quotes are removed");
	n = r->children[2];
	ok(n->nargs == 1 && n->args[0][0] == '\0', "\"\" is an empty value");
	is_str(r->children[3]->args[0], "/a b/c\"d",
	    "spaces and escaped quotes inside quotes; no final newline needed");
	conf_node_free(r);
	conf_errors_free(&e);

	r = parse("<source 1.2.3.4>\nx y\n</domain>\n</source>\n<domain a>\n"
	    "value \"unterminated\n", &e);
	is_int(e.count, 3, "three syntax errors reported");
	ok(strstr(buf_str(&e.text), "t.conf:3: </domain> closes <source> opened at line 1") != NULL,
	    "a mismatched closing tag names both lines");
	ok(strstr(buf_str(&e.text), "t.conf:6: unterminated quoted string") != NULL,
	    "an unterminated quote is reported at its line");
	ok(strstr(buf_str(&e.text), "t.conf:5: <domain> is not closed") != NULL,
	    "an unclosed block is reported where it opened");
	conf_node_free(r);
	conf_errors_free(&e);

	conf_errors_init(&e);
	r = conf_parse_text("t.conf", "<a \"\"\n<b\0>\n", 9, &e);
	is_int(e.count, 2, "an empty last word in a tag and a NUL byte are errors");
	ok(strstr(buf_str(&e.text), "t.conf:1: missing '>'") != NULL &&
	    strstr(buf_str(&e.text), "t.conf:2: a NUL byte") != NULL,
	    "both at their lines (fuzz findings)");
	conf_node_free(r);
	conf_errors_free(&e);

	r = parse("<bounce-category-patterns>\n/spam/ spam-related\n"
	    "</bounce-category-patterns>\n<domain x>\n</domain extra words>\n", &e);
	is_int(e.count, 0, "tags without arguments, and words after a closing tag name");
	ok(r->nchildren == 2 && r->children[0]->nargs == 0, "<tag> without argument");
	conf_node_free(r);
	conf_errors_free(&e);
	return done_testing();
}
