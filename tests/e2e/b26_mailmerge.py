"""Mailmerge (pmta-interfaces §4.1, §4.2): XMRG, XDFN, RCPT, XPRT and XACK
spoken by a scripted raw-socket client, with the habits real injectors
have (XACK OFF before or after XMRG, "XMRG FROM: <a>", double and trailing
spaces, unquoted *vmta, one XDFN per variable, pipelined XDFN/RCPT).
Every reply is checked, and so is the absence of replies to XDFN and
RCPT under XACK OFF.  Each recipient arrives as its own message, with its
parts, its variables, *from/VERP, *envid, *jobid, *vmta; errors cancel
the whole job.  The acceptance case: a 1,000-recipient job arrives as
1,000 personalised messages, shows in `pmta show jobs`, stays held while
its job is paused, and its *vmta recipients leave from the VMTA's own
source IP."""
import re
import select
import socket
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b26")
sink = Sink(w, maildir=True)
bulk_port = free_port()
CONFIG = """
<virtual-mta v1>
    smtp-source-host 127.0.0.2 v1.tern.test
</virtual-mta>
<source 127.0.0.1>
    always-allow-relaying yes
    allow-mailmerge yes
    process-x-virtual-mta yes
    process-x-job yes
    max-message-size 200K
</source>
<source 127.0.0.5>
    always-allow-relaying yes
</source>
<source 127.0.0.6>
    always-allow-relaying yes
    always-allow-api-submission yes
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain bulk.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % (sink.port, bulk_port)
tern = Tern(w, CONFIG)
tern.start()


class Client:
    """A raw SMTP client: every line it sends and every reply it reads."""

    def __init__(self, src="127.0.0.1"):
        self.s = socket.create_connection((tern.ip, tern.port), timeout=20,
                                          source_address=(src, 0))
        self.buf = b""
        self.greeting = self.reply()

    def send(self, line):
        self.s.sendall(line.encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        """The lines of one reply, the last one last."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                return lines
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def cmd(self, line):
        """Send a command; its reply's last line."""
        self.send(line)
        r = self.reply()
        return r[-1] if r else None

    def silent(self, wait=0.3):
        """True when nothing has been answered (nothing to read)."""
        if self.buf:
            return False
        return not select.select([self.s], [], [], wait)[0]

    def part(self, text):
        """A part's content, dot-stuffed, and its end; the reply."""
        lines = text.split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        data = "".join(("." + l if l.startswith(".") else l) + "\r\n" for l in lines)
        self.s.sendall(data.encode() + b".\r\n")
        r = self.reply()
        return r[-1] if r else None

    def close(self):
        self.s.close()


def by_rcpt(s=sink):
    return {m["rcpts"][0]: m for m in s.messages()}


def body(m, s=sink):
    return s.message_bytes(m).decode()


# --- 1. the dialogue of §4.1: XACK OFF first, verp, parts 1, 2, 3 ---
c = Client()
t.eq(c.greeting, ["220 tern.test ESMTP service ready"], "greeting")
c.send("EHLO test.port25.com")
ehlo = c.reply()
t.ok("250-XACK" in ehlo and "250-XMRG" in ehlo and "250-PIPELINING" in ehlo,
     "EHLO offers XACK and XMRG (allow-mailmerge yes)", ehlo)
t.eq(c.cmd("XACK OFF"), "250 2.0.0 ok", "XACK OFF")
t.eq(c.cmd("XMRG FROM:<bounce@example.port25.com> verp"), "250 2.1.0 XMRG ok",
     "XMRG with verp")
for line in ['XDFN *parts="1,3" Name="Ann Smith"', "RCPT TO:<ann@demo.test>",
             "XDFN  *vmta=v1", "XDFN Name=Bob *parts=1-3", "RCPT TO:<bob@demo.test>"]:
    c.send(line)
t.ok(c.silent(), "XACK OFF: no reply to XDFN and RCPT")
t.eq(c.cmd("HELP"), "214 2.0.0 see RFC 5321",
     "the next reply is the next command's (nothing was held back)")
t.eq(c.cmd("XPRT 1"), "354 send part", "XPRT 1")
t.eq(c.part("Subject: Hello [Name]\r\nTo: [Name] <[*to]>\r\n\r\nDear [Name],\r\n"
            ".a line with a dot\r\n"), "250 2.6.0 part ok", "part 1")
t.eq(c.cmd("XPRT 2"), "354 send part", "XPRT 2")
t.eq(c.part("part two for [Name]\r\n"), "250 2.6.0 part ok", "part 2")
t.eq(c.cmd("XPRT 3 LAST "), "354 send part", "XPRT 3 LAST with a trailing space")
t.eq(c.part("bye [Name]\r\n"), "250 2.6.0 message received",
     "the last part: one reply for the job")
t.eq(c.cmd("QUIT"), "221 2.0.0 tern.test says goodbye", "QUIT")
c.close()
wait_for(lambda: len(sink.messages()) >= 2, 15)
m = by_rcpt()
ann, bob = m.get("ann@demo.test"), m.get("bob@demo.test")
t.ok(ann is not None and bob is not None, "one message per recipient", sink.messages())
t.eq(body(ann) if ann else None,
     "Subject: Hello Ann Smith\r\nTo: Ann Smith <ann@demo.test>\r\n\r\n"
     "Dear Ann Smith,\r\n.a line with a dot\r\nbye Ann Smith\r\n",
     "Ann: parts 1 and 3 (*parts=\"1,3\"), her variables, *to")
t.eq(body(bob) if bob else None,
     "Subject: Hello Bob\r\nTo: Bob <bob@demo.test>\r\n\r\nDear Bob,\r\n"
     ".a line with a dot\r\npart two for Bob\r\nbye Bob\r\n",
     "Bob: parts 1-3")
t.eq((ann or {}).get("mail_from"), "bounce-ann=demo.test@example.port25.com",
     "VERP: the sender carries the recipient")
t.eq(((bob or {}).get("peer", "").split(":")[0], (bob or {}).get("helo")),
     ("127.0.0.2", "v1.tern.test"), "*vmta=v1: Bob leaves from v1's source IP")
t.eq((ann or {}).get("peer", "").split(":")[0], "127.0.0.1",
     "Ann (no *vmta) from the default source")

# --- 2. habits: "XMRG FROM: <a>", XACK OFF after XMRG, one XDFN per
#        variable, reserved variables, X-headers in part 1 ---
c = Client()
c.send("EHLO client.test")
c.reply()
t.eq(c.cmd("XMRG FROM: <news@example.org>"), "250 2.1.0 XMRG ok",
     "XMRG FROM: <a> (a space after the colon)")
t.eq(c.cmd("XACK OFF"), "250 2.0.0 ok", "XACK OFF after XMRG")
for line in ['XDFN first="Carol"', 'XDFN *parts="1"', "XDFN *jobid=j-carol",
             "XDFN *priority=90", "RCPT TO:<carol@demo.test>",
             "XDFN first=Dan", "XDFN *from=<dan-bounce@example.org> *envid=ENV-DAN",
             "RCPT TO:<dan@demo.test> NOTIFY=NEVER"]:
    c.send(line)
t.ok(c.silent(), "no replies while XACK is off")
t.eq(c.cmd("XACK ON "), "250 2.0.0 ok", "XACK ON with a trailing space")
t.eq(c.cmd("XPRT 1 LAST"), "354 send part", "XPRT 1 LAST")
t.eq(c.part("X-Virtual-MTA: v1\r\nX-Job: hdrjob\r\nSubject: Hi [first]\r\n\r\n"
            "Dear [first] [last] [[x] [*to]\r\n"), "250 2.6.0 message received",
     "one-part job accepted")
t.eq(c.cmd("RCPT TO:<x@demo.test>"), "503 5.5.1 bad sequence of commands: "
     "need MAIL before RCPT", "XACK ON again: RCPT outside a transaction is answered")
c.close()
wait_for(lambda: len(sink.messages()) >= 4, 15)
m = by_rcpt()
carol, dan = m.get("carol@demo.test"), m.get("dan@demo.test")
t.eq(body(carol) if carol else None,
     "Subject: Hi Carol\r\n\r\nDear Carol  [x] carol@demo.test\r\n",
     "an undefined variable is empty, [[ is '[', X-headers removed")
t.eq((dan or {}).get("mail_from"), "dan-bounce@example.org", "*from: Dan's own sender")
t.eq((carol or {}).get("mail_from"), "news@example.org", "Carol: the XMRG sender")
t.eq(((carol or {}).get("helo"), (dan or {}).get("helo")), ("v1.tern.test", "v1.tern.test"),
     "X-Virtual-MTA in part 1 applies to every message of the job")
wait_for(lambda: len(tern.acct_rows()[1]) >= 4, 10)
rows = {r["rcpt"]: r for r in tern.acct_rows()[1]}
t.eq((rows.get("carol@demo.test", {}).get("jobId"), rows.get("dan@demo.test", {}).get("jobId")),
     ("j-carol", "hdrjob"), "*jobid beats X-Job; without it X-Job counts")
t.eq(rows.get("dan@demo.test", {}).get("envId"), "ENV-DAN", "*envid")
t.eq(rows.get("carol@demo.test", {}).get("vmta"), "v1", "the accounting names the VMTA")

# --- 3. refusals, with XACK on ---
c = Client("127.0.0.5")
c.send("EHLO client.test")
t.ok("250-XMRG" not in c.reply(), "no XMRG offered to a source without allow-mailmerge")
t.eq(c.cmd("XMRG FROM:<a@example.org>"), "550 5.7.1 mailmerge not allowed",
     "XMRG refused without allow-mailmerge")
t.eq(c.cmd("XDFN a=1"), "503 5.5.1 bad sequence of commands: need XMRG before XDFN",
     "XDFN without XMRG")
t.eq(c.cmd("XPRT 1 LAST"), "503 5.5.1 bad sequence of commands: need XMRG and RCPT "
     "before XPRT", "XPRT without XMRG")
c.close()
c = Client("127.0.0.6")
c.send("EHLO client.test")
t.ok("250-XMRG" in c.reply(), "always-allow-api-submission offers XMRG")
t.eq(c.cmd("XMRG FROM:<a@example.org>"), "250 2.1.0 XMRG ok", "and accepts it")
c.close()

c = Client()
c.send("EHLO client.test")
c.reply()
t.eq(c.cmd("XMRG FROM:<a@example.org> RET=HDRS ENVID=E1"), "250 2.1.0 XMRG ok",
     "XMRG takes MAIL's parameters")
t.eq(c.cmd("XPRT 1"), "554 5.5.1 no valid recipients", "XPRT before any RCPT")
t.eq(c.cmd("XDFN a=1 b"), "501 5.5.4 expected name=value", "XDFN syntax error")
t.eq(c.cmd("XDFN *nosuch=1"), "501 5.5.4 unknown reserved variable",
     "an unknown reserved variable")
t.eq(c.cmd("XDFN *vmta=nosuch"), "550 5.3.5 specified VirtualMTA does not exist",
     "*vmta naming no VirtualMTA")
t.eq(c.cmd("XDFN x=\"1\" *parts=2"), "250 2.0.0 XDFN ok", "XDFN ok")
t.eq(c.cmd("RCPT TO:<e@demo.test>"), "250 2.1.5 RCPT ok", "RCPT ok")
t.eq(c.cmd("XPRT 0"), "501 5.5.4 part numbers go from 1 to 100", "XPRT 0")
t.eq(c.cmd("XPRT 1"), "354 send part", "XPRT 1")
t.eq(c.part("Subject: e\r\n\r\nx\r\n"), "250 2.6.0 part ok", "part 1")
t.eq(c.cmd("XPRT 1"), "503 5.5.1 part 1 was sent already", "a part sent twice")
t.eq(c.cmd("XPRT 3 LAST"), "354 send part", "XPRT 3 LAST")
t.eq(c.part("three\r\n"), "554 5.5.1 part 2 for <e@demo.test> was not sent",
     "*parts naming a part never sent fails the job")
t.eq(c.cmd("XPRT 4 LAST"), "503 5.5.1 bad sequence of commands: need XMRG and RCPT "
     "before XPRT", "the transaction is over")
t.eq(c.cmd("XMRG FROM:<a@example.org>"), "250 2.1.0 XMRG ok", "a new XMRG")
t.eq(c.cmd("RCPT TO:<big@demo.test>"), "250 2.1.5 RCPT ok", "RCPT")
t.eq(c.cmd("XPRT 1 LAST"), "354 send part", "XPRT 1 LAST")
t.eq(c.part("Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 210),
     "552 5.3.4 message too big", "parts beyond max-message-size (200K)")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "the session goes on")

# XACK OFF: a refused RCPT is answered at XPRT and cancels the job
t.eq(c.cmd("XACK OFF"), "250 2.0.0 ok", "XACK OFF")
t.eq(c.cmd("XMRG FROM:<a@example.org>"), "250 2.1.0 XMRG ok", "XMRG")
c.send("XDFN v=1")
c.send("RCPT TO:<f@demo.test>")
c.send("RCPT TO:<nodomain>")
c.send("XDFN bad name=1")
t.ok(c.silent(), "XACK OFF: not even errors are answered at once")
t.eq(c.cmd("XPRT 1 LAST"), "501 5.5.4 syntax error: missing domain",
     "XPRT answers the first error held back")
t.eq(c.cmd("XPRT 1 LAST"), "503 5.5.1 bad sequence of commands: need XMRG and RCPT "
     "before XPRT", "and the whole submission is cancelled")
# ... and the same for DATA
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL")
c.send("RCPT TO:<g@demo.test>")
c.send("RCPT TO:<>")
t.ok(c.silent(), "XACK OFF applies to RCPT of a plain transaction too")
t.ok(c.cmd("DATA").startswith("501 5.5.4"), "DATA answers the held-back error")
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL again")
c.send("RCPT TO:<h@demo.test>")
t.eq(c.cmd("DATA"), "354 send message", "no error held: DATA goes on")
t.eq(c.part("Subject: h\r\n\r\nh\r\n"), "250 2.6.0 message received", "a plain message")
c.close()

# a client that leaves in the middle of a job leaves nothing behind
c = Client()
c.send("EHLO client.test")
c.reply()
c.cmd("XMRG FROM:<a@example.org>")
c.cmd("RCPT TO:<gone@demo.test>")
c.cmd("XPRT 1")
c.part("Subject: gone\r\n\r\nx\r\n")
c.close()
time.sleep(1)
m = by_rcpt()
t.ok("e@demo.test" not in m and "f@demo.test" not in m and "big@demo.test" not in m
     and "gone@demo.test" not in m and "g@demo.test" not in m,
     "refused and abandoned jobs deliver nothing", sorted(m))
t.ok("h@demo.test" in m, "the plain message after them is delivered")

# --- 4. mailmerge-expands-undefined-variables false (reload) ---
with open(tern.config) as f:
    text = f.read()
with open(tern.config, "w") as f:
    f.write(text + "mailmerge-expands-undefined-variables false\n")
t.eq(tern.pmta("reload").returncode, 0, "reload")
c = Client()
c.send("EHLO client.test")
c.reply()
c.cmd("XMRG FROM:<a@example.org>")
c.cmd("XDFN known=K")
c.cmd("RCPT TO:<keep@demo.test>")
c.cmd("XPRT 1 LAST")
t.eq(c.part("Subject: k\r\n\r\n[known] [unknown] [Unknown]\r\n"),
     "250 2.6.0 message received", "job accepted")
c.close()
wait_for(lambda: "keep@demo.test" in by_rcpt(), 10)
k = by_rcpt().get("keep@demo.test")
t.eq(body(k).split("\r\n\r\n", 1)[1] if k else None, "K [unknown] [Unknown]\r\n",
     "undefined variables are left as written")

# --- 5. a client that leaves while the messages are being made: the job
#        is delivered whole or not at all, and nothing stays in the spool ---
G = 300
c = Client()
c.send("EHLO client.test")
c.reply()
c.cmd("XMRG FROM:<a@example.org>")
c.cmd("XACK OFF")
c.s.sendall("".join("XDFN n=%d\r\nRCPT TO:<gone%d@demo.test>\r\n" % (i, i)
                    for i in range(G)).encode())
t.eq(c.cmd("XPRT 1 LAST"), "354 send part", "a job that will be abandoned")
c.s.sendall(b"Subject: [n]\r\n\r\n" + b"x" * 998 + b"\r\n" * 100 + b"[n]\r\n.\r\n")
c.close()
done_re = re.compile(r"mailmerge job of %d (message\(s\) accepted|recipient\(s\) not accepted)" % G)
wait_for(lambda: done_re.search(tern.output()), 30)
outcome = done_re.search(tern.output())
accepted = bool(outcome) and outcome.group(1).startswith("message")
count = lambda: len([r for r in by_rcpt() if r.startswith("gone")])
if accepted:
    wait_for(lambda: count() >= G, 30)
else:
    time.sleep(1)
t.ok(outcome is not None and count() == (G if accepted else 0),
     "all or nothing (%s)" % (outcome.group(0) if outcome else "no outcome"), count())
t.ok(wait_for(lambda: tern.spooled() == [], 10), "nothing is left in the spool",
     tern.spooled()[:3])

# --- 6. acceptance: 1,000 recipients, personalised, a paused job ---
N = 1000
c = Client()
c.send("EHLO bulk.client")
c.reply()
t.eq(c.cmd("XMRG FROM:<bulk@example.org>"), "250 2.1.0 XMRG ok", "bulk: XMRG")
t.eq(c.cmd("XACK OFF"), "250 2.0.0 ok", "bulk: XACK OFF")
lines = []
for i in range(N):
    vmta = " *vmta=v1" if i % 10 == 0 else ""
    lines.append('XDFN name="User %d" code=C%04d *jobid=bulk1 *parts="1"%s' % (i, i, vmta))
    lines.append("RCPT TO:<u%d@bulk.test>" % i)
c.s.sendall(("\r\n".join(lines) + "\r\n").encode())
t.eq(c.cmd("XACK ON"), "250 2.0.0 ok",
     "2,000 pipelined XDFN/RCPT lines: not one reply before XACK ON's")
t.eq(c.cmd("XPRT 1 LAST"), "354 send part", "bulk: XPRT 1 LAST")
start = time.time()
t.eq(c.part("Subject: For [name]\r\nTo: <[*to]>\r\n\r\nHello [name], your code is "
            "[code].\r\n" + "filler line\r\n" * 200), "250 2.6.0 message received",
     "bulk: one 250 once all 1,000 messages are durable")
t.ok(time.time() - start < 30, "bulk: made within 30 s", time.time() - start)
t.eq(c.cmd("QUIT"), "221 2.0.0 tern.test says goodbye", "bulk: QUIT")
c.close()

p = tern.pmta("show", "jobs")
jobs = {l.split()[0]: l.split()[1] for l in p.stdout.splitlines()[1:] if len(l.split()) >= 3}
t.eq(jobs.get("bulk1"), str(N), "show jobs: the job with its 1,000 recipients")
t.eq(tern.pmta("pause", "job", "bulk1").returncode, 0, "pause job bulk1")
bulk = Sink(w, port=bulk_port, maildir=True)
tern.pmta("schedule", "bulk.test")
time.sleep(1.5)
t.eq(len(bulk.messages()), 0, "a paused job's messages stay queued")
t.eq(tern.pmta("resume", "job", "bulk1").returncode, 0, "resume job bulk1")
wait_for(lambda: len(bulk.messages()) >= N, 60)
msgs = bulk.messages()
t.eq(len(msgs), N, "all 1,000 messages arrive")
bad, wrong_ip = [], []
for msg in msgs:
    rcpt = msg["rcpts"][0] if len(msg["rcpts"]) == 1 else None
    mo = re.match(r"u(\d+)@bulk\.test$", rcpt or "")
    if not mo:
        bad.append(msg["rcpts"])
        continue
    i = int(mo.group(1))
    want = ("Subject: For User %d\r\nTo: <u%d@bulk.test>\r\n\r\nHello User %d, your code "
            "is C%04d.\r\n" % (i, i, i, i)) + "filler line\r\n" * 200
    if bulk.message_bytes(msg).decode() != want:
        bad.append(rcpt)
    ip = msg["peer"].split(":")[0]
    if ip != ("127.0.0.2" if i % 10 == 0 else "127.0.0.1"):
        wrong_ip.append((rcpt, ip))
t.eq(len({m["rcpts"][0] for m in msgs}), N, "1,000 distinct recipients, one message each")
t.eq(bad[:5], [], "every body is personalised for its recipient")
t.eq(wrong_ip[:5], [], "*vmta=v1 recipients leave from 127.0.0.2, the others from 127.0.0.1")
wait_for(lambda: len([r for r in tern.acct_rows()[1] if r.get("jobId") == "bulk1"]) >= N, 10)
t.eq(len([r for r in tern.acct_rows()[1] if r.get("jobId") == "bulk1" and r["type"] == "d"]),
     N, "1,000 d records with the job's id")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
