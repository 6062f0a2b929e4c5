"""Limits at scale: 10,000 recipients over 50 domains spread across 5
sinks (127.0.0.11-15), each domain with max-smtp-out 2 and max-msg-rate
100/s.  Everything is delivered, and from the sinks' own records no
domain ever had more than 2 connections open at once, nor more than 100
messages in any one-second window."""
import bisect
import smtplib
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

DOMAINS = 50
SINKS = 5
MAX_OUT = 2
RATE = 100          # per second
MSGS = 100          # each with 2 recipients in every domain

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
        rcpts = ["m%d.r%d@d%02d.test" % (m, k, d)
                 for d in range(DOMAINS) for k in range(2)]
        expected.update(rcpts)
        c.sendmail("s@scale.test", rcpts, "Subject: %d\r\n\r\nbody\r\n" % m)


def delivered():
    return {r for s in sinks for e in s.messages() for r in e["rcpts"]}


wait_for(lambda: len(delivered()) >= len(expected), 120)
got = delivered()
t.eq(len(expected), DOMAINS * MSGS * 2, "10,000 recipients injected")
t.eq(sorted(expected - got), [], "every recipient delivered")

worst_conc, worst_rate = {}, {}
for s in sinks:
    evs = s.events()
    domain_of = {}          # peer -> domain it delivered for
    for e in evs:
        if e["event"] == "message":
            domain_of[e["peer"]] = e["rcpts"][0].split("@")[1]
    edges = {}              # domain -> [(t, +1/-1)]
    opened = {}
    for e in evs:
        if e["event"] == "connect":
            opened[e["peer"]] = e["t"]
        elif e["event"] in ("quit", "close") and e["peer"] in opened:
            # a connection ends at its QUIT (the client is done; when the
            # sink gets round to reading the EOF says nothing about pmtad)
            # or, without one, at its close
            d = domain_of.get(e["peer"])
            if d is not None:
                edges.setdefault(d, []).extend(
                    [(opened.pop(e["peer"]), 1), (e["t"], -1)])
    for d, ev in edges.items():
        cur = top = 0
        for _, step in sorted(ev, key=lambda x: (x[0], x[1])):
            cur += step
            top = max(top, cur)
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
t.ok(max(worst_conc.values()) <= MAX_OUT,
     "no domain ever had more than %d connections at once (worst %d)" %
     (MAX_OUT, max(worst_conc.values())))
t.ok(max(worst_rate.values()) <= RATE,
     "no domain got more than %d messages in any one-second window (worst %d)" %
     (RATE, max(worst_rate.values())))
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
