"""Relaying rights come from the most specific <source>: a client on
127.0.0.1 may relay, a client on 127.0.0.2 (matched only by 0/0) gets
550 5.7.1 at RCPT, whatever it tries, and nothing reaches the sink."""
import smtplib
import socket
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b02")
sink = Sink(w)
tern = Tern(w, """
<source 0/0>
    always-allow-relaying no
</source>
<source 127.0.0.0/8>
    always-allow-relaying no
</source>
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
<domain *>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % sink.port)
tern.start()


def dialogue(src_ip, rcpt, mail_from="a@example.org"):
    s = smtplib.SMTP(timeout=10, source_address=(src_ip, 0))
    s.connect(tern.ip, tern.port)
    s.ehlo("relay.test")
    s.mail(mail_from)
    code, msg = s.rcpt(rcpt)
    s.quit()
    return code, msg.decode()


code, msg = dialogue("127.0.0.2", "victim@elsewhere.test")
t.eq(code, 550, "a source without relaying rights gets 550 at RCPT")
t.ok(msg.startswith("5.7.1"), "with enhanced status 5.7.1", msg)
for rcpt in ("victim@[127.0.0.1]", "\"victim@x\"@elsewhere.test", "victim%elsewhere.test@demo.test"):
    code, _ = dialogue("127.0.0.2", rcpt)
    t.eq(code, 550, "refused too: %s" % rcpt)
code, _ = dialogue("127.0.0.2", "postmaster@elsewhere.test", mail_from="")
t.eq(code, 550, "refused with a null sender")

code, _ = dialogue("127.0.0.1", "friend@elsewhere.test")
t.eq(code, 250, "the most specific source (127.0.0.1/32) allows relaying")

tern.send(["friend@elsewhere.test"])
wait_for(lambda: len(sink.messages()) >= 1, 10)
msgs = sink.messages()
t.eq(len(msgs), 1, "only the permitted message reached the sink")
t.eq([m["rcpts"] for m in msgs], [["friend@elsewhere.test"]], "and it is the right one")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
