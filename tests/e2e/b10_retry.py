"""Retries and expiry (pmta-reference §3.6): a 4xx to RCPT holds the
recipient for retry-recipients-after; an unreachable host puts the queue
in retry with the retry-after list; a recipient older than bounce-after
bounces with status 4.4.7 and category message-expired."""
import time
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b10")
sink = Sink(w)
down_port = free_port()
tern = Tern(w, relay_config(sink.port, settings=("retry-recipients-after 1s",
                                                  "bounce-after 3s"), more="""
<domain later.test>
    smtp-hosts [127.0.0.1]:%d
    retry-after 1s,2s
</domain>
""" % down_port))
tern.start()

# 1. 450 at RCPT every time: tried about once a second, bounced at 3 s.
t0 = time.time()
tern.send(["busy+r450@demo.test"])
wait_for(lambda: any(r["rcpt"] == "busy+r450@demo.test" for r in tern.acct_rows()[1]), 15)
elapsed = time.time() - t0
tries = [e for e in sink.events("rcpt") if e["rcpt"] == "busy+r450@demo.test"]
t.ok(3 <= len(tries) <= 5, "retried every retry-recipients-after (1s): %d tries" % len(tries))
t.ok(2.5 <= elapsed <= 8, "bounced after bounce-after (3s): %.1fs" % elapsed)
rows = [r for r in tern.acct_rows()[1] if r["rcpt"] == "busy+r450@demo.test"]
t.eq(len(rows), 1, "one accounting record")
if rows:
    b = rows[0]
    t.eq((b["type"], b["bounceCat"]), ("b", "message-expired"), "a bounce, message-expired")
    t.ok(b["dsnStatus"].startswith("4.4.7 (delivery time expired)"), "status 4.4.7", b["dsnStatus"])
    t.ok("450" in b["dsnDiag"], "the last error is the diagnostic", b["dsnDiag"])

# 2. The host of later.test is down: the queue retries after 1s, then 2s;
#    once it is up, the message goes at the next retry.
tern.send(["a@later.test"])
time.sleep(1.5)
late = Sink(w, port=down_port)
t1 = time.time()
wait_for(lambda: len(late.messages()) >= 1, 10)
t.eq(len(late.messages()), 1, "delivered at a retry once the host is up")
t.ok(time.time() - t1 <= 4, "within the retry-after list's second interval")
t.eq(tern.stop(), 0, "pmtad exits 0")
late.stop()
w.remove()
t.done()
