"""Jobs (pmta-interfaces §4.3, §2.3): X-Job with process-x-job (removed,
jobid-prefix in front), the jobId accounting column, show jobs, pause
job / resume job, delete --jobId."""
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b14")
port = free_port()
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-job yes
    jobid-prefix c1-
</source>
<domain later.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % port)
tern.start()
for i in range(3):
    tern.send(["u%d@later.test" % i], "X-Job: news1\r\nSubject: %d\r\n\r\nbody\r\n" % i)
tern.send(["v@later.test"], "X-Job: other\r\nSubject: o\r\n\r\nbody\r\n")
time.sleep(0.5)

p = tern.pmta("show", "jobs")
lines = p.stdout.splitlines()
t.eq(lines[0] if lines else "", "-----------------------------job-id ----#rcpt ---kbytes",
     "show jobs header")
jobs = {l.split()[0]: l.split()[1] for l in lines[1:] if len(l.split()) >= 3}
t.eq((jobs.get("c1-news1"), jobs.get("c1-other")), ("3", "1"),
     "two jobs, named with the jobid-prefix, with their recipients")
t.ok(lines and lines[-1] == "Total of 2 job(s).", "show jobs footer", lines)
t.eq(tern.pmta("pause", "job", "c1-news1").returncode, 0, "pause job")
t.eq(tern.pmta("pause", "job", "nosuch").returncode, 1, "pause job of an unknown job fails")
sink = Sink(w, port=port, maildir=True)
tern.pmta("schedule", "later.test")
wait_for(lambda: len(sink.messages()) >= 1, 10)
time.sleep(1)
t.eq([m["rcpts"] for m in sink.messages()], [["v@later.test"]],
     "a paused job's recipients stay; the other job's go")
t.eq(tern.pmta("resume", "job", "c1-news1").returncode, 0, "resume job")
wait_for(lambda: len(sink.messages()) >= 4, 10)
t.eq(len(sink.messages()), 4, "after resume the job's recipients are delivered")
rows = {r["rcpt"]: r for r in tern.acct_when(
    lambda rs: any(r["rcpt"] == "u0@later.test" for r in rs))[1]}
t.eq(rows.get("u0@later.test", {}).get("jobId"), "c1-news1", "the jobId column")
m = [m for m in sink.messages() if m["rcpts"] == ["u0@later.test"]]
t.ok(m and b"X-Job" not in sink.message_bytes(m[0]), "the X-Job header is removed")

sink.stop()
tern.send(["d@later.test"], "X-Job: gone\r\n\r\nbody\r\n")
time.sleep(0.5)
p = tern.pmta("delete", "--jobId=c1-gone")
t.eq(p.stdout.strip(), "1 recipient(s) deleted", "delete --jobId")
t.ok("c1-gone" not in tern.pmta("show", "jobs").stdout, "the job is gone from show jobs")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
