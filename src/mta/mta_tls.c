/*
 * mta_tls: outbound STARTTLS policy (pmta-reference §2.2, §2.9, §3.4).
 *
 * After EHLO, when the receiver offers STARTTLS and the queue has
 * use-starttls (the default), the session sends STARTTLS, upgrades the
 * connection with SNI = the host's name (not for an IP literal) and
 * says EHLO again.  Opportunistic TLS (require-starttls no): a receiver
 * without STARTTLS, or one that refuses it, gets the mail in clear
 * text; a failed handshake closes the connection and the same host is
 * tried again in clear text.  require-starttls yes: any of these is a
 * temporary failure of the queue (4.7.4 not offered or refused, 4.7.5
 * handshake failed), and nothing is sent in clear.
 *
 * Receivers' certificates are not verified (PMTA's default), unless the
 * queue names an smtp-tls-ca-file: then the chain must lead to one of
 * its CAs and the certificate must match the host's name; a failure is
 * a failed handshake (clear text again, or 4.7.5 when TLS is required).
 * Protocol versions and ciphers: smtp-tls-allow-*, smtp-tls-ciphers,
 * smtp-tls-tlsv1.3-ciphersuites.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "mta/mta_private.h"

static const struct conf_value *
mta_tls_value(const struct mta_session *s, int id)
{
	return model_queue_value(s->model, s->q->domain, s->q->vmta, id);
}

static bool
mta_tls_bool(const struct mta_session *s, int id)
{
	return conf_value_bool(mta_tls_value(s, id), &conf_directives[id]);
}

/* A string setting, its table default, or NULL. */
static const char *
mta_tls_string(const struct mta_session *s, int id)
{
	const struct conf_value *v = mta_tls_value(s, id);

	if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0')
		return v->u.s;
	return conf_directives[id].def[0] != '\0' ? conf_directives[id].def :
	    NULL;
}

/* The queue's smtp-tls-* choices for this connection. */
static void
mta_tls_opts(const struct mta_session *s, struct tls_conn_opts *o)
{
	static const int allow[5] = {
		CONF_ID_SMTP_TLS_ALLOW_SSLV3, CONF_ID_SMTP_TLS_ALLOW_TLSV1,
		CONF_ID_SMTP_TLS_ALLOW_TLSV1_1, CONF_ID_SMTP_TLS_ALLOW_TLSV1_2,
		CONF_ID_SMTP_TLS_ALLOW_TLSV1_3,
	};

	memset(o, 0, sizeof(*o));
	o->sni = tls_sni_valid(s->dest_name) ? s->dest_name : NULL;
	o->ciphers = mta_tls_string(s, CONF_ID_SMTP_TLS_CIPHERS);
	o->ciphersuites = mta_tls_string(s, CONF_ID_SMTP_TLS_TLSV1_3_CIPHERSUITES);
	for (int i = 0; i < 5; i++)
		if (mta_tls_bool(s, allow[i]))
			o->versions |= 1u << i;
}

/* require-starttls (which also implies use-starttls). */
static bool
mta_tls_required(const struct mta_session *s)
{
	return mta_tls_bool(s, CONF_ID_REQUIRE_STARTTLS);
}

int
mta_tls_offer(struct mta_session *s)
{
	bool offered = (s->ext & SMTP_EXT_STARTTLS) != 0;

	if (s->tls)
		return 0;
	if (offered && !s->no_tls && (mta_tls_required(s) ||
	    mta_tls_bool(s, CONF_ID_USE_STARTTLS))) {
		s->state = MTA_STARTTLS;
		return conn_printf(&s->conn, "STARTTLS\r\n") == -1 ? -1 : 1;
	}
	if (!mta_tls_required(s))
		return 0;
	snprintf(s->fail, sizeof(s->fail), "451 4.7.4 TLS is required "
	    "(require-starttls), but %s (%s) does not offer STARTTLS",
	    s->dest_name, s->dest_ip);
	return -1;
}

/* The 220: upgrade the connection. */
static int
mta_tls_start(struct mta_session *s)
{
	struct ssl_ctx_st *ctx = model_tls_client(s->model, s->q->domain,
	    s->q->vmta);
	struct tls_conn_opts o;
	char err[256];
	size_t discarded = 0;

	mta_tls_opts(s, &o);
	if (ctx == NULL)
		snprintf(err, sizeof(err), "no TLS context");
	else if (conn_starttls(&s->conn, ctx, false, &o, &discarded, err,
	    sizeof(err)) == 0) {
		if (discarded > 0)
			log_info("%s: %zu byte(s) from %s behind the STARTTLS "
			    "reply discarded", s->q->name, discarded, s->dest_ip);
		s->state = MTA_TLS;
		return 0;
	}
	snprintf(s->fail, sizeof(s->fail), "451 4.7.5 cannot start TLS with "
	    "%s (%s): %s", s->dest_name, s->dest_ip, err);
	return -1;
}

int
mta_tls_reply(struct mta_session *s, int code, const char *text)
{
	if (code == 220)
		return mta_tls_start(s);
	if (mta_tls_required(s)) {
		snprintf(s->fail, sizeof(s->fail), "451 4.7.4 TLS is required "
		    "(require-starttls), but %s (%s) refused STARTTLS: %.200s",
		    s->dest_name, s->dest_ip, text);
		return -1;
	}
	log_info("%s: %s (%s) refused STARTTLS, going on in clear text: %.200s",
	    s->q->name, s->dest_name, s->dest_ip, text);
	s->no_tls = true;
	return 1;
}

int
mta_tls_ready(struct mta_session *s)
{
	const struct conf_value *v = mta_tls_value(s, CONF_ID_LOG_TLS);
	char desc[256];

	s->tls = true;
	snprintf(s->tls_protocol, sizeof(s->tls_protocol), "%s",
	    conn_tls_protocol(&s->conn));
	snprintf(s->tls_cipher, sizeof(s->tls_cipher), "%s",
	    conn_tls_cipher(&s->conn));
	conn_tls_describe(&s->conn, desc, sizeof(desc));
	if (conf_value_bool(v, &conf_directives[CONF_ID_LOG_TLS]))
		log_info("%s: %s (%s) tls:%s", s->q->name, s->dest_name,
		    s->dest_ip, desc);
	else
		log_debug("%s: %s (%s) tls:%s", s->q->name, s->dest_name,
		    s->dest_ip, desc);
	/* RFC 3207 4.2: forget what the server said in clear text */
	smtp_reply_init(&s->reply);
	return mta_session_ehlo(s);
}

bool
mta_tls_failed(struct mta_session *s)
{
	const char *why = conn_tls_error(&s->conn);

	if (mta_tls_required(s)) {
		snprintf(s->fail, sizeof(s->fail), "451 4.7.5 TLS handshake "
		    "with %s (%s) failed: %s", s->dest_name, s->dest_ip, why);
		return false;
	}
	log_info("%s: TLS handshake with %s (%s) failed, trying again in "
	    "clear text: %s", s->q->name, s->dest_name, s->dest_ip, why);
	s->clear_retry = true;
	return true;
}

const char *
mta_session_tls_protocol(const struct mta_session *s)
{
	return s->tls_protocol;
}

const char *
mta_session_tls_cipher(const struct mta_session *s)
{
	return s->tls_cipher;
}
