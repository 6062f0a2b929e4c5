/*
 * queue: the in-memory queues, one per "domain/vmta", rebuilt from the
 * spool at start and fed by the SMTP server.  The loop thread owns them.
 *
 * A queued recipient is ready (waiting for a delivery slot), waiting
 * for its retry time, or parked (its job is paused).  Ready recipients
 * go out highest recipient priority first, then oldest message first.
 * Delivery sessions take batches (the ready recipients of one message in
 * one queue) and report each recipient's outcome back: finished
 * (delivered or bounced; recorded in the spool so it never comes back)
 * or deferred (retried later).
 *
 * A queue is in normal or backoff mode (pmta-reference §3.7); in backoff
 * the backoff-* settings replace max-msg-rate, max-smtp-out and
 * retry-after.
 */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "lib/heap.h"
#include "lib/pace.h"
#include "model/model.h"
#include "spool/spool.h"

#define QUEUE_DEFAULT_VMTA	"{default}"
#define QUEUE_BATCH_MAX		100	/* recipients per transaction */
#define QUEUE_RETRY_DEFAULT	600.	/* PMTA's retry-after default, 10m */

struct queue;
struct queue_mgr;

/* A job (X-Job): its recipients can be paused, resumed, deleted together. */
struct queue_job {
	struct queue_job	*next;
	char			*name;
	bool			 paused;
	size_t			 nrcpts;	/* queued recipients */
	unsigned long long	 bytes;
};

/*
 * A queued message, kept small: what scheduling, the queue commands and
 * the queue filters need (one allocation holding the structure, its
 * recipients' records, their addresses and the sender).  The rest of the
 * envelope (source, VirtualMTA, DSN parameters ...) stays in the spool
 * and is read back while a delivery, a bounce or a report needs it:
 * queue_rcpt_env().
 */
struct queue_msg {
	unsigned		 magic;
	int			 refs;		/* pending recipients + batches */
	int			 env_users;	/* batches using env */
	uint32_t		 nrcpts;	/* in the envelope */
	uint32_t		 pending;	/* recipients not finished */
	unsigned		 seg;		/* its spool log segment */
	uint32_t		 seq;		/* arrival order (ties) */
	uint32_t		 body_offset : 31;	/* < 2 GB (a data file
						   is at most 64 MB) */
	uint32_t		 body_in_data : 1;	/* in log/<seg>.data,
						   not its own file */
	struct queue_job	*job;		/* or NULL */
	time_t			 queued;
	time_t			 delay_sent;	/* last delay report (NOTIFY=DELAY) */
	time_t			 first_attempt;	/* first batch taken (timeFirstAttempt;
						   kept in the spool), or 0 */
	off_t			 body_size;
	char			*orig;		/* "" for the null sender */
	char			*envid;		/* or NULL */
	char			**rcpts;	/* nrcpts addresses */
	struct spool_envelope	*env;		/* the whole envelope, or NULL */
	char			 id[SPOOL_ID_MAX];
};

/*
 * One per queued recipient, so kept small (40 bytes on LP64): a recipient
 * is in at most one of its queue's heaps (ready, waiting or parked), so
 * one index serves all three; a taken one is in none.
 */
struct queue_rcpt {
	struct queue_msg	*msg;
	struct queue		*q;
	double			 not_before;	/* queue clock, while waiting */
	size_t			 hidx;		/* in a heap of q, or HEAP_NONE */
	uint32_t		 idx;		/* index in the envelope's rcpts */
	uint8_t			 prio;		/* recipient priority, 0..100 */
};

enum queue_mode {
	QUEUE_NORMAL,
	QUEUE_BACKOFF,
};

#define QUEUE_EVENTS_MAX	10	/* error events kept (max-events-recorded) */
#define QUEUE_EVENT_TEXT	256
#define QUEUE_SOURCES_OFF_MAX	256	/* disabled source IPs per queue */

/* An error event of a queue (show queues --errors). */
struct queue_event {
	time_t	 at;
	char	 text[QUEUE_EVENT_TEXT];
};

/* A local source IP the queue does not use (disable-source-ip). */
struct queue_source_off {
	struct queue_source_off	*next;
	double			 until;		/* queue clock; INFINITY: never */
	char			 ip[64];	/* as addr_ntop writes it */
};

struct queue {
	struct queue		*next;
	struct queue		*hnext;		/* in the manager's hash */
	struct queue_mgr	*mgr;		/* read-only for other modules */
	char			*name;		/* "domain/vmta" */
	char			*domain;
	char			*vmta;
	struct heap		 ready;		/* by priority, age, arrival */
	struct heap		 waiting;	/* by not_before */
	struct heap		 parked;	/* of paused jobs (ready order) */
	size_t			 nready, nwaiting, nparked;
	int			 active;	/* delivery sessions */
	int			 idle;		/* of which idle, waiting for mail
						   (connection-idle-timeout) */
	double			 wake;		/* next time the queue has work */
	size_t			 hidx;		/* in the manager's wake heap */
	/* max-msg-rate, smooth: one recipient every `interval` seconds */
	double			 interval;	/* 0: unlimited */
	double			 next_ok;	/* earliest next attempt */
	int			 max_out;	/* max-smtp-out */
	/* max-connect-rate (backoff-max-connect-rate in backoff): new
	 * sessions, smooth (lib/pace.h) */
	struct pace		 connect;
	bool			 connect_held;	/* waiting for it now */
	int			 priority;	/* queue-priority, 0..100 */
	bool			 interruptible;	/* allow-priority-interruption */
	bool			 interrupt_transfer; /* ...-during-transfer */
	size_t			 batch_max;	/* max-rcpt-per-transaction, capped */
	/* recipients per message added lately (queue_kick's estimate of
	 * how many batches the ready recipients make) */
	unsigned		 add_msgs, add_rcpts;
	int			 busy;		/* batches out to sessions */
	/* retries (pmta-reference §3.6), read from the queue's settings */
	long long		*retry_list;	/* retry-after, seconds; last repeats */
	size_t			 nretry;
	unsigned		 retry_index;	/* consecutive queue failures */
	double			 retry_until;	/* in retry mode until then */
	bool			 retry_new_mail; /* retry-upon-new-mail */
	long long		 retry_rcpt;	/* retry-recipients-after */
	long long		 bounce_after;	/* bounce-after (0: never) */
	char			 last_error[256];	/* for show queues */
	bool			 paused;	/* pmta pause queue */
	/* mode (pmta-reference §3.7); in memory only: a restart is normal */
	enum queue_mode		 mode;
	time_t			 mode_since;	/* wall clock of the last change */
	double			 mode_until;	/* backoff ends (queue clock), or INFINITY */
	char			 mode_reason[512];
	long long		 to_normal_after;	/* backoff-to-normal-after (0: never) */
	bool			 to_normal_on_delivery;	/* ...-after-delivery */
	char			*reroute;	/* backoff-reroute-to-virtual-mta, or NULL */
	bool			 reroute_loop;	/* a loop was logged (this backoff) */
	struct queue_source_off	*sources_off;	/* disable-source-ip */
	size_t			 nsources_off;
	struct queue_event	*errors;	/* QUEUE_EVENTS_MAX, once needed */
	unsigned		 nerrors;	/* recorded so far (ring position) */
	unsigned long long	 bytes;		/* queued: body bytes per recipient */
};

/* A transaction's worth of recipients, all of one message. */
struct queue_batch {
	struct queue		*q;		/* whose ready recipients */
	struct queue_msg	*msg;
	struct queue_rcpt	*rcpts[QUEUE_BATCH_MAX];
	size_t			 n;
};

/* Called when a queue has ready recipients and a free delivery slot. */
typedef void queue_start_cb(struct queue *q, void *arg);
/* Called for a recipient older than bounce-after: the callee records the
 * bounce and calls queue_rcpt_finished(). */
typedef void queue_expire_cb(struct queue_rcpt *r, void *arg);
/* Called after a queue changed mode (q->mode, q->mode_reason are new). */
typedef void queue_mode_cb(struct queue *q, void *arg);

/*
 * The queues' clock: monotonic seconds (retries, rates) and wall time
 * (message ages).  NULL in queue_mgr_new() means the real clocks; tests
 * pass a fake one.
 */
struct queue_clock {
	double	(*mono)(void *arg);
	time_t	(*wall)(void *arg);
	void	*arg;
};

/*
 * *model is read when a queue is created and by queue_mgr_reconfigure().
 * With a loop, one libev timer wakes the manager when a queue has work
 * due; with loop NULL the caller drives it with queue_mgr_run().
 */
struct queue_mgr *queue_mgr_new(struct ev_loop *loop, struct spool *spool,
	    struct model *const *model, const struct queue_clock *clock,
	    queue_start_cb *start, void *arg);
/* Do what is due now (retries, expiries, rate-limited starts). */
void	queue_mgr_run(struct queue_mgr *mgr);
/* The queue clock's time of the next due work, or INFINITY. */
double	queue_mgr_next_wakeup(const struct queue_mgr *mgr);
void	queue_mgr_set_expire(struct queue_mgr *mgr, queue_expire_cb *cb,
	    void *arg);
void	queue_mgr_set_mode_cb(struct queue_mgr *mgr, queue_mode_cb *cb,
	    void *arg);
/* Offer every queue with ready recipients a session, the highest
 * queue-priority first (a global slot became free). */
void	queue_mgr_kick_all(struct queue_mgr *mgr);
/* The configuration changed: re-read every queue's settings. */
void	queue_mgr_reconfigure(struct queue_mgr *mgr);
void	queue_mgr_free(struct queue_mgr *mgr);
/* Stop starting deliveries (shutdown). */
void	queue_mgr_stop(struct queue_mgr *mgr);
/* Recipients held in memory, and messages. */
size_t	queue_mgr_rcpts(const struct queue_mgr *mgr);
size_t	queue_mgr_msgs(const struct queue_mgr *mgr);
struct queue *queue_mgr_first(const struct queue_mgr *mgr);

/*
 * Queue a committed message: its recipients whose done[i] is false
 * (done may be NULL) go to the queues of their domains.  The envelope is
 * copied.
 */
void	queue_add(struct queue_mgr *mgr, const struct spool_envelope *env,
	    const bool *done);

/* The recipient's address. */
const char *queue_rcpt_addr(const struct queue_rcpt *r);
/*
 * The recipient's whole message envelope, read back from the spool when
 * it is not in memory (it stays while a batch of the message is out, or
 * until the recipient is finished).  Never NULL: if the spool cannot be
 * read, an envelope made of what memory holds, with a log line.
 */
const struct spool_envelope *queue_rcpt_env(struct queue_rcpt *r);

/* Take the next batch from q: the best ready recipient and the ready
 * recipients of its message that follow it in the order (those of the
 * same priority), with the message's envelope loaded; false if nothing
 * is ready. */
bool	queue_take(struct queue *q, struct queue_batch *b);
/* A session of q starts/ends. */
void	queue_session_begin(struct queue *q);
void	queue_session_end(struct queue *q);
/*
 * A session of q holds its connection open without work
 * (connection-idle-timeout), or stops doing so.  While q has idle
 * sessions, ready recipients are offered to them first: the start
 * callback is called for q, and it hands the work to an idle session
 * (which calls queue_session_idle(q, false) and takes a batch) rather
 * than opening a connection.
 */
void	queue_session_idle(struct queue *q, bool idle);

/* Outcomes of the recipients of a taken batch. */
void	queue_rcpt_finished(struct queue_rcpt *r);
void	queue_rcpt_defer(struct queue_rcpt *r, double seconds);
/* Is the recipient older than its queue's bounce-after? */
bool	queue_rcpt_expired(const struct queue_rcpt *r);
/* Not attempted after all (the connection failed first): back to ready. */
void	queue_rcpt_return(struct queue_rcpt *r);
/* A recipient-level transient failure: retry after retry-recipients-after. */
void	queue_rcpt_retry(struct queue_rcpt *r);
/* A queue-level failure (no host reachable, greeting refused ...): every
 * ready recipient waits for the next retry-after interval of the list. */
void	queue_failure(struct queue *q, const char *error);
/* max-connect-rate in use: connections opened in the rate's last period,
 * and seconds until the next may open (0: now). */
size_t	queue_connect_used(const struct queue *q, double *next_in);
/* The same after a DNS failure: the wait is `seconds`
 * (retry-after-dns-error) instead of the next retry-after interval. */
void	queue_failure_after(struct queue *q, const char *error,
	    double seconds);
/* A delivery succeeded: the retry-after list starts over. */
void	queue_delivered(struct queue *q);
/*
 * Runtime controls (src/ctl).  A queue pattern is "domain[/vmta]" where
 * either part may use '*' wildcards; without "/vmta", every VMTA.
 */
bool	queue_match(const struct queue *q, const char *pattern);
/* Wall-clock time of the queue's next retry, or 0 when nothing waits. */
time_t	queue_retry_at(const struct queue *q);
void	queue_pause(struct queue *q, bool paused);
/* Retry now: waiting recipients become ready (pmta schedule). */
void	queue_schedule(struct queue *q);
/* Queued recipients: ready, waiting and parked. */
size_t	queue_rcpts(const struct queue *q);
/*
 * Enter normal or backoff mode (pmta set queue --mode, and later
 * smtp-pattern-list rules); reason says why (show queues --mode-events).
 * Backoff ends by itself after backoff-to-normal-after, or on a delivery
 * with backoff-to-normal-after-delivery.  Setting the current mode again
 * changes nothing.
 */
void	queue_set_mode(struct queue *q, enum queue_mode mode,
	    const char *reason);
/*
 * The same, with the backoff's own end: to_normal_after seconds (an
 * smtp-pattern-list rule's backoff-to-normal-after=), 0 for never, -1 for
 * the queue's backoff-to-normal-after.
 *
 * While a queue is in backoff and has backoff-reroute-to-virtual-mta, its
 * queued recipients, those it gets back from sessions and new ones go to
 * the queue of the same domain on that VirtualMTA (or pool member), and
 * on along a chain of such queues; a chain that comes back to a queue
 * already in it is a loop: logged once, and the recipients stay.
 */
void	queue_set_mode_for(struct queue *q, enum queue_mode mode,
	    const char *reason, long long to_normal_after);
const char *queue_mode_name(enum queue_mode mode);
/* Record an error event (and the last error, show queues). */
void	queue_note_error(struct queue *q, const char *text);
/* The recorded error events, oldest first: up to QUEUE_EVENTS_MAX into v. */
size_t	queue_error_events(const struct queue *q,
	    const struct queue_event **v);
/*
 * disable-source-ip: the queue stops using the local address ip (as
 * addr_ntop writes it) for `seconds` (0: until a restart).  Returns
 * false when it was already disabled.
 */
bool	queue_source_disable(struct queue *q, const char *ip,
	    long long seconds);
/* Is ip disabled for q now?  Expired entries are dropped first. */
bool	queue_source_disabled(struct queue *q, const char *ip);
/* How many local addresses q does not use now. */
size_t	queue_sources_disabled(struct queue *q);
/* May a session of `victim` be closed so that `by` gets its connection
 * slot?  (queue-priority, allow-priority-interruption: §3.5) */
bool	queue_may_interrupt(const struct queue *victim, const struct queue *by);
/* Take every queued (not in-flight) recipient that `match` accepts out of
 * q; each is handed to `take`, which must give it an outcome. */
typedef bool queue_filter_cb(const struct queue_rcpt *r, void *arg);
typedef void queue_take_cb(struct queue_rcpt *r, void *arg);
size_t	queue_remove(struct queue *q, queue_filter_cb *match, void *match_arg,
	    queue_take_cb *take, void *take_arg);
/* Give every queued (not in-flight) recipient of q that `match` accepts
 * the recipient priority `priority` (0..100); returns how many. */
size_t	queue_set_priority(struct queue *q, queue_filter_cb *match,
	    void *match_arg, int priority);

/* Jobs: the list, one by name, pause/resume (recipients of a paused job
 * are parked until it resumes). */
struct queue_job *queue_mgr_jobs(const struct queue_mgr *mgr);
struct queue_job *queue_job_find(const struct queue_mgr *mgr,
	    const char *name);
void	queue_job_pause(struct queue_mgr *mgr, struct queue_job *job,
	    bool paused);

/* Give back a batch's reference once every recipient has an outcome. */
void	queue_batch_release(struct queue_batch *b);

#endif
