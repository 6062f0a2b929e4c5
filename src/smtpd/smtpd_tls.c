/*
 * smtpd_tls: TLS on inbound sessions.
 *
 * STARTTLS (RFC 3207) is offered when the client's listener has a
 * certificate (its own <smtp-listener> tls-certificate, else
 * smtp-server-tls-certificate; model_listener_tls()) and the client's
 * <source> has allow-starttls.  After the 220 the command loop stops:
 * whatever the client sent behind STARTTLS is discarded unread (no
 * clear-text command injection), and after the handshake the session
 * starts over as if just greeted.
 *
 * An immediate-tls listener (SMTPS, RFC 8314 "implicit TLS") starts the
 * handshake as soon as the client connects; the greeting is the first
 * thing said over TLS, and STARTTLS is then neither offered nor
 * accepted (the session is encrypted already).
 *
 * After either handshake a client certificate may log an <smtp-user>
 * in (authentication-method certificate, smtpd_auth_tls_login()).
 */
#include "config.h"

#include <stdlib.h>

#include "lib/log.h"
#include "smtpd/smtpd_private.h"

bool
smtpd_tls_offered(const struct smtpd_session *s)
{
	return s->tls_ctx != NULL && !s->tls &&
	    smtpd_source_bool(s, CONF_ID_ALLOW_STARTTLS);
}

/* The TLS handshake starts once the command loop has consumed this line
 * (smtpd_tls_begin()). */
void
smtpd_cmd_starttls(struct smtpd_session *s, struct smtp_cmd *c)
{
	(void)c;
	if (s->tls) {
		smtpd_reply(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!smtpd_tls_offered(s)) {
		smtpd_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	smtpd_transaction_reset(s);
	smtpd_reply(s, "220 2.0.0 ready to start TLS");
	if (s->state != SMTPD_CLOSING)
		s->state = SMTPD_TLS;
}

void
smtpd_tls_begin(struct smtpd_session *s)
{
	char err[256];
	size_t discarded = 0;

	if (conn_starttls(&s->conn, s->tls_ctx, true, NULL, &discarded, err,
	    sizeof(err)) == -1) {
		log_warnx("(in) %s: cannot start TLS: %s", s->peer_ip, err);
		s->state = SMTPD_CLOSING;	/* after the 220, then close */
		conn_read_enable(&s->conn, false);
		return;
	}
	if (discarded > 0)
		log_info("(in) %s: %zu byte(s) sent behind STARTTLS discarded",
		    s->peer_ip, discarded);
}

/*
 * Called last by smtpd_session_new(): on failure the session is freed
 * here.  A listener whose certificate went away in a reload (the socket
 * stays, the new snapshot has no certificate) cannot serve anyone.
 */
void
smtpd_tls_implicit(struct smtpd_session *s)
{
	char err[256];

	if (s->tls_ctx == NULL) {
		log_warnx("(in) %s: immediate-tls listener without a "
		    "certificate: connection closed", s->peer_ip);
		smtpd_session_free(s);
		return;
	}
	if (conn_starttls(&s->conn, s->tls_ctx, true, NULL, NULL, err,
	    sizeof(err)) == -1) {
		log_warnx("(in) %s: cannot start TLS: %s", s->peer_ip, err);
		smtpd_session_free(s);
		return;
	}
	s->tls_implicit = true;
	s->state = SMTPD_TLS;
}

/* The handshake completed: the session starts over (RFC 3207 4.2), or,
 * with implicit TLS, begins. */
void
smtpd_tls_done(struct smtpd_session *s)
{
	char desc[256];

	conn_tls_describe(&s->conn, desc, sizeof(desc));
	if (smtpd_source_bool(s, CONF_ID_LOG_TLS))
		log_info("(in) %s: tls:%s", s->peer_ip, desc);
	else
		log_debug("(in) %s: tls:%s", s->peer_ip, desc);
	s->tls = true;
	smtpd_transaction_reset(s);
	smtpd_auth_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	s->state = SMTPD_GREETED;
	smtpd_auth_tls_login(s);
	if (s->tls_implicit) {
		s->tls_implicit = false;
		smtpd_session_greet(s);
	}
	if (s->smtpd->stopping && s->state != SMTPD_CLOSING)
		smtpd_session_stop(s);
}
