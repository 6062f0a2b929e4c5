/*
 * smtpd_private: what the files of src/smtpd share.
 */
#ifndef TERN_SMTPD_PRIVATE_H
#define TERN_SMTPD_PRIVATE_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "lib/conn.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_data.h"
#include "smtpd/smtpd.h"
#include "smtpd/smtpd_msg.h"

#define SMTPD_SESSION_MAGIC	0x736d7464u
#define SMTPD_LISTENER_MAGIC	0x736d746cu
#define SMTPD_LINE_MAX		4096	/* command line, CRLF excluded */
#define SMTPD_RCPT_MAX		10000	/* per transaction */
#define SMTPD_TIMEOUT		600.	/* smtp-command/data-timeout (10m) */
#define SMTPD_FLUSH		(256 * 1024)

struct smtpd_auth;
struct smtpd_auth_fails;
struct smtpd_mjob;

struct smtpd_listener {
	unsigned	 magic;
	struct smtpd	*smtpd;
	int		 fd;
	ev_io		 io;
	char		*text;
	char		*source;	/* source=NAME, or NULL */
	bool		 await_slot;	/* smtp-await-slot or await-slot */
	bool		 immediate_tls;	/* TLS from the first byte (SMTPS) */
	bool		 paused;	/* total-max-smtp-in reached: the
					   kernel's backlog holds the rest */
};

struct smtpd {
	struct ev_loop		*loop;
	struct model *const	*model;
	struct spool		*spool;
	struct queue_mgr	*qm;
	struct cold		*cold;		/* cold-virtual-mta counters, or NULL */
	struct acct		*acct;		/* r records, or NULL */
	struct smtpd_listener	*listeners;
	size_t			 nlisteners;
	struct smtpd_stats	 stats;
	unsigned long		 next_id;	/* the "(in N)" of the logs */
	bool			 stopping;
	LIST_HEAD(, smtpd_session) sessions;
	struct smtpd_auth_fails	*auth_fails;	/* smtp-max-auth-failure-rate */
};

enum smtpd_state {
	SMTPD_GREETED,		/* waiting for HELO/EHLO */
	SMTPD_IDLE,		/* after HELO/EHLO, no transaction */
	SMTPD_MAIL,		/* MAIL accepted, RCPTs may follow */
	SMTPD_MERGE,		/* XMRG accepted: XDFN, RCPT, XPRT follow */
	SMTPD_DATA,		/* receiving the message (or a merge part) */
	SMTPD_BDAT,		/* between the chunks of a BDAT message */
	SMTPD_CHUNK,		/* reading a BDAT chunk's octets */
	SMTPD_COMMITTING,	/* waiting for the spool's group commit */
	SMTPD_TLS,		/* after "220 ready to start TLS": handshake */
	SMTPD_AUTH,		/* AUTH: the client's next line is a response */
	SMTPD_CLOSING,		/* flushing the last reply, then close */
};

struct smtpd_session {
	unsigned		 magic;
	LIST_ENTRY(smtpd_session) entry;
	struct smtpd		*smtpd;
	struct model		*model;		/* snapshot for this session */
	struct conn		 conn;
	enum smtpd_state	 state;
	struct sockaddr_storage	 peer;
	char			 peer_ip[64];
	char			 peer_text[80];	/* ip:port, for the log */
	unsigned long		 id;		/* connection number: (in N) */
	char			*lsource;	/* the listener's source=, or NULL */
	double			 cmd_timeout;	/* smtp-command-timeout */
	double			 data_timeout;	/* smtp-data-timeout */
	long long		 max_size;	/* max-message-size; 0: none */
	bool			 log_commands;	/* log-commands */
	bool			 skip_line;	/* discarding an overlong line */
	char			*helo;
	bool			 esmtp;
	bool			 relaying;
	bool			 tls;		/* the handshake completed */
	bool			 tls_implicit;	/* handshake before the greeting */
	struct ssl_ctx_st	*tls_ctx;	/* the listener's (in model), or
						   NULL: no TLS */
	bool			 tls_ca;	/* it has a CA file for client
						   certificates */
	/* the transaction */
	struct spool_envelope	 env;
	struct spool_writer	 writer;
	bool			 writing;
	bool			 headers_done;	/* X-headers processed, file started */
	bool			 vmta_bad;	/* selects a VirtualMTA that does not exist */
	bool			 cold_taken;	/* counted in the cold counters */
	bool			 commit_inline;	/* inside the commit call */
	bool			 gone;		/* the client left while committing */
	struct smtp_data_rx	 rx;
	struct buf		 body;
	bool			 too_big;	/* over max-message-size: swallowed,
						   552 at the end */
	bool			 rcpts_over;	/* over max-rcpt-per-message with
						   too-many-rcpts-fails-message */
	/* BDAT (RFC 3030): the chunk being read */
	unsigned long long	 chunk_left;	/* octets still to come */
	bool			 chunk_last;	/* BDAT n LAST */
	bool			 chunk_discard;	/* refused: read and drop it */
	enum smtpd_state	 chunk_after;	/* state once a dropped chunk
						   is read */
	/* XACK OFF: RCPT and XDFN are not answered; the first error they
	 * would have had is answered at DATA/XPRT instead */
	bool			 xack_off;
	bool			 quiet;		/* answering such a command now */
	char			*xack_error;
	struct smtpd_mjob	*merge;		/* an XMRG transaction, or NULL */
	bool			 merge_last;	/* the part is XPRT n LAST */
	/* SMTP AUTH (smtpd_auth.c) */
	struct smtpd_auth	*auth;		/* the exchange in progress */
	char			*auth_user;	/* the <smtp-user> authenticated */
	const char		*auth_source;	/* its named <source> */
};

/* smtpd.c: a session ended; listeners paused at total-max-smtp-in
 * accept again. */
void	smtpd_listeners_resume(struct smtpd *d);

/* smtpd_session.c */
void	smtpd_session_new(struct smtpd *d, int fd,
	    const struct sockaddr_storage *peer,
	    const struct smtpd_listener *l);
void	smtpd_session_free(struct smtpd_session *s);
/* The greeting: 220, or 521 and close without smtp-service. */
void	smtpd_session_greet(struct smtpd_session *s);
/* Shutdown: 421 now if idle, else after the message in progress. */
void	smtpd_session_stop(struct smtpd_session *s);

/* Shared with smtpd_merge.c. */
void	smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	smtpd_transaction_reset(struct smtpd_session *s);
/* Read and run the commands waiting in the input buffer. */
void	smtpd_session_input(struct smtpd_session *s);
/* Where the client's settings come from: its listener's and address's
 * <source>, and after AUTH the user's. */
void	smtpd_session_origin(const struct smtpd_session *s,
	    struct smtpd_origin *o);
/* A <source> setting for the client (NULL: unset), or its yes/no with
 * the table default. */
const struct conf_value *smtpd_source_value(const struct smtpd_session *s,
	    int id);
bool	smtpd_source_bool(const struct smtpd_session *s, int id);
/* MAIL/XMRG parameters into s->env (a 555 reply and -1 for a bad one). */
int	smtpd_mail_params(struct smtpd_session *s, struct smtp_cmd *c);
void	smtpd_cmd_rcpt(struct smtpd_session *s, struct smtp_cmd *c);
/* The source's suppress-local-dsn and dsn-return-default into s->env. */
void	smtpd_dsn_defaults(struct smtpd_session *s);
/* If XACK OFF held back an error: answer it, cancel the transaction,
 * true. */
bool	smtpd_xack_failed(struct smtpd_session *s);
/* s->body holds the start of a message: select its VirtualMTA and job,
 * edit the X-headers, start its spool file.  0, or -1 (s->vmta_bad, or
 * the spool refused). */
int	smtpd_message_start(struct smtpd_session *s, struct smtpd_override *ov);

/* The end of a message's data (DATA or BDAT LAST): refuse it or hand it
 * to the spool's group commit. */
void	smtpd_message_done(struct smtpd_session *s, bool failed);
/* New octets are in s->body: the size limit, the header section, the
 * flushes; at the `end` of the data, smtpd_message_done().  true when
 * the message ended. */
bool	smtpd_body_progress(struct smtpd_session *s, bool end);
/* The inactivity timeout for waiting on a command or on data. */
void	smtpd_timeout(struct smtpd_session *s, bool data);

/* smtpd_esmtp.c: BDAT, and the checks of MAIL and RCPT. */
void	smtpd_cmd_bdat(struct smtpd_session *s, struct smtp_cmd *c);
/* Input while a chunk is read; true when the chunk ended. */
bool	smtpd_chunk_input(struct smtpd_session *s);
/* The source's limits and switches, read at the connection's start. */
void	smtpd_session_settings(struct smtpd_session *s);
/* A message over max-message-size: 552, the transaction reset; true
 * then. */
bool	smtpd_refuse_too_big(struct smtpd_session *s);
/* MAIL: SIZE=, SMTPUTF8, VERP, verp-default, a non-ASCII sender.  0, or
 * -1 after a refusal was answered. */
int	smtpd_mail_check(struct smtpd_session *s, struct smtp_cmd *c);
/*
 * RCPT: the address (a local postmaster is rewritten to the postmaster
 * address), SMTPUTF8, relaying, max-rcpt-per-message.  0 with the
 * recipient to add in addr[0..size), 1 when it is accepted but not added
 * (too-many-rcpts-fails-message), or -1 after a refusal was answered.
 */
int	smtpd_rcpt_check(struct smtpd_session *s, struct smtp_cmd *c,
	    char *addr, size_t size);
/* May the client send mail to this recipient (relaying rights, a
 * relay-domain or host-name, a relay-address)? */
bool	smtpd_relay_allowed(const struct smtpd_session *s,
	    const struct smtp_addr *a);

/* smtpd_tls.c: STARTTLS and immediate-tls. */
/* Is STARTTLS offered to this client now? */
bool	smtpd_tls_offered(const struct smtpd_session *s);
void	smtpd_cmd_starttls(struct smtpd_session *s, struct smtp_cmd *c);
/* After "220 ready to start TLS" went into the output: the handshake. */
void	smtpd_tls_begin(struct smtpd_session *s);
/* An immediate-tls listener's client: the handshake right away. */
void	smtpd_tls_implicit(struct smtpd_session *s);
/* CONN_TLS_READY. */
void	smtpd_tls_done(struct smtpd_session *s);

/* smtpd_acct.c: the r records of the message just committed. */
struct smtpd_rcv;
void	smtpd_acct_received(struct smtpd *d, const struct model *m,
	    const struct spool_envelope *env, const struct smtpd_rcv *rcv);

/* smtpd_auth.c: SMTP AUTH against the <smtp-user> blocks. */
/* The EHLO line "250-AUTH ..." when AUTH is offered. */
/* The EHLO keyword line "AUTH ..." into buf; false when none is offered. */
bool	smtpd_auth_ehlo(struct smtpd_session *s, char *buf, size_t size);
void	smtpd_auth_cmd(struct smtpd_session *s, struct smtp_cmd *c);
/* A line of the client's in state SMTPD_AUTH: its response. */
void	smtpd_auth_input(struct smtpd_session *s, const char *line,
	    size_t len);
/* May the client start a transaction (require-auth)?  If not, 530 and
 * false. */
bool	smtpd_auth_mail_allowed(struct smtpd_session *s);
/* After a TLS handshake: a client certificate that is an <smtp-user>'s
 * tls-certificate (authentication-method certificate) logs it in. */
void	smtpd_auth_tls_login(struct smtpd_session *s);
/* Forget the authentication (STARTTLS, the end of the session). */
void	smtpd_auth_reset(struct smtpd_session *s);
void	smtpd_auth_fails_free(struct smtpd *d);

/* smtpd_merge.c: XMRG, XDFN, RCPT in a merge, XPRT, XACK. */
bool	smtpd_merge_allowed(const struct smtpd_session *s);
void	smtpd_merge_cmd_xack(struct smtpd_session *s, struct smtp_cmd *c);
void	smtpd_merge_cmd_xmrg(struct smtpd_session *s, struct smtp_cmd *c);
void	smtpd_merge_cmd_xdfn(struct smtpd_session *s, struct smtp_cmd *c);
void	smtpd_merge_cmd_rcpt(struct smtpd_session *s, struct smtp_cmd *c);
void	smtpd_merge_cmd_xprt(struct smtpd_session *s, struct smtp_cmd *c);
/* Input while a part is received; true when the part ended. */
bool	smtpd_merge_part_input(struct smtpd_session *s);
/* The end of the session's merge transaction (if any). */
void	smtpd_merge_free(struct smtpd_session *s);
/* The client left while the job's messages are made: it fails. */
void	smtpd_merge_client_gone(struct smtpd_session *s);

#endif
