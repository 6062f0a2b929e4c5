/*
 * Unit tests for bodies in segments: small bodies go to the segment's
 * data file (log/<seg>.data) and big ones to their own file, both in one
 * group-commit batch; recovery with an orphan tail in the data file, a
 * data file without a log, a data file cut short; compaction of a
 * segment whose bodies are in its data file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ev.h>

#include "spool/spool.h"
#include "tap.h"
#include "testutil.h"

#define NMSG		6	/* of the batch: 0, 2, 4 small; 1, 3, 5 big */
#define NSEG		100	/* of the compaction test */
#define BIG		(SPOOL_BODY_MEM_MAX + 5000)

static char *rcpts[] = { "a@x.test", "b@y.test" };

struct commits {
	int	n;
	int	err;
};

static void
on_commit(void *arg, int error)
{
	struct commits *c = arg;

	c->n++;
	if (error != 0)
		c->err = error;
}

struct found {
	int		 count;
	char		 ids[NSEG + NMSG][SPOOL_ID_MAX];
	bool		 in_data[NSEG + NMSG];
	long long	 off[NSEG + NMSG], size[NSEG + NMSG];
};

static void
on_msg(const struct spool_envelope *env, const bool *done, void *arg)
{
	struct found *f = arg;

	(void)done;
	if (f->count >= NSEG + NMSG)
		return;
	snprintf(f->ids[f->count], SPOOL_ID_MAX, "%s", env->id);
	f->in_data[f->count] = env->body_in_data;
	f->off[f->count] = (long long)env->body_offset;
	f->size[f->count++] = (long long)env->body_size;
}

static int
found_at(const struct found *f, const char *id)
{
	for (int i = 0; i < f->count; i++)
		if (strcmp(f->ids[i], id) == 0)
			return i;
	return -1;
}

static void
env_init(struct spool_envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->orig = "sender@example.org";
	env->srcmta = "client (127.0.0.1)";
	env->rcpts = rcpts;
	env->nrcpts = 2;
}

/* Message i's body: small or big, its bytes telling it apart. */
static size_t
body_of(int i, bool big, char *buf)
{
	size_t n = big ? BIG : 5000 + (size_t)i;
	int h = snprintf(buf, 64, "Subject: m%d\r\n\r\n", i);

	for (size_t k = (size_t)h; k < n; k++)
		buf[k] = (char)('a' + (k + (size_t)i) % 26);
	return n;
}

/* Its body reads back where the envelope says, and its envelope too. */
static bool
reads_back(struct spool *s, const struct spool_envelope *env, const char *body,
    size_t len)
{
	struct spool_envelope back;
	char *got = malloc(len);
	bool r = false;
	int fd;

	if ((fd = spool_open_message(s, env)) != -1 && got != NULL &&
	    env->body_size == (off_t)len &&
	    pread(fd, got, len, env->body_offset) == (ssize_t)len &&
	    memcmp(got, body, len) == 0 &&
	    spool_read_envelope(s, env->seg, env->id, (size_t)env->body_offset,
	    &back) == 0) {
		r = back.body_in_data == env->body_in_data &&
		    back.body_offset == env->body_offset &&
		    back.body_size == env->body_size &&
		    strcmp(back.orig, env->orig) == 0 && back.nrcpts == 2;
		spool_envelope_free(&back);
	}
	if (fd != -1)
		close(fd);
	free(got);
	return r;
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int
main(void)
{
	char dir[] = "/tmp/tern-test-spool-data-XXXXXX", path[512];
	static struct spool_envelope envs[NMSG], segenvs[NSEG];
	static struct spool_writer ws[NMSG];
	static char bodies[NMSG][BIG], buf[BIG];
	struct spool_envelope back;
	size_t lens[NMSG];
	struct ev_loop *loop = ev_loop_new(0);
	struct commits c = { 0, 0 };
	struct found f;
	struct spool_writer w;
	struct spool *s;
	const char *err;
	long long size;
	unsigned seg;
	int fd, last;
	bool all;
	FILE *fp;

	if (mkdtemp(dir) == NULL || loop == NULL)
		return 1;

	/* one batch of small and big messages, through the sync thread */
	s = spool_open(dir, &err);
	memset(&f, 0, sizeof(f));
	is_int(spool_scan(s, on_msg, &f), 0, "an empty spool");
	ok(spool_sync_start(s, loop, &err) == 0, "the sync thread starts");
	all = true;
	for (int i = 0; i < NMSG; i++) {
		env_init(&envs[i]);
		lens[i] = body_of(i, i % 2 == 1, bodies[i]);
		all &= spool_writer_begin(s, &envs[i], &ws[i], &err) == 0;
	}
	/* written in turns, as sessions do, in 4 KB pieces */
	for (size_t off = 0; off < BIG; off += 4096)
		for (int i = 0; i < NMSG; i++)
			if (off < lens[i])
				all &= spool_writer_write(&ws[i], bodies[i] + off,
				    lens[i] - off < 4096 ? lens[i] - off : 4096) == 0;
	for (int i = 0; i < NMSG; i++) {
		envs[i].body_size = ws[i].size - envs[i].body_offset;
		spool_writer_commit_async(s, &ws[i], &envs[i], on_commit, &c);
	}
	while (c.n < NMSG)
		ev_run(loop, EVRUN_ONCE);
	ok(all && c.err == 0, "%d messages written and committed", NMSG);
	seg = envs[0].seg;
	ok(envs[0].body_in_data && envs[2].body_in_data && envs[4].body_in_data,
	    "the small bodies are in the data file");
	ok(!envs[1].body_in_data && !envs[3].body_in_data && !envs[5].body_in_data,
	    "the big ones (over SPOOL_BODY_MEM_MAX) are not");
	snprintf(path, sizeof(path), "%s/msg/%08x", dir, seg);
	is_int(test_count_entries(path), 3, "they have their own files");
	all = true;
	for (int i = 0; i < NMSG; i++)
		all &= reads_back(s, &envs[i], bodies[i], lens[i]);
	ok(all, "every body and envelope reads back at its place");
	snprintf(path, sizeof(path), "%s/log/%08x.data", dir, seg);
	fd = open(path, O_RDONLY);
	memset(buf, 0, 64);
	ok(fd != -1 && pread(fd, buf, 25, 0) == 25 &&
	    memcmp(buf, "TERN-DATA 1\nTERN-SPOOL 1\n", 25) == 0,
	    "the data file starts with its magic and then an envelope");
	memset(buf, 0, 64);
	ok(fd != -1 && pread(fd, buf, 6, envs[0].body_offset - 33) == 6 &&
	    memcmp(buf, "image ", 6) == 0,
	    "the image line is just before the body");
	if (fd != -1)
		close(fd);
	spool_sync_stop(s);
	spool_close(s);

	/* an orphan tail: an image whose record never made it */
	size = file_size(path);
	fp = fopen(path, "a");
	fprintf(fp, "TERN-SPOOL 1\nid orphan.1\nqueued 1700000000\n"
	    "from o@x.test\nsrcmta c (127.0.0.1)\nrcpt p@x.test\n"
	    "image 000000000093 000000000006\n\nbody\r\n");
	fclose(fp);
	/* and a data file whose log was never written */
	snprintf(path, sizeof(path), "%s/log/%08x.data", dir, seg + 7);
	fp = fopen(path, "w");
	fprintf(fp, "TERN-DATA 1\n");
	fclose(fp);
	s = spool_open(dir, &err);
	memset(&f, 0, sizeof(f));
	is_int(spool_scan(s, on_msg, &f), NMSG, "recovery finds the %d messages",
	    NMSG);
	all = found_at(&f, "orphan.1") == -1;
	for (int i = 0; i < NMSG; i++) {
		int k = found_at(&f, envs[i].id);
		all &= k != -1 && f.in_data[k] == envs[i].body_in_data &&
		    f.off[k] == envs[i].body_offset &&
		    f.size[k] == (long long)lens[i];
	}
	ok(all, "with their bodies' places, and not the orphan image");
	ok(access(path, F_OK) == -1, "a data file without a log is removed");
	snprintf(path, sizeof(path), "%s/log/%08x.data", dir, seg);
	ok(file_size(path) > size, "the orphan tail is left alone");
	all = true;
	for (int i = 0; i < NMSG; i++)
		all &= reads_back(s, &envs[i], bodies[i], lens[i]);
	ok(all, "every message still reads back");
	env_init(&back);
	ok(spool_writer_begin(s, &back, &w, &err) == 0 && back.seg > seg,
	    "after a restart new messages go to a new segment");
	spool_writer_abort(&w);
	spool_close(s);

	/* the data file cut short in the last small body */
	last = envs[4].body_offset > envs[2].body_offset ? 4 : 2;
	if (envs[0].body_offset > envs[last].body_offset)
		last = 0;
	if (truncate(path, envs[last].body_offset + 10) == -1)
		return 1;
	s = spool_open(dir, &err);
	memset(&f, 0, sizeof(f));
	is_int(spool_scan(s, on_msg, &f), NMSG - 1,
	    "recovery with the data file cut short: one message less");
	ok(found_at(&f, envs[last].id) == -1,
	    "the one whose body is cut is dropped, as a missing body file is");
	errno = 0;
	ok(spool_read_envelope(s, seg, envs[last].id,
	    (size_t)envs[last].body_offset, &back) == -1 && errno == EIO,
	    "its envelope does not read back (EIO)");
	all = true;
	for (int i = 0; i < NMSG; i++)
		if (i != last)
			all &= reads_back(s, &envs[i], bodies[i], lens[i]);
	ok(all, "the others still read back");
	for (int i = 0; i < NMSG; i++)
		if (i != last)
			(void)spool_remove(s, envs[i].seg, envs[i].id,
			    envs[i].body_in_data);
	ok(access(path, F_OK) == -1, "a finished segment's data file is deleted");
	spool_close(s);

	/* compaction: the log is rewritten, the data file kept */
	s = spool_open(dir, &err);
	memset(&f, 0, sizeof(f));
	(void)spool_scan(s, on_msg, &f);
	spool_set_segment_bytes(s, 8192);
	all = true;
	for (int i = 0; i < NSEG; i++) {
		size_t n;

		env_init(&segenvs[i]);
		n = (size_t)snprintf(buf, sizeof(buf), "Subject: %d\r\n\r\n%d\r\n",
		    i, i * 7);
		all &= spool_writer_begin(s, &segenvs[i], &w, &err) == 0 &&
		    spool_writer_write(&w, buf, n) == 0 &&
		    spool_writer_commit(s, &w, &segenvs[i], &err) == 0 &&
		    segenvs[i].body_in_data;
	}
	ok(all, "%d small messages committed without the sync thread", NSEG);
	seg = segenvs[0].seg;
	snprintf(path, sizeof(path), "%s/log/%08x", dir, seg);
	size = file_size(path);
	for (int i = 0; i < NSEG && segenvs[i].seg == seg; i++)
		if (i != 2 && i != 9)
			(void)spool_remove(s, seg, segenvs[i].id,
			    segenvs[i].body_in_data);
	ok(file_size(path) > 0 && file_size(path) < size / 4,
	    "the pinned segment's log is compacted (%lld -> %lld bytes)", size,
	    file_size(path));
	snprintf(path, sizeof(path), "%s/log/%08x.data", dir, seg);
	ok(file_size(path) > 0, "its data file is kept");
	spool_close(s);
	s = spool_open(dir, &err);
	memset(&f, 0, sizeof(f));
	(void)spool_scan(s, on_msg, &f);
	all = true;
	for (int i = 2; i <= 9; i += 7) {
		size_t n = (size_t)snprintf(buf, sizeof(buf),
		    "Subject: %d\r\n\r\n%d\r\n", i, i * 7);
		int k = found_at(&f, segenvs[i].id);

		all &= k != -1 && f.in_data[k] && f.off[k] ==
		    segenvs[i].body_offset &&
		    reads_back(s, &segenvs[i], buf, n);
	}
	ok(all, "after a restart its live messages read back from the data file");
	(void)spool_remove(s, seg, segenvs[2].id, segenvs[2].body_in_data);
	(void)spool_remove(s, seg, segenvs[9].id, segenvs[9].body_in_data);
	ok(access(path, F_OK) == -1,
	    "its last message finished, the data file goes with the segment");
	spool_close(s);

	for (int i = 0; i < NSEG; i++) {
		segenvs[i].rcpts = NULL;
		segenvs[i].nrcpts = 0;
		segenvs[i].orig = segenvs[i].srcmta = NULL;
		spool_envelope_free(&segenvs[i]);
	}
	for (int i = 0; i < NMSG; i++) {
		envs[i].rcpts = NULL;
		envs[i].nrcpts = 0;
		envs[i].orig = envs[i].srcmta = NULL;
		spool_envelope_free(&envs[i]);
	}
	back.rcpts = NULL;
	back.nrcpts = 0;
	back.orig = back.srcmta = NULL;
	spool_envelope_free(&back);
	ev_loop_destroy(loop);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
