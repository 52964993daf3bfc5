#!/usr/bin/env python3
"""evcheck.py - checks the logs of evclient (tests/netns/evclient.c).

Reads the logs of every client of one run and verifies, at the client
level, what Spread's service levels and extended virtual synchrony promise:

  total order    AGREED and SAFE messages of a group are delivered in the
                 same relative order at every session (common messages);
  virtual        sessions that move together from one regular membership
  synchrony      to the next (same two group ids) delivered the same
                 ordered messages in the first; so do clean sessions that
                 end in the same view (evclient drains before it ends);
  no loss        within one view, a sender's ordered messages arrive with
                 consecutive numbers; a cleanly ended session delivered
                 each ordered message it sent (self-delivery);
  no duplicate   no message is delivered twice to one session;
  FIFO           a sender's ordered messages arrive in increasing order;
  SELF_DISCARD   never delivered to its sender;
  sending view   an ordered message comes from a member of the view it is
                 delivered in, and only while the receiver is a member;
  integrity      every delivered message was sent (same service), no
                 payload was damaged (BAD lines), no message was rejected;
  notifications  the member list contains the receiver at its index; the
                 same group id means the same members, vs sets and cause
                 everywhere; JOIN/LEAVE/DISCONNECT change the previous
                 view by exactly the member named, whose vs set it is;
                 NETWORK vs sets partition the new membership and the
                 receiver's set holds only members of its previous view;
                 a NETWORK change that loses members comes after a
                 transitional signal in the same view; the transitional
                 signal carries the id of the view it ends; a self-leave
                 follows a leave request;
  frames         what clients of every daemon get for one membership
                 event (the same group, kind and group id) is the same
                 frame byte for byte (FRAME lines: type, counts, group and
                 member fields with their padding, body), but for the
                 local_vs_offset of a network membership, which must
                 point at a vs set that lists the receiver (0 in one
                 caused by a member: its one set names that member); the
                 logs come from hosts of one byte order.

Options add expectations of a scripted fault (--final, --fault-time with
--split and --split-side) and print failover and merge times (--heal-time).

Usage: evcheck.py [options] LOG...
Exit status 0 when every check passes, 1 with one line per violation (at
most --max-report of each kind), 2 on bad usage or unreadable input.
"""
import argparse
import collections
import re
import sys

ORDERED = ("F", "D")          # classes with order and delivery promises
TOTAL = ("AGREED", "SAFE")    # services with a total order
KEYWORDS = {"START", "CONN", "CONNFAIL", "JOIN", "LEAVE", "SEND", "SENDFAIL",
            "MSG", "REG", "TRANS", "SELFLEAVE", "REJECT", "BAD", "LOST", "END",
            "FRAME"}
CAUSES = {"JOIN", "LEAVE", "DISCONNECT", "NETWORK"}
CAUSED_BY_NETWORK = 0x800     # the service type bit of sp.h


class Violations:
    def __init__(self, max_report):
        self.by_kind = collections.OrderedDict()
        self.max_report = max_report

    def add(self, kind, where, text):
        self.by_kind.setdefault(kind, []).append("%s: %s" % (where, text))

    def kinds(self):
        return set(self.by_kind)

    def report(self, out):
        for kind, items in self.by_kind.items():
            for line in items[:self.max_report]:
                out.write("VIOLATION %s %s\n" % (kind, line))
            if len(items) > self.max_report:
                out.write("VIOLATION %s ... %d more\n"
                          % (kind, len(items) - self.max_report))


class Ev:
    __slots__ = ("kind", "f", "where", "t")

    def __init__(self, kind, f, where):
        self.kind, self.f, self.where = kind, f, where
        self.t = int(f.get("t", "0") or 0)


def parse_line(line):
    parts = line.split()
    if not parts or parts[0] not in KEYWORDS:
        return None
    f = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        if not eq:
            return None
        f[k] = v
    if "t" not in f or not f["t"].isdigit():
        return None
    return Ev(parts[0], f, None)


def daemon_of(priv):
    # "#user#daemon"
    m = re.match(r"^#[^#]+#(.+)$", priv)
    return m.group(1) if m else "?"


def split_list(v):
    return [x for x in v.split(",") if x] if v and v != "-" else []


def split_vs(v):
    if not v:
        return []
    return [split_list(s) for s in v.split(";")]


class Session:
    def __init__(self, priv, log):
        self.priv, self.log = priv, log
        self.daemon = daemon_of(priv)
        self.events = []
        self.end = None      # ("END", clean, why) or ("LOST",)
        self.first_t = None


def load(paths, v):
    sessions = collections.OrderedDict()
    for path in paths:
        try:
            fh = open(path, encoding="ascii", errors="replace")
        except OSError as e:
            sys.stderr.write("evcheck: %s: %s\n" % (path, e))
            sys.exit(2)
        cur = None
        ended = False
        with fh:
            for no, raw in enumerate(fh, 1):
                where = "%s:%d" % (path, no)
                ev = parse_line(raw)
                if ev is None:
                    v.add("format", where, "unreadable line %r" % raw.strip()[:80])
                    continue
                ev.where = where
                if ended:
                    v.add("format", where, "line after END")
                    continue
                if ev.kind in ("START", "CONNFAIL"):
                    continue
                if ev.kind == "END" and ev.f.get("s") == "-":
                    ended = True
                    continue
                s = ev.f.get("s")
                if ev.kind == "CONN":
                    if s in sessions:
                        v.add("format", where, "session %s opened twice" % s)
                    cur = sessions.setdefault(s, Session(s, path))
                    cur.first_t = ev.t
                    continue
                if cur is None or s != cur.priv:
                    v.add("format", where, "%s line outside its session" % ev.kind)
                    continue
                cur.events.append(ev)
                if ev.kind == "LOST":
                    cur.end = ("LOST",)
                    cur = None
                elif ev.kind == "END":
                    cur.end = ("END", ev.f.get("clean") == "1", ev.f.get("why", ""))
                    ended = True
                    cur = None
        if not ended:
            v.add("unfinished", path, "log ends without END (client killed?)")
    return sessions


class View:
    __slots__ = ("g", "gid", "members", "vs", "cause", "t", "where")

    def __init__(self, g, gid, members, vs, cause, t, where):
        self.g, self.gid, self.members, self.vs = g, gid, members, vs
        self.cause, self.t, self.where = cause, t, where


def msg_id(f):
    return (f.get("from"), f.get("g"), f.get("c"), int(f.get("n", "0")))


class Checker:
    def __init__(self, sessions, v):
        self.s = sessions
        self.v = v
        self.views = {}        # (g, gid) -> View (first seen)
        self.segments = collections.defaultdict(list)  # key -> [(sess, set)]
        self.total = collections.defaultdict(dict)      # g -> sess -> [ids]
        self.sent = {}         # id -> svc
        self.delivered = 0
        self.reg_log = collections.defaultdict(list)    # sess -> [View]
        self.frames = 0        # FRAME lines compared
        self.frame_events = 0  # distinct membership events among them
        self.frame_trans_views = set()  # those of transitional periods

    def run(self):
        for sess in self.s.values():
            for ev in sess.events:
                if ev.kind == "SEND":
                    f = ev.f
                    self.sent[(sess.priv, f["g"], f["c"], int(f["n"]))] = f["svc"]
        for sess in self.s.values():
            self.session(sess)
        self.check_vs()
        self.check_total()
        self.check_frames()

    # -- membership frames, byte for byte --------------------------------
    FRAME_FIXED = 12 + 32     # type, member count, body length; group field

    def frame_region(self, raw, i):
        """Names the part of a FRAME's bytes that byte i belongs to."""
        if i < 12:
            return ("type", "member count", "body length")[i // 4]
        if i < self.FRAME_FIXED:
            return "group field"
        ng = int.from_bytes(raw[4:8], sys.byteorder)
        if i < self.FRAME_FIXED + 32 * ng:
            return "member field %d" % ((i - self.FRAME_FIXED) // 32)
        b = i - self.FRAME_FIXED - 32 * ng
        if b < 12:
            return "group id"
        if b < 16:
            return "vs set count"
        if b < 20:
            return "local_vs_offset"
        return "vs sets (body byte %d)" % b

    def frame_own_set(self, me, raw, off, w):
        """The vs set at local_vs_offset `off` must list the receiver."""
        ng = int.from_bytes(raw[4:8], sys.byteorder)
        body = raw[self.FRAME_FIXED + 32 * ng:]
        if len(body) < 20:
            self.v.add("frame", w, "regular membership body of %d bytes"
                       % len(body))
            return
        nsets = int.from_bytes(body[12:16], sys.byteorder)
        pos = 20
        for _ in range(nsets):
            if pos + 4 > len(body):
                break
            count = int.from_bytes(body[pos:pos + 4], sys.byteorder)
            names = [body[pos + 4 + 32 * k:pos + 36 + 32 * k].split(b"\0")[0]
                     .decode("ascii", "replace") for k in range(count)]
            if pos - 20 == off:
                if me not in names:
                    self.v.add("frame", w, "local_vs_offset %d points at a "
                               "set without the receiver (%s)"
                               % (off, ",".join(names)))
                return
            pos += 4 + 32 * count
        self.v.add("frame", w, "local_vs_offset %d is not the start of a "
                   "vs set" % off)

    def frame_period(self, last, f):
        """Counts the views of a transitional period (J2, L2, D2: a
        network membership between a transitional signal and the next
        one, with no regular configuration between them)."""
        g = f.get("g")
        raw = f.get("bytes", "")
        net = len(raw) >= 8 and int.from_bytes(
            bytes.fromhex(raw[:8]), sys.byteorder) & CAUSED_BY_NETWORK != 0
        cur = (f.get("kind"), (g, f.get("kind"), f.get("gid")), net)
        prev = last.get(g, [])
        if (cur[0] == "TRANS" and len(prev) == 2 and prev[0][0] == "TRANS" and
                prev[1][0] == "REG" and prev[1][2]):
            self.frame_trans_views.add(prev[1][1])
        last[g] = (prev + [cur])[-2:]

    def check_frames(self):
        first = {}             # (g, kind, gid) -> (bytes, where)
        for sess in self.s.values():
            last = {}          # g -> the two last (kind, key, network)
            for ev in sess.events:
                if ev.kind != "FRAME":
                    continue
                f, w = ev.f, ev.where
                self.frame_period(last, f)
                try:
                    raw = bytes.fromhex(f.get("bytes", ""))
                    off = int(f.get("off", "-1"))
                except ValueError:
                    self.v.add("format", w, "FRAME with bad bytes= or off=")
                    continue
                if len(raw) < self.FRAME_FIXED:
                    self.v.add("frame", w, "frame of %d bytes" % len(raw))
                    continue
                self.frames += 1
                if f.get("kind") == "REG":
                    if int.from_bytes(raw[0:4], sys.byteorder) & CAUSED_BY_NETWORK:
                        self.frame_own_set(sess.priv, raw, off, w)
                    elif off != 0:
                        # One set, the member that joined or left.
                        self.v.add("frame", w, "local_vs_offset %d in a "
                                   "membership caused by a member" % off)
                key = (f.get("g"), f.get("kind"), f.get("gid"))
                if key not in first:
                    first[key] = (raw, w)
                    continue
                ref, rw = first[key]
                if raw == ref:
                    continue
                i = next((k for k in range(min(len(raw), len(ref)))
                          if raw[k] != ref[k]), min(len(raw), len(ref)))
                self.v.add("frame", w, "%s of %s, id %s, differs from the "
                           "frame at %s from byte %d on (%s; %d and %d bytes)"
                           % (f.get("kind"), f.get("g"), f.get("gid"), rw, i,
                              self.frame_region(raw if i < len(raw) else ref, i),
                              len(raw), len(ref)))
        self.frame_events = len(first)

    # -- one session, in delivery order ----------------------------------
    def session(self, sess):
        v = self.v
        me = sess.priv
        cur = {}               # g -> View
        trans = {}             # g -> transitional signal seen in this view
        seg = {}               # g -> set of ordered ids in this view
        seg_last = {}          # (g, from, c) -> last n in this view
        fifo_last = {}         # (g, from, c) -> last n
        seen = set()
        leave_pending = collections.Counter()  # leaves not yet answered
        my_sends = []          # (id, where) of ordered sends

        def close(g, nxt):
            if g in cur:
                self.segments[(g, cur[g].gid, nxt)].append((sess, seg[g]))

        for ev in sess.events:
            f, w = ev.f, ev.where
            k = ev.kind
            if k == "SEND":
                if f.get("c") == "F":
                    my_sends.append(((me, f["g"], "F", int(f["n"])), w))
            elif k == "SENDFAIL":
                pass
            elif k == "JOIN":
                pass
            elif k == "LEAVE":
                leave_pending[f.get("g")] += 1
            elif k in ("BAD", "REJECT"):
                v.add(k.lower(), w, "%s %s" % (k, " ".join(
                    "%s=%s" % kv for kv in f.items() if kv[0] != "t")))
            elif k == "REG":
                self.reg(sess, ev, cur, trans)
                g = f["g"]
                # EVS promises the same deliveries to members that move
                # together into the same vs set of the next view only.
                mine = [s for s in split_vs(f.get("vs")) if me in s]
                close(g, ("REG", f.get("gid"),
                          tuple(sorted(mine[0])) if mine else ()))
                cur[g] = View(g, f.get("gid"), split_list(f.get("members")),
                              split_vs(f.get("vs")), f.get("cause"), ev.t, w)
                self.reg_log[me].append(cur[g])
                trans[g] = False
                seg[g] = set()
                for key in [x for x in seg_last if x[0] == g]:
                    del seg_last[key]
            elif k == "TRANS":
                g = f["g"]
                if g not in cur:
                    v.add("notification", w, "transitional signal for %s "
                          "outside any view" % g)
                elif f.get("gid") != cur[g].gid:
                    v.add("notification", w, "transitional signal carries "
                          "%s, the view is %s" % (f.get("gid"), cur[g].gid))
                elif trans.get(g):
                    v.add("notification", w, "second transitional signal "
                          "in view %s" % cur[g].gid)
                trans[g] = True
            elif k == "SELFLEAVE":
                g = f["g"]
                if leave_pending[g] <= 0:
                    v.add("notification", w, "self-leave of %s without a "
                          "leave request" % g)
                leave_pending[g] -= 1
                close(g, ("SELFLEAVE",))
                cur.pop(g, None)
            elif k == "MSG":
                self.delivered += 1
                mid = msg_id(f)
                frm, g, c, n = mid
                if mid in seen:
                    v.add("duplicate", w, "%s delivered again" % (mid,))
                    continue
                seen.add(mid)
                svc = f.get("svc", "")
                base = svc.replace("+SD", "")
                if frm in self.s:
                    sent_svc = self.sent.get(mid)
                    if sent_svc is None:
                        v.add("integrity", w, "%s was never sent" % (mid,))
                    elif sent_svc != base:
                        v.add("integrity", w, "%s sent %s, delivered %s"
                              % (mid, sent_svc, base))
                else:
                    v.add("integrity", w, "sender %s has no log" % frm)
                if (c == "D") != svc.endswith("+SD"):
                    v.add("integrity", w, "class %s with service %s" % (c, svc))
                if c not in ORDERED:
                    continue
                if c == "D" and frm == me:
                    v.add("self-discard", w, "%s delivered to its sender"
                          % (mid,))
                if g not in cur:
                    v.add("sending-view", w, "%s delivered outside a view "
                          "of %s" % (mid, g))
                    continue
                if frm not in cur[g].members:
                    v.add("sending-view", w, "%s from a non-member of view "
                          "%s" % (mid, cur[g].gid))
                key = (g, frm, c)
                if key in fifo_last and n <= fifo_last[key]:
                    v.add("fifo", w, "%s after %s's number %d"
                          % (mid, frm, fifo_last[key]))
                fifo_last[key] = n
                if key in seg_last and n != seg_last[key] + 1:
                    v.add("loss", w, "%s follows number %d of the same "
                          "sender in view %s: %d missing"
                          % (mid, seg_last[key], cur[g].gid,
                             n - seg_last[key] - 1))
                seg_last[key] = n
                seg[g].add(mid)
                if base in TOTAL:
                    self.total[g].setdefault(me, []).append((mid, w))
            elif k == "LOST":
                for g in list(cur):
                    close(g, ("LOST",))
            elif k == "END":
                clean = f.get("clean") == "1"
                if not clean:
                    v.add("drain", w, "session ended without draining "
                          "(%s)" % f.get("why"))
                for g in list(cur):
                    close(g, ("END",) if clean else ("LOST",))
        if sess.end and sess.end[0] == "END" and sess.end[1]:
            seen_ids = seen
            for mid, w in my_sends:
                if mid not in seen_ids:
                    v.add("self-delivery", w, "%s never delivered to its "
                          "sender" % (mid,))
        if sess.end is None:
            v.add("unfinished", sess.log, "session %s has no LOST or END" % me)

    def reg(self, sess, ev, cur, trans):
        v = self.v
        f, w, me = ev.f, ev.where, sess.priv
        g = f.get("g")
        cause = f.get("cause")
        gid = f.get("gid")
        members = split_list(f.get("members"))
        vs = split_vs(f.get("vs"))
        try:
            idx = int(f.get("idx", "-1"))
            myvs = int(f.get("myvs", "-1"))
        except ValueError:
            v.add("format", w, "idx or myvs not a number")
            return
        changed = f.get("changed", "-")
        prev = cur.get(g)
        if cause not in CAUSES:
            v.add("notification", w, "cause %s" % cause)
        if me not in members:
            v.add("notification", w, "receiver missing from members of %s" % gid)
        elif idx != members.index(me):
            v.add("notification", w, "index %d, receiver is at %d"
                  % (idx, members.index(me)))
        if len(set(members)) != len(members):
            v.add("notification", w, "a member listed twice in %s" % gid)
        if prev is not None and prev.gid == gid:
            v.add("notification", w, "new view with the old id %s" % gid)
        known = self.views.get((g, gid))
        if known is None:
            self.views[(g, gid)] = View(g, gid, members, vs, cause, ev.t, w)
        else:
            if known.members != members:
                v.add("notification", w, "id %s lists %s, at %s it listed %s"
                      % (gid, ",".join(members), known.where,
                         ",".join(known.members)))
            if known.vs != vs:
                v.add("notification", w, "id %s has other vs sets than at %s"
                      % (gid, known.where))
            if known.cause != cause:
                v.add("notification", w, "id %s caused by %s, at %s by %s"
                      % (gid, cause, known.where, known.cause))
        if not (0 <= myvs < len(vs)):
            v.add("notification", w, "own vs set %d of %d" % (myvs, len(vs)))
            return
        mine = vs[myvs]
        if cause in ("JOIN", "LEAVE", "DISCONNECT"):
            if len(vs) != 1 or len(vs[0]) != 1 or vs[0][0] != changed:
                v.add("notification", w, "%s vs sets %s, changed member %s"
                      % (cause, f.get("vs"), changed))
                return
            if cause == "JOIN":
                if changed not in members:
                    v.add("notification", w, "joiner %s not a member" % changed)
                if changed == me:
                    if prev is not None:
                        v.add("notification", w, "own join while in view %s"
                              % prev.gid)
                elif prev is None:
                    v.add("notification", w, "join of %s outside any view"
                          % changed)
                elif set(members) != set(prev.members) | {changed}:
                    v.add("notification", w, "join of %s: %s after %s"
                          % (changed, ",".join(members), ",".join(prev.members)))
            else:
                if changed in members:
                    v.add("notification", w, "%s of %s, still a member"
                          % (cause.lower(), changed))
                if prev is None:
                    v.add("notification", w, "%s outside any view" % cause.lower())
                elif set(members) != set(prev.members) - {changed}:
                    v.add("notification", w, "%s of %s: %s after %s"
                          % (cause.lower(), changed, ",".join(members),
                             ",".join(prev.members)))
        elif cause == "NETWORK":
            flat = [m for s in vs for m in s]
            if sorted(flat) != sorted(members):
                v.add("notification", w, "vs sets %s do not partition "
                      "members %s" % (f.get("vs"), f.get("members")))
            if me not in mine:
                v.add("notification", w, "receiver not in its own vs set")
            if prev is not None:
                outside = [m for m in mine if m not in prev.members]
                if outside:
                    v.add("notification", w, "own vs set has %s, not in the "
                          "previous view %s" % (",".join(outside), prev.gid))
                lost = set(prev.members) - set(members)
                if lost and not trans.get(g):
                    v.add("notification", w, "network change loses %s "
                          "without a transitional signal"
                          % ",".join(sorted(lost)))
            elif mine != [me]:
                v.add("notification", w, "joiner's vs set is not itself alone")

    # -- across sessions ---------------------------------------------------
    def check_vs(self):
        for (g, gid, nxt), group in self.segments.items():
            if nxt[0] not in ("REG", "END") or len(group) < 2:
                continue
            a_sess, a_set = group[0]
            for b_sess, b_set in group[1:]:
                a = {m for m in a_set if not (m[2] == "D" and m[0] == b_sess.priv)}
                b = {m for m in b_set if not (m[2] == "D" and m[0] == a_sess.priv)}
                if a != b:
                    only_a, only_b = sorted(a - b), sorted(b - a)
                    self.v.add("virtual-synchrony", "%s %s" % (g, gid),
                               "%s and %s moved together to %s but %s alone "
                               "delivered %d (%s) and %s alone %d (%s)"
                               % (a_sess.priv, b_sess.priv,
                                  "/".join(x if isinstance(x, str) else ",".join(x)
                                           for x in nxt if x),
                                  a_sess.priv, len(only_a), only_a[:2],
                                  b_sess.priv, len(only_b), only_b[:2]))

    def check_total(self):
        for g, per in self.total.items():
            names = list(per)
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    a, b = per[names[i]], per[names[j]]
                    sa = {m for m, _ in a}
                    sb = {m for m, _ in b}
                    common = sa & sb
                    ca = [(m, w) for m, w in a if m in common]
                    cb = [(m, w) for m, w in b if m in common]
                    for (ma, wa), (mb, wb) in zip(ca, cb):
                        if ma != mb:
                            self.v.add("total-order", wa, "%s here, %s at %s"
                                       % (ma, mb, wb))
                            break

    # -- expectations of a scenario -----------------------------------------
    def final_views(self, mode, only):
        """Clean sessions that end in the same group must end in one view
        listing exactly them (mode merged), or one per daemon (per-daemon)."""
        ends = collections.defaultdict(list)   # (g, key) -> [(sess, view)]
        for sess in self.s.values():
            if not (sess.end and sess.end[0] == "END" and sess.end[1]):
                continue
            last = {}
            views = iter(self.reg_log[sess.priv])
            for ev in sess.events:
                if ev.kind == "SELFLEAVE":
                    last.pop(ev.f.get("g"), None)
                elif ev.kind == "REG":
                    vw = next(views)
                    last[vw.g] = vw
            for g, vw in last.items():
                if only and g not in only:
                    continue
                key = "all" if mode == "merged" else sess.daemon
                ends[(g, key)].append((sess, vw))
        for (g, key), lst in ends.items():
            gids = {vw.gid for _, vw in lst}
            names = sorted(s.priv for s, _ in lst)
            if len(gids) != 1:
                self.v.add("final", "%s %s" % (g, key), "clean sessions end in "
                           "%d different views %s" % (len(gids), sorted(gids)))
                continue
            vw = lst[0][1]
            if sorted(vw.members) != names:
                self.v.add("final", "%s %s" % (g, key), "final view %s lists %s;"
                           " the sessions that end in it are %s"
                           % (vw.gid, ",".join(vw.members), ",".join(names)))

    def fault(self, group, fault_t, split, side, heal_t, out):
        daemons = {s.daemon for s in self.s.values()}
        split = set(split)
        unknown = split - daemons
        if unknown:
            self.v.add("usage", "--split", "no session on %s" % sorted(unknown))
            return
        rest = daemons - split
        for sess in self.s.values():
            if sess.first_t is None or sess.first_t >= fault_t:
                continue
            on_split = sess.daemon in split
            if on_split and not side:
                continue
            if not (sess.end and sess.end[0] == "END" and sess.end[1]):
                continue
            want = split if on_split else rest
            hit = None
            for vw in self.reg_log[sess.priv]:
                if (vw.g == group and vw.t > fault_t and vw.cause == "NETWORK"
                        and {daemon_of(m) for m in vw.members} == want):
                    hit = vw
                    break
            if hit is None:
                self.v.add("fault", sess.priv, "no NETWORK view of %s with "
                           "exactly the daemons %s after the fault"
                           % (group, ",".join(sorted(want))))
                continue
            out.write("TIME split %s %.0f ms\n" % (sess.priv,
                                                   (hit.t - fault_t) / 1000.0))
        if heal_t is None:
            return
        for sess in self.s.values():
            for vw in self.reg_log[sess.priv]:
                if (vw.g == group and vw.t > heal_t
                        and {daemon_of(m) for m in vw.members} == daemons):
                    out.write("TIME merge %s %.0f ms\n"
                              % (sess.priv, (vw.t - heal_t) / 1000.0))
                    break


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--final", choices=("none", "merged", "per-daemon"),
                    default="none", help="how clean sessions must end")
    ap.add_argument("--final-group", action="append", default=[],
                    help="--final looks at this group only (repeatable)")
    ap.add_argument("--group", default=None,
                    help="the group whose views --split looks at")
    ap.add_argument("--fault-time", type=int, default=None,
                    help="CLOCK_REALTIME us of the fault")
    ap.add_argument("--heal-time", type=int, default=None,
                    help="CLOCK_REALTIME us of the repair (merge times)")
    ap.add_argument("--split", default="",
                    help="daemons cut off by the fault, comma-separated")
    ap.add_argument("--split-side", action="store_true",
                    help="the cut-off daemons form their own view too")
    ap.add_argument("--max-report", type=int, default=5)
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    v = Violations(a.max_report)
    sessions = load(a.logs, v)
    c = Checker(sessions, v)
    c.run()
    if a.final != "none":
        c.final_views(a.final, set(a.final_group))
    if a.fault_time is not None:
        if not a.group or not a.split:
            sys.stderr.write("evcheck: --fault-time needs --group and --split\n")
            return 2
        c.fault(a.group, a.fault_time, [x for x in a.split.split(",") if x],
                a.split_side, a.heal_time, sys.stdout)
    v.report(sys.stdout)
    if not a.quiet or v.by_kind:
        print("%s: %d sessions, %d deliveries, %d views, %d frames of %d "
              "membership events (%d views of transitional periods); %s" % (
            "FAILED" if v.by_kind else "OK", len(sessions), c.delivered,
            len(c.views), c.frames, c.frame_events, len(c.frame_trans_views),
            ", ".join("%d %s" % (len(x), k)
                                    for k, x in v.by_kind.items()) or
            "no violations"))
    return 1 if v.by_kind else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
