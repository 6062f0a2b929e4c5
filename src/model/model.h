/*
 * model: the configuration as the engine uses it: an immutable,
 * reference-counted snapshot built from the conf tree through the
 * directive table.  A reload builds a new snapshot and swaps it in;
 * whoever holds a reference keeps a consistent view.
 */
#ifndef TERN_MODEL_H
#define TERN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "lib/addr.h"

struct model_listener {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*text;		/* as written */
};

struct model_source {
	struct addr_cidr	 cidr;
	char			*text;
	int			 always_allow_relaying;	/* -1 unset, 0, 1 */
};

/* One host of smtp-hosts: a level is a preference (';' starts the next). */
struct model_host {
	char	*name;		/* IP literal (without brackets) or host name */
	int	 port;		/* 0 = default-smtp-port (25) */
	int	 level;
};

struct model_domain {
	char			*pattern;	/* lower case; "*" for all */
	struct model_host	*hosts;
	size_t			 nhosts;
};

/* Accounting record types (bits of model_acct.records). */
enum model_record {
	MODEL_RECORD_D = 1 << 0,
	MODEL_RECORD_B = 1 << 1,
};

struct model_acct {
	char		*path;
	unsigned	 records;
};

struct model {
	int			 refs;
	char			*config_path;
	char			*host_name;
	char			*spool_dir;
	char			*log_file;
	struct model_listener	*listeners;
	size_t			 nlisteners;
	struct model_source	*sources;
	size_t			 nsources;
	struct model_domain	*domains;
	size_t			 ndomains;
	struct model_acct	*accts;
	size_t			 naccts;
};

/*
 * Build a snapshot from the file at path.  Returns NULL when the file
 * has errors; every error is appended to *e ("file:line: message").
 */
struct model *model_load(const char *path, struct conf_errors *e);
struct model *model_ref(struct model *m);
void	model_unref(struct model *m);

/* The most specific <source> matching the address, or NULL. */
const struct model_source *model_source_match(const struct model *m,
	    const struct sockaddr *sa);
/* Does the source (or a less specific one) allow relaying? */
bool	model_source_relaying(const struct model *m, const struct sockaddr *sa);
/* The <domain> for a recipient domain: exact name first, then "*". */
const struct model_domain *model_domain_find(const struct model *m,
	    const char *domain);

#endif
