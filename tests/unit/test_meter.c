/*
 * Unit tests for lib/meter: totals, the minute and hour windows as time
 * passes, the busiest minute and hour.
 */
#include "config.h"

#include <string.h>

#include "lib/meter.h"
#include "tap.h"

int
main(void)
{
	struct meter m;
	time_t t0 = 1700000000 - 1700000000 % 3600;	/* on an hour */

	memset(&m, 0, sizeof(m));
	meter_add(&m, t0 + 5, 3, 1, 1000);
	meter_add(&m, t0 + 30, 2, 1, 500);
	is_int((long long)m.total.rcpts, 5, "total recipients");
	is_int((long long)meter_last_minute(&m, t0 + 40).rcpts, 5, "this minute");
	meter_add(&m, t0 + 65, 1, 1, 10);
	is_int((long long)meter_last_minute(&m, t0 + 70).rcpts, 1,
	    "a new minute starts empty");
	is_int((long long)meter_last_hour(&m, t0 + 70).rcpts, 6, "the hour has both");
	is_int((long long)meter_top_minute(&m, t0 + 70).rcpts, 5, "the busiest minute");
	is_int((long long)meter_last_hour(&m, t0 + 30 * 60).rcpts, 6,
	    "half an hour later the hour still counts them");
	is_int((long long)meter_last_minute(&m, t0 + 30 * 60).rcpts, 0,
	    "but not the minute");
	is_int((long long)meter_last_hour(&m, t0 + 3600 + 30).rcpts, 1,
	    "an hour later the first minute has left the window");
	meter_add(&m, t0 + 3 * 3600, 2, 1, 1);
	is_int((long long)meter_last_hour(&m, t0 + 3 * 3600).rcpts, 2,
	    "after a long pause only the new traffic");
	is_int((long long)meter_top_hour(&m, t0 + 3 * 3600).rcpts, 6,
	    "the busiest hour is kept");
	is_int((long long)m.total.msgs, 4, "total messages");
	return done_testing();
}
