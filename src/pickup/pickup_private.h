/*
 * pickup_private: what the files of src/pickup share.
 *
 * pickup.c owns the directory: the inotify watch, the rescans, the list
 * of names to take and the work timer that takes them a chunk at a time.
 * pickup_file.c owns one file's way: lock, read, parse, spool, commit,
 * then removal (or the move to the bad-file directory).
 */
#ifndef TERN_PICKUP_PRIVATE_H
#define TERN_PICKUP_PRIVATE_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <ev.h>

#include "lib/buf.h"
#include "pickup/pickup.h"
#include "pickup/pickup_parse.h"
#include "spool/spool.h"

#define PICKUP_MAGIC		0x7069636bu
#define PICKUP_FILE_MAGIC	0x70696366u
#define PICKUP_SOURCE		"{pickup}"
#define PICKUP_CHUNK		(256 * 1024)	/* bytes read at once */
#define PICKUP_FLUSH		(256 * 1024)	/* header section held at most;
						   body written in such runs */
#define PICKUP_OUT_MAX		(PICKUP_FLUSH + 2 * PICKUP_CHUNK + 64)
#define PICKUP_SCAN_MAX		10000	/* names taken from one scan */
#define PICKUP_COMMIT_MAX	256	/* files waiting for the spool */
#define PICKUP_STEPS		16	/* chunks or opens per loop turn */

struct pickup_file;

struct pickup {
	unsigned		 magic;
	struct ev_loop		*loop;
	struct model *const	*model;
	struct smtpd		*smtpd;
	char			*dir, *bad_dir;
	int			 dirfd, badfd;
	int			 ifd;		/* inotify, or -1 */
	ev_io			 inotify;
	ev_timer		 rescan;	/* every PICKUP_RESCAN */
	ev_timer		 work;		/* zero delay while work is left */
	char			**pending;	/* names from the last scan */
	size_t			 npending, next;
	bool			 scan_wanted;
	bool			 stopped;
	struct pickup_file	*reading;	/* the file being read, or NULL */
	LIST_HEAD(, pickup_file) committing;	/* handed to the spool */
	size_t			 ncommitting;
	char			*chunk;		/* PICKUP_CHUNK bytes */
};

struct pickup_file {
	unsigned		 magic;
	LIST_ENTRY(pickup_file)	 entry;
	struct pickup		*p;
	char			*name;
	int			 fd;		/* open and flock()ed */
	dev_t			 dev;
	ino_t			 ino;
	struct model		*model;		/* snapshot for this file */
	long long		 cap;		/* largest size accepted */
	long long		 nread;
	struct pickup_parse	 parse;
	struct spool_envelope	 env;
	struct spool_writer	 writer;
	struct buf		 out;		/* message bytes not written yet */
	bool			 writing;	/* the spool file is open */
	bool			 cold_taken;
};

/* pickup.c: more work may be possible (a commit finished). */
void	pickup_kick(struct pickup *p);

/* pickup_file.c */
/* Open, lock and check the file `name`; NULL when it is not taken now
 * (gone, locked, not a file; or bad, and then moved). */
struct pickup_file *pickup_file_open(struct pickup *p, const char *name);
/* Read and process one chunk.  Once the file is finished with (handed to
 * the spool, moved, or left for later) p->reading no longer points to
 * it. */
void	pickup_file_step(struct pickup_file *f);
/* Give up on the file, leaving it where it is (stop, temporary error). */
void	pickup_file_free(struct pickup_file *f);

#endif
