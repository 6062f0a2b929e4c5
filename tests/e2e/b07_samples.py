"""The configuration samples shipped in pmta-conf-samples/ all load; the
parser reports errors in nested blocks and in included files at their
file:line, all of them at once; `include` takes wildcards relative to
the including file and refuses cycles; `domain-macro` names expand in
<domain> tags and bad macros are refused.

Everything runs `pmtad --config=F --check-config`: exit 0 and no error
line when the file loads, exit 1 and one "FILE:LINE: message" line per
error when it does not."""
import glob
import os
import re
import subprocess
from ternlib import Tap, Workdir, PMTAD, SRCDIR

t = Tap()
w = Workdir("b07")
SAMPLES = os.path.join(SRCDIR, "pmta-conf-samples")
BULK = os.path.join(SAMPLES, "bulk.conf")


def check(path, cwd=None):
    """(exit status, stderr + stdout) of pmtad --check-config."""
    try:
        p = subprocess.run([PMTAD, "--config=" + path, "--check-config"],
                           capture_output=True, text=True, timeout=30, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, "pmtad --check-config did not finish in 30 s"
    return p.returncode, p.stderr + p.stdout


def error_lines(out):
    """The "file:line: message" lines that are errors, not warnings."""
    return [l for l in out.splitlines()
            if re.match(r"^.+:\d+: ", l) and not re.match(r"^.+:\d+: warning: ", l)]


def reported(out, path, line):
    """Is there an error for path:line (the path as given, or any path
    ending with the same file name)?"""
    base = os.path.basename(path)
    pat = re.compile(r"(^|/)%s:%d: (?!warning: )" % (re.escape(base), line))
    return any(pat.search(l) for l in out.splitlines())


def write(name, text):
    path = w.file(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# Paths every test config needs (pmtad refuses a config without a spool).
BASE = "spool %s\nlog-file %s\n" % (w.file("spool"), w.file("log"))

# --- 1. every shipped sample loads --------------------------------------
samples = sorted(glob.glob(os.path.join(SAMPLES, "*.conf")))
t.ok(len(samples) >= 3 and BULK in samples, "pmta-conf-samples/ holds the samples",
     "\n".join(samples))
for path in samples:
    rc, out = check(path)
    errs = error_lines(out)
    t.ok(rc == 0 and not errs, "pmta-conf-samples/%s loads without errors"
         % os.path.basename(path), out)

with open(BULK) as f:
    bulk = f.read().split("\n")


def line_of(lines, text, start=0):
    """1-based number of the first line at or after `start` (0-based)
    whose stripped text is `text`."""
    for i in range(start, len(lines)):
        if lines[i].strip() == text:
            return i + 1
    raise ValueError("not in bulk.conf: " + text)


# --- 2. a typo in a nested block of a copy of bulk.conf -------------------
# Inside <virtual-mta vmta17> <domain gmail.com>: two levels deep.
copy = list(bulk)
at = line_of(copy, "<domain gmail.com>", line_of(copy, "<virtual-mta vmta17>"))
copy.insert(at, "        max-smpt-out 3")        # becomes line at + 1
typo_line = at + 1
path = write("bulk-typo.conf", "\n".join(copy))
rc, out = check(path)
t.eq(rc, 1, "bulk.conf with a typo in <virtual-mta>/<domain>: refused")
t.ok(reported(out, path, typo_line) and "max-smpt-out" in out,
     "the typo is reported at bulk-typo.conf:%d, naming the directive" % typo_line, out)
t.eq(len(error_lines(out)), 1, "and it is the only error")

# --- 3. errors in several places of one file: all reported ----------------
copy = list(bulk)
edits = []      # (0-based index to insert before, text, what)
i = line_of(copy, "total-max-smtp-out 500")
edits.append((i, "total-max-smtp-outt 600", "an unknown global directive"))
i = line_of(copy, "<domain yahoo.com>")
edits.append((i, "    max-msg-rate fast", "a malformed rate in <domain>"))
i = line_of(copy, "<virtual-mta-pool pool-b>")
edits.append((i, "    smtp-listener 127.0.0.1:2526", "a global directive inside a pool"))
i = line_of(copy, "<acct-file /var/log/tern/acct.csv>")
edits.append((i, "    records d,b,zz", "an unknown record type in <acct-file>"))
# insert from the bottom up so that earlier indexes stay valid
for idx, text, _ in sorted(edits, reverse=True):
    copy.insert(idx, text)
path = write("bulk-errors.conf", "\n".join(copy))
rc, out = check(path)
t.eq(rc, 1, "bulk.conf with four errors: refused")
for n, (idx, text, what) in enumerate(sorted(edits)):
    line = idx + 1 + n          # each earlier insertion pushed it down one line
    t.ok(reported(out, path, line), "%s is reported at line %d" % (what, line), out)
t.ok("4 error" in out, "all four errors are counted", out)

# --- 4. include: a wildcard directory of VMTA files, relative path -------
# The main file includes vmtas/*.conf relative to its own directory, so
# pmtad is started from another directory ("/") to tell the two apart.
# vmtas/notes.txt must not be included (it is not *.conf).
write("inc/vmtas/10-first.conf", """
<virtual-mta inc-a>
    smtp-source-host 127.0.0.41 a.inc.example
</virtual-mta>
""")
write("inc/vmtas/20-second.conf", """<virtual-mta inc-b>
    smtp-source-host 127.0.0.42 b.inc.example
    <domain *>
        max-smtp-out 3
    </domain>
</virtual-mta>
""")
write("inc/vmtas/notes.txt", "this is not configuration\n")
main = write("inc/main.conf", BASE + """include vmtas/*.conf
<virtual-mta-pool inc-pool>
    virtual-mta inc-a
    virtual-mta inc-b
</virtual-mta-pool>
<source 127.0.0.1>
    default-virtual-mta inc-pool
</source>
""")
rc, out = check(main, cwd="/")
t.ok(rc == 0 and not error_lines(out),
     "include vmtas/*.conf (relative to the including file) loads", out)

# An error inside an included file is reported at that file's own line.
bad = write("inc/vmtas/30-third.conf", """<virtual-mta inc-c>
    smtp-source-host 127.0.0.43 c.inc.example
    max-smtp-outt 5
</virtual-mta>
""")
rc, out = check(main, cwd="/")
t.eq(rc, 1, "an error in an included file refuses the config")
t.ok(reported(out, bad, 3), "and is reported as 30-third.conf:3", out)
os.unlink(bad)

# include is also allowed inside <domain>: the text counts as written there.
write("inc/domain-defaults.conf", "max-smtp-out 7\nbounce-after 1d\n")
inner = write("inc/inner.conf", BASE + """<domain *>
    include domain-defaults.conf
</domain>
""")
rc, out = check(inner, cwd="/")
t.ok(rc == 0 and not error_lines(out), "include inside <domain> loads", out)
write("inc/domain-bad.conf", "max-smtp-out 7\nsmtp-listener 127.0.0.1:2599\n")
inner = write("inc/inner-bad.conf", BASE + """<domain *>
    include domain-bad.conf
</domain>
""")
rc, out = check(inner, cwd="/")
t.ok(rc == 1 and reported(out, w.file("inc/domain-bad.conf"), 2),
     "a global directive included into <domain> is refused at domain-bad.conf:2", out)

# A missing include file is an error at the include line.
missing = write("inc/missing.conf", BASE + "include no-such-file.conf\n")
rc, out = check(missing, cwd="/")
t.ok(rc == 1 and reported(out, missing, 3), "a missing include file is refused at its line",
     out)

# --- 5. include cycles ---------------------------------------------------
cyc_a = write("cyc/a.conf", BASE + "include b.conf\n")
cyc_b = write("cyc/b.conf", "host-name cycle.example\ninclude a.conf\n")
rc, out = check(cyc_a, cwd="/")


def names(out, *files):
    """A message other than the final "N error(s)" summary names a file."""
    return any(any(f in l for f in files) and "error(s)" not in l
               for l in out.splitlines())


t.eq(rc, 1, "an include cycle (a.conf -> b.conf -> a.conf) is refused")
t.ok(names(out, "a.conf", "b.conf"), "with a message naming the file", out)
self_inc = write("cyc/self.conf", BASE + "include self.conf\n")
rc, out = check(self_inc, cwd="/")
t.ok(rc == 1 and names(out, "self.conf"), "a file that includes itself is refused", out)

# --- 6. domain-macro -----------------------------------------------------
good = write("macro.conf", BASE + """domain-macro bigmail a.test, b.test,c.test
domain-macro tld com, co.uk
domain-macro all $bigmail, d.test
<domain $bigmail>
    max-smtp-out 4
</domain>
<domain mail.$tld>
    max-smtp-out 5
</domain>
<domain $all>
    bounce-after 1d
</domain>
""")
rc, out = check(good)
t.ok(rc == 0 and not error_lines(out),
     "domain-macro: whole-name, component and nested macros load", out)

path = write("macro-undef.conf", BASE + "<domain $nosuch>\n    max-smtp-out 4\n</domain>\n")
rc, out = check(path)
t.ok(rc == 1 and reported(out, path, 3) and "nosuch" in out,
     "an undefined macro in <domain> is refused at its line", out)

path = write("macro-loop.conf", BASE + "domain-macro m1 x.test, $m2\ndomain-macro m2 $m1\n"
             "<domain $m1>\n    max-smtp-out 4\n</domain>\n")
rc, out = check(path)
t.ok(rc == 1 and (reported(out, path, 3) or reported(out, path, 4) or
                  reported(out, path, 5)), "macros that refer to each other are refused",
     out)

path = write("macro-name.conf", BASE + "domain-macro bad-name x.test\n")
rc, out = check(path)
t.ok(rc == 1 and reported(out, path, 3),
     "a macro name with a character other than letters, digits, '_' is refused", out)

w.remove()
t.done()
