/*
 * queue_private: what the queue module's files (queue.c, queue_mode.c,
 * queue_ctl.c) share; not for other modules, which use queue.h.
 */
#ifndef TERN_QUEUE_PRIVATE_H
#define TERN_QUEUE_PRIVATE_H

#include "queue/queue.h"

#define QUEUE_MSG_MAGIC	0x71756d73u

/* Round-robin position of a pool (pmta-reference Q2: per recipient). */
struct queue_pool_rr {
	struct queue_pool_rr	*next;
	char			*pool;
	unsigned long		 pos;
};

struct queue_mgr {
	struct queue_pool_rr	*pools;
	struct queue_clock	 clock;
	struct heap		 wake;		/* queues by their next work */
	ev_timer		 timer;
	struct ev_loop	*loop;
	struct spool	*spool;
	struct model *const *model;
	queue_start_cb	*start;
	void		*arg;
	queue_expire_cb	*expire;
	void		*expire_arg;
	queue_mode_cb	*mode_cb;
	void		*mode_arg;
	struct queue	*queues;
	struct queue	**qtab;		/* hash of queues by domain/vmta */
	size_t		 qtab_size, nqueues;
	struct queue_job *jobs;
	size_t		 nrcpts, nmsgs;
	unsigned long long msg_seq;	/* messages queued so far */
	bool		 stopped;
};

/* queue.c */
double	queue_now(const struct queue_mgr *mgr);
time_t	queue_wall(const struct queue_mgr *mgr);
/* Start sessions while recipients are ready and slots are free. */
void	queue_kick(struct queue *q);
/* Recompute when q next has work to do, and file it in the wake heap. */
void	queue_wake_update(struct queue *q);
/* A recipient becomes ready, or parked while its job is paused. */
void	queue_make_ready(struct queue_rcpt *r);
/* The queue of domain/vmta, created when new. */
struct queue *queue_get(struct queue_mgr *mgr, const char *domain,
	    const char *vmta);
/* The VMTA of a recipient's queue (a pool member in turn). */
const char *queue_vmta_of(struct queue_mgr *mgr, const char *selected);
void	queue_msg_env_drop(struct queue_msg *m);
void	queue_msg_unref(struct queue_msg *m);

/* queue_mode.c */
/* Read the queue's settings, those of its mode (normal or backoff). */
void	queue_settings(struct queue *q);
void	queue_mode_change(struct queue *q, enum queue_mode mode,
	    const char *reason, long long to_normal_after);
struct queue *queue_reroute_target(struct queue *q);
void	queue_reroute_all(struct queue *q);
bool	queue_rcpt_reroute(struct queue_rcpt *r);

/* queue_ctl.c */
struct queue_job *queue_job_get(struct queue_mgr *mgr, const char *name);
void	queue_job_release(struct queue_mgr *mgr, struct queue_job *job);

#endif
