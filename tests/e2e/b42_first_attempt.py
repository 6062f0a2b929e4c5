"""timeFirstAttempt (pmta-reference §4.2, §4.3; 5.5): the time of the
first delivery attempt of the message, in every d, b and t record of its
recipients when record-fields asks for it.  A recipient the sink defers
again and again keeps the time of its first attempt in each t record,
also after pmtad restarts (it is kept in the spool's done-list); a
message delivered at once has its delivery time; a message never
attempted (its queue's host down, bounced by bounce-after) has it
empty."""
import csv
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b42")
sink = Sink(w)
ALL = w.file("all.csv")
tern = Tern(w, """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain ft.test>
    smtp-hosts [127.0.0.1]:%d
    retry-recipients-after 2s
</domain>
<domain never.test>
    smtp-hosts [127.0.0.1]:%d
    connect-timeout 1s
    retry-after 1s
    bounce-after 3s
</domain>
<acct-file %s>
    records d, b, t
    record-fields d *,timeFirstAttempt
    record-fields b *,timeFirstAttempt
    record-fields t *,timeFirstAttempt
    iso-times no
</acct-file>
""" % (sink.port, free_port(), ALL))
tern.start()


def rows(type_, rcpt):
    try:
        with open(ALL, newline="") as f:
            return [r for r in csv.DictReader(f)
                    if r["type"] == type_ and r["rcpt"] == rcpt]
    except FileNotFoundError:
        return []


tern.send(["again+r451@ft.test"])
time.sleep(1.2)         # the first attempt of the next message is later
tern.send(["ok@ft.test"])
tern.send(["x@never.test"])
wait_for(lambda: len(rows("t", "again+r451@ft.test")) >= 2 and rows("d", "ok@ft.test")
         and rows("b", "x@never.test"), 20)
tt = rows("t", "again+r451@ft.test")
t.ok(len(tt) >= 2, "two t records for the deferred recipient", tt)
first = int(tt[0]["timeFirstAttempt"]) if tt and tt[0]["timeFirstAttempt"] else 0
t.ok(first and abs(first - int(tt[0]["timeLogged"])) <= 1
     and first >= int(tt[0]["timeQueued"]),
     "the first t: timeFirstAttempt is its own attempt's time", tt[:1])
t.ok(len(tt) >= 2 and tt[1]["timeFirstAttempt"] == str(first)
     and int(tt[1]["timeLogged"]) >= first + 2,
     "the retry's t keeps the first attempt's time", tt[1:2])
d = rows("d", "ok@ft.test")
t.ok(d and d[0]["timeFirstAttempt"] and abs(int(d[0]["timeFirstAttempt"]) -
     int(d[0]["timeLogged"])) <= 1 and int(d[0]["timeFirstAttempt"]) > first,
     "a message delivered at once: its own (later) attempt time", d)
b = rows("b", "x@never.test")
t.ok(b and b[0]["timeFirstAttempt"] == "",
     "never attempted (no connection): empty in its b record", b)

# -- restart: the time survives
n = len(tt)
t.eq(tern.stop(), 0, "pmtad exits 0")
time.sleep(1.1)
tern.start()
wait_for(lambda: len(rows("t", "again+r451@ft.test")) > n, 20)
tt = rows("t", "again+r451@ft.test")
t.ok(len(tt) > n and tt[-1]["timeFirstAttempt"] == str(first)
     and int(tt[-1]["timeLogged"]) > first + 2,
     "after a restart the next t record still has the first attempt's time",
     tt[n:])
t.eq(tern.stop(), 0, "pmtad exits 0")
t.done()
