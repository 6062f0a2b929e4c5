/*
 * Unit tests for spool: write, commit, read back with the done-list,
 * leftovers in tmp/ removed, unreadable files quarantined.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/spool.h"
#include "tap.h"
#include "testutil.h"

struct seen {
	int		count;
	char		orig[64];
	size_t		nrcpts;
	bool		done[4];
	long long	body_size;
	int		priority;
	char		rvmta[64];
	char		orcpt[64];
	char		auth_user[64];
};

static void
on_msg(const struct spool_envelope *env, const bool *done, void *arg)
{
	struct seen *s = arg;

	s->count++;
	snprintf(s->orig, sizeof(s->orig), "%s", env->orig);
	s->nrcpts = env->nrcpts;
	for (size_t i = 0; i < env->nrcpts && i < 4; i++)
		s->done[i] = done[i];
	s->body_size = (long long)env->body_size;
	s->priority = spool_envelope_priority(env);
	snprintf(s->rvmta, sizeof(s->rvmta), "%s",
	    spool_envelope_rvmta(env, 2) ? spool_envelope_rvmta(env, 2) : "-");
	snprintf(s->orcpt, sizeof(s->orcpt), "%s",
	    spool_envelope_orcpt(env, 0) ? spool_envelope_orcpt(env, 0) : "-");
	snprintf(s->auth_user, sizeof(s->auth_user), "%s",
	    env->auth_user ? env->auth_user : "-");
}

int
main(void)
{
	char dir[] = "/tmp/tern-test-spool-XXXXXX", path[512];
	char *rcpts[] = { "a@x.test", "b@y.test", "c@x.test" };
	struct spool_envelope env;
	struct spool_writer w;
	struct seen seen;
	struct spool *s;
	const char *err;
	static char big[SPOOL_BODY_MEM_MAX + 100];
	int fd;

	if (mkdtemp(dir) == NULL)
		return 1;
	s = spool_open(dir, &err);
	ok(s != NULL, "spool opens and creates its directories");
	memset(&env, 0, sizeof(env));
	env.orig = "sender@example.org";
	env.srcmta = "client (127.0.0.1)";
	env.auth_user = "alice";
	env.rcpts = rcpts;
	env.nrcpts = 3;
	is_int(spool_envelope_priority(&env), 50, "priority defaults to 50");
	spool_envelope_set_priority(&env, 90);
	spool_envelope_set_rvmta(&env, 2, "cold1");
	spool_envelope_set_orcpt(&env, 0, "rfc822;a@x.test");
	is_str(spool_envelope_rvmta(&env, 2), "cold1", "a recipient's VirtualMTA");
	ok(spool_envelope_rvmta(&env, 0) == NULL, "others have none");
	ok(spool_writer_begin(s, &env, &w, &err) == 0, "a message starts");
	ok(spool_writer_write(&w, "Subject: x\r\n\r\nbody\r\n", 20) == 0, "body written");
	ok(spool_writer_commit(s, &w, &env, &err) == 0, "commit succeeds");
	ok(env.body_in_data, "a small body goes to the segment's data file");
	snprintf(path, sizeof(path), "%s/msg/%08x", dir, env.seg);
	is_int(test_count_entries(path), 0, "no body file in msg/<segment>/");
	snprintf(path, sizeof(path), "%s/log/%08x.data", dir, env.seg);
	fd = open(path, O_RDONLY);
	ok(fd != -1 && pread(fd, big, 20, env.body_offset) == 20 &&
	    memcmp(big, "Subject: x\r\n\r\nbody\r\n", 20) == 0,
	    "the body is in log/<segment>.data at body_offset");
	if (fd != -1)
		close(fd);
	ok(spool_mark_done(s, env.seg, env.id, 1) == 0, "recipient 1 marked done");
	is_int((long long)spool_live(s), 1, "one live message");
	spool_close(s);

	/* a crash leftover: a body file whose record never made it */
	snprintf(path, sizeof(path), "%s/msg/%08x/leftover", dir, env.seg);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	/* a torn record at the end of the log */
	snprintf(path, sizeof(path), "%s/log/%08x", dir, env.seg);
	fd = open(path, O_WRONLY | O_APPEND);
	if (write(fd, "M 400 0badf00d\nTERN-SP", 23) != 23)
		return 1;
	close(fd);

	s = spool_open(dir, &err);
	memset(&seen, 0, sizeof(seen));
	is_int(spool_scan(s, on_msg, &seen), 1, "scan finds the one good message");
	is_str(seen.orig, "sender@example.org", "the envelope reads back");
	is_int((long long)seen.nrcpts, 3, "with its recipients");
	ok(!seen.done[0] && seen.done[1] && !seen.done[2], "and its done-list");
	is_int(seen.body_size, 20, "the body size is known");
	is_int(seen.priority, 90, "the priority reads back");
	is_str(seen.rvmta, "cold1", "the recipient's VirtualMTA reads back");
	is_str(seen.orcpt, "rfc822;a@x.test", "ORCPT reads back");
	is_str(seen.auth_user, "alice", "the SMTP AUTH user reads back");
	snprintf(path, sizeof(path), "%s/msg/%08x", dir, env.seg);
	is_int(test_count_entries(path), 0, "a body file without a record is removed");
	snprintf(path, sizeof(path), "%s/quarantine", dir);
	is_int(test_count_entries(path), 0, "a torn last record is not damage");
	spool_close(s);

	/* a damaged record in the middle of the log: the leftover is kept */
	snprintf(path, sizeof(path), "%s/msg/%08x/leftover2", dir, env.seg);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof(path), "%s/log/%08x", dir, env.seg);
	fd = open(path, O_WRONLY | O_APPEND);
	if (write(fd, "M 5 00000000\nabcd\n", 18) != 18)
		return 1;
	if (write(fd, "M 400 0badf00d\nTERN-SP", 23) != 23)
		return 1;
	close(fd);
	s = spool_open(dir, &err);
	memset(&seen, 0, sizeof(seen));
	is_int(spool_scan(s, on_msg, &seen), 1, "the good message is still found");
	ok(!seen.done[0] && seen.done[1] && !seen.done[2], "with its done-list");
	snprintf(path, sizeof(path), "%s/quarantine", dir);
	is_int(test_count_entries(path), 2, "a damaged record sends the leftover "
	    "to quarantine/, and a link to the segment's data file");

	fd = spool_open_message(s, &env);
	ok(fd != -1, "the message opens for delivery");
	close(fd);
	ok(spool_remove(s, env.seg, env.id, env.body_in_data) == 0, "remove");
	snprintf(path, sizeof(path), "%s/log", dir);
	is_int(test_count_entries(path), 0, "its finished segment is deleted");
	snprintf(path, sizeof(path), "%s/msg", dir);
	is_int(test_count_entries(path), 0, "with its body directory");

	ok(spool_writer_begin(s, &env, &w, &err) == 0, "another message starts");
	memset(big, 'x', sizeof(big));
	ok(spool_writer_write(&w, big, sizeof(big)) == 0, "a large body is written");
	snprintf(path, sizeof(path), "%s/msg/%08x", dir, w.seg);
	is_int(test_count_entries(path), 1, "it has its own body file");
	spool_writer_abort(&w);
	spool_envelope_set_priority(&env, 200);
	is_int(spool_envelope_priority(&env), 100, "priority is clamped to 100");
	free(env.rvmta[0]); free(env.rvmta[1]); free(env.rvmta[2]); free(env.rvmta);
	free(env.orcpt[0]); free(env.orcpt[1]); free(env.orcpt[2]); free(env.orcpt);
	is_int(test_count_entries(path), 0, "abort removes the body file");
	spool_close(s);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
