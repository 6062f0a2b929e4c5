"""Connection limits (pmta-reference §3.5): max-smtp-out per queue,
max-msg-per-connection, total-max-smtp-out across queues; checked from
the sink's connect/close times."""
from ternlib import Tap, Workdir, Sink, Tern, wait_for


def peak(events):
    """Most connections busy at once: a connection is busy from its first
    RCPT to its last end-of-DATA reply (the sink logs a close only after
    the client has gone, which can trail the next connect)."""
    span = {}
    for e in events:
        if e["event"] in ("rcpt", "message"):
            lo, hi = span.get(e["peer"], (e["t"], e["t"]))
            span[e["peer"]] = (min(lo, e["t"]), max(hi, e["t"]))
    marks = sorted([(lo, 1) for lo, _ in span.values()] +
                   [(hi, -1) for _, hi in span.values()], key=lambda m: (m[0], m[1]))
    cur = best = 0
    for _, d in marks:
        cur += d
        best = max(best, cur)
    return best


t = Tap()
w = Workdir("b15")
sink = Sink(w)
tern = Tern(w, """
total-max-smtp-out 3
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain *>
    smtp-hosts [127.0.0.1]:%d
    max-rcpt-per-transaction 1
</domain>
<domain two.test>
    max-smtp-out 2
    max-msg-per-connection 3
</domain>
""" % sink.port)
tern.start()
tern.send(["x+wd300@two.test"] + ["u%d+wd300@two.test" % i for i in range(11)])
wait_for(lambda: len(sink.messages()) >= 12, 30)
t.eq(len(sink.messages()), 12, "all twelve delivered")
t.ok(peak(sink.events()) <= 2, "max-smtp-out 2: at most 2 connections at once (%d)"
     % peak(sink.events()))
per_conn = {}
for m in sink.messages():
    per_conn[m["peer"]] = per_conn.get(m["peer"], 0) + 1
t.ok(max(per_conn.values()) <= 3, "max-msg-per-connection 3: %s" % sorted(per_conn.values()))
t.ok(len(per_conn) >= 4, "so at least 4 connections for 12 messages (%d)" % len(per_conn))

before = len(sink.events())
tern.send(["a%d+wd300@%s.test" % (i, d) for d in ("aa", "bb", "cc", "dd") for i in range(3)])
wait_for(lambda: len(sink.messages()) >= 24, 30)
t.eq(len(sink.messages()), 24, "four other domains delivered")
t.ok(peak(sink.events()[before:]) <= 3,
     "total-max-smtp-out 3 across queues (%d)" % peak(sink.events()[before:]))
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
