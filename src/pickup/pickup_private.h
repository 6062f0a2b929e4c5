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
#include <sys/stat.h>
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
	char			**present;	/* names there before recovery */
	size_t			 npresent;
};

struct pickup_file {
	unsigned		 magic;
	LIST_ENTRY(pickup_file)	 entry;
	struct pickup		*p;
	char			*name;
	int			 fd;		/* open and flock()ed */
	struct stat		 st;		/* when it was opened */
	struct model		*model;		/* snapshot for this file */
	long long		 cap;		/* largest size accepted */
	long long		 nread;
	struct pickup_parse	 parse;
	struct spool_envelope	 env;
	struct spool_writer	 writer;
	struct buf		 out;		/* message bytes not written yet */
	bool			 writing;	/* the spool file is open */
	bool			 cold_taken;
	/* a mailmerge file: the job, and the sender its refused
	 * recipients are bounced to */
	struct smtpd_mjob	*job;
	char			*merge_sender;
};

/* pickup.c: more work may be possible (a commit finished). */
void	pickup_kick(struct pickup *p);
/* The names in the directory now (sorted, "." names left out; at most
 * max), into *names; the count. */
size_t	pickup_list(struct pickup *p, char ***names, size_t max);
void	pickup_names_free(char **names, size_t n);

/* pickup_recover.c */
/* A file's identity for the spool envelope ("dev ino size mtime name"),
 * or NULL when the name cannot be written there (a line end in it). */
char	*pickup_identity(const char *name, const struct stat *st);
/* Does `name` still hold the file st describes (same dev, inode, size
 * and mtime)? */
bool	pickup_unchanged(const struct pickup *p, const char *name,
	    const struct stat *st);

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
