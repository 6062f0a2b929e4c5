/*
 * Unit tests for lib/tls and the TLS of lib/conn: the pure helpers
 * (version ranges, SNI names), contexts (certificate files, encrypted
 * keys, cipher lists), and real handshakes between two conns over a
 * socketpair on a libev loop: STARTTLS with clear-text input discarded
 * and queued output flushed first, SNI, the negotiated parameters, 2 MB
 * each way at once through small capped buffers with reading paused now
 * and then, small socket buffers (sends block both ways) and TLS 1.3 key
 * updates (SSL_read must answer while writes wait: fatal in OpenSSL 3.0
 * with SSL on the socket, fine with conn's memory BIOs), input OpenSSL
 * holds while `in` is full, a clean close_notify, and handshakes that
 * fail (no common version, a certificate the CA file does not verify),
 * and client certificates asked for (certificate login).
 * The certificates are made here with OpenSSL, in a temporary directory.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/conn.h"
#include "lib/tls.h"
#include "tap.h"

#define BULK		(2u * 1024 * 1024)
#define IN_MAX		8192
#define OUT_MAX		(64 * 1024)

static char dir[] = "/tmp/tern-test-tls-XXXXXX";
static char cert_path[256], enc_path[256], other_path[256];

/* A self-signed P-256 certificate for cn, with its key (encrypted with
 * password when given), written as one PEM file. */
static int
make_cert(const char *path, const char *cn, const char *password)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509_EXTENSION *san;
	char alt[128];
	FILE *f;
	int ok;

	snprintf(alt, sizeof(alt), "DNS:%s", cn);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, alt);
	ok = key != NULL && x != NULL && san != NULL &&
	    X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
	    X509_set_pubkey(x, key) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_issuer_name(x, name) && X509_add_ext(x, san, -1) &&
	    X509_sign(x, key, EVP_sha256()) > 0;
	if (ok && (f = fopen(path, "w")) != NULL) {
		ok = PEM_write_X509(f, x) && PEM_write_PrivateKey(f, key,
		    password ? EVP_aes_128_cbc() : NULL, NULL, 0, NULL,
		    (void *)password);
		ok = fclose(f) == 0 && ok;
	} else
		ok = 0;
	X509_EXTENSION_free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

static void
test_pure(void)
{
	int min, max;
	unsigned holes;

	ok(tls_versions_range(TLS_V_1_2 | TLS_V_1_3, &min, &max, &holes) == 0 &&
	    min == TLS1_2_VERSION && max == TLS1_3_VERSION && holes == 0,
	    "1.2 and 1.3: a range without holes");
	ok(tls_versions_range(TLS_V_1_0 | TLS_V_1_3, &min, &max, &holes) == 0 &&
	    min == TLS1_VERSION && max == TLS1_3_VERSION &&
	    holes == (TLS_V_1_1 | TLS_V_1_2), "1.0 and 1.3: 1.1 and 1.2 are holes");
	ok(tls_versions_range(TLS_V_1_1, &min, &max, &holes) == 0 &&
	    min == TLS1_1_VERSION && max == TLS1_1_VERSION, "one version");
	is_int(tls_versions_range(0, &min, &max, &holes), -1, "none allowed");
	ok(tls_sni_valid("mx1.example.com"), "a host name is sent as SNI");
	ok(!tls_sni_valid("192.0.2.1") && !tls_sni_valid("2001:db8::1") &&
	    !tls_sni_valid("[192.0.2.1]"), "IP literals are not");
	ok(!tls_sni_valid("") && !tls_sni_valid(NULL) &&
	    !tls_sni_valid("bad name") && !tls_sni_valid(".lead"),
	    "nor empty or malformed names");
}

static void
test_contexts(void)
{
	struct tls_settings ts;
	char err[512];
	SSL_CTX *ctx;

	memset(&ts, 0, sizeof(ts));
	ts.cert_file = cert_path;
	ctx = tls_ctx_new(true, &ts, err, sizeof(err));
	ok(ctx != NULL, "a server context from a PEM file");
	tls_ctx_free(ctx);
	ts.cert_file = "/nonexistent/cert.pem";
	ctx = tls_ctx_new(true, &ts, err, sizeof(err));
	ok(ctx == NULL && strstr(err, "/nonexistent/cert.pem") != NULL,
	    "a missing file: the error names it (%s)", err);
	ts.cert_file = enc_path;
	ts.key_password = "s3cret";
	ok((ctx = tls_ctx_new(true, &ts, err, sizeof(err))) != NULL,
	    "an encrypted key with its password");
	tls_ctx_free(ctx);
	ts.key_password = "wrong";
	ok(tls_ctx_new(true, &ts, err, sizeof(err)) == NULL,
	    "with a wrong password: refused (%s)", err);
	ts.key_password = NULL;
	ok(tls_ctx_new(true, &ts, err, sizeof(err)) == NULL,
	    "without one: refused, no prompt");
	memset(&ts, 0, sizeof(ts));
	ok(tls_ctx_new(true, &ts, err, sizeof(err)) == NULL,
	    "a server needs a certificate");
	ts.ciphers = "NOSUCHCIPHER";
	ok(tls_ctx_new(false, &ts, err, sizeof(err)) == NULL &&
	    strstr(err, "NOSUCHCIPHER") != NULL, "an unusable cipher list");
	ok(tls_cert_load("/nonexistent/c.pem", err, sizeof(err)) == NULL &&
	    strstr(err, "/nonexistent/c.pem") != NULL,
	    "tls_cert_load: a missing file (%s)", err);
	ok(tls_cert_load("/dev/null", err, sizeof(err)) == NULL &&
	    strstr(err, "no certificate") != NULL,
	    "tls_cert_load: a file without a certificate (%s)", err);
	ok(tls_ciphers_valid("HIGH:!ADH:@STRENGTH", false) &&
	    !tls_ciphers_valid("NOSUCHCIPHER", false) &&
	    tls_ciphers_valid("TLS_AES_128_GCM_SHA256", true) &&
	    !tls_ciphers_valid("NOSUCH", true), "tls_ciphers_valid");
}

/* One end of a test connection. */
struct peer {
	struct conn	 c;
	bool		 server;
	SSL_CTX		*ctx;
	struct tls_conn_opts opts;
	int		 phase;		/* 0 clear text, 1 handshake, 2 TLS */
	bool		 ready, failed, eof, error;
	size_t		 discarded;
	size_t		 sent, received;
	unsigned long	 sum_sent, sum_received;
	unsigned	 events;
	bool		 paused;
	bool		 closed;	/* conn_free() done */
	struct peer	*other;
};

static struct ev_loop *loop;
static int pending_peers;

static unsigned char
pattern(size_t i, bool server)
{
	return (unsigned char)((i * 7 + (server ? 3 : 5)) & 0xff);
}

/* Keep up to 48 KB queued until BULK bytes are sent. */
static void
peer_produce(struct peer *p)
{
	unsigned char chunk[16384];

	while (p->sent < BULK && conn_pending(&p->c) < 48 * 1024) {
		size_t n = BULK - p->sent < sizeof(chunk) ? BULK - p->sent :
		    sizeof(chunk);

		for (size_t i = 0; i < n; i++) {
			chunk[i] = pattern(p->sent + i, p->server);
			p->sum_sent += chunk[i];
		}
		if (conn_write(&p->c, chunk, n) == -1)
			break;
		p->sent += n;
		/* now and then a TLS 1.3 key update the peer must answer
		 * while it reads (its SSL_read then has to write) */
		if (p->sent % (256 * 1024) == 0)
			(void)SSL_key_update(p->c.ssl, SSL_KEY_UPDATE_REQUESTED);
	}
}

static void
peer_done(struct peer *p)
{
	if (--pending_peers == 0)
		ev_break(loop, EVBREAK_ALL);
}

/* Bulk input: check the pattern; consume half at times, pause at times. */
static void
peer_consume(struct peer *p)
{
	const unsigned char *d = (const unsigned char *)p->c.in.data;
	size_t n = p->c.in.len;

	if (++p->events % 3 == 0 && n > 1)
		n /= 2;		/* leave some: OpenSSL keeps the rest */
	for (size_t i = 0; i < n; i++) {
		if (d[i] != pattern(p->received + i, !p->server))
			p->error = true;
		p->sum_received += d[i];
	}
	p->received += n;
	conn_consume(&p->c, n);
	if (p->events % 5 == 0) {
		p->paused = true;
		conn_read_enable(&p->c, false);
	}
	if (p->received == BULK)
		peer_done(p);
}

static void
peer_clear_text(struct peer *p)
{
	const char *line;
	size_t len, used;
	char err[256];

	while (conn_getline(&p->c, 1000, &line, &len, &used) == 1) {
		bool starttls = (p->server && len == 8 &&
		    memcmp(line, "STARTTLS", 8) == 0) || (!p->server && len >= 3 &&
		    memcmp(line, "220", 3) == 0);

		conn_consume(&p->c, used);
		if (!starttls)
			continue;
		if (p->server)
			(void)conn_write(&p->c, "220 go ahead\r\n", 14);
		if (conn_starttls(&p->c, p->ctx, p->server, &p->opts,
		    &p->discarded, err, sizeof(err)) == -1) {
			diag("conn_starttls: %s", err);
			p->failed = true;
			peer_done(p);
			return;
		}
		p->phase = 1;
		return;
	}
}

static void
peer_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct peer *p = arg;

	switch (ev) {
	case CONN_READABLE:
		if (p->phase == 0)
			peer_clear_text(p);
		else
			peer_consume(p);
		return;
	case CONN_DRAINED:
		if (p->phase == 2)
			peer_produce(p);
		return;
	case CONN_TLS_READY:
		p->phase = 2;
		p->ready = true;
		peer_produce(p);
		if (--pending_peers == 0)
			ev_break(loop, EVBREAK_ALL);
		return;
	case CONN_TLS_FAILED:
		p->failed = true;
		peer_done(p);
		return;
	case CONN_EOF:
		p->eof = true;
		peer_done(p);
		return;
	default:
		diag("%s: event %d: %s", p->server ? "server" : "client", ev,
		    conn_tls_error(c));
		p->error = true;
		peer_done(p);
		return;
	}
}

/* Resume paused readers now and then (another loop turn). */
static void
on_resume(struct ev_loop *l, ev_timer *w, int revents)
{
	struct peer *ps = w->data;

	for (int i = 0; i < 2; i++) {
		if (ps[i].closed)
			continue;
		if (ps[i].paused) {
			ps[i].paused = false;
			conn_read_enable(&ps[i].c, true);
		}
		/* what an earlier event left in the buffer */
		if (ps[i].phase == 2 && ps[i].c.in.len > 0 &&
		    ps[i].received < BULK)
			peer_consume(&ps[i]);
	}
}

static struct peer *peers_now;

static void
on_deadline(struct ev_loop *l, ev_timer *w, int revents)
{
	diag("the loop timed out");
	for (int i = 0; peers_now != NULL && i < 2; i++) {
		struct peer *p = &peers_now[i];
		if (p->closed)
			continue;
		diag("%s: tls %d in %zu out %zu tls_out %zu more %d rio %d "
		    "wio %d reading %d sent %zu recv %zu",
		    p->server ? "server" : "client", p->c.tls, p->c.in.len,
		    p->c.out.len, p->c.tls_out.len, p->c.tls_more,
		    ev_is_active(&p->c.rio), ev_is_active(&p->c.wio),
		    p->c.reading, p->sent, p->received);
	}
	ev_break(l, EVBREAK_ALL);
}

/* Run until `n` peers report, or 20 s. */
static void
run(int n, struct peer *ps)
{
	ev_timer deadline, resume;

	pending_peers = n;
	peers_now = ps;
	ev_timer_init(&deadline, on_deadline, 20., 0.);
	ev_timer_init(&resume, on_resume, 0.001, 0.001);
	resume.data = ps;
	ev_timer_start(loop, &deadline);
	ev_timer_start(loop, &resume);
	ev_run(loop, 0);
	ev_timer_stop(loop, &deadline);
	ev_timer_stop(loop, &resume);
}

static void
pair_init(struct peer *ps, SSL_CTX *server, SSL_CTX *client)
{
	int sv[2];

	memset(ps, 0, 2 * sizeof(*ps));
	int small = 4096;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	/* small socket buffers: writes block often, both ways */
	for (int i = 0; i < 2; i++) {
		(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small,
		    sizeof(small));
		(void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &small,
		    sizeof(small));
	}
	ps[0].server = true;
	ps[0].ctx = server;
	ps[1].ctx = client;
	ps[1].opts.sni = "unit.test";
	ps[0].other = &ps[1];
	ps[1].other = &ps[0];
	conn_init(&ps[0].c, loop, sv[0], false, IN_MAX, OUT_MAX, peer_event,
	    &ps[0]);
	conn_init(&ps[1].c, loop, sv[1], false, IN_MAX, OUT_MAX, peer_event,
	    &ps[1]);
	conn_set_timeout(&ps[0].c, 10.);
	conn_set_timeout(&ps[1].c, 10.);
}

static void
test_session(SSL_CTX *server, SSL_CTX *client)
{
	struct peer ps[2];
	char desc[256];

	pair_init(ps, server, client);
	/* one write: the command and an injected one behind it */
	(void)conn_write(&ps[1].c, "STARTTLS\r\nRSET\r\n", 16);
	run(2, ps);
	ok(ps[0].ready && ps[1].ready, "the handshake completes on both ends");
	is_int(ps[0].discarded, 6, "the server dropped what came behind STARTTLS");
	is_str(conn_tls_protocol(&ps[1].c), "TLSv1.3", "protocol");
	ok(conn_tls_cipher(&ps[0].c) != NULL && conn_tls_bits(&ps[0].c) >= 128,
	    "cipher %s, %d bits", conn_tls_cipher(&ps[0].c),
	    conn_tls_bits(&ps[0].c));
	is_str(conn_tls_servername(&ps[0].c), "unit.test", "the server sees the SNI");
	conn_tls_describe(&ps[1].c, desc, sizeof(desc));
	ok(strncmp(desc, "TLSv1.3 connected with ", 23) == 0 &&
	    strstr(desc, "-bit ") != NULL, "described as PowerMTA logs it: %s",
	    desc);
	ok(conn_tls_active(&ps[0].c) && conn_tls_error(&ps[0].c)[0] == '\0',
	    "active, no error");
	/* the bulk transfer started at TLS_READY */
	run(2, ps);
	ok(ps[0].received == BULK && ps[1].received == BULK,
	    "2 MB each way through 8 KB input buffers (%zu, %zu)",
	    ps[0].received, ps[1].received);
	ok(!ps[0].error && !ps[1].error &&
	    ps[0].sum_received == ps[1].sum_sent &&
	    ps[1].sum_received == ps[0].sum_sent, "every byte intact, in order");
	conn_free(&ps[1].c);		/* close_notify */
	ps[1].closed = true;
	ok(!ev_is_active(&ps[1].c.timer) && !ev_is_active(&ps[1].c.rio) &&
	    !ev_is_active(&ps[1].c.wio), "conn_free() leaves no watcher "
	    "running, sending close_notify included");
	run(1, ps);
	ok(ps[0].eof && !ps[0].error, "the other end sees a clean end of stream");
	conn_free(&ps[0].c);
}

/*
 * A server that asks for client certificates (certificate login): the
 * handshake completes whatever the CA file thinks of the client's
 * certificate, and the server can tell which certificate it was and
 * whether the CA file verified it.
 */
static void
test_client_cert(const char *client_pem, const char *password,
    const char *ca, bool want_verified, const char *what)
{
	struct tls_settings ts;
	struct peer ps[2];
	SSL_CTX *server, *client;
	X509 *mine, *other;
	bool verified = !want_verified;
	char err[512];

	memset(&ts, 0, sizeof(ts));
	ts.cert_file = cert_path;
	ts.ca_file = ca;
	ts.ask_client_cert = true;
	server = tls_ctx_new(true, &ts, err, sizeof(err));
	memset(&ts, 0, sizeof(ts));
	ts.cert_file = client_pem;
	ts.key_password = password;
	client = tls_ctx_new(false, &ts, err, sizeof(err));
	mine = tls_cert_load(client_pem, err, sizeof(err));
	other = tls_cert_load(strcmp(client_pem, other_path) == 0 ? cert_path :
	    other_path, err, sizeof(err));
	ok(server && client && mine && other, "%s: contexts, certificates", what);
	pair_init(ps, server, client);
	(void)conn_write(&ps[1].c, "STARTTLS\r\n", 10);
	run(2, ps);
	ok(ps[0].ready && ps[1].ready, "%s: the handshake completes", what);
	ok(conn_tls_has_peer_cert(&ps[0].c) &&
	    conn_tls_peer_is(&ps[0].c, mine, &verified) &&
	    verified == want_verified, "%s: the server sees the client's "
	    "certificate, %sverified", what, want_verified ? "" : "not ");
	ok(!conn_tls_peer_is(&ps[0].c, other, &verified),
	    "%s: and it is not another one", what);
	conn_free(&ps[0].c);
	conn_free(&ps[1].c);
	tls_cert_free(mine);
	tls_cert_free(other);
	tls_ctx_free(server);
	tls_ctx_free(client);
}

/* A handshake that must fail on both ends. */
static void
test_failure(SSL_CTX *server, SSL_CTX *client, unsigned client_versions,
    const char *what, const char *why)
{
	struct peer ps[2];

	pair_init(ps, server, client);
	ps[1].opts.versions = client_versions;
	(void)conn_write(&ps[1].c, "STARTTLS\r\n", 10);
	run(2, ps);
	ok(ps[0].failed && ps[1].failed && !ps[0].ready && !ps[1].ready,
	    "%s: the handshake fails on both ends", what);
	ok(strstr(conn_tls_error(&ps[1].c), why) != NULL,
	    "and the client says why: %s", conn_tls_error(&ps[1].c));
	conn_free(&ps[0].c);
	conn_free(&ps[1].c);
}

int
main(void)
{
	struct tls_settings ts;
	SSL_CTX *server, *client, *verify_other, *server13;
	char err[512];

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(enc_path, sizeof(enc_path), "%s/enc.pem", dir);
	snprintf(other_path, sizeof(other_path), "%s/other.pem", dir);
	ok(make_cert(cert_path, "unit.test", NULL) == 0 &&
	    make_cert(enc_path, "unit.test", "s3cret") == 0 &&
	    make_cert(other_path, "other.test", NULL) == 0,
	    "certificates made");
	test_pure();
	test_contexts();

	loop = ev_default_loop(0);
	memset(&ts, 0, sizeof(ts));
	ts.cert_file = cert_path;
	server = tls_ctx_new(true, &ts, err, sizeof(err));
	ts.versions = TLS_V_1_3;
	server13 = tls_ctx_new(true, &ts, err, sizeof(err));
	memset(&ts, 0, sizeof(ts));
	client = tls_ctx_new(false, &ts, err, sizeof(err));
	ts.ca_file = other_path;
	verify_other = tls_ctx_new(false, &ts, err, sizeof(err));
	ok(server && server13 && client && verify_other, "contexts for the sessions");
	test_session(server, client);
	test_failure(server13, client, TLS_V_1_2, "no common version", "");
	test_failure(server, verify_other, 0, "a certificate the CA file does "
	    "not verify", "certificate verification failed");
	test_client_cert(enc_path, "s3cret", other_path, false,
	    "client certificate, another CA");
	test_client_cert(other_path, NULL, other_path, true,
	    "client certificate, its own CA");
	test_client_cert(other_path, NULL, NULL, false,
	    "client certificate, no CA file");
	tls_ctx_free(server);
	tls_ctx_free(server13);
	tls_ctx_free(client);
	tls_ctx_free(verify_other);
	ev_loop_destroy(loop);
	unlink(cert_path);
	unlink(enc_path);
	unlink(other_path);
	rmdir(dir);
	return done_testing();
}
