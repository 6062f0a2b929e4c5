/*
 * meter: traffic counters as `show status` reports them: the total, the
 * last minute and the last hour, and the busiest minute and hour seen
 * (pmta-interfaces §2.3).  One-minute buckets over the last hour; pure,
 * the caller passes the time.
 */
#ifndef TERN_LIB_METER_H
#define TERN_LIB_METER_H

#include <time.h>

struct meter_count {
	unsigned long long	rcpts, msgs, bytes;
};

struct meter {
	struct meter_count	total;
	struct meter_count	minute[60];	/* by minute of the hour */
	time_t			last;		/* the minute of the last add */
	struct meter_count	top_min, top_hour;
};

void	meter_add(struct meter *m, time_t now, unsigned long long rcpts,
	    unsigned long long msgs, unsigned long long bytes);
/* The minute in progress. */
struct meter_count meter_last_minute(const struct meter *m, time_t now);
/* The 60 minutes up to now. */
struct meter_count meter_last_hour(const struct meter *m, time_t now);
/* Busiest minute and hour so far (including the ones in progress). */
struct meter_count meter_top_minute(const struct meter *m, time_t now);
struct meter_count meter_top_hour(const struct meter *m, time_t now);

#endif
