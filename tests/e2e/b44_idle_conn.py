"""connection-idle-timeout (pmta-reference §3.5, "idle hold"): with a
non-zero value a delivery session that finds nothing more to send keeps
its connection open that long, and mail that comes for the queue
meanwhile goes over it (one connect at the sink for two messages sent
apart); the connection is closed (QUIT) once the timeout passes.
Without it (the default 0) each message gets its own connection.  The
idle connection counts toward max-smtp-out: a third domain limited to one
connection still delivers.  Shutdown closes idle connections at once."""
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b44")
sink = Sink(w)
IDLE = 3
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain idle.test>
    smtp-hosts [127.0.0.1]:%(p)d
    connection-idle-timeout %(idle)ds
</domain>
<domain plain.test>
    smtp-hosts [127.0.0.1]:%(p)d
</domain>
<domain one.test>
    smtp-hosts [127.0.0.1]:%(p)d
    connection-idle-timeout 1m
    max-smtp-out 1
</domain>
""" % {"p": sink.port, "idle": IDLE})
tern.start()


def conns(rcpt_domain):
    """[(connect t, end t or None, end event)] of the connections that
    carried mail for the domain, from the sink's records."""
    evs = sink.events()
    out, live = {}, {}
    for e in evs:
        p = e.get("peer")
        if e["event"] == "connect":
            live[p] = [e["t"], None, None, False]
        elif e["event"] == "message" and p in live and any(
                r.endswith("@" + rcpt_domain) for r in e["rcpts"]):
            live[p][3] = True
            out[id(live[p])] = live[p]
        elif e["event"] in ("quit", "close") and p in live:
            c = live.pop(p)
            if c[1] is None:
                c[1], c[2] = e["t"], e["event"]
    return sorted(c[:3] for c in out.values())


def delivered(domain):
    return [r for m in sink.messages() for r in m["rcpts"] if r.endswith("@" + domain)]


# -- with connection-idle-timeout: two messages 1 s apart, one connection
tern.send(["a@idle.test"])
wait_for(lambda: len(delivered("idle.test")) == 1, 10)
time.sleep(1.0)
t.eq(conns("idle.test")[0][1], None, "the connection stays open after the first message")
tern.send(["b@idle.test"])
wait_for(lambda: len(delivered("idle.test")) == 2, 10)
c = conns("idle.test")
t.eq(len(c), 1, "the second message went over the same connection (one connect)")
t.ok(wait_for(lambda: conns("idle.test")[0][1] is not None, IDLE + 5),
     "the idle connection is closed after the timeout")
c = conns("idle.test")
last_msg = max(m["t"] for m in sink.messages() if m["rcpts"] == ["b@idle.test"])
held = c[0][1] - last_msg
t.ok(c[0][2] == "quit" and IDLE - 0.5 <= held <= IDLE + 2.5,
     "closed with QUIT %.2f s after its last message (timeout %d s)" % (held, IDLE), c)

# -- without it: two connections
tern.send(["a@plain.test"])
wait_for(lambda: len(delivered("plain.test")) == 1, 10)
time.sleep(0.5)
tern.send(["b@plain.test"])
wait_for(lambda: len(delivered("plain.test")) == 2, 10)
c = conns("plain.test")
t.eq(len(c), 2, "without connection-idle-timeout each message has its own connection")
t.ok(c[0][1] is not None and c[0][1] <= c[1][0],
     "the first was closed before the second opened", c)

# -- the idle connection is the queue's max-smtp-out 1 slot: three
#    messages in turn all go over it
for i in range(3):
    tern.send(["m%d@one.test" % i])
    wait_for(lambda: len(delivered("one.test")) == i + 1, 10)
    time.sleep(0.3)
t.eq(len(delivered("one.test")), 3, "max-smtp-out 1 with an idle connection: all delivered")
t.eq(len(conns("one.test")), 1, "over the one idle connection")
r = tern.pmta("show", "queues", "--limits", "one.test")
t.ok("1 session(s) of max-smtp-out 1" in r.stdout,
     "show queues: the idle connection counts as the queue's session", r.stdout)

# -- shutdown does not wait for the idle timeout (1m)
start = time.time()
t.eq(tern.stop(), 0, "pmtad exits 0")
t.ok(time.time() - start < 20, "at once, the idle connection closed (%.1f s)"
     % (time.time() - start))
t.ok(wait_for(lambda: conns("one.test")[0][2] == "quit", 5),
     "with QUIT", conns("one.test"))
t.done()
