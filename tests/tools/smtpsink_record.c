/*
 * smtpsink_record: what the sink tells the tests.
 *
 * --record FILE gets one compact JSON object per line and event, flushed
 * at once so that a test can read the file while the sink runs:
 *   connect  {"event","t","peer","local"}
 *   rcpt     {"event","t","peer","local","rcpt","code","params"}  (each
 *             RCPT answered; params: its parameters as sent)
 *   tls      {"event","t","peer","local","tls_protocol","tls_cipher",
 *             "sni"}  (a STARTTLS handshake completed; sni null if none)
 *   message  {"event","t","peer","local","helo","esmtp","mail_from",
 *             "mail_params","rcpts":[accepted],"rejected":[{"rcpt",
 *             "code"}],"size","reply","sha256","id","pipelined","tls"}
 *             (each end-of-DATA reply; pipelined: commands followed
 *             MAIL in the same input, i.e. the client pipelines;
 *             reply 0 for xd, which drops the connection instead; "tls"
 *             false, or true with "tls_protocol", "tls_cipher", "sni")
 *   quit     {"event","t","peer","local"}  (QUIT received: the client
 *             is done, whenever its close reaches the sink)
 *   close    {"event","t","peer","local"}
 * "t" is the wall time in seconds with microseconds.  Strings are valid
 * JSON whatever the peer sent: invalid UTF-8 bytes become \u00XX.
 *
 * --maildir DIR gets the unstuffed content of each accepted message as
 * DIR/<id>.eml, written to DIR/.<id>.tmp while it arrives and renamed
 * when the 2xx reply is decided.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "smtpsink.h"

#define RECORD_LINE_MAX	(64 * 1024 * 1024)

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t i, n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : lo;		/* overlong */
		hi = p[0] == 0xed ? 0x9f : hi;		/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : lo;		/* overlong */
		hi = p[0] == 0xf4 ? 0x8f : hi;		/* > U+10FFFF */
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Append s as a JSON string.  0, or -1 when b is full. */
int
json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	int r = buf_append(b, "\"", 1);

	while (*p != '\0' && r == 0) {
		for (n = 0; p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"' &&
		    p[n] != '\\'; n++)
			continue;
		if (n > 0) {
			r = buf_append(b, p, n);
			p += n;
		} else if (*p == '"' || *p == '\\') {
			r = buf_printf(b, "\\%c", *p);
			p++;
		} else if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
			r = buf_append(b, p, n);
			p += n;
		} else {
			r = buf_printf(b, "\\u%04x", *p);
			p++;
		}
	}
	return r == 0 ? buf_append(b, "\"", 1) : r;
}

/* {"event":..,"t":..,"peer":..,"local":.. -- the common head. */
static int
record_head(struct buf *b, const struct sink_conn *c, const char *event)
{
	struct timespec ts;
	int r;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		memset(&ts, 0, sizeof(ts));
	r = buf_printf(b, "{\"event\":\"%s\",\"t\":%lld.%06ld,\"peer\":",
	    event, (long long)ts.tv_sec, ts.tv_nsec / 1000);
	r |= json_string(b, c->peer);
	r |= buf_puts(b, ",\"local\":");
	r |= json_string(b, c->local);
	return r;
}

/* Close the object, write the line and free the buffer. */
static void
record_emit(struct sink *sink, struct buf *b, int r)
{
	if (r == 0)
		r = buf_puts(b, "}\n");
	if (r != 0 || b->err)
		log_warnx("smtpsink: record line too long, dropped");
	else if (fwrite(b->data, 1, b->len, sink->record) != b->len ||
	    fflush(sink->record) == EOF)
		log_warn("smtpsink: write %s", sink->record_path);
	buf_free(b);
}

static void
record_simple(struct sink_conn *c, const char *event)
{
	struct buf b;

	if (c->sink->record == NULL)
		return;
	buf_init(&b, RECORD_LINE_MAX);
	record_emit(c->sink, &b, record_head(&b, c, event));
}

void
record_connect(struct sink_conn *c)
{
	record_simple(c, "connect");
}

void
record_quit(struct sink_conn *c)
{
	record_simple(c, "quit");
}

void
record_close(struct sink_conn *c)
{
	record_simple(c, "close");
}

/* ,"tls_protocol":..,"tls_cipher":..,"sni":.. */
static int
record_tls_fields(struct buf *b, const struct sink_conn *c)
{
	int r = buf_puts(b, ",\"tls_protocol\":");

	r |= json_string(b, c->tls_protocol);
	r |= buf_puts(b, ",\"tls_cipher\":");
	r |= json_string(b, c->tls_cipher);
	r |= buf_puts(b, ",\"sni\":");
	r |= c->sni != NULL ? json_string(b, c->sni) : buf_puts(b, "null");
	return r;
}

void
record_tls(struct sink_conn *c)
{
	struct buf b;
	int r;

	if (c->sink->record == NULL)
		return;
	buf_init(&b, RECORD_LINE_MAX);
	r = record_head(&b, c, "tls");
	r |= record_tls_fields(&b, c);
	record_emit(c->sink, &b, r);
}

void
record_rcpt(struct sink_conn *c, const char *addr, const char *params,
    int code)
{
	struct buf b;
	int r;

	if (c->sink->record == NULL)
		return;
	buf_init(&b, RECORD_LINE_MAX);
	r = record_head(&b, c, "rcpt");
	r |= buf_puts(&b, ",\"rcpt\":");
	r |= json_string(&b, addr);
	r |= buf_printf(&b, ",\"code\":%d,\"params\":", code);
	r |= json_string(&b, params);
	record_emit(c->sink, &b, r);
}

/* ,"rcpts":[..],"rejected":[{"rcpt":..,"code":..},..] */
static int
record_rcpt_lists(struct buf *b, const struct sink_txn *t)
{
	const char *sep = "";
	size_t i;
	int r = buf_puts(b, ",\"rcpts\":[");

	for (i = 0; i < t->nrcpts && r == 0; i++) {
		if (t->rcpts[i].code / 100 != 2)
			continue;
		r |= buf_puts(b, sep);
		r |= json_string(b, t->rcpts[i].addr);
		sep = ",";
	}
	r |= buf_puts(b, "],\"rejected\":[");
	sep = "";
	for (i = 0; i < t->nrcpts && r == 0; i++) {
		if (t->rcpts[i].code / 100 == 2)
			continue;
		r |= buf_printf(b, "%s{\"rcpt\":", sep);
		r |= json_string(b, t->rcpts[i].addr);
		r |= buf_printf(b, ",\"code\":%d}", t->rcpts[i].code);
		sep = ",";
	}
	r |= buf_puts(b, "]");
	return r;
}

void
record_message(struct sink_conn *c, int reply, const char *sha256)
{
	const struct sink_txn *t = &c->txn;
	struct buf b;
	int r;

	if (c->sink->record == NULL)
		return;
	buf_init(&b, RECORD_LINE_MAX);
	r = record_head(&b, c, "message");
	r |= buf_puts(&b, ",\"helo\":");
	r |= json_string(&b, c->helo != NULL ? c->helo : "");
	r |= buf_printf(&b, ",\"esmtp\":%s,\"mail_from\":",
	    c->esmtp ? "true" : "false");
	r |= json_string(&b, t->mail_from != NULL ? t->mail_from : "");
	r |= buf_puts(&b, ",\"mail_params\":");
	r |= json_string(&b, t->mail_params != NULL ? t->mail_params : "");
	r |= record_rcpt_lists(&b, t);
	r |= buf_printf(&b, ",\"size\":%llu,\"reply\":%d,\"sha256\":\"%s\","
	    "\"id\":\"%lu\"", t->size, reply, sha256, t->id);
	r |= buf_printf(&b, ",\"pipelined\":%s",
	    t->pipelined ? "true" : "false");
	r |= buf_printf(&b, ",\"tls\":%s",
	    c->tls_protocol[0] != '\0' ? "true" : "false");
	if (c->tls_protocol[0] != '\0')
		r |= record_tls_fields(&b, c);
	record_emit(c->sink, &b, r);
}

int
maildir_open(struct sink_conn *c)
{
	struct sink_txn *t = &c->txn;
	int fd;

	t->mtmp = xasprintf("%s/.%lu.tmp", c->sink->maildir, t->id);
	fd = open(t->mtmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 || (t->mfile = fdopen(fd, "w")) == NULL) {
		log_warn("smtpsink: %s", t->mtmp);
		if (fd != -1) {
			close(fd);
			unlink(t->mtmp);
		}
		free(t->mtmp);
		t->mtmp = NULL;
		return -1;
	}
	return 0;
}

void
maildir_write(struct sink_conn *c, const char *p, size_t n)
{
	struct sink_txn *t = &c->txn;

	if (t->mfile == NULL || t->merr)
		return;
	if (fwrite(p, 1, n, t->mfile) != n) {
		log_warn("smtpsink: write %s", t->mtmp);
		t->merr = true;
	}
}

int
maildir_finish(struct sink_conn *c, bool keep)
{
	struct sink_txn *t = &c->txn;
	char *path;
	int r = 0;

	if (t->mfile == NULL)
		return 0;
	if (fclose(t->mfile) == EOF) {
		log_warn("smtpsink: close %s", t->mtmp);
		t->merr = true;
	}
	t->mfile = NULL;
	if (keep && !t->merr) {
		path = xasprintf("%s/%lu.eml", c->sink->maildir, t->id);
		if (rename(t->mtmp, path) == -1) {
			log_warn("smtpsink: rename %s", path);
			t->merr = true;
		}
		free(path);
	}
	if (!keep || t->merr) {
		unlink(t->mtmp);
		r = keep ? -1 : 0;
	}
	free(t->mtmp);
	t->mtmp = NULL;
	return r;
}
