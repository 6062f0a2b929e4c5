"""<smtp-listener> TLS settings and the two non-password login methods,
with certificates made for the test (openssl req -x509):
immediate-tls (nothing is said before the handshake, the greeting is the
first thing over TLS, STARTTLS neither offered nor accepted, mail
delivered to the sink; smtplib SMTP_SSL and swaks --tls-on-connect), a
listener's own tls-certificate (the client sees it; other listeners keep
smtp-server-tls-certificate), tls-allow-tlsv1.2 no (a TLS 1.2-capped
client refused there and accepted elsewhere), tls-allow-tlsv1.1 no
(when the local OpenSSL can still speak TLS 1.1), an unusable listener
cipher list and an immediate-tls listener without a certificate
(configuration errors); authentication-method certificate (the client
certificate equal to the user's tls-certificate logs the user in at the
handshake: relaying through the user's <source>, over STARTTLS and over
implicit TLS, swaks --tls-cert; another certificate or none: not logged
in; tls-ca-file: the certificate must also verify) and
authentication-method system (a throwaway Linux account, only as root:
PLAIN and LOGIN with its password, a wrong password, CRAM-MD5 refused, a
locked account; with no password user CRAM-MD5 is not offered)."""
import atexit
import base64
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import warnings
from ternlib import Tap, Workdir, Sink, Tern, wait_for, free_port, PMTAD

t = Tap()
# TLS 1.1 is deprecated in Python's ssl: it is what the test needs
warnings.simplefilter("ignore", DeprecationWarning)
if shutil.which("openssl") is None:
    print("1..0 # SKIP the openssl command is not installed")
    sys.exit(0)
w = Workdir("b43")


def der(crt):
    return ssl.PEM_cert_to_DER_cert(open(crt).read())


srv_pem, srv_crt, _ = w.cert("server", "tern.test")
lst_pem, lst_crt, _ = w.cert("listener", "smtps.tern.test")
_, bob_crt, bob_key = w.cert("bob", "bob")
_, eve_crt, eve_key = w.cert("eve", "eve")
_, other_crt, _ = w.cert("other", "other")

# a throwaway system account, only as root (the CI runs as root)
SYSUSER = "ternb38u%d" % (os.getpid() % 100000)
SYSPASS = "Sys-pw-%d!" % os.getpid()
as_root = os.geteuid() == 0 and shutil.which("useradd") and shutil.which("chpasswd")
have_sys = False
if as_root:
    r = subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", SYSUSER],
                       capture_output=True, text=True)
    if r.returncode == 0:
        atexit.register(lambda: subprocess.run(["userdel", SYSUSER],
                                               capture_output=True))
        r = subprocess.run(["chpasswd"], input="%s:%s\n" % (SYSUSER, SYSPASS),
                           capture_output=True, text=True)
        have_sys = r.returncode == 0

sink = Sink(w)
P465, P12, P11ON, P11OFF, PCA, PCABAD = (free_port() for _ in range(6))
WEAK = "HIGH:!ADH:@STRENGTH:@SECLEVEL=0"   # lets OpenSSL 3 speak TLS 1.1
tern = Tern(w, """
smtp-server-tls-certificate %(srv)s
<smtp-listener 127.0.0.1:%(p465)d>
    immediate-tls yes
    tls-certificate %(lst)s
</smtp-listener>
<smtp-listener 127.0.0.1:%(p12)d>
    tls-allow-tlsv1.2 no
</smtp-listener>
<smtp-listener 127.0.0.1:%(p11on)d>
    immediate-tls yes
    tls-allow-tlsv1.1 yes
    tls-ciphers %(weak)s
</smtp-listener>
<smtp-listener 127.0.0.1:%(p11off)d>
    immediate-tls yes
    tls-allow-tlsv1.1 no
    tls-ciphers %(weak)s
</smtp-listener>
<smtp-listener 127.0.0.1:%(pca)d>
    immediate-tls yes
    tls-ca-file %(bobcrt)s
</smtp-listener>
<smtp-listener 127.0.0.1:%(pcabad)d>
    immediate-tls yes
    tls-ca-file %(othercrt)s
</smtp-listener>
<smtp-user alice>
    password alice-pw
</smtp-user>
<smtp-user bob>
    authentication-method certificate
    tls-certificate %(bobcrt)s
    source bobsrc
</smtp-user>
<smtp-user %(sysuser)s>
    authentication-method system
</smtp-user>
<source bobsrc>
    always-allow-relaying yes
</source>
<source {auth}>
    always-allow-relaying yes
</source>
<source 127.0.0.1>
    always-allow-relaying yes
    allow-starttls yes
    log-tls yes
</source>
<source 127.0.0.2>
    allow-starttls yes
</source>
<domain tls.test>
    smtp-hosts [127.0.0.1]:%(sink)d
</domain>
""" % {"srv": srv_pem, "lst": lst_pem, "p465": P465, "p12": P12,
       "p11on": P11ON, "p11off": P11OFF, "pca": PCA, "pcabad": PCABAD,
       "weak": WEAK, "bobcrt": bob_crt, "othercrt": other_crt,
       "sysuser": SYSUSER, "sink": sink.port})
tern.start()


def ctx(maxv=None, minv=None, cert=None, key=None, weak=False):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if weak:
        c.set_ciphers("DEFAULT:@SECLEVEL=0")
    if minv:
        c.minimum_version = minv
    if maxv:
        c.maximum_version = maxv
    if cert:
        c.load_cert_chain(cert, key)
    return c


def msgs_to(rcpt):
    return [m for m in sink.messages() if rcpt in m["rcpts"]]


def read_reply(sock):
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
        lines = data.split(b"\r\n")
        if any(len(l) >= 4 and l[3:4] == b" " for l in lines[:-1]):
            return data.decode(errors="replace")


MSG = "Subject: b43\r\n\r\nhello\r\n"

# --- immediate-tls -----------------------------------------------------------
raw = socket.create_connection(("127.0.0.1", P465), timeout=10)
raw.settimeout(1.0)
try:
    early = raw.recv(4096)
except socket.timeout:
    early = b""
t.eq(early, b"", "immediate-tls: nothing is said in clear before the handshake")
raw.settimeout(10)
tls = ctx().wrap_socket(raw, server_hostname="smtps.tern.test")
t.eq(read_reply(tls), "220 tern.test ESMTP service ready\r\n",
     "the greeting is the first thing said over TLS")
t.eq(tls.getpeercert(binary_form=True), der(lst_crt),
     "the client sees the listener's own tls-certificate")
tls.sendall(b"QUIT\r\n")
read_reply(tls)
tls.close()

with smtplib.SMTP_SSL("127.0.0.1", P465, local_hostname="client.test",
                      context=ctx(), timeout=30) as s:
    s.ehlo()
    t.ok(not s.has_extn("starttls"), "after implicit TLS STARTTLS is not offered")
    t.eq(s.docmd("STARTTLS")[0], 503, "and STARTTLS is refused with 503")
    t.eq(s.sendmail("s@example.org", ["i1@tls.test"], MSG), {},
         "SMTP_SSL: a message accepted over implicit TLS")
t.ok(wait_for(lambda: msgs_to("i1@tls.test"), 10), "and delivered to the sink")
t.ok("tls:TLSv1.3 connected with" in tern.output(),
     "pmtad logs the handshake (log-tls yes)")

with smtplib.SMTP("127.0.0.1", tern.port, local_hostname="client.test",
                  timeout=30) as s:
    s.starttls(context=ctx())
    t.eq(s.sock.getpeercert(binary_form=True), der(srv_crt),
         "the plain listener keeps smtp-server-tls-certificate")

if shutil.which("swaks"):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % P465, "--tlsc",
                        "--to", "i2@tls.test", "--from", "s@example.org",
                        "--helo", "swaks.test"],
                       capture_output=True, text=True, timeout=60)
    t.ok(r.returncode == 0 and "250 2.6.0" in r.stdout,
         "swaks --tls-on-connect: accepted", r.stdout[-1500:])
    t.ok(wait_for(lambda: msgs_to("i2@tls.test"), 10), "and delivered")
else:
    t.ok(True, "# SKIP swaks is not installed")
    t.ok(True, "# SKIP swaks is not installed")

# --- protocol versions --------------------------------------------------------


def starttls_version(port, c):
    """The version negotiated over STARTTLS, or the handshake error."""
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test",
                          timeout=30) as s:
            s.starttls(context=c)
            return s.sock.version()
    except (ssl.SSLError, OSError, smtplib.SMTPException) as e:
        return "failed: %s" % e


v = starttls_version(tern.port, ctx(maxv=ssl.TLSVersion.TLSv1_2))
t.eq(v, "TLSv1.2", "a TLS 1.2-capped client is accepted where TLS 1.2 is allowed")
v = starttls_version(P12, ctx(maxv=ssl.TLSVersion.TLSv1_2))
t.ok(v.startswith("failed"), "tls-allow-tlsv1.2 no: the TLS 1.2-capped client "
     "is refused on that listener", v)
v = starttls_version(P12, ctx())
t.eq(v, "TLSv1.3", "and TLS 1.3 still works there")
t.ok(wait_for(lambda: "TLS handshake failed" in tern.output(), 5),
     "the refused handshake is logged")


def implicit_version(port, c):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with c.wrap_socket(raw) as s:
                read_reply(s)
                return s.version()
    except (ssl.SSLError, OSError) as e:
        return "failed: %s" % e


only11 = ctx(minv=ssl.TLSVersion.TLSv1_1, maxv=ssl.TLSVersion.TLSv1_1, weak=True)
v = implicit_version(P11ON, only11)
if v == "TLSv1.1":
    t.ok(True, "a TLS 1.1-only client is accepted with tls-allow-tlsv1.1 yes")
    v = implicit_version(P11OFF, only11)
    t.ok(v.startswith("failed"), "tls-allow-tlsv1.1 no: the TLS 1.1-only "
         "client is refused", v)
else:
    t.ok(True, "# SKIP the local OpenSSL cannot speak TLS 1.1 (%s)" % v)
    t.ok(True, "# SKIP the local OpenSSL cannot speak TLS 1.1")
t.eq(implicit_version(P11OFF, ctx()), "TLSv1.3",
     "that listener takes TLS 1.3 clients")

# --- authentication-method certificate ----------------------------------------


def relay_try(port, c, rcpt, implicit=True, ip="127.0.0.2"):
    """MAIL and RCPT from the non-relaying address; the RCPT reply code."""
    if implicit:
        s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test",
                             context=c, source_address=(ip, 0), timeout=30)
    else:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test",
                         source_address=(ip, 0), timeout=30)
        s.starttls(context=c)
    try:
        s.ehlo()
        s.mail("s@example.org")
        code, _ = s.rcpt(rcpt)
        if code == 250:
            s.data(MSG)
        s.quit()
        return code
    finally:
        s.close()


bob = ctx(cert=bob_crt, key=bob_key)
t.eq(relay_try(P465, ctx(), "c0@tls.test"), 550,
     "no client certificate: not logged in, relaying refused")
t.eq(relay_try(P465, bob, "c1@tls.test"), 250,
     "implicit TLS with bob's certificate: logged in as bob, relaying")
t.ok(wait_for(lambda: msgs_to("c1@tls.test"), 10), "and delivered")
t.ok('authenticated as "bob" (certificate), source bobsrc' in tern.output(),
     "pmtad logs the certificate login", tern.output()[-1500:])
t.eq(relay_try(tern.port, bob, "c2@tls.test", implicit=False), 250,
     "STARTTLS with bob's certificate: logged in too")
t.ok(wait_for(lambda: msgs_to("c2@tls.test"), 10), "and delivered")
t.eq(relay_try(P465, ctx(cert=eve_crt, key=eve_key), "c3@tls.test"), 550,
     "a certificate that is no user's: not logged in")
t.ok("a client certificate that is no user's" in tern.output(),
     "and that is logged")
t.eq(relay_try(PCA, bob, "c4@tls.test"), 250,
     "tls-ca-file that verifies bob's certificate: logged in")
t.eq(relay_try(PCABAD, bob, "c5@tls.test"), 550,
     "tls-ca-file that does not verify it: not logged in")
t.ok('the client certificate of "bob" does not verify' in tern.output(),
     "and that is logged")
if shutil.which("swaks"):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % P465, "--tlsc",
                        "--tls-cert", bob_crt, "--tls-key", bob_key,
                        "--local-interface", "127.0.0.2",
                        "--to", "c6@tls.test", "--from", "s@example.org",
                        "--helo", "swaks.test"],
                       capture_output=True, text=True, timeout=60)
    t.ok(r.returncode == 0 and "250 2.6.0" in r.stdout,
         "swaks --tls-cert with bob's certificate: relayed", r.stdout[-1500:])
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % P465, "--tlsc",
                        "--local-interface", "127.0.0.2",
                        "--to", "c7@tls.test", "--from", "s@example.org",
                        "--helo", "swaks.test"],
                       capture_output=True, text=True, timeout=60)
    t.ok(r.returncode != 0 and "550 5.7.1" in r.stdout,
         "swaks without a certificate: relaying refused", r.stdout[-1500:])
else:
    t.ok(True, "# SKIP swaks is not installed")
    t.ok(True, "# SKIP swaks is not installed")

# --- authentication-method system ---------------------------------------------


def b64(x):
    return base64.b64encode(x.encode()).decode()


if have_sys:
    with smtplib.SMTP("127.0.0.1", tern.port, local_hostname="client.test",
                      source_address=("127.0.0.2", 0), timeout=30) as s:
        s.starttls(context=ctx())
        s.ehlo()
        t.ok("PLAIN" in s.esmtp_features.get("auth", ""),
             "AUTH PLAIN offered over TLS", s.esmtp_features)
        code, _ = s.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (SYSUSER, SYSPASS + "x")))
        t.eq(code, 535, "system user, wrong password: 535")
        code, _ = s.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (SYSUSER, SYSPASS)))
        t.eq(code, 235, "system user, the account's password (PLAIN): 235")
        t.eq(s.sendmail("s@example.org", ["sys1@tls.test"], MSG), {},
             "and the user relays through {auth}")
    t.ok(wait_for(lambda: msgs_to("sys1@tls.test"), 10), "delivered")
    with smtplib.SMTP("127.0.0.1", tern.port, local_hostname="client.test",
                      source_address=("127.0.0.2", 0), timeout=30) as s:
        s.starttls(context=ctx())
        s.ehlo()
        code, _ = s.docmd("AUTH", "LOGIN " + b64(SYSUSER))
        if code == 334:
            code, _ = s.docmd(b64(SYSPASS))
        t.eq(code, 235, "system user with LOGIN: 235")
    with smtplib.SMTP("127.0.0.1", tern.port, local_hostname="client.test",
                      source_address=("127.0.0.2", 0), timeout=30) as s:
        s.starttls(context=ctx())
        s.ehlo()
        code, _ = s.docmd("AUTH", "CRAM-MD5")
        if code == 334:
            code, _ = s.docmd(b64(SYSUSER + " " + "0" * 32))
        t.eq(code, 535, "system user with CRAM-MD5: 535 (no password to "
             "compute the digest from)")
    if shutil.which("swaks"):
        r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.port,
                            "--tls", "--local-interface", "127.0.0.2",
                            "--auth", "PLAIN", "--auth-user", SYSUSER,
                            "--auth-password", SYSPASS,
                            "--to", "sys2@tls.test", "--from", "s@example.org",
                            "--helo", "swaks.test"],
                           capture_output=True, text=True, timeout=60)
        t.ok(r.returncode == 0 and "235 2.7.0" in r.stdout and
             "250 2.6.0" in r.stdout, "swaks --auth PLAIN as the system user",
             r.stdout[-1500:])
    else:
        t.ok(True, "# SKIP swaks is not installed")
    subprocess.run(["passwd", "-l", SYSUSER], capture_output=True)
    with smtplib.SMTP("127.0.0.1", tern.port, local_hostname="client.test",
                      source_address=("127.0.0.2", 0), timeout=30) as s:
        s.starttls(context=ctx())
        s.ehlo()
        code, _ = s.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (SYSUSER, SYSPASS)))
        t.eq(code, 535, "a locked account: 535")
    t.ok(SYSPASS not in tern.output() and SYSPASS not in open(tern.log).read(),
         "the password reaches no log")
else:
    for i in range(10):
        t.ok(True, "# SKIP authentication-method system: not root "
             "(a throwaway account is needed)")

t.eq(tern.stop(), 0, "pmtad exits 0")

# --- only system and certificate users: no CRAM-MD5 ---------------------------
w2 = Workdir("b43b")
tern2 = Tern(w2, """
smtp-server-tls-certificate %s
<smtp-user %s>
    authentication-method system
</smtp-user>
<smtp-user bob>
    authentication-method certificate
    tls-certificate %s
</smtp-user>
<source 127.0.0.1>
    allow-starttls yes
</source>
""" % (srv_pem, SYSUSER, bob_crt))
tern2.start()
with smtplib.SMTP(tern2.ip, tern2.port, local_hostname="client.test",
                  timeout=30) as s:
    s.ehlo()
    t.ok(not s.has_extn("auth"), "no password user, no TLS: AUTH not offered "
         "(PLAIN and LOGIN need TLS, CRAM-MD5 a password)", s.esmtp_features)
    t.eq(s.docmd("AUTH", "CRAM-MD5")[0], 504,
         "AUTH CRAM-MD5 without any password user: 504")
    s.starttls(context=ctx())
    s.ehlo()
    t.eq(s.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN"],
         "over TLS: AUTH PLAIN LOGIN, no CRAM-MD5")
t.eq(tern2.stop(), 0, "that pmtad exits 0 too")
w2.remove()

# --- configuration errors -----------------------------------------------------


def check(body):
    conf = w.file("bad.conf")
    with open(conf, "w") as f:
        f.write("spool %s\nlog-file %s\n%s" % (w.file("spool2"), w.file("log2"),
                                               body))
    return subprocess.run([PMTAD, "--config=" + conf, "--check-config"],
                          capture_output=True, text=True, timeout=30)


r = check("<smtp-listener 127.0.0.1:%d>\n    immediate-tls yes\n"
          "</smtp-listener>\n" % free_port())
t.ok(r.returncode == 1 and "bad.conf:3: smtp-listener" in r.stderr and
     "immediate-tls needs a certificate" in r.stderr,
     "immediate-tls without any certificate: an error at the block", r.stderr)
r = check("smtp-server-tls-certificate %s\n<smtp-listener 127.0.0.1:%d>\n"
          "    tls-ciphers NOSUCHCIPHER\n</smtp-listener>\n" % (srv_pem, free_port()))
t.ok(r.returncode == 1 and "bad.conf:5: tls-ciphers" in r.stderr,
     "an unusable listener cipher list: an error at its line", r.stderr)
r = check("<smtp-listener 127.0.0.1:%d>\n    tls-certificate %s\n"
          "</smtp-listener>\n<smtp-user u>\n    authentication-method certificate\n"
          "</smtp-user>\n" % (free_port(), w.file("missing.pem")))
t.ok(r.returncode == 0 and "smtp-listener" in r.stderr and
     "missing.pem" in r.stderr and
     "certificate without tls-certificate" in r.stderr,
     "--check-config: a listener certificate that does not load and a "
     "certificate user without one are warnings", r.stderr)

sink.stop()
w.remove()
t.done()
