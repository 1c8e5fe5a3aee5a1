//! What `/metrics` exposes (OpenMetrics text, which Prometheus scrapes): calls, pushes by
//! outcome and reason, receipts, and a latency histogram per stage of a push's life.
//!
//! The stages are the ones a "why didn't it ring" question walks through, all on the server's
//! clock: `queue` (created → on the wire), `apns` (on the wire → APNs's answer),
//! `create_to_answer` (the call created → APNs's answer, what the gateway benchmark reports)
//! and `receipt` (on the wire → the device's receipt reached us).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `pushtrace_calls_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The app's name.
    pub app: String,
    /// `created`, `duplicate`, `cancelled`, `answered`, `delivered`, `missed`, `failed`.
    pub event: &'static str,
}

/// Labels of `pushtrace_pushes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PushLabels {
    /// The app's name.
    pub app: String,
    /// `voip`, `alert` or `background`.
    pub push_type: String,
    /// `ring`, `missed_call` or `end` (a ring and an end-of-call push are both `voip`).
    pub purpose: &'static str,
    /// `accepted`, `rejected`, `failed`, `skipped`.
    pub outcome: &'static str,
    /// APNs's reason, the transport error kind, or empty.
    pub reason: String,
}

/// Labels of `pushtrace_receipts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceiptLabels {
    /// `on_time`, `late`, `duplicate`, `refused`.
    pub result: &'static str,
}

/// Labels of `pushtrace_stage_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `queue`, `apns`, `create_to_answer`, `receipt`.
    pub stage: &'static str,
}

/// Labels of `pushtrace_webhooks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// The app's name.
    pub app: String,
    /// `delivered`, `retry` (an attempt failed, another is due), `failed` (given up).
    pub outcome: &'static str,
}

/// The gateway's counters and histograms.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Calls by app and event.
    pub calls: Family<CallLabels, Counter>,
    /// Pushes by app, type, outcome and reason.
    pub pushes: Family<PushLabels, Counter>,
    /// Receipts by result.
    pub receipts: Family<ReceiptLabels, Counter>,
    /// Latency per stage, seconds.
    pub stages: Family<StageLabels, Histogram>,
    /// Retries scheduled.
    pub retries: Counter,
    /// Tokens invalidated after a 410.
    pub invalidated_tokens: Counter,
    /// Webhook delivery attempts by app and outcome.
    pub webhooks: Family<WebhookLabels, Counter>,
    /// Calls ringing or delivered, store-wide (set at each scrape).
    pub live_calls: Gauge,
    /// Jobs due now or overdue, store-wide (set at each scrape).
    pub due_jobs: Gauge,
    /// Webhook deliveries pending, store-wide (set at each scrape).
    pub webhook_backlog: Gauge,
}

fn stage_histogram() -> Histogram {
    // 0.25 ms … ~8 s, doubling: fine where the gateway spends its time, wide enough for a
    // cold connection.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        let pushes = Family::<PushLabels, Counter>::default();
        let receipts = Family::<ReceiptLabels, Counter>::default();
        let stages = Family::<StageLabels, Histogram>::new_with_constructor(
            stage_histogram as fn() -> Histogram,
        );
        let retries = Counter::default();
        let invalidated_tokens = Counter::default();
        let webhooks = Family::<WebhookLabels, Counter>::default();
        let (live_calls, due_jobs, webhook_backlog) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "pushtrace_webhooks",
            "Webhook delivery attempts by app and outcome (delivered, retry, failed)",
            webhooks.clone(),
        );
        registry.register(
            "pushtrace_live_calls",
            "Calls ringing or delivered, not yet ended (whole store)",
            live_calls.clone(),
        );
        registry.register(
            "pushtrace_due_jobs",
            "Jobs due now or overdue (whole store): growing means the instances do not keep up",
            due_jobs.clone(),
        );
        registry.register(
            "pushtrace_webhook_outbox",
            "Webhook deliveries pending (whole store)",
            webhook_backlog.clone(),
        );
        registry.register("pushtrace_calls", "Calls by app and event", calls.clone());
        registry.register(
            "pushtrace_pushes",
            "Pushes by app, push type, outcome and reason",
            pushes.clone(),
        );
        registry.register(
            "pushtrace_receipts",
            "Device receipts by result",
            receipts.clone(),
        );
        registry.register(
            "pushtrace_stage_seconds",
            "Latency of each stage of a push, seconds (server clock)",
            stages.clone(),
        );
        registry.register("pushtrace_retries", "Retries scheduled", retries.clone());
        registry.register(
            "pushtrace_invalidated_tokens",
            "Tokens invalidated: 410 Unregistered or ExpiredToken, BadDeviceToken, DeviceTokenNotForTopic",
            invalidated_tokens.clone(),
        );
        Metrics {
            registry,
            calls,
            pushes,
            receipts,
            stages,
            retries,
            invalidated_tokens,
            webhooks,
            live_calls,
            due_jobs,
            webhook_backlog,
        }
    }
}

impl Metrics {
    /// Counts one call event.
    pub fn call(&self, app: &str, event: &'static str) {
        self.calls
            .get_or_create(&CallLabels {
                app: app.to_owned(),
                event,
            })
            .inc();
    }

    /// Records one stage's duration.
    pub fn stage(&self, stage: &'static str, duration: Duration) {
        self.stages
            .get_or_create(&StageLabels { stage })
            .observe(duration.as_secs_f64());
    }

    /// Counts one webhook delivery attempt.
    pub fn webhook(&self, app: &str, outcome: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                app: app.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Sets the store-wide gauges.
    pub fn set_gauges(&self, gauges: &pushtrace_store::StoreGauges) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.live_calls.set(clamp(gauges.live_calls));
        self.due_jobs.set(clamp(gauges.due_jobs));
        self.webhook_backlog.set(clamp(gauges.webhook_backlog));
    }

    /// Counts one receipt.
    pub fn receipt(&self, result: &'static str) {
        self.receipts.get_or_create(&ReceiptLabels { result }).inc();
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_family() {
        let metrics = Metrics::default();
        metrics.call("acme", "created");
        metrics.stage("apns", Duration::from_millis(3));
        metrics.receipt("late");
        let text = metrics.render();
        assert!(
            text.contains("pushtrace_calls_total{app=\"acme\",event=\"created\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pushtrace_stage_seconds_bucket{le=\"0.004\",stage=\"apns\"} 1")
                || text.contains("pushtrace_stage_seconds_bucket{stage=\"apns\",le=\"0.004\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pushtrace_receipts_total{result=\"late\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
