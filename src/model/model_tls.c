/*
 * model_tls: the OpenSSL contexts of a snapshot (see model_tls_load()).
 *
 * Inbound: the global context from smtp-server-tls-*, and one more per
 * <smtp-listener> block that writes tls-* lines of its own; whatever
 * such a block leaves out it takes from the global line (or its
 * default), the certificate as the reference says and, Tern's choice,
 * the protocols, ciphers and CA file too.
 *
 * Built once per load, before the snapshot is used, and freed with it:
 * sessions that hold the snapshot keep its contexts, so a reload that
 * changes a certificate affects new connections only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/tls.h"
#include "lib/xmalloc.h"
#include "model/model_private.h"

/* A cipher or suite list that OpenSSL cannot use: an error at its line. */
static int
model_tls_check_ciphers(const struct model_settings *s, int id, bool tls13,
    struct conf_errors *e)
{
	const struct conf_value *v = model_settings_get(s, id);

	if (v == NULL || v->u.s == NULL || v->u.s[0] == '\0' ||
	    tls_ciphers_valid(v->u.s, tls13))
		return 0;
	conf_error(e, v->file, v->line, "%s: OpenSSL accepts no %s in \"%s\"",
	    conf_directives[id].name, tls13 ? "TLS 1.3 cipher suite" : "cipher",
	    v->u.s);
	return -1;
}

static void
model_tls_problem(struct conf_errors *e, bool strict,
    const struct conf_value *v, const char *name, const char *why)
{
	if (strict)
		conf_error(e, v->file, v->line, "%s: %s", name, why);
	else
		conf_warning(e, v->file, v->line, "%s: %s (pmtad will not "
		    "start with it)", name, why);
}

/* A listener directive and the global one it inherits. */
static const struct {
	int	listener, global;
} model_tls_inherit[] = {
	{ CONF_ID_TLS_CERTIFICATE, CONF_ID_SMTP_SERVER_TLS_CERTIFICATE },
	{ CONF_ID_TLS_CA_FILE, CONF_ID_SMTP_SERVER_TLS_CA_FILE },
	{ CONF_ID_TLS_ALLOW_SSLV3, CONF_ID_SMTP_SERVER_TLS_ALLOW_SSLV3 },
	{ CONF_ID_TLS_ALLOW_TLSV1, CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1 },
	{ CONF_ID_TLS_ALLOW_TLSV1_1, CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_1 },
	{ CONF_ID_TLS_ALLOW_TLSV1_2, CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_2 },
	{ CONF_ID_TLS_ALLOW_TLSV1_3, CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_3 },
	{ CONF_ID_TLS_CIPHERS, CONF_ID_SMTP_SERVER_TLS_CIPHERS },
	{ CONF_ID_TLS_TLSV1_3_CIPHERSUITES,
	    CONF_ID_SMTP_SERVER_TLS_TLSV1_3_CIPHERSUITES },
};
#define MODEL_TLS_NINHERIT \
	(sizeof(model_tls_inherit) / sizeof(model_tls_inherit[0]))

/* The global id's value as a listener block sees it: the block's own
 * line for the listener directive, else the global line (else NULL). */
static const struct conf_value *
model_tls_get(const struct model *m, const struct model_settings *blk,
    int global_id)
{
	const struct conf_value *v;

	for (size_t i = 0; blk != NULL && i < MODEL_TLS_NINHERIT; i++)
		if (model_tls_inherit[i].global == global_id &&
		    (v = model_settings_get(blk,
		    model_tls_inherit[i].listener)) != NULL)
			return v;
	return model_settings_get(&m->global, global_id);
}

static const char *
model_tls_get_string(const struct model *m, const struct model_settings *blk,
    int global_id)
{
	const struct conf_value *v = model_tls_get(m, blk, global_id);

	if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0')
		return v->u.s;
	return conf_directives[global_id].def[0] != '\0' ?
	    conf_directives[global_id].def : NULL;
}

/* Does some <smtp-user> log in with a client certificate?  Then every
 * inbound context asks for one. */
static bool
model_tls_cert_users(const struct model *m)
{
	for (size_t i = 0; i < m->nblocks; i++) {
		const struct conf_value *v;

		if (strcmp(m->blocks[i].kind, "smtp-user") == 0 &&
		    (v = model_settings_get(&m->blocks[i].settings,
		    CONF_ID_AUTHENTICATION_METHOD)) != NULL &&
		    v->u.s != NULL && strcmp(v->u.s, "certificate") == 0)
			return true;
	}
	return false;
}

/*
 * An inbound context from the global smtp-server-tls-* lines (blk NULL)
 * or from a listener block's tls-* lines over them.  NULL without a
 * certificate, or when it does not load (then an error or warning at
 * the certificate's line, named `what`).  *ca_r: a CA file is set.
 */
static SSL_CTX *
model_tls_server_ctx(struct model *m, const struct model_settings *blk,
    const char *what, struct conf_errors *e, bool strict, bool *ca_r)
{
	static const int allow[5] = {
		CONF_ID_SMTP_SERVER_TLS_ALLOW_SSLV3,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_1,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_2,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_3,
	};
	const struct conf_value *cert = model_tls_get(m, blk,
	    CONF_ID_SMTP_SERVER_TLS_CERTIFICATE);
	const char *ca = model_tls_get_string(m, blk,
	    CONF_ID_SMTP_SERVER_TLS_CA_FILE);
	struct tls_settings ts;
	SSL_CTX *ctx = NULL;
	char err[512], *path, *ca_path = NULL;

	*ca_r = false;
	if (cert == NULL || cert->u.list.n == 0)
		return NULL;
	path = xstrdup(cert->u.list.v[0]);
	model_abspath(&path);
	memset(&ts, 0, sizeof(ts));
	ts.cert_file = path;
	ts.key_password = cert->u.list.n > 1 ? cert->u.list.v[1] : NULL;
	if (ca != NULL) {
		ca_path = xstrdup(ca);
		model_abspath(&ca_path);
		ts.ca_file = ca_path;
	}
	ts.ask_client_cert = model_tls_cert_users(m);
	ts.ciphers = model_tls_get_string(m, blk,
	    CONF_ID_SMTP_SERVER_TLS_CIPHERS);
	ts.ciphersuites = model_tls_get_string(m, blk,
	    CONF_ID_SMTP_SERVER_TLS_TLSV1_3_CIPHERSUITES);
	for (int i = 0; i < 5; i++)
		if (conf_value_bool(model_tls_get(m, blk, allow[i]),
		    &conf_directives[allow[i]]))
			ts.versions |= 1u << i;
	if (ts.versions == 0)
		model_tls_problem(e, true, cert, what, "every protocol version "
		    "is disallowed (tls-allow-*, smtp-server-tls-allow-*)");
	else if ((ctx = tls_ctx_new(true, &ts, err, sizeof(err))) == NULL)
		model_tls_problem(e, strict, cert, what, err);
	*ca_r = ca != NULL;
	free(path);
	free(ca_path);
	return ctx;
}

/* Does a listener block set TLS directives of its own? */
static bool
model_tls_own(const struct model_settings *blk)
{
	for (size_t i = 0; i < MODEL_TLS_NINHERIT; i++)
		if (model_settings_get(blk, model_tls_inherit[i].listener) != NULL)
			return true;
	return false;
}

/* The contexts of the <smtp-listener> blocks with tls-* lines, and the
 * certificate an immediate-tls listener cannot do without. */
static void
model_tls_listeners(struct model *m, struct conf_errors *e, bool strict)
{
	for (size_t i = 0; i < m->nlisteners; i++) {
		struct model_listener *l = &m->listeners[i];
		const struct model_block *b;
		char what[300];

		if (l->block < 0)
			continue;
		b = &m->blocks[l->block];
		if (model_tls_own(&b->settings)) {
			snprintf(what, sizeof(what), "smtp-listener %s: "
			    "tls-certificate", l->text);
			l->tls_ctx = model_tls_server_ctx(m, &b->settings, what,
			    e, strict, &l->tls_ca);
		}
		if (l->immediate_tls && model_tls_get(m, &b->settings,
		    CONF_ID_SMTP_SERVER_TLS_CERTIFICATE) == NULL)
			conf_error(e, b->file, b->line, "smtp-listener %s: "
			    "immediate-tls needs a certificate (tls-certificate "
			    "or smtp-server-tls-certificate)", l->text);
	}
}

/* The certificates of the users who log in with one. */
static void
model_tls_users(struct model *m, struct conf_errors *e, bool strict)
{
	for (size_t i = 0; i < m->nblocks; i++) {
		const struct model_block *b = &m->blocks[i];
		const struct conf_value *v, *c;
		struct model_tls_user *u;
		char err[512], what[300], *path;
		X509 *cert;

		if (strcmp(b->kind, "smtp-user") != 0 ||
		    (v = model_settings_get(&b->settings,
		    CONF_ID_AUTHENTICATION_METHOD)) == NULL || v->u.s == NULL ||
		    strcmp(v->u.s, "certificate") != 0 ||
		    (c = model_settings_get(&b->settings,
		    CONF_ID_TLS_CERTIFICATE)) == NULL || c->u.list.n == 0)
			continue;
		path = xstrdup(c->u.list.v[0]);
		model_abspath(&path);
		if ((cert = tls_cert_load(path, err, sizeof(err))) == NULL) {
			snprintf(what, sizeof(what), "smtp-user %s: "
			    "tls-certificate", b->arg);
			model_tls_problem(e, strict, c, what, err);
		} else {
			u = MODEL_GROW(m->tls_users, m->ntls_users);
			u->name = xstrdup(b->arg);
			u->cert = cert;
		}
		free(path);
	}
}

/* The context for one smtp-tls-ca-file value, once per distinct file. */
static void
model_tls_ca(struct model *m, const struct conf_value *v,
    struct conf_errors *e, bool strict)
{
	struct model_tls_client *c;
	struct tls_settings ts;
	char err[512], *path;

	for (size_t i = 0; i < m->ntls_clients; i++)
		if (strcmp(m->tls_clients[i].ca_file, v->u.s) == 0)
			return;
	path = xstrdup(v->u.s);
	model_abspath(&path);
	memset(&ts, 0, sizeof(ts));
	ts.ca_file = path;
	c = MODEL_GROW(m->tls_clients, m->ntls_clients);
	c->ca_file = xstrdup(v->u.s);
	if ((c->ctx = tls_ctx_new(false, &ts, err, sizeof(err))) == NULL)
		model_tls_problem(e, strict, v, "smtp-tls-ca-file", err);
	free(path);
}

int
model_tls_load(struct model *m, struct conf_errors *e, bool strict)
{
	int before = e->count;
	struct tls_settings none;
	char err[512];

	(void)model_tls_check_ciphers(&m->global,
	    CONF_ID_SMTP_SERVER_TLS_CIPHERS, false, e);
	(void)model_tls_check_ciphers(&m->global,
	    CONF_ID_SMTP_SERVER_TLS_TLSV1_3_CIPHERSUITES, true, e);
	for (size_t i = 0; i < m->ndomain_settings; i++) {
		const struct model_settings *s = m->domain_settings[i];
		const struct conf_value *ca = model_settings_get(s,
		    CONF_ID_SMTP_TLS_CA_FILE);

		(void)model_tls_check_ciphers(s, CONF_ID_SMTP_TLS_CIPHERS,
		    false, e);
		(void)model_tls_check_ciphers(s,
		    CONF_ID_SMTP_TLS_TLSV1_3_CIPHERSUITES, true, e);
		if (ca != NULL && ca->u.s != NULL && ca->u.s[0] != '\0')
			model_tls_ca(m, ca, e, strict);
	}
	for (size_t i = 0; i < m->nlisteners; i++) {
		const struct model_settings *b;

		if (m->listeners[i].block < 0)
			continue;
		b = &m->blocks[m->listeners[i].block].settings;
		(void)model_tls_check_ciphers(b, CONF_ID_TLS_CIPHERS, false, e);
		(void)model_tls_check_ciphers(b, CONF_ID_TLS_TLSV1_3_CIPHERSUITES,
		    true, e);
	}
	if (e->count == before) {
		m->tls_server = model_tls_server_ctx(m, NULL,
		    "smtp-server-tls-certificate", e, strict, &m->tls_server_ca);
		model_tls_listeners(m, e, strict);
		model_tls_users(m, e, strict);
	}
	memset(&none, 0, sizeof(none));
	if ((m->tls_client = tls_ctx_new(false, &none, err,
	    sizeof(err))) == NULL)
		conf_error(e, m->config_path, 0, "outbound TLS: %s", err);
	return e->count > before ? -1 : 0;
}

struct ssl_ctx_st *
model_listener_tls(const struct model *m, const char *text, bool *ca_r)
{
	for (size_t i = 0; i < m->nlisteners; i++)
		if (m->listeners[i].tls_ctx != NULL &&
		    strcmp(m->listeners[i].text, text) == 0) {
			*ca_r = m->listeners[i].tls_ca;
			return m->listeners[i].tls_ctx;
		}
	*ca_r = m->tls_server_ca;
	return m->tls_server;
}

struct ssl_ctx_st *
model_tls_client(const struct model *m, const char *domain, const char *vmta)
{
	const struct conf_value *v = model_queue_value(m, domain, vmta,
	    CONF_ID_SMTP_TLS_CA_FILE);

	if (v == NULL || v->u.s == NULL || v->u.s[0] == '\0')
		return m->tls_client;
	for (size_t i = 0; i < m->ntls_clients; i++)
		if (strcmp(m->tls_clients[i].ca_file, v->u.s) == 0)
			return m->tls_clients[i].ctx;
	return NULL;
}

void
model_tls_free(struct model *m)
{
	tls_ctx_free(m->tls_server);
	tls_ctx_free(m->tls_client);
	for (size_t i = 0; i < m->ntls_clients; i++) {
		free(m->tls_clients[i].ca_file);
		tls_ctx_free(m->tls_clients[i].ctx);
	}
	free(m->tls_clients);
	for (size_t i = 0; i < m->nlisteners; i++) {
		tls_ctx_free(m->listeners[i].tls_ctx);
		m->listeners[i].tls_ctx = NULL;
	}
	for (size_t i = 0; i < m->ntls_users; i++) {
		free(m->tls_users[i].name);
		tls_cert_free(m->tls_users[i].cert);
	}
	free(m->tls_users);
	m->tls_users = NULL;
	m->ntls_users = 0;
	m->tls_server = m->tls_client = NULL;
	m->tls_clients = NULL;
	m->ntls_clients = 0;
}
