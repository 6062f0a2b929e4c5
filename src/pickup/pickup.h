/*
 * pickup: the pickup directory (pmta-interfaces §4.4; `pickup PICKUPDIR
 * BADDIR`, `pickup-remove-dot`).
 *
 * pmtad watches PICKUPDIR (inotify, and a rescan every PICKUP_RESCAN
 * seconds in case an event was missed or inotify is not available) and
 * injects every complete file as if it had been received over SMTP from
 * the special source {pickup}: <source {pickup}> settings apply (X-Virtual-
 * MTA, X-Job, pattern-list, default-virtual-mta, ...), the message goes
 * through the SMTP server's selection and spool commit (smtpd_msg.h), and
 * the file is removed only once the message is durable.  The spool
 * envelope names the file (dev, inode, size, mtime, name): if pmtad stops
 * between the commit and the removal, recovery removes the file instead
 * of injecting it again, so each file is queued once.  A file that can
 * never be injected (unparseable, no recipients, too large, an unknown
 * VirtualMTA) is moved to BADDIR with a log line saying why; a temporary
 * failure (spool error) leaves it for the next rescan.
 *
 * Writers create a file elsewhere (or under a name starting with ".",
 * which Tern never takes) and rename() it into PICKUPDIR; a file is taken
 * only under an exclusive flock(), so a writer that holds one is waited
 * for.  Files are read in chunks between other events, never whole.
 */
#ifndef TERN_PICKUP_H
#define TERN_PICKUP_H

#include <ev.h>

#include "model/model.h"
#include "spool/spool.h"

#define PICKUP_RESCAN		2.	/* seconds between directory scans */
#define PICKUP_SIZE_DEFAULT	(100LL * 1024 * 1024)	/* bytes, without
						   max-message-size in {pickup} */

struct pickup;
struct smtpd;

/*
 * Open the model's pickup directories (NULL, with *error_r NULL, when the
 * configuration has none); missing ones are created.  NULL with *error_r
 * when a directory cannot be used.  Call before the spool is recovered.
 */
struct pickup *pickup_new(struct ev_loop *loop, struct model *const *model,
	    struct smtpd *smtpd, const char **error_r);
/* During spool recovery, for every message recovered (p may be NULL):
 * its pickup file, if still there unchanged, is removed. */
void	pickup_recovered(struct pickup *p, const struct spool_envelope *env);
/* After recovery: take files (those there already first), watch for
 * more.  p may be NULL. */
void	pickup_start(struct pickup *p);
/* Stop taking files; the file being read is left for the next start.
 * Files already handed to the spool finish when their commit does. */
void	pickup_stop(struct pickup *p);
/* After spool_sync_stop(): every commit has called back. */
void	pickup_free(struct pickup *p);

#endif
