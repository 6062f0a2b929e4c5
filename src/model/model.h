/*
 * model: the configuration as the engine uses it: an immutable,
 * reference-counted snapshot built from the conf tree through the
 * directive table.  A reload builds a new snapshot and swaps it in;
 * whoever holds a reference keeps a consistent view.
 *
 * Every block keeps the typed values its lines set (model_settings);
 * lookups resolve inheritance:
 *   - a queue "domain/vmta" (pmta-reference §2.1, open question Q1):
 *     the VMTA's own <domain> blocks, then its pool's, then the global
 *     ones; at each level the most specific matching pattern that sets
 *     the directive wins (exact > *.x > [*.]x > *, longer suffix before
 *     shorter, explicit before macro-expanded, later before earlier);
 *   - a source address: the most specific <source> CIDR that sets it;
 *   - a VMTA: its block, then its pool's, then the global level.
 */
#ifndef TERN_MODEL_H
#define TERN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "conf/conf_value.h"
#include "lib/addr.h"

struct ssl_ctx_st;
struct x509_st;

/* The values set in one block, in file order (later overrides earlier). */
struct model_setting {
	int			 id;		/* CONF_ID_* */
	struct conf_value	 val;
};

struct model_settings {
	struct model_setting	*v;
	size_t			 n;
};

enum model_pattern_kind {
	MODEL_PAT_ALL,		/* "*" */
	MODEL_PAT_DOMAIN_SUBS,	/* "[*.]example.com": the domain and below */
	MODEL_PAT_SUBS,		/* "*.example.com": strictly below */
	MODEL_PAT_EXACT,	/* "example.com", "{sparkpost}", "x.rollup", ... */
	MODEL_PAT_LITERAL,	/* "[10.0.0.0/8]": address literals */
};

struct model_domain {
	char			*pattern;	/* lower case, macros expanded */
	enum model_pattern_kind	 kind;
	const char		*suffix;	/* into pattern: the part matched */
	struct addr_cidr	 literal;	/* MODEL_PAT_LITERAL */
	bool			 from_macro;
	int			 order;		/* file order */
	struct model_settings	*settings;	/* shared by a block's patterns */
};

struct model_domain_list {
	struct model_domain	*v;
	size_t			 n;
};

struct model_listener {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*text;		/* as written */
	char			*source;	/* source=NAME, or NULL */
	bool			 await_slot;	/* <smtp-listener> await-slot */
	bool			 immediate_tls;	/* <smtp-listener> immediate-tls */
	int			 block;		/* index of its <smtp-listener>
						   in blocks, or -1 */
	/* from model_tls_load(): the listener's own context when its block
	 * sets TLS directives (NULL: the global tls_server), and whether
	 * that context has a CA file for client certificates */
	struct ssl_ctx_st	*tls_ctx;
	bool			 tls_ca;
};

struct model_source {
	char			*text;		/* the tag argument */
	bool			 named;		/* not an address: {auth}, NAME */
	struct addr_cidr	 cidr;
	struct model_settings	 settings;
};

struct model_vmta {
	char			*name;
	struct model_settings	 settings;
	struct model_domain_list domains;
	struct model_pool	*pool;		/* first pool listing it, or NULL */
};

struct model_pool {
	char			*name;
	struct model_settings	 settings;
	struct model_domain_list domains;
	char			**members;
	size_t			 nmembers;
};

/* What a <pattern-list> entry is matched against. */
enum model_pl_subject {
	MODEL_PL_ANY,		/* "*": every message */
	MODEL_PL_MAIL_FROM,	/* the MAIL FROM address */
	MODEL_PL_RCPT_TO,	/* any RCPT TO address */
	MODEL_PL_HEADER,	/* the raw content of a header field */
};

/* The actions of an <smtp-pattern-list> entry (pmta-reference §2.10). */
enum model_act {
	MODEL_ACT_BACKOFF	= 1u << 0,	/* mode=backoff */
	MODEL_ACT_NORMAL	= 1u << 1,	/* mode=normal */
	MODEL_ACT_SKIP_MX	= 1u << 2,	/* skip-mx */
	MODEL_ACT_BOUNCE_QUEUE	= 1u << 3,	/* bounce-queue */
	MODEL_ACT_BOUNCE_RCPT	= 1u << 4,	/* bounce-rcpt */
	MODEL_ACT_DISABLE_SOURCE = 1u << 5,	/* disable-source-ip */
	MODEL_ACT_DEFER_QUEUE	= 1u << 6,	/* defer-queue */
};

/* An entry of a pattern block (model_patterns.c). */
struct model_pattern {
	char		*regex;		/* the source between the slashes;
					   NULL for a "*" entry */
	struct pcre2_real_code_8 *re;	/* compiled, case-insensitive */
	char		*rest;		/* category / actions / result, or NULL */
	const char	*file;		/* where the entry is written */
	int		 line;
	/* <pattern-list> entries: what is matched, and the result */
	enum model_pl_subject subject;
	char		*header;	/* MODEL_PL_HEADER: the field name */
	char		*vmta;		/* virtual-mta=NAME, or NULL */
	int		 priority;	/* recipient-priority=N (0..100), or -1 */
	char		*call_to;	/* call-to:LIST, or NULL */
	struct model_pattern *nested;	/* the anonymous <pattern-list> that
					   follows the entry: its result */
	size_t		 nnested;
	bool		 has_nested;
	/* <smtp-pattern-list> entries: MODEL_ACT_* bits, and the intervals
	 * of reenable-after= and backoff-to-normal-after= in seconds (0 for
	 * "never", -1 when not given) */
	unsigned	 actions;
	long long	 reenable_after;
	long long	 to_normal_after;
};

/* Any other block: its name, argument, values or raw entry lines. */
struct model_block {
	char			*kind;		/* "smtp-user", "bounce-category-patterns" */
	char			*arg;		/* "" when none */
	const char		*file;
	int			 line;
	struct model_settings	 settings;
	char			**lines;	/* CONF_F_RAW_BODY blocks: entries */
	const char		**line_files;
	int			*line_nums;
	size_t			 nlines;
	struct model_pattern	*patterns;	/* pattern blocks: parsed entries */
	size_t			 npatterns;
};

/* Accounting record types (bits of model_acct.records). */
enum model_record {
	MODEL_RECORD_D = 1 << 0,
	MODEL_RECORD_B = 1 << 1,
	MODEL_RECORD_T = 1 << 2,
	MODEL_RECORD_TQ = 1 << 3,
	MODEL_RECORD_R = 1 << 4,
	MODEL_RECORD_F = 1 << 5,
	MODEL_RECORD_RB = 1 << 6,
	MODEL_RECORD_RS = 1 << 7,
};

/* An outbound TLS context that verifies receivers against one CA file. */
struct model_tls_client {
	char			*ca_file;	/* as written (the lookup key) */
	struct ssl_ctx_st	*ctx;
};

/* An <smtp-user> with authentication-method certificate. */
struct model_tls_user {
	char			*name;
	struct x509_st		*cert;		/* its tls-certificate */
};

struct model_acct {
	char			*path;
	unsigned		 records;
	struct model_settings	 settings;
};

struct model {
	int			 refs;
	char			*config_path;
	char			*host_name;
	char			*spool_dir;
	char			*log_file;
	char			*pickup_dir;	/* pickup PICKUPDIR BADDIR (absolute), */
	char			*pickup_bad_dir;	/* or NULL */
	struct model_settings	 global;
	struct model_listener	*listeners;
	size_t			 nlisteners;
	struct model_source	*sources;
	size_t			 nsources;
	struct model_domain_list domains;	/* global <domain> blocks */
	struct model_domain_list relay_domains;	/* relay-domain patterns */
	struct model_pattern	*relay_addrs;	/* relay-address entries: regex
						   set for /regex/, else rest
						   holds the address */
	size_t			 nrelay_addrs;
	char			*postmaster;	/* the first postmaster, or NULL */
	struct model_vmta	*vmtas;
	size_t			 nvmtas;
	struct model_pool	*pools;
	size_t			 npools;
	struct model_acct	*accts;
	size_t			 naccts;
	struct model_block	*blocks;
	size_t			 nblocks;
	/* owned settings of <domain> blocks (shared by their patterns) */
	struct model_settings	**domain_settings;
	size_t			 ndomain_settings;
	/* TLS contexts, from model_tls_load() */
	struct ssl_ctx_st	*tls_server;	/* inbound STARTTLS, or NULL */
	bool			 tls_server_ca;	/* it has smtp-server-tls-ca-file */
	struct model_tls_user	*tls_users;	/* certificate logins */
	size_t			 ntls_users;
	struct ssl_ctx_st	*tls_client;	/* outbound, receivers not verified */
	struct model_tls_client	*tls_clients;	/* one per smtp-tls-ca-file */
	size_t			 ntls_clients;
	/* directives used but not acted on, for the one start-up log line */
	bool			 unacted[CONF_ID_COUNT];
};

/*
 * Build a snapshot from the file at path.  Returns NULL when the file
 * has errors; every error and warning is appended to *e
 * ("file:line: message").
 */
struct model *model_load(const char *path, struct conf_errors *e);
struct model *model_ref(struct model *m);
/*
 * Read what the TLS directives name into OpenSSL contexts: the server's
 * smtp-server-tls-certificate (with the smtp-server-tls-* protocol and
 * cipher settings), one per <smtp-listener> block that sets tls-*
 * directives of its own, the certificates of the <smtp-user>s that log
 * in with one, and the outbound contexts (one per smtp-tls-ca-file).
 * A file that does not load is an error at the directive's file:line
 * when `strict` (pmtad start and reload), a warning otherwise (pmtad
 * --check-config, which may run where the files are not); a cipher list
 * OpenSSL cannot use is always an error.  -1 if an error was added.
 */
int	model_tls_load(struct model *m, struct conf_errors *e, bool strict);
/* The inbound context of the listener written as `text` (its own or the
 * global one; NULL: no certificate), and whether it verifies client
 * certificates against a CA file. */
struct ssl_ctx_st *model_listener_tls(const struct model *m, const char *text,
	    bool *ca_r);
/* The outbound context for queue domain/vmta (by its smtp-tls-ca-file),
 * or NULL if it could not be built. */
struct ssl_ctx_st *model_tls_client(const struct model *m,
	    const char *domain, const char *vmta);
/*
 * The spool directory a config names (absolute), read even from a file
 * that does not load, so that `pmta` reaches the daemon of a config that
 * was broken after the daemon started.  NULL if none is named.
 */
char	*model_peek_spool(const char *path);
void	model_unref(struct model *m);

/* The value a block sets for id, or NULL. */
const struct conf_value *model_settings_get(const struct model_settings *s,
	    int id);

/* Queue settings for domain/vmta (vmta NULL or "{default}": none).  A
 * pool's name as vmta reads the pool's <domain> blocks, then the global
 * ones. */
const struct conf_value *model_queue_value(const struct model *m,
	    const char *domain, const char *vmta, int id);
/* VMTA-level settings: the VMTA, its pool, the global level. */
const struct conf_value *model_vmta_value(const struct model *m,
	    const char *vmta, int id);
/* Source settings for a client address: most specific CIDR first. */
const struct conf_value *model_source_value(const struct model *m,
	    const struct sockaddr *sa, int id);
bool	model_source_relaying(const struct model *m, const struct sockaddr *sa);
/* Is mail for this domain (any case) ours to accept from anyone: a
 * relay-domain, a host-name (global or of a VirtualMTA)? */
bool	model_local_domain(const struct model *m, const char *domain);
/* Does a recipient address match a relay-address entry (an address,
 * compared without case, or a /regex/, case-insensitive)? */
bool	model_relay_address(const struct model *m, const char *addr);
/* Settings of the named source <source NAME> ({pickup}, ...; the name is
 * compared without case), or NULL when it has none for id. */
const struct conf_value *model_source_named_value(const struct model *m,
	    const char *name, int id);

/* Does the pattern match the (lower-case) domain? */
bool	model_domain_match(const struct model_domain *d, const char *domain);
/* Specificity rank for precedence (higher wins). */
long	model_domain_rank(const struct model_domain *d);

const struct model_vmta *model_vmta_find(const struct model *m,
	    const char *name);
/* A block by kind and argument (compared without case), or NULL. */
const struct model_block *model_block_find(const struct model *m,
	    const char *kind, const char *arg);
const struct model_pool *model_pool_find(const struct model *m,
	    const char *name);

/*
 * `pmta show settings domain[/vmta]`: "Virtual MTA Settings" and "Queue
 * Settings", one "name value" line each, sorted by name.  -1 (and a
 * message in out) if the vmta does not exist.
 */
int	model_show_settings(const struct model *m, const char *queue,
	    struct buf *out);
/* The names of directives used but not acted on, comma-separated. */
void	model_unacted(const struct model *m, struct buf *out);

#endif
