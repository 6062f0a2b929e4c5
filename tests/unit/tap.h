/*
 * tap: minimal Test Anything Protocol helpers for the unit tests.
 *
 *	int main(void) {
 *		ok(1 + 1 == 2, "arithmetic");
 *		is_int(f(3), 9, "f(3)");
 *		is_str(g(), "x", "g()");
 *		return done_testing();
 *	}
 *
 * done_testing() prints the plan and returns the exit status (0 when
 * every check passed).
 */
#ifndef TERN_TESTS_TAP_H
#define TERN_TESTS_TAP_H

#include <stddef.h>

int	ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int	is_int(long long got, long long want, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	is_str(const char *got, const char *want, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	is_mem(const void *got, size_t got_len, const void *want,
	    size_t want_len, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	done_testing(void);

#endif
