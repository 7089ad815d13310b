#!/usr/bin/env python3
"""The statements of a pgbench script against the ones a server sent, from PostgreSQL's log.

Usage: statements.py POSTGRES_LOG PGBENCH_SCRIPT MARKER... [--pgbench MARKER...]

POSTGRES_LOG was written with log_statement = 'all' and the default log_line_prefix
('%m [%p] '). A transaction (BEGIN ... COMMIT, on one backend) is captured when the bind
parameters of its first statement after BEGIN contain a MARKER (e.g. the id of a booking the server
approved while the log was on; the event relay's later transactions about it start otherwise).
Every captured transaction must run the same statements; they are compared, in order, with the SQL
commands of PGBENCH_SCRIPT from its first BEGIN on (what comes before, e.g. a `\\gset` query
computing the parameters, is the script's own setup; meta-commands and `-- ...` comment lines are
left out). Both sides are reduced to their text with each parameter as `$?` (the server's `$1`,
pgbench's `:name`) and whitespace collapsed. pgbench cannot bind a null (a null variable reaches
the server as the string 'NULL'), so a parameter the server bound to NULL is compared as the
literal NULL the script must write in its place.

With `--pgbench MARKER...`, transactions pgbench ran from the script while the log was on (its
bookings' ids as markers) are captured the same way and compared with the server's too: what
PostgreSQL received from each, not only what the script says.

Prints the captured statements and a unified diff; exits 1 when they differ (the script drifted
from what the server sends) or when nothing was captured.
"""
import difflib
import re
import sys

ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (LOG|DETAIL|STATEMENT|ERROR|WARNING|HINT|CONTEXT):  (.*)$")
STATEMENT = re.compile(r"^(?:statement|execute [^:]+): (.*)$", re.S)


def log_entries(path):
    """(pid, level, text) per log entry, continuation lines joined."""
    entries = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            line = line.rstrip("\n")
            match = ENTRY.match(line)
            if match:
                entries.append([match.group(1), match.group(2), match.group(3)])
            elif entries:
                entries[-1][2] += "\n" + line
    return entries


def server_transactions(entries, markers):
    """The statements of every transaction whose parameters name a marker, per backend."""
    open_ones, captured = {}, []
    for pid, level, text in entries:
        if level == "LOG":
            match = STATEMENT.match(text)
            if not match:
                continue
            sql = match.group(1)
            if re.match(r"^\s*BEGIN\b", sql, re.I):
                open_ones[pid] = {"statements": [sql], "parameters": [""], "marked": False}
                continue
            current = open_ones.get(pid)
            if current is None:
                continue
            current["statements"].append(sql)
            current["parameters"].append("")
            current["first"] = current.get("first", len(current["statements"]) - 1)
            if re.match(r"^\s*(COMMIT|ROLLBACK)\b", sql, re.I):
                if current["marked"]:
                    captured.append(current)
                del open_ones[pid]
        elif level == "DETAIL" and text.startswith("parameters:") and pid in open_ones:
            current = open_ones[pid]
            current["parameters"][-1] = text
            if current.get("first") == len(current["statements"]) - 1 and any(marker in text for marker in markers):
                current["marked"] = True
    return captured


def pgbench_statements(path):
    """The SQL commands of a pgbench script from its first BEGIN on, in order, without
    meta-commands or comment lines (a trailing `\\gset [prefix]` ends a command as `;` does)."""
    commands, current = [], []
    with open(path, encoding="utf-8") as script:
        for line in script:
            stripped = line.strip()
            if not current and (not stripped or stripped.startswith("--") or stripped.startswith("\\")):
                continue
            current.append(line.rstrip("\n"))
            if stripped.endswith(";") or re.search(r"\\gset(\s+\w+)?$", stripped):
                command = re.sub(r"\s*\\gset(\s+\w+)?\s*$", "", "\n".join(current))
                if commands or re.match(r"^\s*BEGIN\b", command, re.I):
                    commands.append(command)
                current = []
    return commands


def nulls_inlined(sql, parameters):
    """`sql` with each parameter bound to NULL (per the log's DETAIL line) written as NULL."""
    nulls = {number for number, value in re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", parameters) if value == "NULL"}
    return re.sub(r"\$(\d+)\b", lambda m: "NULL" if m.group(1) in nulls else m.group(0), sql)


def shape(sql, placeholders):
    text = re.sub(placeholders, "$?", sql)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:-1].rstrip() if text.endswith(";") else text


def main(arguments):
    if len(arguments) < 4:
        print(__doc__, file=sys.stderr)
        return 64
    log, script, markers = arguments[1], arguments[2], arguments[3:]
    bench_markers = []
    if "--pgbench" in markers:
        split = markers.index("--pgbench")
        markers, bench_markers = markers[:split], markers[split + 1:]
    entries = log_entries(log)
    captured = server_transactions(entries, markers)
    if not captured:
        print(f"no transaction naming {', '.join(markers)} in {log}: was log_statement = 'all' on?", file=sys.stderr)
        return 1
    server = [
        [shape(nulls_inlined(sql, parameters), r"\$\d+") for sql, parameters in zip(t["statements"], t["parameters"])] for t in captured
    ]
    drifted = False
    for number, transaction in enumerate(server[1:], 2):
        if transaction != server[0]:
            print(f"transaction {number} of {len(server)} ran other statements than the first:", file=sys.stderr)
            sys.stdout.writelines(difflib.unified_diff([s + "\n" for s in server[0]], [s + "\n" for s in transaction], "first", f"transaction {number}"))
            drifted = True
    bench = [shape(sql, r"(?<![:\w]):[A-Za-z_]\w*") for sql in pgbench_statements(script)]
    print(f"  the server's statements ({len(captured)} transactions captured, {len(server[0])} statements each):")
    for sql in server[0]:
        print(f"    {sql[:150]}{' ...' if len(sql) > 150 else ''}")
    diff = list(difflib.unified_diff([s + "\n" for s in bench], [s + "\n" for s in server[0]], script, "the server's statement log"))
    if diff:
        print(f"  {script} DRIFTED from what the server sends:")
        sys.stdout.writelines("    " + line for line in diff)
        print("  the first captured transaction, as the server sent it:")
        for sql, parameters in zip(captured[0]["statements"], captured[0]["parameters"]):
            print(sql + ";")
            if parameters:
                print("--   " + parameters[:2000])
        drifted = True
    else:
        print(f"  {script}: the same statements in the same order")
    if bench_markers:
        ran = server_transactions(entries, bench_markers)
        if not ran:
            print(f"  no pgbench transaction naming {', '.join(bench_markers)} in the log", file=sys.stderr)
            return 1
        for number, t in enumerate(ran, 1):
            received = [shape(nulls_inlined(sql, p), r"\$\d+") for sql, p in zip(t["statements"], t["parameters"])]
            diff = list(difflib.unified_diff([s + "\n" for s in received], [s + "\n" for s in server[0]], "pgbench, as PostgreSQL received it", "the server"))
            if diff:
                print(f"  pgbench's transaction {number} as PostgreSQL received it DIFFERS from the server's:")
                sys.stdout.writelines("    " + line for line in diff)
                drifted = True
            else:
                print(f"  pgbench's transaction {number}, as PostgreSQL received it: the same statements in the same order")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
