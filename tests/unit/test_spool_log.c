/*
 * Unit tests for the spool's envelope log: segments rotate, a finished
 * segment is deleted, a mostly finished one is compacted and still
 * recovers exactly its live messages with their finished recipients,
 * and a message of the first layout (msg/<id> + .done) moves into the log.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool/spool.h"
#include "tap.h"
#include "testutil.h"

#define NMSG	100

struct found {
	int	count;
	char	ids[NMSG][SPOOL_ID_MAX];
	bool	done1[NMSG];	/* recipient 1 finished */
	int	prio[NMSG];
	int	rprio0[NMSG];	/* recipient 0's own priority */
	long long first[NMSG];	/* first delivery attempt */
};

static void
on_msg(const struct spool_envelope *env, const bool *done, void *arg)
{
	struct found *f = arg;

	if (f->count >= NMSG)
		return;
	snprintf(f->ids[f->count], SPOOL_ID_MAX, "%s", env->id);
	f->done1[f->count] = env->nrcpts > 1 && done[1];
	f->prio[f->count] = spool_envelope_priority(env);
	f->rprio0[f->count] = spool_envelope_rpriority(env, 0);
	f->first[f->count] = (long long)env->first_attempt;
	f->count++;
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == -1 ? -1 : (long long)st.st_size;
}

static bool
has_id(const struct found *f, const char *id)
{
	for (int i = 0; i < f->count; i++)
		if (strcmp(f->ids[i], id) == 0)
			return true;
	return false;
}

int
main(void)
{
	char dir[] = "/tmp/tern-test-spool-log-XXXXXX", path[512];
	char *rcpts[] = { "a@x.test", "b@y.test" };
	static struct spool_envelope envs[NMSG];
	struct spool_writer w;
	struct found f;
	struct spool *s;
	const char *err;
	long long before;
	unsigned seg0;
	bool ok_all = true;
	FILE *fp;

	if (mkdtemp(dir) == NULL)
		return 1;
	s = spool_open(dir, &err);
	is_int(spool_scan(s, on_msg, &f), 0, "an empty spool recovers nothing");
	spool_set_segment_bytes(s, 8192);
	for (int i = 0; i < NMSG; i++) {
		struct spool_envelope *env = &envs[i];

		env->orig = "sender@example.org";
		env->srcmta = "client (127.0.0.1)";
		env->rcpts = rcpts;
		env->nrcpts = 2;
		spool_envelope_set_priority(env, i % 101);
		ok_all &= spool_writer_begin(s, env, &w, &err) == 0 &&
		    spool_writer_write(&w, "Subject: x\r\n\r\nbody\r\n", 20) == 0 &&
		    spool_writer_commit(s, &w, env, &err) == 0;
	}
	ok(ok_all, "100 messages committed");
	seg0 = envs[0].seg;
	ok(envs[NMSG - 1].seg > seg0 + 1, "small segments rotate (%u..%u)",
	    seg0, envs[NMSG - 1].seg);
	is_int((long long)spool_live(s), NMSG, "100 live messages");

	/* finish every message of the first segment but two; mark
	 * recipient 1 of those two finished */
	snprintf(path, sizeof(path), "%s/log/%08x", dir, seg0);
	before = file_size(path);
	for (int i = 0; i < NMSG && envs[i].seg == seg0; i++) {
		if (i == 3 || i == 7)
			ok_all &= spool_mark_done(s, envs[i].seg, envs[i].id, 1) == 0 &&
			    spool_set_priority(s, envs[i].seg, envs[i].id, 0, 60) == 0 &&
			    spool_set_priority(s, envs[i].seg, envs[i].id, 0, 77) == 0 &&
			    spool_set_first_attempt(s, envs[i].seg, envs[i].id,
			    1700000300 + i) == 0 &&
			    spool_set_first_attempt(s, envs[i].seg, envs[i].id,
			    1700000200 + i) == 0;
		else
			ok_all &= spool_remove(s, envs[i].seg, envs[i].id,
			    envs[i].body_in_data) == 0;
	}
	ok(ok_all, "finished");
	ok(file_size(path) > 0 && file_size(path) < before / 4,
	    "the pinned segment was compacted (%lld -> %lld bytes)", before,
	    file_size(path));
	/* finish every message of the second segment: it goes */
	for (int i = 0; i < NMSG; i++)
		if (envs[i].seg == seg0 + 1)
			(void)spool_remove(s, envs[i].seg, envs[i].id,
			    envs[i].body_in_data);
	snprintf(path, sizeof(path), "%s/log/%08x", dir, seg0 + 1);
	ok(access(path, F_OK) == -1, "a finished segment's log is deleted");
	snprintf(path, sizeof(path), "%s/msg/%08x", dir, seg0 + 1);
	ok(access(path, F_OK) == -1, "and its body directory");
	ok(spool_set_first_attempt(s, envs[NMSG - 1].seg, envs[NMSG - 1].id,
	    1700000999) == 0, "a first attempt recorded in the current segment");
	spool_close(s);

	/* a message of the first layout, with a done-list */
	snprintf(path, sizeof(path), "%s/msg/old.1", dir);
	fp = fopen(path, "w");
	fprintf(fp, "TERN-SPOOL 1\nid old.1\nqueued 1700000000\nfrom o@x.test\n"
	    "srcmta c (127.0.0.1)\nrcpt p@x.test\nrcpt q@x.test\n\nbody\r\n");
	fclose(fp);
	snprintf(path, sizeof(path), "%s/msg/old.1.done", dir);
	fp = fopen(path, "w");
	fprintf(fp, "1\n");
	fclose(fp);

	memset(&f, 0, sizeof(f));
	s = spool_open(dir, &err);
	{
		int n = spool_scan(s, on_msg, &f), expect = 1, i;

		for (i = 0; i < NMSG; i++)
			expect += envs[i].seg > seg0 + 1;
		expect += 2;
		is_int(n, expect, "recovery finds the live messages and the old one");
	}
	ok(has_id(&f, envs[3].id) && has_id(&f, envs[7].id),
	    "the compacted segment's live messages are back");
	ok(!has_id(&f, envs[0].id) && !has_id(&f, envs[5].id),
	    "its finished ones are not");
	for (int i = 0; i < f.count; i++)
		if (strcmp(f.ids[i], envs[3].id) == 0)
			ok(f.done1[i] && f.prio[i] == 3 && f.rprio0[i] == 77,
			    "with its finished recipient, its priority and the "
			    "last priority set for a recipient (%d)", f.rprio0[i]);
	for (int i = 0; i < f.count; i++)
		if (strcmp(f.ids[i], envs[7].id) == 0)
			is_int(f.first[i], 1700000207, "the earliest first-attempt "
			    "time of a message survives compaction");
		else if (strcmp(f.ids[i], envs[NMSG - 1].id) == 0)
			is_int(f.first[i], 1700000999, "and a first attempt "
			    "in an uncompacted segment is read back");
		else if (strcmp(f.ids[i], envs[NMSG - 2].id) == 0)
			is_int(f.first[i], 0, "a message never attempted has none");
	ok(has_id(&f, "old.1"), "the first layout's message is moved into the log");
	for (int i = 0; i < f.count; i++)
		if (strcmp(f.ids[i], "old.1") == 0)
			ok(f.done1[i], "with its done-list");
	snprintf(path, sizeof(path), "%s/msg/old.1", dir);
	ok(access(path, F_OK) == -1, "the old file has moved");
	snprintf(path, sizeof(path), "%s/msg", dir);
	is_int(test_count_entries(path), (int)spool_segments(s),
	    "msg/ holds only segment directories");
	spool_close(s);

	for (int i = 0; i < NMSG; i++) {
		envs[i].rcpts = NULL;
		envs[i].nrcpts = 0;
		envs[i].orig = envs[i].srcmta = NULL;
		spool_envelope_free(&envs[i]);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
