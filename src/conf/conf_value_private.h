/*
 * conf_value_private.h: what the parts of the value parser share
 * (conf_value.c, conf_scalar.c, conf_host.c, conf_format.c).
 */
#ifndef CONF_VALUE_PRIVATE_H
#define CONF_VALUE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf_value.h"

#define CONF_VALUE_MAX		(1024 * 1024)	/* a line's words, joined */
#define CONF_TIME_LIST_MAX	30		/* retry-after intervals */
#define CONF_DAILY_MAX		366		/* warm-up days */
#define CONF_LIST_MAX		4096		/* items of one list value */
#define CONF_HOSTS_MAX		256		/* hosts of one host list */
#define CONF_REPEAT_MAX		100000		/* lines of a repeated directive */
#define CONF_NAME_MAX		255		/* a domain or host name */
#define CONF_ITEM_MAX		64		/* one time, size or rate word */

#define CONF_ERRBUF_SIZE	256

/* The text of the last error reason (valid until the next call in the
 * same thread). */
extern _Thread_local char conf_value_errbuf[CONF_ERRBUF_SIZE];

/* A blank (space or tab)? */
bool	conf_blank(char c);
/* Leading decimal digits of *sp, without sign; advances *sp. */
int	conf_digits(const char **sp, long long *out);
/* Contains '@' with something after it; no blanks or controls. */
bool	conf_email_valid(const char *s);
/* Free n parsed hosts. */
void	conf_hosts_free(struct conf_host *v, size_t n);
/* "1.2.3.4" or "2001:db8::1". */
bool	conf_ip_valid(const char *s);
/* The line's words joined by sep, or NULL (value too long). */
char	*conf_join(char *const *args, size_t nargs, const char *sep,
	    const char **error_r);
/* Append s (owned) to the list *v of *n items. */
void	conf_list_push(char ***v, size_t *n, char *s);
/* *acc += n * mult, or -1 on overflow. */
int	conf_mul_add(long long *acc, long long n, long long mult);
/* A DNS name ("mx.example.com"; UTF-8 labels allowed). */
bool	conf_name_valid(const char *s, bool allow_macro);
/* "N/d" or "N/day", N >= 0: one day of a warm-up schedule. */
int	conf_parse_daily(const char *s, long long *n);
/* A port number 1..65535 and nothing after it. */
int	conf_port(const char *s, int *port);
/* "/regex/" with optional i, m, s, x flags; compiled to check it. */
int	conf_regex_check(const char *s, const char **error_r);
/* "what \"value\"" in the error buffer, cut and made printable. */
const char *conf_value_err(const char *what, const char *s);
/* An smtp-listener value: ADDR:PORT [source=NAME]. */
int	conf_value_listener(char *const *args, size_t nargs,
	    struct conf_value *v, const char **error_r);

#endif
