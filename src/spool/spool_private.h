/*
 * spool_private: what the files of src/spool share.
 */
#ifndef TERN_SPOOL_PRIVATE_H
#define TERN_SPOOL_PRIVATE_H

#include "spool/spool.h"

struct spool_sync;

struct spool {
	char			*dir;
	int			 msg_dirfd;
	int			 tmp_dirfd;
	unsigned long		 seq;
	struct spool_sync	*sync;		/* group commit, once started */
};

/* spool_sync.c: queue a written file for the next batch (takes the paths). */
void	spool_sync_submit(struct spool *s, char *tmp_path, char *final_path,
	    spool_commit_cb *cb, void *arg);

#endif
