"""The SMTP server's dialogue from a raw socket: greeting and EHLO,
pipelined commands answered in order, sequence errors (503), unknown
commands (500), RSET/NOOP, an overlong line, and DATA that ends only at
CRLF.CRLF (a bare "\\n.\\n" is content: no SMTP smuggling)."""
import hashlib
import socket
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for

t = Tap()
w = Workdir("b06")
sink = Sink(w)
tern = Tern(w, relay_config(sink.port))
tern.start()

s = socket.create_connection((tern.ip, tern.port), timeout=10)
f = s.makefile("rb")


def reply():
    lines = []
    while True:
        l = f.readline().decode()
        lines.append(l.rstrip("\r\n"))
        if len(l) < 4 or l[3] != "-":
            return lines


t.ok(reply()[0].startswith("220 tern.test"), "greeting names host-name")
s.sendall(b"MAIL FROM:<a@b.test>\r\n")
t.ok(reply()[0].startswith("503 5.5.1"), "MAIL before EHLO: 503")
s.sendall(b"FOO bar\r\n")
t.ok(reply()[0].startswith("500 5.5.1"), "unknown command: 500")
s.sendall(b"EHLO client.test\r\n")
ehlo = reply()
t.ok(ehlo[0] == "250-tern.test says hello", "EHLO greets", ehlo)
t.ok("250-PIPELINING" in ehlo and "250-ENHANCEDSTATUSCODES" in ehlo, "EHLO lists extensions", ehlo)
s.sendall(b"RCPT TO:<x@demo.test>\r\n")
t.ok(reply()[0].startswith("503"), "RCPT before MAIL: 503")
s.sendall(b"DATA\r\n")
t.ok(reply()[0].startswith("503"), "DATA before MAIL: 503")

body = b"Subject: smuggle\r\n\r\nbefore\n.\nMAIL FROM:<evil@x>\r\nafter\r\n\r\n.\n\r\nend\r\n"
s.sendall(b"MAIL FROM: <a@b.test>\r\nRCPT TO:<one@demo.test>\r\nRCPT  TO:<two@demo.test>\r\nDATA\r\n" +
          body + b".\r\nNOOP\r\n")
codes = [reply()[0][:3] for _ in range(6)]
t.eq(codes, ["250", "250", "250", "354", "250", "250"], "pipelined MAIL/RCPT/RCPT/DATA/body/NOOP answered in order")
s.sendall(b"RSET\r\nMAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\nRSET\r\n")
codes = [reply()[0][:3] for _ in range(4)]
t.eq(codes, ["250", "250", "503", "250"], "a second MAIL in a transaction is refused; RSET ends it")
s.sendall(b"NOOP " + b"x" * 5000 + b"\r\n")
r = reply()[0]
t.ok(r.startswith("500 5.5.2"), "an overlong command line: 500 5.5.2", r)
s.close()

wait_for(lambda: len(sink.messages()) >= 1, 10)
msgs = sink.messages()
t.eq(len(msgs), 1, "one message delivered")
if msgs:
    want = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    t.eq(msgs[0]["sha256"], hashlib.sha256(want).hexdigest(),
         "bare LF lines (even \\n.\\n) stay content, stored with CRLF")
    t.eq(sorted(msgs[0]["rcpts"]), ["one@demo.test", "two@demo.test"], "both recipients in one transaction")
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
