//! The pushdown against the in-process count: a generated fleet imported into a PostgreSQL
//! store must give the same aggregates and the same report either way, and only aggregates
//! may cross the wire. Needs PostgreSQL at postgres://postgres@127.0.0.1:5432/test (override
//! with PUSHTRACE_TEST_POSTGRES; `bash .ci/start-postgres.sh` starts one); each test works in
//! a schema of its own, dropped at the end.

use pushtrace_fleet::aggregates::Aggregates;
use pushtrace_fleet::pushdown::{self, Pushdown};
use pushtrace_fleet::synthetic::{self, Effect, FleetSpec};
use pushtrace_fleet::{AnalysisOptions, BuildOptions, OutcomeRules, Table, analyze, build};
use pushtrace_model::{PushRecord, Timestamp};
use pushtrace_store::{Store, StoreBuilder};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn postgres_url() -> String {
    std::env::var("PUSHTRACE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// A store in a fresh schema, and that schema's name.
async fn fresh_store(tag: &str) -> (Store, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!("fleet_{tag}_{}_{nanos}", std::process::id());
    let url = postgres_url();
    let store = StoreBuilder::postgres(&url)
        .schema(&schema)
        .open()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the pushdown tests need PostgreSQL at {url} (PUSHTRACE_TEST_POSTGRES overrides; \
                 `bash .ci/start-postgres.sh` starts one): {e}"
            )
        });
    (store, schema)
}

async fn drop_schema(schema: &str) {
    let client = pushdown::connect(&postgres_url(), None)
        .await
        .expect("connect to drop the schema");
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop the test schema");
}

async fn import(store: &Store, app: &str, records: &[PushRecord]) {
    for chunk in records.chunks(20_000) {
        let (inserted, skipped) = store
            .import_push_records(app, chunk)
            .await
            .expect("import push records");
        assert_eq!((inserted, skipped), (chunk.len(), 0));
    }
}

fn in_process(records: &[PushRecord], rules: OutcomeRules, options: &BuildOptions) -> Aggregates {
    let mut table = Table::new(rules);
    for record in records {
        table.add(record);
    }
    build::aggregate(&table, options)
}

/// Names the first cohort that differs, so a failure says where, not just "not equal".
fn assert_same(pushed: &Aggregates, local: &Aggregates) {
    assert_eq!(
        (pushed.first_day, pushed.days, pushed.min_failures),
        (local.first_day, local.days, local.min_failures),
        "window and support floor"
    );
    assert_eq!(
        pushed.slow_threshold_micros, local.slow_threshold_micros,
        "slow threshold"
    );
    for (p, l) in pushed.cohorts.iter().zip(&local.cohorts) {
        assert_eq!(p.cohort, l.cohort, "cohort order (pushdown vs in process)");
        let c = &l.cohort;
        assert_eq!(p.daily, l.daily, "{c}: daily counts");
        assert_eq!(
            p.slow_daily, l.slow_daily,
            "{c}: receipts and slow receipts"
        );
        assert_eq!(p.latency, l.latency, "{c}: latency");
        assert_eq!(
            (p.devices, p.failing_devices, p.busiest_device_failures),
            (l.devices, l.failing_devices, l.busiest_device_failures),
            "{c}: devices, failing devices, busiest device's failures"
        );
        assert_eq!(p, l, "{c}");
    }
    assert_eq!(
        pushed.cohorts.len(),
        local.cohorts.len(),
        "cohorts (pushdown vs in process)"
    );
    assert_eq!(pushed, local);
}

/// The planted fleet's effects on a 30-day window (their days scaled by a third).
fn small_planted(devices: u32, pushes: u64) -> FleetSpec {
    let scale = |day: u32| day / 3;
    let effects = FleetSpec::planted()
        .effects
        .into_iter()
        .map(|effect| match effect {
            Effect::Regression {
                cohort,
                from_day,
                failure_rate,
            } => Effect::Regression {
                cohort,
                from_day: scale(from_day),
                failure_rate,
            },
            Effect::LatencyShift {
                cohort,
                from_day,
                factor,
            } => Effect::LatencyShift {
                cohort,
                from_day: scale(from_day),
                factor,
            },
            Effect::Rollout {
                attr,
                value,
                from_day,
                ramp_days,
                share,
            } => Effect::Rollout {
                attr,
                value,
                from_day: scale(from_day),
                ramp_days: scale(ramp_days).max(1),
                share,
            },
            other => other,
        })
        .collect();
    FleetSpec {
        effects,
        ..FleetSpec::planted().with_size(devices, pushes, 30)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_counts_a_generated_fleet_as_the_table_does() {
    let spec = small_planted(20_000, 200_000);
    let records: Vec<PushRecord> = synthetic::generate(&spec).expect("valid spec").collect();
    let (store, schema) = fresh_store("fleet").await;
    let started = std::time::Instant::now();
    import(&store, "calls", &records).await;
    let import_seconds = started.elapsed().as_secs_f64();

    let rules = OutcomeRules::default();
    let options = BuildOptions::default();
    let started = std::time::Instant::now();
    let exported = store
        .export_push_records(None, None, None)
        .await
        .expect("export");
    let local = in_process(&exported, rules, &options);
    let local_seconds = started.elapsed().as_secs_f64();
    // The generator writes UTC and no attribute has more than 500 values, so the records as
    // generated count the same as the store's export of them.
    assert_eq!(in_process(&records, rules, &options), local);

    let mut client = pushdown::connect(&postgres_url(), Some(&schema))
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    let Pushdown {
        aggregates: pushed,
        statements,
        rows_received,
    } = pushdown::pushdown(&mut client, None, None, None, &rules, &options)
        .await
        .expect("pushdown");
    let pushdown_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} pushes: import {import_seconds:.1} s; export + table + aggregate {local_seconds:.1} s; \
         pushdown {pushdown_seconds:.1} s, {statements} statements, {rows_received} rows, \
         {} cohorts ({} combinations), {} days",
        records.len(),
        pushed.cohorts.len(),
        pushed
            .cohorts
            .iter()
            .filter(|c| c.cohort.len() >= 2)
            .count(),
        pushed.days
    );
    assert_same(&pushed, &local);
    assert!(
        pushed.cohorts.iter().any(|c| c.cohort.len() == 3),
        "the planted fleet has combinations of three values with enough failures"
    );

    // Aggregates only: a row per cohort and day, one per cohort, the latency buckets of every
    // push, and nothing per push.
    let cohorts = pushed.cohorts.len() as u64;
    let bound =
        cohorts * (pushed.days as u64 + 1) + u64::from(pushtrace_fleet::sketch::last_bucket()) + 2;
    assert!(
        rows_received <= bound,
        "{rows_received} rows received, more than cohorts × (days + 1) + buckets = {bound}"
    );
    // The bound does not grow with pushes; even on this small fleet (about 7 pushes per cohort
    // and day) it is a fraction of them.
    assert!(
        rows_received * 3 < records.len() as u64,
        "{rows_received} rows received for {} pushes",
        records.len()
    );
    assert_eq!(statements, 5);

    let analysis = AnalysisOptions::default();
    assert_eq!(analyze(&pushed, &analysis), analyze(&local, &analysis));

    // Another app's pushes, and a window, are left out as the export leaves them out.
    let others: Vec<PushRecord> = records[..1_000]
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.push_id = r.push_id.map(|id| format!("other-{id}"));
            r
        })
        .collect();
    import(&store, "other", &others).await;
    let from = records[50_000].sent_at.utc_micros();
    let to = records[150_000].sent_at.utc_micros();
    let window = |t: i64| Timestamp::from_utc_micros(t);
    let exported = store
        .export_push_records(Some("calls"), Some(window(from)), Some(window(to)))
        .await
        .expect("export a window");
    let pushed = pushdown::aggregate_postgres(
        &mut client,
        Some("calls"),
        Some(from),
        Some(to),
        &rules,
        &options,
    )
    .await
    .expect("pushdown over a window");
    assert_same(&pushed, &in_process(&exported, rules, &options));

    drop(store);
    drop_schema(&schema).await;
}

fn record(
    push_id: &str,
    device: Option<&str>,
    sent: i64,
    status: Option<u16>,
    received: Option<i64>,
    deadline: Option<i64>,
    attrs: &[(&str, &str)],
) -> PushRecord {
    let mut r = PushRecord::new(Timestamp::from_utc_micros(sent));
    r.push_id = Some(push_id.to_string());
    r.device = device.map(str::to_string);
    r.apns_status = status;
    r.received_at = received.map(Timestamp::from_utc_micros);
    r.deadline = deadline.map(Timestamp::from_utc_micros);
    r.attrs = attrs
        .iter()
        .map(|(a, v)| (a.to_string(), v.to_string()))
        .collect();
    r
}

/// Corner cases, under several rules: a crowded attribute folding into "(other)", pushes
/// without a device, answer or deadline, receipts stamped before the send, an `hour` in
/// `attrs`, and an empty window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_agrees_on_corner_cases_and_crowded_attributes() {
    const DAY: i64 = 86_400_000_000;
    let start = 20_600 * DAY;
    let mut records = Vec::new();
    for i in 0..3_000i64 {
        let sent = start + (i % 7) * DAY + (i * 7_919 % 86_400) * 1_000_000;
        let user = format!("u{}", (i * 37) % 620);
        let carrier = ["A", "B", "C"][(i % 3) as usize];
        let model = ["X", "Y"][(i % 2) as usize];
        let device = format!("d{}", i % 400);
        let (status, received, deadline) = match i % 9 {
            0 => (None, None, None),
            1 => (Some(410), None, None),
            2 => (Some(200), None, Some(sent + 30_000_000)),
            3 => (Some(200), Some(sent - 2_000_000), None),
            4 => (None, Some(sent + 500_000), None),
            5 => (Some(200), Some(sent + 61_000_000), None),
            6 => (Some(200), Some(sent + 31_000_000), Some(sent + 30_000_000)),
            // Carrier C on model Y fails more: a combination to keep.
            _ if carrier == "C" && model == "Y" => (Some(200), None, None),
            _ => (
                Some(200),
                Some(sent + (i % 50) * 40_000),
                Some(sent + 60_000_000),
            ),
        };
        let mut attrs = vec![
            ("carrier", carrier),
            ("model", model),
            ("user", user.as_str()),
        ];
        if i % 11 == 0 {
            attrs.push(("hour", "99"));
        }
        if i % 13 == 0 {
            attrs.retain(|(a, _)| *a != "model");
        }
        let device = (i % 17 != 0).then_some(device.as_str());
        records.push(record(
            &format!("p{i:05}"),
            device,
            sent,
            status,
            received,
            deadline,
            &attrs,
        ));
    }
    let (store, schema) = fresh_store("corners").await;
    import(&store, "calls", &records).await;
    let exported = store
        .export_push_records(None, None, None)
        .await
        .expect("export");
    let mut client = pushdown::connect(&postgres_url(), Some(&schema))
        .await
        .expect("connect");
    let strict = OutcomeRules {
        no_receipt_is_failure: true,
        on_time_within_micros: 45_000_000,
    };
    let pairs_only = BuildOptions {
        max_combination: 2,
        min_failures: 5,
        ..BuildOptions::default()
    };
    let singles_only = BuildOptions {
        max_combination: 1,
        ..BuildOptions::default()
    };
    for (rules, options) in [
        (OutcomeRules::default(), BuildOptions::default()),
        (strict, pairs_only),
        (strict, singles_only),
    ] {
        let local = in_process(&exported, rules, &options);
        let pushed = pushdown::aggregate_postgres(&mut client, None, None, None, &rules, &options)
            .await
            .expect("pushdown");
        assert_same(&pushed, &local);
        // The crowded attribute was folded, identically.
        let other = pushed
            .cohorts
            .iter()
            .find(|c| c.cohort.0.get("user").map(String::as_str) == Some("(other)"))
            .expect("620 users: the 120 past the first 500 fold into (other)");
        assert!(other.total().attempts() > 0);
        if options.max_combination >= 2 {
            assert!(pushed.cohorts.iter().any(|c| c.cohort.len() == 2));
        }
    }

    let empty = pushdown::aggregate_postgres(
        &mut client,
        Some("nobody"),
        None,
        None,
        &OutcomeRules::default(),
        &BuildOptions::default(),
    )
    .await
    .expect("pushdown over nothing");
    assert_eq!(
        empty,
        in_process(&[], OutcomeRules::default(), &BuildOptions::default())
    );

    drop(store);
    drop_schema(&schema).await;
}

#[tokio::test]
async fn a_store_without_the_tables_is_a_clear_error() {
    let schema = format!("fleet_missing_{}", std::process::id());
    let mut client = pushdown::connect(&postgres_url(), Some(&schema))
        .await
        .expect("connect");
    let error = pushdown::aggregate_postgres(
        &mut client,
        None,
        None,
        None,
        &OutcomeRules::default(),
        &BuildOptions::default(),
    )
    .await
    .expect_err("no attempts table on the search path");
    let message = error.to_string();
    assert!(message.contains("attempts, receipts, calls"), "{message}");
    assert!(matches!(
        pushdown::connect(&postgres_url(), Some("Bad-Name")).await,
        Err(pushdown::PushdownError::Schema(_))
    ));
}
