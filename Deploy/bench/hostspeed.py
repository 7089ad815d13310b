#!/usr/bin/env python3
"""How fast this host runs a fixed piece of work right now, on each core.

Usage: python3 Deploy/bench/hostspeed.py [ROUNDS=3]

Times a fixed CPU-bound loop (10^6 multiply-adds of Python, no memory traffic, no system calls)
pinned to each core in turn, ROUNDS times, and prints the best and the median per core in
milliseconds. On a virtual machine whose cores the hypervisor shares with other guests, the same
loop's time changes with the neighbours' load, and `steal` (/proc/stat) does not always show it:
on the 2-core machine of issues 16 and 18 (2026-12-06) it took 27 to 58 ms from one minute to
the next with this machine idle and steal at 0. Benchmark figures are only comparable between runs at like host speed, so
the benchmark scripts print this line before and after their load.
"""
import os
import statistics
import sys
import time


def loop():
    started = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i * i
    return (time.perf_counter() - started) * 1000


def main():
    try:
        rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
        if not 1 <= rounds <= 100:
            raise ValueError
    except ValueError:
        sys.exit("usage: hostspeed.py [ROUNDS, 1 to 100]")
    cores = sorted(os.sched_getaffinity(0))
    parts = []
    for core in cores:
        os.sched_setaffinity(0, {core})
        times = [loop() for _ in range(rounds)]
        parts.append(f"core {core} best {min(times):.0f} median {statistics.median(times):.0f}")
    os.sched_setaffinity(0, set(cores))
    print("host speed (ms for a fixed loop, lower is faster): " + ", ".join(parts))


if __name__ == "__main__":
    main()
