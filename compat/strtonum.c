/* strtonum: parse a bounded decimal integer, reporting why it failed. */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include "compat.h"

long long
strtonum(const char *str, long long minval, long long maxval,
    const char **errstr)
{
	char *end;
	long long v;

	*errstr = NULL;
	if (minval > maxval) {
		*errstr = "invalid";
		errno = EINVAL;
		return 0;
	}
	errno = 0;
	v = strtoll(str, &end, 10);
	if (str == end || *end != '\0') {
		*errstr = "invalid";
		errno = EINVAL;
		return 0;
	}
	if ((v == LLONG_MIN && errno == ERANGE) || v < minval) {
		*errstr = "too small";
		errno = ERANGE;
		return 0;
	}
	if ((v == LLONG_MAX && errno == ERANGE) || v > maxval) {
		*errstr = "too large";
		errno = ERANGE;
		return 0;
	}
	return v;
}
