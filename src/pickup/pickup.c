/*
 * pickup: the pickup directory watcher (see pickup.h).
 *
 * Strategy.  A scan lists the directory once (regular files and symbolic
 * links whose names do not start with "."; at most PICKUP_SCAN_MAX names,
 * sorted) into `pending`; the work timer then takes the names in turn,
 * one file read at a time, a chunk per step and PICKUP_STEPS steps per
 * loop turn, so a large file or a full directory never holds the loop.
 * While PICKUP_COMMIT_MAX files wait for the spool's group commit, no
 * new file is opened.  A scan runs only when the pending names are used
 * up and one is wanted: at start, after an inotify event (IN_MOVED_TO,
 * IN_CLOSE_WRITE) and every PICKUP_RESCAN seconds, so files locked by
 * their writer or left after a temporary failure are tried again.  Names
 * being read or committed are skipped by a scan.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "pickup/pickup_private.h"

OBJ_DEFINE_CAST(pickup)

static bool
pickup_has_work(const struct pickup *p)
{
	return !p->stopped && p->ncommitting < PICKUP_COMMIT_MAX &&
	    (p->reading != NULL || p->next < p->npending || p->scan_wanted);
}

void
pickup_kick(struct pickup *p)
{
	if (pickup_has_work(p) && !ev_is_active(&p->work)) {
		ev_timer_set(&p->work, 0., 0.);
		ev_timer_start(p->loop, &p->work);
	}
}

static void
pickup_pending_clear(struct pickup *p)
{
	pickup_names_free(p->pending, p->npending);
	p->pending = NULL;
	p->npending = p->next = 0;
}

/* Is the name being read or committed? */
static bool
pickup_busy(const struct pickup *p, const char *name)
{
	const struct pickup_file *f;

	if (p->reading != NULL && strcmp(p->reading->name, name) == 0)
		return true;
	LIST_FOREACH(f, &p->committing, entry)
		if (strcmp(f->name, name) == 0)
			return true;
	return false;
}

static int
pickup_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
pickup_candidate(const struct pickup *p, const struct dirent *de)
{
	if (de->d_name[0] == '.')
		return false;		/* hidden: being written, or bad */
	if (de->d_type != DT_REG && de->d_type != DT_LNK &&
	    de->d_type != DT_UNKNOWN)
		return false;
	return !pickup_busy(p, de->d_name);
}

void
pickup_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

size_t
pickup_list(struct pickup *p, char ***names, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int fd;

	*names = NULL;
	fd = openat(p->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("pickup: %s", p->dir);
		if (fd != -1)
			close(fd);
		return 0;
	}
	while (n < max && (de = readdir(d)) != NULL) {
		if (!pickup_candidate(p, de))
			continue;
		*names = xreallocarray(*names, n + 1, sizeof(char *));
		(*names)[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(*names, n, sizeof(char *), pickup_name_cmp);
	return n;
}

/* List the directory into `pending`. */
static void
pickup_scan(struct pickup *p)
{
	pickup_pending_clear(p);
	p->npending = pickup_list(p, &p->pending, PICKUP_SCAN_MAX);
	/* a full list may have left names out: the rest next time */
	p->scan_wanted = p->npending == PICKUP_SCAN_MAX;
}

/* One step: open the next file, or read a chunk of the current one.
 * false when there is nothing to do now. */
static bool
pickup_step(struct pickup *p)
{
	if (p->reading != NULL) {
		pickup_file_step(p->reading);
		return true;
	}
	if (p->next == p->npending) {
		if (!p->scan_wanted)
			return false;
		pickup_scan(p);
		if (p->npending == 0)
			return false;
	}
	p->reading = pickup_file_open(p, p->pending[p->next++]);
	return true;
}

static void
pickup_on_work(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pickup *p = OBJ_CAST(pickup, w->data, PICKUP_MAGIC);

	for (int i = 0; i < PICKUP_STEPS && pickup_has_work(p); i++)
		if (!pickup_step(p))
			break;
	pickup_kick(p);
}

static void
pickup_on_rescan(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pickup *p = OBJ_CAST(pickup, w->data, PICKUP_MAGIC);

	p->scan_wanted = true;
	pickup_kick(p);
}

/* inotify: a file was renamed in or written; names starting with "."
 * (our own hidden renames, writers' temporary files) do not count. */
static void
pickup_on_inotify(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pickup *p = OBJ_CAST(pickup, w->data, PICKUP_MAGIC);
	char buf[8192];
	struct inotify_event ev;
	bool wanted = false;
	ssize_t n;

	while ((n = read(p->ifd, buf, sizeof(buf))) > 0) {
		for (size_t off = 0; off + sizeof(ev) <= (size_t)n;
		    off += sizeof(ev) + ev.len) {
			memcpy(&ev, buf + off, sizeof(ev));
			if ((ev.mask & IN_Q_OVERFLOW) || ev.len == 0 ||
			    buf[off + sizeof(ev)] != '.')
				wanted = true;
		}
	}
	if (wanted) {
		p->scan_wanted = true;
		pickup_kick(p);
	}
}

static void
pickup_watch(struct pickup *p)
{
	p->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->ifd == -1 || inotify_add_watch(p->ifd, p->dir,
	    IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR) == -1) {
		log_warn("pickup: inotify on %s; scanning every %.0f s only",
		    p->dir, PICKUP_RESCAN);
		if (p->ifd != -1)
			close(p->ifd);
		p->ifd = -1;
		return;
	}
	ev_io_init(&p->inotify, pickup_on_inotify, p->ifd, EV_READ);
	p->inotify.data = p;
	ev_io_start(p->loop, &p->inotify);
}

/* Open a directory, creating it if it is missing.  -1 when unusable. */
static int
pickup_open_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 && errno == ENOENT && mkdir(dir, 0755) == 0) {
		log_info("pickup: created %s", dir);
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd == -1)
		log_warn("pickup: %s", dir);
	return fd;
}

struct pickup *
pickup_new(struct ev_loop *loop, struct model *const *model,
    struct smtpd *smtpd, const char **error_r)
{
	const struct model *m = *model;
	struct pickup *p;

	*error_r = NULL;
	if (m->pickup_dir == NULL)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	OBJ_INIT(p, PICKUP_MAGIC);
	p->loop = loop;
	p->model = model;
	p->smtpd = smtpd;
	p->dir = xstrdup(m->pickup_dir);
	p->bad_dir = xstrdup(m->pickup_bad_dir);
	p->ifd = -1;
	LIST_INIT(&p->committing);
	ev_timer_init(&p->work, pickup_on_work, 0., 0.);
	p->work.data = p;
	ev_timer_init(&p->rescan, pickup_on_rescan, PICKUP_RESCAN, PICKUP_RESCAN);
	p->rescan.data = p;
	p->dirfd = pickup_open_dir(p->dir);
	p->badfd = pickup_open_dir(p->bad_dir);
	if (p->dirfd == -1 || p->badfd == -1) {
		*error_r = "cannot use the pickup directories";
		pickup_free(p);
		return NULL;
	}
	p->chunk = xmalloc(PICKUP_CHUNK);
	p->npresent = pickup_list(p, &p->present, (size_t)-1);
	return p;
}

void
pickup_start(struct pickup *p)
{
	if (p == NULL)
		return;
	pickup_names_free(p->present, p->npresent);
	p->present = NULL;
	p->npresent = 0;
	pickup_watch(p);
	ev_timer_start(p->loop, &p->rescan);
	p->scan_wanted = true;		/* what is there already */
	pickup_kick(p);
	log_info("pickup: watching %s (bad files go to %s)", p->dir, p->bad_dir);
}

void
pickup_stop(struct pickup *p)
{
	if (p == NULL || p->stopped)
		return;
	p->stopped = true;
	if (p->ifd != -1)
		ev_io_stop(p->loop, &p->inotify);
	ev_timer_stop(p->loop, &p->rescan);
	ev_timer_stop(p->loop, &p->work);
	if (p->reading != NULL)
		pickup_file_free(p->reading);
	pickup_pending_clear(p);
}

void
pickup_free(struct pickup *p)
{
	struct pickup_file *f;

	if (p == NULL)
		return;
	pickup_stop(p);
	while ((f = LIST_FIRST(&p->committing)) != NULL) {
		/* no callback will come (no sync thread ran): the file stays */
		LIST_REMOVE(f, entry);
		p->ncommitting--;
		pickup_file_free(f);
	}
	if (p->ifd != -1)
		close(p->ifd);
	if (p->dirfd != -1)
		close(p->dirfd);
	if (p->badfd != -1)
		close(p->badfd);
	pickup_names_free(p->present, p->npresent);
	free(p->chunk);
	free(p->dir);
	free(p->bad_dir);
	OBJ_WIPE(p);
	free(p);
}
