/*
 * spool: message bodies and the commit path (see spool.h for the layout).
 *
 * Durability order for a message: its body is made durable (the image
 * appended to log/<seg>.data and fdatasync'ed, or its own body file
 * msg/<seg>/<id> synced), then its record is appended to log/<seg> and
 * the log is made durable; only then is the message committed.  With
 * group commit (spool_sync.c) one write and one fdatasync of the data
 * file cover every small body of a batch (one syncfs when the batch has
 * a body file), and one write and one fdatasync per segment its records.
 * A body without a record was never acknowledged: an image past the last
 * record is an orphan tail nothing points to, a body file is removed by
 * recovery.
 */
#include "config.h"

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
	static const char *const sub[] = { "tmp", "msg", "log", "quarantine" };
	struct spool *s;
	char path[4096];

	if (spool_mkdir(dir) == -1) {
		*error_r = "cannot create the spool directory";
		return NULL;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (spool_mkdir(path) == -1) {
			*error_r = "cannot create the spool's subdirectories";
			return NULL;
		}
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->seg_bytes = SPOOL_SEG_BYTES;
	(void)spool_crc32("", 0);	/* its table, before the sync thread */
	snprintf(path, sizeof(path), "%s/msg", dir);
	s->msg_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/log", dir);
	s->log_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->msg_dirfd == -1 || s->log_dirfd == -1) {
		*error_r = "cannot open the spool's msg and log directories";
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
	spool_segs_free(s);
	if (s->msg_dirfd != -1)
		close(s->msg_dirfd);
	if (s->log_dirfd != -1)
		close(s->log_dirfd);
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

void
spool_envelope_format(const struct spool_envelope *env, struct buf *b)
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
	if (env->auth_user != NULL)
		(void)buf_printf(b, "authuser %s\n", env->auth_user);
	if (env->ret != 0)
		(void)buf_printf(b, "ret %s\n", env->ret == 2 ? "full" : "hdrs");
	if (env->prio != 0)
		(void)buf_printf(b, "priority %d\n", spool_envelope_priority(env));
	if (env->no_dsn)
		(void)buf_puts(b, "nodsn\n");
	if (env->verp)
		(void)buf_puts(b, "verp\n");
	if (env->smtputf8)
		(void)buf_puts(b, "smtputf8\n");
	if (env->pickup != NULL)
		(void)buf_printf(b, "pickup %s\n", env->pickup);
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
	struct spool_seg *g;
	struct buf hdr;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if ((g = spool_seg_current(s, error_r)) == NULL)
		return -1;
	spool_new_id(s, env->id, sizeof(env->id));
	env->queued = time(NULL);
	env->seg = g->no;
	memcpy(w->id, env->id, sizeof(w->id));
	w->seg = g->no;
	buf_init(&hdr, SPOOL_RECORD_MAX / 2);
	spool_envelope_format(env, &hdr);
	if (hdr.err) {
		*error_r = "envelope too large";
		buf_free(&hdr);
		return -1;
	}
	w->text_len = hdr.len;
	w->text = buf_take(&hdr);
	w->size = (off_t)w->text_len;
	env->body_offset = (off_t)w->text_len;	/* final once committed */
	env->body_in_data = false;
	g->pending++;
	g->bytes += w->text_len + 64;
	w->spool = s;
	return 0;
}

/* The body outgrew memory: on to its own file, msg/<seg>/<id>. */
static int
spool_writer_spill(struct spool_writer *w)
{
	struct spool *s = w->spool;
	char name[SPOOL_ID_MAX + 32];

	snprintf(name, sizeof(name), "%08x/%s", w->seg, w->id);
	w->fd = openat(s->msg_dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0640);
	if (w->fd == -1)
		return -1;
	w->path = xstrdup(name);
	if (spool_write_all(w->fd, w->text, w->text_len) == -1 ||
	    spool_write_all(w->fd, w->mem, w->mem_len) == -1)
		return -1;
	free(w->mem);
	w->mem = NULL;
	w->mem_len = w->mem_cap = 0;
	return 0;
}

int
spool_writer_write(struct spool_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	if (w->fd == -1 && w->mem_len + n <= SPOOL_BODY_MEM_MAX) {
		if (w->mem_len + n > w->mem_cap) {
			size_t cap = w->mem_cap ? w->mem_cap : 8192;
			while (cap < w->mem_len + n)
				cap *= 2;
			if (cap > SPOOL_BODY_MEM_MAX)
				cap = SPOOL_BODY_MEM_MAX;
			w->mem = xreallocarray(w->mem, cap, 1);
			w->mem_cap = cap;
		}
		if (n > 0)
			memcpy(w->mem + w->mem_len, p, n);
		w->mem_len += n;
		w->size += (off_t)n;
		return 0;
	}
	if ((w->fd == -1 && spool_writer_spill(w) == -1) ||
	    spool_write_all(w->fd, p, n) == -1) {
		w->failed = true;
		return -1;
	}
	w->size += (off_t)n;
	return 0;
}

/* The writer is done with its file and text (the record is taken). */
static void
spool_writer_clear(struct spool_writer *w)
{
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	free(w->path);
	free(w->text);
	free(w->mem);
	w->path = w->text = w->mem = NULL;
	w->mem_len = w->mem_cap = 0;
	w->spool = NULL;
}

/* A body for the data file: its image (and the segment's size) */
static void
spool_writer_image(struct spool *s, const struct spool_writer *w,
    struct buf *b)
{
	struct spool_seg *g = spool_seg_find(s, w->seg);

	buf_init(b, (size_t)1 << 40);
	spool_image_append(b, w->text, w->text_len, w->mem, w->mem_len);
	if (g != NULL)
		g->data_bytes += b->len;
}

int
spool_writer_commit(struct spool *s, struct spool_writer *w,
    struct spool_envelope *env, const char **error_r)
{
	struct spool_seg *g = spool_seg_find(s, w->seg);
	off_t bsize = w->size - (off_t)w->text_len, off;
	char *rec;
	size_t len;
	int r;

	if (w->failed) {
		*error_r = "write to the spool failed";
		goto fail;
	}
	if (w->fd == -1) {
		struct buf img;

		spool_writer_image(s, w, &img);
		r = img.err ? -1 : spool_data_append(s->log_dirfd, w->seg,
		    &g->data_fd, img.data, img.len, true, &off);
		buf_free(&img);
		if (r == -1) {
			*error_r = strerror(errno);
			goto fail;
		}
		off += (off_t)(w->text_len + SPOOL_IMAGE_LINE);
		rec = spool_log_record_text(w->text, w->text_len, "data", off,
		    bsize, &len);
	} else {
		if (fsync(w->fd) == -1 || syncfs(s->msg_dirfd) == -1) {
			*error_r = strerror(errno);
			goto fail;
		}
		off = (off_t)w->text_len;
		rec = spool_log_record_text(w->text, w->text_len, "body", off,
		    bsize, &len);
	}
	r = spool_log_append(s->log_dirfd, w->seg, &g->log_fd, rec, len);
	free(rec);
	if (r == -1) {
		*error_r = strerror(errno);
		goto fail;
	}
	env->body_in_data = w->fd == -1;
	env->body_offset = off;
	env->body_size = bsize;
	spool_writer_clear(w);
	spool_seg_committed(s, g->no);
	return 0;
fail:
	log_warnx("spool: cannot commit message %s: %s", w->id, *error_r);
	spool_writer_abort(w);
	return -1;
}

void
spool_writer_commit_async(struct spool *s, struct spool_writer *w,
    struct spool_envelope *env, spool_commit_cb *cb, void *arg)
{
	const char *error;
	int err;

	if (s->sync == NULL) {
		err = spool_writer_commit(s, w, env, &error) == 0 ? 0 : EIO;
		cb(arg, err);
		return;
	}
	if (w->failed || (w->fd != -1 && close(w->fd) == -1)) {
		w->fd = -1;
		spool_writer_abort(w);
		cb(arg, EIO);
		return;
	}
	if (w->fd == -1) {
		struct spool_seg *g = spool_seg_find(s, w->seg);
		if (g != NULL)
			g->data_bytes += w->text_len + SPOOL_IMAGE_LINE +
			    w->mem_len;
	}
	w->fd = -1;
	spool_sync_submit(s, w, env, cb, arg);	/* takes the text, body, path */
	spool_writer_clear(w);
}

void
spool_writer_abort(struct spool_writer *w)
{
	struct spool *s = w->spool;

	if (s == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	if (w->path != NULL)
		(void)unlinkat(s->msg_dirfd, w->path, 0);
	spool_seg_aborted(s, w->seg);
	spool_writer_clear(w);
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

int
spool_envelope_rpriority(const struct spool_envelope *env, size_t i)
{
	return env->rprio != NULL && i < env->nalloc_rprio && env->rprio[i] ?
	    env->rprio[i] - 1 : spool_envelope_priority(env);
}

void
spool_envelope_set_rpriority(struct spool_envelope *env, size_t i,
    int priority)
{
	env->rprio = xreallocarray(env->rprio, env->nrcpts, 1);
	for (size_t k = env->nalloc_rprio; k < env->nrcpts; k++)
		env->rprio[k] = 0;
	env->nalloc_rprio = env->nrcpts;
	env->rprio[i] = (unsigned char)(1 + (priority < 0 ? 0 :
	    priority > 100 ? 100 : priority));
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
	free(env->rprio);
	free(env->envid);
	free(env->jobid);
	free(env->auth_user);
	free(env->pickup);
	free(env->orig);
	free(env->srcmta);
	free(env->vmta);
	memset(env, 0, sizeof(*env));
}
