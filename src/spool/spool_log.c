/*
 * spool_log: the envelope log's segments (see spool.h for the layout).
 *
 * The loop thread owns the segment table: which segment new messages
 * go to, how many of each segment's messages are still live, the open
 * done-lists.  The sync thread only appends records (spool_log_append).
 *
 * A segment is deleted (log, done-list and body directory) once it is
 * not the current one, nothing is being written to it and its last
 * message was removed.  A segment pinned by a few long-lived messages
 * (deferred for days) is compacted instead: when fewer than a quarter
 * of its records are live, it is rewritten with only those, and its
 * done-list with only their finished recipients.  The new log replaces
 * the old with one rename, so a crash leaves either the old or the new
 * log, never a mix; the done-list is replaced after the log, so a crash
 * in between keeps the old, longer done-list, which is still right.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "spool/spool_private.h"

static uint32_t spool_crc_table[256];

uint32_t
spool_crc32(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint32_t crc = 0xffffffffu;

	if (spool_crc_table[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;
			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			spool_crc_table[i] = v;
		}
	while (n-- > 0)
		crc = spool_crc_table[(crc ^ *c++) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

void
spool_seg_name(char *buf, size_t size, unsigned no, const char *suffix)
{
	snprintf(buf, size, "%08x%s", no, suffix);
}

/* The record's frame around an envelope text ending in "\n\n". */
static char *
spool_log_frame(const char *text, size_t text_len, size_t *len)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "M %zu %08" PRIx32 "\n", text_len,
	    spool_crc32(text, text_len));
	char *rec = xmalloc((size_t)n + text_len);

	memcpy(rec, head, (size_t)n);
	memcpy(rec + n, text, text_len);
	*len = (size_t)n + text_len;
	return rec;
}

char *
spool_log_record_text(const char *text, size_t text_len, const char *key,
    off_t off, off_t size, size_t *len)
{
	struct buf b;
	char *rec;

	/* the envelope text ends with its empty line: insert the key first */
	buf_init(&b, SPOOL_RECORD_MAX);
	(void)buf_append(&b, text, text_len - 1);
	(void)buf_printf(&b, "%s %lld %lld\n\n", key, (long long)off,
	    (long long)size);
	rec = spool_log_frame(b.data, b.len, len);
	buf_free(&b);
	return rec;
}

void
spool_image_append(struct buf *b, const char *text, size_t text_len,
    const char *body, size_t body_len)
{
	(void)buf_append(b, text, text_len - 1);
	(void)buf_printf(b, SPOOL_IMAGE_FMT "\n",
	    (long long)(text_len + SPOOL_IMAGE_LINE), (long long)body_len);
	(void)buf_append(b, body, body_len);
}

static int
spool_write_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Open log/<no><suffix> for appending into *fd; *created when it was
 * empty (its magic is to be written, its name synced). */
static int
spool_log_open(int dirfd, unsigned no, const char *suffix, int *fd,
    off_t *end)
{
	char name[64];

	if (*fd == -1) {
		spool_seg_name(name, sizeof(name), no, suffix);
		*fd = openat(dirfd, name, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
		    0640);
		if (*fd == -1)
			return -1;
	}
	if ((*end = lseek(*fd, 0, SEEK_END)) == -1)
		return -1;
	return 0;
}

int
spool_data_append(int dirfd, unsigned no, int *fd, const char *p, size_t n,
    bool sync, off_t *off)
{
	off_t end;
	size_t m = strlen(SPOOL_DATA_MAGIC);

	if (spool_log_open(dirfd, no, ".data", fd, &end) == -1)
		return -1;
	*off = end == 0 ? (off_t)m : end;
	if (end == 0 && spool_write_full(*fd, SPOOL_DATA_MAGIC, m) == -1)
		goto cut;
	if (spool_write_full(*fd, p, n) == -1 || (sync && fdatasync(*fd) == -1))
		goto cut;
	/* a new file's name must be durable too (once per segment) */
	if (end == 0 && fsync(dirfd) == -1)
		goto cut;
	return 0;
cut:
	{
		int e = errno;
		if (ftruncate(*fd, end) == -1)
			log_warn("spool: cannot cut data file %08x back", no);
		errno = e;
	}
	return -1;
}

int
spool_log_append(int dirfd, unsigned no, int *fd, const char *p, size_t n)
{
	off_t end;

	if (spool_log_open(dirfd, no, "", fd, &end) == -1)
		return -1;
	if (end == 0 && spool_write_full(*fd, SPOOL_LOG_MAGIC,
	    strlen(SPOOL_LOG_MAGIC)) == -1)
		goto cut;
	if (spool_write_full(*fd, p, n) == -1 || fdatasync(*fd) == -1 ||
	    (end == 0 && fsync(dirfd) == -1))
		goto cut;
	return 0;
cut:
	/* never leave half a record for later records to follow */
	{
		int e = errno;
		if (ftruncate(*fd, end) == -1)
			log_warn("spool: cannot cut log segment %08x back", no);
		errno = e;
	}
	return -1;
}

struct spool_seg *
spool_seg_find(struct spool *s, unsigned no)
{
	size_t lo = 0, hi = s->nsegs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->segs[mid].no == no)
			return &s->segs[mid];
		if (s->segs[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct spool_seg *
spool_seg_add(struct spool *s, unsigned no)
{
	struct spool_seg *g;
	size_t i;

	if ((g = spool_seg_find(s, no)) != NULL)
		return g;
	if (s->nsegs == s->nalloc) {
		s->nalloc = s->nalloc ? s->nalloc * 2 : 16;
		s->segs = xreallocarray(s->segs, s->nalloc, sizeof(*s->segs));
	}
	for (i = s->nsegs; i > 0 && s->segs[i - 1].no > no; i--)
		s->segs[i] = s->segs[i - 1];
	g = &s->segs[i];
	memset(g, 0, sizeof(*g));
	g->no = no;
	g->done_fd = -1;
	g->log_fd = -1;
	g->data_fd = -1;
	g->created = time(NULL);
	s->nsegs++;
	return g;
}

struct spool_seg *
spool_seg_current(struct spool *s, const char **error_r)
{
	struct spool_seg *g = s->cur_open ? spool_seg_find(s, s->cur) : NULL;
	char name[64];

	if (g != NULL && g->bytes < s->seg_bytes &&
	    g->data_bytes / SPOOL_DATA_FACTOR < s->seg_bytes &&
	    (g->total + g->pending == 0 || time(NULL) - g->created < SPOOL_SEG_AGE))
		return g;
	if (g != NULL) {
		s->cur++;
		spool_seg_reclaim(s, g->no);	/* it may be finished already */
	}
	spool_seg_name(name, sizeof(name), s->cur, "");
	if (mkdirat(s->msg_dirfd, name, 0750) == -1 && errno != EEXIST) {
		*error_r = strerror(errno);
		s->cur_open = false;
		return NULL;
	}
	s->cur_open = true;
	return spool_seg_add(s, s->cur);
}

void
spool_seg_committed(struct spool *s, unsigned no)
{
	struct spool_seg *g = spool_seg_find(s, no);

	g->pending--;
	g->live++;
	g->total++;
	s->live++;
}

void
spool_seg_aborted(struct spool *s, unsigned no)
{
	struct spool_seg *g = spool_seg_find(s, no);

	if (g == NULL)
		return;
	g->pending--;
	spool_seg_reclaim(s, no);
}

void
spool_seg_released(struct spool *s, unsigned no)
{
	struct spool_seg *g = spool_seg_find(s, no);

	if (g == NULL || g->live == 0)
		return;
	g->live--;
	s->live--;
	spool_seg_reclaim(s, no);
}

/* Remove a segment's body directory with whatever is left in it. */
static void
spool_seg_rmdir(struct spool *s, unsigned no)
{
	char name[64];
	struct dirent *de;
	DIR *d;
	int fd;

	spool_seg_name(name, sizeof(name), no, "");
	if ((fd = openat(s->msg_dirfd, name, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(void)unlinkat(fd, de->d_name, 0);
	closedir(d);
	(void)unlinkat(s->msg_dirfd, name, AT_REMOVEDIR);
}

static void
spool_seg_delete(struct spool *s, struct spool_seg *g)
{
	unsigned no = g->no;
	char name[64];
	size_t i = (size_t)(g - s->segs);

	if (g->done_fd != -1)
		close(g->done_fd);
	if (g->log_fd != -1)
		close(g->log_fd);
	if (g->data_fd != -1)
		close(g->data_fd);
	spool_seg_name(name, sizeof(name), no, "");
	(void)unlinkat(s->log_dirfd, name, 0);
	spool_seg_name(name, sizeof(name), no, ".done");
	(void)unlinkat(s->log_dirfd, name, 0);
	spool_seg_name(name, sizeof(name), no, ".data");
	(void)unlinkat(s->log_dirfd, name, 0);
	spool_seg_rmdir(s, no);
	memmove(&s->segs[i], &s->segs[i + 1],
	    (s->nsegs - i - 1) * sizeof(*s->segs));
	s->nsegs--;
}

struct spool_compact {
	struct buf	log, done;
	size_t		live;
};

char *
spool_log_record_env(const struct spool_envelope *env, size_t *len)
{
	struct buf text;
	char *rec;

	buf_init(&text, SPOOL_RECORD_MAX);
	spool_envelope_format(env, &text);
	rec = spool_log_record_text(text.data, text.len,
	    env->body_in_data ? "data" : "body", env->body_offset,
	    env->body_size, len);
	buf_free(&text);
	return rec;
}

static void
spool_compact_one(struct spool_envelope *env, const bool *done, void *arg)
{
	struct spool_compact *c = arg;
	size_t len;
	char *rec = spool_log_record_env(env, &len);

	(void)buf_append(&c->log, rec, len);
	free(rec);
	if (env->first_attempt > 0)
		(void)buf_printf(&c->done, "%s @ %lld\n", env->id,
		    (long long)env->first_attempt);
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (done[i])
			(void)buf_printf(&c->done, "%s %zu\n", env->id, i);
		else if (env->rprio != NULL && i < env->nalloc_rprio &&
		    env->rprio[i] != 0)
			(void)buf_printf(&c->done, "%s %zu %d\n", env->id, i,
			    env->rprio[i] - 1);
	}
	c->live++;
}

/* Write `b` to `name`.tmp durably and rename it over `name`. */
static int
spool_replace(int dirfd, const char *name, const struct buf *b)
{
	char tmp[80];
	int fd, r = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) == -1)
		return -1;
	if (spool_write_full(fd, b->data ? b->data : "", b->len) == 0 &&
	    fdatasync(fd) == 0 && renameat(dirfd, tmp, dirfd, name) == 0 &&
	    fsync(dirfd) == 0)
		r = 0;
	close(fd);
	if (r == -1)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

/* Rewrite segment g with only its live records (on the loop: the
 * done-list cannot grow meanwhile). */
static void
spool_seg_compact(struct spool *s, struct spool_seg *g)
{
	struct spool_compact c;
	char name[64];
	bool damaged = false;

	memset(&c, 0, sizeof(c));
	buf_init(&c.log, (size_t)1 << 40);
	buf_init(&c.done, (size_t)1 << 40);
	(void)buf_puts(&c.log, SPOOL_LOG_MAGIC);
	if (spool_seg_read(s, g->no, spool_compact_one, &c, &damaged) < 0 ||
	    damaged || c.log.err || c.done.err) {
		/* leave a damaged segment as it is, for the operator */
		g->total = g->live;
		goto out;
	}
	spool_seg_name(name, sizeof(name), g->no, "");
	if (spool_replace(s->log_dirfd, name, &c.log) == -1) {
		log_warn("spool: cannot compact log segment %08x", g->no);
		goto out;
	}
	if (g->done_fd != -1)
		close(g->done_fd);
	if (g->log_fd != -1)
		close(g->log_fd);
	g->done_fd = g->log_fd = -1;
	spool_seg_name(name, sizeof(name), g->no, ".done");
	if (spool_replace(s->log_dirfd, name, &c.done) == -1)
		log_warn("spool: cannot compact %s", name);
	log_debug("spool: log segment %08x compacted from %zu to %zu records",
	    g->no, g->total, c.live);
	g->total = c.live;
out:
	buf_free(&c.log);
	buf_free(&c.done);
}

void
spool_seg_reclaim(struct spool *s, unsigned no)
{
	struct spool_seg *g = spool_seg_find(s, no);

	if (g == NULL || (s->cur_open && no == s->cur) || g->pending > 0)
		return;
	if (g->live == 0)
		spool_seg_delete(s, g);
	else if (g->total >= 16 && g->live * 4 < g->total)
		spool_seg_compact(s, g);
}

void
spool_segs_free(struct spool *s)
{
	for (size_t i = 0; i < s->nsegs; i++) {
		if (s->segs[i].done_fd != -1)
			close(s->segs[i].done_fd);
		if (s->segs[i].log_fd != -1)
			close(s->segs[i].log_fd);
		if (s->segs[i].data_fd != -1)
			close(s->segs[i].data_fd);
	}
	free(s->segs);
	s->segs = NULL;
	s->nsegs = s->nalloc = 0;
}

/* Append one line to segment seg's done-list. */
static int
spool_done_line(struct spool *s, unsigned seg, const char *line, size_t n)
{
	struct spool_seg *g = spool_seg_find(s, seg);
	char name[64];
	int fd, r;

	if (g == NULL) {
		errno = ENOENT;
		return -1;
	}
	if ((fd = g->done_fd) == -1) {
		spool_seg_name(name, sizeof(name), g->no, ".done");
		fd = openat(s->log_dirfd, name, O_WRONLY | O_APPEND |
		    O_CREAT | O_CLOEXEC, 0640);
		if (fd == -1)
			return -1;
	}
	r = spool_write_full(fd, line, n);
	if (g->done_fd == -1 && g->no + SPOOL_DONE_OPEN > s->cur)
		g->done_fd = fd;	/* a recent segment: keep it open */
	else if (g->done_fd == -1)
		close(fd);
	return r;
}

int
spool_mark_done(struct spool *s, unsigned seg, const char *id, size_t idx)
{
	char line[SPOOL_ID_MAX + 32];
	int n;

	if (idx == SPOOL_DONE_ALL)
		n = snprintf(line, sizeof(line), "%s *\n", id);
	else
		n = snprintf(line, sizeof(line), "%s %zu\n", id, idx);
	return spool_done_line(s, seg, line, (size_t)n);
}

int
spool_set_first_attempt(struct spool *s, unsigned seg, const char *id,
    time_t when)
{
	char line[SPOOL_ID_MAX + 48];
	int n = snprintf(line, sizeof(line), "%s @ %lld\n", id, (long long)when);

	return spool_done_line(s, seg, line, (size_t)n);
}

int
spool_set_priority(struct spool *s, unsigned seg, const char *id, size_t idx,
    int priority)
{
	char line[SPOOL_ID_MAX + 48];
	int n = snprintf(line, sizeof(line), "%s %zu %d\n", id, idx, priority);

	return spool_done_line(s, seg, line, (size_t)n);
}

int
spool_remove(struct spool *s, unsigned seg, const char *id, bool in_data)
{
	char name[SPOOL_ID_MAX + 32];
	int r = 0;

	/* "*": every recipient finished; the record is dead from now on
	 * (a message of no known segment has no record to finish) */
	if (spool_seg_find(s, seg) != NULL &&
	    spool_mark_done(s, seg, id, SPOOL_DONE_ALL) == -1)
		r = -1;
	snprintf(name, sizeof(name), "%08x/%s", seg, id);
	if (!in_data && unlinkat(s->msg_dirfd, name, 0) == -1 &&
	    errno != ENOENT)
		r = -1;
	spool_seg_released(s, seg);
	return r;
}

int
spool_open_message(struct spool *s, const struct spool_envelope *env)
{
	char name[SPOOL_ID_MAX + 32];

	if (env->body_in_data) {
		spool_seg_name(name, sizeof(name), env->seg, ".data");
		return openat(s->log_dirfd, name, O_RDONLY | O_CLOEXEC);
	}
	snprintf(name, sizeof(name), "%08x/%s", env->seg, env->id);
	return openat(s->msg_dirfd, name, O_RDONLY | O_CLOEXEC);
}

/* Parse text (header_len bytes read from fd at start) as the envelope of
 * id; 0 or -1 with errno. */
static int
spool_read_text(int fd, off_t start, size_t header_len, const char *id,
    struct spool_envelope *env)
{
	char *text = xmalloc(header_len + 1);
	ssize_t n;
	int r = -1;

	if ((n = pread(fd, text, header_len, start)) == (ssize_t)header_len) {
		text[header_len] = '\0';
		if (spool_env_parse(text, env) == 0 && strcmp(env->id, id) == 0)
			r = 0;
		else {
			spool_envelope_free(env);
			errno = EINVAL;
		}
	} else if (n >= 0)
		errno = EINVAL;
	free(text);
	return r;
}

/* The envelope of an image in the data file whose body starts at body:
 * the fixed-width image line just before the body gives its place. */
static int
spool_read_image(struct spool *s, unsigned seg, const char *id, off_t body,
    struct spool_envelope *env)
{
	char name[64], line[SPOOL_IMAGE_LINE + 2];
	long long hlen, bsize;
	struct stat st;
	int fd, r = -1;

	spool_seg_name(name, sizeof(name), seg, ".data");
	if ((fd = openat(s->log_dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	errno = EINVAL;
	if (body < (off_t)(SPOOL_IMAGE_LINE + 1 + strlen(SPOOL_DATA_MAGIC)) ||
	    pread(fd, line, SPOOL_IMAGE_LINE + 1, body - SPOOL_IMAGE_LINE - 1) !=
	    SPOOL_IMAGE_LINE + 1)
		goto out;
	line[SPOOL_IMAGE_LINE + 1] = '\0';
	if (sscanf(line, "image %12lld %12lld\n", &hlen, &bsize) != 2 ||
	    line[SPOOL_IMAGE_LINE - 1] != '\n' || line[SPOOL_IMAGE_LINE] != '\n' ||
	    hlen < SPOOL_IMAGE_LINE + 2 || hlen > SPOOL_RECORD_MAX ||
	    hlen > body || bsize < 0)
		goto out;
	if (fstat(fd, &st) == -1)
		goto out;
	if (st.st_size - body < bsize) {
		errno = EIO;	/* cut short: the body is not all there */
		goto out;
	}
	if (spool_read_text(fd, body - hlen, (size_t)hlen, id, env) == -1)
		goto out;
	env->body_offset = body;
	env->body_size = (off_t)bsize;
	env->body_in_data = true;
	r = 0;
out:
	{
		int e = errno;
		close(fd);
		errno = e;
	}
	return r;
}

int
spool_read_envelope(struct spool *s, unsigned seg, const char *id,
    size_t header_len, struct spool_envelope *env)
{
	char name[SPOOL_ID_MAX + 32];
	struct stat st;
	int fd, r = -1, e;

	memset(env, 0, sizeof(*env));
	if (header_len < 2) {
		errno = EINVAL;
		return -1;
	}
	snprintf(name, sizeof(name), "%08x/%s", seg, id);
	if ((fd = openat(s->msg_dirfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		/* no body file: the body is in the segment's data file */
		if (errno != ENOENT ||
		    spool_read_image(s, seg, id, (off_t)header_len, env) == -1)
			return -1;
		env->seg = seg;
		return 0;
	}
	if (header_len > SPOOL_RECORD_MAX)
		errno = EINVAL;
	else if (fstat(fd, &st) == 0 &&
	    spool_read_text(fd, 0, header_len, id, env) == 0) {
		env->seg = seg;
		env->body_offset = (off_t)header_len;
		env->body_size = st.st_size - (off_t)header_len;
		r = 0;
	}
	e = errno;
	close(fd);
	errno = e;
	return r;
}

size_t
spool_live(const struct spool *s)
{
	return s->live;
}

size_t
spool_segments(const struct spool *s)
{
	return s->nsegs;
}

void
spool_set_segment_bytes(struct spool *s, size_t bytes)
{
	s->seg_bytes = bytes;
}
