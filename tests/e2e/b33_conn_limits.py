"""Connection limits (pmta-reference §3.5), measured at the sinks' own
records (a connection is its connect..QUIT, or ..close without QUIT):
max-connect-rate (per queue, smooth: never more than the rate in any
window, and the rate is reached), mx-connection-limit (per MX host name
and local address, across queues), ip-connection-limit (per destination
address, across queues) and source-ip-max-smtp-out (per queue and local
address); connections over a limit wait and are all made in the end.
The use of each limit shows in `pmta show limits` and `pmta show queues
--limits`, the waits in `show queues --errors`."""
import shutil
import socket
import sys
import threading
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, dnsmasq

t = Tap()
if shutil.which("dnsmasq") is None:
    print("1..0 # SKIP dnsmasq is not installed")
    sys.exit(0)
w = Workdir("b33")
rate_sink = Sink(w, ip="127.0.0.31")
mx_port = free_port("127.0.0.32")
mx_sink = Sink(w, ip="127.0.0.32", port=mx_port)        # mx.lim.test
ip_sink = Sink(w, ip="127.0.0.33")
src_sink = Sink(w, ip="127.0.0.34")
dns_port = free_port()
dns = dnsmasq(dns_port, [
    "--mx-host=mxlim.test,mx.lim.test,10", "--mx-host=mxlim2.test,mx.lim.test,10",
     "--host-record=mx.lim.test,127.0.0.32"])

RATE = 5            # max-connect-rate 5/s
MX_LIMIT = 2
tern = Tern(w, """
mx-connection-limit *.lim.test %(mx)d
ip-connection-limit 127.0.0.33/32 1
<virtual-mta two>
    smtp-source-host 127.0.0.2 two-a.tern.test
    smtp-source-host 127.0.0.3 two-b.tern.test
</virtual-mta>
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
</source>
<domain *>
    default-smtp-port %(mxp)d
    max-rcpt-per-transaction 1
    max-msg-per-connection 1
    max-smtp-out 10
</domain>
<domain rate.test>
    smtp-hosts [127.0.0.31]:%(rp)d
    max-smtp-out 20
    max-connect-rate %(rate)d/s
</domain>
<domain iplim.test>
    smtp-hosts [127.0.0.33]:%(ip)d
</domain>
<domain iplim2.test>
    smtp-hosts [127.0.0.33]:%(ip)d
</domain>
<domain srclim.test>
    smtp-hosts [127.0.0.34]:%(sp)d
    source-ip-max-smtp-out 127.0.0.2 1
    max-smtp-out 4
</domain>
""" % {"mx": MX_LIMIT, "mxp": mx_port, "rp": rate_sink.port, "rate": RATE,
       "ip": ip_sink.port, "sp": src_sink.port}, dns_port=dns_port)
tern.start()


def connections(sink):
    """[(start, end, peer ip)] from the sink's records (as c04 does): pmtad's
    connections end with QUIT (the Sink's own start-up probe does not)."""
    conns, live = [], {}
    for e in sink.events():
        p = e.get("peer")
        if e["event"] == "connect":
            live[p] = [e["t"], None, p.rsplit(":", 1)[0], False]
            conns.append(live[p])
        elif e["event"] in ("quit", "close") and p in live:
            c = live.pop(p)
            c[1], c[3] = e["t"], e["event"] == "quit"
    return [c[:3] for c in conns if c[3]]


def peak(conns):
    edges = sorted([(c[0], 1) for c in conns] + [(c[1], -1) for c in conns])
    cur = top = 0
    for _, step in edges:
        cur += step
        top = max(top, cur)
    return top


def delivered(sink):
    return [r for m in sink.messages() for r in m["rcpts"]]


def watch(args, cond, out):
    """Poll `pmta ARGS` until cond(stdout) holds; keep the first that does."""
    def run():
        end = time.time() + 20
        while time.time() < end and not out:
            r = tern.pmta(*args)
            if cond(r.stdout):
                out.append(r.stdout)
            time.sleep(0.05)
    th = threading.Thread(target=run)
    th.start()
    return th


# -- max-connect-rate 5/s: 20 transactions, one connection each
seen_rate = []
th = watch(("show", "queues", "--limits", "rate.test"),
           lambda o: "max-connect-rate 5/s: %d opened" % RATE in o, seen_rate)
tern.send(["r%d@rate.test" % i for i in range(20)])
wait_for(lambda: len(delivered(rate_sink)) >= 20, 30)
th.join()
starts = sorted(c[0] for c in connections(rate_sink))
t.eq(len(delivered(rate_sink)), 20, "max-connect-rate: all 20 delivered")
t.eq(len(starts), 20, "over 20 connections")
# a window a little shorter than the second absorbs the sink's accept
# jitter under load (without the limit all 20 come within milliseconds)
in_window = max(sum(1 for y in starts if x <= y < x + 0.9) for x in starts)
t.ok(in_window <= RATE, "never more than %d connections in a second (worst %d)"
     % (RATE, in_window))
in_sec = max(sum(1 for y in starts if x <= y < x + 1.1) for x in starts)
t.ok(in_sec >= RATE, "and the rate is reached: %d in a second" % in_sec)
span = starts[-1] - starts[0]
t.ok(3.6 <= span <= 10.0, "20 connections spread over %.2f s (19 gaps of 0.2 s)" % span)
t.ok(seen_rate, "show queues --limits: 5 opened in the last second while it ran",
     seen_rate)
r = tern.pmta("show", "queues", "--errors", "rate.test")
t.ok("connect rate limit reached (based on queue's max-connect-rate in configuration)"
     in r.stdout, "show queues --errors: the connect rate limit event", r.stdout)

# -- mx-connection-limit 2 per MX host and local address, two queues
#    to the same MX through VirtualMTA "two" (127.0.0.2 and .3)
seen_mx = []
th = watch(("show", "limits"),
           lambda o: any(l.split()[:3] == ["mx-connection-limit", "*.lim.test", "2"]
                         and l.split()[-2:] == ["2", "2"] for l in o.splitlines()),
           seen_mx)
data = "X-Virtual-MTA: two\r\nSubject: mx\r\n\r\nbody\r\n"
tern.send(["m%d+wd300@mxlim.test" % i for i in range(8)], data=data)
tern.send(["n%d+wd300@mxlim2.test" % i for i in range(8)], data=data)
wait_for(lambda: len(delivered(mx_sink)) >= 16, 30)
th.join()
conns = connections(mx_sink)
t.eq(len(delivered(mx_sink)), 16, "mx-connection-limit: all 16 delivered")
by_src = {ip: peak([c for c in conns if c[2] == ip]) for ip in ("127.0.0.2", "127.0.0.3")}
t.eq(by_src, {"127.0.0.2": MX_LIMIT, "127.0.0.3": MX_LIMIT},
     "at most %d connections to mx.lim.test from each local address, "
     "across both queues, and the limit is reached from both" % MX_LIMIT)
t.ok(peak(conns) > MX_LIMIT, "the limit is per local address: %d at once in all"
     % peak(conns))
t.ok(seen_mx, "show limits: mx.lim.test from a source, 2 open of 2", seen_mx)
r = tern.pmta("show", "queues", "--errors", "mxlim*")
t.ok("mx-connection-limit reached (mx.lim.test from 127.0.0." in r.stdout,
     "show queues --errors: the wait for the MX limit", r.stdout)

# -- ip-connection-limit 127.0.0.33/32 1: two queues, one connection
tern.send(["i%d+wd150@iplim.test" % i for i in range(4)])
tern.send(["j%d+wd150@iplim2.test" % i for i in range(4)])
wait_for(lambda: len(delivered(ip_sink)) >= 8, 30)
conns = connections(ip_sink)
t.eq(len(delivered(ip_sink)), 8, "ip-connection-limit: all 8 delivered")
# (a connection that ends a message takes its queue's next one if it is
# ready: the sessions waiting for the limit then have nothing left to send,
# so there are 2 to 8 connections, never two at once)
t.ok(peak(conns) == 1 and 2 <= len(conns) <= 8,
     "one connection at a time to 127.0.0.33 across two queues, in turn "
     "(peak %d, %d connections)" % (peak(conns), len(conns)))

# -- source-ip-max-smtp-out 127.0.0.2 1 in a queue of VirtualMTA "two"
seen_src = []
th = watch(("show", "queues", "--limits", "srclim.test/two"),
           lambda o: "from 127.0.0.2: 1 open of 1 (source-ip-max-smtp-out 127.0.0.2 1)" in o,
           seen_src)
tern.send(["s%d+wd300@srclim.test" % i for i in range(8)], data=data)
wait_for(lambda: len(delivered(src_sink)) >= 8, 30)
th.join()
conns = connections(src_sink)
t.eq(len(delivered(src_sink)), 8, "source-ip-max-smtp-out: all 8 delivered")
p2 = peak([c for c in conns if c[2] == "127.0.0.2"])
p3 = peak([c for c in conns if c[2] == "127.0.0.3"])
t.ok(p2 == 1 and p3 >= 2, "from 127.0.0.2 one at a time (%d), from 127.0.0.3 more (%d)"
     % (p2, p3))
t.ok(seen_src, "show queues --limits: 127.0.0.2 with 1 open of 1", seen_src)

r = tern.pmta("show", "limits")
t.ok(r.returncode == 0 and r.stdout.splitlines()[2].split()[:2] == ["total-max-smtp-out", "all"]
     and "0 session(s) waiting" in r.stdout, "show limits at rest", r.stdout)
t.eq(tern.stop(), 0, "pmtad exits 0")
dns.terminate()
dns.wait(5)
w.remove()
t.done()
