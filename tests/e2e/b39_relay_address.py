"""relay-address (pmta-reference §3.1 point 3, the directive table): a
recipient address that matches an entry (an address, compared without
case, or a /regex/) may be relayed to by any client; nothing else is:
neighbouring addresses, other domains and address tricks stay refused,
and the accepted mail reaches the outside host.  A bad entry is a config
error."""
import smtplib
from rawsmtp import Raw
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b39")
outside = Sink(w, ip="127.0.0.9")
tern = Tern(w, """
relay-address Ok@Relay.Test
relay-address /^abuse@relay2\\.test$/
relay-address /^list-[a-z]+@lists\\.test$/
<source 0/0>
    always-allow-relaying no
</source>
<domain *>
    smtp-hosts [127.0.0.9]:%d
</domain>
""" % outside.port)
tern.start()


def rcpt(addr):
    c = Raw(tern.ip, tern.port, src="127.0.0.2")
    c.cmd("EHLO probe.test")
    c.cmd("MAIL FROM:<a@example.org>")
    r = c.cmd("RCPT TO:" + (addr if addr.startswith("<") else "<%s>" % addr))
    c.cmd("QUIT")
    c.close()
    return r


allowed = ["ok@relay.test", "OK@RELAY.TEST", "abuse@relay2.test", "ABUSE@Relay2.Test",
           "list-news@lists.test"]
for a in allowed:
    t.eq(rcpt(a)[:3], "250", "relay-address lets %s through" % a)
refused = ["other@relay.test", "ok@relay.test.evil", "xok@relay.test", "ok@sub.relay.test",
           "abuse@relay2.test.evil", "xabuse@relay2.test", "abuse@relay2xtest",
           "list-@lists.test", "list-news9@lists.test", "list-news@lists.test.evil",
           "ok@relay.test@elsewhere.test", "victim%ok@relay.test", "victim@elsewhere.test",
           "<\"ok@relay.test\"@elsewhere.test>", "<ok@relay.test> NOTIFY=NEVER XX=1"]
for a in refused:
    r = rcpt(a)
    t.ok(r[:3] in ("550", "501", "553", "555"), "refused: %s" % a, r)

# the accepted address is really relayed, from a client without rights
s = smtplib.SMTP(timeout=20, source_address=("127.0.0.2", 0))
s.connect(tern.ip, tern.port)
refused_map = s.sendmail("a@example.org", ["ok@relay.test", "list-news@lists.test"],
                         "Subject: relay-address\r\n\r\nx\r\n")
s.quit()
t.eq(refused_map, {}, "both relay-address recipients accepted in one message")
t.ok(wait_for(lambda: len(outside.messages()) >= 1, 20), "delivered to the outside host")
got = sorted(r for m in outside.messages() for r in m["rcpts"])
t.eq(got, ["list-news@lists.test", "ok@relay.test"], "exactly those recipients relayed")
tern.stop()

# a bad entry is refused at startup, with its line
for bad in ("relay-address not-an-address", "relay-address /unclosed",
            "relay-address /a(/"):
    w2 = Workdir("b39-bad")
    bt = Tern(w2, bad + "\n")
    p = bt.start(expect_ok=False)
    rc = p.wait(20)
    t.ok(rc != 0 and "relay-address" in bt.output(), "config error: %s" % bad,
         bt.output()[-300:])
t.done()
