/*
 * acct: accounting CSV writer (see acct.h).
 *
 * Each record is formatted into a buffer and written with one write(2)
 * in O_APPEND mode, so a reader never sees half a line from us.  The
 * header is written when the file is created or found empty.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acct/acct.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

#define ACCT_LINE_MAX	(256 * 1024)

struct acct_file {
	char		*path;
	unsigned	 records;
	int		 fd;
};

struct acct {
	struct acct_file	*files;
	size_t			 nfiles;
};

int
acct_csv_field(struct buf *out, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	if (strpbrk(s, ",\"\r\n") == NULL)
		return buf_puts(out, s);
	if (buf_puts(out, "\"") == -1)
		return -1;
	for (const char *p = s; *p != '\0'; p++)
		if (buf_append(out, p, 1) == -1 ||
		    (*p == '"' && buf_append(out, p, 1) == -1))
			return -1;
	return buf_puts(out, "\"");
}

void
acct_time(time_t t, char *dst, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(dst, size, "%Y-%m-%d %H:%M:%S%z", &tm) == 0 && size > 0)
		dst[0] = '\0';
}

int
acct_format(struct buf *out, const struct acct_record *r)
{
	char logged[40], queued[40], size[24] = "";
	char type[2] = { r->type, '\0' };
	const char *fields[23];
	size_t n = 0;

	acct_time(r->logged, logged, sizeof(logged));
	acct_time(r->queued, queued, sizeof(queued));
	if (r->dlv_size >= 0)
		snprintf(size, sizeof(size), "%lld", r->dlv_size);
	fields[n++] = type;
	fields[n++] = logged;
	fields[n++] = queued;
	fields[n++] = r->orig;
	fields[n++] = r->rcpt;
	fields[n++] = r->orcpt;
	fields[n++] = r->dsn_action;
	fields[n++] = r->dsn_status;
	fields[n++] = r->dsn_diag;
	fields[n++] = r->dsn_mta;
	fields[n++] = r->bounce_cat;
	fields[n++] = r->src_type;
	fields[n++] = r->src_mta;
	fields[n++] = r->dlv_type;
	fields[n++] = r->dlv_source_ip;
	fields[n++] = r->dlv_destination_ip;
	fields[n++] = r->dlv_esmtp_available;
	fields[n++] = size;
	fields[n++] = r->vmta;
	fields[n++] = r->job_id;
	fields[n++] = r->env_id;
	fields[n++] = r->queue;
	fields[n++] = r->vmta_pool;
	for (size_t i = 0; i < n; i++)
		if ((i > 0 && buf_puts(out, ",") == -1) ||
		    acct_csv_field(out, fields[i]) == -1)
			return -1;
	return buf_puts(out, "\r\n");
}

static int
acct_file_open(struct acct_file *f)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (f->fd == -1 || fstat(f->fd, &st) == -1)
		return -1;
	if (st.st_size == 0) {
		static const char header[] = ACCT_DEFAULT_FIELDS "\r\n";
		if (write(f->fd, header, sizeof(header) - 1) == -1)
			return -1;
	}
	return 0;
}

struct acct *
acct_open(const struct model *m, const char **error_r)
{
	struct acct *a = xcalloc(1, sizeof(*a));

	a->files = xcalloc(m->naccts, sizeof(*a->files));
	for (size_t i = 0; i < m->naccts; i++) {
		struct acct_file *f;

		if (m->accts[i].path[0] == '|') {
			log_warnx("acct: <acct-file %s>: accounting pipes are not "
			    "yet supported; nothing is written to it",
			    m->accts[i].path);
			continue;
		}
		f = &a->files[a->nfiles++];
		f->path = xstrdup(m->accts[i].path);
		f->records = m->accts[i].records;
		if (acct_file_open(f) == -1) {
			*error_r = strerror(errno);
			log_warn("acct: cannot open %s", f->path);
			acct_close(a);
			return NULL;
		}
	}
	return a;
}

int
acct_reconfigure(struct acct *a, const struct model *m, const char **error_r)
{
	struct acct *fresh = acct_open(m, error_r);
	struct acct old;

	if (fresh == NULL)
		return -1;
	old = *a;
	*a = *fresh;
	*fresh = old;
	acct_close(fresh);
	return 0;
}

void
acct_close(struct acct *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nfiles; i++) {
		if (a->files[i].fd != -1)
			close(a->files[i].fd);
		free(a->files[i].path);
	}
	free(a->files);
	free(a);
}

void
acct_write(struct acct *a, const struct acct_record *r)
{
	unsigned bit = r->type == 'd' ? MODEL_RECORD_D : MODEL_RECORD_B;
	struct buf line;

	buf_init(&line, ACCT_LINE_MAX);
	if (acct_format(&line, r) == -1) {
		log_warnx("acct: record for %s too long, not written", r->rcpt);
		buf_free(&line);
		return;
	}
	for (size_t i = 0; i < a->nfiles; i++) {
		struct acct_file *f = &a->files[i];
		if ((f->records & bit) == 0)
			continue;
		if (write(f->fd, line.data, line.len) != (ssize_t)line.len)
			log_warn("acct: cannot write to %s", f->path);
	}
	buf_free(&line);
}
