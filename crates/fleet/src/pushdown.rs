//! The counting of [`crate::build::aggregate`] done inside PostgreSQL, over the gateway store's
//! tables, so a fleet kept there never leaves the database row by row.
//!
//! A store can hold hundreds of millions of attempts; copying them out to count them would move
//! gigabytes to produce a few thousand numbers. [`aggregate_postgres`] sends five statements
//! instead, in one read-only snapshot, and only aggregates come back:
//!
//! 1. the values to keep apart for attributes with more than [`MAX_VALUES`] values (the rest
//!    fold into [`OTHER`], as in [`crate::table`]);
//! 2. every push's latency buckets and failures: from them, here, the slow threshold (the
//!    sketch's 90th percentile) and the support floor;
//! 3. every push's counts per day, receipts, slow receipts, devices and failing devices;
//! 4. the same per single attribute value (with its latency buckets);
//! 5. the combinations of two or three frequent values with enough failures, per day, and their
//!    failing devices. As in process, pushes sharing their set of frequent values are grouped
//!    first, so combinations are enumerated per distinct set, not per push.
//!
//! The records are derived exactly as the store's export derives them
//! (`Store::export_push_records`): `sent_at` is the attempt's send, else its queueing;
//! `received_at` the receipt's device clock, else its server clock; the deadline the call's,
//! else the imported one; the device the token; `app` and the window filter `attempts.app` and
//! `attempts.queued_at`. The store keeps times as UTC microseconds, so the `hour` attribute is the
//! UTC hour of `sent_at` (a record read from a file gets its hour from the offset it was
//! written in; the gateway's export writes UTC).
//!
//! Values past [`MAX_VALUES`]: a [`Table`](crate::Table) keeps the first 500 values of an
//! attribute *in the order it reads them*. The pushdown keeps the first 500 in the order the
//! store exports them (`queued_at`, then `push_id`), so it agrees with a table filled from
//! `export_push_records` by one reader; a table filled from a file in another order, or by
//! several threads, may keep other values when an attribute has more than 500.

use std::collections::BTreeMap;

use serde_json::Value;
use tokio_postgres::{Client, IsolationLevel, NoTls, Row};

use crate::aggregates::{Aggregates, CohortAggregate, Day, Slow};
use crate::build::{BuildOptions, bucket_floor};
use crate::cohort::{Cohort, HOUR};
use crate::counts::Counts;
use crate::outcome::{Outcome, OutcomeRules};
use crate::sketch::{self, LatencySketch};
use crate::table::{MAX_VALUES, OTHER};

/// Why the pushdown could not count a fleet.
#[derive(Debug, thiserror::Error)]
pub enum PushdownError {
    #[error(
        "cannot connect to PostgreSQL at {target}: {source}; check the URL \
         (postgres://user[:password]@host[:port]/database) and that the server accepts connections \
         (`pg_isready -h HOST`)"
    )]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "PostgreSQL store: {step} failed: {source}; the store must hold the gateway's tables \
         (attempts, receipts, calls; see crates/store/migrations/postgres) with `attrs` a JSON \
         object in every row, and the schema must be on the search path"
    )]
    Query {
        step: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL store: {step} returned {what}; this is a bug in the pushdown's SQL")]
    Result { step: &'static str, what: String },
    #[error(
        "schema name {0:?}: use lowercase letters, digits and `_`, not starting with a digit \
         (the store's rule)"
    )]
    Schema(String),
}

/// Opens a connection for [`aggregate_postgres`]; `schema` (the store's
/// `StoreBuilder::schema`) is put on the search path. The connection runs on a task of the
/// current tokio runtime.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<Client, PushdownError> {
    let target = redact(url);
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|source| PushdownError::Connect {
            target: target.clone(),
            source,
        })?;
    if let Some(schema) = schema {
        let valid = schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && schema.chars().next().is_some_and(|c| !c.is_ascii_digit());
        if !valid {
            return Err(PushdownError::Schema(schema.to_string()));
        }
        let options = match config.get_options() {
            Some(existing) => format!("{existing} -c search_path={schema}"),
            None => format!("-c search_path={schema}"),
        };
        config.options(&options);
    }
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|source| PushdownError::Connect { target, source })?;
    // The connection's own errors surface as the client's next failed query.
    tokio::spawn(connection);
    Ok(client)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &url[scheme + 3..at];
            match user_info.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Counts the pushes of `app` (or every app) queued in `[from, to)` (UTC µs) into the same
/// [`Aggregates`] as [`crate::build::aggregate`] over the same records, inside PostgreSQL.
/// The statements run in one read-only, repeatable-read transaction, so a gateway writing
/// meanwhile cannot make them disagree.
pub async fn aggregate_postgres(
    client: &mut Client,
    app: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    rules: &OutcomeRules,
    options: &BuildOptions,
) -> Result<Aggregates, PushdownError> {
    Ok(pushdown(client, app, from, to, rules, options)
        .await?
        .aggregates)
}

/// What [`pushdown`] brought back, and how much crossed the wire to bring it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pushdown {
    pub aggregates: Aggregates,
    /// Statements sent.
    pub statements: usize,
    /// Rows received: a few per cohort and day, never one per push.
    pub rows_received: u64,
}

/// [`aggregate_postgres`], also saying how many statements ran and how many rows came back.
pub async fn pushdown(
    client: &mut Client,
    app: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    rules: &OutcomeRules,
    options: &BuildOptions,
) -> Result<Pushdown, PushdownError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|source| PushdownError::Query {
            step: "starting a read-only transaction",
            source,
        })?;
    let thresholds: Vec<i64> = sketch::bucket_thresholds()
        .iter()
        .map(|&t| i64::try_from(t).unwrap_or(i64::MAX))
        .collect();
    let failing: Vec<i32> = Outcome::ALL
        .iter()
        .filter(|&&o| rules.is_failure(o))
        .map(|&o| sql_outcome(o))
        .collect();
    let on_time = rules.on_time_within_micros;
    let common: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&app, &from, &to, &on_time, &thresholds, &failing];
    let run = async |step: &'static str,
                     sql: String,
                     extra: &[&(dyn tokio_postgres::types::ToSql + Sync)]|
           -> Result<Vec<Row>, PushdownError> {
        let params: Vec<_> = common.iter().chain(extra).copied().collect();
        tx.query(&sql, &params)
            .await
            .map_err(|source| PushdownError::Query { step, source })
    };
    let mut counter = RowCount::default();

    // 1. Which values of crowded attributes are kept apart.
    let max_values = MAX_VALUES as i64;
    let rows = run(
        "finding attributes with too many values",
        kept_values_sql(),
        &[&max_values],
    )
    .await?;
    counter.add(rows.len());
    let mut fold: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in &rows {
        fold.entry(text(row, 0, "kept values")?)
            .or_default()
            .push(text(row, 1, "kept values")?);
    }
    let fold = serde_json::to_value(&fold).unwrap_or(Value::Object(Default::default()));

    // 2. Every push's latency: the slow threshold; every push's failures: the support floor.
    const LATENCY: &str = "counting every push's latency";
    let rows = run(LATENCY, latency_sql(), &[]).await?;
    counter.add(rows.len());
    let mut everyone_latency = LatencySketch::new();
    let mut total_failures = 0u64;
    for row in &rows {
        let bucket: Option<i32> = get(row, 0, LATENCY)?;
        let pushes = count(row, 1, LATENCY)?;
        total_failures += count(row, 2, LATENCY)?;
        if let Some(bucket) = bucket {
            add_bucket(&mut everyone_latency, bucket, pushes, LATENCY)?;
        }
    }
    let (slow_bucket, slow_threshold_micros) = match everyone_latency.quantile(0.9) {
        Some(p90) => {
            let bucket = sketch::bucket_of(p90);
            (i32::from(bucket), Some(bucket_floor(bucket)))
        }
        None => (i32::MAX, None),
    };
    let floor = options.floor(total_failures);

    // 3. Every push.
    const EVERYONE: &str = "counting every push per day";
    let rows = run(EVERYONE, everyone_sql(), &[&slow_bucket]).await?;
    counter.add(rows.len());
    let mut everyone_days = Vec::new();
    let (mut devices, mut failing_devices) = (0, 0);
    for row in &rows {
        match get::<Option<i32>>(row, 0, EVERYONE)? {
            Some(day) => everyone_days.push((day, day_counts(row, 1, EVERYONE)?)),
            None => {
                devices = count(row, 8, EVERYONE)?;
                failing_devices = count(row, 9, EVERYONE)?;
            }
        }
    }
    let Some(first_day) = everyone_days.iter().map(|(d, _)| *d).min() else {
        return Ok(Pushdown {
            aggregates: Aggregates {
                rules: *rules,
                first_day: 0,
                days: 0,
                min_failures: floor,
                slow_threshold_micros: None,
                cohorts: Vec::new(),
            },
            statements: counter.statements,
            rows_received: counter.rows,
        });
    };
    let last_day = everyone_days
        .iter()
        .map(|(d, _)| *d)
        .max()
        .unwrap_or(first_day);
    let days = usize::try_from(last_day - first_day).unwrap_or(0) + 1;
    let mut everyone = Partial::single(days);
    for (day, counts) in everyone_days {
        everyone.set_day(day - first_day, counts);
    }
    everyone.latency = Some(everyone_latency);
    everyone.devices = Some(devices);
    everyone.failing_devices = failing_devices;
    let mut cohorts = vec![everyone.finish(Cohort::everyone())];

    // 4. Single values.
    const SINGLES: &str = "counting every attribute value per day";
    let rows = run(SINGLES, singles_sql(), &[&slow_bucket, &fold]).await?;
    counter.add(rows.len());
    let mut singles: BTreeMap<(String, String), Partial> = BTreeMap::new();
    for row in &rows {
        let key = (text(row, 1, SINGLES)?, text(row, 2, SINGLES)?);
        let partial = singles.entry(key).or_insert_with(|| Partial::single(days));
        match get::<Option<i32>>(row, 3, SINGLES)? {
            Some(day) => partial.set_day(day - first_day, day_counts(row, 4, SINGLES)?),
            None => {
                partial.devices = Some(count(row, 11, SINGLES)?);
                partial.failing_devices = count(row, 12, SINGLES)?;
                partial.busiest_device_failures = count(row, 15, SINGLES)?;
                let buckets: Option<Vec<i32>> = get(row, 13, SINGLES)?;
                let counts: Option<Vec<i64>> = get(row, 14, SINGLES)?;
                let sketch = partial.latency.get_or_insert_with(LatencySketch::new);
                for (bucket, n) in buckets
                    .unwrap_or_default()
                    .into_iter()
                    .zip(counts.unwrap_or_default())
                {
                    let n = u64::try_from(n).map_err(|_| negative(SINGLES))?;
                    add_bucket(sketch, bucket, n, SINGLES)?;
                }
            }
        }
    }
    // Values that may be part of a kept combination (Apriori), in a fixed order.
    let frequent: Vec<(String, String)> = singles
        .iter()
        .filter(|((attribute, _), partial)| attribute != HOUR && partial.failures(rules) >= floor)
        .map(|(key, _)| key.clone())
        .collect();
    for ((attribute, value), partial) in singles {
        cohorts.push(partial.finish(Cohort::of([(attribute.as_str(), value.as_str())])));
    }

    // 5. Combinations.
    if options.max_combination >= 2 && frequent.len() >= 2 {
        const COMBINATIONS: &str = "counting combinations of values per day";
        let attributes: Vec<&str> = frequent.iter().map(|(a, _)| a.as_str()).collect();
        let values: Vec<&str> = frequent.iter().map(|(_, v)| v.as_str()).collect();
        let floor_sql = i64::try_from(floor).unwrap_or(i64::MAX);
        let max = options.max_combination.min(3) as i32;
        let rows = run(
            COMBINATIONS,
            combinations_sql(),
            &[&fold, &attributes, &values, &floor_sql, &max],
        )
        .await?;
        counter.add(rows.len());
        let mut combinations: BTreeMap<Vec<i32>, Partial> = BTreeMap::new();
        for row in &rows {
            let combination: Vec<i32> = get(row, 1, COMBINATIONS)?;
            let partial = combinations
                .entry(combination)
                .or_insert_with(|| Partial::combination(days));
            match get::<Option<i32>>(row, 2, COMBINATIONS)? {
                Some(day) => partial.set_day(day - first_day, day_counts(row, 3, COMBINATIONS)?),
                None => {
                    partial.devices = Some(count(row, 10, COMBINATIONS)?);
                    partial.failing_devices = count(row, 11, COMBINATIONS)?;
                    partial.busiest_device_failures = count(row, 12, COMBINATIONS)?;
                }
            }
        }
        for (combination, partial) in combinations {
            let mut pairs = Vec::with_capacity(combination.len());
            for n in combination {
                let item = usize::try_from(n - 1)
                    .ok()
                    .and_then(|i| frequent.get(i))
                    .ok_or_else(|| PushdownError::Result {
                        step: COMBINATIONS,
                        what: format!("item {n} of {} frequent values", frequent.len()),
                    })?;
                pairs.push((item.0.as_str(), item.1.as_str()));
            }
            cohorts.push(partial.finish(Cohort::of(pairs)));
        }
    }
    tx.commit().await.map_err(|source| PushdownError::Query {
        step: "ending the read-only transaction",
        source,
    })?;

    let mut aggregates = Aggregates {
        rules: *rules,
        first_day: first_day as Day,
        days,
        min_failures: floor,
        slow_threshold_micros,
        cohorts,
    };
    aggregates.sort();
    Ok(Pushdown {
        aggregates,
        statements: counter.statements,
        rows_received: counter.rows,
    })
}

#[derive(Default)]
struct RowCount {
    statements: usize,
    rows: u64,
}

impl RowCount {
    fn add(&mut self, rows: usize) {
        self.statements += 1;
        self.rows += rows as u64;
    }
}

/// One cohort's aggregates as the rows arrive.
struct Partial {
    daily: Vec<Counts>,
    slow_daily: Vec<Slow>,
    latency: Option<LatencySketch>,
    devices: Option<u64>,
    failing_devices: u64,
    busiest_device_failures: u64,
}

/// A day's row: the counts, and the receipts and slow receipts when the cohort has them.
struct DayCounts {
    counts: Counts,
    slow: Option<Slow>,
}

impl Partial {
    fn single(days: usize) -> Partial {
        Partial {
            daily: vec![Counts::default(); days],
            slow_daily: vec![Slow::default(); days],
            latency: Some(LatencySketch::new()),
            devices: Some(0),
            failing_devices: 0,
            busiest_device_failures: 0,
        }
    }

    fn combination(days: usize) -> Partial {
        Partial {
            daily: vec![Counts::default(); days],
            slow_daily: Vec::new(),
            latency: None,
            devices: Some(0),
            failing_devices: 0,
            busiest_device_failures: 0,
        }
    }

    fn set_day(&mut self, index: i32, day: DayCounts) {
        let Ok(index) = usize::try_from(index) else {
            return;
        };
        if let Some(slot) = self.daily.get_mut(index) {
            *slot = day.counts;
        }
        if let (Some(slot), Some(slow)) = (self.slow_daily.get_mut(index), day.slow) {
            *slot = slow;
        }
    }

    fn failures(&self, rules: &OutcomeRules) -> u64 {
        self.daily.iter().map(|c| c.failures(rules)).sum()
    }

    fn finish(self, cohort: Cohort) -> CohortAggregate {
        CohortAggregate {
            cohort,
            daily: self.daily,
            slow_daily: self.slow_daily,
            latency: self.latency,
            devices: self.devices,
            failing_devices: self.failing_devices,
            busiest_device_failures: self.busiest_device_failures,
        }
    }
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    column: usize,
    step: &'static str,
) -> Result<T, PushdownError> {
    row.try_get(column).map_err(|e| PushdownError::Result {
        step,
        what: format!("an unreadable column {column}: {e}"),
    })
}

fn text(row: &Row, column: usize, step: &'static str) -> Result<String, PushdownError> {
    get(row, column, step)
}

fn negative(step: &'static str) -> PushdownError {
    PushdownError::Result {
        step,
        what: "a negative count".into(),
    }
}

fn count(row: &Row, column: usize, step: &'static str) -> Result<u64, PushdownError> {
    let n: Option<i64> = get(row, column, step)?;
    u64::try_from(n.unwrap_or(0)).map_err(|_| negative(step))
}

/// Columns `from..from + 7`: the five outcome counts, receipts, slow receipts (NULL for
/// combinations).
fn day_counts(row: &Row, from: usize, step: &'static str) -> Result<DayCounts, PushdownError> {
    let counts = Counts {
        on_time: count(row, from, step)?,
        late: count(row, from + 1, step)?,
        no_receipt: count(row, from + 2, step)?,
        rejected: count(row, from + 3, step)?,
        not_sent: count(row, from + 4, step)?,
    };
    let received: Option<i64> = get(row, from + 5, step)?;
    let slow = match received {
        Some(_) => Some(Slow {
            received: count(row, from + 5, step)?,
            slow: count(row, from + 6, step)?,
        }),
        None => None,
    };
    Ok(DayCounts { counts, slow })
}

fn add_bucket(
    sketch: &mut LatencySketch,
    bucket: i32,
    n: u64,
    step: &'static str,
) -> Result<(), PushdownError> {
    let index = u16::try_from(bucket).map_err(|_| PushdownError::Result {
        step,
        what: format!("latency bucket {bucket}"),
    })?;
    sketch
        .add_bucket(index, n)
        .map_err(|e| PushdownError::Result {
            step,
            what: e.to_string(),
        })
}

/// An outcome's number in the SQL's `outcome` column.
fn sql_outcome(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::OnTime => 0,
        Outcome::Late => 1,
        Outcome::NoReceipt => 2,
        Outcome::Rejected => 3,
        Outcome::NotSent => 4,
    }
}

/// The pushes as the store's export derives them, with day, outcome
/// ([`sql_outcome`]), latency bucket and failure. Parameters: $1 app, $2 from, $3 to (µs on
/// `queued_at`), $4 on-time window (µs), $5 bucket thresholds, $6 failing outcomes.
const PUSHES: &str = "
WITH source AS (
    SELECT a.push_id AS id, a.queued_at AS queued, a.token AS device, a.attrs,
           COALESCE(a.sent_at, a.queued_at) AS sent,
           COALESCE(r.device_received_at, r.received_at) AS received,
           COALESCE(c.deadline, a.deadline) AS deadline,
           a.apns_status AS status
    FROM attempts a
    LEFT JOIN calls c ON c.call_id = a.call_id
    LEFT JOIN receipts r ON r.push_id = a.push_id
    WHERE ($1::TEXT IS NULL OR a.app = $1) AND ($2::BIGINT IS NULL OR a.queued_at >= $2)
      AND ($3::BIGINT IS NULL OR a.queued_at < $3)
),
judged AS (
    SELECT id, queued, device, attrs, sent,
           (sent / 86400000000)::INT AS day,
           CASE WHEN received IS NULL THEN
                    CASE WHEN status IS NULL THEN 4 WHEN status <> 200 THEN 3 ELSE 2 END
                WHEN received <= COALESCE(deadline, sent + $4::BIGINT) THEN 0
                ELSE 1 END AS outcome,
           CASE WHEN received IS NOT NULL
                THEN width_bucket(GREATEST(received - sent, 0), $5::BIGINT[]) END AS bucket
    FROM source
    -- The days a table row can hold (1970 to 2149).
    WHERE sent >= 0 AND sent < 65536 * 86400000000
),
pushes AS (
    SELECT *, outcome = ANY($6::INT[]) AS fails FROM judged
)";

/// Each push's attribute values, `hour` first; values past the kept ones of a crowded attribute
/// ($7: `{attribute: [kept values]}`) fold into `(other)`.
fn items_cte() -> String {
    format!(
        ",
items AS (
    SELECT p.id, p.device, p.day, p.outcome, p.bucket, p.fails, i.attr, i.value
    FROM pushes p CROSS JOIN LATERAL (
        SELECT '{HOUR}' AS attr, lpad(((p.sent / 3600000000) % 24)::TEXT, 2, '0') AS value
        UNION ALL
        SELECT kv.key, {folded}
        FROM jsonb_each_text(p.attrs::JSONB) kv
        WHERE kv.key <> '{HOUR}' AND kv.value IS NOT NULL
    ) i
)",
        folded = folded_value("$7")
    )
}

fn folded_value(fold: &str) -> String {
    format!(
        "CASE WHEN jsonb_exists({fold}::JSONB, kv.key)
                   AND NOT jsonb_exists({fold}::JSONB -> kv.key, kv.value)
              THEN '{OTHER}' ELSE kv.value END"
    )
}

/// The five outcome counts of `n` pushes per row, by outcome index.
fn outcome_columns(n: &str) -> String {
    (0..5)
        .map(|o| format!("COALESCE(SUM({n}) FILTER (WHERE outcome = {o}), 0)::BIGINT"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// $7: values kept per attribute. Returns (attribute, value) for attributes with more.
fn kept_values_sql() -> String {
    format!(
        "{PUSHES},
attr_values AS (
    SELECT kv.key AS attr, kv.value, p.queued, p.id
    FROM pushes p CROSS JOIN LATERAL jsonb_each_text(p.attrs::JSONB) kv
    WHERE kv.key <> '{HOUR}' AND kv.value IS NOT NULL
),
crowded AS (
    SELECT attr FROM attr_values GROUP BY attr HAVING count(DISTINCT value) > $7::BIGINT
),
firsts AS (
    SELECT DISTINCT ON (v.attr, v.value) v.attr, v.value, v.queued, v.id
    FROM attr_values v JOIN crowded USING (attr)
    ORDER BY v.attr, v.value, v.queued, v.id
),
ranked AS (
    SELECT attr, value, row_number() OVER (PARTITION BY attr ORDER BY queued, id) AS seen
    FROM firsts
)
SELECT attr, value FROM ranked WHERE seen <= $7::BIGINT"
    )
}

/// Per latency bucket (NULL: no receipt): pushes and failures.
fn latency_sql() -> String {
    format!(
        "{PUSHES}
SELECT bucket, count(*)::BIGINT, count(*) FILTER (WHERE fails)::BIGINT
FROM pushes GROUP BY bucket"
    )
}

/// $7: slow bucket. Rows per day: day, 5 counts, received, slow; one row with day NULL:
/// devices (column 8) and failing devices (column 9).
fn everyone_sql() -> String {
    format!(
        "{PUSHES}
SELECT day, {outcomes},
       count(bucket)::BIGINT, count(*) FILTER (WHERE bucket >= $7::INT)::BIGINT,
       NULL::BIGINT, NULL::BIGINT
FROM pushes GROUP BY day
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       count(DISTINCT device)::BIGINT, count(DISTINCT device) FILTER (WHERE fails)::BIGINT
FROM pushes",
        outcomes = outcome_columns("1")
    )
}

/// $7: slow bucket, $8: kept values. Rows: kind, attribute, value, then per day: day, 5
/// counts, received, slow; per value (day NULL): devices (11), failing devices (12), latency
/// buckets (13) and their counts (14), the busiest failing device's failures (15).
fn singles_sql() -> String {
    let items = items_cte().replace("$7", "$8");
    format!(
        "{PUSHES}{items},
latency AS (
    SELECT attr, value, array_agg(bucket ORDER BY bucket) AS buckets,
           array_agg(n ORDER BY bucket) AS counts
    FROM (SELECT attr, value, bucket, count(*)::BIGINT AS n FROM items
          WHERE bucket IS NOT NULL GROUP BY attr, value, bucket) b
    GROUP BY attr, value
),
devices AS (
    SELECT attr, value, count(DISTINCT device)::BIGINT AS devices,
           count(DISTINCT device) FILTER (WHERE fails)::BIGINT AS failing
    FROM items GROUP BY attr, value
),
busiest AS (
    SELECT attr, value, max(n) AS failures
    FROM (SELECT attr, value, device, count(*)::BIGINT AS n FROM items
          WHERE fails AND device IS NOT NULL GROUP BY attr, value, device) f
    GROUP BY attr, value
)
SELECT 0, attr, value, day, {outcomes},
       count(bucket)::BIGINT, count(*) FILTER (WHERE bucket >= $7::INT)::BIGINT,
       NULL::BIGINT, NULL::BIGINT, NULL::INT[], NULL::BIGINT[], NULL::BIGINT
FROM items GROUP BY attr, value, day
UNION ALL
SELECT 1, d.attr, d.value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       d.devices, d.failing, l.buckets, l.counts, b.failures
FROM devices d LEFT JOIN latency l USING (attr, value) LEFT JOIN busiest b USING (attr, value)",
        outcomes = outcome_columns("1")
    )
}

/// $7: kept values, $8/$9: the frequent values' attributes and values (item n is element n),
/// $10: the support floor, $11: the largest combination. Rows: kind, combination (item
/// numbers), then per day: day, 5 counts, NULL, NULL; per combination (day NULL): devices
/// (10), failing devices (11), the busiest failing device's failures (12).
fn combinations_sql() -> String {
    format!(
        "{PUSHES},
frequent AS (
    SELECT attr, value, n::INT AS n
    FROM unnest($8::TEXT[], $9::TEXT[]) WITH ORDINALITY AS f(attr, value, n)
),
keyed AS (
    SELECT p.day, p.outcome, p.fails, p.device,
           ARRAY(SELECT f.n FROM jsonb_each_text(p.attrs::JSONB) kv
                 JOIN frequent f ON f.attr = kv.key AND f.value = {folded}
                 WHERE kv.key <> '{HOUR}'
                 ORDER BY f.n) AS item_set
    FROM pushes p
),
keys AS (
    SELECT item_set, day, outcome, fails, count(*)::BIGINT AS n
    FROM keyed WHERE cardinality(item_set) >= 2 GROUP BY item_set, day, outcome, fails
),
key_devices AS (
    SELECT item_set, device, count(*) FILTER (WHERE fails)::BIGINT AS failures FROM keyed
    WHERE device IS NOT NULL AND cardinality(item_set) >= 2 GROUP BY item_set, device
),
distinct_keys AS (SELECT DISTINCT item_set FROM keys),
combinations AS (
    SELECT k.item_set, ARRAY[k.item_set[i], k.item_set[j]] AS combination
    FROM distinct_keys k,
         generate_series(1, cardinality(k.item_set)) i,
         generate_series(i + 1, cardinality(k.item_set)) j
    UNION ALL
    SELECT k.item_set, ARRAY[k.item_set[i], k.item_set[j], k.item_set[l]]
    FROM distinct_keys k,
         generate_series(1, cardinality(k.item_set)) i,
         generate_series(i + 1, cardinality(k.item_set)) j,
         generate_series(j + 1, cardinality(k.item_set)) l
    WHERE $11::INT >= 3
),
kept AS (
    SELECT c.combination FROM combinations c JOIN keys s ON s.item_set = c.item_set
    WHERE s.fails GROUP BY c.combination HAVING SUM(s.n) >= $10::BIGINT
),
kept_keys AS (
    SELECT c.item_set, c.combination FROM combinations c JOIN kept USING (combination)
),
combination_devices AS (
    SELECT k.combination, d.device, SUM(d.failures) AS failures
    FROM kept_keys k JOIN key_devices d ON d.item_set = k.item_set
    GROUP BY k.combination, d.device
)
SELECT 0, k.combination, s.day, {outcomes},
       NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT
FROM kept_keys k JOIN keys s ON s.item_set = k.item_set
GROUP BY k.combination, s.day
UNION ALL
SELECT 1, combination, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       count(*)::BIGINT, count(*) FILTER (WHERE failures > 0)::BIGINT,
       COALESCE(max(failures), 0)::BIGINT
FROM combination_devices
GROUP BY combination",
        folded = folded_value("$7"),
        outcomes = outcome_columns("s.n")
    )
}

#[cfg(test)]
fn statements() -> std::collections::HashMap<&'static str, String> {
    std::collections::HashMap::from([
        ("kept_values", kept_values_sql()),
        ("latency", latency_sql()),
        ("everyone", everyone_sql()),
        ("singles", singles_sql()),
        ("combinations", combinations_sql()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn every_statement_numbers_its_parameters_from_one_without_gaps() {
        for (name, sql) in statements() {
            let mut highest = 0;
            for n in 1..=20 {
                if sql.contains(&format!("${n}::")) || sql.contains(&format!("${n} ")) {
                    highest = n;
                }
            }
            for n in 1..=highest {
                assert!(sql.contains(&format!("${n}")), "{name}: ${n} unused");
            }
        }
    }
}
