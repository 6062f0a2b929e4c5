/*
 * tap: minimal TAP producer (see tap.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

static int tap_run, tap_failed;

static int tap_report(int, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static int
tap_report(int cond, const char *fmt, va_list ap)
{
	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_report(cond, fmt, ap);
	va_end(ap);
	return cond;
}

int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int cond = got == want;

	va_start(ap, fmt);
	tap_report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got: %lld\n#  want: %lld\n", got, want);
	return cond;
}

int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int cond = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);

	va_start(ap, fmt);
	tap_report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got: \"%s\"\n#  want: \"%s\"\n",
		    got ? got : "(null)", want ? want : "(null)");
	return cond;
}

int
is_mem(const void *got, size_t got_len, const void *want, size_t want_len,
    const char *fmt, ...)
{
	va_list ap;
	int cond = got_len == want_len &&
	    (got_len == 0 || memcmp(got, want, got_len) == 0);

	va_start(ap, fmt);
	tap_report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got: %zu bytes \"%.*s\"\n#  want: %zu bytes \"%.*s\"\n",
		    got_len, (int)got_len, (const char *)got,
		    want_len, (int)want_len, (const char *)want);
	return cond;
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

int
done_testing(void)
{
	printf("1..%d\n", tap_run);
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_run);
	return tap_failed ? 1 : 0;
}
