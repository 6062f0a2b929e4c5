"""Refused recipients of a pickup file (pmta-interfaces §4.4; the rule is
in docs/compat.md): with XACK OFF a refused RCPT does not stop the file;
once the file is accepted, each refused recipient gets a `b` accounting
record and the sender a failure report (a DSN from <> at the sender's
mailbox, naming the recipient, its status and the reason, returning the
message's headers), as its NOTIFY asks (NOTIFY=NEVER: the b record only);
the good recipients are delivered.  The same holds in a mailmerge file,
where a refused XDFN refuses its RCPT.  With XACK ON a refused RCPT makes
the whole file bad, and so does XACK OFF when no recipient is left: then
nothing bounces and nothing is delivered."""
import os
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, relay_config

t = Tap()
w = Workdir("b38")
sink = Sink(w, maildir=True)
mailbox = Sink(w, maildir=True)     # the sender's mailbox: sender.test
pdir, bdir = w.file("pickup"), w.file("bad")
os.makedirs(pdir)
tern = Tern(w, relay_config(sink.port, more="""
pickup %s %s
<domain sender.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % (pdir, bdir, mailbox.port)))
tern.start()


def drop(name, text):
    tmp = w.file("tmp-" + name)
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(pdir, name))


def delivered():
    return sorted(r for m in sink.messages() for r in m["rcpts"])


def dsns():
    return [(m, mailbox.message_bytes(m).decode("utf-8", "replace")) for m in mailbox.messages()]


def brows():
    return [r for r in tern.acct_rows()[1] if r["type"] == "b"]


def bad_files():
    return sorted(os.listdir(bdir)) if os.path.isdir(bdir) else []


# --- 1. a plain BSMTP file, XACK OFF, two refused recipients ---
drop("plain.bsmtp", "EHLO feeder.test\r\nXACK OFF\r\nMAIL FROM:<alice@sender.test>\r\n"
     "RCPT TO:<good1@demo.test>\r\nRCPT TO:<no-domain>\r\n"
     "RCPT TO:<x@demo.test> FOO=1\r\nRCPT TO:<never> NOTIFY=NEVER\r\n"
     "RCPT TO:<good2@demo.test>\r\nDATA\r\nSubject: plain file\r\nMessage-Id: <plain@x>\r\n"
     "\r\nhello\r\n.\r\nQUIT\r\n")
t.ok(wait_for(lambda: delivered() == ["good1@demo.test", "good2@demo.test"], 20),
     "the good recipients are delivered", delivered())
t.ok(wait_for(lambda: len(dsns()) == 1 and len(brows()) == 3, 20),
     "one report to the sender, three b records", (len(dsns()), len(brows())))
m, text = dsns()[0] if dsns() else ({}, "")
t.eq((m.get("mail_from"), m.get("rcpts")), ("", ["alice@sender.test"]),
     "the report comes from <> to the file's sender")
t.ok("Content-Type: multipart/report; report-type=delivery-status" in text,
     "a multipart/report DSN", text[:400])
t.ok("Final-Recipient: rfc822;no-domain" in text and "Status: 5.1.3" in text,
     "it names the recipient without a domain, status 5.1.3")
t.ok("Final-Recipient: rfc822;x@demo.test" in text and "Status: 5.5.4" in text,
     "and the one with an unsupported parameter, status 5.5.4")
t.ok("rfc822;never" not in text and "<never>" not in text, "NOTIFY=NEVER: not in the report")
t.ok("Subject: plain file" in text and "Message-Id: <plain@x>" in text,
     "the report returns the message's headers")
b = {r["rcpt"]: r for r in brows()}
t.eq(sorted(b), ["never", "no-domain", "x@demo.test"], "a b record for each refused recipient")
r = b.get("no-domain", {})
t.ok(r.get("orig") == "alice@sender.test" and r.get("dsnAction") == "failed" and
     r.get("dsnStatus", "").startswith("5.1.3") and "plain.bsmtp" in r.get("dsnDiag", "") and
     r.get("srcMta") == "feeder.test ({pickup})",
     "the b record: sender, failed, 5.1.3, the file in dsnDiag, srcMta", r)
t.eq(os.listdir(pdir), [], "the file was taken")
t.eq(bad_files(), [], "and is not a bad file")

# --- 2. a mailmerge file, XACK OFF: a bad RCPT and a refused XDFN ---
drop("merge.bsmtp", "XACK OFF\nXMRG FROM:<bob@sender.test>\nXDFN Name=M1\n"
     "RCPT TO:<m1@demo.test>\nXDFN Name=Bad *vmta=nosuch\nRCPT TO:<m2@demo.test> NOTIFY=FAILURE\n"
     "XDFN Name=M3\nRCPT TO:<m3@@demo.test>\nXDFN Name=M4\nRCPT TO:<m4@demo.test>\n"
     "XPRT 1 LAST\nSubject: for [Name]\n\nhi [Name]\n.\n")
t.ok(wait_for(lambda: {"m1@demo.test", "m4@demo.test"} <= set(delivered()), 20),
     "the merge job's good recipients are delivered", delivered())
t.ok(wait_for(lambda: len(dsns()) == 2, 20), "a second report, for the merge file")
m, text = dsns()[1] if len(dsns()) > 1 else ({}, "")
t.eq(m.get("rcpts"), ["bob@sender.test"], "to the XMRG sender")
t.ok("Final-Recipient: rfc822;m2@demo.test" in text and "Status: 5.3.5" in text and
     "specified VirtualMTA does not" in text, "the refused XDFN refused m2 (5.3.5)", text[-1500:])
t.ok("Final-Recipient: rfc822;m3@@demo.test" in text, "the unparseable RCPT is named as written")
t.ok("m1@demo.test" not in text and "m4@demo.test" not in text, "accepted recipients are not in it")
t.ok(wait_for(lambda: {"m2@demo.test", "m3@@demo.test"} <= {r["rcpt"] for r in brows()}, 10),
     "b records for m2 and m3")
t.ok("m2@demo.test" not in delivered() and len([r for r in delivered() if r.startswith("m")]) == 2,
     "exactly the two good merge recipients delivered", delivered())

# --- 3. XACK ON: a refused RCPT makes the file bad; no bounce ---
nb, nd = len(brows()), len(dsns())
drop("xackon.bsmtp", "MAIL FROM:<carol@sender.test>\nRCPT TO:<ok@demo.test>\n"
     "RCPT TO:<bad>\nDATA\nSubject: x\n\nx\n.\n")
drop("allbad.bsmtp", "XACK OFF\nMAIL FROM:<carol@sender.test>\nRCPT TO:<bad>\n"
     "RCPT TO:<worse>\nDATA\nSubject: x\n\nx\n.\n")
t.ok(wait_for(lambda: bad_files() == ["allbad.bsmtp", "xackon.bsmtp"], 20),
     "XACK ON with a bad RCPT, and XACK OFF with no good one: bad files", bad_files())
time.sleep(1)     # what a bounce would have produced by now
t.ok(len(brows()) == nb and
     len(dsns()) == nd and "ok@demo.test" not in delivered(),
     "nothing bounced, nothing delivered for them")
tern.stop()
t.done()
