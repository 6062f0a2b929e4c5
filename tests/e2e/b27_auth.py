"""SMTP AUTH on the injection side against <smtp-user> blocks: PLAIN,
LOGIN and CRAM-MD5 with smtplib and swaks (right and wrong password,
unknown user, a system user without a Linux account), the protocol details (334
challenges, "*" cancel, bad base64, 503/504/538), what the client's
<source> says (allow-unencrypted-plain-auth, require-starttls-before-auth,
require-auth for MAIL and XMRG, allow-auth no), an open-relay check (the
same client refused unauthenticated, relaying once authenticated through
<source {auth}>), a user's own `source` (its default-virtual-mta and
jobid-prefix {auth}), STARTTLS forgetting the authentication,
smtp-max-auth-failure-rate, rcvSmtpUser in the r and d records, and no
password in the logs."""
import base64
import hashlib
import hmac
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
if shutil.which("openssl") is None:
    print("1..0 # SKIP the openssl command is not installed")
    sys.exit(0)
w = Workdir("b27")

pem, crt, key = w.cert("srv", "tern.test")

ALICE, BOB, CAROL = "alice-S3cret", "b0b-pass-word", "carol-pw"
sink = Sink(w)
racct = w.file("racct.csv")
tern = Tern(w, """
smtp-server-tls-certificate %(pem)s
<acct-file %(racct)s>
    records r,d
    record-fields r rcpt,jobId,vmta,rcvSmtpUser
    record-fields d rcpt,jobId,vmta,rcvSmtpUser
</acct-file>
<smtp-user alice>
    password %(alice)s
</smtp-user>
<smtp-user bob>
    password %(bob)s
    source bobsrc
</smtp-user>
<smtp-user carol>
    password %(carol)s
    authentication-method system
</smtp-user>
<smtp-user dave>
    source nosuch
</smtp-user>
<virtual-mta vb>
    smtp-source-host 127.0.0.1 vb.tern.test
</virtual-mta>
<source bobsrc>
    always-allow-relaying yes
    default-virtual-mta vb
    process-x-job yes
    jobid-prefix {auth}
</source>
<source {auth}>
    always-allow-relaying yes
</source>
<source 127.0.0.1>
    allow-unencrypted-plain-auth yes
    allow-starttls yes
</source>
<source 127.0.0.2>
    allow-starttls yes
</source>
<source 127.0.0.3>
    require-auth yes
    allow-unencrypted-plain-auth yes
    allow-mailmerge yes
</source>
<source 127.0.0.4>
    require-starttls-before-auth yes
    allow-starttls yes
</source>
<source 127.0.0.5>
    smtp-max-auth-failure-rate 3/m
    allow-unencrypted-plain-auth yes
</source>
<source 127.0.0.6>
    allow-auth no
    allow-unencrypted-plain-auth yes
</source>
<source 127.0.0.7>
    smtp-max-auth-failure-rate 1/3s
    allow-unencrypted-plain-auth yes
</source>
<domain auth.test>
    smtp-hosts [127.0.0.1]:%(sink)d
</domain>
""" % {"pem": pem, "racct": racct, "alice": ALICE, "bob": BOB, "carol": CAROL,
       "sink": sink.port})
tern.start()

NOVERIFY = ssl.create_default_context()
NOVERIFY.check_hostname = False
NOVERIFY.verify_mode = ssl.CERT_NONE
MSG = "Subject: auth\r\n\r\nhello\r\n"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def smtp(ip="127.0.0.1"):
    s = smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test",
                     source_address=(ip, 0), timeout=30)
    s.ehlo()
    return s


def auth_line(s):
    """The EHLO's AUTH keyword line ("" when not offered)."""
    return "AUTH " + s.esmtp_features["auth"].strip() if s.has_extn("auth") else ""


def try_auth(s, mech, user, password, initial=True):
    """smtplib's exchange for one mechanism: the final reply code."""
    s.user, s.password = user, password
    obj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login,
           "CRAM-MD5": s.auth_cram_md5}[mech]
    try:
        return s.auth(mech, obj, initial_response_ok=initial)[0]
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code


def send(s, rcpts, msg=None):
    """sendmail on an open session: the refused dict, or the error."""
    try:
        return s.sendmail("s@example.org", rcpts, msg or MSG)
    except smtplib.SMTPException as e:
        return repr(e)


def msgs_to(rcpt):
    return [m for m in sink.messages() if rcpt in m["rcpts"]]


class Raw:
    """A line-by-line client for the protocol details."""

    def __init__(self, ip="127.0.0.1"):
        self.sock = socket.create_connection((tern.ip, tern.port), timeout=15,
                                             source_address=(ip, 0))
        self.buf = b""
        self.greeting = self.reply()

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return lines + ["<closed>"]
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def last(self, line):
        return self.cmd(line)[-1]

    def closed(self):
        self.sock.settimeout(5)
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()


# --- what EHLO offers --------------------------------------------------------
with smtp("127.0.0.1") as s:
    t.eq(auth_line(s), "AUTH PLAIN LOGIN CRAM-MD5",
         "allow-unencrypted-plain-auth yes: every mechanism offered in clear")
with smtp("127.0.0.2") as s:
    t.eq(auth_line(s), "AUTH CRAM-MD5",
         "by default PLAIN and LOGIN are not offered without TLS")
    code, text = s.docmd("AUTH", "PLAIN " + b64("\0alice\0" + ALICE))
    t.ok(code == 538 and text.startswith(b"5.7.11"),
         "AUTH PLAIN without TLS there: 538 5.7.11", (code, text))
    code, text = s.docmd("AUTH", "LOGIN")
    t.eq(code, 538, "and AUTH LOGIN: 538")
    s.starttls(context=NOVERIFY)
    s.ehlo()
    t.eq(auth_line(s), "AUTH PLAIN LOGIN CRAM-MD5", "after STARTTLS all are offered")
    t.eq(try_auth(s, "PLAIN", "alice", ALICE), 235, "and AUTH PLAIN over TLS: 235")
with smtp("127.0.0.4") as s:
    t.eq(auth_line(s), "", "require-starttls-before-auth: no AUTH before TLS")
    code, text = s.docmd("AUTH", "CRAM-MD5")
    t.ok(code == 530 and b"STARTTLS" in text,
         "AUTH before TLS there: 530 must issue STARTTLS", (code, text))
    s.starttls(context=NOVERIFY)
    s.ehlo()
    t.eq(auth_line(s), "AUTH PLAIN LOGIN CRAM-MD5", "offered after STARTTLS")
    t.eq(try_auth(s, "LOGIN", "alice", ALICE), 235, "AUTH LOGIN over TLS: 235")
with smtp("127.0.0.6") as s:
    t.eq(auth_line(s), "", "allow-auth no: not offered")
    t.eq(s.docmd("AUTH", "PLAIN " + b64("\0alice\0" + ALICE))[0], 503,
         "and AUTH there: 503")

# --- each mechanism: right and wrong password, unknown user -----------------
for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
    for initial in ((True, False) if mech != "CRAM-MD5" else (False,)):
        how = "%s%s" % (mech, " with an initial response" if initial else "")
        with smtp() as s:
            t.eq(try_auth(s, mech, "alice", ALICE, initial), 235,
                 "%s, right password: 235" % how)
        with smtp() as s:
            t.eq(try_auth(s, mech, "alice", ALICE + "x", initial), 535,
                 "%s, wrong password: 535" % how)
            t.eq(try_auth(s, mech, "nobody", ALICE, initial), 535,
                 "%s, unknown user: 535 (the same reply)" % how)
            t.eq(try_auth(s, mech, "carol", CAROL, initial), 535,
                 "%s, a system user without a Linux account: 535" % how)
            t.eq(try_auth(s, mech, "bob", BOB, initial), 235,
                 "%s: after failures the right password still works" % how)
out = tern.output()
t.ok("smtp-user dave: no password" in out and
     "smtp-user dave: source nosuch: no <source nosuch>" in out,
     "warnings at start for users that cannot work as written", out[-2000:])
with smtp() as s:
    t.eq(try_auth(s, "PLAIN", "dave", "x"), 535, "a user without a password: 535")
with smtp() as s:
    s.login("alice", ALICE)          # smtplib picks CRAM-MD5 first
    t.ok(True, "smtplib login() (CRAM-MD5 first): accepted")
with smtp() as s:
    try:
        s.login("alice", "wrong")
        t.ok(False, "smtplib login() with a wrong password refused")
    except smtplib.SMTPAuthenticationError as e:
        t.eq(e.smtp_code, 535, "smtplib login() with a wrong password: 535")

# --- protocol details ---------------------------------------------------------
r = Raw()
t.eq(r.last("AUTH PLAIN " + b64("\0alice\0" + ALICE)), "503 5.5.1 bad sequence "
     "of commands: send EHLO first, no AUTH in a transaction", "AUTH before EHLO: 503")
r.cmd("EHLO raw.test")
t.eq(r.cmd("AUTH PLAIN"), ["334 "], "AUTH PLAIN without initial response: 334 and "
     "an empty challenge")
t.eq(r.last("*"), "501 5.0.0 authentication cancelled", "\"*\" cancels: 501")
t.eq(r.cmd("AUTH LOGIN"), ["334 VXNlcm5hbWU6"], "AUTH LOGIN: 334 Username:")
t.eq(r.cmd(b64("alice")), ["334 UGFzc3dvcmQ6"], "then 334 Password:")
t.eq(r.last("not base64!"), "501 5.5.2 cannot decode the response",
     "a response that is not base64: 501")
t.ok(r.last("AUTH PLAIN =").startswith("501 "), "an empty PLAIN response: 501")
t.ok(r.last("AUTH PLAIN Zm9v YmFy").startswith("501 5.5.4"),
     "two words after the mechanism: 501")
t.ok(r.last("AUTH PLAIN Zm9vYmF").startswith("501 5.5.2"),
     "a bad initial response: 501")
t.eq(r.last("AUTH DIGEST-MD5"), "504 5.5.4 unrecognized authentication type",
     "an unknown mechanism: 504")
t.ok(r.last("AUTH CRAM-MD5 " + b64("x")).startswith("501 "),
     "CRAM-MD5 with an initial response: 501")
ch = r.cmd("AUTH CRAM-MD5")[0]
challenge = base64.b64decode(ch[4:]).decode() if ch.startswith("334 ") else ""
t.ok(challenge.startswith("<") and challenge.endswith("@tern.test>"),
     "CRAM-MD5: a 334 challenge <...@host-name>", ch)
digest = hmac.new(ALICE.encode(), challenge.encode(), hashlib.md5).hexdigest()
t.eq(r.last(b64("alice " + digest)), "235 2.7.0 authentication successful",
     "the RFC 2195 response to it: 235 2.7.0")
t.eq(r.last("AUTH PLAIN " + b64("\0alice\0" + ALICE)), "503 5.5.1 already "
     "authenticated", "AUTH again: 503")
r.close()
r = Raw()
r.cmd("EHLO raw.test")
ch = r.cmd("AUTH CRAM-MD5")[0]
challenge2 = base64.b64decode(ch[4:]).decode()
t.ok(challenge2 != challenge, "each challenge is new")
t.ok(r.last(b64("alice " + digest)).startswith("535 5.7.8"),
     "a replayed CRAM-MD5 response: 535 5.7.8")
t.ok(r.last("MAIL FROM:<s@example.org>").startswith("250"), "MAIL")
t.ok(r.last("AUTH PLAIN " + b64("\0alice\0" + ALICE)).startswith("503 "),
     "AUTH in a transaction: 503")
t.ok(r.last("AUTH PLAIN " + b64("Mallory\0alice\0" + ALICE)).startswith("503 "),
     "(still in it)")
r.cmd("RSET")
t.ok(r.last("AUTH PLAIN " + b64("mallory\0alice\0" + ALICE)).startswith("535 "),
     "PLAIN with another authorization identity: 535")
t.ok(r.last("AUTH PLAIN " + b64("alice\0alice\0" + ALICE)).startswith("235 "),
     "PLAIN with the same authorization identity: 235")
r.close()

# --- relaying: an open-relay check --------------------------------------------
with smtp("127.0.0.1") as s:
    s.mail("s@example.org")
    code, text = s.rcpt("open@auth.test")
    t.ok(code == 550 and text.startswith(b"5.7.1"),
         "unauthenticated, the client may not relay: 550 5.7.1", (code, text))
with smtp("127.0.0.1") as s:
    t.eq(try_auth(s, "PLAIN", "alice", ALICE), 235, "alice authenticates")
    t.eq(send(s, ["alice1@auth.test"]), {},
         "and relays through <source {auth}> always-allow-relaying")
with smtp("127.0.0.1") as s:
    t.eq(try_auth(s, "PLAIN", "alice", ALICE), 235, "alice again")
    s.starttls(context=NOVERIFY)
    s.ehlo()
    s.mail("s@example.org")
    t.eq(s.rcpt("forgot@auth.test")[0], 550,
         "STARTTLS forgets the authentication: relaying refused again")
wait_for(lambda: msgs_to("alice1@auth.test"), 15)
t.eq(len(msgs_to("alice1@auth.test")), 1, "alice's message arrives at the sink")
t.eq(msgs_to("forgot@auth.test") + msgs_to("open@auth.test"), [],
     "nothing refused arrived")

# bob's own source: default-virtual-mta and jobid-prefix {auth}
with smtp("127.0.0.1") as s:
    t.eq(try_auth(s, "CRAM-MD5", "bob", BOB, False), 235, "bob authenticates")
    t.eq(send(s, ["bob1@auth.test"],
                 "X-Job: news\r\nSubject: bob\r\n\r\nhi\r\n"), {},
         "and relays through his source bobsrc")
wait_for(lambda: msgs_to("bob1@auth.test"), 15)
m = (msgs_to("bob1@auth.test") or [{}])[0]
t.eq(m.get("helo"), "vb.tern.test",
     "delivered by bobsrc's default-virtual-mta vb (its EHLO name)")

# --- swaks ---------------------------------------------------------------------
if shutil.which("swaks"):
    def swaks(ip, *args):
        return subprocess.run(["swaks", "--server", "%s:%d" % (tern.ip, tern.port),
                               "--local-interface", ip, "--from", "s@example.org",
                               "--helo", "swaks.test"] + list(args),
                              capture_output=True, text=True, timeout=60)
    r1 = swaks("127.0.0.1", "--to", "sw1@auth.test", "--auth", "PLAIN",
               "--auth-user", "alice", "--auth-password", ALICE)
    t.ok(r1.returncode == 0 and "235 2.7.0" in r1.stdout and "250 2.6.0" in r1.stdout,
         "swaks --auth PLAIN: authenticated, accepted", r1.stdout[-1500:])
    r2 = swaks("127.0.0.1", "--to", "sw2@auth.test", "--auth", "CRAM-MD5",
               "--auth-user", "alice", "--auth-password", ALICE)
    t.ok(r2.returncode == 0 and "235 2.7.0" in r2.stdout,
         "swaks --auth CRAM-MD5: accepted", r2.stdout[-1500:])
    r3 = swaks("127.0.0.1", "--to", "sw3@auth.test", "--auth", "LOGIN",
               "--auth-user", "alice", "--auth-password", "wrong")
    t.ok(r3.returncode != 0 and "535 5.7.8" in r3.stdout,
         "swaks --auth LOGIN, wrong password: 535", r3.stdout[-1500:])
    r4 = swaks("127.0.0.2", "--to", "sw4@auth.test", "--auth", "PLAIN",
               "--auth-user", "alice", "--auth-password", ALICE)
    t.ok(r4.returncode != 0 and "235 " not in r4.stdout,
         "swaks --auth PLAIN without TLS where it needs TLS: not done",
         r4.stdout[-1500:])
    r5 = swaks("127.0.0.2", "--to", "sw5@auth.test", "--tls", "--auth", "LOGIN",
               "--auth-user", "alice", "--auth-password", ALICE)
    t.ok(r5.returncode == 0 and "235 2.7.0" in r5.stdout and "250 2.6.0" in r5.stdout,
         "swaks --tls --auth LOGIN there: accepted", r5.stdout[-1500:])
    wait_for(lambda: all(msgs_to(x) for x in ("sw1@auth.test", "sw2@auth.test",
                                              "sw5@auth.test")), 15)
    t.ok(all(len(msgs_to(x)) == 1 for x in ("sw1@auth.test", "sw2@auth.test",
                                            "sw5@auth.test")),
         "swaks' messages arrive at the sink")
    t.eq(msgs_to("sw3@auth.test") + msgs_to("sw4@auth.test"), [],
         "the refused ones do not")
else:
    for _ in range(7):
        t.ok(True, "# SKIP swaks is not installed")

# --- require-auth ---------------------------------------------------------------
with smtp("127.0.0.3") as s:
    code, text = s.mail("s@example.org")
    t.ok(code == 530 and text == b"5.7.0 authentication required",
         "require-auth: MAIL before AUTH: 530 5.7.0", (code, text))
    code, text = s.docmd("XMRG", "FROM:<s@example.org>")
    t.eq(code, 530, "and XMRG: 530")
    t.eq(try_auth(s, "PLAIN", "alice", ALICE), 235, "AUTH")
    t.eq(send(s, ["req1@auth.test"]), {},
         "then the message is accepted")
wait_for(lambda: msgs_to("req1@auth.test"), 15)
t.eq(len(msgs_to("req1@auth.test")), 1, "and arrives")

# --- smtp-max-auth-failure-rate --------------------------------------------------
with smtp("127.0.0.5") as s:
    t.eq([try_auth(s, "PLAIN", "alice", "bad%d" % i) for i in range(2)], [535, 535],
         "3/m: two failures, 535 each")
with smtp("127.0.0.5") as s:
    t.eq(try_auth(s, "PLAIN", "alice", "bad3"), 535, "a third one on a new connection: 535")
r = Raw("127.0.0.5")
r.cmd("EHLO raw.test")
t.eq(r.last("AUTH PLAIN " + b64("\0alice\0bad4")), "421 4.7.0 tern.test too many "
     "authentication failures, closing", "the fourth within the minute: 421")
t.ok(r.closed(), "and the connection is closed")
r.close()
r = Raw("127.0.0.5")
r.cmd("EHLO raw.test")
t.ok(r.last("AUTH PLAIN " + b64("\0alice\0" + ALICE)).startswith("421 4.7.0"),
     "while the interval lasts even the right password gets 421")
r.close()
with smtp("127.0.0.1") as s:
    t.eq(try_auth(s, "PLAIN", "alice", ALICE), 235, "another client address is not affected")
r = Raw("127.0.0.7")
r.cmd("EHLO raw.test")
t.ok(r.last("AUTH PLAIN " + b64("\0alice\0bad")).startswith("535 "), "1/3s: one failure")
t.ok(r.last("AUTH PLAIN " + b64("\0alice\0bad")).startswith("421 "), "the second: 421")
r.close()
time.sleep(3.2)
with smtp("127.0.0.7") as s:
    t.eq(try_auth(s, "PLAIN", "alice", ALICE), 235, "after the interval: allowed again")

# --- accounting and logs -----------------------------------------------------------
wait_for(lambda: sum(1 for l in open(racct) if l.startswith("d,")) >= 6, 15)
rows = [l.rstrip("\r\n").split(",") for l in open(racct)]
rrows = {r[1]: r for r in rows if r[0] == "r"}
drows = {r[1]: r for r in rows if r[0] == "d"}
t.eq(rrows.get("alice1@auth.test"), ["r", "alice1@auth.test", "", "{default}", "alice"],
     "r record: rcvSmtpUser alice")
t.eq(drows.get("alice1@auth.test"), ["d", "alice1@auth.test", "", "{default}", "alice"],
     "d record: rcvSmtpUser alice")
t.eq(rrows.get("bob1@auth.test"), ["r", "bob1@auth.test", "bobnews", "vb", "bob"],
     "bob's r record: jobid-prefix {auth} (bob + news), VirtualMTA vb, rcvSmtpUser bob")
t.eq(drows.get("bob1@auth.test", [None] * 5)[4], "bob", "bob's d record: rcvSmtpUser bob")
t.eq(drows.get("sw5@auth.test", [None] * 5)[4] if shutil.which("swaks") else "alice",
     "alice", "swaks' message over TLS: rcvSmtpUser alice")

logs = tern.output() + open(tern.log).read()
t.ok("authenticated as \"alice\" (PLAIN), source {auth}" in logs and
     "authenticated as \"bob\" (CRAM-MD5), source bobsrc" in logs,
     "pmtad logs who authenticated, how, and the source that applies")
t.ok("AUTH PLAIN failed for \"alice\"" in logs, "and the failures")
secrets = [ALICE, BOB, CAROL, b64("\0alice\0" + ALICE), b64(ALICE), "bad4"]
t.eq([x for x in secrets if x in logs], [], "no password (nor AUTH blob) in the logs")

t.eq(tern.stop(), 0, "pmtad exits 0")
sink.stop()
w.remove()
t.done()
