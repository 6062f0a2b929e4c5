/*
 * smtp_merge: the pure parts of the mailmerge extension
 * (pmta-interfaces.md §4.2): a recipient's variable set and the XDFN
 * arguments that fill it, `*parts` lists, the expansion of a template
 * part, VERP addresses.  No I/O; every size is capped.
 *
 * XDFN arguments are `name=value` pairs separated by white space.  A name
 * is a letter followed by letters, digits and '_' (compared without
 * case), or a reserved name: '*' and one of from, envid, vmta, jobid,
 * parts, priority, schedule, subaccountid, custommessageid, to, date.  A
 * value is either a run of non-blank characters or a double-quoted string
 * that ends at a '"' followed by white space or the end of the line (no
 * escapes: a value may hold a '"' that is not followed by a blank).
 * Reserved values are checked: *from is an address (with or without
 * <>), stored bare; *parts a parts list; *priority 1..100.  *to and *date
 * are automatic: a definition is accepted and ignored.  Any other
 * *name is refused.
 *
 * Templates: `[Name]` becomes the value of Name (the last definition of
 * it); `[[` is a literal '['; anything else that is not a well-formed
 * tag is copied as is.  An undefined variable becomes nothing, or stays
 * `[Name]` as written when undefined variables are kept
 * (mailmerge-expands-undefined-variables false).  Values are data: they
 * are never expanded again.
 */
#ifndef TERN_SMTP_MERGE_H
#define TERN_SMTP_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define SMTP_MERGE_NAME_MAX	64		/* a name, '*' included */
#define SMTP_MERGE_SET_MAX	(64 * 1024)	/* one set's bytes */
#define SMTP_MERGE_VARS_MAX	256		/* definitions per set */
#define SMTP_MERGE_PART_MAX	100		/* part numbers 1..100 */
#define SMTP_MERGE_LIST_MAX	256		/* entries of a parts list */

/* A recipient's variables: "name\0value\0" pairs in definition order. */
struct smtp_merge_vars {
	struct buf	 data;
	size_t		 n;
	uint32_t	 off[SMTP_MERGE_VARS_MAX];	/* where each name starts */
};

void	smtp_merge_vars_init(struct smtp_merge_vars *v);
void	smtp_merge_vars_free(struct smtp_merge_vars *v);
void	smtp_merge_vars_reset(struct smtp_merge_vars *v);
/* Add a definition (names are not checked here).  0, or -1 when the set
 * would exceed its caps or either text holds a NUL (the set is then
 * unchanged). */
int	smtp_merge_vars_set(struct smtp_merge_vars *v, const char *name,
	    size_t nlen, const char *value, size_t vlen);
/* Drop the definitions after the first n (n <= v->n). */
void	smtp_merge_vars_truncate(struct smtp_merge_vars *v, size_t n);
/* The value of the last definition of name (any case), NUL-terminated,
 * with its length in *vlen_r; NULL when undefined. */
const char *smtp_merge_vars_get(const struct smtp_merge_vars *v,
	    const char *name, size_t nlen, size_t *vlen_r);
/* Rebuild a set from the bytes of another set's `data`.  0, or -1 (and an
 * empty set) when they are not such bytes. */
int	smtp_merge_vars_load(struct smtp_merge_vars *v, const char *data,
	    size_t len);

/* Is name[0..len) a variable name (plain or a known reserved one)? */
bool	smtp_merge_name_valid(const char *name, size_t len);

/*
 * Add the pairs of an XDFN argument to v.  0, or -1 with *error_r (v is
 * then unchanged): a NUL byte, a pair without '=', a bad name, an unknown
 * reserved name, an unterminated quote, a bad reserved value, a full set.
 */
int	smtp_merge_xdfn(const char *arg, size_t len, struct smtp_merge_vars *v,
	    const char **error_r);

/*
 * A *parts list ("1,3,2", "1-3", "1, 3-4"): part numbers 1..PART_MAX in
 * list[0..*n_r), at most max of them.  0, or -1 when malformed, empty, a
 * range goes down, or it has more than max entries.
 */
int	smtp_merge_parts(const char *s, size_t len, unsigned char *list,
	    size_t max, size_t *n_r);

/* Template expansion of one part, fed in pieces of any size.  Names are
 * looked up in `automatic` first (*to, *date), then in `vars`; either may
 * be NULL. */
struct smtp_merge_expand {
	const struct smtp_merge_vars *automatic;
	const struct smtp_merge_vars *vars;
	bool		 keep_undefined;
	int		 state;			/* private */
	size_t		 nlen;
	char		 name[SMTP_MERGE_NAME_MAX];
};

void	smtp_merge_expand_init(struct smtp_merge_expand *x,
	    const struct smtp_merge_vars *automatic,
	    const struct smtp_merge_vars *vars, bool keep_undefined);
/*
 * Expand in[0..len) onto out.  Stops early once out->len reaches limit
 * (so out's cap must leave room for limit + SMTP_MERGE_SET_MAX +
 * SMTP_MERGE_NAME_MAX + 2).  Returns the bytes of in consumed, or
 * (size_t)-1 when out's cap was hit.
 */
size_t	smtp_merge_expand_feed(struct smtp_merge_expand *x, const char *in,
	    size_t len, struct buf *out, size_t limit);
/* The end of the part: an unfinished tag is copied as text.  0 or -1. */
int	smtp_merge_expand_end(struct smtp_merge_expand *x, struct buf *out);

/*
 * VERP (pmta-reference §2.4): sender local@sdom and recipient rl@rd give
 * local-rl=rd@sdom.  A null sender, or an address without '@', is copied
 * unchanged.  0, or -1 when the result does not fit out[0..size).
 */
int	smtp_merge_verp(const char *sender, const char *rcpt, char *out,
	    size_t size);

#endif
