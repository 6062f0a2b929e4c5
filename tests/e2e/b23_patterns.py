"""<smtp-pattern-list> actions on real replies (pmta-reference §2.10,
§3.7): a 421 whose text matches a mode=backoff rule puts the queue in
backoff (show queues shows it, with the reply, since when), mail then
flows at backoff-max-msg-rate (the sink's timestamps) and the queue is
normal again after the rule's backoff-to-normal-after=3s, with a
backoff-notify notice on entry and exit; bounce-rcpt turns a 4xx into a b
record and a DSN; defer-queue puts the queue in retry; skip-mx leaves a
host even on a 5xx; smtp-421-means-mx-unavailable tries the next host;
backoff-reroute-to-virtual-mta delivers through the other VirtualMTA
(its source address 127.0.0.3); disable-source-ip takes the VirtualMTA's
addresses one by one, then backoff-upon-all-sources-disabled puts the
queue in backoff; user <bounce-category-patterns> fill
bounceCat of b and t records before the built-in list (§2.12, §5)."""
import csv
import re
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, TWO_VMTAS

t = Tap()
w = Workdir("b23")
sink = Sink(w, maildir=True)
sink2 = Sink(w)                                    # the second host
busy = Sink(w, extra=["--greeting", "421"])        # a host that says 421
ACCT = w.file("all.csv")

tern = Tern(w, TWO_VMTAS + """
<virtual-mta v3>
    smtp-source-host 127.0.0.2 v3a.tern.test
    smtp-source-host 127.0.0.3 v3b.tern.test
</virtual-mta>
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
</source>
<smtp-pattern-list isp>
    reply /^421 .*too many errors/ mode=backoff,backoff-to-normal-after=3s
    reply /mailbox busy/ bounce-rcpt
    reply /slow down/ defer-queue
    reply /try another host/ skip-mx
    reply /ip blocked/ disable-source-ip
</smtp-pattern-list>
<bounce-category-patterns>
    /mailbox busy/ busy-mailbox
    /blocked by policy/ user-blocked
    /slow down/ throttled
</bounce-category-patterns>
<acct-file %s>
    records d,b,t,tq
</acct-file>
<domain *>
    smtp-hosts [127.0.0.1]:%d
    smtp-pattern-list isp
</domain>
<domain back.test>
    backoff-max-msg-rate 4/s
    backoff-retry-after 1s
    backoff-to-normal-after 1h
    backoff-notify ops@notify.test
</domain>
<domain defer.test>
    retry-after 1h
    max-smtp-out 1
</domain>
<domain skip.test>
    smtp-hosts [127.0.0.1]:%d; [127.0.0.1]:%d
    retry-after 1h
</domain>
<domain mx421.test>
    smtp-hosts [127.0.0.1]:%d; [127.0.0.1]:%d
    smtp-421-means-mx-unavailable yes
</domain>
<domain dis.test>
    retry-recipients-after 1s
    backoff-upon-all-sources-disabled yes
    disabled-source-ip-notify ops@notify.test
</domain>
<domain stay421.test>
    smtp-hosts [127.0.0.1]:%d; [127.0.0.1]:%d
    retry-after 1h
</domain>
<virtual-mta v1>
    <domain reroute.test>
        backoff-reroute-to-virtual-mta v2
        backoff-to-normal-after 1h
    </domain>
</virtual-mta>
""" % (ACCT, sink.port, sink.port, sink2.port, busy.port, sink2.port,
       busy.port, sink2.port))
tern.start()


def rcpts_of(s, domain):
    return [(r, m["t"], m["peer"]) for m in s.messages() for r in m["rcpts"]
            if r.endswith(domain)]


def queue_block(name):
    """The show queues row of queue `name` and the lines under it."""
    out = tern.pmta("show", "queues", "--errors", name).stdout
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l.startswith(name + " "):
            rest = []
            for m in lines[i + 1:]:
                if not m.startswith("    "):
                    break
                rest.append(m.strip())
            return l.split(), rest, out
    return [], [], out


def acct():
    try:
        with open(ACCT, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def rows(rcpt, kind=None):
    return [r for r in acct() if r["rcpt"] == rcpt and (kind is None or r["type"] == kind)]


# -- mode=backoff from a 421, backoff-max-msg-rate, backoff-to-normal-after=3s
tern.send(["trigger+r421+m=too_many_errors@back.test"])
t_entered = time.time()
row, under, out = wait_for(lambda: (lambda b: b if "B" in b[0] else None)(
    queue_block("back.test/{default}")), 10) or ([], [], "")
t.ok(row[4:5] == ["B"], "show queues: st B after the 421", out)
t.ok(any("backoff mode:" in l and "421 4.4.2 too many errors" in l and
         "matched /^421 .*too many errors/" in l for l in under),
     "the backoff line gives the reply and the rule", out)
since = [time.mktime(time.strptime(l[:19], "%Y-%m-%d %H:%M:%S"))
         for l in under if "backoff mode:" in l]
t.ok(since and abs(since[0] - t_entered) < 2.5, "and since when", out)
for i in range(6):
    tern.send(["b%d@back.test" % i])
wait_for(lambda: len(rcpts_of(sink, "@back.test")) >= 6, 15)
ts = sorted(x[1] for x in rcpts_of(sink, "@back.test"))
gaps = [b - a for a, b in zip(ts, ts[1:])]
t.eq(len(ts), 6, "backoff: the 6 recipients are delivered")
t.ok(len(gaps) == 5 and min(gaps) >= 0.25 * 0.85,
     "at backoff-max-msg-rate 4/s: at least 0.25 s apart (%s)"
     % ", ".join("%.2f" % g for g in gaps))
t.ok(ts and ts[-1] - t_entered < 3, "all before the backoff ends (%.2f s)"
     % (ts[-1] - t_entered if ts else -1))
row, under, out = wait_for(lambda: (lambda b: b if b[0] and "B" not in b[0] else None)(
    queue_block("back.test/{default}")), 10) or ([], [], "")
t_left = time.time()
t.ok(row and "B" not in row, "normal again", out)
t.ok(t_left - t_entered >= 3 * 0.9 and t_left - t_entered < 8,
     "after the rule's backoff-to-normal-after=3s, not the queue's 1h (%.1f s)"
     % (t_left - t_entered))
p = tern.pmta("show", "queues", "--mode-events", "back.test")
t.ok("normal mode: backoff-to-normal-after elapsed" in p.stdout,
     "--mode-events: the return to normal", p.stdout)
t0 = time.time()
for i in range(6):
    tern.send(["n%d@back.test" % i])
wait_for(lambda: len(rcpts_of(sink, "@back.test")) >= 12, 15)
ts = sorted(x[1] for x in rcpts_of(sink, "@back.test") if x[0].startswith("n"))
t.ok(len(ts) == 6 and ts[-1] - t0 < 1.0,
     "normal: no backoff rate any more (%.2f s)" % (ts[-1] - t0 if ts else -1))
notices = wait_for(lambda: [m for m in sink.messages() if m["rcpts"] == ["ops@notify.test"]]
                   if len([m for m in sink.messages() if m["rcpts"] == ["ops@notify.test"]]) >= 2
                   else None, 10) or []
texts = [sink.message_bytes(m) for m in notices]
t.ok(len(notices) == 2 and all(m["mail_from"] == "" for m in notices),
     "backoff-notify: two notices from <>", [m.get("mail_from") for m in notices])
t.ok(any(b"Subject: Queue back.test/{default} is in backoff mode" in x and
         b"too many errors" in x for x in texts) and
     any(b"is back in normal mode" in x for x in texts),
     "one on entry (with the reply), one on exit", texts)

# -- bounce-rcpt, user bounce categories -------------------------------------
tern.send(["busy+r452+m=mailbox_busy@rules.test", "pol+r550+m=blocked_by_policy@rules.test"],
          mail_from="sender@notify.test")
wait_for(lambda: rows("busy+r452+m=mailbox_busy@rules.test", "b") and
         rows("pol+r550+m=blocked_by_policy@rules.test", "b"), 10)
b = rows("busy+r452+m=mailbox_busy@rules.test")
t.ok([r["type"] for r in b] == ["b"] and b[0]["dsnStatus"].startswith("4.2.0") and
     "452 4.2.0 mailbox busy" in b[0]["dsnDiag"],
     "bounce-rcpt: the 452 gives a b record, no t", b)
t.eq(b[0]["bounceCat"] if b else None, "busy-mailbox", "a user category in bounceCat")
p = rows("pol+r550+m=blocked_by_policy@rules.test", "b")
t.eq(p[0]["bounceCat"] if p else None, "user-blocked",
     "the user's pattern before the built-in /blocked/ (spam-related)")
dsn = wait_for(lambda: [m for m in sink.messages() if m["rcpts"] == ["sender@notify.test"]
                        and b"busy+r452" in sink.message_bytes(m)], 10) or []
t.ok(dsn and dsn[0]["mail_from"] == "" and b"Action: failed" in sink.message_bytes(dsn[0]),
     "and a failure report to the sender")

# -- defer-queue ---------------------------------------------------------------
tern.send(["slow+r451+w1000+m=slow_down@defer.test"])
time.sleep(0.3)
tern.send(["next@defer.test"])
wait_for(lambda: rows("slow+r451+w1000+m=slow_down@defer.test", "t"), 10)
time.sleep(1.0)
t.eq(rcpts_of(sink, "@defer.test"), [], "defer-queue: the next message waits")
row, under, out = queue_block("defer.test/{default}")
t.ok(row[1:2] == ["2"] and any(re.match(r"^\d\d:\d\d:\d\d$", x) for x in row[4:6]),
     "the queue holds both, with a retry time", out)
t.ok(any("slow down" in l for l in under), "--errors lists the reply", out)
tr = rows("slow+r451+w1000+m=slow_down@defer.test", "t")
t.eq(tr[0]["bounceCat"] if tr else None, "throttled", "a t record gets a (user) category")

# -- skip-mx, smtp-421-means-mx-unavailable ----------------------------------
tern.send(["x+r550+m=try_another_host@skip.test"])
wait_for(lambda: [e for e in sink2.events("rcpt") if e["rcpt"].endswith("@skip.test")], 10)
time.sleep(0.5)
t.ok([e["code"] for e in sink.events("rcpt") if e["rcpt"].endswith("@skip.test")] == [550] and
     [e["code"] for e in sink2.events("rcpt") if e["rcpt"].endswith("@skip.test")] == [550],
     "skip-mx: the 550 of the first host sends it to the second")
t.ok(not rows("x+r550+m=try_another_host@skip.test", "b"),
     "and it stays queued, even on a 5xx", rows("x+r550+m=try_another_host@skip.test"))
tern.send(["m@mx421.test"])
tern.send(["s@stay421.test"])
wait_for(lambda: rcpts_of(sink2, "@mx421.test"), 10)
time.sleep(0.5)
t.eq([x[0] for x in rcpts_of(sink2, "@mx421.test")], ["m@mx421.test"],
     "smtp-421-means-mx-unavailable: a 421 greeting, then the next host")
t.eq(rcpts_of(sink2, "@stay421.test"), [], "without it, the queue waits for its retry")
row, under, out = queue_block("mx421.test/{default}")
t.ok(any("MX unavailable (421)" in l for l in under), "--errors: the 421 event", out)

# -- backoff-reroute-to-virtual-mta ------------------------------------------


def send_v1(rcpt):
    tern.send([rcpt], "X-Virtual-MTA: v1\r\nSubject: r\r\n\r\nbody\r\n")


send_v1("before@reroute.test")
wait_for(lambda: rcpts_of(sink, "before@reroute.test"), 10)
send_v1("trigger+r421+m=too_many_errors@reroute.test")
wait_for(lambda: "B" in queue_block("reroute.test/v1")[0], 10)
for i in range(3):
    send_v1("after%d@reroute.test" % i)
wait_for(lambda: len(rcpts_of(sink, "@reroute.test")) >= 4, 10)
peers = {x[0]: x[2].split(":")[0] for x in rcpts_of(sink, "@reroute.test")}
t.eq(peers.get("before@reroute.test"), "127.0.0.2", "v1 delivers from 127.0.0.2")
t.eq([peers.get("after%d@reroute.test" % i) for i in range(3)], ["127.0.0.3"] * 3,
     "in backoff, v1's mail goes through v2 (127.0.0.3)")
t.eq(sorted({r["queue"] for r in acct() if r["type"] == "d" and
             r["rcpt"].startswith("after")}), ["reroute.test/v2"],
     "accounted in the queue reroute.test/v2")

# -- disable-source-ip, backoff-upon-all-sources-disabled --------------------
DIS = "ip+r451+m=ip_blocked@dis.test"
tern.send([DIS], "X-Virtual-MTA: v3\r\nSubject: d\r\n\r\nbody\r\n")
row, under, out = wait_for(lambda: (lambda b: b if "B" in b[0] else None)(
    queue_block("dis.test/v3")), 10) or ([], [], "")
time.sleep(1.5)
tries = [e["peer"].split(":")[0] for e in sink.events("rcpt") if e["rcpt"] == DIS]
t.eq(sorted(tries), ["127.0.0.2", "127.0.0.3"],
     "disable-source-ip: the second try uses the other address, then none is left")
t.ok(any("backoff mode: all SMTP sources disabled" in l for l in under) and
     any("All SMTP sources for queue dis.test/v3 are now disabled." in l for l in under),
     "backoff-upon-all-sources-disabled, and the error event", out)
src = wait_for(lambda: [m for m in sink.messages() if m["rcpts"] == ["ops@notify.test"] and
                        b"Subject: Source 127.0.0." in sink.message_bytes(m)]
               if len([m for m in sink.messages() if m["rcpts"] == ["ops@notify.test"] and
                       b"Subject: Source 127.0.0." in sink.message_bytes(m)]) >= 2 else None,
               10) or []
t.eq(len(src), 2, "disabled-source-ip-notify: a notice per address")

t.eq(tern.stop(), 0, "pmtad exits 0")
for s in (sink, sink2, busy):
    s.stop()
w.remove()
t.done()
