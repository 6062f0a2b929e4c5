/*
 * Fake-clock tests for the queue manager: the retry-after series (the
 * last interval repeats, a delivery starts it over), recipient holds,
 * bounce-after expiry, smooth max-msg-rate, pause/resume, oldest first,
 * queue-priority for a free global slot, recipient priority (order,
 * batches, set priority on ready, waiting and parked recipients), backoff
 * mode (its settings, backoff-to-normal-after, -after-delivery, a rule's
 * own backoff-to-normal-after, the mode callback), backoff reroutes
 * (queued, returned and new recipients, chains, loops), disabled source
 * addresses, error events and the priority-interruption decision.
 * The manager runs without libev: the test moves the clock and calls
 * queue_mgr_run(), and plays the delivery side itself.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "tap.h"

static double fake_mono = 1000.;
static time_t fake_wall = 1700000000;

static double clock_mono(void *arg) { return fake_mono; }
static time_t clock_wall(void *arg) { return fake_wall; }

static void
advance(double secs)
{
	fake_mono += secs;
	fake_wall += (time_t)secs;
}

/* The delivery side: a start request opens a "session" on the queue. */
static struct queue *started[64];
static int nstarted;
static int nexpired;

static int slot_cap, slots_used;	/* total-max-smtp-out, played here */

static int nwoken;			/* idle sessions given work */
static struct queue_batch woken;	/* the last one's batch */

static void
on_start(struct queue *q, void *arg)
{
	if (q->idle > 0) {	/* the delivery side wakes an idle session */
		queue_session_idle(q, false);
		if (queue_take(q, &woken))
			nwoken++;
		else
			queue_session_idle(q, true);
		return;
	}
	if (slot_cap > 0 && slots_used >= slot_cap)
		return;			/* declined: no global slot */
	slots_used++;
	queue_session_begin(q);
	if (nstarted < 64)
		started[nstarted++] = q;
}

static void
on_expire(struct queue_rcpt *r, void *arg)
{
	nexpired++;
	queue_rcpt_finished(r);
}

static struct spool *test_spool;

/* Commit env to the test's spool (so the queue can read it back), keeping
 * the test's queued time for the queue. */
static void
commit(struct spool_envelope *env)
{
	struct spool_writer w;
	const char *err;
	time_t queued = env->queued;

	if (spool_writer_begin(test_spool, env, &w, &err) == -1 ||
	    spool_writer_commit(test_spool, &w, env, &err) == -1)
		diag("cannot spool a test message: %s", err);
	env->queued = queued;
}

/* Queue a message: queued at `queued`, recipient priority prio (-1: not
 * set), job and VirtualMTA (or NULL), the recipients up to a NULL. */
static void
add_env(struct queue_mgr *mgr, time_t queued, int prio, const char *job,
    const char *vmta, const char *const *rcpts)
{
	static int seq;
	struct spool_envelope env;

	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "t%d", ++seq);
	env.queued = queued;
	env.orig = "a@b";
	env.srcmta = "x (127.0.0.1)";
	env.jobid = (char *)job;
	env.vmta = (char *)vmta;
	env.rcpts = (char **)rcpts;
	while (rcpts[env.nrcpts] != NULL)
		env.nrcpts++;
	if (prio >= 0)
		spool_envelope_set_priority(&env, prio);
	commit(&env);
	queue_add(mgr, &env, NULL);
}

static void
add_msg(struct queue_mgr *mgr, time_t queued, int prio, const char *job,
    const char *const *rcpts)
{
	add_env(mgr, queued, prio, job, NULL, rcpts);
}

static void
add(struct queue_mgr *mgr, const char *rcpt)
{
	const char *rcpts[] = { rcpt, NULL };

	add_msg(mgr, fake_wall, -1, NULL, rcpts);
}

/* One recipient for a VirtualMTA. */
static void
add_vmta(struct queue_mgr *mgr, const char *rcpt, const char *vmta)
{
	const char *rcpts[] = { rcpt, NULL };

	add_env(mgr, fake_wall, -1, NULL, vmta, rcpts);
}

static struct queue *
find_queue_vmta(struct queue_mgr *mgr, const char *domain, const char *vmta)
{
	for (struct queue *q = queue_mgr_first(mgr); q != NULL; q = q->next)
		if (strcmp(q->domain, domain) == 0 && strcmp(q->vmta, vmta) == 0)
			return q;
	return NULL;
}

static struct queue *
find_queue(struct queue_mgr *mgr, const char *domain)
{
	for (struct queue *q = queue_mgr_first(mgr); q != NULL; q = q->next)
		if (strcmp(q->domain, domain) == 0)
			return q;
	return NULL;
}

/* Take one batch and deliver it; its recipients, space-separated, go to
 * got ("" when nothing was ready). */
static void
take_names(struct queue *q, char *got, size_t size)
{
	struct queue_batch b;

	got[0] = '\0';
	if (!queue_take(q, &b))
		return;
	for (size_t i = 0; i < b.n; i++) {
		size_t len = strlen(got);

		snprintf(got + len, size - len, "%s%s", i ? " " : "",
		    b.msg->rcpts[b.rcpts[i]->idx]);
		queue_rcpt_finished(b.rcpts[i]);
	}
	queue_batch_release(&b);
}

/* One session of q: take a batch and give every recipient `outcome`. */
static size_t
attempt(struct queue *q, int outcome)
{
	struct queue_batch b;
	size_t n = 0;

	if (queue_take(q, &b)) {
		n = b.n;
		for (size_t i = 0; i < b.n; i++) {
			if (outcome == 2) {
				queue_delivered(q);
				queue_rcpt_finished(b.rcpts[i]);
			} else if (outcome == 4)
				queue_rcpt_retry(b.rcpts[i]);
			else
				queue_rcpt_return(b.rcpts[i]);
		}
		queue_batch_release(&b);
	}
	if (outcome == 0)
		queue_failure(q, "451 4.4.1 no answer");
	slots_used--;
	queue_session_end(q);
	return n;
}

static struct queue *
last_start(void)
{
	return nstarted > 0 ? started[nstarted - 1] : NULL;
}

static void
test_retry_series(struct queue_mgr *mgr)
{
	static const double series[] = { 60, 300, 1800, 1800 };
	struct queue *q = NULL;

	nstarted = 0;
	add(mgr, "x@retry.test");
	ok(nstarted == 1 && (q = last_start()) != NULL, "new mail starts a session");
	if (nstarted != 1 || q == NULL)
		return;
	attempt(q, 0);
	for (int i = 0; i < 4; i++) {
		double due = queue_mgr_next_wakeup(mgr) - fake_mono;
		int before = nstarted;

		is_int((long long)due, (long long)series[i],
		    "retry %d waits %.0fs (retry-after 1m,5m,30m)", i + 1, series[i]);
		advance(due - 1);
		queue_mgr_run(mgr);
		is_int(nstarted, before, "  nothing one second early");
		advance(1);
		queue_mgr_run(mgr);
		is_int(nstarted, before + 1, "  the retry starts on time");
		attempt(q, 0);
	}
	attempt(q, 0);	/* a session started by nothing: harmless */
	advance(queue_mgr_next_wakeup(mgr) - fake_mono);
	queue_mgr_run(mgr);
	attempt(q, 2);
	is_int((long long)q->retry_index, 0, "a delivery starts the list over");

	/* new mail while the queue is in retry mode waits for the retry */
	add(mgr, "r1@retry.test");
	attempt(q, 0);		/* fails: retry in 1m */
	advance(10);
	nstarted = 0;
	add(mgr, "r2@retry.test");
	is_int(nstarted, 0, "new mail for a queue in retry mode starts nothing");
	is_int((long long)(queue_mgr_next_wakeup(mgr) - fake_mono), 50,
	    "it waits with the others for the retry");
	advance(50);
	queue_mgr_run(mgr);
	ok(nstarted == 1, "the retry takes it");
	is_int((long long)q->nready, 2, "both recipients are ready at the retry");
	attempt(q, 2);
	attempt(q, 2);
	nstarted = 0;
	add(mgr, "r3@retry.test");
	is_int(nstarted, 1, "after a delivery new mail goes at once again");
	attempt(q, 2);

	/* retry-upon-new-mail yes: new mail does not wait */
	nstarted = 0;
	add(mgr, "n1@newmail.test");
	if ((q = last_start()) == NULL)
		return;
	attempt(q, 0);
	advance(10);
	add(mgr, "n2@newmail.test");
	ok(nstarted == 2, "retry-upon-new-mail: new mail starts a session at once");
	attempt(q, 2);
	advance(3600);
	queue_mgr_run(mgr);
	attempt(q, 2);
}

static void
test_expiry(struct queue_mgr *mgr)
{
	struct queue *q;
	int tries = 0;

	nstarted = nexpired = 0;
	add(mgr, "y@expire.test");
	if ((q = last_start()) == NULL)
		return;
	while (nexpired == 0 && tries < 100) {
		double due;

		attempt(q, 4);
		tries++;
		due = queue_mgr_next_wakeup(mgr);
		if (isinf(due))
			break;
		advance(due - fake_mono);
		queue_mgr_run(mgr);
	}
	is_int(nexpired, 1, "a recipient held past bounce-after (1h) expires");
	is_int(tries, 30, "after 30 holds of retry-recipients-after (2m)");
	ok(isinf(queue_mgr_next_wakeup(mgr)) || q->nwaiting == 0,
	    "nothing of it is left waiting");
}

static void
test_rate(struct queue_mgr *mgr)
{
	struct queue *q;
	double t0;

	nstarted = 0;
	add(mgr, "a@rated.test");
	add(mgr, "b@rated.test");
	add(mgr, "c@rated.test");
	if ((q = last_start()) == NULL)
		return;
	t0 = fake_mono;
	is_int((long long)attempt(q, 2), 1, "max-msg-rate 6/m: one recipient at a time");
	is_int((long long)(queue_mgr_next_wakeup(mgr) - t0), 10,
	    "the next one is due 10s later");
	advance(9);
	queue_mgr_run(mgr);
	ok(nstarted == 1, "no session starts before");
	advance(1);
	queue_mgr_run(mgr);
	ok(nstarted == 2, "a session starts when due");
	is_int((long long)attempt(q, 2), 1, "and takes one recipient");
}

static void
test_pause_order(struct queue_mgr *mgr)
{
	struct queue *q;
	struct queue_batch b;

	nstarted = 0;
	add(mgr, "first@order.test");
	q = last_start();
	if (q == NULL)
		return;
	queue_pause(q, true);
	slots_used--;
	queue_session_end(q);	/* the session found the queue paused */
	add(mgr, "second@order.test");
	add(mgr, "third@order.test");
	is_int(nstarted, 1, "a paused queue starts no session");
	ok(!queue_take(q, &b), "and gives out nothing");
	queue_pause(q, false);
	is_int(nstarted, 4, "resume starts a session per ready message (3)");
	if (queue_take(q, &b)) {
		is_str(b.msg->rcpts[0], "first@order.test", "oldest first");
		queue_rcpt_finished(b.rcpts[0]);
		queue_batch_release(&b);
	}
}

/* Sessions started for q since started[from]. */
static int
starts_of(const struct queue *q, int from)
{
	int n = 0;

	for (int i = from; i < nstarted; i++)
		n += started[i] == q;
	return n;
}

/* How many sessions a queue opens: one per ready message up to
 * max-smtp-out; one after a failure until a delivery; a rated queue one
 * more only while every session has a transaction out. */
static void
test_sessions(struct queue_mgr *mgr)
{
	static const char *big[] = { "1@big.test", "2@big.test", "3@big.test",
	    "4@big.test", "5@big.test", "6@big.test", NULL };
	char rcpt[64];
	struct queue *q;
	struct queue_batch b;
	int before;

	nstarted = 0;
	for (int i = 0; i < 5; i++) {
		snprintf(rcpt, sizeof(rcpt), "m%d@many.test", i);
		add(mgr, rcpt);
	}
	is_int(nstarted, 3, "5 ready messages open max-smtp-out (3) sessions");
	nstarted = 0;
	add_msg(mgr, fake_wall, -1, NULL, big);
	is_int(nstarted, 1, "one message of 6 recipients opens one session");

	nstarted = 0;
	add(mgr, "f0@fail.test");
	if ((q = last_start()) == NULL)
		return;
	attempt(q, 0);		/* fails: retry in 1m */
	add(mgr, "f1@fail.test");
	add(mgr, "f2@fail.test");
	add(mgr, "f3@fail.test");
	before = nstarted;
	advance(60);
	queue_mgr_run(mgr);
	is_int(starts_of(q, before), 1, "after a failure one session tries first");
	before = nstarted;
	attempt(q, 2);		/* it delivers and ends */
	is_int(starts_of(q, before), 3, "after its delivery the others open");

	nstarted = 0;
	for (int i = 0; i < 5; i++) {
		snprintf(rcpt, sizeof(rcpt), "r%d@fastrate.test", i);
		add(mgr, rcpt);
	}
	is_int(nstarted, 1, "a rated queue starts with one session");
	if ((q = last_start()) == NULL || !queue_take(q, &b))
		return;
	advance(0.5);
	queue_mgr_run(mgr);
	is_int(starts_of(q, 0), 2, "a slot due while it is busy opens a second");
	advance(0.5);
	queue_mgr_run(mgr);
	is_int(starts_of(q, 0), 2, "but not a third while the second has none out");
	queue_rcpt_finished(b.rcpts[0]);
	queue_batch_release(&b);
}

/* connection-idle-timeout: new mail goes to an idle session of the
 * queue, not to a new one; without one, a new session starts. */
static void
test_idle(struct queue_mgr *mgr)
{
	struct queue *q;
	struct queue_batch b;

	nstarted = nwoken = 0;
	add(mgr, "a@idle.test");
	if ((q = last_start()) == NULL || !queue_take(q, &b))
		return;
	queue_rcpt_finished(b.rcpts[0]);
	queue_batch_release(&b);
	queue_session_idle(q, true);	/* nothing more: it waits */
	is_int(q->active, 1, "an idle session still counts as the queue's");
	add(mgr, "b@idle.test");
	is_int(nwoken, 1, "new mail wakes the idle session");
	is_int(nstarted, 1, "and opens no other");
	is_int(q->idle, 0, "which is busy now");
	is_str(woken.n == 1 ? woken.msg->rcpts[woken.rcpts[0]->idx] : "",
	    "b@idle.test", "with the new message");
	queue_rcpt_finished(woken.rcpts[0]);
	queue_batch_release(&woken);
	/* it ends (its timeout passed): the next message needs a session */
	slots_used--;
	queue_session_end(q);
	add(mgr, "c@idle.test");
	is_int(nstarted, 2, "with none idle, new mail starts a session");
	is_int(nwoken, 1, "and wakes nothing");
	is_int(attempt(q, 2), 1, "which delivers it");
}

static void
test_priority(struct queue_mgr *mgr)
{
	struct queue *busy, *q;

	nstarted = 0;
	slot_cap = 1;
	slots_used = 0;		/* sessions of the tests above are left open */
	add(mgr, "x@busy.test");
	busy = last_start();
	/* high first: the manager's list then has low.test in front, so only
	 * the priority order can give the slot to high.test */
	add(mgr, "z@high.test");
	add(mgr, "y@low.test");
	is_int(nstarted, 1, "one global slot: the other queues wait");
	if (busy == NULL)
		return;
	attempt(busy, 2);		/* frees the slot ... */
	queue_mgr_kick_all(mgr);	/* ... which goes to the best queue */
	q = last_start();
	ok(nstarted == 2 && q != NULL && strcmp(q->domain, "high.test") == 0,
	    "queue-priority 90 gets the free slot before 10");
	if (q != NULL)
		attempt(q, 2);
	queue_mgr_kick_all(mgr);
	q = last_start();
	ok(q != NULL && strcmp(q->domain, "low.test") == 0, "then the lower one");
	if (q != NULL)
		attempt(q, 2);
	slot_cap = 0;
}

static void
test_rcpt_priority(struct queue_mgr *mgr)
{
	static const char *const want[] = {
		"p80@prio.test", "p80b@prio.test p80c@prio.test",
		"old50@prio.test", "p50@prio.test", "p10@prio.test", "",
	};
	const char *r1[] = { "p50@prio.test", NULL };
	const char *r2[] = { "p80@prio.test", NULL };
	const char *r3[] = { "old50@prio.test", NULL };
	const char *r4[] = { "p10@prio.test", NULL };
	const char *r5[] = { "p80b@prio.test", "x@elsewhere.test",
	    "p80c@prio.test", NULL };
	struct queue *q;
	char got[256];

	ok(sizeof(struct queue_rcpt) <= 40, "a queued recipient takes %zu bytes",
	    sizeof(struct queue_rcpt));
	add_msg(mgr, fake_wall, -1, NULL, r1);
	add_msg(mgr, fake_wall, 80, NULL, r2);
	add_msg(mgr, fake_wall - 60, -1, NULL, r3);
	add_msg(mgr, fake_wall, 10, NULL, r4);
	add_msg(mgr, fake_wall, 80, NULL, r5);
	if ((q = find_queue(mgr, "prio.test")) == NULL)
		return;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		take_names(q, got, sizeof(got));
		is_str(got, want[i], "take %zu: %s", i + 1,
		    i == 0 ? "the highest priority first" :
		    i == 1 ? "a message's recipients in one batch" :
		    i == 2 ? "within a priority, the oldest message first" :
		    i == 3 ? "then the next (default 50)" :
		    i == 4 ? "the lowest last" : "then nothing");
	}
}

static bool
match_rcpt(const struct queue_rcpt *r, void *arg)
{
	return strcmp(queue_rcpt_addr(r), arg) == 0;
}

/* pmta set priority: ready, waiting and parked recipients move. */
static void
test_set_priority(struct queue_mgr *mgr)
{
	const char *r1[] = { "s1@setp.test", NULL }, *r2[] = { "s2@setp.test", NULL };
	const char *r3[] = { "s3@setp.test", NULL }, *r4[] = { "s4@setp.test", NULL };
	struct queue_batch b;
	struct queue *q;
	char got[256];

	add_msg(mgr, fake_wall, -1, NULL, r1);
	add_msg(mgr, fake_wall, -1, NULL, r2);
	add_msg(mgr, fake_wall, -1, NULL, r3);
	if ((q = find_queue(mgr, "setp.test")) == NULL)
		return;
	is_int((long long)queue_set_priority(q, match_rcpt, "s3@setp.test", 90),
	    1, "set priority 90 on one ready recipient");
	is_int((long long)queue_set_priority(q, match_rcpt, "s1@setp.test", 20),
	    1, "and 20 on another");
	take_names(q, got, sizeof(got));
	is_str(got, "s3@setp.test", "the raised one goes first");
	take_names(q, got, sizeof(got));
	is_str(got, "s2@setp.test", "then the default");
	/* s1 (20) is ready; s4 comes in a job that is paused */
	add_msg(mgr, fake_wall, -1, "j1", r4);
	queue_job_pause(mgr, queue_job_find(mgr, "j1"), true);
	ok(queue_take(q, &b) && b.n == 1, "take s1 ...");
	queue_rcpt_retry(b.rcpts[0]);	/* ... which now waits */
	queue_batch_release(&b);
	is_int((long long)q->nwaiting + (long long)q->nparked, 2,
	    "one waiting, one parked");
	is_int((long long)queue_set_priority(q, match_rcpt, "s1@setp.test", 5),
	    1, "set priority reaches a waiting recipient");
	is_int((long long)queue_set_priority(q, match_rcpt, "s4@setp.test", 99),
	    1, "and a parked one");
	queue_schedule(q);
	queue_job_pause(mgr, queue_job_find(mgr, "j1"), false);
	take_names(q, got, sizeof(got));
	is_str(got, "s4@setp.test", "the resumed job's recipient, now 99, first");
	take_names(q, got, sizeof(got));
	is_str(got, "s1@setp.test", "the retried one keeps its new priority");
	is_int((long long)queue_rcpts(q), 0, "nothing left");
}

/* Backoff mode: its settings, back to normal after backoff-to-normal-after. */
static void
test_backoff(struct queue_mgr *mgr)
{
	struct queue *q;
	struct queue_batch b;
	time_t since;
	char got[256];

	add(mgr, "a@back.test");
	if ((q = find_queue(mgr, "back.test")) == NULL)
		return;
	ok(q->mode == QUEUE_NORMAL && q->max_out == 5 && q->interval == 1. &&
	    q->retry_list[0] == 300, "normal: max-smtp-out 5, 60/m, retry 5m");
	take_names(q, got, sizeof(got));
	add(mgr, "b@back.test");
	advance(0.5);
	queue_set_mode(q, QUEUE_BACKOFF, "test reason");
	ok(q->mode == QUEUE_BACKOFF && strcmp(q->mode_reason, "test reason") == 0 &&
	    q->mode_since == fake_wall, "set queue --mode=backoff, since now");
	ok(q->max_out == 1 && q->interval == 10. && q->retry_list[0] == 7200,
	    "backoff: backoff-max-smtp-out 1, backoff-max-msg-rate 6/m, "
	    "backoff-retry-after 2h");
	ok(!queue_take(q, &b), "the slower rate applies to the next attempt");
	is_int((long long)(q->wake - fake_mono), 9,
	    "due one backoff interval after the last attempt");
	since = q->mode_since;
	advance(9);
	queue_set_mode(q, QUEUE_BACKOFF, "again");
	ok(q->mode_since == since && strcmp(q->mode_reason, "test reason") == 0,
	    "setting backoff again changes nothing");
	queue_failure(q, "451 4.4.1 test");
	is_int((long long)(q->wake - fake_mono), 1800 - 9,
	    "a failure waits 2h, but backoff-to-normal-after (30m) comes first");
	advance(1800 - 9 - 1);
	queue_mgr_run(mgr);
	ok(q->mode == QUEUE_BACKOFF, "still backoff a second before");
	advance(1);
	queue_mgr_run(mgr);
	ok(q->mode == QUEUE_NORMAL && q->max_out == 5 && q->interval == 1. &&
	    q->retry_list[0] == 300, "then normal, with the normal settings");
	is_str(q->mode_reason, "backoff-to-normal-after elapsed", "and says why");
	queue_schedule(q);
	take_names(q, got, sizeof(got));
	is_str(got, "b@back.test", "the waiting recipient goes after schedule");
}

/* Backoff defaults; backoff-to-normal-after-delivery. */
static void
test_backoff_defaults(struct queue_mgr *mgr)
{
	struct queue *q = find_queue(mgr, "rated.test");
	char got[256];

	if (q == NULL)
		return;
	queue_set_mode(q, QUEUE_BACKOFF, "test");
	ok(q->interval == 10. && q->max_out == 20 && q->retry_list[0] == 3600 &&
	    isinf(q->mode_until), "defaults: max-msg-rate, 20, 1h, never back");
	queue_delivered(q);
	ok(q->mode == QUEUE_BACKOFF, "a delivery does not end it by default");
	queue_set_mode(q, QUEUE_NORMAL, "test");
	add(mgr, "d@deliv.test");
	if ((q = find_queue(mgr, "deliv.test")) == NULL)
		return;
	queue_set_mode(q, QUEUE_BACKOFF, "test");
	take_names(q, got, sizeof(got));
	queue_delivered(q);
	ok(q->mode == QUEUE_NORMAL, "backoff-to-normal-after-delivery yes: "
	    "a delivery ends backoff");
}

static int nmode_changes;
static char last_mode_reason[512];

static void
on_mode(struct queue *q, void *arg)
{
	nmode_changes++;
	snprintf(last_mode_reason, sizeof(last_mode_reason), "%s",
	    q->mode_reason);
}

/* A rule's backoff-to-normal-after= replaces the queue's (30m). */
static void
test_backoff_override(struct queue_mgr *mgr)
{
	struct queue *q = find_queue(mgr, "back.test");
	int before = nmode_changes;

	if (q == NULL)
		return;
	queue_set_mode_for(q, QUEUE_BACKOFF, "reply matched", 3);
	ok(q->mode == QUEUE_BACKOFF && q->mode_until == fake_mono + 3,
	    "backoff-to-normal-after=3s of a rule, not the queue's 30m");
	ok(nmode_changes == before + 1 &&
	    strcmp(last_mode_reason, "reply matched") == 0,
	    "the mode callback is told");
	advance(3);
	queue_mgr_run(mgr);
	ok(q->mode == QUEUE_NORMAL && nmode_changes == before + 2,
	    "normal 3 s later, and told again");
	queue_set_mode_for(q, QUEUE_BACKOFF, "never back", 0);
	ok(isinf(q->mode_until), "backoff-to-normal-after=never");
	queue_set_mode(q, QUEUE_NORMAL, "test");
}

static void
test_reroute(struct queue_mgr *mgr)
{
	struct queue *a, *b, *c, *la, *lb;
	struct queue_batch batch;
	unsigned long long size;

	add_vmta(mgr, "r1@reroute.test", "va");
	add_vmta(mgr, "r2@reroute.test", "va");
	a = find_queue_vmta(mgr, "reroute.test", "va");
	if (a == NULL || !queue_take(a, &batch))
		return;
	size = a->bytes;
	queue_set_mode(a, QUEUE_BACKOFF, "test");
	b = find_queue_vmta(mgr, "reroute.test", "vb");
	ok(b != NULL && queue_rcpts(a) == 0 && queue_rcpts(b) == 1 &&
	    b->bytes == size / 2, "backoff: the queued recipient moves to vb");
	if (b == NULL)
		return;
	queue_rcpt_retry(batch.rcpts[0]);
	queue_batch_release(&batch);
	ok(queue_rcpts(a) == 0 && queue_rcpts(b) == 2 && a->bytes == 0,
	    "and one deferred by a session of va goes there too");
	add_vmta(mgr, "r3@reroute.test", "va");
	ok(queue_rcpts(a) == 0 && queue_rcpts(b) == 3, "and new mail for va");
	queue_set_mode(b, QUEUE_BACKOFF, "test");
	c = find_queue_vmta(mgr, "reroute.test", "vc");
	ok(c != NULL && queue_rcpts(b) == 0 && queue_rcpts(c) == 3,
	    "vb in backoff too: on to vc (a chain)");
	add_vmta(mgr, "r4@reroute.test", "va");
	ok(c != NULL && queue_rcpts(c) == 4, "new mail for va follows the chain");
	queue_set_mode(a, QUEUE_NORMAL, "test");
	add_vmta(mgr, "r5@reroute.test", "va");
	ok(queue_rcpts(a) == 1, "va normal again: its new mail stays");
	queue_set_mode(b, QUEUE_NORMAL, "test");

	add_vmta(mgr, "u1@ret.test", "va");
	a = find_queue_vmta(mgr, "ret.test", "va");
	if (a != NULL && queue_take(a, &batch)) {
		queue_set_mode(a, QUEUE_BACKOFF, "test");
		nstarted = 0;
		queue_rcpt_return(batch.rcpts[0]);
		queue_batch_release(&batch);
		b = find_queue_vmta(mgr, "ret.test", "vb");
		ok(b != NULL && queue_rcpts(a) == 0 && queue_rcpts(b) == 1 &&
		    last_start() == b, "one given back untried goes to vb, "
		    "which is offered a session");
		queue_set_mode(a, QUEUE_NORMAL, "test");
	}

	add_vmta(mgr, "l1@loop.test", "va");
	add_vmta(mgr, "l2@loop.test", "vb");
	la = find_queue_vmta(mgr, "loop.test", "va");
	lb = find_queue_vmta(mgr, "loop.test", "vb");
	if (la == NULL || lb == NULL)
		return;
	queue_set_mode(lb, QUEUE_BACKOFF, "test");
	ok(queue_rcpts(la) == 2 && queue_rcpts(lb) == 0, "vb -> va");
	queue_set_mode(la, QUEUE_BACKOFF, "test");
	ok(queue_rcpts(la) == 2 && queue_rcpts(lb) == 0 && la->reroute_loop,
	    "va -> vb -> va is a loop: the recipients stay");
	add_vmta(mgr, "l3@loop.test", "vb");
	ok(queue_rcpts(lb) == 1, "and new mail for vb stays in vb");
	queue_set_mode(la, QUEUE_NORMAL, "test");
	queue_set_mode(lb, QUEUE_NORMAL, "test");
}

static void
test_sources_events(struct queue_mgr *mgr)
{
	struct queue *q = find_queue(mgr, "back.test");
	const struct queue_event *ev[QUEUE_EVENTS_MAX];
	char text[32];
	size_t n;

	if (q == NULL)
		return;
	ok(queue_source_disable(q, "10.0.0.1", 60) &&
	    !queue_source_disable(q, "10.0.0.1", 60) &&
	    queue_source_disable(q, "10.0.0.2", 0),
	    "disable two sources (once each)");
	ok(queue_source_disabled(q, "10.0.0.1") &&
	    !queue_source_disabled(q, "10.0.0.3") &&
	    queue_sources_disabled(q) == 2, "they are disabled");
	advance(60);
	ok(!queue_source_disabled(q, "10.0.0.1") &&
	    queue_source_disabled(q, "10.0.0.2") &&
	    queue_sources_disabled(q) == 1,
	    "enabled again after its reenable-after; never is never");
	for (int i = 0; i < QUEUE_EVENTS_MAX + 2; i++) {
		snprintf(text, sizeof(text), "error %d", i);
		queue_note_error(q, text);
	}
	n = queue_error_events(q, ev);
	ok(n == QUEUE_EVENTS_MAX && strcmp(ev[0]->text, "error 2") == 0 &&
	    strcmp(ev[n - 1]->text, "error 11") == 0 &&
	    strcmp(q->last_error, "error 11") == 0,
	    "the last ten error events, oldest first");
}

static void
test_interruption(struct queue_mgr *mgr)
{
	struct queue *low = find_queue(mgr, "low.test");
	struct queue *high = find_queue(mgr, "high.test");
	struct queue *no;
	char got[256];

	add(mgr, "n@nointr.test");
	no = find_queue(mgr, "nointr.test");
	if (low == NULL || high == NULL || no == NULL)
		return;
	take_names(no, got, sizeof(got));
	ok(queue_may_interrupt(low, high), "queue-priority 90 may close a 10");
	ok(!queue_may_interrupt(high, low), "not the other way round");
	ok(!queue_may_interrupt(low, low), "nor a queue its own");
	ok(!queue_may_interrupt(no, high),
	    "nor a queue with allow-priority-interruption no");
	ok(low->interruptible && !low->interrupt_transfer,
	    "defaults: interruptible, after the transfer");
}

int
main(void)
{
	char dir[] = "/tmp/tern-test-queue-XXXXXX", path[600], cmd[700];
	struct queue_clock clock = { clock_mono, clock_wall, NULL };
	struct conf_errors e;
	struct queue_mgr *mgr;
	struct spool *spool;
	struct model *m;
	const char *err;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/config", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "spool %s/spool\n"
	    "<domain retry.test>\n retry-after 1m,5m,30m\n</domain>\n"
	    "<domain newmail.test>\n retry-upon-new-mail yes\n</domain>\n"
	    "<domain expire.test>\n retry-recipients-after 2m\n bounce-after 1h\n</domain>\n"
	    "<domain rated.test>\n max-msg-rate 6/m\n</domain>\n"
	    "<domain many.test>\n max-smtp-out 3\n</domain>\n"
	    "<domain fail.test>\n retry-after 1m\n</domain>\n"
	    "<domain fastrate.test>\n max-msg-rate 2/s\n max-smtp-out 4\n</domain>\n"
	    "<domain low.test>\n queue-priority 10\n</domain>\n"
	    "<domain high.test>\n queue-priority 90\n</domain>\n"
	    "<domain back.test>\n max-smtp-out 5\n max-msg-rate 60/m\n"
	    " retry-after 5m\n backoff-max-smtp-out 1\n"
	    " backoff-max-msg-rate 6/m\n backoff-retry-after 2h\n"
	    " backoff-to-normal-after 30m\n</domain>\n"
	    "<domain deliv.test>\n backoff-to-normal-after-delivery yes\n</domain>\n"
	    "<domain nointr.test>\n queue-priority 10\n"
	    " allow-priority-interruption no\n</domain>\n"
	    "<virtual-mta va>\n<domain *>\n"
	    " backoff-reroute-to-virtual-mta vb\n</domain>\n</virtual-mta>\n"
	    "<virtual-mta vb>\n<domain reroute.test>\n"
	    " backoff-reroute-to-virtual-mta vc\n</domain>\n"
	    "<domain loop.test>\n backoff-reroute-to-virtual-mta va\n"
	    "</domain>\n</virtual-mta>\n"
	    "<virtual-mta vc>\n<domain *>\n"
	    " backoff-reroute-to-virtual-mta vc\n</domain>\n</virtual-mta>\n",
	    dir);
	fclose(f);
	conf_errors_init(&e);
	m = model_load(path, &e);
	ok(m != NULL, "the test config loads");
	if (m == NULL) {
		diag("%s", buf_str(&e.text));
		return done_testing();
	}
	spool = spool_open(m->spool_dir, &err);
	test_spool = spool;
	mgr = queue_mgr_new(NULL, spool, &m, &clock, on_start, NULL);
	queue_mgr_set_expire(mgr, on_expire, NULL);
	queue_mgr_set_mode_cb(mgr, on_mode, NULL);
	test_retry_series(mgr);
	test_expiry(mgr);
	test_rate(mgr);
	test_pause_order(mgr);
	test_sessions(mgr);
	test_idle(mgr);
	test_priority(mgr);
	test_rcpt_priority(mgr);
	test_set_priority(mgr);
	test_backoff(mgr);
	test_backoff_defaults(mgr);
	test_backoff_override(mgr);
	test_reroute(mgr);
	test_sources_events(mgr);
	test_interruption(mgr);
	queue_mgr_free(mgr);
	spool_close(spool);
	model_unref(m);
	conf_errors_free(&e);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
