/*
 * cold: cold-virtual-mta warm-up counters (see cold.h).
 *
 * The counters are in a hash table keyed by (cold VMTA, domain), names
 * compared without case.  A counter whose day is not today counts 0; it
 * is brought to today when it is next used.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "queue/cold.h"

#define COLD_MAGIC		0x636f6c64u
#define COLD_BUCKETS		4096
#define COLD_NAME_MAX		255
#define COLD_LINE_MAX		1024
#define COLD_ENTRIES_MAX	1000000		/* counters kept at most */
#define COLD_DAY_MAX		10000000L	/* far beyond any real date */
#define COLD_SAVE_DELAY		1.0		/* seconds after a change */
#define COLD_HEADER		"TERN-COLD 1"

struct cold_entry {
	struct cold_entry	*next;
	char			*vmta;
	char			*domain;
	long			 first;		/* warm-up day 1 */
	long			 day;		/* the day `count` is for */
	long long		 count;
};

/* Where the round-robin over a warm VMTA's cold VMTAs stands. */
struct cold_rr {
	struct cold_rr		*next;
	char			*warm;
	size_t			 pos;
};

struct cold {
	unsigned		 magic;
	char			*path;
	struct cold_clock	 clock;
	struct cold_entry	*buckets[COLD_BUCKETS];
	size_t			 nentries;
	struct cold_rr		*rr;
	bool			 dirty;
	struct ev_loop		*loop;
	ev_timer		 timer;
};

OBJ_DEFINE_CAST(cold)

long
cold_day(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	/* the local date at noon, read as UTC: whole days since the epoch */
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = 0;
	return (long)(timegm(&tm) / 86400);
}

static long
cold_today(const struct cold *c)
{
	return cold_day(c->clock.now != NULL ? c->clock.now(c->clock.arg) :
	    time(NULL));
}

static unsigned
cold_hash(const char *vmta, const char *domain)
{
	unsigned h = 2166136261u;

	for (const char *p = vmta; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
	h = (h ^ ' ') * 16777619u;
	for (const char *p = domain; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
	return h % COLD_BUCKETS;
}

/* The counter of (vmta, domain); with create, a new one first used today
 * (NULL when the table is full). */
static struct cold_entry *
cold_get(struct cold *c, const char *vmta, const char *domain, bool create,
    long today)
{
	unsigned h = cold_hash(vmta, domain);
	struct cold_entry *e;

	for (e = c->buckets[h]; e != NULL; e = e->next)
		if (strcasecmp(e->vmta, vmta) == 0 &&
		    strcasecmp(e->domain, domain) == 0)
			return e;
	if (!create || c->nentries >= COLD_ENTRIES_MAX)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->vmta = xstrdup(vmta);
	e->domain = xstrdup(domain);
	e->first = e->day = today;
	e->next = c->buckets[h];
	c->buckets[h] = e;
	c->nentries++;
	return e;
}

static void
cold_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)cold_save(OBJ_CAST(cold, w->data, COLD_MAGIC));
}

static void
cold_changed(struct cold *c)
{
	c->dirty = true;
	if (c->loop != NULL && !ev_is_active(&c->timer)) {
		ev_timer_set(&c->timer, COLD_SAVE_DELAY, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
}

/* One "vmta domain first day count" line; 0, or -1 if it is not one. */
static int
cold_parse_line(struct cold *c, char *line)
{
	char *w[6], *save = NULL;
	const char *errstr = NULL;
	long long first, day, count;
	struct cold_entry *e;
	int n = 0;

	for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && n < 6;
	    t = strtok_r(NULL, " \t\r\n", &save))
		w[n++] = t;
	if (n != 5 || strlen(w[0]) > COLD_NAME_MAX ||
	    strlen(w[1]) > COLD_NAME_MAX)
		return -1;
	first = strtonum(w[2], 0, COLD_DAY_MAX, &errstr);
	if (errstr == NULL)
		day = strtonum(w[3], first, COLD_DAY_MAX, &errstr);
	if (errstr == NULL)
		count = strtonum(w[4], 0, LLONG_MAX / 2, &errstr);
	if (errstr != NULL ||
	    (e = cold_get(c, w[0], w[1], true, 0)) == NULL)
		return -1;
	e->first = (long)first;
	e->day = (long)day;
	e->count = count;
	return 0;
}

/* Read one line into line[0..size); a longer one is skipped whole and
 * reported as bad (-1).  1 at the end of the file. */
static int
cold_read_line(FILE *f, char *line, size_t size)
{
	int ch;

	if (fgets(line, (int)size, f) == NULL)
		return 1;
	if (strchr(line, '\n') != NULL || feof(f))
		return 0;
	while ((ch = getc(f)) != EOF && ch != '\n')
		;
	return -1;
}

static void
cold_load(struct cold *c)
{
	char line[COLD_LINE_MAX];
	int r, n = 0, bad = 0, first_bad = 0;
	FILE *f;

	if ((f = fopen(c->path, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("cold-virtual-mta counters %s: cannot read; "
			    "counting from zero", c->path);
		return;
	}
	if (cold_read_line(f, line, sizeof(line)) != 0 ||
	    strncmp(line, COLD_HEADER, strlen(COLD_HEADER)) != 0 ||
	    strspn(line + strlen(COLD_HEADER), "\r\n") !=
	    strlen(line + strlen(COLD_HEADER))) {
		log_warnx("cold-virtual-mta counters %s: not a counters file "
		    "(format %s); counting from zero", c->path, COLD_HEADER);
		fclose(f);
		return;
	}
	for (n = 2; (r = cold_read_line(f, line, sizeof(line))) != 1; n++)
		if ((r == -1 || cold_parse_line(c, line) == -1) && bad++ == 0)
			first_bad = n;
	if (ferror(f))
		log_warn("cold-virtual-mta counters %s: read error", c->path);
	fclose(f);
	if (bad > 0)
		log_warnx("cold-virtual-mta counters %s: %d unreadable line(s), "
		    "the first at line %d; those counters start from zero",
		    c->path, bad, first_bad);
}

struct cold *
cold_open(const char *path, const struct cold_clock *clock)
{
	struct cold *c = xcalloc(1, sizeof(*c));

	OBJ_INIT(c, COLD_MAGIC);
	c->path = xstrdup(path);
	if (clock != NULL)
		c->clock = *clock;
	ev_timer_init(&c->timer, cold_on_timer, COLD_SAVE_DELAY, 0.);
	c->timer.data = c;
	cold_load(c);
	return c;
}

void
cold_attach(struct cold *c, struct ev_loop *loop)
{
	c->loop = loop;
	if (c->dirty)
		cold_changed(c);
}

static int
cold_write(const struct cold *c, FILE *f)
{
	if (fprintf(f, "%s\n", COLD_HEADER) < 0)
		return -1;
	for (size_t i = 0; i < COLD_BUCKETS; i++)
		for (const struct cold_entry *e = c->buckets[i]; e != NULL;
		    e = e->next)
			if (fprintf(f, "%s %s %ld %ld %lld\n", e->vmta, e->domain,
			    e->first, e->day, e->count) < 0)
				return -1;
	return fflush(f) == EOF || ferror(f) ? -1 : 0;
}

int
cold_save(struct cold *c)
{
	char tmp[PATH_MAX];
	FILE *f;
	int r, n;

	if (!c->dirty)
		return 0;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", c->path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		log_warn("cold-virtual-mta counters %s", c->path);
		return -1;
	}
	if ((f = fopen(tmp, "we")) == NULL) {
		log_warn("cold-virtual-mta counters %s", tmp);
		return -1;
	}
	r = cold_write(c, f);
	if (fclose(f) == EOF)
		r = -1;
	if (r == 0 && rename(tmp, c->path) == -1)
		r = -1;
	if (r == -1) {
		log_warn("cold-virtual-mta counters %s: cannot save", c->path);
		(void)unlink(tmp);
		return -1;
	}
	c->dirty = false;
	return 0;
}

void
cold_free(struct cold *c)
{
	if (c == NULL)
		return;
	OBJ_CHECK(c, COLD_MAGIC);
	if (c->loop != NULL)
		ev_timer_stop(c->loop, &c->timer);
	for (size_t i = 0; i < COLD_BUCKETS; i++)
		while (c->buckets[i] != NULL) {
			struct cold_entry *e = c->buckets[i];
			c->buckets[i] = e->next;
			free(e->vmta);
			free(e->domain);
			free(e);
		}
	while (c->rr != NULL) {
		struct cold_rr *rr = c->rr;
		c->rr = rr->next;
		free(rr->warm);
		free(rr);
	}
	free(c->path);
	OBJ_WIPE(c);
	free(c);
}

/* Take one of today's places of (vmta, domain); false when full. */
static bool
cold_take(struct cold *c, const char *vmta, const char *domain,
    const long long *limits, size_t nlimits, long today)
{
	size_t before = c->nentries;
	struct cold_entry *e = cold_get(c, vmta, domain, true, today);
	long idx;

	if (e == NULL)
		return false;
	if (c->nentries != before)	/* day 1 of its warm-up: keep it */
		cold_changed(c);
	if (e->day != today) {
		e->day = today;
		e->count = 0;
		cold_changed(c);
	}
	idx = today - e->first;
	if (idx < 0)		/* the clock went back before day 1 */
		idx = 0;
	if ((size_t)idx >= nlimits)
		idx = (long)nlimits - 1;
	if (e->count >= limits[idx])
		return false;
	e->count++;
	cold_changed(c);
	return true;
}

static struct cold_rr *
cold_rr_get(struct cold *c, const char *warm)
{
	struct cold_rr *rr;

	for (rr = c->rr; rr != NULL; rr = rr->next)
		if (strcasecmp(rr->warm, warm) == 0)
			return rr;
	rr = xcalloc(1, sizeof(*rr));
	rr->warm = xstrdup(warm);
	rr->next = c->rr;
	c->rr = rr;
	return rr;
}

const char *
cold_pick(struct cold *c, const char *warm, char *const *colds,
    size_t ncolds, const char *domain, const long long *limits,
    size_t nlimits)
{
	struct cold_rr *rr;
	long today;

	if (ncolds == 0 || nlimits == 0)
		return NULL;
	rr = cold_rr_get(c, warm);
	today = cold_today(c);
	for (size_t k = 0; k < ncolds; k++) {
		size_t i = (rr->pos + k) % ncolds;

		if (cold_take(c, colds[i], domain, limits, nlimits, today)) {
			rr->pos = i + 1;
			return colds[i];
		}
	}
	return NULL;
}

void
cold_unpick(struct cold *c, const char *vmta, const char *domain)
{
	long today = cold_today(c);
	struct cold_entry *e = cold_get(c, vmta, domain, false, today);

	if (e != NULL && e->day == today && e->count > 0) {
		e->count--;
		cold_changed(c);
	}
}

long long
cold_count(struct cold *c, const char *vmta, const char *domain)
{
	long today = cold_today(c);
	const struct cold_entry *e = cold_get(c, vmta, domain, false, today);

	return e != NULL && e->day == today ? e->count : 0;
}
