/*
 * testutil: small fixtures the unit tests share.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

struct model *
test_model_load(const char *dir, const char *text, struct conf_errors *e)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config", dir);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF)
		abort();
	fclose(f);
	conf_errors_init(e);
	return model_load(path, e);
}

int
test_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}
