/*
 * acct: the accounting file, in PowerMTA's CSV layout
 * (pmta-reference.md §4): a header line naming the columns at the top of
 * every new file, then one CRLF-terminated record per event, fields
 * quoted per RFC 4180 when they hold a comma, a quote or a line break.
 */
#ifndef TERN_ACCT_H
#define TERN_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"
#include "model/model.h"

/* The default columns of d, b and t records, in PMTA's order. */
#define ACCT_DEFAULT_FIELDS \
	"type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus," \
	"dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp," \
	"dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue," \
	"vmtaPool"

/* One delivery-side record; NULL strings are written as empty fields. */
struct acct_record {
	char		 type;		/* 'd' or 'b' */
	time_t		 logged;
	time_t		 queued;
	const char	*orig, *rcpt, *orcpt;
	const char	*dsn_action, *dsn_status, *dsn_diag, *dsn_mta;
	const char	*bounce_cat;
	const char	*src_type, *src_mta;
	const char	*dlv_type, *dlv_source_ip, *dlv_destination_ip;
	const char	*dlv_esmtp_available;
	long long	 dlv_size;	/* < 0: empty */
	const char	*vmta, *job_id, *env_id, *queue, *vmta_pool;
};

struct acct;

/* Open every <acct-file> of the model.  NULL with *error_r on failure. */
struct acct *acct_open(const struct model *m, const char **error_r);
void	acct_close(struct acct *a);
/* Reopen the files for a new configuration (reload).  On failure the
 * old files stay open and -1 is returned with *error_r. */
int	acct_reconfigure(struct acct *a, const struct model *m,
	    const char **error_r);
/* Write the record to every file that takes its type. */
void	acct_write(struct acct *a, const struct acct_record *r);

/* Pure helpers (unit-tested): */
/* Append s as one CSV field (quoted if needed). -1 if out is full. */
int	acct_csv_field(struct buf *out, const char *s);
/* Format the record as one CSV line with CRLF. -1 if out is full. */
int	acct_format(struct buf *out, const struct acct_record *r);
/* PMTA's iso-times form: "2024-05-02 10:15:07+0000" (local time). */
void	acct_time(time_t t, char *dst, size_t size);

#endif
