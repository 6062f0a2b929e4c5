"""The pickup directory (pmta-interfaces §4.4): files in both formats are
delivered with their envelope and their message byte for byte (CRLF line
ends); a file there at start and a file dropped while pmtad runs are
taken (the latter within two seconds); a malformed file and one naming an
unknown VirtualMTA land in the bad-file directory and deliver nothing;
X-Virtual-MTA selects the VirtualMTA when <source {pickup}> processes it;
pickup-remove-dot (switched on by a reload) undoes dot-stuffing; r records
say srcType smtp and srcMta {pickup}.  Last, files dropped just before a
kill -9: after restarts every file is injected (the spool holds it)
exactly once, files committed but not yet removed at a kill being removed
by the recovery, and then delivered."""
import csv
import hashlib
import os
import random
import subprocess
import time
from ternlib import PMTAD, Tap, Workdir, Sink, Tern, free_port, wait_for, relay_config

t = Tap()
w = Workdir("b24")
sink = Sink(w, maildir=True)
pdir = w.file("pickup")
bdir = w.file("bad")
racct = w.file("acct-r.csv")
os.makedirs(pdir)
CONF = relay_config(sink.port, more="""
pickup %s %s
<virtual-mta v1>
    smtp-source-host 127.0.0.2 v1.tern.test
</virtual-mta>
<source {pickup}>
    process-x-virtual-mta yes
</source>
<acct-file %s>
    records r
</acct-file>
""" % (pdir, bdir, racct))
HOLD_PORT = free_port()
CONF += """<domain hold.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % HOLD_PORT
tern = Tern(w, CONF)
seq = [0]


def drop(data, name=None):
    """Write a file elsewhere and rename it into the pickup directory."""
    seq[0] += 1
    name = name or "msg%04d.eml" % seq[0]
    tmp = w.file("tmp-" + name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(pdir, name))
    return name


def by_rcpt():
    out = {}
    for m in sink.messages():
        for r in m["rcpts"]:
            out.setdefault(r, []).append(m)
    return out


def got(rcpt, timeout=10):
    return wait_for(lambda: by_rcpt().get(rcpt), timeout)


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# the directive needs both directories
with open(w.file("bad.conf"), "w") as f:
    f.write("pickup %s\n" % pdir)
res = subprocess.run([PMTAD, "--config=" + w.file("bad.conf"), "--check-config"],
                     capture_output=True, text=True, timeout=30)
t.ok(res.returncode == 1 and "pickup needs two directories" in res.stderr,
     "pickup with one directory is a config error", res.stderr)

# a file there before pmtad starts
early = b"x-sender: early@example.org\nx-receiver: early@demo.test\nSubject: early\n\nbefore start\n"
drop(early, "early.eml")
tern.start()
m = got("early@demo.test")
t.ok(m, "a file present at start is picked up")
t.ok(m and sink.message_bytes(m[0]) == crlf(early.split(b"\n", 2)[2]),
     "its message, envelope lines removed, CRLF line ends")

# format A, dropped while running, timed
body_a = (b"From: a@example.org\nSubject: format A\n\n"
          b"line one\n..two dots stay\n.\nlast line\n")
fa = (b"x-sender: a@example.org\nx-receiver: a1@demo.test\n"
      b"x-receiver: <a2@demo.test>\nx-job: jobA\n") + body_a
t0 = time.time()
drop(fa)
m = got("a1@demo.test", 10)
t.ok(m and m[0]["t"] - t0 < 2.0, "a dropped file is delivered within 2 s",
     m and (m[0]["t"] - t0))
t.ok(m and m[0]["mail_from"] == "a@example.org" and
     sorted(m[0]["rcpts"]) == ["a1@demo.test", "a2@demo.test"],
     "format A: sender and both recipients", m)
t.ok(m and sink.message_bytes(m[0]) == crlf(body_a),
     "format A: the message byte for byte (no dot removed by default)")

# format B (BSMTP), CRLF
body_b = b"Subject: format B\r\n\r\nhello\r\nbare\nlf\r\n"
fb = (b"EHLO feeder.test\r\nMAIL FROM:<b@example.org> ENVID=envB\r\n"
      b"RCPT TO:<b1@demo.test>\r\nRCPT TO:<b2@demo.test> NOTIFY=NEVER\r\n"
      b"DATA\r\n" + body_b + b".\r\nQUIT\r\n")
drop(fb)
m = got("b1@demo.test")
t.ok(m and m[0]["mail_from"] == "b@example.org" and
     sorted(m[0]["rcpts"]) == ["b1@demo.test", "b2@demo.test"],
     "format B: sender and recipients", m)
t.ok(m and sink.message_bytes(m[0]) == crlf(body_b),
     "format B: the message up to the '.' line, a bare LF made CRLF")

# a larger file, read in chunks: 3 MB of LF lines, some starting with '.'
rnd = random.Random(24)
lines = []
size = 0
while size < 3 * 1024 * 1024:
    n = rnd.randint(0, 990)
    line = ("." if rnd.random() < 0.05 else "") + "".join(
        rnd.choice("abcdefghij klmno") for _ in range(n))
    lines.append(line.encode())
    size += n + 1
big_body = b"Subject: big\n\n" + b"\n".join(lines) + b"\n"
drop(b"x-sender: big@example.org\nx-receiver: big@demo.test\n" + big_body)
m = got("big@demo.test", 30)
t.ok(m and hashlib.sha256(sink.message_bytes(m[0])).hexdigest() ==
     hashlib.sha256(crlf(big_body)).hexdigest(),
     "a 3 MB file arrives byte for byte")

# X-Virtual-MTA (processed for {pickup}) selects v1: source 127.0.0.2
fv = (b"x-sender: v@example.org\nx-receiver: v1@demo.test\n"
      b"X-Virtual-MTA: v1\nSubject: vmta\n\nvia v1\n")
drop(fv)
m = got("v1@demo.test")
t.ok(m and m[0]["peer"].split(":")[0] == "127.0.0.2" and
     m[0]["helo"] == "v1.tern.test", "X-Virtual-MTA v1 delivers from 127.0.0.2", m)
t.ok(m and b"X-Virtual-MTA" not in sink.message_bytes(m[0]),
     "the X-Virtual-MTA header is removed")

# bad files: unparseable, no recipient, unknown VirtualMTA
bad1 = drop(b"this is not a pickup file\nx-receiver: bad1@demo.test\n\nbody\n")
bad2 = drop(b"x-sender: s@example.org\nSubject: nobody\n\nbody\n")
bad3 = drop(b"x-sender: s@example.org\nx-receiver: bad3@demo.test\n"
            b"X-Virtual-MTA: nosuch\n\nbody\n")
ok_after = drop(b"x-sender: s@example.org\nx-receiver: after@demo.test\n\nafter\n")
got("after@demo.test")
inbad = sorted(os.listdir(bdir)) if os.path.isdir(bdir) else []
t.eq(inbad, sorted([bad1, bad2, bad3]), "the bad files are in the bad-file directory")
log = tern.output()
t.ok("%s moved to" % bad1 in log and "neither" in log and "no recipients" in log and
     "VirtualMTA does not exist" in log, "each with a log line saying why")
time.sleep(0.5)
rc = by_rcpt()
t.ok("bad1@demo.test" not in rc and "bad3@demo.test" not in rc,
     "nothing is delivered for a bad file")
t.eq(os.listdir(pdir), [], "every pickup file is gone from the pickup directory")

# r records: srcType smtp, srcMta {pickup} (or "HELO ({pickup})")
with open(racct, newline="") as f:
    rrows = {r["rcpt"]: r for r in csv.DictReader(f)}
r = rrows.get("a1@demo.test", {})
t.eq((r.get("srcType"), r.get("srcMta"), r.get("jobId")), ("smtp", "{pickup}", "jobA"),
     "r record of a format A file: srcType, srcMta, the x-job")
r = rrows.get("b1@demo.test", {})
t.eq((r.get("srcMta"), r.get("envId")), ("feeder.test ({pickup})", "envB"),
     "r record of a BSMTP file: the EHLO name in srcMta, ENVID")

# pickup-remove-dot, switched on by a reload
with open(tern.config, "a") as f:
    f.write("pickup-remove-dot yes\n")
res = tern.pmta("reload")
t.eq(res.returncode, 0, "pmta reload with pickup-remove-dot yes")
body_d = b"Subject: dots\r\n\r\n..stuffed\r\n.single\r\n...\r\n"
drop(b"HELO h\r\nMAIL FROM:<d@example.org>\r\nRCPT TO:<dot@demo.test>\r\nDATA\r\n" +
     body_d + b".\r\n")
m = got("dot@demo.test")
t.ok(m and sink.message_bytes(m[0]) ==
     b"Subject: dots\r\n\r\n.stuffed\r\n.single\r\n..\r\n",
     "pickup-remove-dot: a leading '..' loses one dot")

# kill -9 right after dropping files, three times.  Their domain goes to
# a port where nothing listens yet, so the spool shows exactly how many
# times each file was injected; then a sink appears there and every
# message must be delivered.
N, ROUNDS = 100, 3
expected = []
for rnd_i in range(ROUNDS):
    for i in range(N):
        rc_ = "k%d-%03d@hold.test" % (rnd_i, i)
        expected.append(rc_)
        drop(b"x-sender: k@example.org\nx-receiver: " + rc_.encode() +
             b"\nSubject: crash\n\n" + rc_.encode() + b"\n")
    time.sleep(random.uniform(0.0, 0.05))
    tern.kill9()
    tern.start()
wait_for(lambda: os.listdir(pdir) == [], 30)
time.sleep(0.5)


def spooled_rcpts():
    """Recipients of the messages in the spool, one entry per message."""
    out = []
    for lines in tern.spool_messages().values():
        out += [l[5:] for l in lines if l.startswith("rcpt ")]
    return out


injected = spooled_rcpts()
missing = sorted(set(expected) - set(injected))
dups = len(injected) - len(set(injected))
t.eq(missing, [], "after kill -9 and restarts every pickup file is in the spool")
finished = tern.output().count("before a stop; removed")
print("# %d kills with %d files: %d injected twice; %d committed but not yet "
      "removed at a kill, removed at restart" % (ROUNDS, N * ROUNDS, dups, finished))
t.eq(dups, 0, "no file is injected twice (recovery removes the committed ones)")
hold = Sink(w, port=HOLD_PORT)
tern.pmta("schedule", "hold.test")
wait_for(lambda: len(set(r for m in hold.messages() for r in m["rcpts"])) >= len(expected), 60)
delivered = set(r for m in hold.messages() for r in m["rcpts"])
t.eq(sorted(set(expected) - delivered), [], "and every one is delivered")
t.eq(os.listdir(pdir), [], "the pickup directory is empty at the end")
t.eq(sorted(os.listdir(bdir)), sorted([bad1, bad2, bad3]), "no new bad file")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
