"""STARTTLS with real TLS and certificates made for the test (openssl
req -x509): outbound to a sink that offers STARTTLS (TLS, with SNI = the
MX name when dnsmasq serves the MX records), require-starttls to a sink
without it (no delivery, the queue in retry with 4.7.4), receiver
verification with smtp-tls-ca-file (a good CA, a wrong one: clear text
again, or 4.7.5 when TLS is required), use-starttls no; inbound STARTTLS
with smtp-server-tls-certificate and allow-starttls (smtplib and swaks),
the session reset after it, the STARTTLS command injection case (bytes
behind STARTTLS in the same write are never executed), a failed
handshake, and a certificate file that does not load."""
import hashlib
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, dnsmasq, PMTAD

t = Tap()
if shutil.which("openssl") is None:
    print("1..0 # SKIP the openssl command is not installed")
    sys.exit(0)
w = Workdir("b22")


mx_pem, mx_crt, _ = w.cert("mx", "mx.tls.test")
_, other_crt, _ = w.cert("other", "other.test")
srv_pem, _, _ = w.cert("server", "tern.test")

tls_sink = Sink(w, extra=["--tls-cert", mx_pem])     # offers STARTTLS
plain_sink = Sink(w)                                  # does not

# MX records for the TLS domains (SNI and name checks need a host name);
# without dnsmasq they are routed by IP address and SNI is not checked.
dns_port = None
if shutil.which("dnsmasq") is not None:
    dns_port = free_port()
    dns = dnsmasq(dns_port, ["--host-record=mx.tls.test,127.0.0.1"] +
                  ["--mx-host=%s,mx.tls.test,10" % d for d in
         ("tls.test", "verify.test", "badca.test", "badcareq.test")])


def route(port):
    if dns_port:
        return "    default-smtp-port %d\n" % port
    return "    smtp-hosts [127.0.0.1]:%d\n" % port


tern = Tern(w, """
smtp-server-tls-certificate %(srv)s
<source 127.0.0.1>
    always-allow-relaying yes
    allow-starttls yes
</source>
<source 127.0.0.2>
    always-allow-relaying yes
</source>
<domain tls.test>
%(tls)s    log-tls yes
</domain>
<domain verify.test>
%(tls)s    smtp-tls-ca-file %(mxcrt)s
</domain>
<domain badca.test>
%(tls)s    smtp-tls-ca-file %(othercrt)s
</domain>
<domain badcareq.test>
%(tls)s    smtp-tls-ca-file %(othercrt)s
    require-starttls yes
    retry-after 1h
</domain>
<domain notls.test>
    smtp-hosts [127.0.0.1]:%(tlsport)d
    use-starttls no
</domain>
<domain required.test>
    smtp-hosts [127.0.0.1]:%(plain)d
    require-starttls yes
    retry-after 1h
</domain>
<domain plain.test>
    smtp-hosts [127.0.0.1]:%(plain)d
</domain>
""" % {"srv": srv_pem, "tls": route(tls_sink.port), "mxcrt": mx_crt,
       "othercrt": other_crt, "tlsport": tls_sink.port, "plain": plain_sink.port},
    dns_port=dns_port)
tern.start()


def msgs_to(sink, rcpt):
    return [m for m in sink.messages() if rcpt in m["rcpts"]]


def queue_row(name):
    p = tern.pmta("show", "queues")
    for line in p.stdout.splitlines():
        if line.startswith(name + "/"):
            return line
    return ""


# --- (a) outbound STARTTLS -------------------------------------------------
tern.send(["a@tls.test", "v@verify.test", "b@badca.test", "n@notls.test",
           "p@plain.test", "r@required.test", "q@badcareq.test"])
wait_for(lambda: all(msgs_to(s, r) for s, r in (
    (tls_sink, "a@tls.test"), (tls_sink, "v@verify.test"),
    (tls_sink, "b@badca.test"), (tls_sink, "n@notls.test"),
    (plain_sink, "p@plain.test"))), 20)
m = (msgs_to(tls_sink, "a@tls.test") or [{}])[0]
t.ok(m.get("tls") is True and m.get("tls_protocol") == "TLSv1.3",
     "delivery to a sink offering STARTTLS goes over TLS 1.3", m)
if dns_port:
    t.eq(m.get("sni"), "mx.tls.test", "SNI is the MX host name")
else:
    t.ok(True, "# SKIP SNI: dnsmasq is not installed")
t.ok(m.get("helo") == "tern.test" and m.get("esmtp") is True,
     "EHLO again after the handshake", m)
rows = {r["rcpt"]: r for r in tern.acct_when(
    lambda rs: any(r["rcpt"] == "a@tls.test" for r in rs))[1]}
t.eq(rows.get("a@tls.test", {}).get("type"), "d", "accounted as delivered")
t.ok("tls:TLSv1.3 connected with" in tern.output(),
     "pmtad logs the tls: line (log-tls yes)", tern.output()[-2000:])
v = (msgs_to(tls_sink, "v@verify.test") or [{}])[0]
t.ok(v.get("tls") is True,
     "smtp-tls-ca-file naming the receiver's CA: verified, over TLS", v)
b = (msgs_to(tls_sink, "b@badca.test") or [{}])[0]
t.ok(b.get("tls") is False,
     "a certificate the CA file does not verify: opportunistic TLS falls "
     "back to clear text on a new connection", b)
n = (msgs_to(tls_sink, "n@notls.test") or [{}])[0]
t.ok(n.get("tls") is False, "use-starttls no: clear text although offered", n)
p = (msgs_to(plain_sink, "p@plain.test") or [{}])[0]
t.ok(p.get("tls") is False, "a receiver without STARTTLS gets clear text", p)

# --- (b) require-starttls --------------------------------------------------
wait_for(lambda: "4.7.4" in queue_row("required.test"), 10)
row = queue_row("required.test")
t.ok("4.7.4" in row and "does not offer STARTTLS" in row,
     "require-starttls to a receiver without STARTTLS: a queue failure "
     "with a 4.7.4 diagnostic", row)
t.ok(row.split()[1:2] == ["1"], "the recipient stays queued (retry)", row)
t.eq(msgs_to(plain_sink, "r@required.test"), [], "and nothing was sent")
t.eq([e for e in plain_sink.events("rcpt") if e["rcpt"] == "r@required.test"], [],
     "not even the envelope")
t.ok("r@required.test" not in rows, "no accounting record while it waits")
wait_for(lambda: "4.7.5" in queue_row("badcareq.test"), 10)
row = queue_row("badcareq.test")
t.ok("4.7.5" in row and "certificate verification failed" in row,
     "require-starttls and a failed verification: 4.7.5, not clear text", row)
t.eq(msgs_to(tls_sink, "q@badcareq.test"), [], "nothing sent for it")

# --- (c) inbound STARTTLS --------------------------------------------------
NOVERIFY = ssl.create_default_context()
NOVERIFY.check_hostname = False
NOVERIFY.verify_mode = ssl.CERT_NONE

with smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test", timeout=30) as s:
    s.ehlo()
    t.ok(s.has_extn("starttls"), "EHLO offers STARTTLS (certificate and allow-starttls)")
    code, _ = s.starttls(context=NOVERIFY)
    t.eq(code, 220, "STARTTLS: 220")
    t.ok(s.sock.version() in ("TLSv1.3", "TLSv1.2"), "the session is encrypted: %s"
         % s.sock.version())
    code, _ = s.mail("x@example.org")
    t.eq(code, 503, "after the handshake the earlier EHLO is forgotten (503 for MAIL)")
    s.ehlo()
    t.ok(not s.has_extn("starttls"), "STARTTLS is not offered again")
    code, _ = s.docmd("STARTTLS")
    t.eq(code, 503, "a second STARTTLS: 503")
    t.eq(s.sendmail("sender@example.org", ["in1@plain.test"],
                    "Subject: tls in\r\n\r\nover TLS\r\n"), {},
         "a message over inbound TLS is accepted")
wait_for(lambda: msgs_to(plain_sink, "in1@plain.test"), 10)
t.eq(len(msgs_to(plain_sink, "in1@plain.test")), 1, "and delivered")

# a 2 MB message in over TLS and out over TLS: through every buffer cap
big = "Subject: big\r\n\r\n" + "".join(
    ("." if i % 5 == 0 else "") +
    "%06d some text to fill the line up to a good length\r\n" % i
    for i in range(36000))
with smtplib.SMTP(tern.ip, tern.port, local_hostname="client.test", timeout=60) as s:
    s.starttls(context=NOVERIFY)
    t.eq(s.sendmail("sender@example.org", ["big@tls.test"], big), {},
         "a %d-byte message accepted over inbound TLS" % len(big))
wait_for(lambda: msgs_to(tls_sink, "big@tls.test"), 30)
m = (msgs_to(tls_sink, "big@tls.test") or [{}])[0]
t.ok(m.get("tls") is True and
     m.get("sha256") == hashlib.sha256(big.encode()).hexdigest(),
     "and delivered over outbound TLS byte for byte", m)

if shutil.which("swaks"):
    r = subprocess.run(["swaks", "--server", "%s:%d" % (tern.ip, tern.port),
                        "--to", "in2@plain.test", "--from", "s@example.org",
                        "--helo", "swaks.test", "--tls"],
                       capture_output=True, text=True, timeout=60)
    t.ok(r.returncode == 0 and "250 2.6.0" in r.stdout,
         "swaks --tls: accepted", r.stdout[-1500:])
    wait_for(lambda: msgs_to(plain_sink, "in2@plain.test"), 10)
    t.eq(len(msgs_to(plain_sink, "in2@plain.test")), 1, "and delivered")
else:
    t.ok(True, "# SKIP swaks is not installed")
    t.ok(True, "# SKIP swaks is not installed")

with smtplib.SMTP(tern.ip, tern.port, source_address=("127.0.0.2", 0),
                  timeout=30) as s:
    s.ehlo("client.test")
    t.ok(not s.has_extn("starttls"), "a source without allow-starttls: not offered")
    code, msg = s.docmd("STARTTLS")
    t.eq(code, 454, "and STARTTLS there is refused with 454")


# --- (d) STARTTLS command injection ----------------------------------------
def read_reply(sock):
    """One complete (multi-line) reply as a list of lines."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode(errors="replace").splitlines()
        data += chunk
        lines = data.split(b"\r\n")
        done = [l for l in lines[:-1] if len(l) >= 4 and l[3:4] == b" "]
        if done:
            return data.decode(errors="replace").splitlines()


raw = socket.create_connection((tern.ip, tern.port), timeout=10)
read_reply(raw)
raw.sendall(b"EHLO inject.test\r\n")
read_reply(raw)
raw.sendall(b"STARTTLS\r\nRSET\r\n")        # one write, one packet
first = read_reply(raw)
t.eq(first, ["220 2.0.0 ready to start TLS"], "STARTTLS answered alone, in clear")
try:
    tls = NOVERIFY.wrap_socket(raw, server_hostname="tern.test")
    handshake = True
except (ssl.SSLError, OSError) as e:
    handshake = False
    t.ok(False, "TLS handshake after STARTTLS", e)
if handshake:
    t.ok(True, "TLS handshake after STARTTLS")
    tls.settimeout(1.0)
    try:
        early = tls.recv(4096)
    except socket.timeout:
        early = b""
    t.eq(early, b"", "the injected RSET is not answered after the handshake")
    tls.settimeout(10)
    tls.sendall(b"EHLO inject.test\r\n")
    reply = read_reply(tls)
    t.ok(reply[:1] == ["250-tern.test says hello"],
         "the first reply over TLS is the EHLO's", reply)
    tls.sendall(b"QUIT\r\n")
    read_reply(tls)
    tls.close()
else:
    t.ok(False, "the injected RSET is not answered after the handshake")
    t.ok(False, "the first reply over TLS is the EHLO's")
t.ok("byte(s) sent behind STARTTLS discarded" in tern.output(),
     "pmtad logs the discarded bytes")

# a client that sends garbage instead of a ClientHello: closed, pmtad lives on
raw = socket.create_connection((tern.ip, tern.port), timeout=10)
read_reply(raw)
raw.sendall(b"EHLO bad.test\r\n")
read_reply(raw)
raw.sendall(b"STARTTLS\r\n")
read_reply(raw)
raw.sendall(b"this is not a TLS ClientHello\r\n" * 4)
raw.settimeout(10)
try:
    rest = raw.recv(4096)
    while rest and not rest.startswith(b"\x15"):
        rest = raw.recv(4096)
    closed = True
except OSError:
    closed = True
raw.close()
t.ok(closed and wait_for(lambda: "TLS handshake failed" in tern.output(), 5),
     "a failed inbound handshake closes the connection, logged")
with smtplib.SMTP(tern.ip, tern.port, timeout=30) as s:
    t.eq(s.noop()[0], 250, "pmtad still serves")

t.eq(tern.stop(), 0, "pmtad exits 0")

# --- a certificate that does not load --------------------------------------
bad = w.file("bad.conf")
with open(bad, "w") as f:
    f.write("spool %s\nlog-file %s\nsmtp-listener 127.0.0.1:%d\n"
            "smtp-server-tls-certificate %s\n"
            % (w.file("spool2"), w.file("log2"), free_port(), w.file("missing.pem")))
r = subprocess.run([PMTAD, "--config=" + bad, "--debug"], capture_output=True,
                   text=True, timeout=30)
t.ok(r.returncode == 1 and "bad.conf:4: smtp-server-tls-certificate: cannot load"
     in r.stderr, "a certificate that does not load: an error at file:line, "
     "pmtad does not start", r.stderr)
r = subprocess.run([PMTAD, "--config=" + bad, "--check-config"],
                   capture_output=True, text=True, timeout=30)
t.ok(r.returncode == 0 and "bad.conf:4: warning: smtp-server-tls-certificate"
     in r.stderr, "--check-config: a warning only", r.stderr)
with open(bad, "a") as f:
    f.write("smtp-server-tls-ciphers NOSUCHCIPHER\n")
r = subprocess.run([PMTAD, "--config=" + bad, "--check-config"],
                   capture_output=True, text=True, timeout=30)
t.ok(r.returncode == 1 and "bad.conf:5: smtp-server-tls-ciphers" in r.stderr,
     "an unusable cipher list is an error at its line", r.stderr)

tls_sink.stop()
plain_sink.stop()
if dns_port:
    dns.terminate()
    dns.wait(5)
w.remove()
t.done()
