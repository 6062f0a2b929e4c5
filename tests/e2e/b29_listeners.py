"""Listeners and sources (pmta-reference §2.2, §2.5, §3.1): every form of
smtp-listener (IP:PORT, [IPv6]:PORT, 0/0:PORT, source=NAME, the
<smtp-listener> block with source and await-slot), smtp-service no (521),
total-max-smtp-in (421 and close, or wait with await-slot /
smtp-await-slot), log-connections and log-commands in the log file,
relay-domain and host-name local acceptance, relay-debug (450),
postmaster, and an open-relay probe: a source without relaying rights
cannot relay, whatever address tricks it tries."""
import re
import smtplib
import socket
import time
from rawsmtp import Raw
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b29")
local = Sink(w)                     # demo.test and the local names
outside = Sink(w, ip="127.0.0.9")   # where relayed mail would go
p_named, p_v6, p_all, p_block = free_port(), free_port(), free_port(), free_port()
tern = Tern(w, """
host-name other.tern.test
postmaster pm@demo.test
relay-domain demo.test
relay-domain [*.]local.test
smtp-listener 127.0.0.1:%d source=feeder
smtp-listener [::1]:%d
smtp-listener 0/0:%d
<smtp-listener 127.0.0.1:%d>
    source closed
</smtp-listener>
<source 0/0>
    always-allow-relaying no
</source>
<source ::/0>
    always-allow-relaying no
</source>
<source 127.0.0.2>
    log-connections yes
    log-commands yes
</source>
<source feeder>
    always-allow-relaying yes
</source>
<source closed>
    smtp-service no
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain [*.]local.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain [*.]tern.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain *>
    smtp-hosts [127.0.0.9]:%d
</domain>
""" % (p_named, p_v6, p_all, p_block, local.port, local.port, local.port, outside.port))
tern.start()


def rcpt(addr, src="127.0.0.2", port=None, ip=None, sender="a@example.org"):
    """The RCPT reply's (code, text) over a fresh connection."""
    c = Raw(ip or tern.ip, port or tern.port, src=src)
    c.cmd("EHLO probe.test")
    c.cmd("MAIL FROM:<%s>" % sender)
    r = c.cmd("RCPT TO:<%s>" % addr) if not addr.startswith("<") else c.cmd("RCPT TO:" + addr)
    c.cmd("QUIT")
    c.close()
    return (r[:3], r) if r else (None, None)


# --- relay-domain, host-name, relaying denied ---
for a in ("x@demo.test", "x@DEMO.Test", "x@local.test", "x@sub.local.test", "x@tern.test",
          "x@other.tern.test"):
    t.eq(rcpt(a)[0], "250", "local domain accepted from anyone: %s" % a)
code, text = rcpt("x@elsewhere.test")
t.eq(text, "550 5.7.1 relaying denied: <x@elsewhere.test>", "another domain: 550 5.7.1")

# --- the open-relay probe (127.0.0.2 has no relaying rights) ---
probes = ["victim@elsewhere.test", "<@demo.test:victim@elsewhere.test>",
          "<@demo.test,@tern.test:victim@elsewhere.test>", "victim@elsewhere.test@demo.test",
          "victim@demo.test@elsewhere.test", "victim@[127.0.0.9]", "victim@demo.test.",
          "victim@elsewhere.test.", "victim@demo.test.elsewhere.test", "victim@sub.demo.test",
          "victim@xlocal.test", "victim@elsewhere.test%demo.test",
          "<\"victim@elsewhere.test\"@elsewhere.test>", "victim!elsewhere.test@elsewhere.test",
          "postmaster@elsewhere.test", "<victim@elsewhere.test >", "victim@@demo.test",
          "<victim@elsewhere.test> NOTIFY=NEVER"]
for a in probes:
    code, text = rcpt(a)
    t.ok(code in ("550", "501", "553", "555"), "refused: %s" % a, text)
code, _ = rcpt("victim@elsewhere.test", sender="")
t.eq(code, "550", "refused with the null sender too")
# accepted but local: the mail stays with demo.test's server
for a in ("victim%elsewhere.test@demo.test", "<\"victim@elsewhere.test\"@demo.test>",
          "elsewhere.test!victim@demo.test"):
    s = smtplib.SMTP(timeout=20, source_address=("127.0.0.2", 0))
    s.connect(tern.ip, tern.port)
    s.sendmail("a@example.org", [a.strip("<>")], "Subject: probe\r\n\r\nx\r\n")
    s.quit()

# --- postmaster ---
for a in ("postmaster@tern.test", "<postmaster>", "abuse@TERN.test", "Postmaster@tern.test"):
    s = smtplib.SMTP(timeout=20, source_address=("127.0.0.2", 0))
    s.connect(tern.ip, tern.port)
    s.ehlo("pm.test")
    s.mail("a@example.org")
    code, _ = s.rcpt(a.strip("<>"))
    t.eq(code, 250, "%s accepted" % a)
    s.data("Subject: pm %s\r\n\r\nx\r\n" % a)
    s.quit()

# --- listener forms ---
t.eq(rcpt("x@elsewhere.test", src="127.0.0.2", port=p_named)[0], "250",
     "smtp-listener ... source=feeder: the named source's relaying, whatever the IP")
c = Raw("::1", p_v6, src="::1")
t.ok(c.greeting and c.greeting[0].startswith("220 tern.test"), "[::1]:PORT listens on IPv6",
     c.greeting)
t.eq(c.cmd("EHLO v6.test")[:3], "250", "EHLO over IPv6")
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL over IPv6")
t.eq(c.cmd("RCPT TO:<x@elsewhere.test>")[:3], "550", "an IPv6 client matches ::/0 (no relaying)")
c.close()
c = Raw("127.0.0.3", p_all, src="127.0.0.3")
t.ok(c.greeting and c.greeting[0].startswith("220 "), "0/0:PORT listens on every address "
     "(127.0.0.3)", c.greeting)
c.close()
c = Raw(tern.ip, p_block)
t.eq(c.greeting, ["521 tern.test does not accept mail from you"],
     "<smtp-listener> block with source: smtp-service no greets 521")
t.ok(c.closed(), "and closes")

# --- log-connections, log-commands (source 127.0.0.2) ---
s = smtplib.SMTP(timeout=20, source_address=("127.0.0.2", 0))
s.connect(tern.ip, tern.port)
s.ehlo("logged.test")
s.mail("logged@example.org")
s.rcpt("x@demo.test")
s.data("Subject: logged\r\n\r\nx\r\n")
s.quit()
local_port = s.sock.getsockname()[1] if s.sock else None


def logtext():
    with open(tern.log) as f:
        return f.read()


c = Raw(tern.ip, tern.port, src="127.0.0.4")
c.cmd("EHLO nolog.test")
c.cmd("QUIT")
c.close()
wait_for(lambda: "closed connection from 127.0.0.2" in logtext(), 5)
log = logtext()
m = re.search(r"^\S+ \S+ \(in (\d+)\)>>> mail FROM:<logged@example\.org>$", log, re.M)
t.ok(m, "log-commands: what the client sent, as (in N)>>>")
n = m.group(1) if m else "?"
t.ok(re.search(r"^\S+ \S+ \(in %s\)accepted connection from 127\.0\.0\.2:\d+$" % n, log, re.M),
     "log-connections: (in N)accepted connection from IP:PORT (7th field)")
t.ok(re.search(r"^\S+ \S+ \(in %s\)<<< 250 2\.6\.0 message received$" % n, log, re.M),
     "log-commands: what Tern answered, as (in N)<<<")
t.ok(re.search(r"^\S+ \S+ \(in %s\)closed connection from 127\.0\.0\.2:\d+$" % n, log, re.M),
     "log-connections: the close")
t.ok("(in %s)>>> Subject" % n not in log, "the message itself is not logged")
t.ok(not re.search(r"\(in \d+\)>>> EHLO nolog", log), "a source without log-commands: nothing")

# --- what arrived ---
wait_for(lambda: len(local.messages()) >= 8, 20)
rc = sorted(r for m in local.messages() for r in m["rcpts"])
t.eq(rc.count("pm@demo.test"), 4, "postmaster@, <postmaster>, abuse@ went to the postmaster address")
for a in ("victim%elsewhere.test@demo.test", "\"victim@elsewhere.test\"@demo.test",
          "elsewhere.test!victim@demo.test"):
    t.ok(a in rc, "kept local: %s" % a, rc)
time.sleep(1)
t.eq(outside.messages(), [], "nothing was relayed elsewhere")
t.eq(tern.stop(), 0, "pmtad exits 0")

# --- total-max-smtp-in, await-slot, relay-debug: another pmtad ---
w2 = Workdir("b29b")
p_wait = free_port()
tern2 = Tern(w2, """
total-max-smtp-in 2
relay-debug yes
<smtp-listener 127.0.0.1:%d>
    await-slot yes
</smtp-listener>
""" % p_wait)
tern2.start()
a = Raw(tern2.ip, tern2.port)
b = Raw(tern2.ip, tern2.port)
t.eq(a.cmd("EHLO a.test")[:3], "250", "a first session")
c = Raw(tern2.ip, tern2.port)
t.ok(c.greeting and c.greeting[0].startswith("421 4.3.2"), "beyond total-max-smtp-in: 421",
     c.greeting)
t.ok(c.closed(), "and closed")
d = Raw(tern2.ip, p_wait, greet=False)
t.ok(d.silent(1.0), "await-slot: the connection waits, no greeting yet")
b.cmd("QUIT")
b.close()
g = d.reply()
t.ok(g and g[0].startswith("220 "), "a slot frees: the waiting client is greeted", g)
t.eq(d.cmd("EHLO d.test")[:3], "250", "and served")
d.cmd("MAIL FROM:<a@example.org>")
t.eq(d.cmd("RCPT TO:<x@elsewhere.test>"), "450 4.7.1 relaying denied: <x@elsewhere.test>",
     "relay-debug yes: 450 instead of 550")
a.close()
d.close()
t.eq(tern2.stop(), 0, "pmtad exits 0")
w2.remove()
w.remove()
t.done()
