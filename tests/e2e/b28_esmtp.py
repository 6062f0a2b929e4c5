"""The injection side's ESMTP and its strictness, from a raw socket and
from real clients: EHLO in PMTA's order; CHUNKING (BDAT, RFC 3030) with
pipelining, chunks split inside a CRLF, bare LF, DATA mixed in (503),
refused BDATs whose chunks are read and dropped (never taken for
commands); SIZE from max-message-size (MAIL SIZE= and over-size data:
552 5.3.4, nothing stored); SMTPUTF8 (allow-smtputf8); VERP (MAIL
parameter and verp-default: a return path per recipient at delivery);
end of data only at CRLF.CRLF; overlong command lines; client habits;
max-rcpt-per-message and too-many-rcpts-fails-message;
smtp-command-timeout and smtp-data-timeout (421 and close)."""
import smtplib
import subprocess
import time
from rawsmtp import Raw
from ternlib import Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b28")
sink = Sink(w, maildir=True)
tern = Tern(w, """
<source 127.0.0.0/8>
    always-allow-relaying yes
    max-message-size 100K
</source>
<source 127.0.0.3>
    allow-chunking no
    allow-smtputf8 no
</source>
<source 127.0.0.4>
    max-rcpt-per-message 3
</source>
<source 127.0.0.5>
    max-rcpt-per-message 2
    too-many-rcpts-fails-message yes
</source>
<source 127.0.0.6>
    smtp-command-timeout 2s
    smtp-data-timeout 3s
</source>
<source 127.0.0.7>
    verp-default yes
    max-message-size unlimited
</source>
<domain demo.test>
    smtp-hosts [127.0.0.1]:%d
</domain>
""" % sink.port)
tern.start()


def client(src="127.0.0.1", ehlo=True):
    c = Raw(tern.ip, tern.port, src=src)
    if ehlo:
        c.send("EHLO client.test")
        c.ehlo = c.reply()
    return c


def by_subject():
    out = {}
    for m in sink.messages():
        data = sink.message_bytes(m)
        for line in data.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out[line[9:].decode()] = (m, data)
                break
    return out


# --- EHLO ---
c = client()
t.eq(c.ehlo, ["250-tern.test says hello", "250-ENHANCEDSTATUSCODES", "250-PIPELINING",
              "250-CHUNKING", "250-8BITMIME", "250-XACK", "250-SIZE 102400", "250-VERP",
              "250-SMTPUTF8", "250 DSN"],
     "EHLO: PMTA's extensions in PMTA's order, SIZE from max-message-size")
c3 = client("127.0.0.3")
t.ok("250-CHUNKING" not in c3.ehlo and "250-SMTPUTF8" not in c3.ehlo,
     "allow-chunking no, allow-smtputf8 no: neither offered", c3.ehlo)
c7 = client("127.0.0.7")
t.ok("250-SIZE 0" in c7.ehlo, "max-message-size unlimited: SIZE 0", c7.ehlo)
c7.close()

# --- BDAT ---
part1 = b"Subject: bdat1\r\nFrom: a@example.org\r\n\r\nline one\r"
part2 = b"\n.\r\n..two dots stay\r\nbare\nlf\r\n.\r\nlast\r\n"
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL")
t.eq(c.cmd("RCPT TO:<one@demo.test>"), "250 2.1.5 RCPT ok", "RCPT")
c.send(b"BDAT %d\r\n" % len(part1) + part1)
t.eq(c.last(), "250 2.0.0 %d octets received" % len(part1), "BDAT chunk 1: its size")
c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
t.eq(c.last(), "250 2.6.0 message received", "BDAT LAST: the message is received")
want1 = (part1 + part2).replace(b"bare\nlf", b"bare\r\nlf")

# all pipelined, BDAT 0 LAST, then a command behind it
body = b"Subject: bdat2\r\n\r\nQUIT\r\nRSET\r\n"
c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<two@demo.test>\r\nBDAT %d\r\n" % len(body)
       + body + b"BDAT 0 LAST\r\nNOOP\r\n")
codes = [c.last() for _ in range(5)]
t.eq([x[:3] if x else None for x in codes], ["250", "250", "250", "250", "250"],
     "pipelined MAIL/RCPT/BDAT/BDAT 0 LAST/NOOP answered in order")
t.eq(codes[3], "250 2.6.0 message received", "BDAT 0 LAST ends the message")
t.ok(c.silent(), "the chunk's QUIT and RSET were content, not commands")

# DATA after BDAT, and BDAT after a finished DATA-less transaction
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL")
t.eq(c.cmd("RCPT TO:<never@demo.test>"), "250 2.1.5 RCPT ok", "RCPT")
c.send(b"BDAT 5\r\nabcde")
t.eq(c.last(), "250 2.0.0 5 octets received", "a first chunk")
t.eq(c.cmd("DATA"), "503 5.5.1 bad sequence of commands: DATA after BDAT",
     "DATA after BDAT: 503")
t.eq(c.cmd("MAIL FROM:<a@example.org>"),
     "503 5.5.1 bad sequence of commands: send HELO/EHLO first, one MAIL per transaction",
     "MAIL inside a BDAT transaction: 503")
t.eq(c.cmd("RSET"), "250 2.0.0 reset", "RSET abandons it")

# refused BDATs: the chunk is read and dropped
smuggle = b"MAIL FROM:<x@evil.test>\r\nRCPT TO:<smuggled@demo.test>\r\nDATA\r\n"
c.send(b"BDAT %d LAST\r\n" % len(smuggle) + smuggle)
t.eq(c.last(), "503 5.5.1 bad sequence of commands: need MAIL and RCPT before BDAT",
     "BDAT without MAIL: 503")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "its chunk was dropped, not run as commands")
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL")
t.eq(c.code("RCPT TO:<nodomain>"), "501", "a bad RCPT")
c.send(b"BDAT %d\r\n" % len(smuggle) + smuggle)
t.eq(c.last(), "554 5.5.1 no valid recipients", "BDAT without a recipient: 554")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "and its chunk dropped")
c3.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<x@demo.test>\r\nBDAT %d LAST\r\n"
        % len(smuggle) + smuggle + b"NOOP\r\n")
codes = [c3.last() for _ in range(4)]
t.eq(codes[2], "502 5.5.1 BDAT not available", "allow-chunking no: BDAT refused")
t.eq(codes[3], "250 2.0.0 ok", "and its chunk dropped")
c3.close()

# --- SIZE (max-message-size 100K) ---
t.eq(c.cmd("RSET"), "250 2.0.0 reset", "RSET")
t.eq(c.cmd("MAIL FROM:<a@example.org> SIZE=102401"),
     "552 5.3.4 message size exceeds the limit of 102400 bytes", "MAIL SIZE= over the limit: 552")
t.eq(c.cmd("MAIL FROM:<a@example.org> SIZE=102400"), "250 2.1.0 MAIL ok", "SIZE= at the limit")
t.eq(c.cmd("RCPT TO:<big@demo.test>"), "250 2.1.5 RCPT ok", "RCPT")
t.eq(c.cmd("DATA"), "354 send message", "DATA")
big = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n"
c.send(big * 110 + b".\r\n")
t.eq(c.last(), "552 5.3.4 message too big", "a message over the limit: 552 after its data")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "the session goes on")
c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<big@demo.test>\r\n")
c.reply(), c.reply()
chunk = big * 60
c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
t.eq(c.last(), "250 2.0.0 %d octets received" % len(chunk), "BDAT: a first 60K chunk")
c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
t.eq(c.last(), "552 5.3.4 message too big", "BDAT: the chunk that passes the limit: 552")
c.send(b"BDAT %d LAST\r\n" % len(smuggle) + smuggle)
t.eq(c.last(), "503 5.5.1 bad sequence of commands: need MAIL and RCPT before BDAT",
     "the transaction is over: the next BDAT is 503")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "and its chunk dropped")
c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<big@demo.test>\r\n")
c.reply(), c.reply()
chunk = big * 105
c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
t.eq(c.last(), "552 5.3.4 message too big", "BDAT LAST over the limit: 552")

# --- SMTPUTF8 ---
t.eq(c.cmd("MAIL FROM:<j\u00fcrgen@example.org>"),
     "553 5.6.7 non-ASCII address needs SMTPUTF8: <j\u00fcrgen@example.org>",
     "a non-ASCII sender without SMTPUTF8: 553 5.6.7")
t.eq(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 MAIL ok", "MAIL")
t.eq(c.code("RCPT TO:<m\u00fcller@demo.test>"), "553", "a non-ASCII recipient without SMTPUTF8: 553")
t.eq(c.cmd("RSET"), "250 2.0.0 reset", "RSET")
t.eq(c.cmd("MAIL FROM:<j\u00fcrgen@example.org> SMTPUTF8"), "250 2.1.0 MAIL ok",
     "with SMTPUTF8: accepted")
t.eq(c.cmd("RCPT TO:<m\u00fcller@demo.test>"), "250 2.1.5 RCPT ok", "a UTF-8 recipient too")
c.send(b"RCPT TO:<bad\xff@demo.test>\r\n")
t.eq(c.last(), "501 5.5.4 syntax error: invalid UTF-8 in address", "invalid UTF-8: 501")
t.eq(c.cmd("RSET"), "250 2.0.0 reset", "RSET")
c3 = client("127.0.0.3")
t.eq(c3.cmd("MAIL FROM:<a@example.org> SMTPUTF8"), "555 5.5.4 unsupported parameter SMTPUTF8",
     "allow-smtputf8 no: the parameter is refused")
c3.close()

# --- VERP ---
t.eq(c.cmd("MAIL FROM:<bounce@example.org> VERP"), "250 2.1.0 MAIL ok", "MAIL ... VERP")
t.eq(c.cmd("RCPT TO:<v1@demo.test>"), "250 2.1.5 RCPT ok", "RCPT")
t.eq(c.cmd("RCPT TO:<v2@demo.test>"), "250 2.1.5 RCPT ok", "RCPT")
t.eq(c.cmd("DATA"), "354 send message", "DATA")
t.eq(c.cmd(b"Subject: verp\r\n\r\nhi\r\n.\r\n"), "250 2.6.0 message received", "accepted")
c7 = client("127.0.0.7")
c7.send(b"MAIL FROM:<news@example.org>\r\nRCPT TO:<v3@demo.test>\r\nDATA\r\n")
c7.reply(), c7.reply(), c7.reply()
t.eq(c7.cmd(b"Subject: verp-default\r\n\r\nhi\r\n.\r\n"), "250 2.6.0 message received",
     "verp-default source: accepted")
c7.close()

# --- end of data only at CRLF.CRLF ---
tricky = (b"Subject: smuggle2\r\n\r\nA\r.\rMAIL FROM:<e@x>\r\nB\n.\r\nRCPT TO:<e@demo.test>\r\n"
          b"C\r\n.\nDATA\r\nD\r\n.x\r\n")
c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<smug@demo.test>\r\nDATA\r\n" + tricky
       + b".\r\nNOOP\r\n")
codes = [c.last() for _ in range(5)]
t.eq([x[:3] if x else None for x in codes], ["250", "250", "354", "250", "250"],
     "CR.CR, LF.CRLF, CRLF.LF are content: one message, then NOOP")
t.ok(c.silent(), "nothing inside the data was run")

# --- overlong command lines ---
t.eq(c.cmd("NOOP " + "x" * 5000), "500 5.5.2 line too long", "a 5000-octet line: 500 5.5.2")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "the session goes on")
for _ in range(10):
    c.send(b"y" * 8000)
t.eq(c.cmd(""), "500 5.5.2 line too long", "an 80,000-octet line sent in pieces: one 500")
t.eq(c.cmd("NOOP"), "250 2.0.0 ok", "the session still goes on")
t.ok(c.silent(), "no other reply")

# --- client habits (pmta-interfaces §4.2) ---
t.eq(c.cmd("mail from: <a@example.org>  "), "250 2.1.0 MAIL ok",
     "lower case, a space after the colon, trailing spaces")
t.eq(c.cmd("RCPT  TO:<habit@demo.test> "), "250 2.1.5 RCPT ok", "a double space after RCPT")
t.eq(c.cmd("DATA "), "354 send message", "DATA with a trailing space")
t.eq(c.cmd(b"Subject: habits\r\n\r\nhi\r\n.\r\n"), "250 2.6.0 message received", "accepted")
t.eq(c.cmd("BDAT x"), "501 5.5.4 syntax error: expected a size and optional LAST",
     "a BDAT without a size: 501")
t.ok(c.closed(), "and the connection closes (its chunk cannot be skipped)")

# --- max-rcpt-per-message ---
c4 = client("127.0.0.4")
c4.cmd("MAIL FROM:<a@example.org>")
got = [c4.code("RCPT TO:<r%d@demo.test>" % i) for i in range(5)]
t.eq(got, ["250", "250", "250", "452", "452"], "max-rcpt-per-message 3: the 4th gets 452")
t.eq(c4.cmd("DATA"), "354 send message", "DATA")
t.eq(c4.cmd(b"Subject: maxrcpt\r\n\r\nhi\r\n.\r\n"), "250 2.6.0 message received",
     "the message goes to the first three")
c4.close()
c5 = client("127.0.0.5")
c5.cmd("MAIL FROM:<a@example.org>")
got = [c5.code("RCPT TO:<f%d@demo.test>" % i) for i in range(3)]
t.eq(got, ["250", "250", "250"], "too-many-rcpts-fails-message: every RCPT gets 250")
t.eq(c5.cmd("DATA"), "552 5.5.3 too many recipients", "and DATA is refused")
c5.cmd("MAIL FROM:<a@example.org>")
c5.cmd("RCPT TO:<f1@demo.test>")
c5.cmd("RCPT TO:<f2@demo.test>")
c5.cmd("RCPT TO:<f3@demo.test>")
c5.send(b"BDAT 3 LAST\r\nabc")
t.eq(c5.last(), "552 5.5.3 too many recipients", "BDAT too")
t.eq(c5.cmd("NOOP"), "250 2.0.0 ok", "its chunk dropped")
c5.close()

# --- timeouts ---
c6 = client("127.0.0.6")
start = time.time()
r = c6.last()
t.eq(r, "421 4.4.2 tern.test timeout, closing", "smtp-command-timeout 2s: 421")
t.ok(1.5 < time.time() - start < 6, "after about 2 s", time.time() - start)
t.ok(c6.closed(), "and closed")
c6 = client("127.0.0.6")
c6.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<slow@demo.test>\r\nDATA\r\n")
c6.reply(), c6.reply(), c6.reply()
start = time.time()
c6.send(b"Subject: slow\r\n\r\npartial")
t.eq(c6.last(), "421 4.4.2 tern.test timeout, closing", "smtp-data-timeout 3s: 421")
t.ok(2.5 < time.time() - start < 7, "after about 3 s, not the command timeout",
     time.time() - start)
c6.close()
c.close()

# --- a real client ---
swaks = subprocess.run(["swaks", "--server", "%s:%d" % (tern.ip, tern.port), "--from",
                        "a@example.org", "--to", "swaks@demo.test", "--header",
                        "Subject: swaks", "--pipeline", "--body", "via swaks"],
                       capture_output=True, text=True, timeout=60)
t.ok(swaks.returncode == 0, "swaks: accepted", swaks.stdout[-600:])

# --- what arrived ---
wait_for(lambda: len(sink.messages()) >= 9, 20)
got = by_subject()
m, data = got.get("bdat1", (None, b""))
t.eq(data, want1, "BDAT: the chunks joined, a CRLF split across them kept whole, "
     "dots as sent, a bare LF stored as CRLF")
m, data = got.get("bdat2", (None, b""))
t.eq(data, body, "BDAT 0 LAST: the message as sent")
msgs = sink.messages()
rcpts = sorted(r for m in msgs for r in m["rcpts"])
t.ok("smuggled@demo.test" not in rcpts and "e@demo.test" not in rcpts and
     "never@demo.test" not in rcpts and "big@demo.test" not in rcpts,
     "nothing smuggled, abandoned or too big was delivered", rcpts)
verp = sorted(m["mail_from"] for m in msgs if m["rcpts"][0] in
              ("v1@demo.test", "v2@demo.test", "v3@demo.test"))
t.eq(verp, ["bounce-v1=demo.test@example.org", "bounce-v2=demo.test@example.org",
            "news-v3=demo.test@example.org"],
     "VERP: one transaction per recipient, each from its own return path")
m, data = got.get("smuggle2", (None, b""))
t.eq(data, tricky.replace(b"B\n.", b"B\r\n.").replace(b".\nDATA", b".\r\nDATA")
     .replace(b"\r\n.x", b"\r\nx"),
     "the tricky data arrived as content (bare LF stored as CRLF, bare CR kept)")
m, data = got.get("maxrcpt", (None, b""))
t.eq(sorted(m["rcpts"]) if m else None, ["r0@demo.test", "r1@demo.test", "r2@demo.test"],
     "max-rcpt-per-message: the message has the first three")
t.ok("habits" in got and "swaks" in got, "the client-habits and swaks messages arrived")
t.ok(not any(r.startswith("f") for r in rcpts), "too-many-rcpts-fails-message: nothing sent")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
