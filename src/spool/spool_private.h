/*
 * spool_private: what the files of src/spool share.
 */
#ifndef TERN_SPOOL_PRIVATE_H
#define TERN_SPOOL_PRIVATE_H

#include <stdint.h>

#include "lib/buf.h"
#include "spool/spool.h"

#define SPOOL_LOG_MAGIC		"TERN-LOG 1\n"
#define SPOOL_SEG_BYTES		(4 * 1024 * 1024) /* then a new segment */
#define SPOOL_SEG_AGE		600	/* seconds; likewise, if not empty */
#define SPOOL_DONE_OPEN		64	/* recent segments keep .done open */
#define SPOOL_RECORD_MAX	(16 * 1024 * 1024)
#define SPOOL_DATA_MAGIC	"TERN-DATA 1\n"
#define SPOOL_DATA_FACTOR	16	/* data file: up to 16 x seg_bytes */
/* The last line of an image's envelope text, fixed width (32 bytes):
 * the envelope's length up to and with its empty line, the body's. */
#define SPOOL_IMAGE_FMT		"image %012lld %012lld\n"
#define SPOOL_IMAGE_LINE	32

struct spool_sync;

/* A log segment, as the loop thread knows it. */
struct spool_seg {
	unsigned	 no;
	size_t		 live;		/* committed, not yet removed */
	size_t		 total;		/* records in its log file */
	size_t		 pending;	/* begun, not committed or aborted */
	size_t		 bytes;		/* record bytes handed to it */
	size_t		 data_bytes;	/* image bytes handed to it */
	time_t		 created;
	int		 done_fd;	/* log/<no>.done, or -1 */
	int		 log_fd;	/* log/<no> without the sync thread */
	int		 data_fd;	/* log/<no>.data, likewise */
};

struct spool {
	char			*dir;
	int			 msg_dirfd;
	int			 log_dirfd;
	unsigned long		 seq;
	struct spool_sync	*sync;		/* group commit, once started */
	struct spool_seg	*segs;		/* sorted by no */
	size_t			 nsegs, nalloc;
	unsigned		 cur;		/* where new messages go */
	bool			 cur_open;	/* cur exists (dir made) */
	size_t			 live;
	size_t			 seg_bytes;	/* SPOOL_SEG_BYTES; tests lower it */
};

/* spool_sync.c: queue a written message for the next batch.  Takes the
 * writer's record and body path (a body file), or its envelope text and
 * body (a body for the data file; the record is made once its place is
 * known); the writer is left empty. */
void	spool_sync_submit(struct spool *s, struct spool_writer *w,
	    struct spool_envelope *env, spool_commit_cb *cb, void *arg);

/* spool_log.c, all on the loop thread except spool_log_append(). */
uint32_t spool_crc32(const void *p, size_t n);
/* The record for envelope text (ending with its empty line): "M len
 * crc\n" + the text with "<key> off size\n" before the empty line (key:
 * "body" or "data").  Malloc'ed, length in *len.  Thread-safe. */
char	*spool_log_record_text(const char *text, size_t text_len,
	    const char *key, off_t off, off_t size, size_t *len);
/* Likewise for a parsed envelope (body_offset, body_size and
 * body_in_data set). */
char	*spool_log_record_env(const struct spool_envelope *env, size_t *len);
/* Append an image (text as above, then body) to b; the body starts
 * text_len + SPOOL_IMAGE_LINE bytes after the image's start. */
void	spool_image_append(struct buf *b, const char *text, size_t text_len,
	    const char *body, size_t body_len);
/* Append records to segment `no` and fdatasync it; on failure the file
 * is cut back to its old length.  fd is opened when -1 (and a new file's
 * name is synced). */
int	spool_log_append(int dirfd, unsigned no, int *fd, const char *p,
	    size_t n);
/* Append images to segment no's data file log/<no>.data, opened into
 * *fd when -1; *off is where they start.  Synced (fdatasync) when sync;
 * else the caller syncs the file system.  On failure the file is cut
 * back.  Thread-safe. */
int	spool_data_append(int dirfd, unsigned no, int *fd, const char *p,
	    size_t n, bool sync, off_t *off);
struct spool_seg *spool_seg_find(struct spool *s, unsigned no);
struct spool_seg *spool_seg_add(struct spool *s, unsigned no);
/* The segment a new message goes to (a new one when full or old). */
struct spool_seg *spool_seg_current(struct spool *s, const char **error_r);
/* A message of segment `no` was committed / given up / removed. */
void	spool_seg_committed(struct spool *s, unsigned no);
void	spool_seg_aborted(struct spool *s, unsigned no);
void	spool_seg_released(struct spool *s, unsigned no);
/* Delete or compact segment `no` when its messages allow it. */
void	spool_seg_reclaim(struct spool *s, unsigned no);
void	spool_segs_free(struct spool *s);
/* "<no in 8 hex digits><suffix>", in msg/ or log/ */
void	spool_seg_name(char *buf, size_t size, unsigned no, const char *suffix);
#define SPOOL_DONE_ALL	((size_t)-1)	/* "<id> *" in a done-list */
/* spool.c: the envelope text of format 1, ending with its empty line. */
void	spool_envelope_format(const struct spool_envelope *env, struct buf *b);

/* spool_scan.c: parse envelope text (NUL-terminated, modified in place);
 * 0, or -1 when it is not a complete, valid envelope. */
int	spool_env_parse(char *text, struct spool_envelope *env);
/* Read a segment's log and done-list: each record whose recipients are
 * not all finished goes to cb; returns the records read, -1 when the
 * file cannot be read, and sets *damaged when a record was skipped. */
typedef void spool_seg_cb(struct spool_envelope *env, const bool *done,
	    void *arg);
long	spool_seg_read(struct spool *s, unsigned no, spool_seg_cb *cb,
	    void *arg, bool *damaged);

#endif
