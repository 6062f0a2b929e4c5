/*
 * Unit tests for model: domain pattern precedence (pmta-reference §1.3),
 * the <domain> levels of a queue (global, pool, VMTA: open question Q1),
 * domain-macro expansion, source matching, includes, all errors reported.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "tap.h"
#include "testutil.h"

static char dir[] = "/tmp/tern-test-model-XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF)
		abort();
	fclose(f);
}

static struct model *
load(const char *text, struct conf_errors *e)
{
	return test_model_load(dir, text, e);
}

/* max-smtp-out of a queue, as show settings would print it. */
static const char *
qval(const struct model *m, const char *domain, const char *vmta,
    const char *name)
{
	static struct buf b;
	const struct conf_directive *d = conf_directive_lookup(name,
	    CONF_SC_DOMAIN, false);

	buf_free(&b);
	buf_init(&b, 4096);
	if (d == NULL)
		return "(no such directive)";
	conf_value_format(d, model_queue_value(m, domain, vmta, d->id), &b);
	return buf_str(&b);
}

static void
test_precedence(void)
{
	struct conf_errors e;
	struct model *m = load(
	    "spool /tmp/x\n"
	    "domain-macro big example.com, example.org\n"
	    "<domain *>\n max-msg-rate 1/h\n</domain>\n"
	    "<domain [*.]example.com>\n max-msg-rate 2/h\n</domain>\n"
	    "<domain *.example.com>\n max-msg-rate 3/h\n</domain>\n"
	    "<domain sub.example.com>\n max-msg-rate 4/h\n</domain>\n"
	    "<domain $big>\n max-msg-rate 5/h\n</domain>\n"
	    "<domain example.com>\n max-msg-rate 6/h\n</domain>\n"
	    "<domain [*.]com>\n max-msg-rate 7/h\n</domain>\n"
	    "<domain Dup.Test>\n max-msg-rate 8/h\n</domain>\n"
	    "<domain dup.test>\n max-msg-rate 9/h\n</domain>\n", &e);

	ok(m != NULL, "precedence config loads");
	if (m == NULL) {
		diag("%s", buf_str(&e.text));
		return;
	}
	is_str(qval(m, "other.net", NULL, "max-msg-rate"), "1/h", "* for anything");
	is_str(qval(m, "example.com", NULL, "max-msg-rate"), "6/h",
	    "an explicit exact name beats the same name from a macro");
	is_str(qval(m, "example.org", NULL, "max-msg-rate"), "5/h",
	    "a macro-expanded exact name applies");
	is_str(qval(m, "a.example.com", NULL, "max-msg-rate"), "3/h",
	    "*.x beats [*.]x for a subdomain");
	is_str(qval(m, "sub.example.com", NULL, "max-msg-rate"), "4/h",
	    "an exact name beats *.x");
	is_str(qval(m, "a.b.example.com", NULL, "max-msg-rate"), "3/h",
	    "*.x matches deeper subdomains");
	is_str(qval(m, "foo.com", NULL, "max-msg-rate"), "7/h",
	    "[*.]com for another .com domain");
	is_str(qval(m, "dup.test", NULL, "max-msg-rate"), "9/h",
	    "the same block twice: the later one wins");
	model_unref(m);
	conf_errors_free(&e);
}

static void
test_levels(void)
{
	struct conf_errors e;
	struct model *m = load(
	    "spool /tmp/x\n"
	    "<domain gmail.com>\n max-smtp-out 5\n retry-after 30m\n</domain>\n"
	    "<domain *>\n max-smtp-out 7\n bounce-after 2d\n</domain>\n"
	    "<virtual-mta v1>\n <domain *>\n  max-smtp-out 50\n </domain>\n"
	    "</virtual-mta>\n"
	    "<virtual-mta v2>\n</virtual-mta>\n"
	    "<virtual-mta-pool p>\n virtual-mta v2\n"
	    " <domain gmail.com>\n  bounce-after 1d\n </domain>\n"
	    "</virtual-mta-pool>\n", &e);

	ok(m != NULL, "levels config loads");
	if (m == NULL) {
		diag("%s", buf_str(&e.text));
		return;
	}
	is_str(qval(m, "gmail.com", "v1", "max-smtp-out"), "50",
	    "Q1: the VMTA's <domain *> beats the global <domain gmail.com>");
	is_str(qval(m, "gmail.com", "v1", "retry-after"), "30m",
	    "what the VMTA does not set comes from the global level");
	is_str(qval(m, "gmail.com", "v2", "bounce-after"), "1d",
	    "a pool's <domain> applies to its members");
	is_str(qval(m, "gmail.com", "v2", "max-smtp-out"), "5",
	    "and the global level below it");
	is_str(qval(m, "yahoo.com", "v2", "bounce-after"), "2d",
	    "the pool's gmail.com block does not apply to yahoo.com");
	is_str(qval(m, "yahoo.com", NULL, "retry-after"), "10m",
	    "nothing set anywhere: PMTA's default");
	model_unref(m);
	conf_errors_free(&e);
}

static void
test_macros_includes(void)
{
	struct conf_errors e;
	struct model *m;

	write_file("vmta-a.conf", "<virtual-mta a>\n</virtual-mta>\n");
	write_file("vmta-b.conf", "<virtual-mta b>\n</virtual-mta>\n");
	m = load("spool /tmp/x\n"
	    "domain-macro tld com, de,\n  co.uk\n"
	    "domain-macro isp yahoo, ymail\n"
	    "<domain $isp.$tld>\n max-msg-rate 9/m\n</domain>\n"
	    "include vmta-*.conf\n", &e);
	ok(m != NULL, "macros and a wildcard include load");
	if (m == NULL) {
		diag("%s", buf_str(&e.text));
		return;
	}
	is_str(qval(m, "ymail.co.uk", NULL, "max-msg-rate"), "9/m",
	    "$isp.$tld expands to the product, continued lines included");
	is_str(qval(m, "yahoo.de", NULL, "max-msg-rate"), "9/m", "yahoo.de too");
	ok(model_vmta_find(m, "a") != NULL && model_vmta_find(m, "b") != NULL,
	    "both included files were read");
	model_unref(m);
	conf_errors_free(&e);

	write_file("loop.conf", "include config\n");
	m = load("spool /tmp/x\ninclude loop.conf\n<domain $nope>\n</domain>\n"
	    "include missing.conf\n", &e);
	ok(m == NULL, "a config with an include cycle does not load");
	ok(strstr(buf_str(&e.text), "include cycle") != NULL, "the cycle is named");
	ok(strstr(buf_str(&e.text), "undefined domain-macro") != NULL,
	    "an undefined macro is reported");
	ok(strstr(buf_str(&e.text), "missing.conf") != NULL,
	    "a missing include file is reported");
	is_int(e.count, 3, "all three errors are reported");
	conf_errors_free(&e);
}

static void
test_sources(void)
{
	struct conf_errors e;
	struct sockaddr_in sin;
	struct model *m = load(
	    "spool /tmp/x\n"
	    "<source 0/0>\n always-allow-relaying no\n</source>\n"
	    "<source 10.1/16>\n always-allow-relaying yes\n</source>\n"
	    "<source 10.1.2.3>\n</source>\n"
	    "<source {auth}>\n always-allow-relaying yes\n</source>\n", &e);

	ok(m != NULL, "sources load");
	if (m == NULL)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	ok(model_source_relaying(m, (struct sockaddr *)&sin),
	    "a more specific source that does not set it inherits from 10.1/16");
	inet_pton(AF_INET, "10.2.0.1", &sin.sin_addr);
	ok(!model_source_relaying(m, (struct sockaddr *)&sin),
	    "0/0 gives the default");
	model_unref(m);
	conf_errors_free(&e);
}

int
main(void)
{
	char cmd[600];

	if (mkdtemp(dir) == NULL)
		return 1;
	test_precedence();
	test_levels();
	test_macros_includes();
	test_sources();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
