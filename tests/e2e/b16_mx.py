"""MX delivery with c-ares against a real DNS server on loopback
(dnsmasq): preference order with fallback when the best MX does not
answer, the implicit MX (A record only), a domain that does not exist
(bounce 5.1.2) and a null MX (RFC 7505, bounce 5.1.10)."""
import shutil
import sys
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, dnsmasq

t = Tap()
if shutil.which("dnsmasq") is None:
    print("1..0 # SKIP dnsmasq is not installed")
    sys.exit(0)
w = Workdir("b16")
port = free_port("127.0.0.4")
sink = Sink(w, ip="127.0.0.4", port=port)        # mail2.mx.test and amx.test
dns_port = free_port()
dns = dnsmasq(dns_port, [
    "--mx-host=mx.test,mail1.mx.test,10", "--mx-host=mx.test,mail2.mx.test,20",
     "--host-record=mail1.mx.test,127.0.0.3", "--host-record=mail2.mx.test,127.0.0.4",
     "--host-record=amx.test,127.0.0.4", "--mx-host=nullmx.test,.,0"])
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain *>
    default-smtp-port %d
    connect-timeout 2s
</domain>
""" % port, dns_port=dns_port)
tern.start()
tern.send(["a@mx.test", "b@amx.test", "c@nx.test", "d@nullmx.test"], mail_from="")
wait_for(lambda: len(sink.messages()) >= 2 and len(tern.acct_rows()[1]) >= 4, 20)
got = sorted(r for m in sink.messages() for r in m["rcpts"])
t.eq(got, ["a@mx.test", "b@amx.test"],
     "mx.test via its second MX (the first does not answer) and amx.test by its A record")
rows = {r["rcpt"]: r for r in tern.acct_rows()[1]}
t.eq(rows.get("a@mx.test", {}).get("dsnMta"), "mail2.mx.test (127.0.0.4)",
     "dsnMta names the MX host and its address")
c = rows.get("c@nx.test", {})
t.ok(c.get("type") == "b" and c.get("dsnStatus", "").startswith("5.1.2"),
     "a domain that does not exist bounces with 5.1.2", c)
d = rows.get("d@nullmx.test", {})
t.ok(d.get("type") == "b" and d.get("dsnStatus", "").startswith("5.1.10"),
     "a null MX bounces with 5.1.10", d)
t.eq(tern.stop(), 0, "pmtad exits 0")
dns.terminate()
dns.wait(5)
w.remove()
t.done()
