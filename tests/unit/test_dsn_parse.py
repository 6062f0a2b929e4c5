"""Reports composed by src/queue/dsn, checked by an independent parser.

Runs tests/unit/dsn_sample (from $TERN_BUILDDIR) to write one report per
variant into a temporary directory, then parses each with Python's email
package (policy.default) and checks the RFC 5322 / RFC 6522 / RFC 3464
structure: CRLF lines of at most 998 octets, multipart/report with
report-type=delivery-status, the three parts and their types, the
per-message and per-recipient status fields, From/To/Subject/Date, and
the original returned as RET asked.  Standard library only; TAP output.
"""
import datetime
import email
import email.parser
import email.policy
import os
import subprocess
import sys
import tempfile


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:20]:
                print("# " + line)
        return cond

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 0


ORIG_SUBJECT = "Hello there"
BOUNCED = ("rfc822;bob@dest.test", "failed", "5.1.1", "rfc822;Bob@Dest.test",
           "dns; mx.dest.test (192.0.2.25)")

# name -> what the report must look like (dsn_sample.c builds the input).
EXPECT = {
    "failure_headers": dict(subject="Failure", status="message/delivery-status",
                            third="text/rfc822-headers", envid="ENV-42",
                            rcpts=[BOUNCED], body=False),
    "failure_full": dict(subject="Failure", status="message/delivery-status",
                         third="message/rfc822", rcpts=[BOUNCED], body=True),
    "failure_overcap": dict(subject="Failure", status="message/delivery-status",
                            third="text/rfc822-headers", rcpts=[BOUNCED],
                            body=False, cut=True),
    "plain": dict(subject="Failure", status="text/plain", third="text/plain",
                  rcpts=[BOUNCED], body=False),
    "noorig": dict(subject="Failure", status="message/delivery-status",
                   third=None, rcpts=[BOUNCED]),
    "delay": dict(subject="Delay", status="message/delivery-status",
                  third="text/rfc822-headers", body=False, retry=True,
                  rcpts=[("rfc822;carol@slow.test", "delayed", "4.4.1", None,
                          "dns; mx.slow.test")]),
    "success": dict(subject="Success", status="message/delivery-status",
                    third="text/rfc822-headers", body=False,
                    rcpts=[("rfc822;dave@fast.test", "delivered", "2.0.0", None,
                            "dns; mx.fast.test"),
                           ("rfc822;erin@old.test", "relayed", "2.0.0", None,
                            "dns; mx.old.test")]),
    "hostile": dict(subject="Failure", status="message/delivery-status",
                    third="text/rfc822-headers", body=False, hostile=True,
                    rcpts=[("rfc822;mallory@evil.test X-Injected: final",
                            "failed", "5.7.1", None,
                            "dns; mx.evil.test X-Injected: mta"),
                           ("rfc822;long@evil.test", "delayed", "4.0.0", None,
                            None)]),
}


def check_lines(t, name, raw):
    lines = raw.split(b"\r\n")
    t.ok(raw.endswith(b"\r\n") and lines[-1] == b"",
         "%s: ends with CRLF" % name)
    bad = [i for i, l in enumerate(lines) if b"\r" in l or b"\n" in l]
    t.ok(not bad, "%s: every line ends with CRLF" % name, bad[:5])
    long_ = [(i, len(l)) for i, l in enumerate(lines) if len(l) > 998]
    t.ok(not long_, "%s: no line over 998 octets" % name, long_[:5])
    t.ok(all(b < 0x80 for b in raw), "%s: 7-bit only" % name)


def status_blocks(part, plain):
    """The delivery-status field groups as a list of header mappings."""
    if not plain:
        return part.get_payload()
    text = part.get_content().replace("\r\n", "\n").strip("\n")
    parser = email.parser.HeaderParser(policy=email.policy.default)
    return [parser.parsestr(block + "\n") for block in text.split("\n\n")]


def check_envelope(t, name, msg, exp):
    hostile = exp.get("hostile", False)
    frm = msg["From"].addresses[0] if msg["From"] else None
    want_from = "postmaster@tern.test" if hostile else "MAILER-DAEMON@mta.tern.test"
    t.ok(frm is not None and frm.addr_spec == want_from,
         "%s: From is %s" % (name, want_from), msg["From"])
    if not hostile:
        t.ok(frm.display_name == "Mail Delivery System",
             "%s: From display name" % name, frm.display_name)
    to = msg["To"].addresses[0] if msg["To"] and msg["To"].addresses else None
    t.ok(to is not None and to.addr_spec == "sender@origin.test",
         "%s: To is the envelope sender" % name, msg["To"])
    t.ok(msg["Subject"] == "Delivery Status Notification (%s)" % exp["subject"],
         "%s: Subject (%s)" % (name, exp["subject"]), msg["Subject"])
    want_date = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)
    t.ok(msg["Date"] is not None and msg["Date"].datetime == want_date,
         "%s: Date parses to now" % name, msg["Date"])
    seed = name.replace("_", "-")
    t.ok(msg["Message-ID"] == "<%s@mta.tern.test>" % seed,
         "%s: Message-ID" % name, msg["Message-ID"])
    t.ok(msg["Auto-Submitted"] == "auto-replied", "%s: Auto-Submitted" % name)
    t.ok(msg["MIME-Version"] == "1.0", "%s: MIME-Version" % name)


def check_status(t, name, part, exp):
    plain = exp["status"] == "text/plain"
    blocks = status_blocks(part, plain)
    t.ok(len(blocks) == 1 + len(exp["rcpts"]),
         "%s: one per-message group and %d recipient groups" % (name, len(exp["rcpts"])),
         [list(b.items()) for b in blocks])
    if len(blocks) != 1 + len(exp["rcpts"]):
        return
    head = blocks[0]
    t.ok(head["Reporting-MTA"] == "dns; mta.tern.test", "%s: Reporting-MTA" % name,
         head["Reporting-MTA"])
    t.ok(head["Arrival-Date"] is not None, "%s: Arrival-Date" % name)
    if "envid" in exp:
        t.ok(head["Original-Envelope-Id"] == exp["envid"], "%s: Original-Envelope-Id" % name)
    elif not exp.get("hostile"):
        t.ok(head["Original-Envelope-Id"] is None, "%s: no Original-Envelope-Id" % name)
    for i, (final, action, status, orcpt, remote) in enumerate(exp["rcpts"]):
        b = blocks[1 + i]
        got = (b["Final-Recipient"], b["Action"], (b["Status"] or "").split(" ")[0],
               b["Original-Recipient"], b["Remote-MTA"])
        t.ok(got == (final, action, status, orcpt, remote),
             "%s: recipient %d fields (%s, %s)" % (name, i + 1, action, status), got)
        t.ok(b["Diagnostic-Code"] is not None and ";" in b["Diagnostic-Code"],
             "%s: recipient %d has a typed Diagnostic-Code" % (name, i + 1))
        if action == "delayed" and exp.get("retry"):
            t.ok(b["Will-Retry-Until"] is not None, "%s: Will-Retry-Until" % name)
        if action != "delayed":
            t.ok(b["Will-Retry-Until"] is None, "%s: no Will-Retry-Until" % name)


def check_original(t, name, part, exp):
    if exp["third"] == "message/rfc822":
        inner = part.get_payload()[0]
        t.ok(inner["Subject"] == ORIG_SUBJECT, "%s: attached message's Subject" % name)
        t.ok("BODY-MARKER" in inner.get_content(), "%s: attached message's body" % name)
        return
    text = part.get_content()
    t.ok("Subject: " + ORIG_SUBJECT in text and "From: Sender" in text,
         "%s: original headers returned" % name, text)
    t.ok("BODY-MARKER" not in text, "%s: original body not returned" % name)
    if exp.get("cut"):
        t.ok("Message-ID: <orig-1" not in text,
             "%s: headers cut within max_original" % name, text)


def check_hostile(t, raw, msg, parts):
    lines = raw.split(b"\r\n")
    t.ok(not [l for l in lines if l.startswith((b"X-Injected", b"Bcc"))],
         "hostile: no injected header line")
    t.ok(msg["Bcc"] is None and msg["X-Injected"] is None,
         "hostile: parser sees no injected header")
    blocks = parts[1].get_payload()
    t.ok(all(b["X-Injected"] is None for b in blocks),
         "hostile: no injected status field")
    bounced = blocks[1]["Diagnostic-Code"] or ""
    longd = blocks[2]["Diagnostic-Code"] or ""
    t.ok(longd.replace(" ", "") == "smtp;" + "word" * 400 + "x" * 1500,
         "hostile: long diagnostic folded without loss", longd[:100])
    t.ok(bounced.endswith("caf? bell"),
         "hostile: 8-bit text became '?', controls spaces", bounced)
    t.ok("--=_tern_hostile--" in bounced,
         "hostile: boundary text inside a diagnostic stays inside it", bounced)


def check_file(t, name, raw):
    exp = EXPECT[name]
    check_lines(t, name, raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    t.ok(not msg.defects, "%s: no parser defects" % name, msg.defects)
    t.ok(msg.is_multipart(), "%s: is multipart" % name)
    t.ok(msg.get_content_type() == "multipart/report" and
         msg.get_param("report-type") == "delivery-status",
         "%s: multipart/report; report-type=delivery-status" % name,
         msg["Content-Type"])
    parts = list(msg.iter_parts())
    want = ["text/plain", exp["status"]] + ([exp["third"]] if exp["third"] else [])
    got = [p.get_content_type() for p in parts]
    t.ok(got == want, "%s: parts are %s" % (name, ", ".join(want)), got)
    if got != want:
        return
    check_envelope(t, name, msg, exp)
    human = parts[0].get_content()
    t.ok(all("<%s>" % r[0].split(";", 1)[1] in human for r in exp["rcpts"]),
         "%s: human-readable part lists every recipient" % name, human)
    check_status(t, name, parts[1], exp)
    if exp["third"]:
        check_original(t, name, parts[2], exp)
    if exp.get("hostile"):
        check_hostile(t, raw, msg, parts)


def main():
    t = Tap()
    builddir = os.environ.get("TERN_BUILDDIR", ".")
    sample = os.path.join(builddir, "tests", "unit", "dsn_sample")
    with tempfile.TemporaryDirectory(prefix="tern-dsn-") as d:
        r = subprocess.run([sample, d], capture_output=True, text=True)
        t.ok(r.returncode == 0, "dsn_sample wrote the reports", r.stderr)
        for name in sorted(EXPECT):
            path = os.path.join(d, name + ".eml")
            if not t.ok(os.path.exists(path), "%s: report written" % name):
                continue
            with open(path, "rb") as f:
                check_file(t, name, f.read())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
