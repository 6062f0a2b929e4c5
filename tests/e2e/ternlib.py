"""Helpers for Tern's end-to-end tests: a TAP reporter, the test SMTP
sink, and a real pmtad started on loopback ports with a config written
for the test.  Standard library only.

Environment: TERN_BUILDDIR (where pmtad, pmta and tests/tools/smtpsink
were built) and TERN_SRCDIR (the source tree), both set by `make check`.
"""
import atexit
import csv
import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import zlib

BUILDDIR = os.environ.get("TERN_BUILDDIR")
SRCDIR = os.environ.get("TERN_SRCDIR")
if not BUILDDIR or not SRCDIR:
    sys.exit("TERN_BUILDDIR and TERN_SRCDIR must be set (run through make check)")

PMTAD = os.path.join(BUILDDIR, "pmtad")
PMTA = os.path.join(BUILDDIR, "pmta")
SINK = os.path.join(BUILDDIR, "tests", "tools", "smtpsink")

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_cleanup)


class Tap:
    """Minimal TAP producer: ok(), eq(), done()."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name), flush=True)
        if not cond and diag is not None:
            for line in str(diag).splitlines():
                print("#   " + line)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 0


def free_port(ip="127.0.0.1"):
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dnsmasq(port, records):
    """A DNS server for the tests: dnsmasq on 127.0.0.1:port, answering for
    the .test zone only (nothing forwarded) from records, dnsmasq options
    such as "--mx-host=a.test,mx.a.test,10" or "--host-record=mx.a.test,
    127.0.0.3".  Killed at exit with the test's other processes."""
    p = subprocess.Popen(
        ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
         "--conf-file=/dev/null", "--pid-file=", "--port=%d" % port,
         "--listen-address=127.0.0.1", "--bind-interfaces", "--local=/test/"]
        + list(records), stderr=subprocess.DEVNULL)
    _procs.append(p)
    return p


def wait_port(ip, port, timeout=10.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((ip, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for(cond, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


# Two VirtualMTAs, v1 sourcing from 127.0.0.2 and v2 from 127.0.0.3, each
# with its own EHLO name: the config head of the VirtualMTA tests.
TWO_VMTAS = """<virtual-mta v1>
    smtp-source-host 127.0.0.2 v1.tern.test
</virtual-mta>
<virtual-mta v2>
    smtp-source-host 127.0.0.3 v2.tern.test
</virtual-mta>
"""


class Workdir:
    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix="tern-%s-" % name)

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    def cert(self, name, cn):
        """A self-signed EC certificate for cn (also its subjectAltName),
        made with the openssl command: (NAME.pem, the certificate then the
        key; NAME.crt; NAME.key)."""
        key, crt, pem = (self.file(name + x) for x in (".key", ".crt", ".pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
                        "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        with open(pem, "w") as out:
            out.write(open(crt).read() + open(key).read())
        return pem, crt, key

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Sink:
    """The project's scripted SMTP sink (tests/tools/smtpsink)."""

    def __init__(self, work, ip="127.0.0.1", port=None, extra=(), maildir=False):
        self.ip = ip
        self.port = port or free_port(ip)
        self.record = work.file("sink-%s-%d.jsonl" % (ip, self.port))
        self.maildir = work.file("mail-%s-%d" % (ip, self.port)) if maildir else None
        listen = ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, self.port)
        args = [SINK, "--listen", listen,
                "--record", self.record, "--quiet"] + list(extra)
        if self.maildir:
            os.makedirs(self.maildir, exist_ok=True)
            args += ["--maildir", self.maildir]
        self.proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        if not wait_port(ip, self.port, proc=self.proc):
            raise RuntimeError("smtpsink did not start")

    def events(self, kind=None):
        try:
            with open(self.record) as f:
                evs = [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [e for e in evs if kind is None or e["event"] == kind]

    def messages(self):
        return [e for e in self.events("message") if 200 <= e["reply"] < 300]

    def message_bytes(self, msg):
        """The stored data of a message event (needs maildir=True)."""
        with open(os.path.join(self.maildir, "%s.eml" % msg["id"]), "rb") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Tern:
    """A pmtad with its own config, spool and accounting file."""

    def __init__(self, work, body, ip="127.0.0.1", port=None, dns_port=None,
                 received=False):
        self.work = work
        self.ip = ip
        self.port = port or free_port(ip)
        self.config = work.file("config")
        self.acct = work.file("acct.csv")
        self.log = work.file("pmta.log")
        self.out = work.file("pmtad.out")
        self.spool = work.file("spool")
        with open(self.config, "w") as f:
            f.write("smtp-listener %s:%d\n" % (ip, self.port))
            f.write("host-name tern.test\n")
            # DNS stays on loopback: a port where nothing answers, unless
            # the test runs its own DNS server (dns_port)
            f.write("name-server 127.0.0.1:%d\n" % (dns_port or free_port()))
            f.write("spool %s\nlog-file %s\n" % (self.spool, self.log))
            f.write("<acct-file %s>\n    records d,b\n</acct-file>\n" % self.acct)
            f.write(body)
            if not received:
                # most tests compare delivered bytes with what they sent:
                # our Received: header (add-received-header, default yes)
                # is left out unless the test asks for it
                f.write("\n<source 0/0>\n    add-received-header no\n</source>\n")
        self.proc = None

    def start(self, expect_ok=True):
        self.proc = subprocess.Popen(
            [PMTAD, "--config=" + self.config, "--debug"],
            stdout=open(self.out, "a"), stderr=subprocess.STDOUT)
        _procs.append(self.proc)
        if expect_ok and not wait_port(self.ip, self.port, proc=self.proc):
            raise RuntimeError("pmtad did not start:\n" + self.output())
        return self.proc

    def output(self):
        with open(self.out) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def spool_messages(self):
        """{id: envelope lines} of the messages the spool holds: the
        records of each log segment (log/<segment>) whose recipients are
        not all finished in its done-list (log/<segment>.done).  A record
        that does not check out (the one being appended) is skipped."""
        logdir = os.path.join(self.spool, "log")
        out = {}
        if not os.path.isdir(logdir):
            return out
        for seg in sorted(os.listdir(logdir)):
            if len(seg) != 8:
                continue
            try:
                with open(os.path.join(logdir, seg), "rb") as f:
                    log = f.read()
                with open(os.path.join(logdir, seg + ".done"), "rb") as f:
                    done = f.read().decode(errors="replace").split("\n")
            except FileNotFoundError:
                done = []
            except OSError:
                continue
            fin, idx = set(), {}
            for line in done:
                w = line.split(" ")
                if len(w) == 2 and w[1] == "*":
                    fin.add(w[0])
                elif len(w) == 2 and w[1].isdigit():
                    idx.setdefault(w[0], set()).add(int(w[1]))
            pos = log.find(b"\n") + 1
            while 0 < pos < len(log):
                nl = log.find(b"\n", pos)
                head = log[pos:nl].split(b" ") if nl > 0 else []
                if len(head) != 3 or head[0] != b"M":
                    break
                n = int(head[1])
                text = log[nl + 1:nl + 1 + n]
                pos = nl + 1 + n
                if len(text) != n or zlib.crc32(text) != int(head[2], 16):
                    break
                lines = text.decode(errors="replace").split("\n")
                mid = [l[3:] for l in lines if l.startswith("id ")][0]
                nr = len([l for l in lines if l.startswith("rcpt ")])
                if mid not in fin and len(idx.get(mid, ())) < nr:
                    out[mid] = lines
        return out

    def spooled(self):
        """Ids of the messages in the spool (see spool_messages)."""
        return sorted(self.spool_messages())

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def acct_rows(self):
        """(header, rows as dicts) of the accounting file."""
        try:
            with open(self.acct, newline="") as f:
                reader = csv.DictReader(f)
                return reader.fieldnames, list(reader)
        except FileNotFoundError:
            return None, []

    def acct_when(self, cond, timeout=15):
        """acct_rows() once cond(rows) holds (or the timeout passed): a
        record is written when pmtad has the receiver's reply, a moment
        after a sink has recorded the message."""
        wait_for(lambda: cond(self.acct_rows()[1]), timeout)
        return self.acct_rows()

    def pmta(self, *args):
        return subprocess.run([PMTA, "--config=" + self.config] + list(args),
                              capture_output=True, text=True, timeout=30)

    def send(self, rcpts, data=None, mail_from="sender@example.org", helo="client.test"):
        """Send one message with smtplib; returns the refused dict or raises."""
        if data is None:
            data = "Subject: test\r\n\r\nhello\r\n"
        with smtplib.SMTP(self.ip, self.port, local_hostname=helo, timeout=30) as s:
            return s.sendmail(mail_from, rcpts, data)


def relay_config(sink_port, domain="demo.test", settings=(), more=""):
    """Config body: 127.0.0.1 may relay; `domain` goes to the sink, with
    extra `settings` lines in its <domain> block; `more` is appended."""
    lines = "".join("    %s\n" % l for l in settings)
    return """
<source 127.0.0.1>
    always-allow-relaying yes
</source>
<domain %s>
    smtp-hosts [127.0.0.1]:%d
%s</domain>
""" % (domain, sink_port, lines) + more


DEFAULT_HEADER = ("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,"
                  "dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,"
                  "dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,"
                  "queue,vmtaPool").split(",")
