"""The report settings (pmta-reference §3.9): custom-dsn-from-header,
dsn-format plain-text, dsn-return-default full (no RET given),
suppress-local-dsn in a <source> and deliver-local-dsn no in a <domain>:
bounces are still accounted, only the report mail changes or goes."""
import smtplib
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b21")
sink = Sink(w, maildir=True)
domains = "".join("""
<domain %s>
    smtp-hosts [127.0.0.1]:%d
%s</domain>
""" % (d, sink.port, extra) for d, extra in (
    ("std.test", ""), ("plain.test", "    dsn-format plain-text\n"),
    ("quiet.test", "    deliver-local-dsn no\n")))
tern = Tern(w, """
custom-dsn-from-header "Bounce Desk <bounces@tern.test>"
<source 127.0.0.1>
    always-allow-relaying yes
    dsn-return-default full
</source>
<source 127.0.0.2>
    always-allow-relaying yes
    suppress-local-dsn yes
</source>
""" + domains)
tern.start()
original = "Subject: the original\r\n\r\nthe original body\r\n"
tern.send(["a+r550@std.test"], original, mail_from="s1@std.test")
tern.send(["b+r550@plain.test"], original, mail_from="s2@std.test")
tern.send(["d+r550@quiet.test"], original, mail_from="s4@std.test")
with smtplib.SMTP(timeout=10, source_address=("127.0.0.2", 0)) as c:
    c.connect(tern.ip, tern.port)
    c.sendmail("s3@std.test", ["c+r550@std.test"], original)


def report_to(addr):
    got = [m for m in sink.messages() if m["mail_from"] == "" and addr in m["rcpts"]]
    return sink.message_bytes(got[0]) if got else None


wait_for(lambda: len(tern.acct_rows()[1]) >= 4 and report_to("s1@std.test")
         and report_to("s2@std.test"), 20)
time.sleep(1)
rows = {r["rcpt"]: r["type"] for r in tern.acct_rows()[1]}
t.eq([rows.get(r) for r in ("a+r550@std.test", "b+r550@plain.test",
                            "c+r550@std.test", "d+r550@quiet.test")],
     ["b"] * 4, "every refusal is a b record")
std = report_to("s1@std.test") or b""
head = std.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
t.ok(b"From: Bounce Desk <bounces@tern.test>" in head,
     "custom-dsn-from-header is the report's From:")
t.ok(b"message/delivery-status" in std and b"message/rfc822" in std and
     b"the original body" in std,
     "dsn-return-default full: the whole original comes back without RET")
plain = report_to("s2@std.test") or b""
t.ok(b"message/delivery-status" not in plain and b"Content-Type: text/plain" in plain
     and b"Action: failed" in plain and b"the original body" not in plain,
     "dsn-format plain-text: text/plain parts only (and headers only)")
t.ok(report_to("s3@std.test") is None, "suppress-local-dsn: no report mail")
t.ok(report_to("s4@std.test") is None, "deliver-local-dsn no: no report mail")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
