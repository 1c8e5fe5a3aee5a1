"""Loads push records (JSONL, docs/formats.md "Push records") into DuckDB as the table the
warehouse SQL expects, runs duckdb_aggregates.sql, and leaves aggregates.jsonl in OUT_DIR.

    python run_duckdb.py FLEET.jsonl OUT_DIR

Used by crates/fleet/tests/warehouse_duckdb.rs with the venv of setup.sh.
"""

import os
import sys

import duckdb


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: run_duckdb.py FLEET.jsonl OUT_DIR")
    source, out_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    sql = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "duckdb_aggregates.sql")).read()
    os.makedirs(out_dir, exist_ok=True)
    os.chdir(out_dir)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 2")
    # Times are RFC 3339 with an offset; TIMESTAMPTZ keeps the instant.
    con.execute(
        """CREATE TABLE push_records AS
           SELECT push_id, device, CAST(sent_at AS TIMESTAMPTZ) AS sent_at,
                  CAST(received_at AS TIMESTAMPTZ) AS received_at,
                  CAST(deadline AS TIMESTAMPTZ) AS deadline, apns_status, attrs
           FROM read_json(?, format = 'newline_delimited',
                          columns = {'push_id': 'VARCHAR', 'device': 'VARCHAR',
                                     'sent_at': 'VARCHAR', 'received_at': 'VARCHAR',
                                     'deadline': 'VARCHAR', 'apns_status': 'INTEGER',
                                     'attrs': 'MAP(VARCHAR, VARCHAR)'})""",
        [source],
    )
    con.execute(sql)
    print(f"duckdb {duckdb.__version__}: wrote {os.path.join(out_dir, 'aggregates.jsonl')}")


if __name__ == "__main__":
    main()
