"""Configuration errors are reported as file:line with the directive,
all of them at once, and pmtad then refuses to start (exit 1);
--check-config says whether a file loads; without --debug a log-file is
required.  The quickstart sample loads."""
import os
import subprocess
from ternlib import Tap, Workdir, PMTAD, SRCDIR

t = Tap()
w = Workdir("b04")


def run(text, *args):
    path = w.file("config")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([PMTAD, "--config=" + path] + list(args),
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stderr + p.stdout, path


good = "spool %s\nlog-file %s\n" % (w.file("spool"), w.file("log"))
rc, out, path = run(good, "--check-config")
t.eq(rc, 0, "--check-config: a valid file exits 0")
t.ok("ok" in out, "and says so", out)

bad = good + """
<domain demo.test>
    smtp-hosts [127.0.0.1]:2526
    smtp-hots [127.0.0.1]:2527
</domain>
<source 127.0.0.1>
    always-allow-relaying maybe
</source>
max-smtp-outt 20
always-allow-relaying yes
"""
rc, out, path = run(bad, "--check-config")
t.eq(rc, 1, "a file with errors exits 1")
t.ok("%s:6:" % path in out and "smtp-hots" in out,
     "a typo inside a nested block is reported at its file:line", out)
t.ok("%s:9:" % path in out and "maybe" in out,
     "a malformed value is reported at its file:line", out)
t.ok("%s:11:" % path in out and "max-smtp-outt" in out,
     "an unknown global directive is reported", out)
t.ok("%s:12:" % path in out and "not allowed" in out,
     "a directive in the wrong scope is reported", out)
t.ok("4 error" in out, "all four errors are reported, not only the first", out)

rc, out, path = run(good + "<domain x.test>\n  smtp-hosts [127.0.0.1]:25\n")
t.eq(rc, 1, "an unclosed block stops the start")
t.ok("%s:3:" % path in out and "not closed" in out, "and names where it opened", out)
rc, out, path = run(good + "<source 127.0.0.1>\n</domain>\n</source>\n")
t.ok(rc == 1 and "%s:4:" % path in out, "a mismatched closing tag is reported", out)
rc, out, path = run(good + "smtp-listener 127.0.0.1:99999\n")
t.ok(rc == 1 and "%s:3:" % path in out and "port" in out, "a bad port is reported", out)

rc, out, path = run("spool %s\n" % w.file("spool"))
t.eq(rc, 1, "without --debug a log-file is required")
t.ok("No logging file specified" in out, "with PMTA's message", out)

rc, out, path = run("# comment only\r\nspool %s # trailing comment\r\nlog-file \"%s\"" %
                    (w.file("spool"), w.file("log")), "--check-config")
t.eq(rc, 0, "CRLF line ends, trailing comments, quotes and a last line without newline load")

sample = os.path.join(SRCDIR, "pmta-conf-samples", "quickstart.conf")
p = subprocess.run([PMTAD, "--config=" + sample, "--check-config"],
                   capture_output=True, text=True, timeout=20)
t.eq(p.returncode, 0, "pmta-conf-samples/quickstart.conf loads")
rc, out, path = run(good, "--no-such-option")
t.eq(rc, 2, "an unknown option is a usage error")
w.remove()
t.done()
