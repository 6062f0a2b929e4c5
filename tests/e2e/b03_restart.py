"""Durability: a message acknowledged with 250 survives kill -9 right
after the reply and is delivered after the restart; SIGTERM lets a
delivery in flight finish and exits 0; what was delivered is not sent
again after a restart."""
import os
import socket
import time
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b03")
sink_port = free_port()
tern = Tern(w, relay_config(sink_port))

# 1. Nothing listens on the sink port yet: delivery fails and waits for
#    its retry.  kill -9 right after the last 250.
tern.start()
N = 5
for i in range(N):
    tern.send(["user%d@demo.test" % i], "Subject: %d\r\n\r\nbody %d\r\n" % (i, i))
tern.kill9()
t.eq(len(tern.spooled()), N, "after kill -9 every acknowledged message is in the spool")

# 2. Start the sink and pmtad again: recovery delivers everything.
sink = Sink(w, port=sink_port)
tern.start()
wait_for(lambda: len(sink.messages()) >= N, 20)
got = sorted(r for m in sink.messages() for r in m["rcpts"])
t.eq(got, sorted("user%d@demo.test" % i for i in range(N)),
     "after the restart every message is delivered once")
wait_for(lambda: not tern.spooled(), 10)
t.eq(tern.spooled(), [], "delivered messages leave the spool")
rows = tern.acct_rows()[1]
t.eq(sorted(r["type"] for r in rows), ["d"] * N, "one d record per recipient")

# 3. kill -9 immediately after a 250 while the sink is up.
tern.send(["fast@demo.test"])
tern.kill9()
tern.start()
wait_for(lambda: any("fast@demo.test" in m["rcpts"] for m in sink.messages()), 15)
t.ok(any("fast@demo.test" in m["rcpts"] for m in sink.messages()),
     "a message killed right after its 250 is delivered after the restart")

# 4. SIGTERM while a delivery is in flight: the sink waits 1.5 s before
#    answering the end of DATA; pmtad must wait for it and record it.
tern.send(["slow+wd1500@demo.test"])
wait_for(lambda: any(e["rcpt"] == "slow+wd1500@demo.test" for e in sink.events("rcpt")), 10)
t0 = time.time()
t.eq(tern.stop(), 0, "SIGTERM during a delivery: exit status 0")
t.ok(time.time() - t0 >= 1.0, "pmtad waited for the delivery in flight")
rows = tern.acct_rows()[1]
t.ok(any(r["rcpt"] == "slow+wd1500@demo.test" and r["type"] == "d" for r in rows),
     "the delivery in flight was finished and recorded")

# 5. A restart after that does not deliver anything again.
before = len(sink.messages())
tern.start()
time.sleep(1.0)
t.eq(len(sink.messages()), before, "nothing is delivered twice after a clean restart")
t.eq(tern.stop(), 0, "clean stop")
sink.stop()
w.remove()
t.done()
