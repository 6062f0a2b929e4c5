"""Local source addresses (pmta-reference §3.4, §3.5), seen at the sink:
an smtp-source-host entry that is a range (127.0.0.8/30) stands for each
of its addresses, used in turn with the range's EHLO name; and
source-ip-max-connect-rate CIDR RATE limits the new connections from
each local address of the range within the queue, smoothly (never more
than the rate in any window, and the rate is reached), the queue's other
addresses going on meanwhile.  The wait shows in show queues --errors."""
import threading
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b40")
sink = Sink(w, ip="127.0.0.41")
RATE = 4
tern = Tern(w, """
<virtual-mta range>
    smtp-source-host 127.0.0.8/30 range.tern.test
</virtual-mta>
<virtual-mta solo>
    smtp-source-host 127.0.0.2 solo.tern.test
</virtual-mta>
<virtual-mta rated>
    smtp-source-host 127.0.0.2 rated-a.tern.test
    smtp-source-host 127.0.0.3 rated-b.tern.test
</virtual-mta>
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
</source>
<domain *>
    smtp-hosts [127.0.0.41]:%(p)d
    max-rcpt-per-transaction 1
    max-msg-per-connection 1
    max-smtp-out 20
</domain>
<domain rated.test>
    source-ip-max-connect-rate 127.0.0.3 unlimited
    source-ip-max-connect-rate 127.0.0.2/31 %(rate)d/s
</domain>
""" % {"p": sink.port, "rate": RATE})
tern.start()


def delivered(domain):
    return [m for m in sink.messages() if m["rcpts"][0].endswith("@" + domain)]


def connects(msgs):
    """Connect times per local address of the connections that carried
    the messages."""
    peers = {m["peer"] for m in msgs}
    out = {}
    for e in sink.events("connect"):
        if e["peer"] in peers:
            out.setdefault(e["peer"].rsplit(":", 1)[0], []).append(e["t"])
    return {ip: sorted(v) for ip, v in out.items()}


def worst(starts, window):
    return max((sum(1 for y in starts if x <= y < x + window) for x in starts), default=0)


# -- a range entry: each of its four addresses, in turn
data = "X-Virtual-MTA: range\r\nSubject: range\r\n\r\nbody\r\n"
for i in range(8):
    tern.send(["r%d@range.test" % i], data=data)
wait_for(lambda: len(delivered("range.test")) >= 8, 30)
msgs = delivered("range.test")
t.eq(len(msgs), 8, "smtp-source-host 127.0.0.8/30: all 8 delivered")
by_ip = {ip: len(v) for ip, v in connects(msgs).items()}
t.eq(by_ip, {"127.0.0.8": 2, "127.0.0.9": 2, "127.0.0.10": 2, "127.0.0.11": 2},
     "from each address of the range in turn, twice each")
t.eq({m["helo"] for m in msgs}, {"range.tern.test"}, "with the range's EHLO name")

# -- source-ip-max-connect-rate 4/s on 127.0.0.2 (by the /31 rule); the
#    line for 127.0.0.3 comes first and says unlimited (the first line
#    whose range holds the address applies)
data = "X-Virtual-MTA: rated\r\nSubject: rated\r\n\r\nbody\r\n"
tern.send(["q%d+wd100@rated.test" % i for i in range(24)], data=data)
wait_for(lambda: len(delivered("rated.test")) >= 24, 30)
msgs = delivered("rated.test")
t.eq(len(msgs), 24, "source-ip-max-connect-rate: all 24 delivered")
c = connects(msgs)
a, b = c.get("127.0.0.2", []), c.get("127.0.0.3", [])
t.ok(1 <= len(a) and worst(a, 0.9) <= RATE,
     "from 127.0.0.2 never more than %d connections in a second (worst %d of %d)"
     % (RATE, worst(a, 0.9), len(a)))
t.ok(len(a) + len(b) == 24 and worst(b, 0.9) > RATE,
     "127.0.0.3 is not held by it and takes the rest: %d connections, %d in a second"
     % (len(b), worst(b, 0.9)))

# -- the rate is reached when 127.0.0.2 is the queue's only address
#    (VirtualMTA solo: a queue of its own, with a pace of its own)
data = "X-Virtual-MTA: solo\r\nSubject: solo\r\n\r\nbody\r\n"
n0 = len(delivered("rated.test"))
seen = []


def watch_limits():
    """show queues --limits while the rate holds: the pace's use."""
    end = time.time() + 20
    want = "source-ip-max-connect-rate from 127.0.0.2 %d/s: %d opened in the last 1s" % (
        RATE, RATE)
    while time.time() < end and not seen:
        r = tern.pmta("show", "queues", "--limits", "rated.test/solo")
        if want in r.stdout:
            seen.append(r.stdout)
        time.sleep(0.05)


th = threading.Thread(target=watch_limits)
th.start()
tern.send(["s%d+wd100@rated.test" % i for i in range(12)], data=data)
wait_for(lambda: len(delivered("rated.test")) >= n0 + 12, 30)
th.join()
t.ok(seen, "show queues --limits: 127.0.0.2's pace, %d opened in the last second" % RATE)
msgs = [m for m in delivered("rated.test") if m["rcpts"][0].startswith("s")]
c = connects(msgs)
a = c.get("127.0.0.2", [])
t.eq((len(a), len(c)), (12, 1), "VirtualMTA solo: all 12 from 127.0.0.2")
t.ok(worst(a, 0.9) <= RATE and worst(a, 1.1) >= RATE,
     "at %d per second, not more (worst in 0.9 s: %d; in 1.1 s: %d)"
     % (RATE, worst(a, 0.9), worst(a, 1.1)))
span = a[-1] - a[0] if a else 0
t.ok(11.0 / RATE - 0.3 <= span <= 11.0 / RATE + 3,
     "12 connections over %.2f s (11 gaps of %.2f s)" % (span, 1.0 / RATE))
gaps = [y - x for x, y in zip(a, a[1:])]
t.ok(gaps and min(gaps) >= 1.0 / RATE - 0.05,
     "smooth: one every 1/%d s at least (smallest gap %.3f s)" % (RATE, min(gaps or [0])))
r = tern.pmta("show", "queues", "--errors", "rated.test/solo")
t.ok("source-ip-max-connect-rate reached (127.0.0.2: 127.0.0.2/31 %d/s)" % RATE in r.stdout,
     "show queues --errors: the wait for the rate", r.stdout)
t.eq(tern.stop(), 0, "pmtad exits 0")
t.done()
