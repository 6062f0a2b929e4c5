"""Real-world PowerMTA configurations: each of the 25 files of
../shared/pmta-configs (next to the source tree; not part of Tern, most
carry no licence) either loads with `pmtad --check-config` or is refused
with an error at each of its invalid lines, as tests/conf/
corpus-expectations.txt says and explains.  One TAP line per file; the
parse time of the largest file is printed as a diagnostic."""
import os
import re
import subprocess
import sys
import time

from ternlib import Tap, Workdir, PMTAD, SRCDIR

CORPUS = os.path.normpath(os.path.join(SRCDIR, "..", "shared", "pmta-configs"))
EXPECT = os.path.join(SRCDIR, "tests", "conf", "corpus-expectations.txt")

if not os.path.isdir(CORPUS):
    print("1..0 # SKIP no ../shared/pmta-configs")
    sys.exit(0)

t = Tap()
w = Workdir("c01")


def read_expectations(path):
    """{file: (kind, [lines], via_include)}; raises on a malformed entry."""
    exp = {}
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            via = words[-1] == "via-include"
            if via:
                words = words[:-1]
            if len(words) == 2 and words[1] == "loads":
                exp[words[0]] = ("loads", [], via)
            elif len(words) == 3 and words[1] == "refused" and \
                    re.fullmatch(r"\d+(,\d+)*", words[2]):
                exp[words[0]] = ("refused", [int(x) for x in words[2].split(",")], via)
            else:
                raise ValueError("%s:%d: cannot read %r" % (path, n, raw.strip()))
    return exp


def error_lines(out):
    return [l for l in out.splitlines()
            if re.match(r"^.+:\d+: ", l) and not re.match(r"^.+:\d+: warning: ", l)]


def error_at(errors, name, line):
    pat = re.compile(r"(^|/)%s:%d: " % (re.escape(name), line))
    return any(pat.search(l) for l in errors)


def check_config(path):
    """(exit status, output, seconds) of pmtad --check-config."""
    start = time.monotonic()
    try:
        p = subprocess.run([PMTAD, "--config=" + path, "--check-config"],
                           capture_output=True, text=True, timeout=60,
                           errors="replace")
        rc, out = p.returncode, p.stderr + p.stdout
    except subprocess.TimeoutExpired:
        rc, out = None, "pmtad --check-config did not finish in 60 s"
    return rc, out, time.monotonic() - start


try:
    expected = read_expectations(EXPECT)
except (OSError, ValueError) as e:
    t.ok(False, "read tests/conf/corpus-expectations.txt", str(e))
    expected = {}

files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".conf"))
t.ok(sorted(expected) == files, "every corpus file has exactly one expectation",
     "no expectation: %s\nno such file: %s" % (
         sorted(set(files) - set(expected)), sorted(set(expected) - set(files))))

largest = max(files, key=lambda f: os.path.getsize(os.path.join(CORPUS, f))) \
    if files else None
timing = None

for name in files:
    if name not in expected:
        continue
    kind, lines, via = expected[name]
    path = os.path.join(CORPUS, name)
    config = path
    if via:
        # A fragment: load it the way it is meant to be used, through an
        # include from a config that has the required spool and log-file.
        config = w.file("wrap-" + name)
        with open(config, "w") as f:
            f.write("spool %s\nlog-file %s\ninclude %s\n"
                    % (w.file("spool"), w.file("log"), path))
    rc, out, secs = check_config(config)
    if name == largest:
        timing = secs
    errors = error_lines(out)
    label = "%s %s%s" % (name, "loads" if kind == "loads" else
                         "refused at " + ",".join(map(str, lines)),
                         " (included)" if via else "")
    if kind == "loads":
        t.ok(rc == 0 and not errors, label, out)
        continue
    missing = [n for n in lines if not error_at(errors, name, n)]
    t.ok(rc == 1 and not missing, label,
         "exit status %r; not reported: %s\n%s" % (rc, missing, out))
    others = [l for l in errors if not any(error_at([l], name, n) for n in lines)]
    if others:
        print("# note: %s: %d other error(s) reported:" % (name, len(others)))
        for l in others[:20]:
            print("#   " + l)

if timing is not None:
    print("# parse time of the largest file, %s (%d bytes): %.3f s"
          % (largest, os.path.getsize(os.path.join(CORPUS, largest)), timing))
w.remove()
t.done()
