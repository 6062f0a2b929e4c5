"""VirtualMTA selection (pmta-reference §3.2-3.3): X-Virtual-MTA when the
source processes it (and removed), a pool's members in turn, the source's
default-virtual-mta, an unknown name refused; each VMTA delivers from its
smtp-source-host address with its name in EHLO, and the accounting record
names the VMTA, the pool and the queue domain/vmta."""
import smtplib
from ternlib import Tap, Workdir, Sink, Tern, wait_for, TWO_VMTAS

t = Tap()
w = Workdir("b13")
sink = Sink(w, maildir=True)
tern = Tern(w, TWO_VMTAS + """
<virtual-mta-pool p>
    virtual-mta v1
    virtual-mta v2
</virtual-mta-pool>
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
</source>
<source 127.0.0.4>
    always-allow-relaying yes
    default-virtual-mta v2
</source>
<source 127.0.0.5>
    always-allow-relaying yes
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % sink.port)
tern.start()


def send(rcpt, vmta=None, src="127.0.0.1"):
    hdr = "X-Virtual-MTA: %s\r\n" % vmta if vmta else ""
    data = "%sSubject: %s\r\n\r\nbody\r\n" % (hdr, rcpt)
    with smtplib.SMTP(timeout=10, source_address=(src, 0)) as s:
        s.connect(tern.ip, tern.port)
        try:
            s.sendmail("sender@example.org", [rcpt], data)
            return 250
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()


t.eq(send("one@demo.test", "v1"), 250, "X-Virtual-MTA v1 accepted")
for i in range(4):
    send("pool%d@demo.test" % i, "p")
code = send("bad@demo.test", "nosuch")
t.ok(code[0] == 550 and code[1].startswith("5.3.5"), "an unknown VirtualMTA is refused with 5.3.5", code)
send("dflt@demo.test", None, "127.0.0.4")
send("plain@demo.test", "v1", "127.0.0.5")

wait_for(lambda: len(sink.messages()) >= 7, 15)
by_rcpt = {m["rcpts"][0]: m for m in sink.messages()}
m = by_rcpt.get("one@demo.test", {})
t.eq((m.get("peer", "").split(":")[0], m.get("helo")), ("127.0.0.2", "v1.tern.test"),
     "v1 delivers from 127.0.0.2 as v1.tern.test")
t.ok(m and b"X-Virtual-MTA" not in sink.message_bytes(m), "the X-Virtual-MTA header is removed")
peers = sorted(by_rcpt["pool%d@demo.test" % i]["peer"].split(":")[0] for i in range(4)
               if "pool%d@demo.test" % i in by_rcpt)
t.eq(peers, ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"],
     "a pool's members are used in turn, per recipient")
t.eq(by_rcpt.get("dflt@demo.test", {}).get("helo"), "v2.tern.test",
     "default-virtual-mta of the client's source")
p = by_rcpt.get("plain@demo.test", {})
t.eq(p.get("helo"), "tern.test", "a source without process-x-virtual-mta ignores the header")
t.ok(p and b"X-Virtual-MTA: v1" in sink.message_bytes(p), "and leaves it in the message")

rows = {r["rcpt"]: r for r in tern.acct_when(
    lambda rs: {"one@demo.test", "pool0@demo.test"} <= {r["rcpt"] for r in rs})[1]}
r = rows.get("one@demo.test", {})
t.eq((r.get("vmta"), r.get("queue"), r.get("vmtaPool")), ("v1", "demo.test/v1", ""),
     "accounting: vmta and queue of v1")
r = rows.get("pool0@demo.test", {})
t.ok(r.get("vmtaPool") == "p" and r.get("vmta") in ("v1", "v2"),
     "accounting: a pool member's record names the pool", r)
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
