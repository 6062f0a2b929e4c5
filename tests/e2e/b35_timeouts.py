"""The SMTP client's timeouts (pmta-reference §3.4), each set to 1s: a
host that accepts no connection (connect-timeout), a slow greeting
(smtp-greeting-timeout), an EHLO reply stalled after its first line
(smtp-multiple-line-response-timeout, also the wait for any command's
reply: a slow RCPT), a receiver that stops reading the content
(data-send-timeout), no reply to the final "." (smtp-data-termination-
timeout; with assume-delivery-upon-data-termination-timeout it counts as
delivered; with bounce-upon-transfer-failure it bounces).  Each is a
temporary failure (tq before a transaction, t within one) whose
diagnostic names what was awaited and the directive."""
import csv
import socket
import smtplib
import time
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b35")
plain = Sink(w)
slow_greet = Sink(w, extra=["--greeting-delay", "4000"])
stall_ehlo = Sink(w, extra=["--ehlo-stall", "4000"])
ALL = w.file("all.csv")

# a host whose accept queue is full: further SYNs are dropped, connect hangs
deaf = socket.socket()
deaf.bind(("127.0.0.1", 0))
deaf.listen(0)
deaf_port = deaf.getsockname()[1]
fillers = []
for _ in range(4):
    f = socket.socket()
    f.setblocking(False)
    f.connect_ex(("127.0.0.1", deaf_port))
    fillers.append(f)
time.sleep(0.2)
probe = socket.socket()
probe.settimeout(1.5)
try:
    probe.connect(("127.0.0.1", deaf_port))
    deaf_ok = False
except (socket.timeout, OSError):
    deaf_ok = True
probe.close()


def dom(name, port, *lines):
    return "<domain %s>\n    smtp-hosts [127.0.0.1]:%d\n    retry-after 1h\n" \
        "    retry-recipients-after 1h\n%s</domain>\n" % (
            name, port, "".join("    %s\n" % l for l in lines))


more = (dom("conn.test", deaf_port, "connect-timeout 1s") +
        dom("greet.test", slow_greet.port, "smtp-greeting-timeout 1s") +
        dom("ml.test", stall_ehlo.port, "smtp-multiple-line-response-timeout 1s") +
        dom("rcpt.test", plain.port, "smtp-multiple-line-response-timeout 1s") +
        dom("send.test", plain.port, "data-send-timeout 1s") +
        dom("dot.test", plain.port, "smtp-data-termination-timeout 1s") +
        dom("assume.test", plain.port, "smtp-data-termination-timeout 1s",
            "assume-delivery-upon-data-termination-timeout yes") +
        dom("tf.test", plain.port, "smtp-data-termination-timeout 1s",
            "bounce-upon-transfer-failure yes") +
        "<acct-file %s>\n    records d,b,t,tq\n</acct-file>\n" % ALL)
tern = Tern(w, relay_config(plain.port, domain="demo.test", more=more))
tern.start()
MSG = "From: a@x.test\r\nSubject: t\r\n\r\nhello\r\n"


def send(rcpts, data=MSG):
    with smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test",
                      timeout=60) as c:
        return c.sendmail("sender@demo.test", rcpts, data)


def rows(type_, key, value):
    try:
        with open(ALL, newline="") as f:
            got = list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    return [r for r in got if r["type"] == type_ and r[key] == value]


start = time.time()
send(["u@conn.test"])
send(["u@greet.test"])
send(["u@ml.test"])
send(["slow+w4000@rcpt.test"])
send(["late+wd4000@dot.test"])
send(["late+wd4000@assume.test"])
send(["late+wd4000@tf.test"])
# larger than what the kernel and both sides buffer between the two
send(["stall+wb8000@send.test"],
     MSG + ("y" * 998 + "\r\n") * (24 * 1024))


def check_tq(queue, what, status="4.4.2"):
    r = wait_for(lambda: rows("tq", "queue", queue), 15)
    t.ok(r and r[0]["dsnDiag"].startswith("smtp;451 %s " % status) and
         r[0]["dsnDiag"].endswith(what) and r[0]["dsnStatus"].startswith(status),
         "%s: a tq record, %s" % (queue, what), r)


def check_t(rcpt, what):
    r = wait_for(lambda: rows("t", "rcpt", rcpt), 15)
    t.ok(r and r[0]["dsnDiag"].startswith("smtp;451 4.4.2 127.0.0.1 (127.0.0.1) ")
         and r[0]["dsnDiag"].endswith(what) and r[0]["dsnAction"] == "delayed"
         and r[0]["dsnStatus"].startswith("4.4.2 ("),
         "%s: a t record, %s" % (rcpt, what), r)


t.ok(deaf_ok, "the deaf host does not accept connections (test setup)")
check_tq("conn.test/{default}", "timed out connecting (connect-timeout 1s)", "4.4.1")
check_tq("greet.test/{default}",
         "timed out waiting for the greeting (smtp-greeting-timeout 1s)")
check_tq("ml.test/{default}", "timed out waiting for the reply to EHLO "
         "(smtp-multiple-line-response-timeout 1s)")
check_t("slow+w4000@rcpt.test", "timed out waiting for the reply to RCPT "
        "(smtp-multiple-line-response-timeout 1s)")
check_t("late+wd4000@dot.test", "timed out waiting for the reply to the final "
        "'.' (smtp-data-termination-timeout 1s)")
check_t("stall+wb8000@send.test",
        "timed out sending the message (data-send-timeout 1s)")
d = wait_for(lambda: rows("d", "rcpt", "late+wd4000@assume.test"), 15)
t.ok(d and "assumed delivered" in d[0]["dsnDiag"] and d[0]["dsnStatus"].startswith("2."),
     "assume-delivery-upon-data-termination-timeout: a d record", d)
t.eq(rows("t", "rcpt", "late+wd4000@assume.test"), [], "... and no t record")
b = wait_for(lambda: rows("b", "rcpt", "late+wd4000@tf.test"), 15)
t.ok(b and b[0]["dsnDiag"].startswith("smtp;554 5.4.0 ") and
     "bounce-upon-transfer-failure" in b[0]["dsnDiag"] and
     "smtp-data-termination-timeout" in b[0]["dsnDiag"],
     "bounce-upon-transfer-failure: a timeout after '.' bounces", b)
elapsed = time.time() - start
t.ok(elapsed < 30, "all within seconds, not the default minutes (%.1fs)" % elapsed)
for f in fillers:
    f.close()
deaf.close()
tern.stop()
for s in (plain, slow_greet, stall_ehlo):
    s.stop()
t.done()
if t.failed == 0:
    w.remove()
