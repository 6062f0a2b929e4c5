"""A real bulk client: Postfix's smtp-source injects 200 messages of 5000
octets over 10 parallel sessions (once with a new connection per message,
once with sessions kept open, -d), and every message reaches the sink.  Skipped when smtp-source is not installed (Debian
package postfix; scripts/common.sh installs it without configuring
Postfix, so no daemon takes port 25)."""
import os
import shutil
import subprocess
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for

SMTP_SOURCE = shutil.which("smtp-source") or (
    "/usr/sbin/smtp-source" if os.access("/usr/sbin/smtp-source", os.X_OK) else None)

t = Tap()
if SMTP_SOURCE is None:
    t.ok(True, "# SKIP smtp-source is not installed (Debian package postfix)")
    t.done()
    raise SystemExit(0)

w = Workdir("b31")
sink = Sink(w)
tern = Tern(w, relay_config(sink.port, settings=("max-smtp-out 10",)))
tern.start()


def run(*extra):
    return subprocess.run([SMTP_SOURCE, "-c", "-l", "5000", "-m", "200", "-s", "10",
                           "-f", "load@example.org", "-t", "sink@demo.test",
                           "-M", "client.test"] + list(extra) +
                          ["%s:%d" % (tern.ip, tern.port)],
                          capture_output=True, text=True, timeout=300)


r = run()
t.eq(r.returncode, 0, "smtp-source -c -l 5000 -m 200 -s 10: exits 0 " + r.stderr[-300:])
wait_for(lambda: len(sink.messages()) >= 200, 60)
msgs = sink.messages()
t.eq(len(msgs), 200, "every one of the 200 messages reached the sink")
t.ok(msgs and all(5000 <= m.get("size", 0) <= 5400 for m in msgs),
     "each of about 5000 octets", sorted({m.get("size") for m in msgs})[:5])
r = run("-d")
t.eq(r.returncode, 0, "smtp-source -d (sessions kept open): exits 0 " + r.stderr[-300:])
wait_for(lambda: len(sink.messages()) >= 400, 60)
t.eq(len(sink.messages()), 400, "and its 200 messages arrive too")
_, rows = tern.acct_when(lambda rs: sum(1 for x in rs if x["type"] == "d") >= 400, 30)
t.eq(sum(1 for x in rows if x["type"] == "d"), 400, "400 d records")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
