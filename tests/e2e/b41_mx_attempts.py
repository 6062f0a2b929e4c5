"""mx-connection-attempts (pmta-reference §3.4, Q12; Tern's reading:
the most failed connects of one delivery attempt): a domain whose first
three MX addresses refuse connections and whose fourth is the sink is
delivered with the default (10) and with 4, while with 3 the attempt
ends after the third refusal: a tq record (connection failure, 4.4.1,
naming the limit) and nothing at the sink; the next retry tries again.
The MX hosts come from a DNS server on loopback (dnsmasq)."""
import csv
import shutil
import sys
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, dnsmasq

t = Tap()
if shutil.which("dnsmasq") is None:
    print("1..0 # SKIP dnsmasq is not installed")
    sys.exit(0)
w = Workdir("b41")
port = free_port("127.0.0.54")
sink = Sink(w, ip="127.0.0.54", port=port)
dns_port = free_port()
args = []
for i in range(1, 5):   # mx1..mx3 refuse (nothing listens), mx4 is the sink
    args.append("--host-record=mx%d.att.test,127.0.0.5%d" % (i, i))
for d in ("dflt.test", "four.test", "three.test"):
    args += ["--mx-host=%s,mx%d.att.test,%d" % (d, i, i * 10) for i in range(1, 5)]
dns = dnsmasq(dns_port, args)
ALL = w.file("all.csv")
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain *>
    default-smtp-port %(p)d
    connect-timeout 2s
    retry-after 1h
</domain>
<domain four.test>
    mx-connection-attempts 4
</domain>
<domain three.test>
    mx-connection-attempts 3
</domain>
<acct-file %(all)s>
    records d,b,t,tq
</acct-file>
""" % {"p": port, "all": ALL}, dns_port=dns_port)
tern.start()


def rows(type_, queue):
    try:
        with open(ALL, newline="") as f:
            return [r for r in csv.DictReader(f)
                    if r["type"] == type_ and r["queue"] == queue]
    except FileNotFoundError:
        return []


tern.send(["a@dflt.test"])
tern.send(["b@four.test"])
tern.send(["c@three.test"])
wait_for(lambda: len(sink.messages()) >= 2 and rows("tq", "three.test/{default}"), 20)
got = sorted(r for m in sink.messages() for r in m["rcpts"])
t.eq(got, ["a@dflt.test", "b@four.test"],
     "delivered by the fourth MX with the default (10) and with 4 attempts")
d = rows("d", "four.test/{default}")
t.ok(d and d[0]["dsnMta"] == "mx4.att.test (127.0.0.54)",
     "four.test: dsnMta is the fourth MX", d)
tq = rows("tq", "three.test/{default}")
t.ok(tq and tq[0]["dsnStatus"].startswith("4.4.1")
     and "mx3.att.test (127.0.0.53)" in tq[0]["dsnDiag"]
     and tq[0]["dsnDiag"].endswith("(mx-connection-attempts reached)"),
     "three.test: a tq record after the third refused connect, naming the limit", tq)
t.eq(rows("tq", "dflt.test/{default}") + rows("tq", "four.test/{default}"), [],
     "no queue failure for the others")
t.ok("3 connection attempts failed, 1 address(es) left untried "
     "(mx-connection-attempts 3)" in open(tern.log).read(), "the log says so")
r = tern.pmta("show", "queues", "three.test")
t.ok(" 1 " in r.stdout and "mx-connection-attempts" in r.stdout,
     "the recipient waits for the retry, the queue shows the error", r.stdout)
t.eq(tern.stop(), 0, "pmtad exits 0")
dns.terminate()
dns.wait(5)
t.done()
