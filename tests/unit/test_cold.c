/*
 * Unit tests for queue/cold: cold-virtual-mta warm-up counters with an
 * injected clock: local calendar days, the daily list (one entry per
 * warm-up day, the last repeating), round-robin over several cold
 * VirtualMTAs, giving a place back, the file round-trip, a corrupt file
 * tolerated with a log line, and the delayed save on a libev loop.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "queue/cold.h"
#include "tap.h"

static char dir[] = "/tmp/tern-test-cold-XXXXXX";
static time_t fake_now;

static time_t
fake_clock(void *arg)
{
	return fake_now;
}

static const struct cold_clock clock_fake = { fake_clock, NULL };

static const char *
path_of(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void
write_file(const char *name, const char *text)
{
	FILE *f = fopen(path_of(name), "w");

	if (f == NULL || fputs(text, f) == EOF)
		abort();
	fclose(f);
}

/* The whole of a small file ("" if missing). */
static const char *
read_file(const char *name)
{
	static char text[8192];
	FILE *f = fopen(path_of(name), "r");
	size_t n = 0;

	text[0] = '\0';
	if (f != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

/* How many of n recipients of one domain go cold through one VMTA. */
static int
take(struct cold *c, const char *domain, const long long *lim, size_t nlim,
    int n)
{
	char *colds[] = { "cold1" };
	int got = 0;

	for (int i = 0; i < n; i++)
		got += cold_pick(c, "warm", colds, 1, domain, lim, nlim) != NULL;
	return got;
}

static void
test_days(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	is_int(cold_day(0), 0, "day 0 starts at the epoch (UTC)");
	is_int(cold_day(86399), 0, "and ends a second before midnight");
	is_int(cold_day(86400), 1, "midnight starts day 1");
	setenv("TZ", "EET-2", 1);	/* local time is UTC+2 */
	tzset();
	is_int(cold_day(86400 - 7200 - 1), 0, "UTC+2: 21:59:59 UTC is still day 0");
	is_int(cold_day(86400 - 7200), 1, "UTC+2: local midnight (22:00 UTC) is day 1");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
test_warmup(void)
{
	static const long long lim[] = { 2, 4, 1 };
	struct cold *c;

	fake_now = 1000 * 86400 + 3600;
	c = cold_open(path_of("warmup"), &clock_fake);
	is_int(take(c, "a.test", lim, 3, 5), 2, "day 1: 2 of 5 go cold");
	is_int(cold_count(c, "cold1", "a.test"), 2, "day 1: the count is 2");
	is_int(take(c, "b.test", lim, 3, 1), 1, "another domain has its own counter");
	fake_now += 86400 - 3600 - 1;	/* 23:59:59 of day 1 */
	is_int(take(c, "a.test", lim, 3, 1), 0, "still day 1 at 23:59:59");
	fake_now += 1;
	is_int(cold_count(c, "cold1", "a.test"), 0, "midnight: today's count is 0");
	is_int(take(c, "a.test", lim, 3, 9), 4, "day 2: the second entry, 4");
	fake_now += 86400;
	is_int(take(c, "a.test", lim, 3, 9), 1, "day 3: the third entry, 1");
	fake_now += 86400;
	is_int(take(c, "a.test", lim, 3, 9), 1, "day 4: the last entry repeats");
	fake_now += 30 * 86400;
	is_int(take(c, "a.test", lim, 3, 9), 1, "day 34: still the last entry");
	is_int(take(c, "b.test", lim, 3, 9), 1, "b.test, first used on day 1, is past its list too");
	is_int(take(c, "new.test", lim, 3, 9), 2, "a domain first used today starts at day 1");
	cold_unpick(c, "cold1", "new.test");
	is_int(cold_count(c, "cold1", "new.test"), 1, "unpick gives one place back");
	is_int(take(c, "new.test", lim, 3, 9), 1, "which can be taken again");
	cold_free(c);
}

static void
test_round_robin(void)
{
	static const long long lim[] = { 2 };
	char *colds[] = { "c1", "c2" };
	const char *got[6];
	struct cold *c;

	fake_now = 2000 * 86400;
	c = cold_open(path_of("rr"), &clock_fake);
	for (int i = 0; i < 6; i++)
		got[i] = cold_pick(c, "warm", colds, 2, "d.test", lim, 1);
	ok(got[0] && got[1] && got[2] && got[3] && !strcmp(got[0], "c1") &&
	    !strcmp(got[1], "c2") && !strcmp(got[2], "c1") &&
	    !strcmp(got[3], "c2"), "two cold VMTAs take turns");
	ok(got[4] == NULL && got[5] == NULL, "each has its own counter of 2");
	is_int(cold_count(c, "C1", "D.TEST"), 2, "names are compared without case");
	cold_free(c);
}

static void
test_persistence(void)
{
	static const long long lim[] = { 3, 5 };
	struct cold *c;

	fake_now = 3000 * 86400 + 600;
	unlink(path_of("counters"));
	c = cold_open(path_of("counters"), &clock_fake);
	is_int(cold_save(c), 0, "nothing changed: save is a no-op");
	ok(access(path_of("counters"), F_OK) == -1, "and writes no file");
	is_int(take(c, "p.test", lim, 2, 2), 2, "2 taken");
	is_int(cold_save(c), 0, "saved");
	cold_free(c);
	ok(strstr(read_file("counters"), "TERN-COLD 1\ncold1 p.test 3000 3000 2\n") != NULL,
	    "the file: header, then vmta domain first day count");
	ok(access(path_of("counters.tmp"), F_OK) == -1, "no tmp file is left");

	c = cold_open(path_of("counters"), &clock_fake);
	is_int(cold_count(c, "cold1", "p.test"), 2, "reopened: the count is back");
	is_int(take(c, "p.test", lim, 2, 5), 1, "and only the rest of today's 3 is left");
	fake_now += 86400;
	is_int(take(c, "p.test", lim, 2, 9), 5, "the warm-up day survives: day 2 gives 5");
	is_int(cold_save(c), 0, "saved again");
	cold_free(c);
	ok(strstr(read_file("counters"), "cold1 p.test 3000 3001 5\n") != NULL,
	    "the file follows the day");
}

/* A corrupt file is tolerated: logged, and its counters start again. */
static void
test_corrupt(void)
{
	static const long long lim[] = { 2 };
	char longline[3000];
	struct cold *c;

	fake_now = 4000 * 86400;
	log_open(path_of("log"), false);
	write_file("bad1", "garbage\x01\x02\nmore\n");
	c = cold_open(path_of("bad1"), &clock_fake);
	ok(strstr(read_file("log"), "not a counters file") != NULL,
	    "a file without the header: a log line");
	is_int(take(c, "x.test", lim, 1, 5), 2, "and the counters start from zero");
	cold_free(c);

	memset(longline, 'x', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	write_file("bad2", "TERN-COLD 1\n"
	    "cold1 ok.test 4000 4000 1\n"
	    "cold1 bad.test 4000 notanumber 1\n"
	    "cold1 short.test 4000\n");
	{
		FILE *f = fopen(path_of("bad2"), "a");
		if (f == NULL || fputs(longline, f) == EOF)
			abort();
		fputs("cold1 after.test 4000 4000 2\ncold1 back.test 4001 4000 1\n", f);
		fclose(f);
	}
	c = cold_open(path_of("bad2"), &clock_fake);
	ok(strstr(read_file("log"), "4 unreadable line(s), the first at line 3") != NULL,
	    "bad lines (bad number, too few words, too long, day before day 1): one log line");
	is_int(cold_count(c, "cold1", "ok.test"), 1, "a good line before them is kept");
	is_int(cold_count(c, "cold1", "after.test"), 2, "a good line after them too");
	is_int(cold_count(c, "cold1", "bad.test"), 0, "a bad line's counter starts at 0");
	cold_free(c);

	write_file("empty", "");
	c = cold_open(path_of("empty"), &clock_fake);
	is_int(take(c, "x.test", lim, 1, 5), 2, "an empty file: counters from zero");
	cold_free(c);
	log_close();
	log_init(LOG_LEVEL_WARN);
}

/* On a loop, a change is saved about a second later, not at once. */
static void
test_delayed_save(void)
{
	static const long long lim[] = { 9 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cold *c;
	ev_tstamp t0;

	fake_now = 5000 * 86400;
	unlink(path_of("timed"));
	c = cold_open(path_of("timed"), &clock_fake);
	cold_attach(c, loop);
	is_int(take(c, "t.test", lim, 1, 3), 3, "3 taken on a loop");
	ok(access(path_of("timed"), F_OK) == -1, "not written at once");
	ev_now_update(loop);
	t0 = ev_now(loop);
	ev_run(loop, 0);	/* returns once the save timer is done */
	ev_now_update(loop);
	ok(ev_now(loop) - t0 >= 0.9, "the save waited about a second (%.2fs)",
	    ev_now(loop) - t0);
	ok(strstr(read_file("timed"), "cold1 t.test 5000 5000 3\n") != NULL,
	    "then the file was written");
	cold_free(c);
	ev_loop_destroy(loop);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	log_init(LOG_LEVEL_WARN);
	test_days();
	test_warmup();
	test_round_robin();
	test_persistence();
	test_corrupt();
	test_delayed_save();
	for (const char *const *f = (const char *const[]){ "warmup", "rr",
	    "counters", "bad1", "bad2", "empty", "timed", "log", NULL };
	    *f != NULL; f++)
		unlink(path_of(*f));
	rmdir(dir);
	return done_testing();
}
