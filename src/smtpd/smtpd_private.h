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

#define SMTPD_SESSION_MAGIC	0x736d7464u
#define SMTPD_LISTENER_MAGIC	0x736d746cu
#define SMTPD_LINE_MAX		4096	/* command line, CRLF excluded */
#define SMTPD_RCPT_MAX		10000	/* per transaction */
#define SMTPD_TIMEOUT		600.	/* smtp-command/data-timeout (10m) */
#define SMTPD_FLUSH		(256 * 1024)

struct smtpd_listener {
	unsigned	 magic;
	struct smtpd	*smtpd;
	int		 fd;
	ev_io		 io;
	char		*text;
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
	bool			 stopping;
	LIST_HEAD(, smtpd_session) sessions;
};

enum smtpd_state {
	SMTPD_GREETED,		/* waiting for HELO/EHLO */
	SMTPD_IDLE,		/* after HELO/EHLO, no transaction */
	SMTPD_MAIL,		/* MAIL accepted, RCPTs may follow */
	SMTPD_DATA,		/* receiving the message */
	SMTPD_COMMITTING,	/* waiting for the spool's group commit */
	SMTPD_TLS,		/* after "220 ready to start TLS": handshake */
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
	char			*helo;
	bool			 esmtp;
	bool			 relaying;
	bool			 tls;		/* the handshake completed */
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
};

/* smtpd_session.c */
void	smtpd_session_new(struct smtpd *d, int fd,
	    const struct sockaddr_storage *peer);
void	smtpd_session_free(struct smtpd_session *s);
/* Shutdown: 421 now if idle, else after the message in progress. */
void	smtpd_session_stop(struct smtpd_session *s);

/* smtpd_acct.c: the r records of the message just committed. */
struct smtpd_rcv;
void	smtpd_acct_received(struct smtpd *d, const struct model *m,
	    const struct spool_envelope *env, const struct smtpd_rcv *rcv);

#endif
