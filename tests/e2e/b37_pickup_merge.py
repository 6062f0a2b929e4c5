"""Mailmerge in the pickup directory (pmta-interfaces §4.4 format B with
the §4.2 commands): a BSMTP file holding XACK, XMRG, XDFN, RCPT and XPRT
parts arrives at the sink as one personalised message per recipient
(its parts, its *parts order, [[ escapes, undefined variables, *from,
VERP, *jobid), byte for byte the messages the same job gives over SMTP;
LF line ends and dot lines are handled as in any BSMTP file; a
200-recipient job arrives whole; broken jobs (no LAST part, XPRT before
any recipient, a part sent twice, an unknown *vmta with XACK ON, DATA in
a merge) are bad files that deliver nothing; <source {pickup}>
allow-mailmerge no (after a reload) makes merge files bad files."""
import os
import socket
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, relay_config

t = Tap()
w = Workdir("b37")
sink = Sink(w, maildir=True)
pdir, bdir = w.file("pickup"), w.file("bad")
os.makedirs(pdir)
CONF = relay_config(sink.port, settings=(), more="""
pickup %s %s
<source 127.0.0.1>
    allow-mailmerge yes
</source>
<source {pickup}>
    process-x-job yes
</source>
""" % (pdir, bdir))
tern = Tern(w, CONF)
tern.start()
seq = [0]


def drop(data, name=None):
    seq[0] += 1
    name = name or "job%04d.bsmtp" % seq[0]
    tmp = w.file("tmp-" + name)
    with open(tmp, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.rename(tmp, os.path.join(pdir, name))
    return name


def msgs_for(rcpts):
    m = {}
    for e in sink.messages():
        for r in e["rcpts"]:
            if r in rcpts:
                m.setdefault(r, []).append(e)
    return m


def bad_files():
    return sorted(os.listdir(bdir)) if os.path.isdir(bdir) else []


TEMPLATE = [
    ("1", "Subject: Hello [Name]\r\nTo: [Name] <[*to]>\r\nMessage-Id: <[Id]@merge.test>\r\n"
          "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nDear [Name], [[not a tag] [Missing]!\r\n"
          "..a stuffed dot line\r\n"),
    ("2", "part two for [Name] <[*to]>\r\n"),
    ("3 LAST", "bye [Name]\r\n"),
]
RCPTS = [("ann@demo.test", 'XDFN Name="Ann Smith" Id=a1 *parts="1,3"'),
         ("bob@demo.test", "XDFN Name=Bob Id=b2\r\nXDFN *parts=3,2,1 *jobid=bobjob"),
         ("cy@demo.test", "XDFN Name=Cy Id=c3 *from=other@example.org")]


def bsmtp(rcpts, sender="bounce@example.org", xack="XACK ON", verp=""):
    out = ["EHLO feeder.test", xack, "XMRG FROM:<%s>%s" % (sender, verp)]
    for addr, xdfn in rcpts:
        out.append(xdfn)
        out.append("RCPT TO:<%s>" % addr)
    for n, text in TEMPLATE:
        out.append("XPRT " + n)
        out.append(text.rstrip("\r\n"))
        out.append(".")
    out.append("QUIT")
    return "\r\n".join(out) + "\r\n"


# --- 1. the job of a pickup file ---
drop(bsmtp(RCPTS))
names = [a for a, _ in RCPTS]
t.ok(wait_for(lambda: len(msgs_for(names)) == 3, 20), "one message per recipient arrives")
got = {a: sink.message_bytes(ms[0]) for a, ms in msgs_for(names).items()}
t.eq(sorted(len(ms) for ms in msgs_for(names).values()), [1, 1, 1], "each exactly once")
ann = got.get("ann@demo.test", b"").decode()
t.ok("Subject: Hello Ann Smith\r\n" in ann and "To: Ann Smith <ann@demo.test>" in ann,
     "variables and *to in the headers", ann)
t.ok("Dear Ann Smith, [not a tag] !\r\n" in ann, "[[ escape and an undefined variable", ann)
t.ok("..a stuffed dot line\r\n" in ann, "a '..' line keeps its dots (no pickup-remove-dot)", ann)
t.ok("part two" not in ann and ann.endswith("bye Ann Smith\r\n"), "*parts=1,3", ann)
bob = got.get("bob@demo.test", b"").decode()
t.ok(bob.startswith("bye Bob\r\npart two for Bob <bob@demo.test>\r\nSubject: Hello Bob"),
     "*parts=3,2,1: the parts in that order", bob[:120])
mails = {e["rcpts"][0]: e for e in sink.messages()}
t.eq(mails["ann@demo.test"]["mail_from"], "bounce@example.org", "the XMRG sender")
t.eq(mails["cy@demo.test"]["mail_from"], "other@example.org", "*from")


def jobs():
    return {r["rcpt"]: r["jobId"] for r in tern.acct_rows()[1] if r["type"] == "d"}


wait_for(lambda: "bob@demo.test" in jobs(), 10)
t.eq(jobs().get("bob@demo.test"), "bobjob", "*jobid is the job of bob's message")

# --- 2. the same job over SMTP gives the same messages, byte for byte ---
SMTP_RCPTS = [(a.replace("@demo.test", ".smtp@demo.test"), x) for a, x in RCPTS]


class Raw:
    def __init__(self):
        self.s = socket.create_connection((tern.ip, tern.port), timeout=20)
        self.f = self.s.makefile("rb")
        self.reply()

    def reply(self):
        while True:
            line = self.f.readline().decode()
            if len(line) < 4 or line[3] != "-":
                return line.strip()

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()


c = Raw()
c.cmd("EHLO feeder.test")
t.eq(c.cmd("XMRG FROM:<bounce@example.org>")[:3], "250", "SMTP: XMRG")
for addr, xdfn in SMTP_RCPTS:
    for line in xdfn.split("\r\n"):
        c.cmd(line)
    c.cmd("RCPT TO:<%s>" % addr)
for n, text in TEMPLATE:
    t.eq(c.cmd("XPRT " + n), "354 send part", "SMTP: XPRT " + n)
    stuffed = "".join(("." + l if l.startswith(".") else l) + "\r\n"
                      for l in text.rstrip("\r\n").split("\r\n"))
    r = c.cmd(stuffed + ".")
t.eq(r, "250 2.6.0 message received", "SMTP: the job is accepted")
c.cmd("QUIT")
snames = [a for a, _ in SMTP_RCPTS]
t.ok(wait_for(lambda: len(msgs_for(snames)) == 3, 20), "SMTP: three messages")
for a, sa in zip(names, snames):
    sm = msgs_for(snames).get(sa)
    smtp_bytes = sink.message_bytes(sm[0]).replace(sa.encode(), a.encode()) if sm else b""
    t.eq(smtp_bytes, got.get(a), "the pickup message for %s is the SMTP one" % a)

# --- 3. LF line ends, VERP, a larger job ---
# (held in its queue first: the job shows in show jobs and pauses as an
# SMTP one does)
big = [("r%03d@demo.test" % i, "XDFN Name=N%03d Id=i%03d *parts=1 *jobid=pjob" % (i, i))
       for i in range(200)]
t.eq(tern.pmta("pause", "queue", "demo.test/*").returncode, 0, "pause queue demo.test")
drop(bsmtp(big, xack="XACK OFF", verp=" VERP").replace("\r\n", "\n"))
bnames = [a for a, _ in big]


def jobs_shown():
    out = tern.pmta("show", "jobs").stdout.splitlines()[1:]
    return {l.split()[0]: l.split()[1] for l in out if len(l.split()) >= 3}


wait_for(lambda: jobs_shown().get("pjob") == "200", 30)
t.eq(jobs_shown().get("pjob"), "200", "show jobs: the pickup job with its 200 recipients")
t.eq(tern.pmta("pause", "job", "pjob").returncode, 0, "pause job pjob")
tern.pmta("resume", "queue", "demo.test/*")
tern.pmta("schedule", "demo.test")
time.sleep(1.5)
t.eq(len(msgs_for(bnames)), 0, "the paused pickup job stays queued")
t.eq(tern.pmta("resume", "job", "pjob").returncode, 0, "resume job pjob")
t.ok(wait_for(lambda: len(msgs_for(bnames)) == 200, 60), "a 200-recipient job (LF line ends) arrives whole")
ok = True
for a, ms in msgs_for(bnames).items():
    n = a[1:4]
    data = sink.message_bytes(ms[0]).decode()
    ok = ok and len(ms) == 1 and ("Subject: Hello N%s\r\n" % n) in data and \
        ms[0]["mail_from"] == "bounce-r%s=demo.test@example.org" % n
t.ok(ok, "each personalised, each with its VERP return path")

# --- 4. broken jobs are bad files ---
before = len(sink.messages())
broken = {
    "nolast.bsmtp": bsmtp(RCPTS).replace("XPRT 3 LAST", "XPRT 3"),
    "norcpt.bsmtp": "XMRG FROM:<a@example.org>\r\nXPRT 1 LAST\r\nx\r\n.\r\n",
    "twice.bsmtp": "XMRG FROM:<a@example.org>\r\nRCPT TO:<z@demo.test>\r\nXPRT 1\r\nx\r\n.\r\n"
                   "XPRT 1 LAST\r\ny\r\n.\r\n",
    "vmta.bsmtp": "XMRG FROM:<a@example.org>\r\nXDFN *vmta=nosuch\r\nRCPT TO:<z@demo.test>\r\n"
                  "XPRT 1 LAST\r\nx\r\n.\r\n",
    "data.bsmtp": "XMRG FROM:<a@example.org>\r\nRCPT TO:<z@demo.test>\r\nDATA\r\nx\r\n.\r\n",
    "badparts.bsmtp": "XMRG FROM:<a@example.org>\r\nXDFN *parts=2\r\nRCPT TO:<z@demo.test>\r\n"
                      "XPRT 1 LAST\r\nx\r\n.\r\n",
}
for name, data in broken.items():
    drop(data, name)
t.ok(wait_for(lambda: len(bad_files()) == len(broken), 20), "every broken job is a bad file",
     bad_files())
t.eq(sorted(bad_files()), sorted(broken), "... under its own name")
log = open(tern.log).read()
for name, why in (("nolast", "LAST part"), ("norcpt", "no recipients"),
                  ("twice", "part 1 was sent already"), ("vmta", "VirtualMTA does not exist"),
                  ("data", "DATA in a mailmerge"), ("badparts", "part 2 for <z@demo.test> was not sent")):
    t.ok(any(name in l and why in l for l in log.splitlines()),
         "bad file %s: the log says why (%s)" % (name, why))
t.eq(len(sink.messages()), before, "no broken job delivered anything")
t.eq(os.listdir(pdir), [], "the pickup directory is empty")

# --- 5. <source {pickup}> allow-mailmerge no ---
with open(tern.config, "a") as f:
    f.write("\n<source {pickup}>\n    allow-mailmerge no\n</source>\n")
t.eq(tern.pmta("reload").returncode, 0, "reload with allow-mailmerge no for {pickup}")
drop(bsmtp(RCPTS[:1]), "refused.bsmtp")
t.ok(wait_for(lambda: "refused.bsmtp" in bad_files(), 20), "a merge file is then a bad file")
t.ok(wait_for(lambda: "not enabled for pickup files" in open(tern.log).read(), 5),
     "the log says mailmerge is not enabled")

# --- 6. <source {pickup}> verp-default yes: a plain BSMTP file's message
#        goes to each recipient with its VERP return path ---
with open(tern.config, "a") as f:
    f.write("\n<source {pickup}>\n    verp-default yes\n</source>\n")
t.eq(tern.pmta("reload").returncode, 0, "reload with verp-default yes for {pickup}")
drop("EHLO feeder.test\r\nMAIL FROM:<list@example.org>\r\nRCPT TO:<v1@demo.test>\r\n"
     "RCPT TO:<v2@demo.test>\r\nDATA\r\nSubject: verp\r\n\r\nhi\r\n.\r\nQUIT\r\n",
     "verp.bsmtp")
vs = ["v1@demo.test", "v2@demo.test"]
wait_for(lambda: len(msgs_for(vs)) == 2, 20)
got = {a: [m["mail_from"] for m in ms] for a, ms in msgs_for(vs).items()}
t.eq(got, {"v1@demo.test": ["list-v1=demo.test@example.org"],
           "v2@demo.test": ["list-v2=demo.test@example.org"]},
     "verp-default: one transaction per recipient, each from its VERP address")
tern.stop()
t.done()
