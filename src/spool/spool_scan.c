/*
 * spool_scan: start-up recovery.  Reads every committed message's
 * envelope and its done-list back, so the queues can be rebuilt.  A file
 * that does not parse (unknown version, truncated header) is moved to
 * quarantine/ with a log line; it never stops the daemon.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "spool/spool.h"

#define SPOOL_HEADER_MAX	(16 * 1024 * 1024)

/* Parse one "key value" header line into env; -1 if it is malformed. */
static int
spool_scan_line(struct spool_envelope *env, const char *key, char *val)
{
	const char *errstr;

	if (strcmp(key, "id") == 0)
		strlcpy(env->id, val, sizeof(env->id));
	else if (strcmp(key, "queued") == 0) {
		env->queued = (time_t)strtonum(val, 0, (long long)1 << 40, &errstr);
		if (errstr != NULL)
			return -1;
	} else if (strcmp(key, "from") == 0) {
		free(env->orig);
		env->orig = xstrdup(val);
	} else if (strcmp(key, "srcmta") == 0) {
		free(env->srcmta);
		env->srcmta = xstrdup(val);
	} else if (strcmp(key, "vmta") == 0) {
		free(env->vmta);
		env->vmta = xstrdup(val);
	} else if (strcmp(key, "jobid") == 0) {
		free(env->jobid);
		env->jobid = xstrdup(val);
	} else if (strcmp(key, "envid") == 0) {
		free(env->envid);
		env->envid = xstrdup(val);
	} else if (strcmp(key, "ret") == 0) {
		env->ret = strcmp(val, "full") == 0 ? 2 : 1;
	} else if (strcmp(key, "rnotify") == 0 && env->nrcpts > 0) {
		long long bits = strtonum(val, 0, 255, &errstr);
		if (errstr != NULL)
			return -1;
		spool_envelope_set_notify(env, env->nrcpts - 1, (unsigned)bits);
	} else if (strcmp(key, "rorcpt") == 0 && env->nrcpts > 0) {
		spool_envelope_set_orcpt(env, env->nrcpts - 1, val);
	} else if (strcmp(key, "rvmta") == 0 && env->nrcpts > 0) {
		spool_envelope_set_rvmta(env, env->nrcpts - 1, val);
	} else if (strcmp(key, "priority") == 0) {
		long long prio = strtonum(val, 0, 100, &errstr);
		if (errstr != NULL)
			return -1;
		spool_envelope_set_priority(env, (int)prio);
	} else if (strcmp(key, "rcpt") == 0) {
		env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1,
		    sizeof(char *));
		env->rcpts[env->nrcpts++] = xstrdup(val);
	}
	/* unknown keys of the same version are ignored (forward compatible) */
	return 0;
}

static int
spool_scan_header(FILE *f, struct spool_envelope *env)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int version = -1;
	off_t off = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		char *sp;

		off += n;
		if (off > SPOOL_HEADER_MAX || line[n - 1] != '\n')
			break;
		line[--n] = '\0';
		if (version == -1) {
			if (sscanf(line, "TERN-SPOOL %d", &version) != 1 ||
			    version != SPOOL_FORMAT)
				break;
			continue;
		}
		if (n == 0) {
			env->body_offset = off;
			free(line);
			return env->id[0] && env->orig && env->srcmta &&
			    env->nrcpts > 0 ? 0 : -1;
		}
		if ((sp = strchr(line, ' ')) == NULL)
			sp = line + n;
		else
			*sp++ = '\0';
		if (spool_scan_line(env, line, sp) == -1)
			break;
	}
	free(line);
	return -1;
}

static void
spool_scan_done(const char *dir, const char *id, bool *done, size_t n)
{
	char path[4096], line[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/msg/%s.done", dir, id);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *errstr;
		long long i;

		line[strcspn(line, "\n")] = '\0';
		i = strtonum(line, 0, (long long)n - 1, &errstr);
		if (errstr == NULL)
			done[i] = true;
	}
	fclose(f);
}

static void
spool_quarantine(const char *dir, const char *name)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/msg/%s", dir, name);
	snprintf(to, sizeof(to), "%s/quarantine/%s", dir, name);
	if (rename(from, to) == -1)
		log_warn("spool: cannot quarantine %s", from);
	else
		log_warnx("spool: unreadable message file %s moved to %s", from, to);
}

static void
spool_clean_tmp(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/tmp/%s", dir, de->d_name);
		if (unlink(path) == 0)
			log_info("spool: removed unacknowledged %s", path);
	}
	closedir(d);
}

static int
spool_scan_one(const char *dir, const char *name, spool_scan_cb *cb, void *arg)
{
	struct spool_envelope env;
	char path[4096];
	bool *done;
	FILE *f;
	int r;

	memset(&env, 0, sizeof(env));
	snprintf(path, sizeof(path), "%s/msg/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	r = spool_scan_header(f, &env);
	if (r == 0 && strcmp(env.id, name) != 0)
		r = -1;
	if (r == 0 && fseeko(f, 0, SEEK_END) == 0)
		env.body_size = ftello(f) - env.body_offset;
	fclose(f);
	if (r == -1) {
		spool_envelope_free(&env);
		spool_quarantine(dir, name);
		return -1;
	}
	done = xcalloc(env.nrcpts, sizeof(bool));
	spool_scan_done(dir, env.id, done, env.nrcpts);
	cb(&env, done, arg);
	free(done);
	spool_envelope_free(&env);
	return 0;
}

int
spool_scan(struct spool *s, spool_scan_cb *cb, void *arg)
{
	const char *dir = spool_dir(s);
	char path[4096];
	struct dirent *de;
	int count = 0;
	DIR *d;

	spool_clean_tmp(dir);
	snprintf(path, sizeof(path), "%s/msg", dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' ||
		    (len > 5 && strcmp(de->d_name + len - 5, ".done") == 0))
			continue;
		if (spool_scan_one(dir, de->d_name, cb, arg) == 0)
			count++;
	}
	closedir(d);
	return count;
}
