"""Recipient priority and pmta set priority, queue mode (pmta set queue
--mode, show queues --mode, backoff-max-msg-rate) and priority
interruption with total-max-smtp-out 1 (pmta-reference §3.5, §3.7);
everything is checked from what the sink received and when."""
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for


def rcpts_in_order(sink, domain):
    """The recipients of `domain` the sink accepted, in delivery order."""
    return [r for m in sink.messages() for r in m["rcpts"] if r.endswith(domain)]


def times_of(sink, domain):
    return [m["t"] for m in sink.messages() for r in m["rcpts"] if r.endswith(domain)]


def queue_rows(tern, *args):
    p = tern.pmta("show", "queues", *args)
    rows = {}
    for line in p.stdout.splitlines()[3:-1]:
        f = line.split()
        if f and "/" in f[0]:
            rows[f[0]] = f
    return p, rows


t = Tap()

# -- recipient priority and pmta set priority --------------------------
w = Workdir("b18")
sink = Sink(w)
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain *>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain prio.test>
    max-smtp-out 1
</domain>
<domain back.test>
    backoff-max-msg-rate 4/s
</domain>
""" % sink.port)
tern.start()

# the first message keeps the queue's one connection busy while the
# queue is paused and filled
tern.send(["first+wd1500@prio.test"])
p = tern.pmta("pause", "queue", "prio.test")
t.eq((p.returncode, p.stdout.strip()), (0, "paused 1 queue(s)"), "pause the queue")
for i in range(1, 7):
    tern.send(["m%d@prio.test" % i],
              mail_from="vip@example.org" if i in (2, 5) else "sender@example.org")
p = tern.pmta("set", "priority", "--rcpt=m4@prio.test", "90")
t.eq((p.returncode, p.stdout.strip()), (0, "1 recipient(s) set to priority 90"),
     "set priority --rcpt")
p = tern.pmta("set", "priority", "--orig=VIP@example.org", "80")
t.eq((p.returncode, p.stdout.strip()), (0, "2 recipient(s) set to priority 80"),
     "set priority --orig (without case)")
p = tern.pmta("set", "priority", "--queue=prio.test/*", "--rcpt=m1@prio.test", "10")
t.eq((p.returncode, p.stdout.strip()), (0, "1 recipient(s) set to priority 10"),
     "set priority --queue --rcpt")
p = tern.pmta("set", "priority", "--rcpt=m1@prio.test", "101")
t.eq(p.returncode, 2, "a priority above 100 is a usage error")
p = tern.pmta("set", "priority", "--bogus=1", "50")
t.eq(p.returncode, 2, "so is an unknown option")
_, rows = queue_rows(tern)
row = rows.get("prio.test/{default}", [])
t.ok(row[1:2] == ["6"] and "P" in row, "the paused queue holds 6", row)
wait_for(lambda: len(sink.messages()) >= 1, 10)
t.eq(tern.pmta("resume", "queue", "prio.test").returncode, 0, "resume")
wait_for(lambda: len(rcpts_in_order(sink, "@prio.test")) >= 7, 20)
t.eq(rcpts_in_order(sink, "@prio.test"),
     ["first+wd1500@prio.test", "m4@prio.test", "m2@prio.test", "m5@prio.test",
      "m3@prio.test", "m6@prio.test", "m1@prio.test"],
     "delivered by priority (90, 80, 80, 50, 50, 10), oldest first within one")

# -- queue mode ----------------------------------------------------------
tern.send(["b0@back.test"])
wait_for(lambda: len(rcpts_in_order(sink, "@back.test")) >= 1, 10)
p = tern.pmta("set", "queue", "--mode=backoff", "back.*")
t.eq((p.returncode, p.stdout.strip()), (0, "1 queue(s) set to backoff mode"),
     "set queue --mode=backoff with a wildcard")
t.eq(tern.pmta("set", "queue", "--mode=fast", "back.test").returncode, 2,
     "an unknown mode is a usage error")
p, rows = queue_rows(tern)
t.ok(rows.get("back.test/{default}", [None, None, None, None, None])[4:5] == ["B"],
     "show queues: st is B in backoff", p.stdout)
t.ok("B" not in rows.get("prio.test/{default}", []), "and not for a normal queue")
p, rows = queue_rows(tern, "--mode=backoff")
t.eq(sorted(rows), ["back.test/{default}"], "show queues --mode=backoff")
t.ok(p.stdout.rstrip().endswith("1 of 2 matching queues."), "counts what it shows",
     p.stdout)
p, rows = queue_rows(tern, "--mode=normal", "*/*")
t.eq(sorted(rows), ["prio.test/{default}"], "show queues --mode=normal pattern")
p = tern.pmta("show", "queues", "--mode-events", "back.test")
t.ok("backoff mode: pmta set queue" in p.stdout, "--mode-events: since when, why",
     p.stdout)

before = len(sink.messages())
tern.send(["r%d@back.test" % i for i in range(7)])
wait_for(lambda: len(rcpts_in_order(sink, "@back.test")) >= 8, 20)
ts = times_of(sink, "@back.test")[1:]
t.eq(len(ts), 7, "backoff: all 7 delivered")
t.eq(len(sink.messages()) - before, 7, "one transaction each (a rate-limited queue)")
t.ok(len(ts) == 7 and ts[-1] - ts[0] >= 6 * 0.25 * 0.9,
     "at backoff-max-msg-rate 4/s: 7 take at least 1.5 s (%.2f)"
     % (ts[-1] - ts[0] if ts else -1))

p = tern.pmta("set", "queue", "back.test", "--mode=normal")
t.eq((p.returncode, p.stdout.strip()), (0, "1 queue(s) set to normal mode"),
     "set queue --mode=normal")
_, rows = queue_rows(tern)
t.ok("B" not in rows.get("back.test/{default}", ["B"]), "st no longer B", rows)
t0 = time.time()
tern.send(["n%d@back.test" % i for i in range(7)])
wait_for(lambda: len(rcpts_in_order(sink, "@back.test")) >= 15, 20)
ts = times_of(sink, "@back.test")[8:]
t.eq(len(ts), 7, "normal: all 7 delivered")
t.ok(len(ts) == 7 and ts[-1] - t0 < 1.0,
     "without the backoff rate, within a second (%.2f)" % (ts[-1] - t0 if ts else -1))
t.eq(tern.stop(), 0, "pmtad exits 0")
sink.stop()
w.remove()

# -- priority interruption -----------------------------------------------
w = Workdir("b18i")
sink = Sink(w)
tern = Tern(w, """
total-max-smtp-out 1
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain *>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain hi.test>
    queue-priority 90
</domain>
<domain low.test>
    queue-priority 10
</domain>
<domain stubborn.test>
    queue-priority 10
    allow-priority-interruption no
</domain>
<domain cut.test>
    queue-priority 10
    allow-priority-interruption-during-transfer yes
</domain>
""" % sink.port)
tern.start()


def name(rcpt):
    """"l0+wd1000@low.test" -> "l0"."""
    return rcpt.split("@")[0].split("+")[0]


def order(*domains):
    return [name(r) for m in sink.messages()
            for r in m["rcpts"] if r.split("@")[1] in domains]


for i in range(4):
    tern.send(["l%d+wd1000@low.test" % i])
time.sleep(0.3)
tern.send(["h1@hi.test"])
wait_for(lambda: len(order("low.test", "hi.test")) >= 5, 30)
t.eq(order("low.test", "hi.test"), ["l0", "h1", "l1", "l2", "l3"],
     "queue-priority 90 takes the only connection after the current message")
msgs = {name(m["rcpts"][0]): m for m in sink.messages()}
per_peer = {}
for m in sink.messages():
    per_peer.setdefault(m["peer"], []).append(name(m["rcpts"][0]))
t.ok("l0" in msgs and "h1" in msgs and per_peer.get(msgs["l0"]["peer"]) == ["l0"],
     "the low queue's connection delivered its message, then closed", per_peer)
t.ok("h1" in msgs and msgs["h1"]["peer"] != msgs.get("l0", {}).get("peer"),
     "the high queue used a connection of its own")

for i in range(3):
    tern.send(["s%d+wd700@stubborn.test" % i])
time.sleep(0.3)
tern.send(["h2@hi.test"])
wait_for(lambda: len(order("stubborn.test", "hi.test")) >= 5, 30)
t.eq(order("stubborn.test", "hi.test"), ["h1", "s0", "s1", "s2", "h2"],
     "allow-priority-interruption no: the high queue waits")

tern.send(["c0+w1500@cut.test"])
time.sleep(0.4)
t0 = time.time()
tern.send(["h3@hi.test"])
wait_for(lambda: len(order("cut.test")) >= 1, 30)
t.eq(order("cut.test", "hi.test")[-2:], ["h3", "c0"],
     "allow-priority-interruption-during-transfer yes: cut before its end")
msgs = {name(m["rcpts"][0]): m for m in sink.messages()}
t.ok("h3" in msgs and msgs["h3"]["t"] - t0 < 1.0,
     "the high queue did not wait for the slow transfer (%.2f s)"
     % (msgs["h3"]["t"] - t0 if "h3" in msgs else -1))
t.eq(order("cut.test"), ["c0"], "the cut message was sent again, once")
_, rows = tern.acct_when(lambda rs: sum(1 for r in rs if r["type"] == "d") >= 11)
t.eq(sorted(name(r["rcpt"]) for r in rows if r["type"] == "d"),
     sorted(["c0", "h1", "h2", "h3", "l0", "l1", "l2", "l3", "s0", "s1", "s2"]),
     "one d record per recipient")
t.eq(tern.stop(), 0, "pmtad exits 0")
sink.stop()
w.remove()
t.done()
