"""Basic relay: a message injected over SMTP is delivered to the domain's
smtp-hosts, byte for byte, and the accounting file gets a 'd' record under
PowerMTA's default header; a 5xx at RCPT or at the end of DATA gives a 'b'
record with its bounce category."""
import hashlib
import re
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for, DEFAULT_HEADER

t = Tap()
w = Workdir("b01")
sink = Sink(w)
tern = Tern(w, relay_config(sink.port))
tern.start()

body = ("From: a@example.org\r\nSubject: hi\r\n\r\nline 1\r\n.leading dot\r\n"
        "..two dots\r\n" + "x" * 5000 + "\r\nlast\r\n")
refused = tern.send(["alice@demo.test", "bob+r550@demo.test"], body)
t.eq(refused, {}, "all recipients accepted at injection")
tern.send(["carol+d554@demo.test"], body, mail_from="")

wait_for(lambda: len(tern.acct_rows()[1]) >= 3, 15)
header, rows = tern.acct_rows()
t.eq(header, DEFAULT_HEADER, "accounting header is PMTA's default 23 columns")
with open(tern.acct, "rb") as f:
    raw = f.read()
t.ok(raw.count(b"\r\n") == len(rows) + 1 and b"\n" not in raw.replace(b"\r\n", b""),
     "every accounting line ends with CRLF")

by_rcpt = {r["rcpt"]: r for r in rows}
d = by_rcpt.get("alice@demo.test", {})
t.eq(d.get("type"), "d", "alice: delivered record")
t.eq(d.get("orig"), "sender@example.org", "d: orig")
t.eq(d.get("dsnStatus"), "2.0.0 (success)", "d: dsnStatus")
t.ok(d.get("dsnDiag", "").startswith("smtp;250 "), "d: dsnDiag is smtp;<reply>", d.get("dsnDiag"))
t.eq(d.get("dsnMta"), "127.0.0.1 (127.0.0.1)", "d: dsnMta is host (ip)")
t.eq(d.get("srcType"), "smtp", "d: srcType")
t.eq(d.get("srcMta"), "client.test (127.0.0.1)", "d: srcMta is helo (ip)")
t.eq(d.get("dlvType"), "smtp", "d: dlvType")
t.eq(d.get("dlvDestinationIp"), "127.0.0.1", "d: dlvDestinationIp")
t.eq(d.get("dlvSourceIp"), "127.0.0.1", "d: dlvSourceIp")
t.ok("PIPELINING" in d.get("dlvEsmtpAvailable", ""), "d: dlvEsmtpAvailable lists the sink's extensions")
t.eq(d.get("queue"), "demo.test/{default}", "d: queue is domain/vmta")
t.eq(d.get("vmta"), "{default}", "d: vmta")
t.eq(d.get("bounceCat"), "", "d: no bounce category")
t.ok(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4}$", d.get("timeLogged", "")),
     "d: timeLogged in iso-times form", d.get("timeLogged"))
t.ok(d.get("timeQueued", "~") <= d.get("timeLogged", ""), "d: timeQueued not after timeLogged")

b = by_rcpt.get("bob+r550@demo.test", {})
t.eq(b.get("type"), "b", "bob: 550 at RCPT gives a bounce record")
t.eq(b.get("dsnAction"), "failed", "b: dsnAction failed")
t.ok(b.get("dsnStatus", "").startswith("5.1.1 (bad destination mailbox address)"),
     "b: dsnStatus with RFC 3463 text", b.get("dsnStatus"))
t.ok(b.get("dsnDiag", "").startswith("smtp;550 5.1.1"), "b: dsnDiag carries the reply", b.get("dsnDiag"))
t.ok(b.get("bounceCat") not in (None, ""), "b: has a bounce category", b.get("bounceCat"))
t.eq(b.get("dlvSize"), "", "b: no dlvSize")

c = by_rcpt.get("carol+d554@demo.test", {})
t.eq(c.get("type"), "b", "carol: 554 after DATA gives a bounce record")
t.eq(c.get("orig"), "", "b: null sender stays empty")

msgs = sink.messages()
t.eq(len(msgs), 1, "the sink accepted exactly one message")
if msgs:
    m = msgs[0]
    t.eq(m["rcpts"], ["alice@demo.test"], "the sink got alice only")
    t.eq(m["mail_from"], "sender@example.org", "envelope sender preserved")
    t.eq(m["helo"], "tern.test", "EHLO name is host-name")
    want = hashlib.sha256(body.encode()).hexdigest()
    t.eq(m["sha256"], want, "the body arrived byte for byte (dot-stuffing undone)")
    t.eq(d.get("dlvSize"), str(len(body)), "d: dlvSize is the message size")
# A large message streams from the spool in chunks as the socket drains.
big = "Subject: big\r\n\r\n" + "".join(
    (".%06d dot-led line\r\n" % i) if i % 7 == 0 else ("line %06d %s\r\n" % (i, "y" * 60))
    for i in range(25000))
tern.send(["large@demo.test"], big)
wait_for(lambda: any(m["rcpts"] == ["large@demo.test"] for m in sink.messages()), 20)
m = [m for m in sink.messages() if m["rcpts"] == ["large@demo.test"]]
t.ok(m and m[0]["sha256"] == hashlib.sha256(big.encode()).hexdigest() and len(big) > 1500000,
     "a %d-byte message arrives intact" % len(big))
t.eq(tern.stop(), 0, "SIGTERM: pmtad exits 0")
w.remove()
t.done()
