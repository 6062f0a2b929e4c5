/*
 * smtpd_auth: SMTP AUTH on the injection side (RFC 4954) against the
 * <smtp-user NAME> blocks of the configuration (pmta-reference §2.6):
 * PLAIN, LOGIN and CRAM-MD5 with the passwords written in the blocks.
 *
 * What the client's <source> says (pmta-reference §2.4, §3.1):
 *   - allow-auth (yes) offers AUTH, require-auth (no) refuses MAIL and
 *     XMRG with 530 until the client authenticated (and offers AUTH even
 *     when allow-auth is no);
 *   - PLAIN and LOGIN send the password itself: without TLS they are
 *     offered only with allow-unencrypted-plain-auth yes (538 otherwise),
 *     CRAM-MD5 always; require-starttls-before-auth hides AUTH until the
 *     session is encrypted;
 *   - smtp-max-auth-failure-rate N/interval: failures are counted per
 *     client address across connections; the failure after N within one
 *     interval (counted from the first) gets 421 and the connection
 *     closes, and until that interval ends every AUTH from the address
 *     is answered the same way without its credentials being looked at.
 * AUTH is offered only when the configuration has an <smtp-user> that
 * logs in with a password (its own or its system account's).
 *
 * Once authenticated, the user's named <source> (its `source` line, or
 * {auth}) applies on top of the settings the client's address selects
 * (smtpd_session_origin): relaying, default-virtual-mta, jobid-prefix
 * and the rest come from there.  STARTTLS forgets the authentication
 * (RFC 3207 §4.2).  Secrets never reach the log; the buffers that held
 * them are wiped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crypt.h>
#include <shadow.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "smtp/smtp_auth.h"
#include "smtpd/smtpd_private.h"

#define SMTPD_AUTH_FAILS_MAX	4096	/* client addresses remembered */
#define SMTPD_AUTH_USER_SOURCE	"{auth}"

/* An exchange in progress (state SMTPD_AUTH). */
struct smtpd_auth {
	enum smtp_auth_mech	 mech;
	bool			 have_user;	/* LOGIN: the password is next */
	char			 user[SMTP_AUTH_FIELD_MAX + 1];
	char			 challenge[256];	/* CRAM-MD5 */
};

/* Failures of one client address in the current interval. */
struct smtpd_auth_fail {
	char			 ip[64];
	time_t			 start;		/* the interval's first failure */
	unsigned long long	 count;
};

struct smtpd_auth_fails {
	struct smtpd_auth_fail	*v;
	size_t			 n, cap;
};

enum {
	SMTPD_AUTH_BIT_PLAIN = 1u << SMTP_AUTH_PLAIN,
	SMTPD_AUTH_BIT_LOGIN = 1u << SMTP_AUTH_LOGIN,
	SMTPD_AUTH_BIT_CRAM = 1u << SMTP_AUTH_CRAM_MD5,
};

/* --- the configuration --- */

/* How an <smtp-user> proves who it is. */
enum smtpd_auth_how {
	SMTPD_AUTH_NONE,	/* it cannot: no block, no password */
	SMTPD_AUTH_BY_PASSWORD,
	SMTPD_AUTH_BY_SYSTEM,
	SMTPD_AUTH_BY_CERT,
};

/* How the user of block b logs in; *secret: a password user's password. */
static enum smtpd_auth_how
smtpd_auth_block_how(const struct model_block *b, const char **secret)
{
	const struct conf_value *v;

	*secret = NULL;
	if (b == NULL)
		return SMTPD_AUTH_NONE;
	v = model_settings_get(&b->settings, CONF_ID_AUTHENTICATION_METHOD);
	if (v != NULL && v->u.s != NULL && strcmp(v->u.s, "system") == 0)
		return SMTPD_AUTH_BY_SYSTEM;
	if (v != NULL && v->u.s != NULL && strcmp(v->u.s, "certificate") == 0)
		return SMTPD_AUTH_BY_CERT;
	v = model_settings_get(&b->settings, CONF_ID_PASSWORD);
	if (v == NULL || v->u.s == NULL || v->u.s[0] == '\0')
		return SMTPD_AUTH_NONE;
	*secret = v->u.s;
	return SMTPD_AUTH_BY_PASSWORD;
}

/* The user's block (NULL: unknown) and method. */
static enum smtpd_auth_how
smtpd_auth_user(const struct model *m, const char *user,
    const struct model_block **block, const char **secret)
{
	*block = model_block_find(m, "smtp-user", user);
	return smtpd_auth_block_how(*block, secret);
}

/* The SMTPD_AUTH_BIT_* the users of the configuration can use. */
static unsigned
smtpd_auth_usable(const struct model *m)
{
	unsigned bits = 0;

	for (size_t i = 0; i < m->nblocks; i++) {
		const char *secret;

		if (strcmp(m->blocks[i].kind, "smtp-user") != 0)
			continue;
		switch (smtpd_auth_block_how(&m->blocks[i], &secret)) {
		case SMTPD_AUTH_BY_PASSWORD:
			bits |= SMTPD_AUTH_BIT_CRAM;
			/* FALLTHROUGH */
		case SMTPD_AUTH_BY_SYSTEM:
			bits |= SMTPD_AUTH_BIT_PLAIN | SMTPD_AUTH_BIT_LOGIN;
			break;
		default:
			break;
		}
	}
	return bits;
}

/* Does the client's <source> let it authenticate? */
static bool
smtpd_auth_source_allows(const struct smtpd_session *s)
{
	return smtpd_source_bool(s, CONF_ID_ALLOW_AUTH) ||
	    smtpd_source_bool(s, CONF_ID_REQUIRE_AUTH);
}

/* May the client use AUTH at all? */
static bool
smtpd_auth_enabled(const struct smtpd_session *s)
{
	return smtpd_auth_usable(s->model) != 0 && smtpd_auth_source_allows(s);
}

static bool
smtpd_auth_needs_tls(const struct smtpd_session *s)
{
	return !s->tls &&
	    smtpd_source_bool(s, CONF_ID_REQUIRE_STARTTLS_BEFORE_AUTH);
}

/* The mechanisms offered now, SMTPD_AUTH_BIT_*; 0 for none. */
static unsigned
smtpd_auth_offered(const struct smtpd_session *s)
{
	unsigned usable = smtpd_auth_usable(s->model);

	if (usable == 0 || !smtpd_auth_source_allows(s) ||
	    smtpd_auth_needs_tls(s))
		return 0;
	if (!s->tls &&
	    !smtpd_source_bool(s, CONF_ID_ALLOW_UNENCRYPTED_PLAIN_AUTH))
		usable &= SMTPD_AUTH_BIT_CRAM;
	return usable;
}

/*
 * authentication-method system: the password of the Linux account
 * `user`, against its hash in /etc/shadow (readable by root only, as
 * getspnam_r() needs).  No account, a locked one ("!" or "*" hashes), an
 * expired one, an empty hash: false.  crypt_r() runs on the loop thread
 * (a yescrypt check takes some milliseconds); the failure rate limit
 * (smtp-max-auth-failure-rate) bounds how often a client can make it.
 */
static bool
smtpd_auth_system(const char *user, const char *pass)
{
	struct spwd sp, *res = NULL;
	struct crypt_data *cd;
	char buf[4096];
	const char *h;
	long today = (long)(time(NULL) / 86400);
	bool ok = false;

	if (getspnam_r(user, &sp, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (sp.sp_pwdp != NULL && sp.sp_pwdp[0] != '\0' &&
	    sp.sp_pwdp[0] != '!' && sp.sp_pwdp[0] != '*' &&
	    (sp.sp_expire <= 0 || today < sp.sp_expire)) {
		cd = xcalloc(1, sizeof(*cd));
		h = crypt_r(pass, sp.sp_pwdp, cd);
		ok = h != NULL && h[0] != '*' && smtp_auth_equal(h, strlen(h),
		    sp.sp_pwdp, strlen(sp.sp_pwdp));
		OPENSSL_cleanse(cd, sizeof(*cd));
		free(cd);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok;
}

/* The failures tolerated per interval: false when unlimited. */
static bool
smtpd_auth_limit(const struct smtpd_session *s, struct conf_rate *rate)
{
	const struct conf_value *v;

	v = smtpd_source_value(s, CONF_ID_SMTP_MAX_AUTH_FAILURE_RATE);
	if (v == NULL || v->unlimited || v->u.rate.count <= 0 ||
	    v->u.rate.per <= 0)
		return false;		/* 0 = unlimited (pmta-reference Q19) */
	*rate = v->u.rate;
	return true;
}

/* --- failures per client address --- */

static struct smtpd_auth_fail *
smtpd_auth_fail_find(struct smtpd *d, const char *ip)
{
	struct smtpd_auth_fails *f = d->auth_fails;

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].ip, ip) == 0)
			return &f->v[i];
	return NULL;
}

/* A fresh entry for ip; when the table is full, the one whose interval
 * began longest ago makes room. */
static struct smtpd_auth_fail *
smtpd_auth_fail_add(struct smtpd *d, const char *ip, time_t now)
{
	struct smtpd_auth_fails *f = d->auth_fails;
	struct smtpd_auth_fail *e;

	if (f == NULL)
		f = d->auth_fails = xcalloc(1, sizeof(*f));
	if (f->n < f->cap || f->cap < SMTPD_AUTH_FAILS_MAX) {
		if (f->n == f->cap) {
			f->cap = f->cap == 0 ? 16 : f->cap * 2;
			f->v = xreallocarray(f->v, f->cap, sizeof(*f->v));
		}
		e = &f->v[f->n++];
	} else {
		e = &f->v[0];
		for (size_t i = 1; i < f->n; i++)
			if (f->v[i].start < e->start)
				e = &f->v[i];
	}
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	e->start = now;
	e->count = 0;
	return e;
}

/* Has the client used up its failures for the current interval? */
static bool
smtpd_auth_blocked(const struct smtpd_session *s)
{
	struct smtpd_auth_fail *e;
	struct conf_rate rate;
	time_t now = time(NULL);

	if (!smtpd_auth_limit(s, &rate) ||
	    (e = smtpd_auth_fail_find(s->smtpd, s->peer_ip)) == NULL)
		return false;
	return now - e->start < rate.per && e->count > (unsigned long long)rate.count;
}

/* Count a failure; true when it is one too many. */
static bool
smtpd_auth_fail_count(struct smtpd_session *s)
{
	struct smtpd_auth_fail *e;
	struct conf_rate rate;
	time_t now = time(NULL);

	if (!smtpd_auth_limit(s, &rate))
		return false;
	if ((e = smtpd_auth_fail_find(s->smtpd, s->peer_ip)) == NULL)
		e = smtpd_auth_fail_add(s->smtpd, s->peer_ip, now);
	if (now - e->start >= rate.per) {	/* a new interval */
		e->start = now;
		e->count = 0;
	}
	return ++e->count > (unsigned long long)rate.count;
}

void
smtpd_auth_fails_free(struct smtpd *d)
{
	if (d->auth_fails != NULL)
		free(d->auth_fails->v);
	free(d->auth_fails);
	d->auth_fails = NULL;
}

/* --- the exchange --- */

/* The user name as the log may show it. */
static void
smtpd_auth_printable(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ||
		    in[i] == '"' ? '?' : in[i];
	out[i] = '\0';
}

/* The exchange is over: back to commands (unless closing). */
static void
smtpd_auth_end(struct smtpd_session *s)
{
	if (s->auth != NULL) {
		OPENSSL_cleanse(s->auth, sizeof(*s->auth));
		free(s->auth);
		s->auth = NULL;
	}
	if (s->state == SMTPD_AUTH)
		s->state = SMTPD_IDLE;
}

static void
smtpd_auth_close(struct smtpd_session *s)
{
	smtpd_reply(s, "421 4.7.0 %s too many authentication failures, "
	    "closing", s->model->host_name);
	s->state = SMTPD_CLOSING;
	conn_read_enable(&s->conn, false);
}

/* The user is logged in (`how`: a mechanism, or "certificate"). */
static void
smtpd_auth_accept(struct smtpd_session *s, const struct model_block *b,
    const char *how)
{
	const struct conf_value *v = model_settings_get(&b->settings,
	    CONF_ID_USER_SOURCE);
	char user[128];

	free(s->auth_user);
	s->auth_user = xstrdup(b->arg);
	s->auth_source = v != NULL && v->u.s != NULL && v->u.s[0] != '\0' ?
	    v->u.s : SMTPD_AUTH_USER_SOURCE;
	s->relaying = smtpd_source_bool(s, CONF_ID_ALWAYS_ALLOW_RELAYING);
	smtpd_session_settings(s);	/* the user's <source> applies now */
	smtpd_auth_printable(s->auth_user, user, sizeof(user));
	log_info("(in) %s: authenticated as \"%s\" (%s), source %s",
	    s->peer_ip, user, how, s->auth_source);
}

static void
smtpd_auth_success(struct smtpd_session *s, const struct model_block *b,
    enum smtp_auth_mech mech)
{
	smtpd_auth_end(s);
	smtpd_auth_accept(s, b, smtp_auth_mech_name(mech));
	smtpd_reply(s, "235 2.7.0 authentication successful");
}

static void
smtpd_auth_failure(struct smtpd_session *s, const char *name,
    enum smtp_auth_mech mech)
{
	char user[128];

	smtpd_auth_printable(name, user, sizeof(user));	/* name may be in
							   s->auth */
	smtpd_auth_end(s);
	log_info("(in) %s: AUTH %s failed for \"%s\"", s->peer_ip,
	    smtp_auth_mech_name(mech), user);
	if (smtpd_auth_fail_count(s)) {
		log_info("(in) %s: too many AUTH failures, closing", s->peer_ip);
		smtpd_auth_close(s);
		return;
	}
	smtpd_reply(s, "535 5.7.8 authentication credentials invalid");
}

/* PLAIN and LOGIN: the user and password as the client sent them. */
static void
smtpd_auth_password(struct smtpd_session *s, const char *user,
    const char *pass)
{
	const struct model_block *b;
	const char *secret;
	enum smtpd_auth_how how = smtpd_auth_user(s->model, user, &b, &secret);
	enum smtp_auth_mech mech = s->auth->mech;
	bool ok;

	ok = smtp_auth_equal(pass, strlen(pass), secret != NULL ? secret : "",
	    secret != NULL ? strlen(secret) : 0) && secret != NULL;
	if (how == SMTPD_AUTH_BY_SYSTEM)
		ok = smtpd_auth_system(user, pass);
	if (ok)
		smtpd_auth_success(s, b, mech);
	else
		smtpd_auth_failure(s, user, mech);
}

/* CRAM-MD5: "user digest" against our challenge. */
static void
smtpd_auth_cram(struct smtpd_session *s, const unsigned char *p, size_t len)
{
	char user[SMTP_AUTH_FIELD_MAX + 1], got[SMTP_AUTH_DIGEST_SIZE];
	char want[SMTP_AUTH_DIGEST_SIZE];
	const struct model_block *b;
	const char *secret;
	bool ok;

	if (smtp_auth_cram_parse(p, len, user, sizeof(user), got) == -1) {
		smtpd_auth_end(s);
		smtpd_reply(s, "501 5.5.2 malformed CRAM-MD5 response");
		return;
	}
	/* a system or certificate user has no secret here: 535 as for a
	 * wrong password */
	(void)smtpd_auth_user(s->model, user, &b, &secret);
	ok = smtp_auth_cram_digest(secret != NULL ? secret : "",
	    secret != NULL ? strlen(secret) : 0, s->auth->challenge,
	    strlen(s->auth->challenge), want) == 0 &&
	    smtp_auth_equal(got, strlen(got), want, strlen(want)) &&
	    secret != NULL;
	OPENSSL_cleanse(want, sizeof(want));
	if (ok)
		smtpd_auth_success(s, b, SMTP_AUTH_CRAM_MD5);
	else
		smtpd_auth_failure(s, user, SMTP_AUTH_CRAM_MD5);
}

/* A decoded response (or initial response) for the exchange. */
static void
smtpd_auth_step(struct smtpd_session *s, const unsigned char *p, size_t len)
{
	struct smtpd_auth *a = s->auth;
	struct smtp_auth_cred cred;
	char pass[SMTP_AUTH_FIELD_MAX + 1];

	switch (a->mech) {
	case SMTP_AUTH_PLAIN:
		if (smtp_auth_plain_parse(p, len, &cred) == -1) {
			smtpd_auth_end(s);
			smtpd_reply(s, "501 5.5.2 malformed PLAIN response");
			return;
		}
		if (cred.authzid[0] != '\0' && strcmp(cred.authzid, cred.user) != 0)
			/* no user may act as another one */
			smtpd_auth_failure(s, cred.user, SMTP_AUTH_PLAIN);
		else
			smtpd_auth_password(s, cred.user, cred.pass);
		OPENSSL_cleanse(&cred, sizeof(cred));
		return;
	case SMTP_AUTH_LOGIN:
		if (!a->have_user) {
			if (smtp_auth_login_field(p, len, a->user,
			    sizeof(a->user)) == -1) {
				smtpd_auth_end(s);
				smtpd_reply(s, "501 5.5.2 malformed user name");
				return;
			}
			a->have_user = true;
			s->state = SMTPD_AUTH;
			smtpd_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
			return;
		}
		if (smtp_auth_login_field(p, len, pass, sizeof(pass)) == -1) {
			smtpd_auth_end(s);
			smtpd_reply(s, "501 5.5.2 malformed password");
			return;
		}
		smtpd_auth_password(s, a->user, pass);
		OPENSSL_cleanse(pass, sizeof(pass));
		return;
	case SMTP_AUTH_CRAM_MD5:
		smtpd_auth_cram(s, p, len);
		return;
	}
}

/* The first challenge of a mechanism that was given no initial
 * response. */
static void
smtpd_auth_challenge(struct smtpd_session *s)
{
	struct smtpd_auth *a = s->auth;
	unsigned char rnd[8];
	char b64[sizeof(a->challenge) * 4 / 3 + 8];
	unsigned long long r = 0;

	s->state = SMTPD_AUTH;
	switch (a->mech) {
	case SMTP_AUTH_PLAIN:
		smtpd_reply(s, "334 ");
		return;
	case SMTP_AUTH_LOGIN:
		smtpd_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
		return;
	case SMTP_AUTH_CRAM_MD5:
		/* RFC 2195 §2: a unique msg-id style string */
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			smtpd_auth_end(s);
			smtpd_reply(s, "454 4.7.0 temporary authentication "
			    "failure");
			return;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			r = r << 8 | rnd[i];
		snprintf(a->challenge, sizeof(a->challenge), "<%llu.%lld@%s>",
		    r, (long long)time(NULL), s->model->host_name);
		(void)smtp_auth_b64_encode(a->challenge, strlen(a->challenge),
		    b64, sizeof(b64));
		smtpd_reply(s, "334 %s", b64);
		return;
	}
}

bool
smtpd_auth_ehlo(struct smtpd_session *s, char *buf, size_t size)
{
	unsigned bits = smtpd_auth_offered(s);

	if (bits == 0)
		return false;
	snprintf(buf, size, "AUTH%s%s%s",
	    (bits & SMTPD_AUTH_BIT_PLAIN) ? " PLAIN" : "",
	    (bits & SMTPD_AUTH_BIT_LOGIN) ? " LOGIN" : "",
	    (bits & SMTPD_AUTH_BIT_CRAM) ? " CRAM-MD5" : "");
	return true;
}

void
smtpd_auth_cmd(struct smtpd_session *s, struct smtp_cmd *c)
{
	unsigned char dec[SMTPD_LINE_MAX];
	const char *sp, *ir = NULL;
	size_t mlen = c->arg_len, irlen = 0, declen;
	int mech;

	if (!s->esmtp) {
		smtpd_reply(s, "503 5.5.1 bad sequence of commands: send EHLO "
		    "first");
		return;
	}
	if (s->auth_user != NULL) {
		smtpd_reply(s, "503 5.5.1 already authenticated");
		return;
	}
	if (!smtpd_auth_enabled(s)) {
		smtpd_reply(s, "503 5.5.1 authentication not enabled");
		return;
	}
	if (smtpd_auth_needs_tls(s)) {
		smtpd_reply(s, "530 5.7.0 must issue a STARTTLS command first");
		return;
	}
	if (smtpd_auth_blocked(s)) {
		log_info("(in) %s: AUTH refused: too many failures", s->peer_ip);
		smtpd_auth_close(s);
		return;
	}
	if ((sp = memchr(c->arg, ' ', c->arg_len)) != NULL) {
		mlen = (size_t)(sp - c->arg);
		ir = sp + 1;
		irlen = c->arg_len - mlen - 1;
		while (irlen > 0 && *ir == ' ') {
			ir++;
			irlen--;
		}
	}
	if (mlen == 0 || (ir != NULL && memchr(ir, ' ', irlen) != NULL)) {
		smtpd_reply(s, "501 5.5.4 syntax: AUTH mechanism [initial-response]");
		return;
	}
	if ((mech = smtp_auth_mech_parse(c->arg, mlen)) == -1) {
		smtpd_reply(s, "504 5.5.4 unrecognized authentication type");
		return;
	}
	if ((smtpd_auth_usable(s->model) & (1u << mech)) == 0) {
		/* CRAM-MD5 with no password user (system accounts only) */
		smtpd_reply(s, "504 5.5.4 authentication mechanism not "
		    "available");
		return;
	}
	if ((smtpd_auth_offered(s) & (1u << mech)) == 0) {
		smtpd_reply(s, "538 5.7.11 encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (ir != NULL && mech == SMTP_AUTH_CRAM_MD5) {
		smtpd_reply(s, "501 5.5.4 CRAM-MD5 takes no initial response");
		return;
	}
	s->auth = xcalloc(1, sizeof(*s->auth));
	s->auth->mech = (enum smtp_auth_mech)mech;
	if (ir == NULL) {
		smtpd_auth_challenge(s);
		return;
	}
	if (irlen == 1 && ir[0] == '=')		/* RFC 4954 §4: empty */
		irlen = 0;
	else if (irlen == 0 || smtp_auth_b64_decode(ir, irlen, dec,
	    sizeof(dec), &declen) == -1) {
		smtpd_auth_end(s);
		smtpd_reply(s, "501 5.5.2 cannot decode the initial response");
		return;
	}
	if (irlen == 0)
		declen = 0;
	smtpd_auth_step(s, dec, declen);
	OPENSSL_cleanse(dec, sizeof(dec));
}

void
smtpd_auth_input(struct smtpd_session *s, const char *line, size_t len)
{
	unsigned char dec[SMTPD_LINE_MAX];
	size_t declen;

	if (s->auth == NULL) {		/* cannot happen */
		s->state = SMTPD_IDLE;
		return;
	}
	if (len == 1 && line[0] == '*') {
		smtpd_auth_end(s);
		smtpd_reply(s, "501 5.0.0 authentication cancelled");
		return;
	}
	if (smtp_auth_b64_decode(line, len, dec, sizeof(dec), &declen) == -1) {
		smtpd_auth_end(s);
		smtpd_reply(s, "501 5.5.2 cannot decode the response");
		return;
	}
	smtpd_auth_step(s, dec, declen);
	OPENSSL_cleanse(dec, sizeof(dec));
}

bool
smtpd_auth_mail_allowed(struct smtpd_session *s)
{
	if (s->auth_user != NULL || !smtpd_source_bool(s, CONF_ID_REQUIRE_AUTH))
		return true;
	smtpd_reply(s, "530 5.7.0 authentication required");
	return false;
}

void
smtpd_auth_tls_login(struct smtpd_session *s)
{
	const struct model *m = s->model;
	const struct model_block *b;
	bool verified;
	char user[128];

	if (m->ntls_users == 0 || !conn_tls_has_peer_cert(&s->conn))
		return;
	if (!smtpd_auth_source_allows(s)) {
		log_debug("(in) %s: client certificate ignored (allow-auth no)",
		    s->peer_ip);
		return;
	}
	for (size_t i = 0; i < m->ntls_users; i++) {
		if (!conn_tls_peer_is(&s->conn, m->tls_users[i].cert,
		    &verified))
			continue;
		smtpd_auth_printable(m->tls_users[i].name, user, sizeof(user));
		if (s->tls_ca && !verified) {
			log_info("(in) %s: the client certificate of \"%s\" "
			    "does not verify against the CA file: not logged "
			    "in", s->peer_ip, user);
			return;
		}
		if ((b = model_block_find(m, "smtp-user",
		    m->tls_users[i].name)) != NULL)
			smtpd_auth_accept(s, b, "certificate");
		return;
	}
	log_info("(in) %s: a client certificate that is no user's", s->peer_ip);
}

void
smtpd_auth_reset(struct smtpd_session *s)
{
	smtpd_auth_end(s);
	free(s->auth_user);
	s->auth_user = NULL;
	s->auth_source = NULL;
	s->relaying = smtpd_source_bool(s, CONF_ID_ALWAYS_ALLOW_RELAYING);
}
