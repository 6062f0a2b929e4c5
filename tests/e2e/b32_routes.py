"""Routing (pmta-reference §3.4) against a real DNS server on loopback
(dnsmasq): smtp-hosts host names resolved to their A (and AAAA)
addresses, a name that does not resolve skipped, lookup-mx:DOMAIN (the
MX hosts of another domain), the legacy route; MX hosts of equal
preference both used (random tie-break); IPv6 (AAAA targets, to ::1);
bounce-upon-no-mx; retry-after-dns-error; and a VirtualMTA's
smtp-source-host addresses used in turn, checked at the sink's peer
addresses."""
import shutil
import socket
import sys
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, dnsmasq

t = Tap()
if shutil.which("dnsmasq") is None:
    print("1..0 # SKIP dnsmasq is not installed")
    sys.exit(0)


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def common_port(ips):
    """A port free on every one of ips (MX hosts share default-smtp-port)."""
    for _ in range(50):
        p = free_port(ips[0])
        ok = True
        for ip in ips[1:]:
            s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
            try:
                s.bind((ip, p))
            except OSError:
                ok = False
            s.close()
        if ok:
            return p
    raise RuntimeError("no common free port")


V6 = have_ipv6()
w = Workdir("b32")
IPS = ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24", "127.0.0.25"]
port = common_port(IPS + (["::1"] if V6 else []))
host = Sink(w, ip="127.0.0.21", port=port)      # h1.route.test
mxa = Sink(w, ip="127.0.0.22", port=port)       # mxa.other.test
tie1 = Sink(w, ip="127.0.0.23", port=port)      # t1.tie.test
tie2 = Sink(w, ip="127.0.0.24", port=port)      # t2.tie.test
src = Sink(w, ip="127.0.0.25", port=port)       # sources, no-MX domain
six = None
if V6:
    six = Sink(w, ip="::1", port=port, extra=())
dns_port = free_port()
DNS_RECORDS = [
    "--host-record=h1.route.test,127.0.0.21",
    "--mx-host=other.test,mxa.other.test,10",
    "--host-record=mxa.other.test,127.0.0.22",
    "--mx-host=tie.test,t1.tie.test,10", "--mx-host=tie.test,t2.tie.test,10",
    "--host-record=t1.tie.test,127.0.0.23", "--host-record=t2.tie.test,127.0.0.24",
    "--host-record=nomx.test,127.0.0.25", "--host-record=amx.test,127.0.0.25",
    "--mx-host=dnsfail.test,mx.dnsfail.test,10",
    "--host-record=mx.dnsfail.test,127.0.0.25",
    "--host-record=v6.route.test,::1",
    "--mx-host=six.test,mx6.six.test,10", "--host-record=mx6.six.test,::1",
]


def start_dns():
    return dnsmasq(dns_port, DNS_RECORDS)


dns = start_dns()
tern = Tern(w, """
<virtual-mta v2>
    smtp-source-host 127.0.0.2 v2.tern.test
</virtual-mta>
<virtual-mta v3>
    smtp-source-host 127.0.0.3 v3.tern.test
</virtual-mta>
<virtual-mta vboth>
    smtp-source-host 127.0.0.2 b2.tern.test
    smtp-source-host 127.0.0.3 b3.tern.test
</virtual-mta>
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
</source>
<domain *>
    default-smtp-port %(port)d
    connect-timeout 2s
    retry-after 1h
</domain>
<domain byname.test>
    smtp-hosts nosuch.route.test, h1.route.test:%(port)d
</domain>
<domain unresolved.test>
    smtp-hosts nosuch.route.test
</domain>
<domain viamx.test>
    smtp-hosts lookup-mx:other.test
</domain>
<domain legacy.test>
    route h1.route.test:%(port)d
</domain>
<domain tie.test>
    max-msg-per-connection 1
</domain>
<domain v6name.test>
    smtp-hosts v6.route.test
</domain>
<domain src.test>
    smtp-hosts [127.0.0.25]:%(port)d
    max-msg-per-connection 1
</domain>
<domain nomx.test>
    bounce-upon-no-mx yes
</domain>
<domain dnsfail.test>
    retry-after-dns-error 2s
</domain>
""" % {"port": port}, dns_port=dns_port)
tern.start()


def rcpts(sink):
    return [r for m in sink.messages() for r in m["rcpts"]]


def send(rcpt, vmta=None):
    hdr = "X-Virtual-MTA: %s\r\n" % vmta if vmta else ""
    tern.send([rcpt], data="%sSubject: %s\r\n\r\nbody\r\n" % (hdr, rcpt))


def acct(rcpt):
    for r in tern.acct_rows()[1]:
        if r["rcpt"] == rcpt:
            return r
    return {}


# -- smtp-hosts with host names, lookup-mx, the legacy route
send("a@byname.test")
send("b@viamx.test")
send("c@legacy.test")
send("d@unresolved.test")
# (the d record is written once pmtad has the sink's reply, a moment after
# the sink records the message)
wait_for(lambda: "a@byname.test" in rcpts(host) and "b@viamx.test" in rcpts(mxa)
         and "c@legacy.test" in rcpts(host) and acct("a@byname.test")
         and acct("b@viamx.test"), 15)
t.ok("a@byname.test" in rcpts(host),
     "smtp-hosts host name: resolved to its A record (a name that does not "
     "resolve is skipped)")
t.eq(acct("a@byname.test").get("dsnMta"), "h1.route.test (127.0.0.21)",
     "dsnMta names the smtp-hosts host and its address")
t.ok("b@viamx.test" in rcpts(mxa), "lookup-mx:other.test: delivered to other.test's MX")
t.eq(acct("b@viamx.test").get("dsnMta"), "mxa.other.test (127.0.0.22)",
     "dsnMta names the other domain's MX host")
t.ok("c@legacy.test" in rcpts(host), "legacy route with a host name")
r = tern.pmta("show", "queues", "unresolved.test")
t.ok(r.returncode == 0 and "no smtp-hosts entry has an address" in r.stdout and
     "nosuch.route.test" in r.stdout,
     "smtp-hosts with no entry that resolves: the queue waits, its last error says why",
     r.stdout)
t.eq(acct("d@unresolved.test"), {}, "and it does not bounce")

# -- MX hosts of equal preference: both used
for i in range(16):
    send("tie%d@tie.test" % i)
wait_for(lambda: len(rcpts(tie1)) + len(rcpts(tie2)) >= 16, 20)
n1, n2 = len(rcpts(tie1)), len(rcpts(tie2))
t.eq(n1 + n2, 16, "every tie.test message delivered")
t.ok(n1 > 0 and n2 > 0,
     "two MX hosts of equal preference are both used (%d and %d)" % (n1, n2))

# -- IPv6
if V6:
    send("e@v6name.test")
    send("f@six.test")
    wait_for(lambda: {"e@v6name.test", "f@six.test"} <= set(rcpts(six))
             and acct("f@six.test"), 15)
    t.ok("e@v6name.test" in rcpts(six), "smtp-hosts host name with an AAAA record only: "
         "delivered to ::1")
    t.ok("f@six.test" in rcpts(six), "an MX host with an AAAA record only: delivered to ::1")
    t.eq(acct("f@six.test").get("dlvDestinationIp"), "::1", "dlvDestinationIp is ::1")
else:
    for _ in range(3):
        t.ok(True, "# SKIP ::1 is not available")

# -- bounce-upon-no-mx; without it the A record is used
send("g@nomx.test")
send("h@amx.test")
wait_for(lambda: acct("g@nomx.test") and "h@amx.test" in rcpts(src), 15)
g = acct("g@nomx.test")
t.ok(g.get("type") == "b" and g.get("dsnStatus", "").startswith("5.1.2") and
     "bounce-upon-no-mx" in g.get("dsnDiag", ""),
     "bounce-upon-no-mx yes: a domain without MX bounces (5.1.2)", g)
t.ok("h@amx.test" in rcpts(src), "without it, the domain's A record is used")

# -- smtp-source-host: v2, v3, and a VirtualMTA with both
for i in range(2):
    send("s2-%d@src.test" % i, "v2")
    send("s3-%d@src.test" % i, "v3")
for i in range(6):
    send("sb-%d@src.test" % i, "vboth")
wait_for(lambda: len([r for r in rcpts(src) if r.startswith("s")]) >= 10, 20)
peer = {m["rcpts"][0]: (m["peer"].rsplit(":", 1)[0], m["helo"]) for m in src.messages()}
t.eq(sorted(peer.get("s2-%d@src.test" % i) for i in range(2)),
     [("127.0.0.2", "v2.tern.test")] * 2, "v2 connects from 127.0.0.2")
t.eq(sorted(peer.get("s3-%d@src.test" % i) for i in range(2)),
     [("127.0.0.3", "v3.tern.test")] * 2, "v3 connects from 127.0.0.3")
both = sorted(peer.get("sb-%d@src.test" % i, ("?", "?")) for i in range(6))
t.eq(both, [("127.0.0.2", "b2.tern.test")] * 3 + [("127.0.0.3", "b3.tern.test")] * 3,
     "a VirtualMTA with both uses them in turn: 3 connections from each, "
     "each with its EHLO name")

# -- retry-after-dns-error: the DNS server is gone, the queue retries
# after 2s (not retry-after's 1h) and delivers once it is back
dns.terminate()
dns.wait(5)
send("x@dnsfail.test")
wait_for(lambda: "DNS" in tern.pmta("show", "queues", "dnsfail.test").stdout, 15)
r = tern.pmta("show", "queues", "dnsfail.test")
t.ok("DNS" in r.stdout, "a DNS failure is the queue's last error", r.stdout)
dns = start_dns()
t0 = time.time()
wait_for(lambda: "x@dnsfail.test" in rcpts(src), 15)
t.ok("x@dnsfail.test" in rcpts(src) and time.time() - t0 < 10,
     "retried after retry-after-dns-error (2s), not retry-after (1h): delivered "
     "%.1f s after the DNS server came back" % (time.time() - t0))

t.eq(tern.stop(), 0, "pmtad exits 0")
dns.terminate()
dns.wait(5)
w.remove()
t.done()
