/*
 * Unit tests for lib/pace: one event per interval, no burst after a
 * quiet spell, the count of the last period, a faster rate at once.
 */
#include "config.h"

#include <string.h>

#include "lib/pace.h"
#include "tap.h"

int
main(void)
{
	struct pace p;
	double t = 100.;
	int n = 0;

	memset(&p, 0, sizeof(p));
	pace_set(&p, 0, 1, t);
	ok(pace_ready(&p, t), "unlimited: always ready");
	pace_take(&p, t);
	is_int((long long)pace_used(&p, t), 0, "unlimited: nothing counted");

	pace_set(&p, 5, 1, t);			/* 5/s: one every 0.2 s */
	ok(pace_ready(&p, t), "5/s: ready at first");
	pace_take(&p, t);
	ok(!pace_ready(&p, t + 0.1), "not 0.1 s later");
	ok(pace_ready(&p, t + 0.2), "0.2 s later");
	/* greedy for 10 s of 1 ms steps: at most 5 in any second */
	for (double x = t + 0.2; x < t + 10.2; x += 0.001)
		if (pace_ready(&p, x)) {
			pace_take(&p, x);
			n++;
		}
	ok(n >= 49 && n <= 51, "about 50 events in 10 s (%d)", n);
	is_int((long long)pace_used(&p, t + 10.2), 5, "5 in the last second");
	ok(pace_ready(&p, t + 100), "after a quiet spell: ready");
	pace_take(&p, t + 100);
	ok(!pace_ready(&p, t + 100.05), "but no burst");
	is_int((long long)pace_used(&p, t + 100.05), 1, "one in the last second");

	pace_set(&p, 1, 60, t + 200);		/* 1/m */
	pace_take(&p, t + 200);
	ok(!pace_ready(&p, t + 230), "1/m: not after 30 s");
	pace_set(&p, 10, 1, t + 230);		/* faster: at once */
	ok(pace_ready(&p, t + 230), "a faster rate applies at once");
	pace_set(&p, 0, 0, t + 230);
	ok(pace_ready(&p, t + 230), "unlimited again");
	pace_free(&p);
	return done_testing();
}
