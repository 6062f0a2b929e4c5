/*
 * mta_private: what the files of src/mta share.
 */
#ifndef TERN_MTA_PRIVATE_H
#define TERN_MTA_PRIVATE_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "lib/conn.h"
#include "mta/mta.h"
#include "queue/dsn.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_reply.h"

#define MTA_SESSION_MAGIC	0x6d746173u
#define MTA_BODY_CHUNK		(256 * 1024)

/* One address to try: a host of smtp-hosts or of the MX answer. */
struct mta_target {
	char			 name[256];
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 level;		/* equal: equivalent (mta_limits.c) */
};

/* In order: the states before MTA_READY have no transaction yet. */
enum mta_state {
	MTA_RESOLVING,
	MTA_WAITING,		/* for a connection limit (mta_limits.c) */
	MTA_CONNECTING,
	MTA_GREETING,
	MTA_EHLO,
	MTA_STARTTLS,		/* waiting for the reply to STARTTLS */
	MTA_TLS,		/* TLS handshake */
	MTA_HELO,
	MTA_READY,		/* between transactions */
	MTA_ENVELOPE,		/* MAIL/RCPT/DATA replies outstanding */
	MTA_BODY,		/* streaming the message */
	MTA_DOT,		/* waiting for the reply to "." */
	MTA_IDLE,		/* nothing to send; kept open for new mail
				   (connection-idle-timeout) */
	MTA_QUIT,
};

struct mta {
	struct ev_loop		*loop;
	struct model *const	*model;
	struct acct		*acct;
	struct spool		*spool;
	struct dns		*dns;		/* MX lookups, or NULL */
	struct mta_stats	 stats;
	unsigned long		 dsn_seq;
	struct mta_source_rr	*source_rrs;	/* smtp-source-host rotation,
						   per VirtualMTA */
	struct mta_source_pace	*source_paces;	/* source-ip-max-connect-rate */
	TAILQ_HEAD(, mta_session) waiting;	/* for a connection limit */
	ev_timer		 release;	/* a connection closed: they retry */
	unsigned long		 resume_gen;
	bool			 full;		/* a start was refused: total-max-smtp-out */
	bool			 stopping;
	int			 interrupting;	/* sessions asked to close for a
						   higher-priority queue */
	ev_timer		 cut;		/* cuts them during transfer */
	LIST_HEAD(, mta_session) sessions;
};

struct mta_session {
	unsigned		 magic;
	LIST_ENTRY(mta_session)	 entry;
	struct mta		*mta;
	struct model		*model;		/* snapshot held for the session */
	struct queue		*q;
	struct conn		 conn;
	bool			 conn_open;
	enum mta_state		 state;
	struct mta_target	*targets;	/* addresses to try, in order */
	size_t			 ntargets, target;
	struct dns_query	*dnsq;		/* while resolving */
	struct mta_route	*route;		/* smtp-hosts, while resolving */
	bool			 dns_error;	/* the failure was DNS's */
	bool			 waiting;	/* in mta->waiting */
	double			 rate_wait;	/* a rate's next slot (ev_now), or 0 */
	TAILQ_ENTRY(mta_session) wait_entry;
	unsigned long		 resume_gen;
	char			 bind_ip[64];	/* the source address chosen
						   ("": the system's) */
	char			 dest_name[256];
	char			 dest_ip[64];
	char			 src_ip[64];
	char			 ehlo[256];	/* the name we give in EHLO */
	struct smtp_reply	 reply;
	unsigned		 ext;		/* offered and not ignored */
	unsigned long		 size_limit;	/* SIZE advertised; 0 = none */
	char			 esmtp[512];	/* dlvEsmtpAvailable */
	bool			 mail_utf8;	/* this MAIL: SMTPUTF8 */
	bool			 mail_8bit;	/* this MAIL: BODY=8BITMIME */
	unsigned		 errors;	/* recipient errors, this connection */
	unsigned		 max_errors;	/* max-errors-per-connection; 0 = no limit */
	struct queue_batch	 batch;
	bool			 interrupted;	/* close for a higher-priority queue */
	bool			 idle;		/* MTA_IDLE, counted in q->idle */
	unsigned		 connect_failures; /* this attempt (mx-connection-attempts) */
	bool			 attempts_out;	/* ...reached */
	unsigned		 transactions;	/* on this connection */
	unsigned		 max_transactions; /* max-msg-per-connection; 0 = no limit */
	size_t			 replies;	/* envelope replies received */
	bool			 mail_ok;
	int			 rcpt_code[QUEUE_BATCH_MAX];
	char			*rcpt_text[QUEUE_BATCH_MAX];
	size_t			 rcpt_ok;
	int			 body_fd;
	off_t			 body_left;
	off_t			 body_size;
	char			*chunk;		/* body read buffer, once needed */
	struct smtp_data_tx	 tx;
	/* smtp-pattern-list (mta_patterns.c) */
	const struct model_block *patterns;	/* the queue's list, or NULL */
	bool			 patterns_found; /* looked up */
	bool			 pat_bounce;	/* this reply's failures bounce */
	bool			 pat_matched;	/* the last failure reply matched */
	bool			 failover;	/* leave this host for the next */
	/* TLS (mta_tls.c) */
	bool			 tls;		/* the connection is encrypted */
	bool			 no_tls;	/* this connection goes in clear */
	bool			 clear_retry;	/* the next one too (after a
						   failed handshake) */
	char			 tls_protocol[32];	/* "" when not TLS */
	char			 tls_cipher[64];
	char			 fail[1024];	/* why the state machine gave up */
};

/* mta_session.c */
struct mta_session *mta_session_new(struct mta *m, struct queue *q);
void	mta_session_free(struct mta_session *s);
/* Give up: what the session holds goes back to its queue (a queue
 * failure with why), then it is freed. */
void	mta_session_fail(struct mta_session *s, const char *why);
/* The connection's events (conn.c callback). */
void	mta_session_event(struct conn *c, enum conn_event ev, void *arg);
/* mta_connect.c */
/* The port for hosts that give none: default-smtp-port (25). */
int	mta_session_port(const struct mta_session *s);
/* Lay out the targets from smtp-hosts (or start their lookups): NULL, or
 * the domain whose MX hosts to look up instead. */
const char *mta_session_route(struct mta_session *s);
/* The MX lookup's answer (dns callback). */
void	mta_session_resolved(void *arg, const struct dns_result *r);
/* Connect to the next target within the limits: -1 when none is left,
 * 0 when connecting or waiting for a limit. */
int	mta_session_connect(struct mta_session *s);
/* mta_route_start() finished: why is NULL when s has targets (dns_error:
 * only DNS failures left it without). */
void	mta_session_routed(struct mta_session *s, const char *why,
	    bool dns_error);
/* A waiting session tries to connect again (mta_limits.c). */
void	mta_session_resume(struct mta_session *s);
/* An idle session of q (connection-idle-timeout), or NULL. */
struct mta_session *mta_session_idle_of(struct mta *m, const struct queue *q);
/* An idle session takes the queue's next batch: true when it did. */
bool	mta_session_wake(struct mta_session *s);
/* Close an idle session (QUIT) to free its slot. */
void	mta_session_quit(struct mta_session *s);

/* mta_route.c: smtp-hosts.  0 when s->targets are laid out now, 1 when
 * lookups run (mta_session_routed() follows). */
int	mta_route_start(struct mta_session *s, const struct conf_value *v);
void	mta_route_free(struct mta_route *rt);

/* mta_limits.c: local address and connection limits */
#define MTA_SOURCE_RANGE_MAX	4096	/* addresses used of one range entry */
/* One local address to try. */
struct mta_source {
	char			 ip[64];	/* "" = the system's choice */
	char			 name[256];	/* its EHLO name, or "" */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};
/* The local addresses smtp-source-host value v stands for (a range entry
 * stands for each of its addresses), and the k-th of them; false when
 * that entry is no address. */
size_t	mta_limits_sources(const struct conf_value *v);
bool	mta_limits_source_at(const struct conf_value *v, size_t k,
	    struct mta_source *src);
/*
 * Make s->targets[s->target] a target within every limit and fill the
 * source (*bound false: the system's), s->ehlo and s->bind_ip: 1; 0 when
 * all of its level are at a limit (s->fail says which: the session
 * waits), -1 when no target is left.
 */
int	mta_limits_pick(struct mta_session *s, struct sockaddr_storage *src,
	    socklen_t *srclen, bool *bound);
void	mta_limits_wait(struct mta_session *s);
void	mta_limits_unwait(struct mta_session *s);
/* A connection closed: the waiting sessions try again (on the loop). */
void	mta_limits_released(struct mta *m);
void	mta_limits_init(struct mta *m);
void	mta_limits_free(struct mta *m);
/* Ask s to close for a higher-priority queue: it QUITs after its
 * transaction, unless mta_session_cut() closes it first. */
void	mta_session_interrupt(struct mta_session *s);
/*
 * Close an interrupted session at once if that loses nothing or is
 * allowed: before its first transaction, or (with
 * allow-priority-interruption-during-transfer) before its final ".",
 * its recipients going back to their queue untried.  Returns false (and
 * does nothing) otherwise.
 */
bool	mta_session_cut(struct mta_session *s);

/* The timeout (seconds) of directive id for s's queue, and its name for
 * a diagnostic; conn timeouts are inactivity timeouts (conn_touch). */
double	mta_session_timeout(const struct mta_session *s, int id);
/* Send EHLO afresh (extensions forgotten): 0 or -1. */
int	mta_session_ehlo(struct mta_session *s);

/* mta_ext.c: ESMTP extensions and the MAIL/RCPT parameters */
/* After EHLO: take the extensions the queue ignores (ignore-*) out of
 * s->ext. */
void	mta_ext_filter(struct mta_session *s);
/* Before MAIL: 0 when the batch's message may go to this receiver (and
 * its parameters chosen); -1 with why ("552 5.3.4 ...", "553 5.6.7 ...")
 * when it must bounce instead (SIZE, SMTPUTF8). */
int	mta_ext_check(struct mta_session *s, char *why, size_t size);
/* Write MAIL FROM, RCPT TO (of batch recipient i) with their parameters. */
int	mta_ext_mail(struct mta_session *s);
int	mta_ext_rcpt(struct mta_session *s, size_t i);

/* mta_result.c */
/* The recipient's outcome from an SMTP reply code and text. */
void	mta_result_rcpt(struct mta_session *s, size_t i, int code,
	    const char *text);
/* Every recipient of the batch gets the same outcome. */
void	mta_result_batch(struct mta_session *s, int code, const char *text);
/* mta_dsn.c: a report to the sender of r's message, if its NOTIFY wants it. */
void	mta_dsn_report(struct mta *m, struct queue_rcpt *r,
	    enum dsn_action action, const char *status, const char *remote_mta,
	    const char *diagnostic);
/* mta_notify.c: disabled-source-ip-notify, for ip of q. */
void	mta_notify_source(struct mta *m, struct queue *q, const char *ip);
/* mta_tls.c: STARTTLS (use-starttls, require-starttls, smtp-tls-*). */
/*
 * After a successful EHLO or HELO: 1 when STARTTLS was sent, 0 to go on
 * without TLS, -1 when the session must fail (s->fail says why).
 */
int	mta_tls_offer(struct mta_session *s);
/* The reply to STARTTLS: 0 when the handshake started, 1 to go on in
 * clear text (refused, TLS not required), -1 to fail (s->fail). */
int	mta_tls_reply(struct mta_session *s, int code, const char *text);
/* The handshake completed: EHLO again.  0 or -1. */
int	mta_tls_ready(struct mta_session *s);
/* It failed: true to reconnect to the same host in clear text
 * (opportunistic TLS), false to fail (s->fail says why). */
bool	mta_tls_failed(struct mta_session *s);
/* For accounting (dlvTlsProtocol, dlvTlsCipher): "" when not TLS. */
const char *mta_session_tls_protocol(const struct mta_session *s);
const char *mta_session_tls_cipher(const struct mta_session *s);

/* bounce-upon-no-mx with an interval: the queued recipients received
 * at least `seconds` ago bounce; how many. */
size_t	mta_bounce_queue_older(struct mta *m, struct queue *q,
	    const char *code, const char *diag, long long seconds);
/* Transient failure before a transaction: the queue waits for its retry. */
void	mta_result_queue_failure(struct mta_session *s, const char *why);
/* The enhanced code of a reply ("5.1.1"), or its class default. */
void	mta_result_enhanced(int code, const char *text, char *dst,
	    size_t size);
/* The basic code at the start of a text ("451 ..."), else 451. */
int	mta_result_code_of(const char *text);

/* mta_patterns.c: the queue's smtp-pattern-list and
 * smtp-421-means-mx-unavailable (see mta_patterns.h) */
/*
 * Every complete reply, before the state machine acts on it: the queue
 * actions of the first matching rule are applied, s->pat_bounce says
 * whether the failures this reply gives bounce.  -1 (s->failover set)
 * when the session must leave this host for the next one.
 */
int	mta_patterns_reply(struct mta_session *s, int code, const char *text);
/* A local failure (connection, time-out, DNS; pmta-reference Q20). */
void	mta_patterns_local(struct mta_session *s, const char *why);
/* Are all the local addresses of q's VirtualMTA disabled for q? */
bool	mta_patterns_no_source(const struct model *model, struct queue *q);

#endif
