/*
 * bounce: the words PowerMTA puts around a delivery outcome: the RFC 3463
 * text of an enhanced status code ("5.1.1 (bad destination mailbox
 * address)") and the bounce category (pmta-reference.md §5) found by
 * matching "<dsnStatus> <dsnDiag>" against the category patterns, first
 * match wins.  The built-in list is PMTA's default (§5.3).
 */
#ifndef TERN_BOUNCE_H
#define TERN_BOUNCE_H

#include <stddef.h>

/* "5.1.1 (bad destination mailbox address)"; unknown details fall back
 * to the class/subject text, then "(undefined status)". */
void	bounce_dsn_status(const char *code, char *dst, size_t size);
/* The default category for the subject text; never NULL ("other"). */
const char *bounce_category(const char *dsn_status, const char *dsn_diag);
/* Free the compiled patterns (at exit). */
void	bounce_cleanup(void);

#endif
