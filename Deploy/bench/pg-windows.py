#!/usr/bin/env python3
"""Where a benchmark's time goes, window by window: for each INTERVAL seconds of a run, the
statements that took the most of PostgreSQL's execution time in it (pg_stat_statements, deltas:
time, calls, time per call, rows) and the CPU seconds of the busiest processes (by name).

    python3 Deploy/bench/pg-windows.py [INTERVAL] [WINDOWS] [OUTPUT] &
    KAROKAR_TEST_PG_SETTINGS="shared_buffers=512MB shared_preload_libraries=pg_stat_statements \
        pg_stat_statements.track=all" bash Deploy/bench-notification.sh 2000 60 64 8 2

It waits for the newest private PostgreSQL a test started (its `-D`, `-p` and `-k` arguments) to
hold a database with `notification.deliveries` (the default; another table with --table), creates
pg_stat_statements there, then writes one block per window to OUTPUT (/tmp/pg-windows.log). A
statement whose time per call grows from window to window is what a growing backlog costs
(Sources/NotificationContext/README.md, "The knee found"). Loopback and local sockets only.
"""
import os
import re
import subprocess
import sys
import time

args = [a for a in sys.argv[1:] if not a.startswith("--table=")]
table = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--table=")), "notification.deliveries")
interval = float(args[0]) if len(args) > 0 else 5
windows = int(args[1]) if len(args) > 1 else 20
out = open(args[2] if len(args) > 2 else "/tmp/pg-windows.log", "w", buffering=1)
TICK = os.sysconf("SC_CLK_TCK")


def newest_cluster():
    """(pid, port, socket directory) of the newest postgres started with -D, -p and -k."""
    best = None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = [a.decode(errors="replace") for a in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")]
        except OSError:
            continue
        if not argv or not argv[0].endswith("postgres") or "-D" not in argv:
            continue
        joined = " ".join(argv)
        port, socket = re.search(r"-p (\d+)", joined), re.search(r"-k (\S+)", joined)
        if port and socket and (best is None or int(pid) > best[0]):
            best = (int(pid), port.group(1), socket.group(1))
    return best


def psql(cluster, database, sql):
    command = ["psql", "-U", "karokar", "-h", cluster[2], "-p", cluster[1], "-d", database, "-AtqF", "\t", "-c", sql]
    return subprocess.run(command, capture_output=True, text=True).stdout


def cpu_by_name():
    seconds = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")][:15]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds[name] = seconds.get(name, 0) + (int(fields[11]) + int(fields[12])) / TICK
    return seconds


cluster, database = None, None
while database is None:
    time.sleep(0.5)
    cluster = newest_cluster()
    if not cluster:
        continue
    for name in psql(cluster, "postgres", "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY oid DESC").split():
        if psql(cluster, name, f"SELECT to_regclass('{table}') IS NOT NULL").strip() == "t":
            database = name
            break
psql(cluster, database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
previous, previous_cpu, started = {}, cpu_by_name(), time.time()
for _ in range(windows):
    time.sleep(interval)
    current = {}
    for line in psql(cluster, database, """
            SELECT queryid, calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 100)
            FROM pg_stat_statements""").splitlines():
        parts = line.split("\t")
        if len(parts) >= 5:
            current[parts[0]] = (int(parts[1]), float(parts[2]), int(parts[3]), parts[4])
    cpu = cpu_by_name()
    deltas = []
    for key, (calls, total, rows, query) in current.items():
        was = previous.get(key, (0, 0.0, 0, query))
        if calls > was[0]:
            deltas.append((total - was[1], calls - was[0], rows - was[2], query))
    deltas.sort(reverse=True)
    # Names seen in both samples only: a kernel worker renamed between them is not a delta.
    busiest = sorted(((n, s - previous_cpu[n]) for n, s in cpu.items() if n in previous_cpu), key=lambda x: -x[1])[:5]
    out.write(f"== t={time.time() - started:.0f}s  PostgreSQL executing {sum(d[0] for d in deltas):.0f} ms; CPU s: "
              + ", ".join(f"{n} {s:.2f}" for n, s in busiest) + "\n")
    for milliseconds, calls, rows, query in deltas[:12]:
        out.write(f"   {milliseconds:8.0f} ms {calls:7d} calls {milliseconds * 1000 / max(calls, 1):8.0f} us/call {rows:8d} rows  {query}\n")
    previous, previous_cpu = current, cpu
