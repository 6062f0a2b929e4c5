/*
 * ctl_private: what the files of src/ctl share.
 */
#ifndef TERN_CTL_PRIVATE_H
#define TERN_CTL_PRIVATE_H

#include "ctl/ctl.h"

/* ctl_queue.c: the queue commands. */
enum ctl_status ctl_show_queues(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_pause_queue(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_resume_queue(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_schedule(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_set_queue(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_delete(const struct ctl_ctx *ctx, int argc, char **argv,
	    struct buf *out);
enum ctl_status ctl_set_priority(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_show_jobs(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_pause_job(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);
enum ctl_status ctl_resume_job(const struct ctl_ctx *ctx, int argc,
	    char **argv, struct buf *out);

/* ctl_dns.c: resolve (answers later). */
enum ctl_status ctl_resolve(const struct ctl_ctx *ctx, int argc, char **argv,
	    struct buf *out, ctl_done_cb *done, void *arg,
	    struct ctl_wait **wait);

#endif
