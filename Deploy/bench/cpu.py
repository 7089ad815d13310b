#!/usr/bin/env python3
"""CPU per call of the server and of PostgreSQL during a karokar-bench scenario's load phase.

Usage: python3 Deploy/bench/cpu.py SERVER_PID POSTMASTER_PID -- COMMAND [ARGS...]

Runs COMMAND (a `karokar-bench scenario ...` printing its text report), sampling every 0.1 s the
user + system CPU seconds of the server process and of the PostgreSQL cluster (the postmaster,
its live children, and the children it reaped). The report's `load:` line gives the load phase's
calls and seconds; the phase ends when the command prints, so the CPU spent in the last
`seconds` before the command ended is the load's (setup, which hashes passwords, is left out).
Prints the command's output, then one line: CPU per call of the server, of PostgreSQL and both,
the share of the machine's cores they used, and the host's steal: the share of this virtual
machine's cores that the hypervisor gave to others while they were wanted here (`steal` of
/proc/stat; 0 on bare metal). A run with steal is slower for reasons outside it: compare runs at
like steal.
"""
import os
import re
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def seconds(pid, children=False):
    fields = stat_fields(pid)
    if fields is None:
        return 0.0
    # fields[0] is the state (field 3): utime is field 14, stime 15, cutime 16, cstime 17
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
    return total / TICK


def steal_seconds():
    """The machine's stolen time so far (all CPUs), from /proc/stat's first line."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / TICK if fields[0] == "cpu" and len(fields) > 8 else 0.0
    except (OSError, ValueError):
        return 0.0


def live_children(pid):
    """The pids of `pid`'s live children: from /proc/PID/task/PID/children where the kernel has
    it (a few files per sample, not a walk of every process: the sampler shares the machine with
    what it measures), else by walking /proc."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except OSError:
        pass
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(entry)
            if fields is not None and fields[1] == str(pid):
                children.append(entry)
    return children


def cluster_seconds(postmaster):
    total = seconds(postmaster, children=True)
    for child in live_children(postmaster):
        fields = stat_fields(child)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    server, postmaster, command = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4:]
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.monotonic(), seconds(server), cluster_seconds(postmaster), steal_seconds()))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    end = (time.monotonic(), seconds(server), cluster_seconds(postmaster), steal_seconds())
    done.set()
    sampler.join()
    sys.stdout.write(result.stdout)
    match = re.search(r"load:\s+(\d+) calls in ([0-9.,]+) s", result.stdout)
    if result.returncode != 0 or not match:
        sys.exit(result.returncode or 1)
    calls, load_seconds = int(match.group(1)), float(match.group(2).replace(",", ""))
    start_time = end[0] - load_seconds
    start = min(samples, key=lambda s: abs(s[0] - start_time)) if samples else end
    window = end[0] - start[0]
    server_s, pg_s, steal_s = end[1] - start[1], end[2] - start[2], end[3] - start[3]
    cores = os.cpu_count() or 1
    print(f"cpu:        per call (load phase, {window:.1f} s sampled): server {server_s * 1e6 / max(calls, 1):.0f} µs, "
          f"PostgreSQL {pg_s * 1e6 / max(calls, 1):.0f} µs, both {(server_s + pg_s) * 1e6 / max(calls, 1):.0f} µs; "
          f"cores busy: server {server_s / max(window, 1e-9):.2f}, PostgreSQL {pg_s / max(window, 1e-9):.2f} of {cores}; "
          f"host steal {100 * steal_s / max(window * cores, 1e-9):.1f}% of the cores")


if __name__ == "__main__":
    main()
