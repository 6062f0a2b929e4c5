/*
 * conf_value: typed directive values — parsing from the words of a
 * config line, formatting back the way `pmta show settings` prints them,
 * copying and freeing.  Pure: no I/O, no global state.
 *
 * Units: times are whole seconds; sizes are bytes; rates are "count per
 * seconds" (500/h = {500, 3600}); data rates are "bytes per seconds".
 * "unlimited" is stored with the `unlimited` flag set.  "never" (times)
 * sets `never`.
 */
#ifndef TERN_CONF_VALUE_H
#define TERN_CONF_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf_schema.h"
#include "lib/buf.h"

struct conf_rate {
	long long	count;		/* per `per` seconds */
	long long	per;		/* seconds, > 0 */
};

struct conf_host {
	char	*name;		/* host name or IP literal without brackets */
	int	 port;		/* 0 = default */
	int	 level;		/* preference level: 0, 1, ... (';' increments) */
	bool	 lookup_mx;	/* "lookup-mx:domain": name is the domain */
};

struct conf_value {
	enum conf_type	 type;
	bool		 set;		/* a config line gave it */
	bool		 unlimited;	/* "unlimited" */
	bool		 never;		/* "never" */
	const char	*file;		/* where it was set (interned) */
	int		 line;
	union {
		bool		 b;		/* BOOL, FLAG, BOOL_OR_* when a bool */
		long long	 i;		/* INT, TIME (s), SIZE (bytes) */
		struct conf_rate rate;		/* RATE, DATA_RATE */
		char		*s;		/* STRING, ENUM, EMAIL, PATH, REGEX,
						   CIDR, DOMAIN, BOOL_OR_ENUM word */
		struct {
			long long	*v;	/* TIME_LIST (s), DAILY (per day) */
			size_t		 n;
		} nums;
		struct {
			char		**v;	/* WORDS, RAW, EMAIL_LIST, DOMAIN_LIST,
						   and every CONF_F_REPEAT directive */
			size_t		  n;
		} list;
		struct {
			struct conf_host *v;	/* HOST_LIST */
			size_t		  n;
		} hosts;
	} u;
	/* BOOL_OR_ENUM / BOOL_OR_TIME: which form was given */
	bool		 is_bool;
};

/*
 * Parse args[0..nargs) for directive d into *v (which the caller has
 * zeroed or freed).  For a CONF_F_REPEAT directive the values are
 * appended to v->u.list (one entry per line, the words joined by one
 * space).  Returns 0, or -1 with a short reason in *error_r ("expected
 * yes, no, true or false", "invalid time interval \"4x\"", "value out of
 * range 0..100", "argument missing", "too many arguments", ...).
 */
int	conf_value_parse(const struct conf_directive *d, char *const *args,
	    size_t nargs, struct conf_value *v, const char **error_r);

/* Append the value as show settings prints it: "10m", "4d12h", "never",
 * "unlimited", "500/h", "yes"/"no", "\"\"" for an empty string, lists
 * comma-separated.  An unset value prints d->def (or "\"\"" if empty). */
void	conf_value_format(const struct conf_directive *d,
	    const struct conf_value *v, struct buf *out);

/*
 * The number of a value (INT, TIME in seconds, SIZE in bytes; 0 for
 * "unlimited" and "never"), or of d's default when v is NULL (unset).
 */
long long conf_value_num(const struct conf_value *v,
	    const struct conf_directive *d);
/* A BOOL value, or d's default when v is NULL. */
bool	conf_value_bool(const struct conf_value *v,
	    const struct conf_directive *d);

void	conf_value_copy(struct conf_value *dst, const struct conf_value *src);
void	conf_value_free(struct conf_value *v);

/* The value types on their own (unit-tested one by one).  0 or -1. */
int	conf_parse_bool(const char *s, bool *b);
int	conf_parse_time(const char *s, long long *secs);	/* "4d12h" */
int	conf_parse_size(const char *s, long long *bytes);	/* "10M" */
int	conf_parse_rate(const char *s, struct conf_rate *r);	/* "300/h" */
int	conf_parse_data_rate(const char *s, struct conf_rate *r); /* "12M/m" */
int	conf_parse_host_list(char *const *args, size_t nargs,
	    struct conf_host **hosts, size_t *n, const char **error_r);
/* Domain pattern syntax check: "*", "x.y", "*.x.y", "[*.]x.y", "[ip/mask]",
 * "{name}" reserved names, "local". */
bool	conf_domain_pattern_valid(const char *s);
/* Formatting: "4d12h", "10m", "0" for 0 seconds; "500/h"; "10M". */
void	conf_format_time(long long secs, struct buf *out);
void	conf_format_rate(const struct conf_rate *r, struct buf *out);
void	conf_format_size(long long bytes, struct buf *out);

#endif
