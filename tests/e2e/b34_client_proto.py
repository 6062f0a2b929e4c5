"""The SMTP client's protocol (pmta-reference §3.4): EHLO with the HELO
fallback (5xx) and 421 to EHLO as a queue failure; the MAIL and RCPT
parameters of the receiver's extensions (SIZE=, BODY=8BITMIME only for an
8-bit body, RET/ENVID/NOTIFY/ORCPT with DSN, none of them when not
offered); a message over the receiver's SIZE bounced without being sent
(5.3.4); ignore-8bitmime/-dsn/-pipelining; bounce-upon-5xx-greeting both
ways; max-errors-per-connection.  The sink checks every parameter against
what it offered (555 otherwise) and records them."""
import smtplib
import time
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b34")
full = Sink(w, maildir=True)                       # every extension
bare = Sink(w, extra=["--no-ext", "DSN", "--no-ext", "8BITMIME",
                      "--no-ext", "SIZE", "--no-pipelining"])
small = Sink(w, extra=["--size", "2000"])
helo = Sink(w, extra=["--ehlo-reply", "500"])
busy = Sink(w, extra=["--ehlo-reply", "421"])
g554 = Sink(w, extra=["--greeting", "554"])
noutf = Sink(w, extra=["--no-ext", "SMTPUTF8"])
ALL = w.file("all.csv")


def dom(name, sink, *lines):
    return "<domain %s>\n    smtp-hosts [127.0.0.1]:%d\n%s</domain>\n" % (
        name, sink.port, "".join("    %s\n" % l for l in lines))


more = (dom("bare.test", bare) + dom("small.test", small) + dom("helo.test", helo) +
        dom("busy.test", busy, "retry-after 1h") + dom("g5.test", g554) +
        dom("g5soft.test", g554, "bounce-upon-5xx-greeting no", "retry-after 1h") +
        dom("ignore.test", full, "ignore-8bitmime yes", "ignore-dsn yes",
            "ignore-pipelining yes") +
        dom("errs.test", full, "max-errors-per-connection 2", "max-smtp-out 1") +
        dom("errsctl.test", full, "max-smtp-out 1") +
        dom("m553.test", full) +
        dom("m553off.test", full, "smtp-553-means-invalid-mailbox no") +
        dom("split.test", full, "max-rcpt-per-message 2") +
        dom("noutf.test", noutf) +
        "<acct-file %s>\n    records d,b,t,tq\n</acct-file>\n" % ALL)
tern = Tern(w, relay_config(full.port, domain="full.test", more=more))
tern.start()

SEVEN = "From: a@x.test\r\nSubject: seven\r\n\r\nplain ascii\r\n"
EIGHT = ("From: a@x.test\r\nSubject: eight\r\nContent-Type: text/plain; "
         "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\u00e9\r\n").encode()


def send(rcpts, data, mail_options=(), rcpt_options=(), sender="sender@demo.test"):
    with smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test",
                      timeout=30) as c:
        return c.sendmail(sender, rcpts, data, mail_options=list(mail_options),
                          rcpt_options=list(rcpt_options))


def rows(rcpt=None, type_=None, queue=None):
    import csv
    try:
        with open(ALL, newline="") as f:
            got = list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    return [r for r in got if (rcpt is None or r["rcpt"] == rcpt)
            and (type_ is None or r["type"] == type_)
            and (queue is None or r["queue"] == queue)]


def msg_to(sink, rcpt):
    for m in sink.events("message"):
        if rcpt in m["rcpts"]:
            return m
    return None


def rcpt_ev(sink, rcpt):
    for e in sink.events("rcpt"):
        if e["rcpt"] == rcpt:
            return e
    return None


# -- parameters to a receiver with every extension
send(["seven@full.test"], SEVEN)
send(["eight@full.test"], EIGHT, mail_options=["BODY=8BITMIME"])
send(["dsn@full.test", "never@full.test"], SEVEN,
     mail_options=["RET=FULL", "ENVID=job+2B7+3Dx"],
     rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bx@full.test"],
     sender="ds@full.test")
m7 = wait_for(lambda: msg_to(full, "seven@full.test"), 30)
m8 = wait_for(lambda: msg_to(full, "eight@full.test"), 30)
md = wait_for(lambda: msg_to(full, "dsn@full.test"), 30)
t.ok(m7 and m7["mail_params"] == "SIZE=%d" % m7["size"] and m7["pipelined"],
     "7-bit body: SIZE= with the message size, no BODY=, pipelined", m7)
t.ok(m8 and m8["mail_params"] == "SIZE=%d BODY=8BITMIME" % m8["size"],
     "8-bit body: BODY=8BITMIME", m8)
t.ok(md and md["mail_params"].endswith(" RET=FULL ENVID=job+2B7+3Dx"),
     "DSN offered: RET and ENVID (xtext) on MAIL", md)
e = rcpt_ev(full, "dsn@full.test")
t.eq(e and e["params"], "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bx@full.test",
     "DSN offered: NOTIFY and ORCPT (xtext) on RCPT")
d = wait_for(lambda: rows("dsn@full.test", "d"), 30)
t.ok(d and d[0]["dsnAction"] == "delivered" and d[0]["envId"] == "job+7=x"
     and d[0]["orcpt"] == "rfc822;orig+x@full.test",
     "d: dsnAction delivered, envId and orcpt decoded", d)
time.sleep(1)

# (the report of the next part shows that one to ds@full.test would arrive)


# -- a receiver without DSN, 8BITMIME, SIZE and PIPELINING: no parameters
send(["eight@bare.test"], EIGHT, mail_options=["BODY=8BITMIME"])
send(["dsn@bare.test"], SEVEN, mail_options=["RET=HDRS", "ENVID=e1"],
     rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;o@bare.test"], sender="rs@full.test")
b8 = wait_for(lambda: msg_to(bare, "eight@bare.test"), 30)
bd = wait_for(lambda: msg_to(bare, "dsn@bare.test"), 30)
t.ok(b8 and b8["mail_params"] == "" and b8["reply"] == 250 and not b8["pipelined"],
     "no 8BITMIME/SIZE: an 8-bit message goes as it is, without parameters, "
     "one command at a time", b8)
e = rcpt_ev(bare, "dsn@bare.test")
t.ok(bd and bd["mail_params"] == "" and e and e["params"] == "",
     "no DSN: no RET/ENVID/NOTIFY/ORCPT", (bd, e))
d = wait_for(lambda: rows("dsn@bare.test", "d"), 30)
t.ok(d and d[0]["dsnAction"] == "relayed", "d: dsnAction relayed", d)
rep = wait_for(lambda: [m for m in full.events("message") if m["mail_from"] == ""
                        and m["rcpts"] == ["rs@full.test"]], 10)
t.ok(rep, "NOTIFY=SUCCESS to a receiver without DSN: a relayed report from Tern")
t.eq([m["rcpts"] for m in full.events("message") if m["mail_from"] == ""
      and m["rcpts"] == ["ds@full.test"]], [],
     "no success report from Tern when the receiver took NOTIFY (RFC 3461 5.2.1)")

# -- ignore-8bitmime, ignore-dsn, ignore-pipelining
send(["eight@ignore.test"], EIGHT, mail_options=["BODY=8BITMIME", "RET=FULL"],
     rcpt_options=["NOTIFY=FAILURE"])
i8 = wait_for(lambda: msg_to(full, "eight@ignore.test"), 30)
e = rcpt_ev(full, "eight@ignore.test")
t.ok(i8 and i8["mail_params"] == "SIZE=%d" % i8["size"] and not i8["pipelined"]
     and e and e["params"] == "",
     "ignore-8bitmime/-dsn/-pipelining: no BODY=, RET, NOTIFY; not pipelined", (i8, e))
d = wait_for(lambda: rows("eight@ignore.test", "d"), 30)
t.ok(d and d[0]["dsnAction"] == "relayed" and "DSN" in d[0]["dlvEsmtpAvailable"]
     and "8BITMIME" in d[0]["dlvEsmtpAvailable"],
     "ignored extensions: relayed, but dlvEsmtpAvailable lists what was offered", d)

# -- SIZE: larger than the receiver's limit bounces unsent; smaller goes
big = SEVEN + ("x" * 70 + "\r\n") * 60
send(["big@small.test"], big)
send(["fits@small.test"], SEVEN)
b = wait_for(lambda: rows("big@small.test", "b"), 30)
t.ok(b and b[0]["dsnStatus"].startswith("5.3.4 (") and
     b[0]["dsnDiag"].startswith("smtp;552 5.3.4 message size (") and
     b[0]["dsnMta"] == "127.0.0.1 (127.0.0.1)" and b[0]["bounceCat"],
     "over SIZE: b record 5.3.4 with the limit in the diagnostic", b)
f = wait_for(lambda: msg_to(small, "fits@small.test"), 30)
t.ok(f and f["mail_params"].startswith("SIZE="), "a message within SIZE is sent", f)
t.ok(rcpt_ev(small, "big@small.test") is None and
     all(m["size"] < 2000 for m in small.events("message")),
     "the large message never reached the receiver")

# -- EHLO refused with 500: HELO, no extensions
send(["h@helo.test"], EIGHT, mail_options=["BODY=8BITMIME"],
     rcpt_options=["NOTIFY=FAILURE"])
h = wait_for(lambda: msg_to(helo, "h@helo.test"), 30)
t.ok(h and h["esmtp"] is False and h["mail_params"] == "" and h["reply"] == 250,
     "EHLO 500: HELO and a plain transaction", h)
d = wait_for(lambda: rows("h@helo.test", "d"), 30)
t.ok(d and d[0]["dlvEsmtpAvailable"] == "" and d[0]["dsnAction"] == "relayed",
     "d after HELO: no extensions, relayed", d)

# -- EHLO answered 421: a queue-level temporary failure
send(["u@busy.test"], SEVEN)
tq = wait_for(lambda: rows(None, "tq", "busy.test/{default}"), 30)
t.ok(tq and tq[0]["dsnDiag"].startswith("smtp;421 4.3.2 ") and
     tq[0]["dsnStatus"].startswith("4.3.2 ("), "EHLO 421: a tq record with the reply", tq)
t.eq(rows("u@busy.test"), [], "EHLO 421: no recipient record, still queued")

# -- greeting 554: bounce (default) or transient
send(["u@g5.test"], SEVEN)
send(["u@g5soft.test"], SEVEN)
b = wait_for(lambda: rows("u@g5.test", "b"), 30)
t.ok(b and b[0]["dsnStatus"].startswith("5.") and "554" in b[0]["dsnDiag"],
     "greeting 554, bounce-upon-5xx-greeting yes: b record", b)
tq = wait_for(lambda: rows(None, "tq", "g5soft.test/{default}"), 30)
t.ok(tq and "refused the connection: 554" in tq[0]["dsnDiag"] and
     tq[0]["dsnStatus"].startswith("4.4.2"),
     "bounce-upon-5xx-greeting no: a tq record", tq)
t.eq(rows("u@g5soft.test"), [], "... and the recipient stays queued")

# -- max-errors-per-connection 2: the connection ends after two errors
for d_ in ("errs.test", "errsctl.test"):
    send(["a+r550@%s" % d_, "b+r550@%s" % d_, "ok+w800@%s" % d_], SEVEN)
    send(["next@%s" % d_], SEVEN)


def peers(d_):
    a = msg_to(full, "ok+w800@%s" % d_)
    n = msg_to(full, "next@%s" % d_)
    return a and n and (a["peer"], n["peer"])


pe = wait_for(lambda: peers("errs.test"), 15)
pc = wait_for(lambda: peers("errsctl.test"), 15)
t.ok(pe and pe[0] != pe[1], "max-errors-per-connection 2: the next message "
     "goes over a new connection", pe)
t.ok(pc and pc[0] == pc[1], "without it the connection is reused", pc)

# -- smtp-553-means-invalid-mailbox: a 553 without enhanced code is 5.1.1
send(["x+r553+ne@m553.test"], SEVEN)
send(["y+r553+ne@m553off.test"], SEVEN)
b = wait_for(lambda: rows("x+r553+ne@m553.test", "b"), 30)
t.ok(b and b[0]["dsnStatus"].startswith("5.1.1 (") and b[0]["bounceCat"] == "bad-mailbox"
     and b[0]["dsnDiag"] == "smtp;553 scripted rejection",
     "553 without enhanced code: 5.1.1, bad-mailbox", b)
b = wait_for(lambda: rows("y+r553+ne@m553off.test", "b"), 30)
t.ok(b and b[0]["dsnStatus"].startswith("5.0.0 ("),
     "smtp-553-means-invalid-mailbox no: 5.0.0", b)

# -- max-rcpt-per-message (the <domain> synonym of max-rcpt-per-transaction)
send(["r%d@split.test" % i for i in range(5)], SEVEN)
split = wait_for(lambda: [m["rcpts"] for m in full.events("message")
                          if any(r.endswith("@split.test") for r in m["rcpts"])
                          and sum(len(x["rcpts"]) for x in full.events("message")
                                  if any(r.endswith("@split.test") for r in x["rcpts"])) == 5], 30)
t.ok(split and sorted(len(x) for x in split) == [1, 2, 2],
     "max-rcpt-per-message 2: five recipients in transactions of 2, 2 and 1", split)

# -- SMTPUTF8 (RFC 6531): non-ASCII addresses received with SMTPUTF8 go on
# with it to a receiver that offers it, and bounce (5.6.7) where it does not
send(["m\u00fcller@full.test"], SEVEN, mail_options=["SMTPUTF8"],
     sender="j\u00fcrgen@demo.test")
send(["ascii@full.test"], SEVEN, mail_options=["SMTPUTF8"])
send(["m\u00fcller@noutf.test"], SEVEN, mail_options=["SMTPUTF8"])
send(["ascii@noutf.test"], SEVEN, mail_options=["SMTPUTF8"])
mu = wait_for(lambda: msg_to(full, "m\u00fcller@full.test"), 30)
t.ok(mu and mu["mail_params"].split()[-1] == "SMTPUTF8"
     and mu["mail_from"] == "j\u00fcrgen@demo.test",
     "non-ASCII sender and recipient: MAIL ... SMTPUTF8, addresses as UTF-8", mu)
ma = wait_for(lambda: msg_to(full, "ascii@full.test"), 30)
t.ok(ma and "SMTPUTF8" in ma["mail_params"].split(),
     "ASCII addresses received with SMTPUTF8: passed on with SMTPUTF8", ma)
b = wait_for(lambda: rows("m\u00fcller@noutf.test", "b"), 30)
t.ok(b and b[0]["dsnStatus"].startswith("5.6.7") and "SMTPUTF8" in b[0]["dsnDiag"],
     "a receiver without SMTPUTF8: the non-ASCII recipient bounces 5.6.7", b)
mn = wait_for(lambda: msg_to(noutf, "ascii@noutf.test"), 30)
t.ok(mn and "SMTPUTF8" not in mn["mail_params"],
     "ASCII addresses to a receiver without SMTPUTF8: sent without it", mn)
t.ok(not [m for m in noutf.events("message") if "m\u00fcller@noutf.test" in m["rcpts"]],
     "the non-ASCII recipient never reached that receiver")

t.ok(all(e["code"] != 555 for s in (full, bare, small, helo, noutf)
         for e in s.events("rcpt")), "no parameter was ever refused by a sink")
tern.stop()
for s in (full, bare, small, helo, busy, g554, noutf):
    s.stop()
t.done()
if t.failed == 0:
    w.remove()
