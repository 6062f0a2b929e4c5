/*
 * compat.h: prototypes of the libc functions that compat/ supplies when
 * the system lacks them (wired by AC_REPLACE_FUNCS in configure.ac).
 * Include after config.h.
 */
#ifndef TERN_COMPAT_H
#define TERN_COMPAT_H

#include <stddef.h>

#ifndef HAVE_STRLCPY
size_t strlcpy(char *dst, const char *src, size_t size);
#endif
#ifndef HAVE_STRLCAT
size_t strlcat(char *dst, const char *src, size_t size);
#endif
#ifndef HAVE_REALLOCARRAY
void *reallocarray(void *ptr, size_t nmemb, size_t size);
#endif
#ifndef HAVE_EXPLICIT_BZERO
void explicit_bzero(void *buf, size_t len);
#endif
#ifndef HAVE_STRTONUM
long long strtonum(const char *str, long long minval, long long maxval,
    const char **errstr);
#endif

#endif
