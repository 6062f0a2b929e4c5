/*
 * bounce: the words PowerMTA puts around a delivery outcome: the RFC 3463
 * text of an enhanced status code ("5.1.1 (bad destination mailbox
 * address)") and the bounce category (pmta-reference.md §5) found by
 * matching "<dsnStatus> <dsnDiag>" against the category patterns, first
 * match wins: the user's <bounce-category-patterns> before the built-in
 * list, which is PMTA's default (§5.3).
 */
#ifndef TERN_BOUNCE_H
#define TERN_BOUNCE_H

#include <stddef.h>

#include "model/model.h"

/* "5.1.1 (bad destination mailbox address)"; unknown details fall back
 * to the class/subject text, then "(undefined status)". */
void	bounce_dsn_status(const char *code, char *dst, size_t size);
/*
 * The category of an outcome, matched against "<dsnStatus> <dsnDiag>":
 * the entries of m's <bounce-category-patterns> blocks first (file order),
 * then the built-in list; never NULL ("other").  m may be NULL (built-in
 * list only).  The string lives as long as m.
 */
const char *bounce_category(const struct model *m, const char *dsn_status,
	    const char *dsn_diag);
/* The same for a subject already built, with the user's entries v[0..n). */
const char *bounce_category_match(const struct model_pattern *v, size_t n,
	    const char *subject);
/* Free the compiled patterns (at exit). */
void	bounce_cleanup(void);

#endif
