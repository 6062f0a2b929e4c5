/*
 * pace: smooth rate limits (see pace.h).
 */
#include "config.h"

#include <stdlib.h>

#include "lib/pace.h"
#include "lib/xmalloc.h"

void
pace_set(struct pace *p, long long count, double per, double now)
{
	double old = p->interval;

	p->count = count > 0 && per > 0 ? count : 0;
	p->per = p->count > 0 ? per : 0;
	p->interval = p->count > 0 ? per / (double)count : 0;
	if (p->interval == 0 || (old > 0 && p->interval < old &&
	    p->next_ok > now))
		p->next_ok = now;	/* a faster rate applies at once */
}

bool
pace_ready(const struct pace *p, double now)
{
	return p->interval <= 0 || now >= p->next_ok;
}

void
pace_take(struct pace *p, double now)
{
	size_t cap;

	if (p->interval <= 0)
		return;
	p->next_ok = now + p->interval;
	cap = p->count < PACE_RING_MAX ? (size_t)p->count : PACE_RING_MAX;
	if (p->ring == NULL || p->nring != cap) {
		free(p->ring);
		p->ring = xcalloc(cap, sizeof(*p->ring));
		p->nring = cap;
		p->pos = 0;
		for (size_t i = 0; i < cap; i++)
			p->ring[i] = -1e300;
	}
	p->ring[p->pos++ % p->nring] = now;
}

size_t
pace_used(const struct pace *p, double now)
{
	size_t n = 0;

	for (size_t i = 0; p->ring != NULL && i < p->nring; i++)
		n += p->ring[i] > now - p->per;
	return n;
}

void
pace_free(struct pace *p)
{
	free(p->ring);
	p->ring = NULL;
	p->nring = 0;
}
