/*
 * Unit tests for acct: RFC 4180 quoting, the time formats, the layouts
 * (default columns per record type, record-fields selection and order,
 * "*,!x", header_X columns, map-header-to-field, the multi-type column
 * union of R-Q13), rotated file names, reading a header section, and a
 * real file destination rotated by max-size and by acct_rotate().
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acct/acct.h"
#include "queue/bounce.h"
#include "tap.h"

#define T0	1714644907	/* 2024-05-02 10:15:07 UTC */

static char dir[] = "/tmp/tern-test-acct-XXXXXX";

static const char *
field(const char *s)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b, 1024);
	(void)acct_csv_field(&b, s);
	return buf_str(&b);
}

/* A layout from "records" bits and NULL-terminated entry lists. */
static struct acct_layout *
layout(unsigned records, char **fields, char **maps, const char **error)
{
	size_t nf = 0, nm = 0;

	while (fields && fields[nf])
		nf++;
	while (maps && maps[nm])
		nm++;
	*error = NULL;
	return acct_layout_new(records, fields, nf, maps, nm, error);
}

static const char *
line_of(const struct acct_layout *l, const struct acct_record *r,
    struct buf *hdrs)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b, 64 * 1024);
	if (acct_format(&b, l, r, hdrs) == -1)
		return "(format failed)";
	return buf_str(&b);
}

static void
sample(struct acct_record *r, enum acct_type type)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->logged = r->queued = T0;
	r->orig = "a@example.net";
	r->rcpt = "b@example.org";
	r->dsn_action = "relayed";
	r->dsn_status = "2.0.0 (success)";
	r->dsn_diag = "smtp;250 2.0.0 OK";
	r->dlv_source_ip = "10.0.0.1";
	r->dlv_esmtp_available = "PIPELINING,8BITMIME";
	r->dlv_size = 5120;
	r->vmta = "vmta1";
	r->queue = "example.org/vmta1";
	r->bounce_cat = type == ACCT_B ? "bad-mailbox" : NULL;
}

#define D	(1u << ACCT_D)
#define B	(1u << ACCT_B)
#define TB	(1u << ACCT_T)
#define TQ	(1u << ACCT_TQ)
#define R	(1u << ACCT_R)
#define F	(1u << ACCT_F)
#define RB	(1u << ACCT_RB)

static void
test_quoting_and_times(void)
{
	char t[40];

	is_str(field("plain"), "plain", "a plain field is not quoted");
	is_str(field(""), "", "empty stays empty");
	is_str(field(NULL), "", "NULL is empty");
	is_str(field("a,b"), "\"a,b\"", "a comma is quoted");
	is_str(field("say \"hi\""), "\"say \"\"hi\"\"\"", "quotes are doubled");
	is_str(field("two\r\nlines"), "\"two\r\nlines\"", "line breaks are quoted");
	acct_time(T0, t, sizeof(t));
	is_str(t, "2024-05-02 10:15:07+0000", "iso-times form");
	is_str(acct_type_name(ACCT_TQ), "tq", "type letters");
	is_int(acct_type_parse("transient-queue"), ACCT_TQ, "long type name");
	is_int(acct_type_parse("FBL"), ACCT_F, "fbl is f");
	is_int(acct_type_parse("x"), -1, "unknown type");
}

static void
test_defaults(void)
{
	struct acct_layout *l;
	struct acct_record r;
	const char *error;

	l = layout(D | B, NULL, NULL, &error);
	ok(l != NULL, "default layout");
	is_str(acct_layout_header(l), ACCT_DEFAULT_FIELDS "\r\n",
	    "d,b: the 23 default columns");
	sample(&r, ACCT_D);
	is_str(line_of(l, &r, NULL),
	    "d,2024-05-02 10:15:07+0000,2024-05-02 10:15:07+0000,a@example.net,"
	    "b@example.org,,relayed,2.0.0 (success),smtp;250 2.0.0 OK,,,,,,"
	    "10.0.0.1,,\"PIPELINING,8BITMIME\",5120,vmta1,,,example.org/vmta1,\r\n",
	    "a d record in PMTA's order");
	sample(&r, ACCT_T);
	ok(!acct_layout_takes(l, ACCT_T) && strcmp(line_of(l, &r, NULL),
	    "(format failed)") == 0, "d,b does not take t");
	acct_layout_free(l);

	l = layout(TQ, NULL, NULL, &error);
	is_str(acct_layout_header(l), "type,timeLogged,dsnStatus,dsnDiag,dsnMta,"
	    "dlvType,dlvSourceIp,dlvDestinationIp,vmta,queue\r\n",
	    "tq default columns");
	sample(&r, ACCT_TQ);
	r.dsn_status = "4.4.1 (no answer from host)";
	r.dsn_diag = "smtp;451 4.4.1 refused";
	r.dlv_type = "smtp";
	is_str(line_of(l, &r, NULL), "tq,2024-05-02 10:15:07+0000,4.4.1 (no answer "
	    "from host),smtp;451 4.4.1 refused,,smtp,10.0.0.1,,vmta1,"
	    "example.org/vmta1\r\n", "a tq row");
	acct_layout_free(l);

	l = layout(R, NULL, NULL, &error);
	is_str(acct_layout_header(l), "type,timeLogged,orig,rcpt,orcpt,srcType,"
	    "srcMta,rcvSourceIp,rcvDestinationIp,vmta,vmtaPool,jobId,envId\r\n",
	    "r default columns");
	acct_layout_free(l);
}

static void
test_union(void)
{
	char *vendor[] = { "delivery timeLogged,orig,rcpt,dlvSourceIp",
	    "bounce timeLogged,orig,rcpt,bounceCat", NULL };
	struct acct_layout *l;
	struct acct_record r;
	const char *error;

	l = layout(D | B, vendor, NULL, &error);
	is_str(acct_layout_header(l), "type,timeLogged,orig,rcpt,dlvSourceIp,"
	    "bounceCat\r\n", "the vendor example's union header");
	sample(&r, ACCT_D);
	is_str(line_of(l, &r, NULL), "d,2024-05-02 10:15:07+0000,a@example.net,"
	    "b@example.org,10.0.0.1,\r\n", "d row: empty bounceCat");
	sample(&r, ACCT_B);
	is_str(line_of(l, &r, NULL), "b,2024-05-02 10:15:07+0000,a@example.net,"
	    "b@example.org,,bad-mailbox\r\n", "b row: empty dlvSourceIp");
	acct_layout_free(l);

	l = layout(D | B | F | R | RB, NULL, NULL, &error);
	is_str(acct_layout_header(l), ACCT_DEFAULT_FIELDS ",repSourceIp,"
	    "feedbackType,format,userAgent,reportingMta,reportedDomain,"
	    "header_From,header_Return-Path,header_X-job,header_Subject,"
	    "rcvSourceIp,rcvDestinationIp,dsnReportingMta\r\n",
	    "d,b,f,r,rb: the real union header (R-Q13)");
	acct_layout_free(l);

	l = layout(D | TQ, NULL, NULL, &error);
	sample(&r, ACCT_TQ);
	is_str(line_of(l, &r, NULL), "tq,2024-05-02 10:15:07+0000,,,,,,"
	    "2.0.0 (success),smtp;250 2.0.0 OK,,,,,,10.0.0.1,,,,vmta1,,,"
	    "example.org/vmta1,\r\n", "tq row in a d,tq file: its own columns only");
	acct_layout_free(l);
}

static void
test_selection(void)
{
	char *drop[] = { "d *,!orcpt, !vmtaPool", NULL };
	char *order[] = { "b timeQueued,bounceCat,vmta,orig,rcpt,srcMta,"
	    "dlvSourceIp,jobId,dsnStatus,dsnMta,dsnDiag", NULL };
	char *twice[] = { "d orig", "d rcpt,type,rcpt", NULL };
	char *extra[] = { "d timeLogged,totalSecondsQueued,userString,"
	    "timeFirstAttempt", NULL };
	struct acct_layout *l;
	struct acct_record r;
	const char *error;

	l = layout(D, drop, NULL, &error);
	ok(l != NULL && strstr(acct_layout_header(l), "orcpt") == NULL &&
	    strstr(acct_layout_header(l), "vmtaPool") == NULL &&
	    strncmp(acct_layout_header(l), "type,timeLogged,timeQueued,orig,rcpt,"
	    "dsnAction,", 43) == 0, "*,!orcpt drops columns, keeps the order");
	acct_layout_free(l);
	l = layout(B, order, NULL, &error);
	is_str(acct_layout_header(l), "type,timeQueued,bounceCat,vmta,orig,rcpt,"
	    "srcMta,dlvSourceIp,jobId,dsnStatus,dsnMta,dsnDiag\r\n",
	    "an explicit list selects and orders ([BH] #3)");
	acct_layout_free(l);
	l = layout(D, twice, NULL, &error);
	is_str(acct_layout_header(l), "type,rcpt\r\n",
	    "the last record-fields of a type wins; type and duplicates ignored");
	acct_layout_free(l);
	l = layout(D, extra, NULL, &error);
	acct_layout_set_user_string(l, "us,1");
	acct_layout_set_times(l, false);
	sample(&r, ACCT_D);
	r.logged = T0 + 42;
	is_str(line_of(l, &r, NULL), "d,1714644949,42,\"us,1\",\r\n",
	    "iso-times no, totalSecondsQueued, userString, empty first attempt");
	acct_layout_free(l);
}

static void
test_headers(void)
{
	char *fields[] = { "d *,header_Message-Id, header_subject", NULL };
	char *maps[] = { "d header_X-Job jobId", "d header_X-Other jobId",
	    "b header_X-Env envId", NULL };
	const char *text = "Message-ID: <1@x>\r\nSubject: hello,\r\n world\r\n"
	    "X-Other: other\r\nX-Job: job-7\r\n\r\n";
	struct acct_layout *l;
	struct acct_record r;
	struct buf h;
	const char *error, *s;

	buf_init(&h, 4096);
	(void)buf_puts(&h, text);
	l = layout(D | B, fields, maps, &error);
	ok(l != NULL, "header_ columns and maps parse");
	ok(strstr(acct_layout_header(l), ",vmtaPool,header_Message-Id,"
	    "header_subject\r\n") != NULL, "header columns are written as configured");
	ok(acct_layout_needs_headers(l, ACCT_D) && acct_layout_needs_headers(l, ACCT_B),
	    "d and b need the headers");
	sample(&r, ACCT_D);
	r.job_id = "from-envelope";
	s = line_of(l, &r, &h);
	ok(strstr(s, ",vmta1,job-7,,example.org/vmta1,,<1@x>,\"hello, world\"\r\n")
	    != NULL, "header values (case-insensitive, unfolded, quoted); "
	    "the first mapped header present wins");
	s = line_of(l, &r, NULL);
	ok(strstr(s, ",vmta1,from-envelope,,example.org/vmta1,,,\r\n") != NULL,
	    "without headers: empty columns, the record's own jobId");
	acct_layout_free(l);
	buf_free(&h);
}

static void
test_errors(void)
{
	char *bad_field[] = { "d timeLogged,nosuch", NULL };
	char *bad_type[] = { "x timeLogged", NULL };
	char *no_list[] = { "d", NULL };
	char *bare_header[] = { "d header_", NULL };
	char *map_tq[] = { "tq header_X dsnDiag", NULL };
	char *map_field[] = { "d header_X nosuch", NULL };
	char *map_short[] = { "d header_X", NULL };
	const char *error;
	struct acct_layout *l;

#define REFUSED(f, m, what) do {					\
	l = layout(D, f, m, &error);					\
	ok(l == NULL && error != NULL && strstr(error, what) != NULL,	\
	    "refused: %s", error ? error : "(no error)");		\
	acct_layout_free(l);						\
} while (0)
	REFUSED(bad_field, NULL, "record-fields: unknown field \"nosuch\"");
	REFUSED(bad_type, NULL, "unknown record type \"x\"");
	REFUSED(no_list, NULL, "no field list");
	REFUSED(bare_header, NULL, "header_ without a header name");
	REFUSED(NULL, map_tq, "record type \"tq\" not allowed");
	REFUSED(NULL, map_field, "unknown field \"nosuch\"");
	REFUSED(NULL, map_short, "expected TYPE header_NAME FIELD");
#undef REFUSED
}

static void
test_names(void)
{
	char name[256];

	ok(acct_rotated_name("/var/log/pmta/acct.csv", NULL, T0, 0, name,
	    sizeof(name)) == 0, "a rotated name");
	is_str(name, "/var/log/pmta/acct-2024-05-02-0000.csv", "in place");
	(void)acct_rotated_name("/var/log/pmta/acct.csv", "/archive", T0, 12,
	    name, sizeof(name));
	is_str(name, "/archive/acct-2024-05-02-0012.csv", "into move-to");
	(void)acct_rotated_name("acct", NULL, T0, 1, name, sizeof(name));
	is_str(name, "acct-2024-05-02-0001", "no directory, no extension");
	(void)acct_rotated_name("/l/.hidden", NULL, T0, 1, name, sizeof(name));
	is_str(name, "/l/.hidden-2024-05-02-0001", "a leading dot is no extension");
	ok(acct_rotated_name("/l/a.csv", NULL, T0, 10000, name, sizeof(name)) == -1,
	    "sequence numbers stop at 9999");
	ok(acct_rotated_name("/l/a.csv", NULL, T0, 1, name, 20) == -1,
	    "a name that does not fit is refused");
	ok(acct_rotated_match("/l/acct.csv", "acct-2024-05-02-0000.csv"),
	    "a rotated name matches");
	ok(!acct_rotated_match("/l/acct.csv", "acct.csv"), "the live file does not");
	ok(!acct_rotated_match("/l/acct.csv", "acct-2024-05-02-000x.csv"),
	    "digits only");
	ok(!acct_rotated_match("/l/acct.csv", "acct-2024-05-02-0000.txt"),
	    "same extension");
	ok(!acct_rotated_match("/l/acct.csv", "other-2024-05-02-0000.csv"),
	    "same base");
}

static void
test_read_headers(void)
{
	char path[600];
	const char *text = "ENVELOPE\nSubject: s\r\nX-A: 1\r\n\r\nbody\r\n";
	struct buf b;
	int fd;

	snprintf(path, sizeof(path), "%s/msg", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ok(fd != -1 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	    "a message file");
	buf_init(&b, 4096);
	ok(acct_read_headers(fd, 9, &b) == 0, "read the header section");
	is_str(buf_str(&b), "Subject: s\r\nX-A: 1\r\n\r\n", "up to the empty line");
	buf_free(&b);
	buf_init(&b, 16);
	(void)acct_read_headers(fd, 9, &b);
	is_str(buf_str(&b), "Subject: s\r\n", "capped: whole lines only");
	buf_free(&b);
	close(fd);
}

static struct model *
load(const char *body)
{
	char path[600];
	struct conf_errors e;
	struct model *m;
	FILE *f;

	snprintf(path, sizeof(path), "%s/config", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fprintf(f, "spool %s/spool\n%s", dir, body);
	fclose(f);
	conf_errors_init(&e);
	m = model_load(path, &e);
	if (m == NULL)
		diag("%s", buf_str(&e.text));
	conf_errors_free(&e);
	return m;
}

/* Files in dir whose names start with prefix; the last one in *last. */
static int
count_files(const char *prefix, char *last, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			n++;
			if (last != NULL && strcmp(e->d_name, last) > 0)
				snprintf(last, size, "%s", e->d_name);
		}
	if (d != NULL)
		closedir(d);
	return n;
}

static char *
slurp(const char *name)
{
	char path[600];
	struct buf b;
	char chunk[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf_init(&b, 64 * 1024 * 1024);
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf_take(&b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		(void)buf_append(&b, chunk, (size_t)n);
	close(fd);
	if (b.data == NULL)
		(void)buf_puts(&b, "");
	return buf_take(&b);
}

static void
test_file_rotation(void)
{
	char body[1024], last[256] = "";
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct model *m;
	struct acct *a;
	struct acct_record r;
	const char *error = NULL;
	char *text;
	int n;

	snprintf(body, sizeof(body), "<acct-file %s/acct.csv>\n"
	    "  records d,t\n  max-size 1M\n"
	    "  record-fields t timeLogged,rcpt,dsnAction\n</acct-file>\n", dir);
	m = load(body);
	ok(m != NULL && acct_check(m, &error) == 0, "a config with a file");
	a = acct_open(loop, m, &error);
	ok(a != NULL, "acct_open: %s", a ? "ok" : error);
	ok(acct_wants(a, ACCT_T) && !acct_wants(a, ACCT_B), "records d,t");
	is_int(acct_rotate(a, NULL, &error), 0, "a file with only its header "
	    "is not rotated");
	sample(&r, ACCT_D);
	for (int i = 0; i < 6000; i++)
		acct_write(a, &r);
	is_int(count_files("acct-", last, sizeof(last)), 1,
	    "max-size 1M: one rotated file after 6000 records");
	text = slurp(last);
	ok(strncmp(text, ACCT_DEFAULT_FIELDS "\r\nd,", strlen(ACCT_DEFAULT_FIELDS) + 4)
	    == 0, "it starts with the d,t header");
	ok(strlen(text) <= 1024 * 1024 && strlen(text) > 1000 * 1024,
	    "and stays under max-size (%zu bytes)", strlen(text));
	free(text);
	n = count_files("acct-", NULL, 0);
	is_int(acct_rotate(a, "acct.csv", &error), 1, "rotate acct acct.csv");
	is_int(count_files("acct-", last, sizeof(last)), n + 1, "one more file");
	ok(strstr(last, "-0001.csv") != NULL, "the next sequence number: %s", last);
	text = slurp("acct.csv");
	ok(strncmp(text, "type,", 5) == 0 && strchr(text, '\n')[1] == '\0',
	    "a fresh file with the header only");
	free(text);
	ok(acct_rotate(a, "other.csv", &error) == -1 && error != NULL,
	    "rotate acct of an unknown file: %s", error);
	acct_close(a);
	model_unref(m);

	/* other columns: the old file is set aside */
	sample(&r, ACCT_T);
	snprintf(body, sizeof(body), "<acct-file %s/acct.csv>\n  records t\n"
	    "  record-fields t rcpt\n</acct-file>\n", dir);
	m = load(body);
	a = acct_open(loop, m, &error);
	acct_write(a, &r);
	text = slurp("acct.csv");
	is_str(text, "type,rcpt\r\nt,b@example.org\r\n",
	    "a file with other columns is rotated away at open");
	free(text);
	acct_close(a);
	model_unref(m);

	/* a file last written on an earlier day: rotated at open, with
	 * that day's date */
	{
		char path[600];
		struct timespec times[2] = { { T0, 0 }, { T0, 0 } };
		FILE *fp;

		snprintf(path, sizeof(path), "%s/acct.csv", dir);
		fp = fopen(path, "w");
		fputs("type,rcpt\r\nt,old@example.org\r\n", fp);
		fclose(fp);
		utimensat(AT_FDCWD, path, times, 0);
		snprintf(body, sizeof(body), "<acct-file %s/acct.csv>\n  records t\n"
		    "  record-fields t rcpt\n  delete-after never\n</acct-file>\n",
		    dir);
		m = load(body);
		a = acct_open(loop, m, &error);
		text = slurp("acct-2024-05-02-0000.csv");
		is_str(text, "type,rcpt\r\nt,old@example.org\r\n",
		    "a file from an earlier day is rotated at open, named by "
		    "its day");
		free(text);
		text = slurp("acct.csv");
		is_str(text, "type,rcpt\r\n", "and a new one started");
		free(text);
		acct_close(a);
		model_unref(m);
		n = count_files("acct-", NULL, 0);
		snprintf(body, sizeof(body), "<acct-file %s/acct.csv>\n  records t\n"
		    "  record-fields t rcpt\n  delete-after 8d\n</acct-file>\n", dir);
		m = load(body);
		a = acct_open(loop, m, &error);
		snprintf(path, sizeof(path), "%s/acct-2024-05-02-0000.csv", dir);
		ok(access(path, F_OK) == -1 && count_files("acct-", NULL, 0) == n - 1,
		    "delete-after 8d: the old rotated file is deleted, today's stay");
		acct_close(a);
		model_unref(m);
	}

	snprintf(body, sizeof(body), "<acct-file %s/acct.csv>\n"
	    "  record-fields d nosuch\n</acct-file>\n", dir);
	m = load(body);
	ok(m != NULL && acct_check(m, &error) == -1, "acct_check refuses");
	ok(strstr(error, "/config:3: <acct-file ") != NULL &&
	    strstr(error, "unknown field") != NULL, "with file:line: %s", error);
	ok(acct_open(loop, m, &error) == NULL, "acct_open refuses it too");
	model_unref(m);
	ev_loop_destroy(loop);
}

/* The texts the records carry (queue/bounce.c). */
static void
test_bounce_texts(void)
{
	char st[128];

	bounce_dsn_status("5.1.1", st, sizeof(st));
	is_str(st, "5.1.1 (bad destination mailbox address)", "RFC 3463 text, 5.1.1");
	bounce_dsn_status("4.7.0", st, sizeof(st));
	is_str(st, "4.7.0 (other or undefined security status)", "RFC 3463 text, 4.7.0");
	bounce_dsn_status("4.4.1", st, sizeof(st));
	is_str(st, "4.4.1 (no answer from host)", "RFC 3463 text, 4.4.1 (tq)");
	bounce_dsn_status("2.0.0", st, sizeof(st));
	is_str(st, "2.0.0 (success)", "success");
	bounce_dsn_status("5.9.9", st, sizeof(st));
	is_str(st, "5.9.9 (undefined status)", "an unknown code");
	is_str(bounce_category(NULL, "5.1.1 (bad destination mailbox address)",
	    "smtp;550 5.1.1 <x@y>: Recipient address rejected: User unknown"),
	    "bad-mailbox", "user unknown is bad-mailbox");
	is_str(bounce_category(NULL, "5.7.1 (delivery not authorized, message refused)",
	    "smtp;554 5.7.1 Message rejected as spam"), "spam-related",
	    "first match wins: spam before rejected");
	is_str(bounce_category(NULL, "5.2.2 (mailbox full)", "smtp;552 Mailbox is full"),
	    "quota-issues", "mailbox full is quota-issues");
	is_str(bounce_category(NULL, "4.4.7 (delivery time expired)", "smtp;x"),
	    "message-expired", "4.4.7 by its status code");
	is_str(bounce_category(NULL, "5.0.0 (undefined status)", "smtp;500 whatever"),
	    "other", "nothing matches: other");
}

int
main(void)
{
	char cmd[600];

	setenv("TZ", "UTC", 1);
	if (mkdtemp(dir) == NULL)
		return 1;
	test_quoting_and_times();
	test_defaults();
	test_union();
	test_selection();
	test_headers();
	test_errors();
	test_names();
	test_read_headers();
	test_file_rotation();
	test_bounce_texts();
	bounce_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
