/*
 * acct_file: one accounting file (see acct_private.h).
 *
 * Records are appended to the configured path (O_APPEND, one write(2)
 * per record, so a reader never sees half a line from us).  A new file
 * starts with the header line; a file found with another header (the
 * columns changed by a reload) is rotated away first, so that every file
 * has one header that matches its rows.
 *
 * Rotation renames the file to "NAME-YYYY-MM-DD-NNNN.EXT" (the date the
 * file was started, local time; NNNN the first free number from 0000)
 * and starts a new one.  It happens when a record would take the file
 * past max-size, at `pmta rotate acct`, and on a timer: with move-to,
 * every move-interval (boundaries counted from local midnight) into the
 * move-to directory; without it, at local midnight in place, and rotated
 * files older than delete-after are deleted.  A file holding only its
 * header is never rotated.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acct/acct_private.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

#define ACCT_DAY	86400

struct acct_file {
	char		*path;
	char		*dir;		/* of path */
	char		*move_to;	/* absolute, or NULL */
	const char	*header;	/* the layout's */
	size_t		 header_len;
	int		 fd;		/* -1 when it could not be opened */
	off_t		 size;
	time_t		 started;	/* the date in the rotated name */
	time_t		 next_move;	/* 0: no timed rotation */
	time_t		 next_sweep;
	long long	 max_size, move_interval, delete_after;
	mode_t		 mode;
	bool		 sync;
	bool		 open_failed;	/* logged once until it works again */
};

/* "DIR/base.ext" -> dir, base, ext (ext with its dot, or ""). */
static void
acct_name_split(const char *path, const char **base, size_t *baselen,
    const char **ext)
{
	const char *slash = strrchr(path, '/');
	const char *dot;

	*base = slash ? slash + 1 : path;
	dot = strrchr(*base, '.');
	if (dot == NULL || dot == *base)
		dot = *base + strlen(*base);
	*baselen = (size_t)(dot - *base);
	*ext = dot;
}

int
acct_rotated_name(const char *path, const char *dir, time_t day,
    unsigned seq, char *dst, size_t size)
{
	const char *base, *ext, *slash = strrchr(path, '/');
	size_t baselen, pre;
	struct tm tm;
	int n;

	if (seq > 9999)
		return -1;
	acct_name_split(path, &base, &baselen, &ext);
	localtime_r(&day, &tm);
	if (dir != NULL)
		n = snprintf(dst, size, "%s/", dir);
	else
		n = snprintf(dst, size, "%.*s", slash ? (int)(slash - path + 1) : 0,
		    path);
	if (n < 0 || (size_t)n >= size)
		return -1;
	pre = (size_t)n;
	n = snprintf(dst + pre, size - pre, "%.*s-%04d-%02d-%02d-%04u%s",
	    (int)baselen, base, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    seq, ext);
	return n < 0 || (size_t)n >= size - pre ? -1 : 0;
}

bool
acct_rotated_match(const char *path, const char *name)
{
	static const char shape[] = "-DDDD-DD-DD-DDDD";
	const char *base, *ext;
	size_t baselen, k = sizeof(shape) - 1;

	acct_name_split(path, &base, &baselen, &ext);
	if (strncmp(name, base, baselen) != 0 || strlen(name) !=
	    baselen + k + strlen(ext) || strcmp(name + baselen + k, ext) != 0)
		return false;
	for (size_t i = 0; i < k; i++) {
		char c = name[baselen + i];
		if (shape[i] == 'D' ? (c < '0' || c > '9') : c != shape[i])
			return false;
	}
	return true;
}

/* Does the open file start with our header line? */
static bool
acct_file_header_ok(const struct acct_file *f)
{
	char *first = xmalloc(f->header_len);
	ssize_t n = pread(f->fd, first, f->header_len, 0);
	bool same = n == (ssize_t)f->header_len &&
	    memcmp(first, f->header, f->header_len) == 0;

	free(first);
	return same;
}

/* Open (or create with the header) the live file.  0 or -1 (errno). */
static int
acct_file_start(struct acct_file *f, time_t now)
{
	struct stat st;

	f->fd = open(f->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, f->mode);
	if (f->fd == -1)
		return -1;
	if (fstat(f->fd, &st) == -1)
		goto fail;
	(void)fchmod(f->fd, f->mode);
	f->size = st.st_size;
	f->started = st.st_size > 0 ? st.st_mtime : now;
	if (st.st_size == 0) {
		if (write(f->fd, f->header, f->header_len) !=
		    (ssize_t)f->header_len)
			goto fail;
		f->size = (off_t)f->header_len;
	}
	return 0;
fail:
	close(f->fd);
	f->fd = -1;
	return -1;
}

/* A name for the rotated file: the first free sequence number. */
static int
acct_file_target(const struct acct_file *f, const char *dir, char *dst,
    size_t size)
{
	struct stat st;

	for (unsigned seq = 0; seq <= 9999; seq++) {
		if (acct_rotated_name(f->path, dir, f->started, seq, dst,
		    size) == -1)
			return -1;
		if (lstat(dst, &st) == -1 && errno == ENOENT)
			return 0;
	}
	return -1;
}

/* Rename the live file away (into move-to if set).  0 or -1 (logged). */
static int
acct_file_move(struct acct_file *f)
{
	char target[4096];

	if (f->move_to != NULL && mkdir(f->move_to, 0750) == -1 &&
	    errno != EEXIST)
		log_warn("acct: cannot create move-to %s", f->move_to);
	if (acct_file_target(f, f->move_to, target, sizeof(target)) == -1) {
		log_warnx("acct: %s: no free name to rotate it to", f->path);
		return -1;
	}
	if (rename(f->path, target) == 0)
		goto done;
	if (errno != EXDEV || f->move_to == NULL)
		goto fail;
	log_warnx("acct: %s: move-to %s is on another file system; rotated "
	    "in place", f->path, f->move_to);
	if (acct_file_target(f, NULL, target, sizeof(target)) == 0 &&
	    rename(f->path, target) == 0)
		goto done;
fail:
	log_warn("acct: cannot rotate %s to %s", f->path, target);
	return -1;
done:
	log_info("acct: %s rotated to %s", f->path, target);
	return 0;
}

/* delete-after: remove rotated files (in place) older than that. */
static void
acct_file_sweep(struct acct_file *f, time_t now)
{
	DIR *d;
	struct dirent *e;

	f->next_sweep = now + ACCT_SWEEP_INTERVAL;
	if (f->move_to != NULL || f->delete_after <= 0 ||
	    (d = opendir(f->dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (!acct_rotated_match(f->path, e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime <= f->delete_after)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == -1)
			log_warn("acct: cannot delete %s/%s", f->dir, e->d_name);
		else
			log_info("acct: deleted %s/%s (delete-after)", f->dir,
			    e->d_name);
	}
	closedir(d);
}

/* Start a new file; with !force only if this one holds records. */
static int
acct_file_rotate_now(struct acct_file *f, bool force)
{
	time_t now = time(NULL);

	if (!force && f->fd != -1 && f->size <= (off_t)f->header_len)
		return 0;		/* nothing but the header */
	if (access(f->path, F_OK) == 0 && acct_file_move(f) == -1)
		return -1;
	if (f->fd != -1)
		close(f->fd);
	if (acct_file_start(f, now) == -1) {
		log_warn("acct: cannot open %s", f->path);
		f->open_failed = true;
	}
	acct_file_sweep(f, now);
	return 1;
}

int
acct_file_rotate(struct acct_file *f)
{
	return acct_file_rotate_now(f, false);
}

void
acct_file_write(struct acct_file *f, const char *line, size_t len)
{
	ssize_t n;

	if (f->fd == -1 && acct_file_start(f, time(NULL)) == -1) {
		if (!f->open_failed)
			log_warn("acct: cannot open %s; records are lost", f->path);
		f->open_failed = true;
		return;
	}
	f->open_failed = false;
	if (f->max_size > 0 && f->size > (off_t)f->header_len &&
	    f->size + (off_t)len > f->max_size)
		(void)acct_file_rotate(f);
	if (f->fd == -1)
		return;
	if ((n = write(f->fd, line, len)) != (ssize_t)len) {
		log_warn("acct: cannot write to %s", f->path);
		if (n > 0)
			f->size += n;
		return;
	}
	f->size += n;
	if (f->sync && fdatasync(f->fd) == -1)
		log_warn("acct: cannot sync %s", f->path);
}

/* The next boundary of interval seconds, counted from local midnight. */
static time_t
acct_file_boundary(time_t now, long long interval)
{
	struct tm tm;
	time_t midnight;

	if (interval <= 0)
		return 0;
	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((midnight = mktime(&tm)) == (time_t)-1 || midnight > now)
		midnight = now;
	return midnight + (time_t)(((now - midnight) / interval + 1) * interval);
}

void
acct_file_tick(struct acct_file *f, time_t now)
{
	if (f->next_move != 0 && now >= f->next_move) {
		(void)acct_file_rotate(f);
		f->next_move = acct_file_boundary(now, f->move_to ?
		    f->move_interval : ACCT_DAY);
	}
	if (now >= f->next_sweep)
		acct_file_sweep(f, now);
}

time_t
acct_file_next_event(const struct acct_file *f)
{
	if (f->next_move != 0 && f->next_move < f->next_sweep)
		return f->next_move;
	return f->next_sweep;
}

const char *
acct_file_path(const struct acct_file *f)
{
	return f->path;
}

/* The block's settings: sizes, intervals, move-to (absolute: relative
 * to the file's directory), mode. */
static void
acct_file_settings(struct acct_file *f, const struct model_acct *ma)
{
	const struct model_settings *s = &ma->settings;
	const struct conf_value *v;

#define ACCT_NUM(id) conf_value_num(model_settings_get(s, CONF_ID_##id), \
	    &conf_directives[CONF_ID_##id])
#define ACCT_BOOL(id) conf_value_bool(model_settings_get(s, CONF_ID_##id), \
	    &conf_directives[CONF_ID_##id])
	f->max_size = ACCT_NUM(MAX_SIZE);
	f->move_interval = ACCT_NUM(MOVE_INTERVAL);
	f->delete_after = ACCT_NUM(DELETE_AFTER);
	f->sync = ACCT_BOOL(SYNC);
	f->mode = ACCT_BOOL(WORLD_READABLE) ? 0644 : 0640;
#undef ACCT_NUM
#undef ACCT_BOOL
	v = model_settings_get(s, CONF_ID_MOVE_TO);
	if (v != NULL && v->u.s != NULL && v->u.s[0] != '\0')
		f->move_to = v->u.s[0] == '/' ? xstrdup(v->u.s) :
		    xasprintf("%s/%s", f->dir, v->u.s);
}

struct acct_file *
acct_file_open(const struct model_acct *ma, const char *header,
    const char **error_r)
{
	struct acct_file *f = xcalloc(1, sizeof(*f));
	const char *slash = strrchr(ma->path, '/');
	time_t now = time(NULL);
	long long interval;

	f->path = xstrdup(ma->path);
	f->dir = slash == NULL ? xstrdup(".") : slash == ma->path ?
	    xstrdup("/") : xstrndup(ma->path, (size_t)(slash - ma->path));
	f->header = header;
	f->header_len = strlen(header);
	acct_file_settings(f, ma);
	if (acct_file_start(f, now) == -1) {
		*error_r = strerror(errno);
		log_warn("acct: cannot open %s", f->path);
		acct_file_close(f);
		return NULL;
	}
	interval = f->move_to ? f->move_interval : ACCT_DAY;
	if (f->size > 0 && !acct_file_header_ok(f)) {
		log_info("acct: %s has other columns; starting a new file",
		    f->path);
		(void)acct_file_rotate_now(f, true);
	} else if (interval > 0 && acct_file_boundary(f->started, interval) <= now)
		(void)acct_file_rotate(f);	/* a boundary passed while closed */
	f->next_move = acct_file_boundary(now, interval);
	acct_file_sweep(f, now);
	return f;
}

void
acct_file_close(struct acct_file *f)
{
	if (f == NULL)
		return;
	if (f->fd != -1)
		close(f->fd);
	free(f->path);
	free(f->dir);
	free(f->move_to);
	free(f);
}
