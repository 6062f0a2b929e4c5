/*
 * model_private: what the files of src/model share.
 */
#ifndef TERN_MODEL_PRIVATE_H
#define TERN_MODEL_PRIVATE_H

#include "model/model.h"

#define MODEL_GROW(arr, n) \
	((arr) = xreallocarray((arr), (n) + 1, sizeof(*(arr))), \
	 memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

/* model_domain.c */
struct model_macros;
struct model_macros *model_macros_collect(const struct conf_node *root,
	    struct conf_errors *e);
void	model_macros_free(struct model_macros *mm);
/*
 * Expand the $NAME references of a <domain> argument into patterns
 * (several for a list macro or a product of them); *from_macro says
 * whether a macro was used.  -1 with *error_r on an undefined macro or a
 * loop.
 */
int	model_macros_expand(const struct model_macros *mm, const char *arg,
	    char ***out, size_t *nout, bool *from_macro, const char **error_r);
int	model_domain_init(struct model_domain *d, const char *pattern,
	    bool from_macro, int order, struct model_settings *settings);
void	model_domain_list_free(struct model_domain_list *l);

/* model_patterns.c */
/* The raw lines that open and close a nested <pattern-list> (a real
 * entry line never starts with '<'). */
#define MODEL_PL_OPEN	"<pattern-list>"
#define MODEL_PL_CLOSE	"</pattern-list>"
void	model_patterns_build(struct model *m, struct conf_errors *e);
void	model_pattern_free(struct model_pattern *pt);
/* A relay-address argument (an address or a /regex/) into pt.  0, or -1
 * with *error_r. */
int	model_relay_address_init(struct model_pattern *pt, const char *arg,
	    const char **error_r);

/* model.c */
/* The MODEL_RECORD_* bit of a record type name ("d", "bounce"), or 0. */
unsigned model_record_type(const char *name);
void	model_settings_free(struct model_settings *s);
/* A relative path made absolute (from the current directory). */
void	model_abspath(char **path);

/* model_tls.c */
void	model_tls_free(struct model *m);

#endif
