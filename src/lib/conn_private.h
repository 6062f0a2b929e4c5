/*
 * conn_private: what conn.c and conn_tls.c share.
 */
#ifndef TERN_LIB_CONN_PRIVATE_H
#define TERN_LIB_CONN_PRIVATE_H

#include "lib/conn.h"

/* conn.c */
/* Re-arm the inactivity timer (progress was made). */
void	conn_touch(struct conn *c);
/* Start or stop the watchers for the connection's state. */
void	conn_update(struct conn *c);
/* send() what c->out holds in clear text.  -1 on error (c->error set). */
int	conn_send_plain(struct conn *c);

/* conn_tls.c */
/* The read and write watchers a TLS connection needs now. */
void	conn_tls_wants(struct conn *c, bool *rd, bool *wr);
/* Is there input OpenSSL holds, or an end to report, that the socket
 * will not signal?  Then the read watcher is fed an event. */
bool	conn_tls_buffered(const struct conn *c);
void	conn_tls_on_read(struct conn *c);
void	conn_tls_on_write(struct conn *c);
/* Send close_notify if the session is sound, and free the SSL object. */
void	conn_tls_free(struct conn *c);

#endif
