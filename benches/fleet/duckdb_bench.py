"""DuckDB's half of the fleet benchmark: JSONL push records to Parquet, then the
single-attribute x day outcome counts a data team would run, timed (best of N).

    python duckdb_bench.py convert FLEET.jsonl FLEET.parquet
    python duckdb_bench.py query FLEET.parquet [--runs 3] [--threads 2] [--markdown OUT.md]

The outcome of a push, in this order (the same definition as `pushtrace fleet`):
not_sent = apns_status absent; rejected = apns_status present and != 200; on_time =
received_at <= deadline; late = received_at > deadline; no_receipt = 200 and no received_at.
A failure is any push that is not on_time.
"""

import argparse
import os
import sys
import time

import duckdb

ATTRIBUTES = ["model", "region", "carrier", "os_version", "app_version", "interface", "radio"]

TIME_FIELDS = [
    "queued_at", "sent_at", "apns_timestamp", "responded_at", "received_at", "reported_at",
    "deadline",
]


def connect(threads):
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    return con


def convert(src, dst, threads):
    """The export a data team makes: typed columns, times as TIMESTAMPTZ, one `attr.<name>`
    column per attribute (what a warehouse table of pushes looks like)."""
    con = connect(threads)
    columns = {
        "push_id": "VARCHAR", "call_id": "VARCHAR", "device": "VARCHAR", "topic": "VARCHAR",
        "push_type": "VARCHAR", "priority": "INTEGER", "expiration": "BIGINT",
        "apns_status": "INTEGER", "apns_reason": "VARCHAR", "apns_id": "VARCHAR",
        "must_report": "BOOLEAN",
        "attrs": "STRUCT(" + ", ".join(f"{a} VARCHAR" for a in ATTRIBUTES) + ")",
    }
    for field in TIME_FIELDS:
        columns[field] = "VARCHAR"
    spec = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
    times = ", ".join(f"CAST({f} AS TIMESTAMPTZ) AS {f}" for f in TIME_FIELDS)
    attrs = ", ".join(f'attrs.{a} AS "attr.{a}"' for a in ATTRIBUTES)
    plain = ", ".join(k for k in columns if k != "attrs" and k not in TIME_FIELDS)
    started = time.perf_counter()
    con.execute(
        f"""COPY (
              SELECT {plain}, {times}, {attrs}
              FROM read_json('{src}', format = 'newline_delimited', columns = {{{spec}}})
            ) TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    seconds = time.perf_counter() - started
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchone()[0]
    print(f"converted {rows} records to {dst} ({os.path.getsize(dst)} bytes) in {seconds:.1f} s")


def convert_map(src, dst, threads):
    """The same rows with the attributes as one MAP<VARCHAR, VARCHAR> column `attrs`: the other
    shape exports take (DuckDB and Spark maps)."""
    con = connect(threads)
    flat = ", ".join(f'"attr.{a}"' for a in ATTRIBUTES)
    keys = ", ".join(f"'{a}'" for a in ATTRIBUTES)
    started = time.perf_counter()
    con.execute(
        f"""COPY (
              SELECT * EXCLUDE ({flat}), MAP([{keys}], [{flat}]) AS attrs
              FROM read_parquet('{src}')
            ) TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    seconds = time.perf_counter() - started
    print(f"converted {src} to {dst} (attrs as a MAP, {os.path.getsize(dst)} bytes) in {seconds:.1f} s")


OUTCOME = """CASE
    WHEN apns_status IS NULL THEN 'not_sent'
    WHEN apns_status <> 200 THEN 'rejected'
    WHEN received_at IS NOT NULL AND received_at <= deadline THEN 'on_time'
    WHEN received_at IS NOT NULL AND received_at > deadline THEN 'late'
    WHEN received_at IS NULL THEN 'no_receipt'
    ELSE 'unknown' END"""


# Per group: pushes, failures (not on_time) and each outcome.
COUNTS = """count(*) AS pushes,
               count(*) FILTER (WHERE outcome <> 'on_time') AS failures,
               count(*) FILTER (WHERE outcome = 'on_time') AS on_time,
               count(*) FILTER (WHERE outcome = 'late') AS late,
               count(*) FILTER (WHERE outcome = 'no_receipt') AS no_receipt,
               count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
               count(*) FILTER (WHERE outcome = 'not_sent') AS not_sent"""


def query_for(parquet, attribute):
    return f"""
        WITH p AS (SELECT CAST(sent_at AS DATE) AS day, "attr.{attribute}" AS value,
                          {OUTCOME} AS outcome
                   FROM read_parquet('{parquet}'))
        SELECT day, value, {COUNTS}
        FROM p GROUP BY day, value ORDER BY day, value"""


def grouping_sets_for(parquet):
    """The same counts in one scan: what a data team writes once the seven queries are slow."""
    columns = ", ".join(f'"attr.{a}"' for a in ATTRIBUTES)
    sets = ", ".join(f'(day, "attr.{a}")' for a in ATTRIBUTES)
    return f"""
        WITH p AS (SELECT CAST(sent_at AS DATE) AS day, {columns}, {OUTCOME} AS outcome
                   FROM read_parquet('{parquet}'))
        SELECT day, {columns}, {COUNTS}
        FROM p GROUP BY GROUPING SETS ({sets})"""


def query(parquet, runs, threads, markdown):
    con = connect(threads)
    total_rows = con.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()[0]
    lines = [
        f"DuckDB {duckdb.__version__}, threads={threads}, {total_rows} records, "
        f"{os.path.getsize(parquet)} bytes of Parquet; best of {runs}",
        "",
        "| attribute x day | groups | best (s) | runs (s) |",
        "|---|---:|---:|---:|",
    ]
    best_total = 0.0
    for attribute in ATTRIBUTES:
        sql = query_for(parquet, attribute)
        times = []
        groups = 0
        for _ in range(runs):
            started = time.perf_counter()
            rows = con.execute(sql).fetchall()
            times.append(time.perf_counter() - started)
            groups = len(rows)
        best = min(times)
        best_total += best
        runs_text = " ".join(f"{t:.3f}" for t in times)
        lines.append(f"| {attribute} | {groups} | {best:.3f} | {runs_text} |")
    lines.append(f"| **all {len(ATTRIBUTES)}** | | **{best_total:.3f}** | |")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = con.execute(grouping_sets_for(parquet)).fetchall()
        times.append(time.perf_counter() - started)
    runs_text = " ".join(f"{t:.3f}" for t in times)
    lines.append(
        f"| all {len(ATTRIBUTES)} in one query (GROUPING SETS) | {len(rows)} | "
        f"**{min(times):.3f}** | {runs_text} |"
    )
    # A sanity line: the fleet's outcome shares, so a reader sees the data is plausible.
    shares = con.execute(
        f"SELECT outcome, count(*) * 100.0 / sum(count(*)) OVER () FROM "
        f"(SELECT {OUTCOME} AS outcome FROM read_parquet('{parquet}')) GROUP BY outcome ORDER BY 2 DESC"
    ).fetchall()
    lines.append("")
    lines.append("Outcomes: " + ", ".join(f"{o} {s:.2f} %" for o, s in shares))
    text = "\n".join(lines)
    print(text)
    if markdown:
        with open(markdown, "a", encoding="utf-8") as out:
            out.write(text + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--threads", type=int, default=2)
    m = sub.add_parser("convert-map")
    m.add_argument("src")
    m.add_argument("dst")
    m.add_argument("--threads", type=int, default=2)
    q = sub.add_parser("query")
    q.add_argument("parquet")
    q.add_argument("--runs", type=int, default=3)
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--markdown")
    args = parser.parse_args()
    if args.command == "convert":
        convert(args.src, args.dst, args.threads)
    elif args.command == "convert-map":
        convert_map(args.src, args.dst, args.threads)
    else:
        query(args.parquet, args.runs, args.threads, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
