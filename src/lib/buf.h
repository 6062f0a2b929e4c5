/*
 * buf: a growable byte buffer with a hard maximum size and a sticky
 * error flag.  The data is always NUL-terminated (the terminator is not
 * counted in len) so that text can be handed to libc, but the buffer is
 * binary-safe.  A peer can never make a buffer grow past its maximum:
 * appends that would do so fail, set the error flag and leave the
 * contents unchanged.
 *
 * The all-zero struct is not usable; call buf_init() first.
 */
#ifndef TERN_LIB_BUF_H
#define TERN_LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char	*data;		/* NUL-terminated; NULL until the first append */
	size_t	 len;		/* bytes used, without the terminator */
	size_t	 cap;		/* bytes allocated */
	size_t	 max;		/* hard cap on len */
	bool	 err;		/* an append failed since the last buf_reset() */
};

void	buf_init(struct buf *b, size_t max);
void	buf_free(struct buf *b);
void	buf_reset(struct buf *b);
/*
 * 0 on success; -1 (and b->err set) if the result would exceed max.
 * The error is sticky: a caller may append several times and test
 * b->err once at the end.
 */
int	buf_append(struct buf *b, const void *p, size_t n);
int	buf_puts(struct buf *b, const char *s);
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void	buf_consume(struct buf *b, size_t n);
/* Hand the data to the caller, who frees it; the buffer becomes empty. */
char	*buf_take(struct buf *b);
/* The contents as a string; "" when empty. */
const char *buf_str(const struct buf *b);

#endif
