/*
 * spool_scan: start-up recovery.  Reads the envelope log's segments
 * (log/<seg> and log/<seg>.done) back, so the queues can be rebuilt
 * without opening a body file: one sequential read per segment.  A
 * record that does not check out (torn, damaged, unknown version) is
 * skipped with a log line and reading resumes at the next record; body
 * files without a live record are removed (never acknowledged, or
 * finished) or, in a segment with a damaged record, moved to
 * quarantine/ (its data file is linked there).  A record whose body is
 * not there (its body file gone, or its data file cut short before the
 * end of its body: one fstat per segment, no body is read) is dropped
 * with a log line.  Images past the last record of a data file were
 * never acknowledged and are left alone; a data file without a log goes.
 * Nothing here stops the daemon.
 *
 * Messages of the first layout (msg/<id> files with msg/<id>.done) are
 * moved into the log: record first, then the file, so a crash between
 * the two finds the file again at the next start.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "spool/spool_private.h"

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
	} else if (strcmp(key, "authuser") == 0) {
		free(env->auth_user);
		env->auth_user = xstrdup(val);
	} else if (strcmp(key, "envid") == 0) {
		free(env->envid);
		env->envid = xstrdup(val);
	} else if (strcmp(key, "nodsn") == 0) {
		env->no_dsn = true;
	} else if (strcmp(key, "verp") == 0) {
		env->verp = true;
	} else if (strcmp(key, "smtputf8") == 0) {
		env->smtputf8 = true;
	} else if (strcmp(key, "pickup") == 0) {
		free(env->pickup);
		env->pickup = xstrdup(val);
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
	} else if (strcmp(key, "body") == 0 || strcmp(key, "data") == 0) {
		long long off, size;
		if (sscanf(val, "%lld %lld", &off, &size) != 2 || off < 0 ||
		    size < 0)
			return -1;
		env->body_offset = (off_t)off;
		env->body_size = (off_t)size;
		env->body_in_data = key[0] == 'd';
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

int
spool_env_parse(char *text, struct spool_envelope *env)
{
	char *line = text, *nl;
	int version = -1;

	while ((nl = strchr(line, '\n')) != NULL) {
		char *sp;

		*nl = '\0';
		if (version == -1) {
			if (sscanf(line, "TERN-SPOOL %d", &version) != 1 ||
			    version != SPOOL_FORMAT)
				return -1;
		} else if (*line == '\0')
			return env->id[0] && env->orig && env->srcmta &&
			    env->nrcpts > 0 ? 0 : -1;
		else {
			if ((sp = strchr(line, ' ')) == NULL)
				sp = nl;
			else
				*sp++ = '\0';
			if (spool_scan_line(env, line, sp) == -1)
				return -1;
		}
		line = nl + 1;
	}
	return -1;
}

/* A whole file, NUL-terminated; NULL if it cannot be read. */
static char *
spool_slurp(int dirfd, const char *name, size_t *len)
{
	struct stat st;
	char *p;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (n = read(fd, p + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	p[got] = '\0';
	*len = got;
	return p;
}

/* A line of a done-list: a finished recipient ("<id> <index>" or
 * "<id> *"), a recipient's priority ("<id> <index> <priority>") or the
 * message's first delivery attempt ("<id> @ <time>"). */
struct spool_done {
	const char	*id;
	size_t		 idx;
	size_t		 line;		/* file order, for the last priority */
	int		 prio;		/* a priority line, or -1 */
	time_t		 first;		/* a first-attempt line, or 0 */
};

static int
spool_done_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spool_done *)a)->id,
	    ((const struct spool_done *)b)->id);
}

/* By id, then in file order. */
static int
spool_done_sort(const void *a, const void *b)
{
	const struct spool_done *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : x->line < y->line ? -1 : x->line > y->line;
}

/* Parse a done-list in place into an array sorted by id. */
static struct spool_done *
spool_done_parse(char *text, size_t *n)
{
	struct spool_done *d = NULL;
	size_t cap = 0;
	char *line = text, *nl;

	*n = 0;
	for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		char *sp = memchr(line, ' ', (size_t)(nl - line)), *pr;
		const char *errstr = NULL;
		long long idx, prio = -1, first = 0;

		*nl = '\0';
		if (sp == NULL)
			continue;
		*sp++ = '\0';
		if ((pr = strchr(sp, ' ')) != NULL) {
			*pr++ = '\0';
			if (strcmp(sp, "@") == 0)
				first = strtonum(pr, 1, LLONG_MAX, &errstr);
			else
				prio = strtonum(pr, 0, 100, &errstr);
		}
		if (errstr != NULL)
			continue;
		if (first > 0)
			idx = 0;
		else if (strcmp(sp, "*") == 0 && prio == -1)
			idx = -1;
		else if ((idx = strtonum(sp, 0, 1LL << 40, &errstr)), errstr)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			d = xreallocarray(d, cap, sizeof(*d));
		}
		d[*n].id = line;
		d[*n].idx = (size_t)idx;
		d[*n].line = *n;
		d[*n].first = (time_t)first;
		d[(*n)++].prio = (int)prio;
	}
	if (*n > 0)
		qsort(d, *n, sizeof(*d), spool_done_sort);
	return d;
}

/* Mark env's finished recipients in done[] and apply recorded priorities;
 * true when all are finished. */
static bool
spool_done_apply(const struct spool_done *d, size_t n,
    struct spool_envelope *env, bool *done)
{
	struct spool_done key = { env->id, 0, 0, -1, 0 };
	const struct spool_done *hit = n ? bsearch(&key, d, n, sizeof(*d),
	    spool_done_cmp) : NULL;
	size_t left = env->nrcpts;

	if (hit == NULL)
		return false;
	while (hit > d && strcmp(hit[-1].id, env->id) == 0)
		hit--;
	for (; hit < d + n && strcmp(hit->id, env->id) == 0; hit++) {
		if (hit->first > 0) {	/* the earliest, should there be two */
			if (env->first_attempt == 0 ||
			    hit->first < env->first_attempt)
				env->first_attempt = hit->first;
			continue;
		}
		if (hit->prio >= 0) {
			if (hit->idx < env->nrcpts)
				spool_envelope_set_rpriority(env, hit->idx,
				    hit->prio);
			continue;
		}
		if (hit->idx == SPOOL_DONE_ALL)
			return true;
		if (hit->idx < env->nrcpts && !done[hit->idx]) {
			done[hit->idx] = true;
			left--;
		}
	}
	return left == 0;
}

/*
 * The next record at *pos: 1 and env filled, 0 at the end, -1 damaged
 * (*pos then moves to the next record header).  A bad record with no
 * record after it is the torn tail of a crash (never acknowledged): the
 * end, not damage.
 */
static int
spool_record_next(char *log, size_t len, size_t *pos,
    struct spool_envelope *env)
{
	char *p = log + *pos, *nl, *text, *next, head[64];
	unsigned long long tlen;
	unsigned crc;
	char save;

	if (*pos >= len)
		return 0;
	/* sscanf would strlen() the whole rest of the log: copy the line */
	if ((nl = memchr(p, '\n', len - *pos)) == NULL ||
	    (size_t)(nl - p) >= sizeof(head))
		goto bad;
	memcpy(head, p, (size_t)(nl - p));
	head[nl - p] = '\0';
	if (sscanf(head, "M %llu %8x", &tlen, &crc) != 2 ||
	    tlen > len - (size_t)(nl + 1 - log) || tlen < 2)
		goto bad;
	text = nl + 1;
	if (spool_crc32(text, tlen) != crc)
		goto bad;
	next = text + tlen;
	save = *next;
	*next = '\0';
	memset(env, 0, sizeof(*env));
	if (spool_env_parse(text, env) == -1) {
		*next = save;
		spool_envelope_free(env);
		goto bad;
	}
	*next = save;
	*pos = (size_t)(next - log);
	return 1;
bad:
	next = *pos + 1 < len ? memmem(p + 1, len - *pos - 1, "\nM ", 3) : NULL;
	*pos = next != NULL ? (size_t)(next + 1 - log) : len;
	return next != NULL ? -1 : 0;
}

long
spool_seg_read(struct spool *s, unsigned no, spool_seg_cb *cb, void *arg,
    bool *damaged)
{
	struct spool_envelope env;
	struct spool_done *d;
	char name[64], *log, *dl;
	size_t len, dlen = 0, nd, pos;
	long count = 0;
	int r;

	spool_seg_name(name, sizeof(name), no, "");
	if ((log = spool_slurp(s->log_dirfd, name, &len)) == NULL)
		return -1;
	spool_seg_name(name, sizeof(name), no, ".done");
	if ((dl = spool_slurp(s->log_dirfd, name, &dlen)) == NULL)
		dl = xstrdup("");
	d = spool_done_parse(dl, &nd);
	pos = strlen(SPOOL_LOG_MAGIC);
	if (len < pos || memcmp(log, SPOOL_LOG_MAGIC, pos) != 0) {
		log_warnx("spool: log/%08x is not a Tern log, ignored", no);
		*damaged = true;
		pos = len;
	}
	while ((r = spool_record_next(log, len, &pos, &env)) != 0) {
		bool *done;

		if (r == -1) {
			log_warnx("spool: log/%08x: a damaged record skipped", no);
			*damaged = true;
			continue;
		}
		count++;
		env.seg = no;
		done = xcalloc(env.nrcpts, sizeof(bool));
		if (!spool_done_apply(d, nd, &env, done))
			cb(&env, done, arg);
		free(done);
		spool_envelope_free(&env);
	}
	free(d);
	free(dl);
	free(log);
	return count;
}

/* ---- start-up recovery ---- */

struct spool_recover {
	struct spool	*spool;
	spool_scan_cb	*cb;
	void		*arg;
	char		**names;	/* the segment's body files, sorted */
	bool		*used;
	size_t		 nnames;
	off_t		 data_size;	/* of the segment's data file, or -1 */
	int		 count;
	size_t		 live;
};

static int
spool_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory (without dot files), sorted. */
static char **
spool_list(int dirfd, const char *name, size_t *n)
{
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	DIR *d;
	int fd;

	*n = 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xreallocarray(v, cap, sizeof(char *));
		}
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(char *), spool_name_cmp);
	return v;
}

static void
spool_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
spool_recover_one(struct spool_envelope *env, const bool *done, void *arg)
{
	struct spool_recover *rc = arg;
	const char *key = env->id;
	char **hit;

	if (env->body_in_data) {
		if (rc->data_size < 0 ||
		    env->body_offset > rc->data_size - env->body_size) {
			/* the data file lost its end: the body is not there */
			log_warnx("spool: log/%08x.data ends before the body of "
			    "%s; its record is dropped", env->seg, env->id);
			return;
		}
		rc->live++;
		rc->count++;
		rc->cb(env, done, rc->arg);
		return;
	}
	hit = rc->nnames ? bsearch(&key, rc->names, rc->nnames, sizeof(char *),
	    spool_name_cmp) : NULL;
	if (hit == NULL) {
		/* finished, and the done-list's last line lost with the power */
		log_warnx("spool: msg/%08x/%s is gone; its record is dropped",
		    env->seg, env->id);
		return;
	}
	rc->used[hit - rc->names] = true;
	rc->live++;
	rc->count++;
	rc->cb(env, done, rc->arg);
}

/* Body files of segment no without a live record. */
static void
spool_recover_leftovers(struct spool_recover *rc, unsigned no, bool damaged)
{
	char from[4096], to[4096];

	for (size_t i = 0; i < rc->nnames; i++) {
		if (rc->used[i])
			continue;
		snprintf(from, sizeof(from), "%s/msg/%08x/%s", rc->spool->dir, no,
		    rc->names[i]);
		if (!damaged) {
			(void)unlink(from);
			continue;
		}
		snprintf(to, sizeof(to), "%s/quarantine/%s", rc->spool->dir,
		    rc->names[i]);
		if (rename(from, to) == -1)
			log_warn("spool: cannot quarantine %s", from);
		else
			log_warnx("spool: %s has no readable record, moved to %s",
			    from, to);
	}
}

/* A damaged segment's data file is linked into quarantine/ (a link, not
 * a copy): it stays for the operator when the segment goes. */
static void
spool_quarantine_data(struct spool *s, unsigned no)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/log/%08x.data", s->dir, no);
	snprintf(to, sizeof(to), "%s/quarantine/%08x.data", s->dir, no);
	if (link(from, to) == 0)
		log_warnx("spool: log/%08x has a damaged record; its data file "
		    "is kept as %s", no, to);
	else if (errno != EEXIST)
		log_warn("spool: cannot link %s into quarantine/", from);
}

static void
spool_recover_segment(struct spool_recover *rc, unsigned no)
{
	struct spool *s = rc->spool;
	struct spool_seg *g;
	struct stat st;
	bool damaged = false;
	char name[64];
	long total;

	spool_seg_name(name, sizeof(name), no, "");
	rc->names = spool_list(s->msg_dirfd, name, &rc->nnames);
	rc->used = xcalloc(rc->nnames + 1, sizeof(bool));
	rc->live = 0;
	spool_seg_name(name, sizeof(name), no, ".data");
	rc->data_size = fstatat(s->log_dirfd, name, &st, 0) == 0 ?
	    st.st_size : -1;
	total = spool_seg_read(s, no, spool_recover_one, rc, &damaged);
	spool_recover_leftovers(rc, no, damaged);
	if (damaged && rc->data_size >= 0)
		spool_quarantine_data(s, no);
	spool_list_free(rc->names, rc->nnames);
	free(rc->used);
	g = spool_seg_add(s, no);
	g->total = total > 0 ? (size_t)total : 0;
	g->live = rc->live;
	s->live += rc->live;
	if (!damaged)
		spool_seg_reclaim(s, no);	/* deleted when nothing is live */
}

/* Log segment names: exactly 8 hex digits.  Stale ".tmp" files go. */
static unsigned *
spool_segment_numbers(struct spool *s, size_t *n)
{
	size_t nnames, cap = 0;
	char **names = spool_list(s->log_dirfd, ".", &nnames);
	unsigned *v = NULL;

	*n = 0;
	for (size_t i = 0; i < nnames; i++) {
		const char *p = names[i];
		size_t len = strlen(p);

		if (len > 4 && strcmp(p + len - 4, ".tmp") == 0)
			(void)unlinkat(s->log_dirfd, p, 0);
		/* a data file whose log was never written: nothing in it was
		 * acknowledged (the names are sorted: its log is just before) */
		if (len == 13 && strcmp(p + 8, ".data") == 0 &&
		    (i == 0 || strncmp(names[i - 1], p, 8) != 0 ||
		    names[i - 1][8] != '\0')) {
			if (unlinkat(s->log_dirfd, p, 0) == 0)
				log_info("spool: removed log/%s, which has no "
				    "log", p);
		}
		if (len != 8 || strspn(p, "0123456789abcdef") != 8)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(unsigned));
		}
		v[(*n)++] = (unsigned)strtoul(p, NULL, 16);
	}
	spool_list_free(names, nnames);
	return v;	/* sorted: the names were */
}

/* A message file of the first layout: into the log, then into msg/<cur>/. */
static int
spool_migrate_one(struct spool_recover *rc, const char *name)
{
	struct spool *s = rc->spool;
	struct spool_envelope env;
	struct spool_seg *g;
	char path[4096], to[SPOOL_ID_MAX + 32], *rec;
	const char *error;
	bool *done;
	size_t len;
	FILE *f;
	int r;

	memset(&env, 0, sizeof(env));
	snprintf(path, sizeof(path), "%s/msg/%s", s->dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	r = spool_scan_header(f, &env);
	if (r == 0 && strcmp(env.id, name) != 0)
		r = -1;
	if (r == 0 && fseeko(f, 0, SEEK_END) == 0)
		env.body_size = ftello(f) - env.body_offset;
	fclose(f);
	if (r == -1 || (g = spool_seg_current(s, &error)) == NULL) {
		spool_envelope_free(&env);
		spool_quarantine(s->dir, name);
		return -1;
	}
	env.seg = g->no;
	done = xcalloc(env.nrcpts, sizeof(bool));
	spool_scan_done(s->dir, env.id, done, env.nrcpts);
	rec = spool_log_record_env(&env, &len);
	r = spool_log_append(s->log_dirfd, g->no, &g->log_fd, rec, len);
	free(rec);
	snprintf(to, sizeof(to), "%08x/%s", g->no, env.id);
	if (r == 0 && renameat(s->msg_dirfd, name, s->msg_dirfd, to) == 0) {
		g->total++;
		g->live++;
		s->live++;
		for (size_t i = 0; i < env.nrcpts; i++)
			if (done[i])
				(void)spool_mark_done(s, env.seg, env.id, i);
		snprintf(path, sizeof(path), "%s/msg/%s.done", s->dir, name);
		(void)unlink(path);
		rc->cb(&env, done, rc->arg);
		rc->count++;
	} else
		log_warn("spool: cannot move %s into the log", path);
	free(done);
	spool_envelope_free(&env);
	return r;
}

static void
spool_migrate(struct spool_recover *rc)
{
	struct spool *s = rc->spool;
	size_t n;
	char **names = spool_list(s->msg_dirfd, ".", &n);

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		struct stat st;

		if (fstatat(s->msg_dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) ||
		    (len > 5 && strcmp(names[i] + len - 5, ".done") == 0))
			continue;
		(void)spool_migrate_one(rc, names[i]);
	}
	spool_list_free(names, n);
	if (n > 0) {
		(void)fsync(s->msg_dirfd);
		(void)fsync(s->log_dirfd);
	}
}

int
spool_scan(struct spool *s, spool_scan_cb *cb, void *arg)
{
	struct spool_recover rc = { .spool = s, .cb = cb, .arg = arg };
	unsigned *nos;
	size_t n;

	spool_clean_tmp(s->dir);
	nos = spool_segment_numbers(s, &n);
	s->cur = n > 0 ? nos[n - 1] + 1 : 0;
	s->cur_open = false;
	for (size_t i = 0; i < n; i++)
		spool_recover_segment(&rc, nos[i]);
	free(nos);
	spool_migrate(&rc);
	return rc.count;
}
