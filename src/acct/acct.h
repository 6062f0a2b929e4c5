/*
 * acct: the accounting files, in PowerMTA's CSV layout
 * (pmta-reference.md §4): a header line naming the columns at the top of
 * every new file (and as the first line into a pipe), then one
 * CRLF-terminated record per event, fields quoted per RFC 4180 when they
 * hold a comma, a quote or a line break.
 *
 * Each <acct-file> is a destination: a file (rotated by move-interval,
 * max-size and `pmta rotate acct`) or "|command" (a program fed on its
 * stdin).  Its `records` choose the record types it takes, its
 * `record-fields` the columns of each type; a file holding several types
 * has the union of their columns (docs/compat.md, R-Q13).
 */
#ifndef TERN_ACCT_H
#define TERN_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <ev.h>

#include "lib/buf.h"
#include "model/model.h"

/* The default columns of d, b and t records, in PMTA's order. */
#define ACCT_DEFAULT_FIELDS \
	"type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus," \
	"dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp," \
	"dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue," \
	"vmtaPool"

/* Record types; the order of the MODEL_RECORD_* bits (1 << type). */
enum acct_type {
	ACCT_D,		/* delivered */
	ACCT_B,		/* bounced */
	ACCT_T,		/* transient failure of a recipient, per attempt */
	ACCT_TQ,	/* transient failure of a queue */
	ACCT_R,		/* received */
	ACCT_F,		/* feedback-loop report (no producer yet) */
	ACCT_RB,	/* remote bounce (no producer yet) */
	ACCT_RS,	/* remote status (no producer yet) */
	ACCT_NTYPES
};

/* Fills out with the message's header section (at most out->max bytes);
 * 0, or -1 when it cannot be read. */
typedef int acct_headers_fn(void *arg, struct buf *out);

/* One record; NULL strings and 0 times are written as empty fields. */
struct acct_record {
	enum acct_type	 type;
	time_t		 logged;
	time_t		 queued;
	time_t		 first_attempt;
	const char	*orig, *rcpt, *orcpt;
	const char	*dsn_action, *dsn_status, *dsn_diag, *dsn_mta;
	const char	*dsn_reporting_mta;
	const char	*bounce_cat;
	const char	*src_type, *src_mta;
	const char	*rcv_source_ip, *rcv_destination_ip, *rcv_smtp_user;
	const char	*dlv_type, *dlv_source_ip, *dlv_destination_ip;
	const char	*dlv_esmtp_available;
	long long	 dlv_size;	/* < 0: empty */
	const char	*dlv_tls_protocol, *dlv_tls_cipher;
	const char	*vmta, *job_id, *env_id, *queue, *vmta_pool;
	/* header_X columns and map-header-to-field read the message's
	 * headers through this, once per record, only if a file needs them */
	acct_headers_fn	*headers;
	void		*headers_arg;
};

struct acct;

/* Open every <acct-file> of the model (files are created, pipes
 * started).  NULL with *error_r on failure. */
struct acct *acct_open(struct ev_loop *loop, const struct model *m,
	    const char **error_r);
void	acct_close(struct acct *a);
/* Check the <acct-file> blocks of a model (record-fields,
 * map-header-to-field) without opening anything.  0, or -1 with
 * *error_r ("FILE:LINE: ..."). */
int	acct_check(const struct model *m, const char **error_r);
/* Reopen the destinations for a new configuration (reload; pipes are
 * restarted).  On failure the old ones stay and -1 is returned with
 * *error_r. */
int	acct_reconfigure(struct acct *a, const struct model *m,
	    const char **error_r);
/* Does any destination take records of this type? */
bool	acct_wants(const struct acct *a, enum acct_type type);
/* Write the record to every destination that takes its type. */
void	acct_write(struct acct *a, const struct acct_record *r);
/*
 * `pmta rotate acct [file]`: start a new file now for every accounting
 * file, or for the one whose path (or file name) is `which`.  Returns the
 * number of files rotated, or -1 with *error_r when `which` names none.
 */
int	acct_rotate(struct acct *a, const char *which, const char **error_r);

/* Helper for acct_headers_fn: the header section of the message whose
 * text starts at offset in fd, up to the empty line that ends it (or
 * out->max bytes).  0 or -1. */
int	acct_read_headers(int fd, off_t offset, struct buf *out);

/* Pure helpers (unit-tested): */
/* Append s as one CSV field (quoted if needed). -1 if out is full. */
int	acct_csv_field(struct buf *out, const char *s);
/* PMTA's iso-times form: "2024-05-02 10:15:07+0000" (local time). */
void	acct_time(time_t t, char *dst, size_t size);
/* The record type's letters ("d", "tq", ...) and back ("t", "transient",
 * "fbl" ...; -1 if unknown). */
const char *acct_type_name(enum acct_type type);
int	acct_type_parse(const char *name);

/*
 * A layout: the columns of one destination and which record types fill
 * them.  Built from the `records` bits and the `record-fields` and
 * `map-header-to-field` entries (each "TYPE LIST" / "TYPE header_X
 * FIELD", as the config gives them).  NULL with *error_r when an entry
 * is wrong.
 */
struct acct_layout;
struct acct_layout *acct_layout_new(unsigned records,
	    char *const *fields, size_t nfields, char *const *maps,
	    size_t nmaps, const char **error_r);
void	acct_layout_free(struct acct_layout *l);
void	acct_layout_set_times(struct acct_layout *l, bool iso);
void	acct_layout_set_user_string(struct acct_layout *l, const char *s);
/* Does the layout take the type; does it need the headers for it? */
bool	acct_layout_takes(const struct acct_layout *l, enum acct_type type);
bool	acct_layout_needs_headers(const struct acct_layout *l,
	    enum acct_type type);
/* The header line, CRLF-terminated. */
const char *acct_layout_header(const struct acct_layout *l);
/* Format r as one CSV line with CRLF under the layout; hdrs is the
 * message's header section (NULL: none).  -1 if out is full. */
int	acct_format(struct buf *out, const struct acct_layout *l,
	    const struct acct_record *r, struct buf *hdrs);

/*
 * Rotation names: path "DIR/acct.csv" rotated on `day` with sequence
 * number seq becomes "TODIR/acct-YYYY-MM-DD-NNNN.csv" (TODIR: dir, or
 * DIR when NULL; the date in local time).  -1 if it does not fit.
 */
int	acct_rotated_name(const char *path, const char *dir, time_t day,
	    unsigned seq, char *dst, size_t size);
/* Is `name` (a file name without directory) a rotated name of path? */
bool	acct_rotated_match(const char *path, const char *name);

#endif
