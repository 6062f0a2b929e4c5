"""The pmta CLI reaches the daemon of a config over its control socket:
show version, show status with the traffic counted, usage errors, and a
clear error when no daemon runs."""
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b05")
sink = Sink(w)
tern = Tern(w, relay_config(sink.port))

p = tern.pmta("show", "status")
t.eq(p.returncode, 1, "no daemon: exit 1")
t.ok("cannot reach pmtad" in p.stderr, "with a clear message", p.stderr)

tern.start()
p = tern.pmta("show", "version")
t.eq(p.returncode, 0, "show version: exit 0")
t.ok(p.stdout.startswith("tern version "), "show version output", p.stdout)

tern.send(["a@demo.test", "b@demo.test"])
wait_for(lambda: len(tern.acct_rows()[1]) >= 2, 10)
p = tern.pmta("show", "status")
t.eq(p.returncode, 0, "show status: exit 0")
lines = p.stdout.splitlines()
total = [l for l in lines if l.strip().startswith("Total")]
t.ok(len(total) == 1, "show status has a Total traffic line", p.stdout)
if total:
    f = total[0].split()
    t.eq((f[1], f[2]), ("2", "1"), "inbound: 2 recipients in 1 message")
    t.eq((f[4], f[5]), ("2", "1"), "outbound: 2 recipients in 1 message")
t.ok(any(l.split()[:2] == ["Status", "running"] for l in lines if l.strip()),
     "status line says running")
p = tern.pmta("show", "nonsense")
t.eq(p.returncode, 2, "an unknown command exits 2")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
