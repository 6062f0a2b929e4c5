"""Crash test: while several thousand messages are injected by parallel
clients, pmtad is killed with SIGKILL at random moments (10 times) and
restarted at once.  Afterwards every message that got its 250 must have
reached the sink; duplicates may only come from messages in flight at a
kill, and the test reports how many there were."""
import hashlib
import os
import random
import smtplib
import threading
import time
from ternlib import Tap, Workdir, Sink, Tern, wait_for, relay_config

t = Tap()
w = Workdir("c02")
sink = Sink(w)
tern = Tern(w, relay_config(sink.port))
tern.start()

TOTAL = int(os.environ.get("TERN_CRASH_MESSAGES", "6000"))
KILLS = 10
CLIENTS = 8
acked = {}              # sha256 of the body -> number of 250s
lock = threading.Lock()
counter = [0]
stop = threading.Event()


def next_body():
    with lock:
        if counter[0] >= TOTAL:
            return None
        counter[0] += 1
        n = counter[0]
    return ("Subject: crash %d\r\n\r\nmessage %d %s\r\n" % (n, n, "x" * (n % 700))).encode()


def client():
    s = None
    body = next_body()
    while body is not None and not stop.is_set():
        try:
            if s is None:
                s = smtplib.SMTP(tern.ip, tern.port, timeout=10)
                s.ehlo("crash.test")
            s.sendmail("sender@example.org", ["rcpt@demo.test"], body)
            with lock:
                h = hashlib.sha256(body).hexdigest()
                acked[h] = acked.get(h, 0) + 1
            body = next_body()
        except (OSError, smtplib.SMTPException):
            # the daemon went away: this message was not acknowledged;
            # try it again on a new connection (a second copy may arrive)
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
            s = None
            time.sleep(0.05)
    if s is not None:
        try:
            s.quit()
        except (OSError, smtplib.SMTPException):
            pass


threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
for th in threads:
    th.start()
random.seed(os.getpid())
kills = under_load = 0
while kills < KILLS:
    time.sleep(random.uniform(0.05, 0.3))
    under_load += counter[0] < TOTAL
    tern.kill9()
    kills += 1
    tern.start()
for th in threads:
    th.join(120)
t.eq(kills, KILLS, "pmtad was killed %d times" % KILLS)
t.ok(under_load >= KILLS - 2, "%d of the kills came while messages were being injected" % under_load)
t.ok(all(not th.is_alive() for th in threads), "every client finished")

want = set(acked)
wait_for(lambda: want <= {m["sha256"] for m in sink.messages()}, 60, 0.2)
received = {}
for m in sink.messages():
    received[m["sha256"]] = received.get(m["sha256"], 0) + 1
lost = want - set(received)
dups = sum(n - 1 for n in received.values() if n > 1)
print("# %d messages acknowledged, %d distinct received, %d duplicate deliveries, "
      "%d lost" % (len(want), len(received), dups, len(lost)))
t.ok(len(want) >= TOTAL * 0.9, "most messages were acknowledged (%d of %d)" % (len(want), TOTAL))
t.eq(len(lost), 0, "no acknowledged message is lost")
t.ok(dups <= KILLS * (CLIENTS + 50),
     "duplicates only from messages in flight at a kill (%d)" % dups)
t.eq(tern.stop(), 0, "pmtad exits 0 at the end")
w.remove()
t.done()
