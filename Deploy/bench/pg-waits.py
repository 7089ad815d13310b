#!/usr/bin/env python3
"""Where the database connections' busy time goes during a benchmark: samples pg_stat_activity.

Usage: python3 Deploy/bench/pg-waits.py CONNINFO SECONDS [INTERVAL]

One psql session (`\\watch INTERVAL`, default 0.05 s) reads every client backend of the
database that is not idle, SECONDS long; then prints the share of the samples in each state:

  on CPU in PostgreSQL            active, no wait event (or a CPU-side wait: BufferContent, ...)
  COMMIT waiting for the WAL      the commit's flush, or another backend's (WALWrite, WALSync)
  waiting for the server          idle in transaction (ClientRead): the transaction is open and
                                  the server has not sent its next statement yet (its work
                                  between statements, and the wait for its threads to be run)
  locks                           heavyweight locks (row locks, advisory locks, ...)
  other                           anything else, by wait event

and, for "waiting for the server", the statement each transaction was waiting after (the
backend's last statement). A sample is a moment of one connection: the shares are of the
connections' busy time, not of the machine's. Sampling costs a little CPU on the machine it
measures (one query every INTERVAL).
"""
import collections
import subprocess
import sys
import time

QUERY = """SELECT coalesce(wait_event_type, '') || '|' || coalesce(wait_event, '') || '|' || state || '|' ||
    left(regexp_replace(query, '\\s+', ' ', 'g'), 70)
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database() AND state <> 'idle';"""


def category(wait_type, wait_event, state):
    if wait_type == "" or (wait_type == "LWLock" and wait_event in ("BufferContent", "BufferMapping", "LockManager")):
        return "on CPU in PostgreSQL"
    if wait_event in ("WALWrite", "WALSync", "WALInitSync", "WALInitWrite", "WALInsert"):
        return "COMMIT waiting for the WAL"
    if wait_type == "Client" and wait_event == "ClientRead" and state.startswith("idle in transaction"):
        return "waiting for the server"
    if wait_type == "Lock":
        return "locks"
    return f"other ({wait_type}:{wait_event})"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    conninfo, seconds = sys.argv[1], float(sys.argv[2])
    interval = sys.argv[3] if len(sys.argv) > 3 else "0.05"
    psql = subprocess.Popen(["psql", "-X", "-At", conninfo], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    psql.stdin.write(QUERY + "\n\\watch " + interval + "\n")
    psql.stdin.flush()
    counts = collections.Counter()
    after = collections.Counter()
    end = time.monotonic() + seconds
    try:
        for line in psql.stdout:
            if time.monotonic() > end:
                break
            parts = line.rstrip("\n").split("|", 3)
            if len(parts) != 4:
                continue
            kind = category(*parts[:3])
            counts[kind] += 1
            if kind == "waiting for the server":
                after[parts[3]] += 1
    finally:
        psql.kill()
        psql.wait()
    total = sum(counts.values())
    if total == 0:
        print("pg waits:   no busy connection sampled")
        return
    print(f"pg waits:   {total} samples of busy connections over {seconds:.0f} s (every {interval} s):")
    for kind, count in counts.most_common():
        print(f"              {100 * count / total:5.1f}%  {kind}")
    waiting = sum(after.values())
    if waiting:
        print("            waiting for the server, after (share of that wait):")
        for statement, count in after.most_common(8):
            print(f"              {100 * count / waiting:5.1f}%  {statement}")


if __name__ == "__main__":
    main()
