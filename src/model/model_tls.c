/*
 * model_tls: the OpenSSL contexts of a snapshot (see model_tls_load()).
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

/* The versions an allow list of directives permits (ids in TLS_V_* order). */
static unsigned
model_tls_versions(const struct model_settings *s, const int ids[5])
{
	unsigned v = 0;

	for (int i = 0; i < 5; i++)
		if (ids[i] >= 0 && conf_value_bool(model_settings_get(s, ids[i]),
		    &conf_directives[ids[i]]))
			v |= 1u << i;
	return v;
}

static const char *
model_tls_string(const struct model_settings *s, int id)
{
	const struct conf_value *v = model_settings_get(s, id);

	if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0')
		return v->u.s;
	return conf_directives[id].def[0] != '\0' ? conf_directives[id].def :
	    NULL;
}

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

static void
model_tls_server(struct model *m, struct conf_errors *e, bool strict)
{
	static const int allow[5] = {
		CONF_ID_SMTP_SERVER_TLS_ALLOW_SSLV3,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_1,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_2,
		CONF_ID_SMTP_SERVER_TLS_ALLOW_TLSV1_3,
	};
	const struct conf_value *cert = model_settings_get(&m->global,
	    CONF_ID_SMTP_SERVER_TLS_CERTIFICATE);
	struct tls_settings ts;
	char err[512], *path;

	if (cert == NULL || cert->u.list.n == 0)
		return;
	path = xstrdup(cert->u.list.v[0]);
	model_abspath(&path);
	memset(&ts, 0, sizeof(ts));
	ts.cert_file = path;
	ts.key_password = cert->u.list.n > 1 ? cert->u.list.v[1] : NULL;
	ts.ciphers = model_tls_string(&m->global, CONF_ID_SMTP_SERVER_TLS_CIPHERS);
	ts.ciphersuites = model_tls_string(&m->global,
	    CONF_ID_SMTP_SERVER_TLS_TLSV1_3_CIPHERSUITES);
	ts.versions = model_tls_versions(&m->global, allow);
	if (ts.versions == 0)
		model_tls_problem(e, true, cert, "smtp-server-tls-certificate",
		    "every protocol version is disallowed "
		    "(smtp-server-tls-allow-*)");
	else if ((m->tls_server = tls_ctx_new(true, &ts, err,
	    sizeof(err))) == NULL)
		model_tls_problem(e, strict, cert, "smtp-server-tls-certificate",
		    err);
	free(path);
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
	if (e->count == before)
		model_tls_server(m, e, strict);
	memset(&none, 0, sizeof(none));
	if ((m->tls_client = tls_ctx_new(false, &none, err,
	    sizeof(err))) == NULL)
		conf_error(e, m->config_path, 0, "outbound TLS: %s", err);
	return e->count > before ? -1 : 0;
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
	m->tls_server = m->tls_client = NULL;
	m->tls_clients = NULL;
	m->ntls_clients = 0;
}
