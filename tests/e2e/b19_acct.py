"""Accounting (pmta-reference §4): d, b, t, tq and r records from a real
delivery run, each row checked under its file's header with Python's csv
module; a multi-type file with the column union (R-Q13); record-fields
(explicit order, *,!x, header_X columns read from the spooled message),
map-header-to-field, iso-times no and user-string; `pmta rotate acct
[file]` giving a dated file and a fresh one with its header; pipe
destinations: one receiving exactly what the file of the same records
gets, one whose program exits and is restarted (header first again)."""
import csv
import glob
import io
import os
import re
import smtplib
import time
from ternlib import (relay_config, Tap, Workdir, Sink, Tern, wait_for,
                     free_port, DEFAULT_HEADER)

t = Tap()
w = Workdir("b19")
sink = Sink(w)
greet = Sink(w, extra=["--greeting", "421"])
down_port = free_port()
ISO = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{4}$")
QUICK = ("retry-after 1s", "retry-recipients-after 1s", "bounce-after 3s")
ALL = w.file("all.csv")
CUSTOM = w.file("custom.csv")
PIPED = w.file("pipe.csv")
HEADED = w.file("head.csv")
MOVED = w.file("moved.csv")
ARCHIVE = w.file("archive")

more = """
<domain closed.test>
    smtp-hosts [127.0.0.1]:%d
%s</domain>
<domain greet.test>
    smtp-hosts [127.0.0.1]:%d
%s</domain>
<acct-file %s>
    records d, b, t, tq, r
</acct-file>
<acct-file %s>
    records delivery,bounce
    record-fields d rcpt,jobId,header_subject,header_X-Trace,dsnStatus,timeLogged,userString
    record-fields b *,!orcpt,!vmtaPool,header_Subject
    map-header-to-field d header_X-Campaign jobId
    iso-times no
    user-string us-1
</acct-file>
<acct-file |/bin/sh -c 'cat >> %s'>
    records d,b,t,tq,r
    retry-interval 1s
</acct-file>
<acct-file |head -n 2 >> %s>
    records d,b,t,tq,r
    retry-interval 1s
</acct-file>
<acct-file %s>
    records r
    move-to %s
    move-interval 2s
</acct-file>
""" % (down_port, "".join("    %s\n" % s for s in QUICK), greet.port,
       "".join("    %s\n" % s for s in QUICK), ALL, CUSTOM, PIPED, HEADED, MOVED, ARCHIVE)
tern = Tern(w, relay_config(sink.port, settings=QUICK, more=more))
tern.start()

MSG = ("From: sender@demo.test\r\nSubject: acct test\r\nX-Trace: trace, 42\r\n"
       "X-Campaign: camp-9\r\n\r\nbody\r\n")


def send(rcpts):
    with smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test", timeout=30) as c:
        c.sendmail("sender@demo.test", rcpts, MSG, rcpt_options=["NOTIFY=NEVER"])


def read(path):
    """(header, rows, raw text); every row must fit the header."""
    try:
        with open(path, newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return None, [], ""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return reader.fieldnames, rows, text


def rows_of(path, type_=None, rcpt=None):
    return [r for r in read(path)[1] if (type_ is None or r["type"] == type_)
            and (rcpt is None or r.get("rcpt") == rcpt)]


send(["ok@demo.test", "nobody+r550@demo.test"])
send(["slow+r451@demo.test"])
send(["drop+xd@demo.test"])
send(["someone@closed.test"])
send(["user@greet.test"])

FINAL = {"ok@demo.test": "d", "nobody+r550@demo.test": "b", "slow+r451@demo.test": "b",
         "drop+xd@demo.test": "b", "someone@closed.test": "b", "user@greet.test": "b"}


def settled():
    got = {r["rcpt"]: r["type"] for r in read(tern.acct)[1]}
    return all(got.get(k) == v for k, v in FINAL.items())


t.ok(wait_for(settled, 30), "every recipient reaches its final record",
     read(tern.acct)[2])
time.sleep(0.5)

# -- the default file (records d,b): the 23 columns
header, rows, text = read(tern.acct)
t.eq(header, DEFAULT_HEADER, "acct.csv: the default header")
t.ok(all(None not in r and None not in r.values() for r in rows),
     "acct.csv: every row has exactly the header's columns")
t.eq(sorted(set(r["type"] for r in rows)), ["b", "d"], "acct.csv: only d and b")
d = [r for r in rows if r["rcpt"] == "ok@demo.test"]
if t.eq(len(d), 1, "one d row for ok@demo.test"):
    d = d[0]
    t.ok(ISO.match(d["timeLogged"]) and ISO.match(d["timeQueued"]),
         "iso times", (d["timeLogged"], d["timeQueued"]))
    t.eq((d["orig"], d["dsnAction"], d["srcType"], d["srcMta"], d["dlvType"]),
         ("sender@demo.test", "delivered", "smtp", "client.test (127.0.0.1)", "smtp"),
         "d: orig, dsnAction (the sink offers DSN), source, delivery type")
    t.ok(d["dsnStatus"].startswith("2.") and d["dsnDiag"].startswith("smtp;250"),
         "d: 2xx status and smtp; diagnostic", (d["dsnStatus"], d["dsnDiag"]))
    t.eq((d["dsnMta"], d["dlvSourceIp"], d["dlvDestinationIp"], d["vmta"], d["queue"]),
         ("127.0.0.1 (127.0.0.1)", "127.0.0.1", "127.0.0.1", "{default}",
          "demo.test/{default}"), "d: remote MTA, addresses, vmta, queue")
    t.ok(d["dlvSize"].isdigit() and int(d["dlvSize"]) > 0 and d["bounceCat"] == "",
         "d: a size, no bounce category", (d["dlvSize"], d["bounceCat"]))
b = [r for r in rows if r["rcpt"] == "nobody+r550@demo.test"]
if t.eq(len(b), 1, "one b row for the 550"):
    b = b[0]
    t.eq((b["dsnAction"], b["dlvSize"]), ("failed", ""), "b: failed, no size")
    t.ok(b["dsnStatus"].startswith("5.1.1 (") and "550" in b["dsnDiag"] and b["bounceCat"],
         "b: status, diagnostic, category", (b["dsnStatus"], b["dsnDiag"], b["bounceCat"]))
exp = [r for r in rows if r["rcpt"] == "someone@closed.test"]
t.ok(len(exp) == 1 and exp[0]["bounceCat"] == "message-expired",
     "the unreachable recipient expires (b, message-expired)", exp)

# -- the multi-type file: the union of the d/b/t (23) and r columns
UNION = DEFAULT_HEADER + ["rcvSourceIp", "rcvDestinationIp"]
header, rows, all_text = read(ALL)
t.eq(header, UNION, "all.csv: d,b,t,tq,r header: the 23, then r's own columns")
t.ok(rows and all(None not in r and None not in r.values() for r in rows),
     "all.csv: every row has exactly the header's columns")
t.eq(sorted(set(r["type"] for r in rows)), ["b", "d", "r", "t", "tq"],
     "all.csv: d, b, t, tq and r rows")
slow = [r for r in rows if r["type"] == "t" and r["rcpt"] == "slow+r451@demo.test"]
t.ok(len(slow) >= 2, "a t row per failed attempt of the 451 (%d)" % len(slow))
for r in slow[:1]:
    t.eq((r["dsnAction"], r["orig"], r["queue"], r["dlvSize"], r["rcvSourceIp"]),
         ("delayed", "sender@demo.test", "demo.test/{default}", "", ""),
         "t: delayed, the envelope, no size, no r columns")
    t.ok(r["dsnStatus"].startswith("4.2.0 (") and r["dsnDiag"].startswith("smtp;451 ")
         and r["dsnMta"] == "127.0.0.1 (127.0.0.1)" and r["bounceCat"] != ""
         and ISO.match(r["timeQueued"]), "t: the 451's status, diagnostic, MTA, category",
         r)
drop = [r for r in rows if r["type"] == "t" and r["rcpt"] == "drop+xd@demo.test"]
t.ok(drop and "closed the connection" in drop[0]["dsnDiag"]
     and drop[0]["dsnStatus"].startswith("4.4.2") and drop[0]["dlvSourceIp"] == "127.0.0.1",
     "t for a recipient in flight when the connection dropped", drop[:1])
t.eq([r for r in rows if r["type"] == "t" and r["rcpt"] in ("someone@closed.test",
                                                          "user@greet.test")], [],
     "no t rows for recipients that were never tried")
tq = [r for r in rows if r["type"] == "tq" and r["queue"] == "closed.test/{default}"]
t.ok(len(tq) >= 2, "a tq row per failed attempt of the closed port (%d)" % len(tq))
for r in tq[:1]:
    t.eq((r["dsnStatus"], r["dsnMta"], r["dlvType"], r["dlvSourceIp"],
          r["dlvDestinationIp"], r["vmta"]),
         ("4.4.1 (no answer from host)", "127.0.0.1 (127.0.0.1)", "smtp", "0.0.0.0",
          "127.0.0.1", "{default}"), "tq: status, MTA, addresses, vmta")
    t.ok(r["dsnDiag"].startswith("smtp;451 4.4.1 ") and ISO.match(r["timeLogged"]),
         "tq: diagnostic and time", r["dsnDiag"])
    t.eq([k for k in UNION if r[k] and k not in (
        "type", "timeLogged", "dsnStatus", "dsnDiag", "dsnMta", "dlvType",
        "dlvSourceIp", "dlvDestinationIp", "vmta", "queue")], [],
        "tq: only its own columns are filled")
gq = [r for r in rows if r["type"] == "tq" and r["queue"] == "greet.test/{default}"]
t.ok(gq and "421" in gq[0]["dsnDiag"] and gq[0]["dlvSourceIp"] == "127.0.0.1",
     "tq when the greeting is refused", gq[:1])
rr = {r["rcpt"]: r for r in rows if r["type"] == "r"}
t.eq(sorted(rr), sorted(FINAL), "one r row per accepted recipient")
r = rr.get("ok@demo.test")
if r:
    t.eq((r["orig"], r["srcType"], r["srcMta"], r["rcvSourceIp"], r["rcvDestinationIp"],
          r["vmta"], r["dsnStatus"], r["queue"]),
         ("sender@demo.test", "smtp", "client.test (127.0.0.1)", "127.0.0.1",
          "127.0.0.1", "{default}", "", ""), "r: envelope, client, addresses, vmta")
    t.ok(ISO.match(r["timeLogged"]), "r: time")

# -- record-fields, header_ columns, map-header-to-field, iso-times no
header, rows, _ = read(CUSTOM)
t.eq(header, ["type", "rcpt", "jobId", "header_subject", "header_X-Trace", "dsnStatus",
              "timeLogged", "userString", "timeQueued", "orig", "dsnAction", "dsnDiag",
              "dsnMta", "bounceCat", "srcType", "srcMta", "dlvType", "dlvSourceIp",
              "dlvDestinationIp", "dlvEsmtpAvailable", "dlvSize", "vmta", "envId", "queue"],
     "custom.csv: d's list in its order, then b's other columns")
t.ok(all(None not in r and None not in r.values() for r in rows),
     "custom.csv: every row has exactly the header's columns")
cd = [r for r in rows if r["rcpt"] == "ok@demo.test"]
if t.eq(len(cd), 1, "custom: the d row"):
    cd = cd[0]
    t.eq((cd["jobId"], cd["header_subject"], cd["header_X-Trace"], cd["userString"],
          cd["orig"], cd["dsnAction"]),
         ("camp-9", "acct test", "trace, 42", "us-1", "", ""),
         "custom d: mapped jobId, header values, userString; b-only columns empty")
    t.ok(cd["timeLogged"].isdigit() and abs(int(cd["timeLogged"]) - time.time()) < 120,
         "iso-times no: seconds since 1970", cd["timeLogged"])
cb = [r for r in rows if r["rcpt"] == "nobody+r550@demo.test"]
if t.eq(len(cb), 1, "custom: the b row"):
    cb = cb[0]
    t.eq((cb["header_subject"], cb["jobId"], cb["userString"], cb["dsnAction"]),
         ("acct test", "", "", "failed"),
         "custom b: header_Subject shares the column; no map, no userString for b")
    t.ok(cb["timeQueued"].isdigit(), "custom b: time_t times", cb["timeQueued"])

# -- the pipe gets exactly what the file of the same records gets
t.ok(wait_for(lambda: read(PIPED)[2] == all_text, 10),
     "the pipe's output is the file's content (header first, same rows)",
     "%d vs %d bytes" % (len(read(PIPED)[2]), len(all_text)))
# -- a program that exits (head -n 2) is started again, the header first
hl = read(HEADED)[2].split("\r\n")
t.ok(hl.count(",".join(UNION)) >= 2, "the exited program was restarted "
     "and got the header again (%d times)" % hl.count(",".join(UNION)))
t.ok('Error ' in tern.output() and '"head -n 2' in tern.output(),
     "its failure is logged PMTA's way (Error ... \"CMD\")")

# -- move-to with move-interval 2s: the r file is moved on the timer
R_HEADER = "type,timeLogged,orig,rcpt,orcpt,srcType,srcMta,rcvSourceIp,rcvDestinationIp,vmta,vmtaPool,jobId,envId"
moved = wait_for(lambda: sorted(glob.glob(os.path.join(ARCHIVE, "moved-*.csv"))), 5)
t.ok(moved and re.search(r"/moved-\d{4}-\d{2}-\d{2}-0000\.csv$", moved[0]),
     "move-interval: the file is moved into move-to", moved)
parts = [read(m) for m in moved]
t.ok(parts and all(h == R_HEADER.split(",") for h, _, _ in parts)
     and sorted(r["rcpt"] for _, rows, _ in parts for r in rows) == sorted(FINAL),
     "the moved file(s) have the r header and the r rows", [x[2] for x in parts])
t.eq(read(MOVED)[2], R_HEADER + "\r\n", "a new file with the header is in place")

# -- pmta rotate acct
before = read(tern.acct)[2]
p = tern.pmta("rotate", "acct")
t.eq((p.returncode, p.stdout.strip()), (0, "Accounting file rotated."),
     "pmta rotate acct")
today = [time.strftime("%Y-%m-%d", time.localtime(time.time() - s)) for s in (0, 86400)]
rotated = glob.glob(w.file("acct-*.csv"))
t.ok(len(rotated) == 1 and re.search(r"/acct-(\d{4}-\d{2}-\d{2})-0000\.csv$", rotated[0])
     and re.search(r"(\d{4}-\d{2}-\d{2})-0000", rotated[0]).group(1) in today,
     "a rotated file acct-YYYY-MM-DD-0000.csv", rotated)
if rotated:
    with open(rotated[0], newline="") as f:
        t.eq(f.read(), before, "it holds what acct.csv held")
t.eq(read(tern.acct)[2], ",".join(DEFAULT_HEADER) + "\r\n", "acct.csv starts again "
     "with its header")
t.eq(len(glob.glob(w.file("all-*-0000.csv"))), 1, "every file is rotated")
send(["after@demo.test"])
t.ok(wait_for(lambda: rows_of(tern.acct, "d", "after@demo.test"), 10)
     and len(read(tern.acct)[1]) == 1, "the next record goes to the new file")
p = tern.pmta("rotate", "acct", "custom.csv")
t.eq(p.returncode, 0, "pmta rotate acct custom.csv")
t.ok(len(glob.glob(w.file("custom-*-0001.csv"))) == 1
     and len(glob.glob(w.file("acct-*.csv"))) == 1,
     "only the named file is rotated again")
p = tern.pmta("rotate", "acct", "nosuch.csv")
t.ok(p.returncode == 1 and "no accounting file nosuch.csv" in p.stdout + p.stderr,
     "an unknown file is an error", p.stdout + p.stderr)

t.eq(tern.stop(), 0, "pmtad exits 0")
sink.stop()
greet.stop()
if os.environ.get("TERN_KEEP"):
    print("# kept " + w.path)
else:
    w.remove()
t.done()
