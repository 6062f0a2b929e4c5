/*
 * magic: typed callback contexts.  Every struct that travels through a
 * void * (libev watcher data, OpenSSL app data, MHD closures) starts with
 * an `unsigned magic` field set by OBJ_INIT and checked on every
 * recovery by OBJ_CAST, and wiped by OBJ_WIPE before it is freed: a
 * use-after-free or a wrong object becomes an immediate abort.
 * Every *_MAGIC value is unique (tests/unit/test_magic.sh checks it).
 */
#ifndef TERN_LIB_MAGIC_H
#define TERN_LIB_MAGIC_H

#include <stdlib.h>

#define OBJ_INIT(o, m)		((o)->magic = (m))
#define OBJ_CHECK(o, m)		do {				\
	if ((o) == NULL || (o)->magic != (m))			\
		abort();					\
} while (0)
#define OBJ_CAST(type, p, m)	obj_cast_##type((p), (m))
#define OBJ_WIPE(o)		((o)->magic = 0)

/* Declare a checked cast from void * for `struct type`. */
#define OBJ_DEFINE_CAST(type)					\
static inline struct type *					\
obj_cast_##type(void *p, unsigned m)				\
{								\
	struct type *o = p;					\
	OBJ_CHECK(o, m);					\
	return o;						\
}

#endif
