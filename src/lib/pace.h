/*
 * pace: a smooth rate limit, "count per `per` seconds" taken as one event
 * every per/count seconds (so no window of `per` seconds ever holds more
 * than `count`, and there is no burst after a quiet spell), and the
 * events of the last `per` seconds counted for display.  Pure: the
 * caller passes the time.
 */
#ifndef TERN_LIB_PACE_H
#define TERN_LIB_PACE_H

#include <stdbool.h>
#include <stddef.h>

#define PACE_RING_MAX	1024	/* events remembered for pace_used() */

struct pace {
	double		 interval;	/* per / count; 0: unlimited */
	double		 per;		/* the rate's period, seconds */
	long long	 count;
	double		 next_ok;	/* earliest next event */
	double		*ring;		/* last event times, once needed */
	size_t		 nring, pos;
};

/* (Re)configure: count per `per` seconds; count <= 0 means unlimited.
 * A faster rate than before applies at once. */
void	pace_set(struct pace *p, long long count, double per, double now);
/* May an event happen now? */
bool	pace_ready(const struct pace *p, double now);
/* An event happened now. */
void	pace_take(struct pace *p, double now);
/* Events in the last `per` seconds (at most PACE_RING_MAX). */
size_t	pace_used(const struct pace *p, double now);
void	pace_free(struct pace *p);

#endif
