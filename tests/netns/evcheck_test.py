#!/usr/bin/env python3
"""evcheck_test.py - unit tests of evcheck.py on hand-made logs.

One correct scenario (three sessions on three daemons join a group, a
partition cuts d3 off, the sides merge again, everyone drains), then one
broken copy per kind of violation: each must be reported with its kind.
Prints PASS/FAIL lines in the format of tests/run.sh.
"""
import contextlib
import io
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evcheck  # noqa: E402

A, B, C = "#a#d1", "#b#d2", "#c#d3"
V1 = "167772417.100.3"      # a, b, c after three joins
V2 = "167772417.200.1"      # a, b after the partition
V3 = "167772419.200.1"      # c alone
V4 = "167772417.300.1"      # merged
FAULT_T, HEAL_T = 5000, 8000


class Log:
    """The lines of one client, with a clock that moves on by 10 us."""

    def __init__(self, priv, t0):
        self.priv, self.t, self.lines = priv, t0, []

    def add(self, text):
        self.t += 10
        self.lines.append("%s t=%d" % (text, self.t))

    def at(self, t):
        self.t = max(self.t, t)


CAUSE_BITS = {"JOIN": 0x100, "LEAVE": 0x200, "DISCONNECT": 0x400,
              "NETWORK": 0x800}


def u32(x):
    return (x & 0xffffffff).to_bytes(4, sys.byteorder)


def field(name):
    return name.encode("ascii").ljust(32, b"\0")


def frame_line(priv, kind, gid, members=(), vs=(), myvs=0, cause=None):
    """The FRAME line evclient writes for a membership frame as chorusd
    sends it (the offset zeroed in the bytes, given in off=)."""
    body = b"".join(u32(int(x)) for x in gid.split("."))
    off = -1
    if kind == "REG":
        off = sum(4 + 32 * len(s) for s in vs[:myvs])
        body += u32(len(vs)) + u32(0)
        for s in vs:
            body += u32(len(s)) + b"".join(field(m) for m in s)
        st = 0x1000 | CAUSE_BITS[cause]
    else:
        st = 0x2000
    raw = (u32(st) + u32(len(members)) + u32(len(body)) + field("g") +
           b"".join(field(m) for m in members) + body)
    return "FRAME s=%s g=g kind=%s gid=%s off=%d bytes=%s" % (
        priv, kind, gid, off, raw.hex())


def scenario():
    logs = {p: Log(p, 1000 + i) for i, p in enumerate((A, B, C))}
    a, b, c = logs[A], logs[B], logs[C]

    def reg(log, gid, cause, members, vs, myvs, changed):
        log.add("REG s=%s g=g cause=%s gid=%s idx=%d members=%s vs=%s myvs=%d "
                "changed=%s" % (log.priv, cause, gid, members.index(log.priv),
                                ",".join(members), ";".join(",".join(s) for s in vs),
                                myvs, changed))
        log.add(frame_line(log.priv, "REG", gid, members, vs, myvs, cause))

    def send(log, svc, c_, n, done=0):
        log.add("SEND s=%s g=g svc=%s c=%s n=%d len=100 done=%d"
                % (log.priv, svc, c_, n, done))

    def msg(log, frm, svc, c_, n, done=0):
        log.add("MSG s=%s from=%s g=g svc=%s c=%s n=%d len=100 done=%d"
                % (log.priv, frm, svc, c_, n, done))

    for log in (a, b, c):
        log.add("START cli=0 daemon=4803@x pid=1")
        log.add("CONN s=%s n=0" % log.priv)
        log.add("JOIN s=%s g=g" % log.priv)
    reg(a, "167772417.100.1", "JOIN", [A], [[A]], 0, A)
    for log in (a, b):
        reg(log, "167772417.100.2", "JOIN", [A, B], [[B]], 0, B)
    for log in (a, b, c):
        reg(log, V1, "JOIN", [A, B, C], [[C]], 0, C)
    # View V1: a sends three, b one, c one ordered and one self-discard.
    send(a, "AGREED", "F", 1)
    send(a, "SAFE", "F", 2)
    send(a, "FIFO", "F", 3)
    send(b, "AGREED", "F", 1)
    send(c, "AGREED", "F", 1)
    send(c, "AGREED", "D", 1)
    send(b, "RELIABLE", "R", 1)
    order = [(A, "AGREED", "F", 1), (B, "AGREED", "F", 1), (A, "SAFE", "F", 2),
             (C, "AGREED", "F", 1), (A, "FIFO", "F", 3),
             (C, "AGREED+SD", "D", 1)]
    for log in (a, b, c):
        for frm, svc, c_, n in order:
            if c_ == "D" and frm == log.priv:
                continue
            msg(log, frm, svc, c_, n)
        msg(log, B, "RELIABLE", "R", 1)
    # The partition: c's second message is delivered in the transitional
    # configuration on both sides.
    send(c, "SAFE", "F", 2)
    for log in (a, b, c):
        log.at(FAULT_T)
        log.add("TRANS s=%s g=g gid=%s" % (log.priv, V1))
        log.add(frame_line(log.priv, "TRANS", V1))
        msg(log, C, "SAFE", "F", 2)
    for log in (a, b):
        reg(log, V2, "NETWORK", [A, B], [[A, B]], 0, "-")
    reg(c, V3, "NETWORK", [C], [[C]], 0, "-")
    send(a, "AGREED", "F", 4)
    for log in (a, b):
        msg(log, A, "AGREED", "F", 4)
    send(c, "AGREED", "F", 3)
    msg(c, C, "AGREED", "F", 3)
    # The merge: no transitional signal, one vs set per side.
    for log in (a, b, c):
        log.at(HEAL_T)
        reg(log, V4, "NETWORK", [A, B, C], [[A, B], [C]], 1 if log is c else 0, "-")
    for log in (a, b, c):
        send(log, "SAFE", "F", {A: 5, B: 2, C: 4}[log.priv], 1)
    for log in (a, b, c):
        for frm, n in ((A, 5), (B, 2), (C, 4)):
            msg(log, frm, "SAFE", "F", n, 1)
        log.add("END s=%s clean=1 why=drained" % log.priv)
    return {p: list(log.lines) for p, log in logs.items()}


def run_checker(logs, extra=()):
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for p, lines in logs.items():
            path = os.path.join(d, p.replace("#", "_") + ".log")
            with open(path, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            paths.append(path)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = evcheck.main(list(extra) + paths)
        kinds = {ln.split()[1] for ln in out.getvalue().splitlines()
                 if ln.startswith("VIOLATION ")}
        return rc, kinds, out.getvalue()


def find(lines, *words):
    """Index of the first line that starts with the first word and contains
    the others."""
    for i, ln in enumerate(lines):
        if ln.startswith(words[0]) and all(w in ln for w in words[1:]):
            return i
    raise KeyError(words)


def edit(fn):
    logs = scenario()
    fn(logs)
    return logs


# Each case: name, mutation, expected violation kind, extra options.
def m_swap_order(l):
    b = l[B]
    i, j = find(b, "MSG", "from=#a#d1", "n=1 "), find(b, "MSG", "from=#b#d2", "n=1 ")
    b[i], b[j] = b[j], b[i]


def m_drop_last_of_view(l):
    del l[B][find(l[B], "MSG", "from=#c#d3", "n=2 ")]


def m_drop_middle(l):
    del l[B][find(l[B], "MSG", "from=#a#d1", "n=2 ")]


def m_duplicate(l):
    b = l[B]
    i = find(b, "MSG", "from=#a#d1", "n=1 ")
    b.insert(i + 1, b[i])


def m_fifo(l):
    b = l[B]
    i, j = find(b, "MSG", "from=#a#d1", "n=2 "), find(b, "MSG", "from=#a#d1", "n=3 ")
    b[i], b[j] = b[j], b[i]


def m_self_delivery(l):
    a = l[A]
    del a[find(a, "MSG", "from=#a#d1", "n=4 ")]


def m_self_discard(l):
    c = l[C]
    i = find(c, "MSG", "from=#c#d3", "n=1 ")
    c.insert(i + 1, "MSG s=#c#d3 from=#c#d3 g=g svc=AGREED+SD c=D n=1 len=100 "
             "done=0 t=1")


def m_non_member(l):
    b = l[B]
    i = find(b, "MSG", "from=#a#d1", "n=4 ")
    b.insert(i + 1, "MSG s=#b#d2 from=#c#d3 g=g svc=AGREED c=F n=3 len=100 "
             "done=0 t=1")


def m_outside_view(l):
    b = l[B]
    i = find(b, "JOIN s=")
    b.insert(i + 1, "MSG s=#b#d2 from=#a#d1 g=g svc=AGREED c=F n=1 len=100 "
             "done=0 t=1")


def m_wrong_service(l):
    b = l[B]
    i = find(b, "MSG", "from=#a#d1", "n=2 ")
    b[i] = b[i].replace("svc=SAFE", "svc=AGREED")


def m_never_sent(l):
    b = l[B]
    i = find(b, "MSG", "from=#b#d2", "svc=RELIABLE")
    b.insert(i + 1, "MSG s=#b#d2 from=#a#d1 g=g svc=RELIABLE c=R n=9 len=100 "
             "done=0 t=1")


def m_members_differ(l):
    c = l[C]
    i = find(c, "REG", "gid=" + V4)
    c[i] = c[i].replace("members=#a#d1,#b#d2,#c#d3", "members=#b#d2,#a#d1,#c#d3") \
        .replace("idx=2", "idx=2")


def m_vs_not_partition(l):
    for p in (A, B, C):
        x = l[p]
        i = find(x, "REG", "gid=" + V4)
        x[i] = x[i].replace("vs=#a#d1,#b#d2;#c#d3", "vs=#a#d1;#c#d3")


def m_no_trans(l):
    del l[A][find(l[A], "TRANS")]


def m_trans_gid(l):
    a = l[A]
    i = find(a, "TRANS")
    a[i] = a[i].replace("gid=" + V1, "gid=1.2.3")


def m_index(l):
    b = l[B]
    i = find(b, "REG", "gid=" + V1)
    b[i] = b[i].replace("idx=1", "idx=0")


def m_join_vs(l):
    b = l[B]
    i = find(b, "REG", "gid=" + V1)
    b[i] = b[i].replace("vs=#c#d3", "vs=#a#d1,#c#d3")


def m_join_members(l):
    for p in (A, B, C):
        x = l[p]
        i = find(x, "REG", "gid=" + V1)
        x[i] = x[i].replace("members=#a#d1,#b#d2,#c#d3",
                            "members=#a#d1,#b#d2,#c#d3,#z#d1")


def m_self_leave(l):
    a = l[A]
    a.insert(find(a, "END"), "SELFLEAVE s=#a#d1 g=g t=1")


def m_own_vs(l):
    c = l[C]
    i = find(c, "REG", "gid=" + V4)
    c[i] = c[i].replace("myvs=1", "myvs=0")


def m_drain(l):
    a = l[A]
    i = find(a, "END")
    a[i] = a[i].replace("clean=1 why=drained", "clean=0 why=drain-timeout")


def m_unfinished(l):
    del l[A][find(l[A], "END")]


def m_format(l):
    l[A].insert(3, "this is not a log line")


def m_bad(l):
    l[B].insert(5, "BAD s=#b#d2 from=#a#d1 g=g why=filler len=100 t=1")


def m_reject(l):
    l[B].insert(5, "REJECT s=#b#d2 g=g svc=0x400010 len=100 t=1")


def m_final(l):
    c = l[C]
    i = find(c, "REG", "gid=" + V4)
    c[i:] = ["END s=#c#d3 clean=1 why=drained t=9999"]


def m_vs_sets_differ(l):
    c = l[C]
    i = find(c, "REG", "gid=" + V4)
    c[i] = c[i].replace("vs=#a#d1,#b#d2;#c#d3", "vs=#c#d3;#a#d1,#b#d2") \
        .replace("myvs=1", "myvs=0")


def m_frame_padding(l):
    """One daemon's frame of the merge has a byte after a name's NUL."""
    c = l[C]
    i = find(c, "FRAME", "gid=" + V4)
    raw = bytearray.fromhex(c[i].split("bytes=")[1].split()[0])
    raw[12 + 32 + 32 + 10] = 0x41    # member field 1, past "#b#d2"
    c[i] = re.sub(r"bytes=[0-9a-f]+", "bytes=" + raw.hex(), c[i])


def m_frame_set_order(l):
    """c's daemon lists the merge's vs sets the other way round (the
    REG lines agree in content; only the frame shows the order)."""
    c = l[C]
    i = find(c, "FRAME", "gid=" + V4)
    c[i] = frame_line(C, "REG", V4, [A, B, C], [[C], [A, B]], 0, "NETWORK") + \
        " t=" + c[i].split(" t=")[1]


def m_frame_offset(l):
    """c's local_vs_offset points at the set of a and b."""
    c = l[C]
    i = find(c, "FRAME", "gid=" + V4)
    c[i] = re.sub(r"off=[0-9]+", "off=0", c[i])


def m_frame_trans(l):
    """A transitional signal whose frame carries another id."""
    b = l[B]
    i = find(b, "FRAME", "kind=TRANS")
    b[i] = b[i].replace(frame_line(B, "TRANS", V1).split("bytes=")[1],
                        frame_line(B, "TRANS", "1.2.3").split("bytes=")[1])


def m_lost_then_new(l):
    """Not a violation: c's daemon dies, c comes back as a new session."""
    c = l[C]
    i = find(c, "TRANS")
    c[i:] = ["LOST s=#c#d3 err=-8 t=%d" % (FAULT_T + 1),
             "CONNFAIL err=-2 t=%d" % (FAULT_T + 2),
             "CONN s=#c1#d3 n=1 t=%d" % (HEAL_T + 1),
             "JOIN s=#c1#d3 g=g t=%d" % (HEAL_T + 2),
             "END s=#c1#d3 clean=1 why=drained t=%d" % (HEAL_T + 3)]
    for p in (A, B):
        x = l[p]
        # c's ordered messages after its loss are never delivered, the merge
        # view and the drain lose c.
        x[:] = [ln for ln in x if not (" from=#c#d3 " in ln and " n=4 " in ln)]
        j = find(x, "REG", "gid=" + V4)
        x[j] = x[j].replace(",#c#d3", "").replace(";#c#d3", "") \
            .replace("cause=NETWORK", "cause=NETWORK")
        # that view adds nobody: make it a plain second network view.
        x[j] = x[j].replace("gid=" + V4, "gid=167772417.300.2")


def m_queued_churn(l):
    """Not a violation: a leave and a join, twice, requested while the
    daemon was stopped, answered in order afterwards."""
    a = l[A]
    i = find(a, "END s=")
    v5 = "167772417.300.%d"
    a[i:i] = ["LEAVE s=#a#d1 g=g t=1", "JOIN s=#a#d1 g=g t=2",
              "LEAVE s=#a#d1 g=g t=3", "JOIN s=#a#d1 g=g t=4",
              "SELFLEAVE s=#a#d1 g=g t=5",
              "REG s=#a#d1 g=g cause=JOIN gid=%s idx=0 members=#a#d1,#b#d2,#c#d3 "
              "vs=#a#d1 myvs=0 changed=#a#d1 t=6" % (v5 % 2),
              "SELFLEAVE s=#a#d1 g=g t=7",
              "REG s=#a#d1 g=g cause=JOIN gid=%s idx=0 members=#a#d1,#b#d2,#c#d3 "
              "vs=#a#d1 myvs=0 changed=#a#d1 t=8" % (v5 % 4)]


CASES = [
    ("total_order", m_swap_order, "total-order", ()),
    ("vs_missing_last", m_drop_last_of_view, "virtual-synchrony", ()),
    ("loss_gap", m_drop_middle, "loss", ()),
    ("duplicate", m_duplicate, "duplicate", ()),
    ("fifo", m_fifo, "fifo", ()),
    ("self_delivery", m_self_delivery, "self-delivery", ()),
    ("self_discard", m_self_discard, "self-discard", ()),
    ("sender_not_member", m_non_member, "sending-view", ()),
    ("outside_view", m_outside_view, "sending-view", ()),
    ("wrong_service", m_wrong_service, "integrity", ()),
    ("never_sent", m_never_sent, "integrity", ()),
    ("members_differ", m_members_differ, "notification", ()),
    ("vs_sets_differ", m_vs_sets_differ, "notification", ()),
    ("vs_not_partition", m_vs_not_partition, "notification", ()),
    ("no_transitional", m_no_trans, "notification", ()),
    ("transitional_gid", m_trans_gid, "notification", ()),
    ("index", m_index, "notification", ()),
    ("join_vs", m_join_vs, "notification", ()),
    ("join_members", m_join_members, "notification", ()),
    ("self_leave_unasked", m_self_leave, "notification", ()),
    ("own_vs_set", m_own_vs, "notification", ()),
    ("drain", m_drain, "drain", ()),
    ("unfinished", m_unfinished, "unfinished", ()),
    ("format", m_format, "format", ()),
    ("bad", m_bad, "bad", ()),
    ("reject", m_reject, "reject", ()),
    ("final", m_final, "final", ("--final", "merged")),
    ("frame_padding", m_frame_padding, "frame", ()),
    ("frame_set_order", m_frame_set_order, "frame", ()),
    ("frame_offset", m_frame_offset, "frame", ()),
    ("frame_trans", m_frame_trans, "frame", ()),
    ("fault_wrong_side", lambda l: None, "fault",
     ("--group", "g", "--fault-time", str(FAULT_T), "--split", "d2")),
]


def main():
    fails = 0

    def result(name, ok, why=""):
        nonlocal fails
        print("%s evcheck.%s%s" % ("PASS" if ok else "FAIL", name,
                                  "" if ok else ": " + why))
        fails += not ok

    rc, kinds, out = run_checker(scenario(), ("--final", "merged"))
    result("good_scenario", rc == 0 and not kinds, out.strip()[-300:])
    rc, kinds, out = run_checker(scenario(), (
        "--final", "merged", "--group", "g", "--fault-time", str(FAULT_T),
        "--heal-time", str(HEAL_T), "--split", "d3", "--split-side"))
    times = [ln for ln in out.splitlines() if ln.startswith("TIME ")]
    result("good_fault_times", rc == 0 and not kinds and
           sum(ln.startswith("TIME split") for ln in times) == 3 and
           sum(ln.startswith("TIME merge") for ln in times) == 3,
           out.strip()[-300:])
    rc, kinds, out = run_checker(edit(m_lost_then_new), ("--final", "merged"))
    result("good_daemon_restart", rc == 0 and not kinds, out.strip()[-400:])
    rc, kinds, out = run_checker(edit(m_queued_churn))
    result("good_queued_churn", rc == 0 and not kinds, out.strip()[-400:])
    for name, fn, kind, extra in CASES:
        rc, kinds, out = run_checker(edit(fn), extra)
        result(name, rc == 1 and kind in kinds,
               "want %s, got %s" % (kind, sorted(kinds) or "none"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
