/*
 * acct: the accounting destinations (see acct.h).
 *
 * One destination per <acct-file>: its layout (acct_layout.c) and a file
 * (acct_file.c) or a pipe (acct_pipe.c).  A record is formatted once per
 * destination that takes its type, into one buffer, and written with one
 * write(2).  The message headers that header_X columns and
 * map-header-to-field need are read at most once per record, and only
 * when a destination needs them.
 *
 * One timer drives the timed rotations and delete-after sweeps of every
 * file.  A reload builds the new destinations first and swaps them in
 * only if all of them opened; the struct acct itself (and its timer)
 * stays, so `pmta rotate acct` keeps working on the same object.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct/acct_private.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtp/smtp_header.h"

static _Thread_local char acct_open_err[512];

struct acct_dest {
	struct acct_layout	*layout;
	struct acct_file	*file;		/* one of these two */
	struct acct_pipe	*pipe;
};

struct acct_dests {
	struct acct_dest	*v;
	size_t			 n;
};

struct acct {
	unsigned		 magic;
	struct ev_loop		*loop;
	struct acct_dests	 dests;
	ev_timer		 tick;
};

OBJ_DEFINE_CAST(acct)

/* The values of a repeatable directive of the block (may be none). */
static void
acct_list(const struct model_acct *ma, int id, char *const **v, size_t *n)
{
	const struct conf_value *cv = model_settings_get(&ma->settings, id);

	*v = cv ? cv->u.list.v : NULL;
	*n = cv ? cv->u.list.n : 0;
}

/* The layout of one <acct-file>; errors say where. */
static struct acct_layout *
acct_layout_of(const struct model_acct *ma, const char **error_r)
{
	const struct conf_value *v;
	char *const *fields, *const *maps;
	size_t nfields, nmaps;
	struct acct_layout *l;
	const char *error;

	acct_list(ma, CONF_ID_RECORD_FIELDS, &fields, &nfields);
	acct_list(ma, CONF_ID_MAP_HEADER_TO_FIELD, &maps, &nmaps);
	l = acct_layout_new(ma->records, fields, nfields, maps, nmaps, &error);
	if (l == NULL) {
		v = model_settings_get(&ma->settings,
		    strstr(error, "map-header") == NULL ?
		    CONF_ID_RECORD_FIELDS : CONF_ID_MAP_HEADER_TO_FIELD);
		snprintf(acct_open_err, sizeof(acct_open_err),
		    "%s:%d: <acct-file %s>: %s", v ? v->file : "?",
		    v ? v->line : 0, ma->path, error);
		*error_r = acct_open_err;
		return NULL;
	}
	acct_layout_set_times(l, conf_value_bool(model_settings_get(
	    &ma->settings, CONF_ID_ISO_TIMES), &conf_directives[CONF_ID_ISO_TIMES]));
	v = model_settings_get(&ma->settings, CONF_ID_USER_STRING);
	if (v != NULL)
		acct_layout_set_user_string(l, v->u.s);
	return l;
}

int
acct_check(const struct model *m, const char **error_r)
{
	for (size_t i = 0; i < m->naccts; i++) {
		struct acct_layout *l = acct_layout_of(&m->accts[i], error_r);
		if (l == NULL)
			return -1;
		acct_layout_free(l);
	}
	return 0;
}

static void
acct_dests_free(struct acct_dests *d)
{
	for (size_t i = 0; i < d->n; i++) {
		acct_file_close(d->v[i].file);
		acct_pipe_free(d->v[i].pipe);
		acct_layout_free(d->v[i].layout);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* "|command args": the command, without the bar and leading blanks. */
static const char *
acct_pipe_command(const char *path)
{
	return path[0] == '|' ? path + 1 + strspn(path + 1, " \t") : NULL;
}

static int
acct_dest_open(struct ev_loop *loop, const struct model_acct *ma,
    struct acct_dest *d, const char **error_r)
{
	const char *cmd = acct_pipe_command(ma->path);
	const struct conf_directive *ri =
	    &conf_directives[CONF_ID_ACCT_RETRY_INTERVAL];
	const struct conf_directive *wt = &conf_directives[CONF_ID_WRITE_TIMEOUT];

	if ((d->layout = acct_layout_of(ma, error_r)) == NULL)
		return -1;
	if (cmd != NULL) {
		d->pipe = acct_pipe_new(loop, cmd, acct_layout_header(d->layout),
		    (double)conf_value_num(model_settings_get(&ma->settings,
		    ri->id), ri), (double)conf_value_num(model_settings_get(
		    &ma->settings, wt->id), wt));
		return 0;
	}
	d->file = acct_file_open(ma, acct_layout_header(d->layout), error_r);
	return d->file == NULL ? -1 : 0;
}

static int
acct_dests_open(struct ev_loop *loop, const struct model *m,
    struct acct_dests *d, const char **error_r)
{
	d->v = NULL;
	d->n = 0;
	if (acct_check(m, error_r) == -1)
		return -1;
	d->v = xcalloc(m->naccts ? m->naccts : 1, sizeof(*d->v));
	for (size_t i = 0; i < m->naccts; i++) {
		if (acct_dest_open(loop, &m->accts[i], &d->v[d->n++],
		    error_r) == -1) {
			acct_dests_free(d);
			return -1;
		}
	}
	return 0;
}

/* Arm the timer for the earliest timed work of any file. */
static void
acct_tick_arm(struct acct *a)
{
	time_t now = time(NULL), next = now + ACCT_SWEEP_INTERVAL;

	for (size_t i = 0; i < a->dests.n; i++)
		if (a->dests.v[i].file != NULL) {
			time_t t = acct_file_next_event(a->dests.v[i].file);
			if (t < next)
				next = t;
		}
	ev_timer_stop(a->loop, &a->tick);
	/* a little after the boundary, so that the date has changed */
	ev_timer_set(&a->tick, next > now ? (double)(next - now) + 0.5 : 0.5, 0.);
	ev_timer_start(a->loop, &a->tick);
}

static void
acct_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct acct *a = OBJ_CAST(acct, w->data, ACCT_MAGIC);
	time_t now = time(NULL);

	for (size_t i = 0; i < a->dests.n; i++)
		if (a->dests.v[i].file != NULL)
			acct_file_tick(a->dests.v[i].file, now);
	acct_tick_arm(a);
}

struct acct *
acct_open(struct ev_loop *loop, const struct model *m, const char **error_r)
{
	struct acct *a = xcalloc(1, sizeof(*a));

	OBJ_INIT(a, ACCT_MAGIC);
	a->loop = loop;
	if (acct_dests_open(loop, m, &a->dests, error_r) == -1) {
		OBJ_WIPE(a);
		free(a);
		return NULL;
	}
	ev_timer_init(&a->tick, acct_on_tick, 0., 0.);
	a->tick.data = a;
	acct_tick_arm(a);
	return a;
}

int
acct_reconfigure(struct acct *a, const struct model *m, const char **error_r)
{
	struct acct_dests fresh, old;

	if (acct_dests_open(a->loop, m, &fresh, error_r) == -1)
		return -1;
	old = a->dests;
	a->dests = fresh;
	acct_dests_free(&old);
	acct_tick_arm(a);
	return 0;
}

void
acct_close(struct acct *a)
{
	if (a == NULL)
		return;
	OBJ_CHECK(a, ACCT_MAGIC);
	ev_timer_stop(a->loop, &a->tick);
	acct_dests_free(&a->dests);
	OBJ_WIPE(a);
	free(a);
}

bool
acct_wants(const struct acct *a, enum acct_type type)
{
	for (size_t i = 0; a != NULL && i < a->dests.n; i++)
		if (acct_layout_takes(a->dests.v[i].layout, type))
			return true;
	return false;
}

/* The record's message headers, read once, if a destination needs them. */
static struct buf *
acct_headers(const struct acct *a, const struct acct_record *r,
    struct buf *hdrs)
{
	bool need = false;

	for (size_t i = 0; i < a->dests.n && !need; i++)
		need = acct_layout_needs_headers(a->dests.v[i].layout, r->type);
	if (!need || r->headers == NULL ||
	    r->headers(r->headers_arg, hdrs) == -1)
		return NULL;
	return hdrs;
}

void
acct_write(struct acct *a, const struct acct_record *r)
{
	struct buf line, hdrs;
	struct buf *h;

	if (a == NULL || !acct_wants(a, r->type))
		return;
	buf_init(&line, ACCT_LINE_MAX);
	buf_init(&hdrs, ACCT_HEADERS_MAX);
	h = acct_headers(a, r, &hdrs);
	for (size_t i = 0; i < a->dests.n; i++) {
		struct acct_dest *d = &a->dests.v[i];

		if (!acct_layout_takes(d->layout, r->type))
			continue;
		buf_reset(&line);
		if (acct_format(&line, d->layout, r, h) == -1) {
			log_warnx("acct: %s record for %s too long, not written",
			    acct_type_name(r->type), r->rcpt ? r->rcpt : r->queue);
			continue;
		}
		if (d->file != NULL)
			acct_file_write(d->file, line.data, line.len);
		else
			acct_pipe_write(d->pipe, line.data, line.len);
	}
	buf_free(&hdrs);
	buf_free(&line);
}

/* Does `which` name this file (its path or its file name)? */
static bool
acct_names(const char *path, const char *which)
{
	const char *slash = strrchr(path, '/');

	return strcmp(path, which) == 0 ||
	    (slash != NULL && strcmp(slash + 1, which) == 0);
}

int
acct_rotate(struct acct *a, const char *which, const char **error_r)
{
	int n = 0;
	bool found = false;

	for (size_t i = 0; i < a->dests.n; i++) {
		struct acct_file *f = a->dests.v[i].file;

		if (f == NULL || (which != NULL &&
		    !acct_names(acct_file_path(f), which)))
			continue;
		found = true;
		if (acct_file_rotate(f) == 1)
			n++;
	}
	if (which != NULL && !found) {
		snprintf(acct_open_err, sizeof(acct_open_err),
		    "no accounting file %s", which);
		*error_r = acct_open_err;
		return -1;
	}
	return n;
}

int
acct_read_headers(int fd, off_t offset, struct buf *out)
{
	char chunk[8192];
	size_t end = 0;

	buf_reset(out);
	while (end == 0 && out->len < out->max) {
		size_t want = out->max - out->len < sizeof(chunk) ?
		    out->max - out->len : sizeof(chunk);
		ssize_t n = pread(fd, chunk, want, offset + (off_t)out->len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(out, chunk, (size_t)n) == -1)
			return -1;
		end = smtp_header_end(out->data, out->len);
	}
	if (end == 0) {		/* no empty line: up to the last full line */
		char *nl = out->len ? memrchr(out->data, '\n', out->len) : NULL;
		end = nl ? (size_t)(nl - out->data) + 1 : 0;
	}
	out->len = end;
	if (out->data != NULL)
		out->data[end] = '\0';
	return 0;
}
