/* explicit_bzero: clear memory in a way the compiler may not elide. */
#include "config.h"
#include <string.h>
#include "compat.h"

static void *(*volatile compat_memset)(void *, int, size_t) = memset;

void
explicit_bzero(void *buf, size_t len)
{
	compat_memset(buf, 0, len);
}
