"""Bodies in segments: small messages, received at the same time as
large ones, are kept in the log segment's data file (log/<seg>.data) and
large ones (over 128 KB) in their own files (msg/<seg>/<id>); after
kill -9 and a restart every message of both kinds is delivered byte for
byte, and the finished segment goes with its data file."""
import os
import threading
from ternlib import relay_config, Tap, Workdir, Sink, Tern, wait_for, free_port

t = Tap()
w = Workdir("b45")
sink_port = free_port()
tern = Tern(w, relay_config(sink_port))
tern.start()


def message(i, size):
    head = "Subject: m%d\r\nX-N: %d\r\n\r\n" % (i, i)
    line = ("%d " % i) * 20 + "\r\n"
    return head + line * (size // len(line) + 1)


sizes = [5000, 300000, 6000, 7000, 400000, 64000]
msgs = [message(i, n) for i, n in enumerate(sizes)]
errors = []


def send(i):
    try:
        tern.send(["r%d@demo.test" % i], msgs[i])
    except Exception as e:  # reported below
        errors.append(e)


# nothing listens on the sink port yet: the messages stay in the spool
threads = [threading.Thread(target=send, args=(i,)) for i in range(len(msgs))]
for th in threads:
    th.start()
for th in threads:
    th.join()
t.eq(errors, [], "%d messages accepted, sent at the same time" % len(msgs))
tern.kill9()
t.eq(len(tern.spooled()), len(msgs), "after kill -9 all are in the spool")
logdir, msgdir = w.file("spool", "log"), w.file("spool", "msg")
data = [f for f in os.listdir(logdir) if f.endswith(".data")]
t.ok(len(data) == 1, "the segment has a data file", os.listdir(logdir))
files = [f for d in os.listdir(msgdir) for f in os.listdir(os.path.join(msgdir, d))]
t.ok(len(files) == 2, "only the two large messages have their own files", files)
size = os.path.getsize(os.path.join(logdir, data[0])) if data else 0
t.ok(sum(sizes) - 700000 < size < sum(sizes) - 700000 + 20000,
     "the data file holds the four small ones (%d bytes)" % size)

sink = Sink(w, port=sink_port, maildir=True)
tern.start()
wait_for(lambda: len(sink.messages()) >= len(msgs), 30)
got = {}
for m in sink.messages():
    got[m["rcpts"][0]] = sink.message_bytes(m)
bad = [i for i in range(len(msgs))
       if not got.get("r%d@demo.test" % i, b"").endswith(msgs[i].encode())]
t.ok(len(got) == len(msgs) and not bad,
     "after the restart every message is delivered with its body intact",
     "missing or changed: %s" % bad)
t.ok(wait_for(lambda: not tern.spooled(), 10), "they leave the spool")
t.ok(wait_for(lambda: not os.path.exists(os.path.join(logdir, data[0])), 10),
     "the finished segment's data file is deleted", os.listdir(logdir))
t.eq(tern.stop(), 0, "clean stop")
sink.stop()
w.remove()
t.done()
