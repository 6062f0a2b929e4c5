#!/usr/bin/env python3
"""test_smtpsink: TAP tests for tests/tools/smtpsink, the fault-injecting
SMTP sink that the end-to-end tests deliver to.

Needs TERN_BUILDDIR (the build tree; make check sets it).  Each sink runs
on ephemeral ports of 127.0.0.1 (and 127.0.0.2) and is found through its
"smtpsink: listening on IP:PORT" lines.  Set SMTPSINK_WRAPPER to run the
sink under a tool, e.g. SMTPSINK_WRAPPER="valgrind --leak-check=full
--errors-for-leak-kinds=all --error-exitcode=99"; the last test checks
that the sink exits 0 on SIGTERM.  Standard library only.
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

TIMEOUT = 10.0
RESULTS = []


def tap(cond, desc, diag=None):
    RESULTS.append(bool(cond))
    print("%s %d - %s" % ("ok" if cond else "not ok", len(RESULTS), desc))
    if not cond and diag:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return cond


class Sink:
    """One smtpsink process with its record file and maildir."""

    def __init__(self, tmp, name, listen=("127.0.0.1:0",), args=()):
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        self.record = os.path.join(self.dir, "record.jsonl")
        self.maildir = os.path.join(self.dir, "mail")
        self.pidfile = os.path.join(self.dir, "pid")
        self.errpath = os.path.join(self.dir, "stderr")
        os.mkdir(self.maildir)
        cmd = shlex.split(os.environ.get("SMTPSINK_WRAPPER", ""))
        cmd.append(os.path.join(BUILDDIR, "tests", "tools", "smtpsink"))
        for spec in listen:
            cmd += ["--listen", spec]
        cmd += ["--record", self.record, "--maildir", self.maildir,
                "--pidfile", self.pidfile] + list(args)
        self.err = open(self.errpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        self.ports = self._wait_listening(len(listen))

    def _wait_listening(self, n):
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(self.errpath, "r", errors="replace") as f:
                found = re.findall(r"smtpsink: listening on (\S+):(\d+)\n",
                                   f.read())
            if len(found) == n:
                return [(h.strip("[]"), int(p)) for h, p in found]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("sink did not start:\n" + self.stderr())

    def stderr(self):
        with open(self.errpath, "r", errors="replace") as f:
            return f.read()

    @property
    def port(self):
        return self.ports[0][1]

    def records(self):
        try:
            with open(self.record, "r", encoding="utf-8") as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    def wait_record(self, pred, timeout=TIMEOUT):
        """The first record matching pred, waiting for it to appear."""
        deadline = time.time() + timeout
        while True:
            for r in self.records():
                if pred(r):
                    return r
            if time.time() > deadline:
                return None
            time.sleep(0.02)

    def stop(self):
        """SIGTERM; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.err.close()
        return rc


class Client:
    """A raw SMTP client: write bytes, read whole replies."""

    def __init__(self, host, port, source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=TIMEOUT,
            source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """(code, [lines]) of one reply, multi-line ones included."""
        lines = [self._line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self._line())
        return int(lines[0][:3]), lines

    def code(self):
        return self.reply()[0]

    def closed(self):
        """True if the peer closes with nothing more to read."""
        try:
            return self.buf == b"" and self.sock.recv(4096) == b""
        except ConnectionResetError:
            return True

    def local(self):
        return "%s:%d" % self.sock.getsockname()[:2]

    def close(self):
        self.sock.close()


def greeted(sink, host="127.0.0.1", port=None, source=None):
    c = Client(host, port or sink.port, source)
    c.reply()
    c.send(b"EHLO client.test\r\n")
    c.reply()
    return c


def message(tag, body=b"Subject: test\r\n\r\nhello\r\n"):
    return b"From: a@test\r\nX-Tag: " + tag.encode() + b"\r\n" + body


def stuffed(data):
    """Dot-stuff data (CRLF lines, ends with CRLF) and add the marker."""
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l
                        for l in lines[:-1]) + b"\r\n.\r\n"


def is_msg(mail_from):
    return lambda r: (r["event"] == "message" and
                      r["mail_from"] == mail_from)


# --- the tests ------------------------------------------------------------

def t_ehlo(sink):
    c = Client("127.0.0.1", sink.port)
    code, lines = c.reply()
    tap(code == 220 and "sink.test" in lines[0], "greeting 220 sink.test",
        lines)
    c.send(b"EHLO client.test\r\n")
    code, lines = c.reply()
    kw = [l[4:] for l in lines[1:]]
    tap(code == 250 and kw == ["PIPELINING", "8BITMIME", "SIZE 104857600",
                               "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"],
        "EHLO advertises the extensions", lines)
    c.send(b"QUIT\r\n")
    tap(c.reply()[1] == ["221 2.0.0 bye"] and c.closed(),
        "QUIT: 221 and close")
    c.close()


def t_plain_accept(sink):
    data = message("plain", b"\r\n.leading dot\r\n..two\r\nend\r\n")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=TIMEOUT) as s:
        s.ehlo("plain.test")
        s.mail("plain@test")
        code, _ = s.rcpt("alice@dest.test")
        code2, _ = s.rcpt("bob+tag@dest.test")
        dcode, dtext = s.data(data)
    tap(code == 250 and code2 == 250 and dcode == 250 and
        re.match(rb"2\.0\.0 ok \d+$", dtext), "plain recipients accepted",
        (code, code2, dcode, dtext))
    r = sink.wait_record(is_msg("plain@test"))
    tap(r is not None and r["reply"] == 250 and
        r["rcpts"] == ["alice@dest.test", "bob+tag@dest.test"] and
        r["rejected"] == [] and r["helo"] == "plain.test" and
        r["esmtp"] is True, "message record: helo, rcpts, reply", r)
    tap(r is not None and r["size"] == len(data) and
        r["sha256"] == hashlib.sha256(data).hexdigest(),
        "sha256 and size are those of the unstuffed data", r)
    path = os.path.join(sink.maildir, "%s.eml" % (r or {}).get("id"))
    tap(os.path.exists(path) and open(path, "rb").read() == data and
        dtext.endswith(b" " + r["id"].encode()),
        "maildir holds the data under the id given in the reply")


def t_rcpt_codes(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=TIMEOUT) as s:
        s.ehlo("codes.test")
        s.mail("codes@test")
        r550 = s.rcpt("u+r550@dest.test")
        r450 = s.rcpt("u+R450+tag@dest.test")
        m451 = s.rcpt("v+r451+m=mailbox_busy@dest.test")
        ok = s.rcpt("u+r250@dest.test")
        dcode, _ = s.data(message("codes"))
    tap(r550 == (550, b"5.1.1 scripted rejection"), "r550", r550)
    tap(r450 == (450, b"4.2.0 scripted deferral"), "r450 (any case)", r450)
    tap(m451 == (451, b"4.2.0 mailbox busy"), "m=TEXT: the reply's text", m451)
    r = sink.wait_record(is_msg("codes@test"))
    tap(dcode == 250 and r and r["rcpts"] == ["u+r250@dest.test"] and
        r["rejected"] == [{"rcpt": "u+r550@dest.test", "code": 550},
                          {"rcpt": "u+R450+tag@dest.test", "code": 450},
                          {"rcpt": "v+r451+m=mailbox_busy@dest.test", "code": 451}],
        "rejected recipients listed with their codes", r)
    ev = [x for x in sink.records() if x["event"] == "rcpt" and
          x["rcpt"].startswith("u+")]
    tap([x["code"] for x in ev] == [550, 450, 250],
        "one rcpt record per RCPT answered", ev)


def t_no_enhanced(sink):
    c = greeted(sink)
    c.send(b"MAIL FROM:<ne@test>\r\nRCPT TO:<u+r553+ne@dest.test>\r\n"
           b"RCPT TO:<v+r550@dest.test>\r\nRSET\r\n")
    got = [c.reply()[1][0] for _ in range(4)]
    tap(got[1] == "553 scripted rejection" and
        got[2] == "550 5.1.1 scripted rejection",
        "ne: the scripted reply has no enhanced code", got)
    c.close()


def t_rcpt_421(sink):
    c = greeted(sink)
    c.send(b"MAIL FROM:<c421@test>\r\nRCPT TO:<u+r421@dest.test>\r\n"
           b"NOOP\r\n")
    c.reply()
    code, lines = c.reply()
    tap(lines == ["421 4.4.2 scripted closing"] and c.closed(),
        "r421: 421 then close, later commands unanswered", lines)
    c.close()


def t_data_codes(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=TIMEOUT) as s:
        s.ehlo("d.test")
        s.mail("d550@test")
        s.rcpt("plain@dest.test")
        s.rcpt("u+d550@dest.test")
        s.rcpt("v+d451@dest.test")
        d = s.data(message("d550"))
        s.rset()
        s.mail("after-d550@test")
        s.rcpt("x@dest.test")
        after = s.data(message("after"))
    tap(d == (550, b"5.7.1 scripted rejection"),
        "d550: the first accepted d-token decides", d)
    r = sink.wait_record(is_msg("d550@test"))
    tap(r and r["reply"] == 550 and
        not os.path.exists(os.path.join(sink.maildir, r["id"] + ".eml")),
        "rejected message recorded, not stored", r)
    tap(after[0] == 250, "next transaction on the connection is plain",
        after)
    c = greeted(sink)
    c.send(b"MAIL FROM:<d421@test>\r\nRCPT TO:<u+d421@dest.test>\r\n"
           b"DATA\r\n")
    codes = [c.code() for _ in range(3)]
    c.send(stuffed(message("d421")) + b"NOOP\r\n")
    codes.append(c.code())
    tap(codes == [250, 250, 354, 421] and c.closed(),
        "d421: 421 at the end of data, then close", codes)
    c.close()


def t_pipelining(sink):
    c = Client("127.0.0.1", sink.port)
    c.reply()
    c.send(b"EHLO pipe.test\r\nMAIL FROM:<pipe@test>\r\n"
           b"RCPT TO:<a@dest.test>\r\nRCPT TO:<b+r550@dest.test>\r\n"
           b"RCPT TO:<c+r452@dest.test>\r\nRCPT TO:<d+w150@dest.test>\r\n"
           b"RCPT TO:<e+r551+w50@dest.test>\r\nDATA\r\n")
    codes = [c.code() for _ in range(8)]
    c.send(stuffed(message("pipe")) + b"RSET\r\nnoop\r\n"
           b"VRFY someone\r\nBOGUS\r\nRCPT TO:<x@y>\r\nHELO again\r\n"
           b"QUIT\r\n")
    codes += [c.code() for _ in range(8)]
    want = [250, 250, 250, 550, 452, 250, 551, 354,
            250, 250, 250, 252, 500, 503, 250, 221]
    tap(codes == want and c.closed(),
        "pipelined commands answered in order", (codes, want))
    c.close()
    # Everything in a single write, DATA content included.
    c = Client("127.0.0.1", sink.port)
    c.send(b"HELO one.test\r\nMAIL FROM:<one@test>\r\n"
           b"RCPT TO:<a+w100@dest.test>\r\nDATA\r\n" +
           stuffed(message("one")) + b"QUIT\r\n")
    codes = [c.code() for _ in range(7)]
    r = sink.wait_record(is_msg("one@test"))
    tap(codes == [220, 250, 250, 250, 354, 250, 221] and c.closed() and r and
        r["esmtp"] is False and r["helo"] == "one.test",
        "whole session in one write (HELO)", (codes, r))
    c.close()


def t_drops(sink):
    c = greeted(sink)
    c.send(b"MAIL FROM:<xr@test>\r\nRCPT TO:<ok@dest.test>\r\n"
           b"RCPT TO:<u+xr@dest.test>\r\nNOOP\r\n")
    codes = [c.code(), c.code()]
    tap(codes == [250, 250] and c.closed(),
        "xr: connection dropped at that RCPT, no reply", codes)
    c.close()
    c = greeted(sink)
    c.send(b"MAIL FROM:<xd@test>\r\nRCPT TO:<u+xd@dest.test>\r\nDATA\r\n")
    codes = [c.code() for _ in range(3)]
    c.send(stuffed(message("xd")))
    r = sink.wait_record(is_msg("xd@test"))
    tap(codes == [250, 250, 354] and c.closed() and r and
        r["reply"] == 0 and r["sha256"] ==
        hashlib.sha256(message("xd")).hexdigest(),
        "xd: data received, recorded with reply 0, dropped", (codes, r))
    c.close()


def t_waits(sink):
    c = greeted(sink)
    c.send(b"MAIL FROM:<wait@test>\r\n")
    c.reply()
    t0 = time.monotonic()
    c.send(b"RCPT TO:<u+w400@dest.test>\r\nNOOP\r\n")
    code = c.code()
    t1 = time.monotonic()
    noop = c.code()
    tap(code == 250 and t1 - t0 >= 0.4,
        "w400: RCPT reply not before 400 ms (%.3f s)" % (t1 - t0))
    c.send(b"DATA\r\n")
    c.reply()
    c.send(stuffed(message("wait")) + b"RSET\r\n")
    codes = [c.code(), c.code()]
    tap(codes == [250, 250] and noop == 250,
        "later pipelined commands are answered after the wait", codes)
    c.close()
    c = greeted(sink)
    c.send(b"MAIL FROM:<wd@test>\r\nRCPT TO:<u+wd300@dest.test>\r\n"
           b"DATA\r\n")
    [c.code() for _ in range(3)]
    t0 = time.monotonic()
    c.send(stuffed(message("wd")))
    code = c.code()
    t1 = time.monotonic()
    tap(code == 250 and t1 - t0 >= 0.3,
        "wd300: end-of-data reply not before 300 ms (%.3f s)" % (t1 - t0))
    c.close()
    c = greeted(sink)
    c.send(b"MAIL FROM:<wb@test>\r\nRCPT TO:<u+wb300@dest.test>\r\n"
           b"DATA\r\n")
    [c.code() for _ in range(3)]
    t0 = time.monotonic()
    c.send(stuffed(message("wb")))
    code = c.code()
    t1 = time.monotonic()
    tap(code == 250 and t1 - t0 >= 0.3,
        "wb300: the content is read only after 300 ms (%.3f s)" % (t1 - t0))
    c.close()


def t_records(sink):
    c = greeted(sink)
    me = c.local()
    c.send(b"MAIL FROM:<rec@test> SMTPUTF8\r\nRCPT TO:<r\xc3\xa9c\"q@dest.test>\r\n"
           b"DATA\r\n")
    [c.code() for _ in range(3)]
    c.send(stuffed(message("rec")) + b"QUIT\r\n")
    c.code(), c.code()
    c.close()
    close = sink.wait_record(lambda r: r["event"] == "close" and
                             r["peer"] == me)
    mine = [r for r in sink.records() if r.get("peer") == me]
    keys = {
        "connect": ["event", "t", "peer", "local"],
        "rcpt": ["event", "t", "peer", "local", "rcpt", "code", "params"],
        "message": ["event", "t", "peer", "local", "helo", "esmtp",
                    "mail_from", "mail_params", "rcpts", "rejected", "size", "reply",
                    "sha256", "id", "pipelined", "tls"],
        "quit": ["event", "t", "peer", "local"],
        "close": ["event", "t", "peer", "local"],
    }
    tap(close is not None and
        [r["event"] for r in mine] == ["connect", "rcpt", "message", "quit",
                                       "close"]
        and all(list(r) == keys[r["event"]] for r in mine),
        "records: connect, rcpt, message, quit, close with exactly their keys",
        mine)
    ts = [r["t"] for r in mine]
    tap(all(isinstance(t, float) for t in ts) and ts == sorted(ts) and
        abs(ts[0] - time.time()) < 60 and
        all(r["local"] == "127.0.0.1:%d" % sink.port for r in mine),
        "records: t is wall time, local is the listener", mine)
    tap(len(mine) > 2 and mine[1]["rcpt"] == 'r\u00e9c"q@dest.test' and
        mine[2]["id"].isdigit(), "records: UTF-8 and quotes survive JSON",
        mine)


def t_params(sink):
    """MAIL/RCPT parameters: checked against EHLO, recorded as sent."""
    c = greeted(sink)
    me = c.local()
    c.send(b"MAIL FROM:<par@test> SIZE=100 BODY=8BITMIME RET=HDRS "
           b"ENVID=e+2B1\r\n"
           b"RCPT TO:<a@dest.test> NOTIFY=SUCCESS,FAILURE "
           b"ORCPT=rfc822;a+2Bx@dest.test\r\n"
           b"RCPT TO:<b@dest.test> FOO=1\r\n"
           b"RCPT TO:<b\xc3\xa9@dest.test>\r\nDATA\r\n")
    codes = [c.code() for _ in range(5)]
    c.send(stuffed(message("par")) + b"QUIT\r\n")
    codes += [c.code(), c.code()]
    c.close()
    r = sink.wait_record(is_msg("par@test"))
    rc = [x for x in sink.records() if x["event"] == "rcpt" and
          x["peer"] == me]
    tap(codes == [250, 250, 555, 553, 354, 250, 221],
        "parameters: offered ones accepted, unknown 555, 8-bit address "
        "without SMTPUTF8 553", codes)
    tap(r and r["mail_params"] == "SIZE=100 BODY=8BITMIME RET=HDRS ENVID=e+2B1"
        and r["pipelined"] is True
        and rc and rc[0]["params"] == "NOTIFY=SUCCESS,FAILURE "
        "ORCPT=rfc822;a+2Bx@dest.test", "parameters recorded as sent",
        (r, rc))
    c = greeted(sink)
    c.send(b"MAIL FROM:<big@test> SIZE=104857601\r\nMAIL FROM:<x@test> "
           b"SMTPUTF8=1\r\n")
    codes = [c.code(), c.code()]
    tap(codes == [552, 555], "SIZE= over the limit: 552; SMTPUTF8 takes no "
        "value", codes)
    c.close()
    c = Client("127.0.0.1", sink.port)
    c.reply()
    c.send(b"HELO x\r\nMAIL FROM:<a@test> BODY=8BITMIME\r\n")
    codes = [c.code(), c.code()]
    tap(codes == [250, 555], "after HELO no parameter is accepted", codes)
    c.close()


def t_new_options(tmp):
    s = Sink(tmp, "ext", args=["--no-ext", "dsn", "--no-ext", "SMTPUTF8",
                               "--no-ext", "8bitmime", "--size", "1000",
                               "--quiet"])
    c = Client("127.0.0.1", s.port)
    c.reply()
    c.send(b"EHLO x\r\n")
    kw = [l[4:] for l in c.reply()[1][1:]]
    c.send(b"MAIL FROM:<a@test> RET=FULL\r\nMAIL FROM:<a@test> SIZE=1001\r\n"
           b"MAIL FROM:<a@test> SIZE=1000\r\nRCPT TO:<b@dest.test>\r\n"
           b"DATA\r\n")
    codes = [c.code() for _ in range(5)]
    c.send(stuffed(b"Subject: x\r\n\r\n" + b"y" * 1200 + b"\r\n"))
    codes.append(c.code())
    tap(kw == ["PIPELINING", "SIZE 1000", "ENHANCEDSTATUSCODES"] and
        codes == [555, 552, 250, 250, 354, 552],
        "--no-ext, --size: keywords gone, their parameters refused, "
        "SIZE enforced on MAIL and on the content", (kw, codes))
    c.close()
    s.stop()
    s = Sink(tmp, "delays", args=["--greeting-delay", "400", "--ehlo-stall",
                                  "300", "--quiet"])
    t0 = time.monotonic()
    c = Client("127.0.0.1", s.port)
    c.send(b"EHLO x\r\n")
    g = c.code()
    t1 = time.monotonic()
    c.sock.settimeout(TIMEOUT)
    first = c._line()
    t2 = time.monotonic()
    rest = c.reply()
    t3 = time.monotonic()
    tap(g == 220 and t1 - t0 >= 0.4 and first.startswith("250-") and
        t3 - t2 >= 0.25 and rest[0] == 250,
        "--greeting-delay 400, --ehlo-stall 300 (%.3f s, %.3f s)" %
        (t1 - t0, t3 - t2), (g, first, rest))
    c.close()
    s.stop()
    for code, closed in ((500, False), (421, True)):
        s = Sink(tmp, "ehlo%d" % code, args=["--ehlo-reply", str(code),
                                             "--quiet"])
        c = Client("127.0.0.1", s.port)
        c.reply()
        c.send(b"EHLO x\r\n")
        got = c.code()
        if not closed:
            c.send(b"HELO x\r\n")
            helo = c.code()
        tap(got == code and (c.closed() if closed else helo == 250),
            "--ehlo-reply %d%s" % (code, ": then close" if closed else
                                   ": HELO still works"))
        c.close()
        s.stop()


def t_two_listeners(sink2):
    seen = []
    for (host, port) in sink2.ports:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as s:
            s.ehlo("two.test")
            s.mail("two-%s@test" % host)
            s.rcpt("a@dest.test")
            code, _ = s.data(message("two"))
        r = sink2.wait_record(is_msg("two-%s@test" % host))
        seen.append((code, r and r["local"], "%s:%d" % (host, port)))
    tap([h for h, _ in sink2.ports] == ["127.0.0.1", "127.0.0.2"] and
        all(code == 250 and got == want for code, got, want in seen),
        "two listeners: both accept, records name the right local", seen)


def t_limits(sink):
    c = greeted(sink)
    c.send(b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\n")
    codes = [c.code(), c.code()]
    c.send(b"NOOP " + b"y" * 4091 + b"\r\n")
    codes.append(c.code())
    tap(codes == [500, 250, 250], "a line over 4096 bytes: 500, then on",
        codes)
    c.send(b"MAIL FROM:<big@test>\r\nRCPT TO:<a@dest.test>\r\nDATA\r\n")
    [c.code() for _ in range(3)]
    line = b"0123456789" * 99 + b"\r\n"
    data = b"Subject: big\r\n\r\n" + line * 3000 + b".\r\n.x\r\n\n.\nend\r\n"
    c.send(stuffed(data))
    code = c.code()
    r = sink.wait_record(is_msg("big@test"))
    tap(code == 250 and r and r["size"] == len(data) and
        r["sha256"] == hashlib.sha256(data).hexdigest(),
        "3 MB message, dot lines and bare-LF dots kept", r)
    c.send(b"MAIL FROM:<x@test>\r\nDATA\r\n")
    codes = [c.code(), c.code()]
    c.close()
    c = Client("127.0.0.1", sink.port)
    c.reply()
    c.send(b"MAIL FROM:<early@test>\r\n")
    codes.append(c.code())
    c.close()
    tap(codes == [250, 503, 503], "503 for DATA without RCPT, MAIL before "
        "EHLO", codes)


def t_many(sink, n=200):
    clients = [Client("127.0.0.1", sink.port) for _ in range(n)]
    for i, c in enumerate(clients):
        c.send(b"EHLO many.test\r\nMAIL FROM:<many%d@test>\r\n"
               b"RCPT TO:<a@dest.test>\r\nDATA\r\n" % i)
    for c in clients:
        [c.code() for _ in range(5)]
    for i, c in enumerate(clients):
        c.send(stuffed(message("many%d" % i)) + b"QUIT\r\n")
    codes = [(c.code(), c.code()) for c in clients]
    for c in clients:
        c.close()
    tap(codes == [(250, 221)] * n,
        "%d simultaneous connections" % n, set(codes))


def t_options(tmp):
    s = Sink(tmp, "greet554", args=["--greeting", "554", "--quiet"])
    c = Client("127.0.0.1", s.port)
    code, lines = c.reply()
    tap(code == 554 and c.closed(), "--greeting 554: 554 and close", lines)
    c.close()
    tap(s.stop() == 0, "sink exits 0")
    s = Sink(tmp, "opts", args=["--mail-reply", "451", "--no-pipelining",
                                "--hostname", "mx.example", "--quiet"])
    c = Client("127.0.0.1", s.port)
    g = c.reply()[1][0]
    c.send(b"EHLO x\r\nMAIL FROM:<a@test>\r\nRCPT TO:<b@test>\r\n")
    ehlo = c.reply()[1]
    codes = [c.code(), c.code()]
    tap(g.startswith("220 mx.example ") and ehlo[0] == "250-mx.example" and
        "250-PIPELINING" not in ehlo and codes == [451, 503],
        "--mail-reply 451, --no-pipelining, --hostname", (g, ehlo, codes))
    c.close()
    s.stop()
    s = Sink(tmp, "noehlo", args=["--no-ehlo", "--quiet"])
    with smtplib.SMTP("127.0.0.1", s.port, timeout=TIMEOUT) as smtp:
        smtp.sendmail("noehlo@test", ["a@dest.test"], message("noehlo"))
    r = s.wait_record(is_msg("noehlo@test"))
    tap(r and r["esmtp"] is False and r["reply"] == 250,
        "--no-ehlo: 502, HELO fallback works", r)
    s.stop()


def t_tls(tmp):
    """--tls-cert: STARTTLS offered, the input behind it dropped, the
    session reset, and the message record says TLS, protocol and SNI."""
    if shutil.which("openssl") is None:
        tap(True, "# SKIP --tls-cert: no openssl command")
        return
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=sink.test", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    pem = os.path.join(tmp, "both.pem")
    with open(pem, "w") as f:
        f.write(open(crt).read() + open(key).read())
    s = Sink(tmp, "tls", args=["--tls-cert", pem, "--quiet"])
    c = Client("127.0.0.1", s.port)
    c.reply()
    c.send(b"EHLO x\r\n")
    ehlo = c.reply()[1]
    c.send(b"STARTTLS\r\nRSET\r\n")
    started = c.reply()[1]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(c.sock, server_hostname="sni.sink.test")
    c.sock, c.buf = tls, b""
    c.send(b"MAIL FROM:<tls@test>\r\n")
    code = c.code()
    tap("250-STARTTLS" in ehlo and started == ["220 2.0.0 ready to start TLS"]
        and code == 503, "STARTTLS: offered, 220, RSET dropped, EHLO needed "
        "again", (ehlo, started, code))
    c.send(b"EHLO y\r\n")
    again = c.reply()[1]
    c.send(b"MAIL FROM:<tls@test>\r\nRCPT TO:<a@dest.test>\r\nDATA\r\n")
    [c.code() for _ in range(3)]
    c.send(stuffed(message("tls")) + b"QUIT\r\n")
    c.code(), c.code()
    c.close()
    r = s.wait_record(is_msg("tls@test"))
    tap("250-STARTTLS" not in again and r and r["tls"] is True and
        r["tls_protocol"] == "TLSv1.3" and r["sni"] == "sni.sink.test" and
        r["helo"] == "y", "the message record: tls, protocol, SNI", (again, r))
    tap(s.stop() == 0, "the TLS sink exits 0")


def t_shutdown(sink):
    c = greeted(sink)
    me = c.local()
    rc = sink.stop()
    tap(rc == 0 and not os.path.exists(sink.pidfile),
        "SIGTERM: exit 0, pidfile removed", "rc=%s\n%s" %
        (rc, sink.stderr()[-3000:]))
    tap(sink.wait_record(lambda r: r["event"] == "close" and
                         r["peer"] == me, timeout=1) is not None,
        "open connections get their close record at exit")
    c.close()


def run(name, fn, *args):
    try:
        fn(*args)
    except Exception:
        tap(False, "%s raised" % name, traceback.format_exc())


def main():
    with tempfile.TemporaryDirectory(prefix="smtpsink-test.") as tmp:
        sink = Sink(tmp, "main")
        tests = [t_ehlo, t_plain_accept, t_rcpt_codes, t_rcpt_421,
                 t_data_codes, t_pipelining, t_drops, t_waits, t_records,
                 t_params, t_no_enhanced, t_limits, t_many]
        for t in tests:
            run(t.__name__, t, sink)
        sink2 = Sink(tmp, "two", listen=("127.0.0.1:0", "127.0.0.2:0"))
        run("t_two_listeners", t_two_listeners, sink2)
        tap(sink2.stop() == 0, "second sink exits 0")
        run("t_options", t_options, tmp)
        run("t_new_options", t_new_options, tmp)
        run("t_tls", t_tls, tmp)
        run("t_shutdown", t_shutdown, sink)
    print("1..%d" % len(RESULTS))
    return 0


if __name__ == "__main__":
    BUILDDIR = os.environ.get("TERN_BUILDDIR")
    if not BUILDDIR:
        print("Bail out! TERN_BUILDDIR is not set (the build tree)")
        sys.exit(1)
    sys.exit(main())
