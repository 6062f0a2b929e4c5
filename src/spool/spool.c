/*
 * spool: durable message files (see spool.h for the format).
 *
 * Durability order for a message: write tmp/<id>, fsync it, rename it to
 * msg/<id>, fsync msg/.  The rename is atomic, so msg/ only ever holds
 * complete messages; tmp/ leftovers after a crash were never
 * acknowledged and are deleted at start.
 *
 * This first version syncs on the calling (loop) thread, one fsync pair
 * per message; group commit across sessions is the spool issue's work
 * (docs/design.md).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "spool/spool_private.h"


static int
spool_mkdir(const char *path)
{
	if (mkdir(path, 0750) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

struct spool *
spool_open(const char *dir, const char **error_r)
{
	struct spool *s;
	char path[4096];

	if (spool_mkdir(dir) == -1) {
		*error_r = "cannot create the spool directory";
		return NULL;
	}
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "tmp", "msg", "quarantine" };
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (spool_mkdir(path) == -1) {
			*error_r = "cannot create the spool's subdirectories";
			return NULL;
		}
	}
	snprintf(path, sizeof(path), "%s/msg", dir);
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->msg_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	s->tmp_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->msg_dirfd == -1 || s->tmp_dirfd == -1) {
		*error_r = "cannot open the spool's msg directory";
		spool_close(s);
		return NULL;
	}
	return s;
}

void
spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	spool_sync_stop(s);
	if (s->msg_dirfd != -1)
		close(s->msg_dirfd);
	if (s->tmp_dirfd != -1)
		close(s->tmp_dirfd);
	free(s->dir);
	free(s);
}

const char *
spool_dir(const struct spool *s)
{
	return s->dir;
}

static int
spool_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Unique, sortable ids: seconds, microseconds, pid, sequence. */
static void
spool_new_id(struct spool *s, char *id, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(id, size, "%llx.%05lx.%lx.%lx", (unsigned long long)ts.tv_sec,
	    (unsigned long)(ts.tv_nsec / 1000), (unsigned long)getpid(),
	    ++s->seq);
}

static void
spool_envelope_text(const struct spool_envelope *env, struct buf *b)
{
	(void)buf_printf(b, "TERN-SPOOL %d\nid %s\nqueued %lld\nfrom %s\nsrcmta %s\n",
	    SPOOL_FORMAT, env->id, (long long)env->queued, env->orig,
	    env->srcmta);
	if (env->vmta != NULL && env->vmta[0] != '\0')
		(void)buf_printf(b, "vmta %s\n", env->vmta);
	if (env->envid != NULL)
		(void)buf_printf(b, "envid %s\n", env->envid);
	if (env->jobid != NULL)
		(void)buf_printf(b, "jobid %s\n", env->jobid);
	if (env->ret != 0)
		(void)buf_printf(b, "ret %s\n", env->ret == 2 ? "full" : "hdrs");
	if (env->prio != 0)
		(void)buf_printf(b, "priority %d\n", spool_envelope_priority(env));
	for (size_t i = 0; i < env->nrcpts; i++) {
		(void)buf_printf(b, "rcpt %s\n", env->rcpts[i]);
		if (spool_envelope_notify(env, i) != 0)
			(void)buf_printf(b, "rnotify %u\n",
			    spool_envelope_notify(env, i));
		if (spool_envelope_orcpt(env, i) != NULL)
			(void)buf_printf(b, "rorcpt %s\n",
			    spool_envelope_orcpt(env, i));
		if (spool_envelope_rvmta(env, i) != NULL)
			(void)buf_printf(b, "rvmta %s\n",
			    spool_envelope_rvmta(env, i));
	}
	(void)buf_puts(b, "\n");
}

int
spool_writer_begin(struct spool *s, struct spool_envelope *env,
    struct spool_writer *w, const char **error_r)
{
	struct buf hdr;

	memset(w, 0, sizeof(*w));
	spool_new_id(s, env->id, sizeof(env->id));
	env->queued = time(NULL);
	memcpy(w->id, env->id, sizeof(w->id));
	w->tmp_path = xasprintf("%s/tmp/%s", s->dir, w->id);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (w->fd == -1) {
		*error_r = strerror(errno);
		free(w->tmp_path);
		w->tmp_path = NULL;
		return -1;
	}
	buf_init(&hdr, 16 * 1024 * 1024);
	spool_envelope_text(env, &hdr);
	if (hdr.err || spool_write_all(w->fd, hdr.data, hdr.len) == -1) {
		*error_r = hdr.err ? "envelope too large" : strerror(errno);
		buf_free(&hdr);
		spool_writer_abort(w);
		return -1;
	}
	w->size = (off_t)hdr.len;
	env->body_offset = (off_t)hdr.len;
	buf_free(&hdr);
	return 0;
}

int
spool_writer_write(struct spool_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	if (spool_write_all(w->fd, p, n) == -1) {
		w->failed = true;
		return -1;
	}
	w->size += (off_t)n;
	return 0;
}

int
spool_writer_commit(struct spool *s, struct spool_writer *w,
    const char **error_r)
{
	char final[4096];

	snprintf(final, sizeof(final), "%s/msg/%s", s->dir, w->id);
	if (w->failed) {
		*error_r = "write to the spool failed";
		goto fail;
	}
	if (fsync(w->fd) == -1 || close(w->fd) == -1) {
		w->fd = -1;
		*error_r = strerror(errno);
		goto fail;
	}
	w->fd = -1;
	if (rename(w->tmp_path, final) == -1 || fsync(s->msg_dirfd) == -1) {
		*error_r = strerror(errno);
		goto fail;
	}
	free(w->tmp_path);
	w->tmp_path = NULL;
	return 0;
fail:
	log_warnx("spool: cannot commit message %s: %s", w->id, *error_r);
	spool_writer_abort(w);
	return -1;
}

void
spool_writer_commit_async(struct spool *s, struct spool_writer *w,
    spool_commit_cb *cb, void *arg)
{
	const char *error;
	int err;

	if (s->sync == NULL) {
		err = spool_writer_commit(s, w, &error) == 0 ? 0 : EIO;
		cb(arg, err);
		return;
	}
	if (w->failed || close(w->fd) == -1) {
		w->fd = -1;
		spool_writer_abort(w);
		cb(arg, EIO);
		return;
	}
	w->fd = -1;
	spool_sync_submit(s, w->tmp_path, xasprintf("%s/msg/%s", s->dir, w->id),
	    cb, arg);
	w->tmp_path = NULL;	/* the sync thread owns it now */
}

void
spool_writer_abort(struct spool_writer *w)
{
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	if (w->tmp_path != NULL)
		unlink(w->tmp_path);
	free(w->tmp_path);
	w->tmp_path = NULL;
}

int
spool_mark_done(struct spool *s, const char *id, size_t idx)
{
	char path[4096], line[32];
	int fd, n, r;

	snprintf(path, sizeof(path), "%s/msg/%s.done", s->dir, id);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	n = snprintf(line, sizeof(line), "%zu\n", idx);
	r = spool_write_all(fd, line, (size_t)n);
	close(fd);
	return r;
}

int
spool_remove(struct spool *s, const char *id, bool done_list)
{
	char path[4096];
	int r = 0;

	snprintf(path, sizeof(path), "%s/msg/%s", s->dir, id);
	if (unlink(path) == -1 && errno != ENOENT)
		r = -1;
	snprintf(path, sizeof(path), "%s/msg/%s.done", s->dir, id);
	if (done_list && unlink(path) == -1 && errno != ENOENT)
		r = -1;
	return r;
}

int
spool_open_message(struct spool *s, const char *id)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/msg/%s", s->dir, id);
	return open(path, O_RDONLY | O_CLOEXEC);
}

void
spool_envelope_set_notify(struct spool_envelope *env, size_t i, unsigned bits)
{
	env->notify = xreallocarray(env->notify, env->nrcpts, 1);
	for (size_t k = env->nalloc_notify; k < env->nrcpts; k++)
		env->notify[k] = 0;
	env->nalloc_notify = env->nrcpts;
	env->notify[i] = (unsigned char)bits;
}

/* Grow a per-recipient string array to nrcpts entries and set entry i. */
static void
spool_envelope_set_str(char ***arr, size_t *nalloc, size_t nrcpts, size_t i,
    const char *v)
{
	*arr = xreallocarray(*arr, nrcpts, sizeof(char *));
	for (size_t k = *nalloc; k < nrcpts; k++)
		(*arr)[k] = NULL;
	*nalloc = nrcpts;
	free((*arr)[i]);
	(*arr)[i] = xstrdup(v);
}

void
spool_envelope_set_orcpt(struct spool_envelope *env, size_t i, const char *v)
{
	spool_envelope_set_str(&env->orcpt, &env->nalloc_orcpt, env->nrcpts,
	    i, v);
}

void
spool_envelope_set_rvmta(struct spool_envelope *env, size_t i, const char *v)
{
	spool_envelope_set_str(&env->rvmta, &env->nalloc_rvmta, env->nrcpts,
	    i, v);
}

const char *
spool_envelope_rvmta(const struct spool_envelope *env, size_t i)
{
	return env->rvmta != NULL && i < env->nalloc_rvmta ? env->rvmta[i] : NULL;
}

int
spool_envelope_priority(const struct spool_envelope *env)
{
	return env->prio == 0 ? SPOOL_PRIORITY_DEFAULT : env->prio - 1;
}

void
spool_envelope_set_priority(struct spool_envelope *env, int priority)
{
	env->prio = 1 + (priority < 0 ? 0 : priority > 100 ? 100 : priority);
}

unsigned
spool_envelope_notify(const struct spool_envelope *env, size_t i)
{
	return env->notify != NULL && i < env->nalloc_notify ? env->notify[i] : 0;
}

const char *
spool_envelope_orcpt(const struct spool_envelope *env, size_t i)
{
	return env->orcpt != NULL && i < env->nalloc_orcpt ? env->orcpt[i] : NULL;
}

void
spool_envelope_free(struct spool_envelope *env)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		free(env->rcpts[i]);
	for (size_t i = 0; env->orcpt != NULL && i < env->nalloc_orcpt; i++)
		free(env->orcpt[i]);
	for (size_t i = 0; env->rvmta != NULL && i < env->nalloc_rvmta; i++)
		free(env->rvmta[i]);
	free(env->rcpts);
	free(env->orcpt);
	free(env->rvmta);
	free(env->notify);
	free(env->envid);
	free(env->jobid);
	free(env->orig);
	free(env->srcmta);
	free(env->vmta);
	memset(env, 0, sizeof(*env));
}
