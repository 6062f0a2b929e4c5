/*
 * Fake-clock tests for the queue manager: the retry-after series (the
 * last interval repeats, a delivery starts it over), recipient holds,
 * bounce-after expiry, smooth max-msg-rate, pause/resume, oldest first,
 * queue-priority for a free global slot.
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

static void
on_start(struct queue *q, void *arg)
{
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

static void
add(struct queue_mgr *mgr, const char *rcpt)
{
	static int seq;
	struct spool_envelope env;
	char *rcpts[1] = { (char *)rcpt };

	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "t%d", ++seq);
	env.queued = fake_wall;
	env.orig = "a@b";
	env.srcmta = "x (127.0.0.1)";
	env.rcpts = rcpts;
	env.nrcpts = 1;
	queue_add(mgr, &env, NULL);
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
	if (nstarted != 1)
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
	is_int(nstarted, 2, "resume starts one");
	if (queue_take(q, &b)) {
		is_str(b.msg->env.rcpts[0], "first@order.test", "oldest first");
		queue_rcpt_finished(b.rcpts[0]);
		queue_batch_release(&b);
	}
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
	    "<domain expire.test>\n retry-recipients-after 2m\n bounce-after 1h\n</domain>\n"
	    "<domain rated.test>\n max-msg-rate 6/m\n</domain>\n"
	    "<domain low.test>\n queue-priority 10\n</domain>\n"
	    "<domain high.test>\n queue-priority 90\n</domain>\n", dir);
	fclose(f);
	conf_errors_init(&e);
	m = model_load(path, &e);
	ok(m != NULL, "the test config loads");
	if (m == NULL) {
		diag("%s", buf_str(&e.text));
		return done_testing();
	}
	spool = spool_open(m->spool_dir, &err);
	mgr = queue_mgr_new(NULL, spool, &m, &clock, on_start, NULL);
	queue_mgr_set_expire(mgr, on_expire, NULL);
	test_retry_series(mgr);
	test_expiry(mgr);
	test_rate(mgr);
	test_pause_order(mgr);
	test_priority(mgr);
	queue_mgr_free(mgr);
	spool_close(spool);
	model_unref(m);
	conf_errors_free(&e);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
