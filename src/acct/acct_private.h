/*
 * acct_private: what the files of src/acct share.
 *
 *   acct.c		destinations, acct_write, rotation timer, acct_rotate
 *   acct_layout.c	columns: record-fields, the multi-type union, format
 *   acct_file.c	a file destination: header, size and time rotation
 *   acct_pipe.c	a "|command" destination: the program and its buffer
 */
#ifndef TERN_ACCT_PRIVATE_H
#define TERN_ACCT_PRIVATE_H

#include "acct/acct.h"

#define ACCT_MAGIC		0x61636374u
#define ACCT_PIPE_MAGIC		0x61637470u
#define ACCT_LINE_MAX		(256 * 1024)	/* one record */
#define ACCT_HEADERS_MAX	(64 * 1024)	/* a message's header section read */
#define ACCT_VALUE_MAX		998		/* a header_X value, cut to this */
#define ACCT_PIPE_PENDING_MAX	(4 * 1024 * 1024) /* buffered for a pipe */
#define ACCT_SWEEP_INTERVAL	3600		/* delete-after checks (s) */

/* acct_file.c */
struct acct_file;
/* A file destination of the block ma with the layout's header; the file
 * is opened (created with the header) at once.  NULL with *error_r. */
struct acct_file *acct_file_open(const struct model_acct *ma,
	    const char *header, const char **error_r);
void	acct_file_close(struct acct_file *f);
const char *acct_file_path(const struct acct_file *f);
/* Append one line (one write(2)); rotates first when max-size is due. */
void	acct_file_write(struct acct_file *f, const char *line, size_t len);
/* Start a new file now (if this one holds records).  1 rotated, 0 not,
 * -1 on error (logged). */
int	acct_file_rotate(struct acct_file *f);
/* Timed work due at `now`: move-interval rotation, delete-after. */
void	acct_file_tick(struct acct_file *f, time_t now);
/* When acct_file_tick next has work (a wall-clock time). */
time_t	acct_file_next_event(const struct acct_file *f);

/* acct_pipe.c */
struct acct_pipe;
/* Start "/bin/sh -c command" fed the header, then each record. */
struct acct_pipe *acct_pipe_new(struct ev_loop *loop, const char *command,
	    const char *header, double retry_interval, double write_timeout);
/* Queue one line; never blocks (a full buffer drops and counts). */
void	acct_pipe_write(struct acct_pipe *p, const char *line, size_t len);
/* Close the program's input after a short bounded flush. */
void	acct_pipe_free(struct acct_pipe *p);

#endif
