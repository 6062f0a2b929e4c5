/*
 * pickup_recover: a pickup file is removed once its message is durable,
 * in the commit callback; pmtad may die between the two.  So the spool
 * envelope names the file ("pickup dev ino size mtime name"), and while
 * the spool is recovered every message that names a file still present,
 * unchanged (same device, inode, size and modification time to the
 * nanosecond), removes that file instead of letting it be injected a
 * second time.  The names present are listed once before recovery, so a
 * large spool costs one binary search per message, and a stat only for
 * the few names found.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "pickup/pickup_private.h"

char *
pickup_identity(const char *name, const struct stat *st)
{
	if (strchr(name, '\n') != NULL || strchr(name, '\r') != NULL)
		return NULL;
	return xasprintf("%ju %ju %jd %jd.%09ld %s", (uintmax_t)st->st_dev,
	    (uintmax_t)st->st_ino, (intmax_t)st->st_size,
	    (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, name);
}

bool
pickup_unchanged(const struct pickup *p, const char *name,
    const struct stat *st)
{
	struct stat now;

	return fstatat(p->dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino &&
	    now.st_size == st->st_size &&
	    now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	    now.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static int
pickup_name_find(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* Parse an identity line back; the name points into id.  0 or -1. */
static int
pickup_identity_parse(const char *id, struct stat *st, const char **name)
{
	uintmax_t dev, ino;
	intmax_t size, sec;
	long nsec;
	int used = -1;

	memset(st, 0, sizeof(*st));
	if (sscanf(id, "%ju %ju %jd %jd.%ld%n", &dev, &ino, &size, &sec,
	    &nsec, &used) != 5 || used <= 0 || id[used] != ' ' ||
	    id[used + 1] == '\0')
		return -1;
	st->st_dev = (dev_t)dev;
	st->st_ino = (ino_t)ino;
	st->st_size = (off_t)size;
	st->st_mtim.tv_sec = (time_t)sec;
	st->st_mtim.tv_nsec = nsec;
	*name = id + used + 1;
	return 0;
}

void
pickup_recovered(struct pickup *p, const struct spool_envelope *env)
{
	struct stat st;
	const char *name;

	if (p == NULL || env->pickup == NULL || p->npresent == 0 ||
	    pickup_identity_parse(env->pickup, &st, &name) == -1 ||
	    bsearch(name, p->present, p->npresent, sizeof(char *),
	    pickup_name_find) == NULL || !pickup_unchanged(p, name, &st))
		return;
	if (unlinkat(p->dirfd, name, 0) == -1) {
		log_warn("pickup: %s is queued already (message %s) but "
		    "cannot be removed", name, env->id);
		return;
	}
	log_info("pickup: %s was queued as message %s before a stop; removed",
	    name, env->id);
}
