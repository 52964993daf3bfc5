#!/usr/bin/env python3
"""bench/netns_ring_stats.py - explains one flood of bench/netns_throughput.sh.

    netns_ring_stats.py BEFORE.json AFTER.json MESSAGES SECONDS CPU...

BEFORE and AFTER are `chorus-monitor -j -w 0` snapshots of every daemon
taken around the flood, MESSAGES the client messages sent, SECONDS the
wall time between the snapshots, and each CPU argument LABEL=SECONDS, the
CPU time (user + system) a process used in the flood. Prints two lines:

  ring: rotations/s, data messages the ring carried per client message,
        datagrams sent (all daemons, tokens included) per client message,
        datagrams the daemons read from their sockets per client message,
        retransmitted messages, token retransmissions, duplicates received,
        send errors, client-input pauses
  cpu:  each process's CPU use as a share of one core over SECONDS, and
        the CPU time of all of them per client message (a figure that
        depends less on what else the machine runs than the rates do)

Figures only; it never fails a run (a missing snapshot prints "?").
"""
import json
import sys


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
        return {x["label"]: x for x in d["daemons"] if x.get("answered")}
    except (OSError, ValueError, KeyError):
        return {}


def main():
    if len(sys.argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    before, after = load(sys.argv[1]), load(sys.argv[2])
    msgs = max(1, int(sys.argv[3]))
    secs = max(1e-3, float(sys.argv[4]))
    cpu = [a.split("=", 1) for a in sys.argv[5:] if "=" in a]

    labels = [k for k in after if k in before]
    if not labels:
        print("  ring: ? (no counters)")
    else:
        def delta(name):
            return sum(after[k]["counters"][name] - before[k]["counters"][name]
                       for k in labels)
        rot = delta("rotations")
        data = delta("data_out")
        print("  ring: %.0f rotations/s, %.1f msgs/rotation, %.2f ring msgs "
              "and %.2f datagrams per message (%.2f read), %d retransmitted, "
              "%d token resends, %d duplicates, %d send errors, "
              "%d input pauses"
              % (rot / secs, data / rot if rot else 0, data / msgs,
                 delta("packets_out") / msgs, delta("packets_in") / msgs,
                 delta("retransmissions"),
                 delta("token_retransmits"), delta("data_duplicates"),
                 delta("send_errors"), delta("input_pauses")))
    if cpu:
        secs_cpu = [(k, float(v or 0)) for k, v in cpu]
        print("  cpu:  " + ", ".join("%s %.0f%%" % (k, 100 * v / secs)
                                     for k, v in secs_cpu)
              + " (of one core, over %.1f s); %.1f us of CPU per message"
              % (secs, 1e6 * sum(v for _, v in secs_cpu) / msgs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
