/*
 * meter: rolling traffic counters (see meter.h).
 */
#include "config.h"

#include <string.h>

#include "lib/meter.h"

/* Clear the buckets of the minutes that passed since the last add. */
static void
meter_advance(struct meter *m, time_t now)
{
	time_t cur = now / 60, last = m->last / 60;

	if (m->last == 0 || cur - last >= 60)
		memset(m->minute, 0, sizeof(m->minute));
	else
		for (time_t t = last + 1; t <= cur; t++)
			memset(&m->minute[t % 60], 0, sizeof(m->minute[0]));
	m->last = now;
}

static void
meter_max(struct meter_count *top, const struct meter_count *c)
{
	if (c->rcpts > top->rcpts)
		*top = *c;
}

void
meter_add(struct meter *m, time_t now, unsigned long long rcpts,
    unsigned long long msgs, unsigned long long bytes)
{
	struct meter_count *b, hour;

	if (now / 60 != m->last / 60)
		meter_advance(m, now);
	m->last = now;
	b = &m->minute[(now / 60) % 60];
	b->rcpts += rcpts;
	b->msgs += msgs;
	b->bytes += bytes;
	m->total.rcpts += rcpts;
	m->total.msgs += msgs;
	m->total.bytes += bytes;
	meter_max(&m->top_min, b);
	hour = meter_last_hour(m, now);
	meter_max(&m->top_hour, &hour);
}

static struct meter_count
meter_sum(const struct meter *m, time_t now, int minutes)
{
	struct meter_count c = { 0, 0, 0 };
	time_t cur = now / 60, last = m->last / 60;

	for (int i = 0; i < minutes; i++) {
		time_t t = cur - i;
		const struct meter_count *b = &m->minute[t % 60];

		if (t > last || last - t >= 60)
			continue;	/* nothing added in that minute */
		c.rcpts += b->rcpts;
		c.msgs += b->msgs;
		c.bytes += b->bytes;
	}
	return c;
}

struct meter_count
meter_last_minute(const struct meter *m, time_t now)
{
	return meter_sum(m, now, 1);
}

struct meter_count
meter_last_hour(const struct meter *m, time_t now)
{
	return meter_sum(m, now, 60);
}

struct meter_count
meter_top_minute(const struct meter *m, time_t now)
{
	return m->top_min;
}

struct meter_count
meter_top_hour(const struct meter *m, time_t now)
{
	return m->top_hour;
}
