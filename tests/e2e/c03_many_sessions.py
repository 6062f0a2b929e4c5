"""500 injecting connections at once (an asyncio SMTP client speaking the
plain dialogue): every message pmtad accepts reaches the sink, and pmtad's
resident memory stays under 200 MB throughout (sampled from /proc)."""
import asyncio
import threading
import time
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for

CONNS = 500
PER_CONN = 4
BODY = "Subject: load\r\n\r\n" + ("x" * 76 + "\r\n") * 60   # about 5 KB

t = Tap()
w = Workdir("c03")
sink = Sink(w)
# total-max-smtp-in (default 100, as in PMTA) raised so that all 500 are served
tern = Tern(w, relay_config(sink.port, settings=("max-smtp-out 20",),
                            more="total-max-smtp-in 600\n"))
tern.start()

peak = [0]
stop = threading.Event()


def sample_rss():
    while not stop.is_set():
        try:
            with open("/proc/%d/status" % tern.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)


async def reply(r):
    """One SMTP reply (multi-line aware): its code."""
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return int(line[:3])


async def session(n, accepted, failures):
    try:
        r, wr = await asyncio.open_connection(tern.ip, tern.port)
        await reply(r)
        wr.write(b"EHLO load%d.test\r\n" % n)
        await reply(r)
        for k in range(PER_CONN):
            rcpt = "c%d.m%d@demo.test" % (n, k)
            wr.write(b"MAIL FROM:<s@load.test>\r\n")
            if await reply(r) != 250:
                raise ValueError("MAIL")
            wr.write(b"RCPT TO:<%s>\r\n" % rcpt.encode())
            if await reply(r) != 250:
                raise ValueError("RCPT")
            wr.write(b"DATA\r\n")
            if await reply(r) != 354:
                raise ValueError("DATA")
            wr.write(BODY.encode() + b".\r\n")
            if await reply(r) == 250:
                accepted.add(rcpt)
        wr.write(b"QUIT\r\n")
        await reply(r)
        wr.close()
    except (OSError, ValueError, ConnectionError) as e:
        failures.append("%d: %r" % (n, e))


async def main():
    accepted, failures = set(), []
    await asyncio.gather(*(session(n, accepted, failures) for n in range(CONNS)))
    return accepted, failures


sampler = threading.Thread(target=sample_rss)
sampler.start()
accepted, failures = asyncio.run(main())
t.ok(len(accepted) == CONNS * PER_CONN,
     "%d connections at once: %d of %d messages accepted" %
     (CONNS, len(accepted), CONNS * PER_CONN), failures[:5])
wait_for(lambda: len(sink.messages()) >= len(accepted), 120)
stop.set()
sampler.join()
got = {r for m in sink.messages() for r in m["rcpts"]}
t.eq(sorted(accepted - got), [], "every accepted message was delivered")
t.ok(0 < peak[0] < 200 * 1024, "pmtad's RSS peaked at %.1f MB (< 200 MB)" %
     (peak[0] / 1024.0))
t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
