"""`pmta show settings DOMAIN[/VMTA]` prints the effective settings of a
queue of the bulk sample (pmta-conf-samples/bulk.conf), merged as
../shared/docs/pmta-reference.md §1.3, §2.1 and Q1 say: the global
<domain> blocks from general to specific (*, [*.]x, *.x, macro-expanded
names, written-out names), then the pool's <domain> blocks, then the
VirtualMTA's, each level overriding only what it sets; what is set
nowhere keeps PMTA's default (§2.2).

Layout (pmta-interfaces.md §2.3): "Virtual MTA Settings", a line of
dashes, "name value" lines; a blank line; "Queue Settings", dashes,
"name value" lines; names sorted (the 5.0 sample prints "type" first).

pmtad runs on a copy of bulk.conf in which only the listener, spool,
log-file and acct-file lines are rewritten for the test; everything else
is the sample as shipped."""
import os
import re
from ternlib import Tap, Workdir, Tern, free_port, SRCDIR

t = Tap()
w = Workdir("b08")
BULK = os.path.join(SRCDIR, "pmta-conf-samples", "bulk.conf")

port = free_port()
tern = Tern(w, "", port=port)          # writes a config we replace below
with open(BULK) as f:
    text = f.read()
rewrites = [
    (r"^smtp-listener 127\.0\.0\.1:2525$", "smtp-listener 127.0.0.1:%d" % port),
    (r"^<spool [^>]*>$", "<spool %s>" % tern.spool),
    (r"^log-file .*$", "log-file %s" % tern.log),
    (r"^<acct-file [^>]*>$", "<acct-file %s>" % tern.acct),
]
for pattern, repl in rewrites:
    text, n = re.subn(pattern, repl, text, flags=re.M)
    t.eq(n, 1, "bulk.conf has exactly one line to rewrite: %s" % repl.split()[0])
with open(tern.config, "w") as f:
    f.write(text)

started = True
try:
    tern.start()
except RuntimeError as e:
    started = False
    t.ok(False, "pmtad starts on bulk.conf", str(e))


def settings(queue):
    """{section: {name: value}} from `pmta show settings QUEUE`, plus the
    raw output and the list of layout problems found."""
    p = tern.pmta("show", "settings", queue)
    out = p.stdout
    sections, problems, cur, names = {}, [], None, []
    lines = out.splitlines()
    if p.returncode != 0:
        problems.append("exit status %d: %s" % (p.returncode, p.stderr.strip()))
    i = 0
    while i < len(lines):
        line = lines[i]
        if line in ("Virtual MTA Settings", "Queue Settings"):
            if cur is not None and names and lines[i - 1] != "":
                problems.append("no blank line before %r" % line)
            dashes = lines[i + 1] if i + 1 < len(lines) else ""
            if dashes != "-" * len(line):
                problems.append("%r is not underlined with %d dashes" % (line, len(line)))
            cur = sections.setdefault(line, {})
            names = []
            i += 2
            continue
        if line.strip() and cur is not None:
            name, _, value = line.partition(" ")
            if not value or line != line.strip():
                problems.append("not a 'name value' line: %r" % line)
            cur[name] = value
            names.append(name)
            rest = names[1:] if names[0] == "type" else names
            if rest != sorted(rest):
                problems.append("%r is out of order" % name)
        elif line.strip():
            problems.append("text before the first section: %r" % line)
        i += 1
    for s in ("Virtual MTA Settings", "Queue Settings"):
        if s not in sections:
            problems.append("no %r section" % s)
    return sections, out + p.stderr, problems


def expect(queue, vmta_values, queue_values):
    """One TAP line per expected value; the comment after each value in
    the callers says where it comes from."""
    if not started:
        t.ok(False, "show settings %s: pmtad is not running" % queue)
        return
    sections, out, problems = settings(queue)
    vm = sections.get("Virtual MTA Settings", {})
    qs = sections.get("Queue Settings", {})
    for name, want in vmta_values:
        t.ok(vm.get(name) == want, "%s: Virtual MTA %s %s" % (queue, name, want),
             "got: %r\n%s" % (vm.get(name), out))
    for name, want in queue_values:
        t.ok(qs.get(name) == want, "%s: %s %s" % (queue, name, want),
             "got: %r\n%s" % (qs.get(name), out))
    return problems, out


# --- layout, on the first queue ------------------------------------------
if started:
    sections, out, problems = settings("gmail.com/vmta01")
    t.ok(not problems, "show settings: two sections, 'name value' lines, sorted",
         "\n".join(problems) + "\n" + out)
    t.ok(len(sections.get("Queue Settings", {})) >= 20,
         "the Queue Settings list every queue directive, set or not", out)
else:
    t.ok(False, "show settings layout: pmtad is not running")

# --- gmail.com/vmta01: pool-a has no <domain>, vmta01 none either ---------
# So only the global <domain *> and <domain gmail.com> apply.
expect("gmail.com/vmta01", [
    ("max-smtp-out", "unlimited"),          # not set for vmta01 or pool-a: default
    ("max-smtp-msg-rate", "unlimited"),     # idem
], [
    ("max-smtp-out", "15"),                 # <domain gmail.com> overrides the default 20
    ("max-msg-rate", "600/h"),              # <domain gmail.com>
    ("retry-after", "5m,10m,20m,1h"),       # <domain gmail.com> overrides <domain *>'s list
    ("bounce-after", "2d"),                 # <domain *> (gmail.com does not set it)
    ("max-msg-per-connection", "50"),       # <domain *>
    ("max-errors-per-connection", "10"),    # <domain *>
    ("backoff-max-msg-rate", "60/h"),       # <domain gmail.com> overrides <domain *>'s 100/h
    ("backoff-retry-after", "30m"),         # <domain *>
    ("backoff-to-normal-after", "2h"),      # <domain *>
    ("backoff-to-normal-after-delivery", "yes"),  # <domain *>
    ("bounce-upon-no-mx", "yes"),           # <domain *>
    ("queue-priority", "60"),               # <domain gmail.com> (default 50)
    ("use-starttls", "yes"),                # set nowhere: PMTA default yes (R§2.2)
    ("require-starttls", "no"),             # set nowhere: default no
    ("backoff-max-smtp-out", "20"),         # set nowhere: default 20
    ("smtp-421-means-mx-unavailable", "no"),  # set nowhere: default no
    ("type", "smtp"),                       # set nowhere: default smtp
])

# --- yahoo.com/vmta10: pool-b has <domain *> and <domain yahoo.com> --------
# Global: * then yahoo.com (max-smtp-out 8, 300/h, max-msg-per-connection
# 20, bounce-after 1d).  Then the pool: its <domain *> sets
# max-msg-per-connection 25, which overrides the global <domain yahoo.com>'s
# 20 (Q1: a whole level overrides the level below, whatever the pattern);
# its <domain yahoo.com> sets max-smtp-out 4.
expect("yahoo.com/vmta10", [
    ("max-smtp-out", "unlimited"),          # vmta10 sets nothing
], [
    ("max-smtp-out", "4"),                  # pool-b <domain yahoo.com> beats global 8
    ("max-msg-per-connection", "25"),       # pool-b <domain *> beats global yahoo.com's 20 (Q1)
    ("max-msg-rate", "300/h"),              # global <domain yahoo.com>, not touched by pool-b
    ("bounce-after", "1d"),                 # global <domain yahoo.com> beats global *'s 2d
    ("retry-after", "10m,20m,30m,1h,2h"),   # global <domain *>
    ("backoff-max-msg-rate", "100/h"),      # global <domain *>
])

# --- the same domain without pool-b: vmta01 is in pool-a -----------------
expect("yahoo.com/vmta01", [], [
    ("max-smtp-out", "8"),                  # global <domain yahoo.com>
    ("max-msg-per-connection", "20"),       # global <domain yahoo.com> beats global *'s 50
])

# --- gmail.com/vmta17: pool-warmup <domain *> and vmta17's own <domain>s --
# Global: * + gmail.com (15 connections, 600/h, retry 5m,10m,20m,1h,
# bounce-after 2d).  Pool-warmup <domain *>: bounce-after 1d, retry-after
# 15m,30m,1h.  vmta17 <domain *>: max-smtp-out 2, max-msg-rate 100/h;
# vmta17 <domain gmail.com>: max-msg-rate 50/h.
expect("gmail.com/vmta17", [
    ("max-smtp-out", "40"),                 # <virtual-mta vmta17> max-smtp-out
    ("max-smtp-msg-rate", "3000/h"),        # <virtual-mta vmta17> max-smtp-msg-rate
], [
    ("max-smtp-out", "2"),                  # vmta17 <domain *> beats global gmail.com's 15 (Q1)
    ("max-msg-rate", "50/h"),               # vmta17 <domain gmail.com> beats its <domain *> 100/h
    ("retry-after", "15m,30m,1h"),          # pool-warmup <domain *> beats global gmail.com's list
    ("bounce-after", "1d"),                 # pool-warmup <domain *> beats global *'s 2d
    ("backoff-max-msg-rate", "60/h"),       # global <domain gmail.com>; no level above sets it
    ("max-msg-per-connection", "50"),       # global <domain *>
    ("queue-priority", "60"),               # global <domain gmail.com>
])

# --- a domain that only <domain *> matches --------------------------------
expect("example.org/vmta02", [], [
    ("max-smtp-out", "20"),                 # set nowhere for it: PMTA default 20
    ("max-msg-rate", "unlimited"),          # default
    ("retry-after", "10m,20m,30m,1h,2h"),   # <domain *>
    ("bounce-after", "2d"),                 # <domain *>
    ("max-msg-per-connection", "50"),       # <domain *>
    ("backoff-max-msg-rate", "100/h"),      # <domain *>
    ("backoff-retry-after", "30m"),         # <domain *>
    ("queue-priority", "50"),               # default 50
    ("use-starttls", "yes"),                # default
])

# --- [*.]hotmail.com: a subdomain, and the domain itself ------------------
for q in ("mx4.hotmail.com/vmta03", "hotmail.com/vmta03"):
    expect(q, [], [
        ("max-smtp-out", "10"),             # <domain [*.]hotmail.com>
        ("max-msg-rate", "500/h"),          # <domain [*.]hotmail.com>
        ("max-connect-rate", "30/m"),       # <domain [*.]hotmail.com>
        ("smtp-421-means-mx-unavailable", "yes"),  # <domain [*.]hotmail.com>
        ("backoff-retry-after", "1h"),      # <domain [*.]hotmail.com> beats <domain *>'s 30m
        ("bounce-after", "2d"),             # <domain *>
    ])

# --- macro-expanded names -----------------------------------------------
# <domain yahoo.$yahoo_tld> with yahoo_tld = de, fr, es, co.uk.
expect("yahoo.fr/vmta04", [], [
    ("max-smtp-out", "4"),                  # <domain yahoo.$yahoo_tld>
    ("max-msg-rate", "200/h"),              # <domain yahoo.$yahoo_tld>
    ("max-msg-per-connection", "50"),       # <domain *> (yahoo.com's 20 is for yahoo.com only)
    ("bounce-after", "2d"),                 # <domain *>
])
# ... and through pool-b, whose <domain yahoo.com> does not match yahoo.de.
expect("yahoo.de/vmta12", [], [
    ("max-smtp-out", "4"),                  # global <domain yahoo.$yahoo_tld>
    ("max-msg-per-connection", "25"),       # pool-b <domain *>
])
# <domain $msft> with msft = outlook.com, live.com, msn.com.
expect("live.com/vmta05", [], [
    ("max-smtp-out", "6"),                  # <domain $msft>
    ("max-msg-rate", "400/h"),              # <domain $msft>
    ("smtp-421-means-mx-unavailable", "yes"),  # <domain $msft>
])
# aol.com is in $verizon_media and written out: the written-out block wins.
expect("aol.com/vmta06", [], [
    ("max-smtp-out", "5"),                  # <domain aol.com> beats <domain $verizon_media>'s 3
    ("max-msg-rate", "250/h"),              # <domain aol.com> beats 150/h
])
expect("aim.com/vmta06", [], [
    ("max-smtp-out", "3"),                  # <domain $verizon_media> only
    ("max-msg-rate", "150/h"),              # <domain $verizon_media>
])

# --- no VirtualMTA given: the {default} VirtualMTA, global blocks only -----
expect("yahoo.com", [
    ("max-smtp-out", "unlimited"),
], [
    ("max-smtp-out", "8"),                  # global <domain yahoo.com>
    ("max-msg-per-connection", "20"),       # global <domain yahoo.com>
    ("bounce-after", "1d"),                 # global <domain yahoo.com>
])

if started:
    t.eq(tern.stop(), 0, "pmtad exits 0")
w.remove()
t.done()
