/*
 * cold: the daily counters of cold-virtual-mta warm-up (pmta-reference
 * §3.2 "Cold VMTA").  One counter per (cold VirtualMTA, recipient
 * domain): how many recipients it took today, and the day it was first
 * used (warm-up day 1).  A day's limit is entry (today - first day) of
 * the max-cold-virtual-mta-msg list, the last entry repeating.  Days are
 * calendar days in local time (they change at local midnight).
 *
 * The counters live in memory and in one small file, rewritten whole
 * (tmp file, then rename) at most once a second after a change and by
 * cold_save() at shutdown: a crash loses at most the last second's
 * counts.  A file that cannot be read, or a line of it, is logged and
 * skipped; those counters start again from zero.
 *
 * File format 1 (text, one counter a line; days are numbers of days
 * since 1970-01-01):
 *	TERN-COLD 1
 *	<cold vmta> <domain> <first day> <day> <count>
 */
#ifndef TERN_QUEUE_COLD_H
#define TERN_QUEUE_COLD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <ev.h>

#define COLD_FILE	"cold-counters"	/* in the spool directory */

struct cold;

/* The wall clock; NULL in cold_open() means time(). */
struct cold_clock {
	time_t	(*now)(void *arg);
	void	*arg;
};

/* Load the counters of the file at path (missing: none yet).  Never NULL. */
struct cold	*cold_open(const char *path, const struct cold_clock *clock);
/* With a loop, changed counters are saved at most once a second. */
void	cold_attach(struct cold *c, struct ev_loop *loop);
/* Write the counters now if they changed.  0, or -1 with errno (logged). */
int	cold_save(struct cold *c);
/* Free (without saving); NULL is fine. */
void	cold_free(struct cold *c);

/*
 * One recipient for `domain` selected the VirtualMTA or pool `warm`, whose
 * cold VirtualMTAs are colds[0..ncolds): starting where warm's
 * round-robin stands, the first cold VirtualMTA whose counter for the
 * domain has room today under limits[0..nlimits) takes it (its counter
 * goes up).  Returns that name (one of colds), or NULL when all are full.
 */
const char *cold_pick(struct cold *c, const char *warm,
	    char *const *colds, size_t ncolds, const char *domain,
	    const long long *limits, size_t nlimits);
/* Give back one of today's places of (vmta, domain) taken by cold_pick()
 * (the message was not accepted after all). */
void	cold_unpick(struct cold *c, const char *vmta, const char *domain);
/* Today's count of (vmta, domain); 0 when it has none. */
long long cold_count(struct cold *c, const char *vmta, const char *domain);
/* The local calendar day of t, as days since 1970-01-01. */
long	cold_day(time_t t);

#endif
