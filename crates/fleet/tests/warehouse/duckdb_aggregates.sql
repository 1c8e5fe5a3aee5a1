-- The fleet's aggregates file (docs/fleet.md, "Aggregates file") from a table of push records,
-- in DuckDB: the same counting as `pushtrace fleet` does in process (crates/fleet/src/build.rs).
--
-- Input: a table push_records(push_id VARCHAR, device VARCHAR, sent_at TIMESTAMPTZ,
-- received_at TIMESTAMPTZ, deadline TIMESTAMPTZ, apns_status INTEGER,
-- attrs MAP(VARCHAR, VARCHAR)), the documented push record fields (docs/formats.md).
-- Output: aggregates.jsonl in the working directory; read it with `pushtrace fleet --aggregates`.
-- Settings: the defaults of OutcomeRules and BuildOptions; change them here.
SET VARIABLE on_time_within_us = 60000000;   -- a push without a deadline is on time within 60 s
SET VARIABLE no_receipt_is_failure = false;
SET VARIABLE min_support = 0.005;            -- a combination needs this share of all failures
SET VARIABLE min_failures = 20;              -- ... and at least this many
SET VARIABLE max_combination = 3;            -- 1 to 3
SET VARIABLE max_values = 500;               -- values kept apart per attribute; the rest: (other)

-- The latency sketch's bucket thresholds (crates/fleet/src/sketch.rs): 1, then floor(γ^i) + 1
-- with γ = 1.01/0.99 multiplied up step by step (the same IEEE operations as in Rust), up to
-- 31 days in µs. A latency's bucket is the number of thresholds at or below it.
CREATE OR REPLACE TEMP TABLE thresholds AS
WITH RECURSIVE powers(i, p) AS (
    SELECT 0, 1.0::DOUBLE
    UNION ALL
    SELECT i + 1, p * ((1.0::DOUBLE + 0.01::DOUBLE) / (1.0::DOUBLE - 0.01::DOUBLE))
    FROM powers WHERE p <= 2678400000000
)
SELECT row_number() OVER (ORDER BY lower) AS bucket, lower
FROM (SELECT 1::BIGINT AS lower
      UNION
      SELECT floor(p)::BIGINT + 1 FROM powers
      WHERE i >= 1 AND floor(p)::BIGINT + 1 <= 2678400000000);

-- Every push judged (crates/fleet/src/outcome.rs): 0 on time, 1 late, 2 no receipt,
-- 3 rejected, 4 not sent; its UTC day, latency bucket, and whether it fails.
CREATE OR REPLACE TEMP TABLE pushes AS
WITH source AS (
    SELECT row_number() OVER (ORDER BY sent_at, push_id) AS id, device, attrs,
           epoch_us(sent_at) AS sent, epoch_us(received_at) AS received,
           epoch_us(deadline) AS deadline, apns_status AS status
    FROM push_records
),
judged AS (
    SELECT *, (sent // 86400000000)::INTEGER AS day,
           CASE WHEN received IS NULL THEN
                    CASE WHEN status IS NULL THEN 4 WHEN status <> 200 THEN 3 ELSE 2 END
                WHEN received <= COALESCE(deadline, sent + getvariable('on_time_within_us'))
                THEN 0 ELSE 1 END AS outcome,
           CASE WHEN received IS NOT NULL THEN greatest(received - sent, 0) END AS latency
    FROM source
    WHERE sent >= 0 AND sent < 65536 * 86400000000
)
SELECT j.id, j.device, j.attrs, j.sent, j.day, j.outcome,
       CASE WHEN j.latency IS NOT NULL THEN COALESCE(t.bucket, 0) END AS bucket,
       j.outcome IN (1, 3, 4) OR (j.outcome = 2 AND getvariable('no_receipt_is_failure')) AS fails
FROM judged j ASOF LEFT JOIN thresholds t ON j.latency >= t.lower;

-- Each push's attribute values, with the derived hour (UTC hour of sent_at).
CREATE OR REPLACE TEMP TABLE items AS
SELECT id, device, day, outcome, bucket, fails, 'hour' AS attr,
       lpad(((sent // 3600000000) % 24)::VARCHAR, 2, '0') AS value
FROM pushes
UNION ALL
SELECT id, device, day, outcome, bucket, fails, attr, value
FROM (SELECT id, device, day, outcome, bucket, fails,
             unnest(map_keys(attrs)) AS attr, unnest(map_values(attrs)) AS value
      FROM pushes)
WHERE attr <> 'hour' AND value IS NOT NULL;

-- An attribute with more than max_values values keeps the first ones seen (by sent_at) apart.
CREATE OR REPLACE TEMP TABLE kept_values AS
WITH crowded AS (
    SELECT attr FROM items GROUP BY attr HAVING count(DISTINCT value) > getvariable('max_values')
)
SELECT attr, value, row_number() OVER (PARTITION BY attr ORDER BY min(id)) <= getvariable('max_values') AS kept
FROM items WHERE attr IN (SELECT attr FROM crowded) GROUP BY attr, value;
UPDATE items SET value = '(other)'
WHERE EXISTS (SELECT 1 FROM kept_values k
              WHERE k.attr = items.attr AND k.value = items.value AND NOT k.kept);

-- The slow threshold (the sketch's 90th percentile bucket) and the support floor.
CREATE OR REPLACE TEMP TABLE fleet AS
WITH latency AS (
    SELECT bucket, count(*) AS n FROM pushes WHERE bucket IS NOT NULL GROUP BY bucket
),
running AS (
    SELECT bucket, sum(n) OVER (ORDER BY bucket) AS seen, sum(n) OVER () AS total FROM latency
),
slow AS (
    SELECT min(bucket) AS bucket FROM running
    WHERE seen > floor(0.9::DOUBLE * (total - 1)::DOUBLE)
),
failures AS (SELECT count(*) FILTER (WHERE fails) AS n FROM pushes)
SELECT slow.bucket AS slow_bucket,
       CASE WHEN slow.bucket = 0 THEN 0
            ELSE (SELECT lower FROM thresholds t WHERE t.bucket = slow.bucket) END AS slow_us,
       greatest(ceil(getvariable('min_support')::DOUBLE * failures.n::DOUBLE)::BIGINT,
                getvariable('min_failures'), 1) AS floor
FROM slow, failures;

-- Values that can be part of a kept combination (never hour), then every push's
-- combinations of two or three of them, kept when they hold enough failures.
CREATE OR REPLACE TEMP TABLE frequent AS
SELECT i.id, i.device, i.day, i.outcome, i.fails, i.attr, i.value
FROM items i
JOIN (SELECT attr, value FROM items WHERE attr <> 'hour' GROUP BY attr, value
      HAVING count(*) FILTER (WHERE fails) >= (SELECT floor FROM fleet)) f USING (attr, value);
CREATE OR REPLACE TEMP TABLE combinations AS
SELECT a.id, a.device, a.day, a.outcome, a.fails,
       json_object(a.attr, a.value, b.attr, b.value)::VARCHAR AS cohort
FROM frequent a JOIN frequent b ON b.id = a.id AND a.attr < b.attr
WHERE getvariable('max_combination') >= 2
UNION ALL
SELECT a.id, a.device, a.day, a.outcome, a.fails,
       json_object(a.attr, a.value, b.attr, b.value, c.attr, c.value)::VARCHAR
FROM frequent a JOIN frequent b ON b.id = a.id AND a.attr < b.attr
                JOIN frequent c ON c.id = a.id AND b.attr < c.attr
WHERE getvariable('max_combination') >= 3;

-- Every cohort's pushes: every push (level 0), single values (1), kept combinations (2).
CREATE OR REPLACE TEMP TABLE members AS
SELECT '{}' AS cohort, 0 AS level, id, device, day, outcome, bucket, fails FROM pushes
UNION ALL
SELECT json_object(attr, value)::VARCHAR, 1, id, device, day, outcome, bucket, fails FROM items
UNION ALL
SELECT cohort, 2, id, device, day, outcome, NULL, fails FROM combinations
WHERE cohort IN (SELECT cohort FROM combinations WHERE fails GROUP BY cohort
                 HAVING count(*) >= (SELECT floor FROM fleet));

CREATE OR REPLACE TEMP TABLE aggregate_lines AS
SELECT 0 AS part, json_object(
    'kind', 'settings',
    'on_time_within_s', getvariable('on_time_within_us')::DOUBLE / 1e6,
    'no_receipt_is_failure', getvariable('no_receipt_is_failure'),
    'min_failures', floor,
    'slow_threshold_us', slow_us)::VARCHAR AS line
FROM fleet
UNION ALL
SELECT 1, json_object(
    'kind', 'day', 'day', strftime(DATE '1970-01-01' + day, '%Y-%m-%d'), 'cohort', cohort::JSON,
    'on_time', count(*) FILTER (WHERE outcome = 0), 'late', count(*) FILTER (WHERE outcome = 1),
    'no_receipt', count(*) FILTER (WHERE outcome = 2),
    'rejected', count(*) FILTER (WHERE outcome = 3),
    'not_sent', count(*) FILTER (WHERE outcome = 4),
    'received', CASE WHEN min(level) <= 1 THEN count(bucket) END,
    'slow', CASE WHEN min(level) <= 1
                 THEN count(*) FILTER (WHERE bucket >= (SELECT slow_bucket FROM fleet)) END)::VARCHAR
FROM members GROUP BY cohort, day
UNION ALL
SELECT 2, json_object('kind', 'latency', 'cohort', cohort::JSON, 'bucket', bucket,
                      'count', count(*))::VARCHAR
FROM members WHERE bucket IS NOT NULL GROUP BY cohort, bucket
UNION ALL
SELECT 3, json_object('kind', 'devices', 'cohort', m.cohort::JSON,
                      'devices', count(DISTINCT m.device),
                      'failing_devices', count(DISTINCT m.device) FILTER (WHERE m.fails),
                      -- pushtrace counts no busiest device for every push (build.rs).
                      'busiest_device_failures',
                      CASE WHEN min(m.level) = 0 THEN 0 ELSE COALESCE(max(b.failures), 0) END)::VARCHAR
FROM members m
LEFT JOIN (SELECT cohort, device, count(*) AS failures FROM members
           WHERE fails AND device IS NOT NULL GROUP BY cohort, device) b
       ON b.cohort = m.cohort AND b.device = m.device
GROUP BY m.cohort;

COPY (SELECT line FROM aggregate_lines ORDER BY part, line)
TO 'aggregates.jsonl' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t');
