"""pmta resolve, and the DNS cache: an MX answer with a TTL is reused while the DNS server
is gone; `pmta clear dnscache` forgets it (the next delivery then waits
for DNS), and after the server is back `pmta schedule` delivers."""
import shutil
import sys
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, dnsmasq

t = Tap()
if shutil.which("dnsmasq") is None:
    print("1..0 # SKIP dnsmasq is not installed")
    sys.exit(0)
w = Workdir("b20")
port = free_port("127.0.0.4")
sink = Sink(w, ip="127.0.0.4", port=port)
dns_port = free_port()


def start_dns():
    return dnsmasq(dns_port, [
        "--local-ttl=300", "--mx-host=cache.test,mx.cache.test,10",
         "--host-record=mx.cache.test,127.0.0.4"])


dns = start_dns()
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain *>
    default-smtp-port %d
    retry-after 1h
    retry-after-dns-error 1h
</domain>
""" % port, dns_port=dns_port)
tern.start()


def delivered(rcpt):
    return any(rcpt in m["rcpts"] for m in sink.messages())


r = tern.pmta("resolve", "cache.test")
lines = r.stdout.splitlines()
t.ok(r.returncode == 0 and lines[:1] == ["status = StatusOk"] and
     any(l.split()[:3] == ["10", "mx.cache.test", "127.0.0.4"] for l in lines[2:]),
     "resolve: status and the MX host with its preference and address", r.stdout)
r = tern.pmta("resolve", "--tcp", "nx.test")
t.ok(r.returncode == 1 and r.stderr.startswith("status = StatusNxDomain"),
     "resolve of a domain that does not exist", (r.returncode, r.stderr))
tern.send(["one@cache.test"])
wait_for(lambda: delivered("one@cache.test"), 15)
t.ok(delivered("one@cache.test"), "first delivery resolves the MX")
dns.terminate()
dns.wait(5)

tern.send(["two@cache.test"])
wait_for(lambda: delivered("two@cache.test"), 15)
t.ok(delivered("two@cache.test"),
     "with the DNS server gone, the cached MX answer still routes mail")

r = tern.pmta("clear", "dnscache", "cache.test")
t.eq(r.stdout.strip(), "Cleared cache.test from DNS cache.", "clear dnscache NAME")
tern.send(["three@cache.test"])
time.sleep(4)
t.ok(not delivered("three@cache.test"),
     "after clearing, the next delivery needs DNS and waits")

dns = start_dns()
time.sleep(0.5)
r = tern.pmta("schedule", "cache.test")
wait_for(lambda: delivered("three@cache.test"), 20)
t.ok(delivered("three@cache.test"), "DNS back and schedule: delivered")
r = tern.pmta("clear", "dnscache", "*")
t.eq(r.stdout.strip(), "DNS cache cleared.", "clear dnscache *")
t.eq(tern.stop(), 0, "pmtad exits 0")
dns.terminate()
dns.wait(5)
w.remove()
t.done()
