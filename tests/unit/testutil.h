/*
 * testutil: small fixtures the unit tests share.
 */
#ifndef TERN_TESTS_TESTUTIL_H
#define TERN_TESTS_TESTUTIL_H

#include "model/model.h"

/* Write text to DIR/config and load it (e is initialised here; the
 * caller frees it).  NULL with the errors in e. */
struct model *test_model_load(const char *dir, const char *text,
	    struct conf_errors *e);
/* Entries of a directory, dot files left out; -1 if it cannot be read. */
int	test_count_entries(const char *dir);

#endif
