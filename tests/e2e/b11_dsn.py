"""Failure reports (RFC 3464): a recipient refused with 5xx, or expired,
gets a multipart/report to the envelope sender, from the null sender;
a message from the null sender gets none (no loops)."""
import email
import email.policy
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b11")
sink = Sink(w, maildir=True)
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
    retry-recipients-after 1s
    bounce-after 2s
</domain>
""" % sink.port)
tern.start()

original = "From: sender@demo.test\r\nSubject: the original\r\nX-Trace: 42\r\n\r\nbody\r\n"
tern.send(["nobody+r550@demo.test"], original, mail_from="sender@demo.test")
tern.send(["slow+r450@demo.test"], original, mail_from="sender@demo.test")
tern.send(["nobody+r550@demo.test"], original, mail_from="")


def reports():
    return [m for m in sink.messages() if m["mail_from"] == ""]


wait_for(lambda: len(reports()) >= 2, 15)
time.sleep(1)
got = reports()
t.eq(len(got), 2, "two reports: the 5xx and the expiry; none for the null sender")
parsed = []
for m in got:
    t.eq(m["rcpts"], ["sender@demo.test"], "a report goes to the envelope sender")
    msg = email.message_from_bytes(sink.message_bytes(m), policy=email.policy.default)
    parsed.append(msg)
    t.eq(msg.get_content_type(), "multipart/report", "it is a multipart/report")
    t.eq(msg.get_param("report-type"), "delivery-status", "of type delivery-status")
    parts = list(msg.iter_parts())
    t.ok(len(parts) == 3 and parts[1].get_content_type() == "message/delivery-status"
         and parts[2].get_content_type() == "text/rfc822-headers",
         "text, delivery-status and the original's headers",
         [p.get_content_type() for p in parts])
    t.ok("X-Trace: 42" in parts[2].get_content(), "the original's headers are returned")


def status(msg):
    ds = list(msg.iter_parts())[1]
    fields = {}
    for block in ds.get_payload():
        for k, v in block.items():
            fields[k.lower()] = str(v)
    return fields


by_rcpt = {status(p).get("final-recipient", ""): status(p) for p in parsed}
f = by_rcpt.get("rfc822; nobody+r550@demo.test") or by_rcpt.get("rfc822;nobody+r550@demo.test", {})
t.eq(f.get("action"), "failed", "5xx: Action failed")
t.ok(f.get("status", "").startswith("5.1.1"), "5xx: Status 5.1.1", f)
t.ok("550" in f.get("diagnostic-code", ""), "5xx: the remote reply as Diagnostic-Code", f)
e = by_rcpt.get("rfc822; slow+r450@demo.test") or by_rcpt.get("rfc822;slow+r450@demo.test", {})
t.ok(e.get("status", "").startswith("4.4.7"), "expiry: Status 4.4.7", e)
t.eq(e.get("action"), "failed", "expiry: Action failed")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
