"""Limits at scale: 10,000 recipients over 50 domains spread across 5
sinks (127.0.0.11-15), each domain with max-smtp-out 2 and max-msg-rate
100/s.  Each message waits 15 ms for its end-of-DATA reply, so both
limits bind.  Everything is delivered, and from the sinks' own records no
domain ever had more than 2 connections open at once (and some domain
did have 2: the limit was reached, not just kept by chance), nor more
than 100 messages in any one-second window."""
import bisect
import smtplib
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

DOMAINS = 50
SINKS = 5
MAX_OUT = 2
RATE = 100          # per second
MSGS = 100          # each with 2 recipients in every domain
SLOW = 15           # ms each end of DATA waits at the sink: one connection
                    # alone cannot reach RATE, so pmtad wants more than one

t = Tap()
w = Workdir("c04")
sinks = [Sink(w, ip="127.0.0.%d" % (11 + i)) for i in range(SINKS)]
blocks = "".join("""
<domain d%02d.test>
    smtp-hosts [%s]:%d
    max-smtp-out %d
    max-msg-rate %d/s
</domain>
""" % (d, sinks[d % SINKS].ip, sinks[d % SINKS].port, MAX_OUT, RATE)
    for d in range(DOMAINS))
tern = Tern(w, """
total-max-smtp-out 1000
<source 127.0.0.1>
    always-allow-relaying yes
</source>
""" + blocks)
tern.start()

expected = set()
with smtplib.SMTP(tern.ip, tern.port, timeout=60) as c:
    for m in range(MSGS):
        rcpts = ["m%d.r%d+wd%d@d%02d.test" % (m, k, SLOW, d)
                 for d in range(DOMAINS) for k in range(2)]
        expected.update(rcpts)
        c.sendmail("s@scale.test", rcpts, "Subject: %d\r\n\r\nbody\r\n" % m)


def delivered():
    return {r for s in sinks for e in s.messages() for r in e["rcpts"]}


wait_for(lambda: len(delivered()) >= len(expected), 120)
got = delivered()
t.eq(len(expected), DOMAINS * MSGS * 2, "10,000 recipients injected")
t.eq(sorted(expected - got), [], "every recipient delivered")

worst_conc, worst_rate, worst_at = {}, {}, {}
for s in sinks:
    # one pass: a peer address (ip:port) can come back on a later
    # connection, so a connection is the span from its connect to its
    # QUIT (the client is done; when the sink gets round to reading the
    # EOF says nothing about pmtad) or, without one, its close
    conns = []              # [start, end, domain, peer]
    live = {}               # peer -> its open connection
    for e in s.events():
        p = e.get("peer")
        if e["event"] == "connect":
            live[p] = [e["t"], None, None, p]
            conns.append(live[p])
        elif e["event"] == "message" and p in live and e["rcpts"]:
            live[p][2] = e["rcpts"][0].split("@")[1]
        elif e["event"] in ("quit", "close") and p in live:
            live.pop(p)[1] = e["t"]
    edges = {}              # domain -> [(t, +1/-1, conn)]
    for c in conns:
        if c[2] is not None and c[1] is not None:
            edges.setdefault(c[2], []).extend([(c[0], 1, c), (c[1], -1, c)])
    for d, ev in edges.items():
        cur = top = 0
        open_now = []
        for tm, step, c in sorted(ev, key=lambda x: (x[0], x[1])):
            cur += step
            if step > 0:
                open_now.append(c)
            else:
                open_now.remove(c)
            if cur > top:
                top = cur
                worst_at[d] = list(open_now)
        worst_conc[d] = top
    times = {}
    for e in s.messages():
        for r in e["rcpts"]:
            times.setdefault(r.split("@")[1], []).append(e["t"])
    for d, ts in times.items():
        ts.sort()
        worst_rate[d] = max(bisect.bisect_left(ts, x + 1.0) - i
                            for i, x in enumerate(ts))
t.eq(len(worst_conc), DOMAINS, "every domain's connections are in the records")
worst_d = max(worst_conc, key=worst_conc.get)
t.ok(worst_conc[worst_d] <= MAX_OUT,
     "no domain ever had more than %d connections at once (worst %d)" %
     (MAX_OUT, worst_conc[worst_d]),
     "\n".join("%s: %.6f .. %.6f from %s" % (worst_d, c[0], c[1], c[3])
               for c in worst_at[worst_d]))
t.eq(worst_conc[worst_d], MAX_OUT,
     "the limit was reached: some domain had %d connections at once" % MAX_OUT)
t.ok(max(worst_rate.values()) <= RATE,
     "no domain got more than %d messages in any one-second window (worst %d)" %
     (RATE, max(worst_rate.values())))
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
