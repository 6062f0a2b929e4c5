"""pmta set priority survives a restart: the new priorities are recorded
in the spool, so after a restart the queue still delivers by them (one
connection, highest priority first, then oldest first)."""
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b25")
port = free_port()
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain prio.test>
    smtp-hosts [127.0.0.1]:%d
    max-smtp-out 1
    retry-after 1h
    connect-timeout 2s
</domain>
""" % port)
tern.start()
# the sink is not up yet: the queue fails and waits for its retry
for i in range(1, 5):
    tern.send(["m%d@prio.test" % i])
p = tern.pmta("set", "priority", "--rcpt=m3@prio.test", "90")
t.eq(p.stdout.strip(), "1 recipient(s) set to priority 90", "m3 to 90")
p = tern.pmta("set", "priority", "--rcpt=m1@prio.test", "10")
t.eq(p.stdout.strip(), "1 recipient(s) set to priority 10", "m1 to 10")
t.eq(tern.stop(), 0, "stop")
tern.start()
sink = Sink(w, port=port)
p = tern.pmta("schedule", "prio.test")
t.eq(p.returncode, 0, "schedule after the restart")
wait_for(lambda: len(sink.messages()) >= 4, 20)
got = [r for m in sink.messages() for r in m["rcpts"]]
t.eq(got, ["m3@prio.test", "m2@prio.test", "m4@prio.test", "m1@prio.test"],
     "after the restart: 90, then 50 oldest first, then 10")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
