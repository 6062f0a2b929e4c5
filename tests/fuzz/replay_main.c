/*
 * replay_main: a main() for fuzz targets built without libFuzzer.  It
 * calls LLVMFuzzerTestOneInput() on every file named on the command line
 * or found in a directory named there (not recursively, in name order),
 * and prints TAP so that `make check` runs it like any other test.
 * Without arguments it replays $TERN_SRCDIR/FUZZ_SEEDS, FUZZ_SEEDS being
 * the target's seed directory relative to the source tree, compiled in.
 * A target reports a broken invariant by aborting, which fails the test.
 * Each input is copied to an allocation of exactly its size, so that
 * AddressSanitizer sees a read past its end.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xmalloc.h"

#define REPLAY_FILE_MAX	(16 * 1024 * 1024)

#ifndef FUZZ_SEEDS
#define FUZZ_SEEDS	"."
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct replay {
	int	run;
	int	failed;
};

static void
replay_result(struct replay *r, int good, const char *path, const char *why)
{
	r->run++;
	if (!good)
		r->failed++;
	printf("%sok %d - %s%s%s\n", good ? "" : "not ", r->run, path,
	    why ? ": " : "", why ? why : "");
	fflush(stdout);
}

static int
replay_read(const char *path, struct buf *b)
{
	char chunk[8192];
	FILE *f;
	size_t n;
	int rc = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) == -1) {
			rc = -1;
			break;
		}
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

static void
replay_file(struct replay *r, const char *path)
{
	struct buf b;
	uint8_t *copy;

	buf_init(&b, REPLAY_FILE_MAX);
	if (replay_read(path, &b) == -1) {
		replay_result(r, 0, path,
		    b.err ? "too large" : strerror(errno));
		buf_free(&b);
		return;
	}
	copy = xmalloc(b.len ? b.len : 1);
	if (b.len > 0)
		memcpy(copy, b.data, b.len);
	LLVMFuzzerTestOneInput(copy, b.len);
	free(copy);
	buf_free(&b);
	replay_result(r, 1, path, NULL);
}

static void
replay_dir(struct replay *r, const char *dir)
{
	struct dirent **names;
	struct stat st;
	char path[PATH_MAX];
	int i, n, len;

	if ((n = scandir(dir, &names, NULL, alphasort)) == -1) {
		replay_result(r, 0, dir, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		len = snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name);
		if (names[i]->d_name[0] != '.' && len > 0 &&
		    (size_t)len < sizeof(path) && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			replay_file(r, path);
		free(names[i]);
	}
	free(names);
}

static void
replay_path(struct replay *r, const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		replay_result(r, 0, path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		replay_dir(r, path);
	else
		replay_file(r, path);
}

int
main(int argc, char **argv)
{
	struct replay r = { 0, 0 };
	const char *srcdir;
	char path[PATH_MAX];
	int i, len;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			replay_path(&r, argv[i]);
	} else {
		srcdir = getenv("TERN_SRCDIR");
		len = snprintf(path, sizeof(path), "%s/%s",
		    srcdir != NULL && *srcdir != '\0' ? srcdir : ".",
		    FUZZ_SEEDS);
		if (len < 0 || (size_t)len >= sizeof(path))
			replay_result(&r, 0, FUZZ_SEEDS, "path too long");
		else
			replay_path(&r, path);
	}
	if (r.run == 0)
		replay_result(&r, 0, "seeds", "no seed files");
	printf("1..%d\n", r.run);
	return r.failed ? 1 : 0;
}
