"""Runtime controls through the control socket (src/ctl): show queues,
pause/resume queue with wildcards, schedule (retry now), and delete with
an accounting record and, with --dsn, a failure report."""
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b12")
sink = Sink(w)
later_port = free_port()
down_port = free_port()
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain later.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
<domain down.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % (sink.port, later_port, down_port))
tern.start()


def queues():
    p = tern.pmta("show", "queues")
    rows = {}
    for line in p.stdout.splitlines()[3:-1]:
        f = line.split()
        rows[f[0]] = f
    return p, rows


tern.send(["first@demo.test"])
wait_for(lambda: len(sink.messages()) >= 1, 10)
p = tern.pmta("pause", "queue", "demo.*/*")
t.eq((p.returncode, p.stdout.strip()), (0, "paused 1 queue(s)"), "pause queue with a wildcard")
tern.send(["a@demo.test", "b@demo.test"])
time.sleep(1)
t.eq(len(sink.messages()), 1, "nothing leaves a paused queue")
p, rows = queues()
t.ok(p.stdout.startswith("queue           #rcpt kbytes conn st    retry last error\n"),
     "show queues header", p.stdout)
t.ok(p.stdout.rstrip().endswith("matching queues."), "and footer", p.stdout)
row = rows.get("demo.test/{default}", [])
t.ok(row[1:2] == ["2"] and "P" in row, "the paused queue shows 2 recipients and P", row)
t.eq(tern.pmta("resume", "queue", "demo.test").returncode, 0, "resume queue")
wait_for(lambda: len(sink.messages()) >= 2, 10)
t.eq(sorted(r for m in sink.messages() for r in m["rcpts"]),
     ["a@demo.test", "b@demo.test", "first@demo.test"],
     "after resume the recipients are delivered")

tern.send(["x@later.test"])
wait_for(lambda: "later.test/{default}" in queues()[1], 5)
time.sleep(0.5)
_, rows = queues()
row = rows.get("later.test/{default}", [])
t.ok(len(row) >= 6 and ":" in row[4], "a failed queue shows its retry time", row)
t.ok("4.4.1" in " ".join(row), "and its last error", row)
late = Sink(w, port=later_port)
t.eq(tern.pmta("schedule", "later.test").returncode, 0, "schedule")
wait_for(lambda: len(late.messages()) >= 1, 10)
t.eq(len(late.messages()), 1, "schedule retries at once (retry-after is 10m)")

tern.send(["y@down.test", "z@down.test"], mail_from="sender@demo.test")
time.sleep(0.5)
p = tern.pmta("delete")
t.eq(p.returncode, 2, "delete without a filter is a usage error")
p = tern.pmta("delete", "--queue=down.test/*", "--rcpt=y@down.test", "--dsn")
t.eq((p.returncode, p.stdout.strip()), (0, "1 recipient(s) deleted"), "delete --rcpt --dsn")
rows_acct = [r for r in tern.acct_rows()[1] if r["rcpt"] == "y@down.test"]
t.ok(len(rows_acct) == 1 and rows_acct[0]["type"] == "b" and
     "deleted by administrator" in rows_acct[0]["dsnDiag"],
     "a 'b' record says deleted by administrator", rows_acct)
wait_for(lambda: any(m["mail_from"] == "" for m in sink.messages()), 10)
t.ok(any(m["mail_from"] == "" and m["rcpts"] == ["sender@demo.test"] for m in sink.messages()),
     "--dsn sends a report to the sender")
p = tern.pmta("delete", "--queue=down.test", "--no-accounting")
t.eq(p.stdout.strip(), "1 recipient(s) deleted", "delete --queue takes the rest")
t.ok(not any(r["rcpt"] == "z@down.test" for r in tern.acct_rows()[1]),
     "--no-accounting writes no record")
_, rows = queues()
t.eq(rows.get("down.test/{default}", ["", "0"])[1], "0", "the queue is empty")
t.eq(tern.stop(), 0, "pmtad exits 0")
late.stop()
w.remove()
t.done()
