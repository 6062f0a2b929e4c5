"""Header fields at reception (pmta-reference §3.1 step 6): our Received:
in PMTA's form (add-received-header, default yes; hide-message-source
leaves the client out; "for" only with one recipient), X-Envid
(process-x-envid: the envelope ID, removed; MAIL's ENVID= wins),
Message-Id (add-message-id-header, with host-id) and Date
(add-date-header yes / override) added when missing."""
import re
import smtplib
from rawsmtp import Raw
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b30")
sink = Sink(w, maildir=True)
tern = Tern(w, """
host-id 7
<source 127.0.0.0/8>
    always-allow-relaying yes
</source>
<source 127.0.0.1>
    process-x-envid yes
    add-message-id-header yes
    add-date-header yes
</source>
<source 127.0.0.2>
    hide-message-source yes
    add-date-header override
</source>
<source 127.0.0.3>
    add-received-header no
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % sink.port, received=True)
tern.start()


def send(src, rcpts, data, helo="client.test", **kw):
    s = smtplib.SMTP(timeout=20, source_address=(src, 0), local_hostname=helo)
    s.connect(tern.ip, tern.port)
    s.sendmail("sender@example.org", rcpts, data, **kw)
    s.quit()


send("127.0.0.1", ["one@demo.test"],
     "X-Envid: env-abc\r\nSubject: h1\r\n\r\nbody\r\n")
send("127.0.0.1", ["two@demo.test", "three@demo.test"],
     "Subject: h2\r\nMessage-Id: <mine@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
     "X-Envid: from-header\r\n\r\nbody\r\n", mail_options=["ENVID=from-mail"])
send("127.0.0.2", ["four@demo.test"],
     "Subject: h3\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nX-Envid: kept\r\n\r\nbody\r\n")
send("127.0.0.3", ["five@demo.test"], "Subject: h4\r\n\r\nbody\r\n")
c = Raw(tern.ip, tern.port, src="127.0.0.1")
c.send(b"EHLO bdat.client\r\nMAIL FROM:<sender@example.org>\r\nRCPT TO:<six@demo.test>\r\n")
c.reply(), c.reply(), c.reply()
chunk = b"Subject: h5\r\n\r\nbody\r\n"
t.eq(c.cmd(b"BDAT %d LAST\r\n" % len(chunk) + chunk), "250 2.6.0 message received", "BDAT")
c.close()

wait_for(lambda: len(sink.messages()) >= 5, 20)
got = {}
for m in sink.messages():
    data = sink.message_bytes(m).decode()
    subj = re.search(r"^Subject: (\S+)", data, re.M)
    got[subj.group(1) if subj else "?"] = (m, data)

DATE = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"
m, d = got.get("h1", ({}, ""))
first = d.split("\r\n", 1)[0]
t.ok(re.fullmatch(r"Received: from client\.test \(127\.0\.0\.1\) by tern\.test \(Tern v[^)]+\) "
                  r"id (\S+) for <one@demo\.test>; " + DATE +
                  r" \(envelope-from <sender@example\.org>\)", first),
     "Received: first, in PMTA's form", first)
spool_id = first.split(" id ")[1].split(" ")[0] if " id " in first else "?"
t.ok("X-Envid" not in d, "process-x-envid: X-Envid removed")
t.ok(re.search(r"^Message-Id: <%s\.7@tern\.test>\r$" % re.escape(spool_id), d, re.M),
     "add-message-id-header: Message-Id from the spool ID and host-id", d[:400])
t.ok(re.search(r"^Date: " + DATE + r"\r$", d, re.M), "add-date-header yes: a Date added")
t.ok(d.index("Message-Id:") < d.index("\r\n\r\n"), "added fields are in the header section")

m, d = got.get("h2", ({}, ""))
first = d.split("\r\n", 1)[0]
t.ok(first.startswith("Received: from client.test (127.0.0.1) by tern.test") and
     " for <" not in first, "two recipients: no 'for'", first)
t.eq(d.count("Message-Id:"), 1, "a message with a Message-Id gets no other")
t.ok("Date: Mon, 1 Jan 2024 00:00:00 +0000" in d and d.count("Date:") == 1,
     "add-date-header yes keeps an existing Date")
t.ok("X-Envid" not in d, "X-Envid removed although MAIL gave ENVID=")

m, d = got.get("h3", ({}, ""))
first = d.split("\r\n", 1)[0]
t.ok(re.fullmatch(r"Received: by tern\.test \(Tern v[^)]+\) id \S+ for <four@demo\.test>; " + DATE +
                  r" \(envelope-from <sender@example\.org>\)", first),
     "hide-message-source: no client name or address", first)
t.ok("2024" not in d and re.search(r"^Date: " + DATE, d, re.M),
     "add-date-header override: the Date replaced")
t.ok("X-Envid: kept" in d, "without process-x-envid the header stays")
m, d = got.get("h4", ({}, ""))
t.ok(d.startswith("Subject: h4"), "add-received-header no: nothing added", d[:80])
m, d = got.get("h5", ({}, ""))
t.ok(d.startswith("Received: from bdat.client (127.0.0.1) by tern.test"), "BDAT messages too",
     d[:120])

_, rows = tern.acct_when(lambda rs: {"one@demo.test", "two@demo.test"} <=
                         {r["rcpt"] for r in rs if r["type"] == "d"})
envids = {r["rcpt"]: r["envId"] for r in rows if r["type"] == "d"}
t.eq(envids.get("one@demo.test"), "env-abc", "X-Envid is the envelope ID (envId column)")
t.eq(envids.get("two@demo.test"), "from-mail", "MAIL's ENVID= wins over X-Envid")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
