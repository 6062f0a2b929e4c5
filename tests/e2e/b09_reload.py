"""Reload: a broken config is refused by `pmta reload` and by SIGHUP with
its file:line, and the daemon keeps serving with the old one; a valid
reload is swapped in without dropping queued mail, and a changed
max-msg-rate takes effect (the held messages are delivered)."""
import signal
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b09")
sink = Sink(w)

DOMAIN = """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
    max-msg-rate %s
</domain>
"""
tern = Tern(w, DOMAIN % (sink.port, "1/h"))
with open(tern.config) as f:
    base = f.read()


def write_config(text):
    with open(tern.config, "w") as f:
        f.write(text)


def settings(queue):
    p = tern.pmta("show", "settings", queue)
    pairs = {}
    for line in p.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            pairs[parts[0]] = parts[1]
    return p.returncode, pairs


tern.start()
for i in range(3):
    tern.send(["user%d@demo.test" % i], "Subject: %d\r\n\r\nbody\r\n" % i)
wait_for(lambda: len(sink.messages()) >= 1, 10)
time.sleep(1.5)
t.eq(len(sink.messages()), 1, "max-msg-rate 1/h: one message delivered, two held")
rc, s = settings("demo.test")
t.eq((rc, s.get("max-msg-rate")), (0, "1/h"), "show settings: max-msg-rate 1/h")

broken = base.replace("max-msg-rate 1/h", "max-msg-rate 1/h\n    max-smtp-outt 5")
write_config(broken)
p = tern.pmta("reload")
t.eq(p.returncode, 1, "pmta reload of a broken config fails")
line = broken.splitlines().index("    max-smtp-outt 5") + 1
t.ok("%s:%d:" % (tern.config, line) in p.stderr and "max-smtp-outt" in p.stderr,
     "and names the error's file:line", p.stderr)
tern.proc.send_signal(signal.SIGHUP)
time.sleep(0.5)
t.ok(tern.proc.poll() is None, "SIGHUP with a broken config: the daemon keeps running")
t.eq(tern.send(["user3@demo.test"]), {}, "the daemon still accepts mail")
rc, s = settings("demo.test")
t.eq(s.get("max-msg-rate"), "1/h", "the old configuration is still in force")
t.ok("reload of" in tern.output() and "failed" in tern.output(), "the failed reload is logged")

write_config(base.replace("max-msg-rate 1/h", "max-msg-rate 100/s"))
p = tern.pmta("reload")
t.eq(p.returncode, 0, "pmta reload of a valid config succeeds", )
rc, s = settings("demo.test")
t.eq(s.get("max-msg-rate"), "100/s", "show settings shows the new rate")
wait_for(lambda: len(sink.messages()) >= 4, 15)
got = sorted(r for m in sink.messages() for r in m["rcpts"])
t.eq(got, ["user%d@demo.test" % i for i in range(4)],
     "after the reload the held messages are delivered (nothing lost)")
# A VirtualMTA removed by a reload: its queued recipients bounce with
# 5.3.5 (specified VirtualMTA does not exist).
gone = base.replace("max-msg-rate 1/h", "max-msg-rate 100/s") + """
<virtual-mta gone>
</virtual-mta>
<domain nowhere.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<source 127.0.0.2>
    always-allow-relaying yes
    default-virtual-mta gone
</source>
""" % free_port()
write_config(gone)
t.eq(tern.pmta("reload").returncode, 0, "reload with a new VirtualMTA")
import smtplib
with smtplib.SMTP(timeout=10, source_address=("127.0.0.2", 0)) as c:
    c.connect(tern.ip, tern.port)
    c.sendmail("s@demo.test", ["x@nowhere.test"], "Subject: v\r\n\r\nbody\r\n")
time.sleep(0.5)
write_config(base.replace("max-msg-rate 1/h", "max-msg-rate 100/s"))
t.eq(tern.pmta("reload").returncode, 0, "reload without it")
wait_for(lambda: any(r["rcpt"] == "x@nowhere.test" for r in tern.acct_rows()[1]), 10)
row = [r for r in tern.acct_rows()[1] if r["rcpt"] == "x@nowhere.test"]
t.ok(row and row[0]["type"] == "b" and
     row[0]["dsnStatus"] == "5.3.5 (specified VirtualMTA does not exist)",
     "its queued recipients bounce with 5.3.5", row)
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
