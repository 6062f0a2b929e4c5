/*
 * xmalloc: allocation wrappers that never return NULL.  Out of memory is
 * fatal for a mail server that must not half-accept mail; callers
 * therefore never test the result.  Sizes are overflow-checked.
 */
#ifndef TERN_LIB_XMALLOC_H
#define TERN_LIB_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/* Like asprintf(3), aborting on failure. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
