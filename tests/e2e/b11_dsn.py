"""Delivery status reports (RFC 3464/3461): a recipient refused with 5xx,
or expired, gets a multipart/report to the envelope sender, from the null
sender; a message from the null sender gets none (no loops); NOTIFY=NEVER
gets none, NOTIFY=SUCCESS gets a success report ("relayed": the sink
here does not offer DSN; a receiver that does gets NOTIFY and reports
success itself, RFC 3461 5.2.1, see b34); ENVID and ORCPT are
carried into the report and the accounting file; RET=FULL returns the
whole message."""
import smtplib
import email
import email.policy
import time
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b11")
sink = Sink(w, maildir=True, extra=["--no-ext", "DSN"])
tern = Tern(w, relay_config(sink.port, settings=(
    "retry-recipients-after 1s", "bounce-after 3s", "notify-of-delay-every 1s")))
tern.start()

original = "From: sender@demo.test\r\nSubject: the original\r\nX-Trace: 42\r\n\r\nbody\r\n"
tern.send(["nobody+r550@demo.test"], original, mail_from="sender@demo.test")
tern.send(["slow+r450@demo.test"], original, mail_from="sender@demo.test")
tern.send(["nobody+r550@demo.test"], original, mail_from="")
with smtplib.SMTP(tern.ip, tern.port, timeout=10) as c:
    c.ehlo("dsn.test")
    c.sendmail("sender@demo.test", ["quiet+r550@demo.test"], original,
               rcpt_options=["NOTIFY=NEVER"])
    c.sendmail("sender@demo.test", ["happy@demo.test"], original,
               mail_options=["RET=FULL", "ENVID=job+2B7"],
               rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bx@demo.test"])
    c.sendmail("sender@demo.test", ["full+r550@demo.test"], original,
               mail_options=["RET=FULL"])
    c.sendmail("sender@demo.test", ["late+r450@demo.test"], original,
               rcpt_options=["NOTIFY=DELAY,FAILURE"])


def reports():
    return [m for m in sink.messages() if m["mail_from"] == ""]


def is_late(m):
    return b"late+r450@demo.test" in sink.message_bytes(m)


def late_failed():
    return any(b"Action: failed" in sink.message_bytes(m) for m in reports() if is_late(m))


wait_for(lambda: len([m for m in reports() if not is_late(m)]) >= 4 and late_failed(), 20)
time.sleep(1)
late = [m for m in reports() if is_late(m)]
got = [m for m in reports() if not is_late(m)]
t.eq(len(got), 4, "four reports: two 5xx, the expiry and the success; none for "
     "the null sender or NOTIFY=NEVER")
success = [m for m in got if b"happy@demo.test" in sink.message_bytes(m)]
full = [m for m in got if b"full+r550@demo.test" in sink.message_bytes(m)]
got = [m for m in got if m not in success and m not in full]
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
if success:
    msg = email.message_from_bytes(sink.message_bytes(success[0]), policy=email.policy.default)
    f = status(msg)
    t.eq(f.get("action"), "relayed", "NOTIFY=SUCCESS: Action relayed (the sink does not "
         "offer DSN)")
    t.ok("job+7" in f.get("original-envelope-id", ""), "ENVID decoded from xtext", f)
    t.ok("orig+x@demo.test" in f.get("original-recipient", ""), "ORCPT carried", f)
else:
    t.ok(False, "a success report arrived")
actions = sorted(status(email.message_from_bytes(sink.message_bytes(m),
                  policy=email.policy.default)).get("action") for m in late)
t.ok(actions.count("failed") == 1 and 1 <= actions.count("delayed") <= 2,
     "NOTIFY=DELAY: a delay report every notify-of-delay-every (1s) until the "
     "failure at bounce-after (3s)", actions)
if full:
    msg = email.message_from_bytes(sink.message_bytes(full[0]), policy=email.policy.default)
    t.eq(list(msg.iter_parts())[2].get_content_type(), "message/rfc822",
         "RET=FULL: a failure report returns the whole message")
else:
    t.ok(False, "a RET=FULL failure report arrived")
row = [r for r in tern.acct_rows()[1] if r["rcpt"] == "happy@demo.test"]
t.ok(row and row[0]["envId"] == "job+7" and row[0]["orcpt"] == "rfc822;orig+x@demo.test",
     "accounting carries envId and orcpt", row)
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
