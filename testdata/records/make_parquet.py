"""Writes the Parquet fixtures of crates/records/tests/parquet.rs, the shapes exports take.

Run from the repository root with pinned versions:
    python3 -m venv /tmp/pq && /tmp/pq/bin/pip install duckdb==1.1.3 pyarrow==18.1.0
    /tmp/pq/bin/python testdata/records/make_parquet.py
Every good file holds the records of pushes.jsonl (same directory), which the test compares.
"""
import os

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

assert duckdb.__version__ == "1.1.3", duckdb.__version__
assert pa.__version__ == "18.1.0", pa.__version__

HERE = os.path.dirname(os.path.abspath(__file__))
out = lambda name: os.path.join(HERE, name)

ROWS = """
('p1','c1','d1','com.acme.call.voip','voip',10,0,TIMESTAMPTZ '2026-05-20 14:47:00.125+00',200,NULL,
 '8f1e6a52-3c4d-4e5f-9a0b-1c2d3e4f5a6b',NULL,TIMESTAMPTZ '2026-05-20 14:47:00.263+00',
 TIMESTAMPTZ '2026-05-20 14:50:05+00',true,'26.4.1','Turkcell'),
('p2',NULL,NULL,'com.acme.call.voip','voip',10,NULL,TIMESTAMPTZ '2026-05-20 14:48:00+00',410,'Unregistered',
 NULL,TIMESTAMPTZ '2026-05-19 08:00:00+00',NULL,NULL,NULL,'18.5',NULL),
('p3',NULL,NULL,NULL,NULL,NULL,NULL,TIMESTAMPTZ '2026-05-20 14:49:00.000001+00',NULL,NULL,
 NULL,NULL,NULL,NULL,NULL,NULL,NULL),
('p4',NULL,NULL,NULL,NULL,5,NULL,TIMESTAMPTZ '2026-05-20 14:50:00+00',NULL,NULL,
 NULL,NULL,NULL,NULL,false,NULL,'Vodafone')
"""
COLUMNS = ("push_id, call_id, device, topic, push_type, priority, expiration, sent_at, apns_status, "
           "apns_reason, apns_id, apns_timestamp, responded_at, received_at, must_report, os, carrier")

con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute(f"""CREATE TABLE p AS SELECT * FROM (VALUES {ROWS}) t({COLUMNS})""")
con.execute("""CREATE TABLE typed AS SELECT push_id, call_id, device, topic, push_type,
    priority::TINYINT AS priority, expiration::BIGINT AS expiration, sent_at, apns_status::SMALLINT AS apns_status,
    apns_reason, apns_id, apns_timestamp, responded_at, received_at, must_report, os, carrier FROM p""")

# DuckDB, a MAP attrs column, TIMESTAMPTZ (UTC-adjusted micros), snappy (DuckDB's default).
con.execute(f"""COPY (SELECT * EXCLUDE (os, carrier),
    map_from_entries(list_filter([{{'k':'os_version','v':os}}, {{'k':'carrier','v':carrier}}], x -> x.v IS NOT NULL)) AS attrs
    FROM typed ORDER BY push_id) TO '{out("duckdb_map.parquet")}' (FORMAT PARQUET, COMPRESSION SNAPPY)""")
# DuckDB, flattened "attr.<name>" columns, plain TIMESTAMP (not UTC-adjusted), zstd.
con.execute(f"""COPY (SELECT * EXCLUDE (os, carrier, sent_at), sent_at::TIMESTAMP AS sent_at,
    os AS "attr.os_version", carrier AS "attr.carrier" FROM typed ORDER BY push_id)
    TO '{out("duckdb_flat.parquet")}' (FORMAT PARQUET, COMPRESSION ZSTD)""")
# Rows without sent_at: two of four.
con.execute(f"""COPY (SELECT push_id, CASE WHEN push_id IN ('p2','p4') THEN NULL ELSE sent_at END AS sent_at
    FROM typed ORDER BY push_id) TO '{out("no_sent_at.parquet")}' (FORMAT PARQUET)""")

# pyarrow, BigQuery's shape: attrs as LIST<STRUCT<key, value>>, times as strings and nanos,
# gzip, two rows per row group.
table = con.execute("SELECT * FROM typed ORDER BY push_id").arrow()
def attrs(row):
    pairs = [("os_version", row["os"]), ("carrier", row["carrier"])]
    return [{"key": k, "value": v} for k, v in pairs if v is not None]
rows = table.to_pylist()
pair = pa.struct([("key", pa.string()), ("value", pa.string())])
bq = pa.table({
    "push_id": [r["push_id"] for r in rows],
    "topic": [r["topic"] for r in rows],
    "push_type": [r["push_type"] for r in rows],
    "call_id": [r["call_id"] for r in rows],
    "device": [r["device"] for r in rows],
    "priority": pa.array([r["priority"] for r in rows], pa.int64()),
    "expiration": pa.array([r["expiration"] for r in rows], pa.int64()),
    "sent_at": pa.array([r["sent_at"] for r in rows], pa.timestamp("ns", tz="UTC")),
    "apns_status": pa.array([None if r["apns_status"] is None else str(r["apns_status"]) for r in rows], pa.string()),
    "apns_reason": [r["apns_reason"] for r in rows],
    "apns_id": [r["apns_id"] for r in rows],
    "apns_timestamp": pa.array([r["apns_timestamp"] for r in rows], pa.timestamp("ms", tz="UTC")),
    "responded_at": [None if r["responded_at"] is None else r["responded_at"].isoformat() for r in rows],
    "received_at": pa.array([r["received_at"] for r in rows], pa.timestamp("us")),
    "must_report": [r["must_report"] for r in rows],
    "attrs": pa.array([attrs(r) for r in rows], pa.list_(pair)),
})
pq.write_table(bq, out("bigquery_list.parquet"), compression="gzip", row_group_size=2)
pq.write_table(bq.drop_columns(["attrs"]).append_column("attrs", pa.array(
    ['{"os_version":"26.4.1","carrier":"Turkcell"}', '{"os_version":"18.5"}', None, '{"carrier":"Vodafone"}'])),
    out("json_attrs_lz4.parquet"), compression="lz4")

# Wrong types: sent_at as a float; apns_status as text that is not a number.
pq.write_table(pa.table({"sent_at": pa.array([1779288420000.5], pa.float64())}), out("wrong_sent_at.parquet"))
pq.write_table(pa.table({
    "sent_at": pa.array([1779288420000, 1779288480000], pa.int64()),
    "apns_status": ["200", "OK"],
}), out("status_text.parquet"))
pq.write_table(pa.table({"sent_at": [1779288420000], "carrier": ["x"]}), out("unknown_column.parquet"))

# Cut short: the footer is gone.
with open(out("duckdb_map.parquet"), "rb") as f:
    data = f.read()
with open(out("truncated.parquet"), "wb") as f:
    f.write(data[: len(data) // 2])
