"""Accounting rows field by field (pmta-reference §4.2, §4.3): one d, b,
t and tq row each, read with Python's csv module under the file's header,
every column compared with the value the reference documents for it, the
delivery over STARTTLS so that dlvTlsProtocol and dlvTlsCipher (requested
with record-fields) carry the protocol and cipher the receiver saw; the
tq row has only its own columns."""
import csv
import re
import shutil
import smtplib
import sys
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, DEFAULT_HEADER

t = Tap()
if shutil.which("openssl") is None:
    print("1..0 # SKIP the openssl command is not installed")
    sys.exit(0)
w = Workdir("b36")
pem, crt, key = w.cert("mx", "mx.test")
sink = Sink(w, extra=["--tls-cert", pem])
down = free_port()
ALL = w.file("all.csv")
TLS = "dlvTlsProtocol,dlvTlsCipher"
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-job yes
</source>
<domain tls.test>
    smtp-hosts [127.0.0.1]:%d
    retry-recipients-after 1h
</domain>
<domain down.test>
    smtp-hosts [127.0.0.1]:%d
    retry-after 1h
</domain>
<acct-file %s>
    records d, b, t, tq
    record-fields d *,%s
    record-fields b *,%s
    record-fields t *,%s
    record-fields tq *,%s
</acct-file>
""" % (sink.port, down, ALL, TLS, TLS, TLS, TLS))
tern.start()

MSG = "From: a@x.test\r\nX-Job: job-42\r\nSubject: fields\r\n\r\nhello\r\n"
with smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test", timeout=30) as c:
    c.sendmail("sender@demo.test", ["ok@tls.test", "no+r550@tls.test",
                                    "later+r451@tls.test"], MSG,
               mail_options=["ENVID=env-1"],
               rcpt_options=["NOTIFY=NEVER", "ORCPT=rfc822;o@x.test"])
    c.sendmail("sender@demo.test", ["u@down.test"], MSG)


def read():
    try:
        with open(ALL, newline="") as f:
            r = csv.DictReader(f)
            return r.fieldnames, list(r)
    except FileNotFoundError:
        return None, []


def row(type_):
    return [r for r in read()[1] if r["type"] == type_]


ok = wait_for(lambda: all(row(x) for x in ("d", "b", "t", "tq")), 20)
t.ok(ok, "a d, b, t and tq row", read()[1])
header, rows = read()
t.eq(header, DEFAULT_HEADER + TLS.split(","),
     "header: the 23 default columns, then the TLS ones (tq's are among them)")
t.ok(all(None not in r and None not in r.values() for r in rows),
     "every row has exactly the header's columns")
msg = wait_for(lambda: [m for m in sink.events("message") if m["reply"] == 250], 5)
msg = msg[0] if msg else {}
t.ok(msg.get("tls") and msg.get("tls_protocol", "").startswith("TLSv1."),
     "the receiver saw TLS", msg)

ISO = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4}"
ESMTP = "PIPELINING,8BITMIME,SIZE,ENHANCEDSTATUSCODES,SMTPUTF8,DSN"
COMMON = {
    "timeLogged": re.compile(ISO), "timeQueued": re.compile(ISO),
    "orig": "sender@demo.test", "orcpt": "rfc822;o@x.test",
    "dsnMta": "127.0.0.1 (127.0.0.1)", "srcType": "smtp",
    "srcMta": "client.test (127.0.0.1)", "dlvType": "smtp",
    "dlvSourceIp": "127.0.0.1", "dlvDestinationIp": "127.0.0.1",
    "dlvEsmtpAvailable": ESMTP, "vmta": "{default}", "jobId": "job-42",
    "envId": "env-1", "queue": "tls.test/{default}", "vmtaPool": "",
    "dlvTlsProtocol": msg.get("tls_protocol"), "dlvTlsCipher": msg.get("tls_cipher"),
}
WANT = {
    "d": dict(COMMON, rcpt="ok@tls.test", dsnAction="delivered",
              dsnStatus="2.0.0 (success)",
              dsnDiag=re.compile(r"smtp;250 2\.0\.0 ok \d+$"), bounceCat="",
              dlvSize=str(msg.get("size"))),
    "b": dict(COMMON, rcpt="no+r550@tls.test", dsnAction="failed",
              dsnStatus="5.1.1 (bad destination mailbox address)",
              dsnDiag="smtp;550 5.1.1 scripted rejection", bounceCat="bad-mailbox",
              dlvSize=""),
    "t": dict(COMMON, rcpt="later+r451@tls.test", dsnAction="delayed",
              dsnStatus=re.compile(r"4\.2\.0 \(.+\)$"),
              dsnDiag="smtp;451 4.2.0 scripted deferral",
              bounceCat=re.compile(r"^[a-z-]+$"), dlvSize=""),
    "tq": {"timeLogged": re.compile(ISO),
           "dsnStatus": "4.4.1 (no answer from host)",
           "dsnDiag": re.compile(r"smtp;451 4\.4\.1 127\.0\.0\.1 \(127\.0\.0\.1\): "
                                 r"Connection refused$"),
           "dsnMta": "127.0.0.1 (127.0.0.1)", "dlvType": "smtp",
           "dlvSourceIp": "0.0.0.0", "dlvDestinationIp": "127.0.0.1",
           "vmta": "{default}", "queue": "down.test/{default}"},
}
for typ, want in WANT.items():
    got = row(typ)
    if not got:
        t.ok(False, "%s: a row" % typ)
        continue
    r = got[0]
    bad = []
    for col in header:
        if col == "type":
            continue
        exp = want.get(col, "")
        val = r[col]
        if (exp.search(val) is None) if hasattr(exp, "search") else val != exp:
            bad.append("%s: got %r, want %r" % (col, val, getattr(exp, "pattern", exp)))
    t.eq(bad, [], "%s row: every column as documented" % typ)

tern.stop()
sink.stop()
t.done()
if t.failed == 0:
    w.remove()
