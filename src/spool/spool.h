/*
 * spool: the durable message store (docs/design.md, "Spool").
 *
 * Envelopes: an append-only log in segments, log/<seg> (seg: 8 hex
 * digits), one checksummed record per committed message, and
 * log/<seg>.done, one "<id> <index>" line per finished recipient.
 * Bodies: a message of up to SPOOL_BODY_MEM_MAX body bytes is kept in
 * memory while it is received and appended, as an "image" (the envelope
 * text below, an "image" line, the empty line, the body with CRLF line
 * ends), to the segment's data file log/<seg>.data, which starts with
 * "TERN-DATA 1\n"; its record says "data <offset> <size>".  A larger
 * message is streamed to its own file msg/<seg>/<id> (envelope text, the
 * empty line, the body); its record says "body <offset> <size>".  Either
 * way the bytes holding a body are self-describing, so an operator can
 * read a data file or a body file alone.
 *
 * A message is committed when its log record is durable, which happens
 * only after its body is (data file fdatasync'ed, or body file synced);
 * only then may the server answer 250.  Recovery reads the logs, never
 * a body.  A segment whose messages are all finished is deleted (log,
 * done-list, data file, body directory); one that is mostly finished
 * has its log rewritten with only its live records, and keeps its data
 * file as it is until its last message is finished.
 *
 * Envelope text, format version 1:
 *	TERN-SPOOL 1
 *	id <id>
 *	queued <unix time>
 *	from <address or empty>
 *	srcmta <text>
 *	vmta <name>			(optional: the VirtualMTA or pool selected)
 *	envid <text>			(optional)
 *	jobid <text>			(optional)
 *	ret full|hdrs			(optional)
 *	priority <0..100>		(optional: recipient-priority; default 50)
 *	nodsn				(optional: generate no report mail;
 *					the source's suppress-local-dsn)
 *	pickup <dev> <ino> <size> <mtime> <name>
 *					(optional: the pickup file it came
 *					from; recovery removes that file if
 *					it is still there, unchanged)
 *	rcpt <address>			(one per recipient, in order)
 *	rnotify <bits>			(optional, for the rcpt line before it)
 *	rorcpt <text>			(optional, likewise)
 *	rvmta <name>			(optional, likewise: this recipient's
 *					VirtualMTA, e.g. a cold-virtual-mta)
 *	body <offset> <size>		(log records only: the body is in
 *					msg/<seg>/<id>, from <offset>, that long)
 *	data <offset> <size>		(log records only, instead of body:
 *					the body is in log/<seg>.data)
 *	image <hlen> <size>		(images in a data file only, the last
 *					line: the length of the envelope
 *					text up to and with its empty line,
 *					and of the body; both %012lld, so a
 *					reader that knows where the body
 *					starts finds the envelope)
 *	<empty line>
 *
 * A log segment starts with "TERN-LOG 1\n"; a record is
 * "M <length> <crc32 hex>\n" followed by <length> bytes of envelope text.
 * A done-list line "<id> <index> <priority>" records a recipient's new
 * priority (pmta set priority) instead of its end.
 */
#ifndef TERN_SPOOL_H
#define TERN_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <ev.h>

#define SPOOL_ID_MAX	32
#define SPOOL_FORMAT	1
#define SPOOL_PRIORITY_DEFAULT	50	/* recipient-priority when not set */
/* Bodies up to this size are held in memory by the writer and appended
 * to the segment's data file at commit; bigger ones get their own file.
 * It bounds a receiving session's spool memory (500 sessions in DATA:
 * 64 MB at most). */
#define SPOOL_BODY_MEM_MAX	(128 * 1024)

struct spool;

struct spool_envelope {
	char	  id[SPOOL_ID_MAX];
	time_t	  queued;
	char	 *orig;		/* "" for the null sender */
	char	 *srcmta;	/* "helo-name (ip)" */
	char	 *vmta;		/* VirtualMTA or pool selected, or NULL */
	char	 *envid;	/* MAIL ... ENVID= (decoded), or NULL */
	char	 *jobid;	/* X-Job (or jobid-header), or NULL */
	char	 *auth_user;	/* the SMTP AUTH user (rcvSmtpUser), or NULL */
	int	  ret;		/* MAIL ... RET=: 0 not given, 1 HDRS, 2 FULL */
	bool	  no_dsn;	/* suppress-local-dsn: never a report mail */
	bool	  verp;		/* MAIL ... VERP (or verp-default): each
				   recipient gets its own return path */
	bool	  smtputf8;	/* MAIL ... SMTPUTF8 */
	char	 *pickup;	/* the pickup file's identity, or NULL */
	unsigned char *notify;	/* per recipient: dsn_notify bits; NULL = none */
	char	**orcpt;	/* per recipient: ORCPT= (decoded), or NULL */
	char	**rvmta;	/* per recipient: VirtualMTA overriding vmta */
	size_t	  nalloc_notify, nalloc_orcpt, nalloc_rvmta; /* initialised */
	int	  prio;		/* 1 + recipient-priority; 0: not set (default) */
	unsigned char *rprio;	/* per recipient: 1 + priority; 0: the message's */
	size_t	  nalloc_rprio;
	time_t	  first_attempt; /* of delivery (a done-list line); 0: none */
	char	**rcpts;
	size_t	  nrcpts;
	off_t	  body_offset;	/* where the body starts in the file */
	off_t	  body_size;
	bool	  body_in_data;	/* the file is log/<seg>.data, else
				   msg/<seg>/<id> */
	unsigned  seg;		/* the log segment of its record */
};

struct spool_writer {
	struct spool *spool;	/* while a message is being written */
	int	 fd;		/* the body file, or -1 (in memory) */
	char	 id[SPOOL_ID_MAX];
	unsigned seg;
	char	*path;		/* the body file, until committed */
	char	*text;		/* the envelope text, for the log record */
	size_t	 text_len;
	char	*mem;		/* the body, while in memory */
	size_t	 mem_len, mem_cap;
	off_t	 size;		/* envelope text + body bytes */
	bool	 failed;
};

struct spool *spool_open(const char *dir, const char **error_r);
void	spool_close(struct spool *s);
const char *spool_dir(const struct spool *s);

/* Start a message: formats its envelope (env->id, env->queued and
 * env->seg are filled in); the body is kept in memory until it outgrows
 * SPOOL_BODY_MEM_MAX, then streamed to its own file.  0, or -1 with
 * *error_r. */
int	spool_writer_begin(struct spool *s, struct spool_envelope *env,
	    struct spool_writer *w, const char **error_r);
/* Append body bytes (CRLF line ends).  0 or -1. */
int	spool_writer_write(struct spool_writer *w, const void *p, size_t n);
/* Make the message durable now (its body, then its log record).  Only
 * after 0 is returned may the message be acknowledged; env (the one
 * given to spool_writer_begin, or a copy) then has its body's final
 * place: body_offset and body_in_data. */
int	spool_writer_commit(struct spool *s, struct spool_writer *w,
	    struct spool_envelope *env, const char **error_r);

/*
 * Group commit (spool_sync.c).  spool_sync_start() starts the sync
 * thread on the loop; spool_writer_commit_async() then hands the written
 * message to the next batch and returns at once; cb(arg, 0) runs on the
 * loop thread once the message is durable (cb(arg, errno) if it could not
 * be made so: it is then gone, never to be acknowledged).  Without a
 * started sync thread the commit is synchronous and cb runs before the
 * call returns.  The writer is finished either way.  env must stay where
 * it is until cb runs: its body_offset and body_in_data are set just
 * before (a body in the data file has its place only then).
 */
typedef void spool_commit_cb(void *arg, int error);
int	spool_sync_start(struct spool *s, struct ev_loop *loop,
	    const char **error_r);
/* Finish the pending batches and stop the thread. */
void	spool_sync_stop(struct spool *s);
void	spool_writer_commit_async(struct spool *s, struct spool_writer *w,
	    struct spool_envelope *env, spool_commit_cb *cb, void *arg);
void	spool_writer_abort(struct spool_writer *w);

/* Mark recipient `idx` of committed message `id` (of log segment `seg`)
 * finished. */
int	spool_mark_done(struct spool *s, unsigned seg, const char *id,
	    size_t idx);
/* Remove a committed message whose recipients are all finished
 * (in_data: its body is in the segment's data file, no file to unlink). */
int	spool_remove(struct spool *s, unsigned seg, const char *id,
	    bool in_data);
/* Open the file holding env's body for reading: the body is the
 * env->body_size bytes at env->body_offset (a data file holds other
 * messages after it: never read to the end of the file). */
int	spool_open_message(struct spool *s, const struct spool_envelope *env);
/* Read a committed message's envelope back; header_len is its
 * body_offset (in msg/<seg>/<id> when that file exists, else in
 * log/<seg>.data, where the image line before the body gives the
 * envelope's place).  body_offset, body_size, body_in_data and seg are
 * filled in.  0, or -1 with errno (EINVAL: it does not parse, EIO: the
 * data file is cut short). */
int	spool_read_envelope(struct spool *s, unsigned seg, const char *id,
	    size_t header_len, struct spool_envelope *env);
/* Record a recipient's new priority (0..100) in the done-list. */
int	spool_set_priority(struct spool *s, unsigned seg, const char *id,
	    size_t idx, int priority);
/* Record the time of the message's first delivery attempt in the
 * done-list ("<id> @ <time>"; spool_scan() gives it back in
 * env->first_attempt).  Not synced: a crash may lose it. */
int	spool_set_first_attempt(struct spool *s, unsigned seg, const char *id,
	    time_t when);
/* Messages whose log records are kept, and segments (for show status). */
size_t	spool_live(const struct spool *s);
size_t	spool_segments(const struct spool *s);
/* Start a new log segment after this many record bytes (tests). */
void	spool_set_segment_bytes(struct spool *s, size_t bytes);

/*
 * Recovery: call cb for every committed message that has unfinished
 * recipients, with its envelope and a done[] array (done[i] true if
 * recipient i was finished).  Body files without a record (never
 * acknowledged) are removed, or moved to quarantine/ when their
 * segment had a damaged record.  Messages of the earlier layout
 * (msg/<id> files) are moved into the log.  Returns the number of
 * messages found, or -1.  Call once, before the first spool_writer_begin().
 */
typedef void spool_scan_cb(const struct spool_envelope *env, const bool *done,
	    void *arg);
int	spool_scan(struct spool *s, spool_scan_cb *cb, void *arg);

void	spool_envelope_free(struct spool_envelope *env);
/* Per-recipient DSN data for recipient i (< nrcpts); arrays grow as
 * recipients are added. */
void	spool_envelope_set_notify(struct spool_envelope *env, size_t i,
	    unsigned bits);
void	spool_envelope_set_orcpt(struct spool_envelope *env, size_t i,
	    const char *orcpt);
void	spool_envelope_set_rvmta(struct spool_envelope *env, size_t i,
	    const char *vmta);
/* The NOTIFY bits / ORCPT / VirtualMTA of recipient i (0 / NULL when not
 * given). */
unsigned spool_envelope_notify(const struct spool_envelope *env, size_t i);
const char *spool_envelope_orcpt(const struct spool_envelope *env, size_t i);
const char *spool_envelope_rvmta(const struct spool_envelope *env, size_t i);
/* The message's recipient-priority (0..100): SPOOL_PRIORITY_DEFAULT
 * unless set; set clamps to 0..100. */
int	spool_envelope_priority(const struct spool_envelope *env);
/* Recipient i's priority: its own if one was recorded, else the
 * message's. */
int	spool_envelope_rpriority(const struct spool_envelope *env, size_t i);
void	spool_envelope_set_rpriority(struct spool_envelope *env, size_t i,
	    int priority);
void	spool_envelope_set_priority(struct spool_envelope *env, int priority);

#endif
