//! The fleet report as Markdown (GitHub-flavoured tables), for an on-call engineer to paste into
//! an incident ticket: the headline, what is different, since when, latency shifts, the values of
//! each attribute, the thresholds and the notes.
//!
//! The sentences and number formats live here as plain text (no Markdown in them) so the HTML
//! report says exactly the same words: [`crate::html_report`] escapes and reuses them.

use std::fmt::Write as _;

use crate::cohort::Cohort;
use crate::outcome::{Outcome, OutcomeRules};
use crate::report::{
    AttributeStats, Change, CohortStats, Difference, LatencyShift, Regression, RegressionKind,
    Report, Thresholds,
};
use crate::stats::Interval;

/// Values of one attribute listed in its table; the rest are summed in one line, because a
/// ticket with 400 carrier rows is not read.
pub const TOP_VALUES: usize = 12;

/// Renders `report` as a Markdown document.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", title(report));
    headline(&mut out, report);
    differences_section(&mut out, report);
    since_when(&mut out, report);
    latency_shifts(&mut out, report);
    attributes(&mut out, report);
    let _ = writeln!(out, "## Thresholds\n");
    for line in threshold_lines(&report.thresholds, &report.rules) {
        let _ = writeln!(out, "- {}", md(&line));
    }
    out.push('\n');
    if !report.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {}", md(note));
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn headline(out: &mut String, report: &Report) {
    for paragraph in summary_sentences(report) {
        let _ = writeln!(out, "{}\n", md(&paragraph));
    }
    if report.overall.pushes == 0 {
        return;
    }
    let _ = writeln!(out, "| Outcome | Pushes | Share |\n|---|---:|---:|");
    for (label, count, share) in outcome_rows(&report.overall, &report.rules) {
        let _ = writeln!(out, "| {} | {} | {} |", md(&label), count, share);
    }
    let _ = writeln!(out, "\n{}\n", md(&no_receipt_sentence(report)));
}

fn differences_section(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## What is different\n");
    differences_table(out, &report.differences, report);
    if let Some(since) = &report.since_change {
        let _ = writeln!(
            out,
            "### Since {} (the fleet's last rise)\n",
            md(&since.since)
        );
        differences_table(out, &since.differences, report);
    }
}

fn differences_table(out: &mut String, differences: &[Difference], report: &Report) {
    if differences.is_empty() {
        let _ = writeln!(out, "{}\n", md(&no_difference_sentence(report)));
        return;
    }
    let _ = writeln!(out, "| {} |", DIFFERENCE_COLUMNS.join(" | "));
    let _ = writeln!(
        out,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (i, d) in differences.iter().enumerate() {
        let cells = difference_cells(d);
        let _ = write!(out, "| {} | {}", i + 1, md(&cells[0]));
        for cell in &cells[1..] {
            let _ = write!(out, " | {}", md(cell));
        }
        out.push_str(" |\n");
    }
    out.push('\n');
}

fn since_when(out: &mut String, report: &Report) {
    if report.regressions.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Since when\n");
    for r in &report.regressions {
        let _ = writeln!(out, "- {}", md(&regression_sentence(r)));
    }
    out.push('\n');
}

fn latency_shifts(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Latency shifts\n");
    if report.latency_shifts.is_empty() {
        let _ = writeln!(out, "{}\n", md(&no_latency_shift_sentence(report)));
        return;
    }
    for s in &report.latency_shifts {
        let _ = writeln!(
            out,
            "- {}",
            md(&latency_shift_sentence(s, report.thresholds.slow_ms))
        );
    }
    out.push('\n');
}

fn attributes(out: &mut String, report: &Report) {
    if report.attributes.is_empty() {
        return;
    }
    let _ = writeln!(out, "## By attribute\n");
    for attribute in &report.attributes {
        let _ = writeln!(out, "### {}\n", md(&attribute.attribute));
        let _ = writeln!(out, "| {} |", ATTRIBUTE_COLUMNS.join(" | "));
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for value in attribute.values.iter().take(TOP_VALUES) {
            let cells = value_cells(value, &attribute.attribute, report.overall.pushes);
            let _ = writeln!(
                out,
                "| {} |",
                cells.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        out.push('\n');
        if let Some(rest) = rest_of_values(attribute) {
            let _ = writeln!(out, "{}\n", md(&rest));
        }
    }
}

// ---- Words and numbers shared with the HTML report ----

/// The report's title.
pub(crate) fn title(report: &Report) -> String {
    format!(
        "Push delivery, {}",
        window_words(&report.window.first_day, &report.window.last_day)
    )
}

fn window_words(first: &str, last: &str) -> String {
    if first.is_empty() {
        "no days".to_string()
    } else if first == last {
        first.to_string()
    } else {
        format!("{first} to {last}")
    }
}

/// The headline paragraphs: pushes and failure rate over the window, and the fleet's changes.
pub(crate) fn summary_sentences(report: &Report) -> Vec<String> {
    let o = &report.overall;
    let w = &report.window;
    if o.pushes == 0 {
        return vec![format!(
            "No pushes in the window ({}): there is nothing to report.",
            window_words(&w.first_day, &w.last_day)
        )];
    }
    let days = match w.days {
        1 => "1 day".to_string(),
        n => format!("{} days", count(n as u64)),
    };
    let judged = o.counts.judged(&report.rules);
    let devices = o
        .devices
        .map(|d| format!(" from {} devices", count(d)))
        .unwrap_or_default();
    let mut out = vec![format!(
        "{} pushes{devices} over {days} ({}): failure rate {} {}, {} failures among {} judged pushes, {} failing devices.",
        count(o.pushes),
        window_words(&w.first_day, &w.last_day),
        percent(o.failure_rate),
        interval(&o.failure_interval),
        count(o.failures),
        count(judged),
        count(o.failing_devices),
    )];
    if report.changes.is_empty() {
        if report.daily.len() > 1 {
            out.push("The fleet's daily failure rate did not change over the window.".to_string());
        } else {
            out.push(
                "One day of data: too short to tell whether the failure rate changed.".to_string(),
            );
        }
    } else {
        for c in &report.changes {
            out.push(change_sentence(c));
        }
    }
    out
}

/// "The fleet's failure rate rose on …".
pub(crate) fn change_sentence(c: &Change) -> String {
    format!(
        "The fleet's failure rate {} on {}: {} {} before, {} {} from that day (p {}).",
        direction(c),
        c.day,
        percent(c.rate_before),
        interval(&c.interval_before),
        percent(c.rate_after),
        interval(&c.interval_after),
        p_value(c.p)
    )
}

pub(crate) fn direction(c: &Change) -> &'static str {
    if c.rate_after >= c.rate_before {
        "rose"
    } else {
        "fell"
    }
}

/// (label, pushes, share of all pushes) per outcome, no receipt last and marked as not judged
/// when it is not a failure.
pub(crate) fn outcome_rows(o: &CohortStats, rules: &OutcomeRules) -> Vec<(String, String, String)> {
    let mut order: Vec<Outcome> = Outcome::ALL
        .into_iter()
        .filter(|&x| x != Outcome::NoReceipt)
        .collect();
    order.push(Outcome::NoReceipt);
    order
        .into_iter()
        .map(|outcome| {
            let n = o.counts.get(outcome);
            let label = match outcome {
                Outcome::OnTime => "on time".to_string(),
                Outcome::NoReceipt if !rules.no_receipt_is_failure => {
                    "no receipt (not judged)".to_string()
                }
                other => format!("{} (failure)", other.label()),
            };
            (label, count(n), percent(share(n, o.pushes)))
        })
        .collect()
}

/// Said once: what a missing receipt means in this report.
pub(crate) fn no_receipt_sentence(report: &Report) -> String {
    let n = report.overall.counts.no_receipt;
    if report.rules.no_receipt_is_failure {
        format!(
            "No receipt counts as a failure in this report (--no-receipt-is-failure): {} pushes APNs accepted had no receipt.",
            count(n)
        )
    } else {
        format!(
            "No receipt is not a failure: receipts are lossy (a phone can ring and its receipt never arrive), so the {} pushes APNs accepted without a receipt are shown apart and left out of every failure rate. Run with --no-receipt-is-failure to count them as failures.",
            count(n)
        )
    }
}

pub(crate) fn no_difference_sentence(report: &Report) -> String {
    let t = &report.thresholds;
    if report.overall.pushes == 0 {
        return "No pushes, so no cohort to compare.".to_string();
    }
    format!(
        "No cohort fails more than the rest of the fleet: of {} cohorts tested, none reached a risk ratio of {} with a false discovery rate of {}.",
        count(t.tested as u64),
        ratio(t.min_risk_ratio),
        percent(t.fdr)
    )
}

pub(crate) const DIFFERENCE_COLUMNS: [&str; 11] = [
    "#",
    "Cohort",
    "Pushes",
    "Failure rate",
    "95 % interval",
    "Rest",
    "Risk ratio (95 %)",
    "Excess failures",
    "Share of failures",
    "Failing devices",
    "p / q",
];

/// The cells of a difference row after the rank.
pub(crate) fn difference_cells(d: &Difference) -> Vec<String> {
    vec![
        cohort(&d.cohort),
        count(d.pushes),
        percent(d.failure_rate),
        interval_bare(&d.failure_interval),
        percent(d.rest_rate),
        format!(
            "{} ({}–{})",
            ratio(d.risk_ratio),
            ratio_bare(d.risk_ratio_interval.low),
            ratio_bare(d.risk_ratio_interval.high)
        ),
        count(d.excess_failures.max(0.0).round() as u64),
        percent(d.share_of_failures),
        match d.devices {
            Some(devices) => format!("{} of {}", count(d.failing_devices), count(devices)),
            None => count(d.failing_devices),
        },
        format!("{} / {}", p_value(d.p), p_value(d.q)),
    ]
}

/// One sentence on since when a cohort fails.
pub(crate) fn regression_sentence(r: &Regression) -> String {
    let after = format!("{} {}", percent(r.rate_after), interval(&r.interval_after));
    let devices = match r.failing_devices {
        1 => "1 failing device".to_string(),
        n => format!("{} failing devices", count(n)),
    };
    let q =
        r.q.map(|q| format!(", q {}", p_value(q)))
            .unwrap_or_default();
    match r.kind {
        RegressionKind::Since => {
            let before = r
                .rate_before
                .map_or_else(|| "no figure".to_string(), percent);
            format!(
                "since {}, {}: {after} vs {before} before, {devices} (rest of the fleet {}{q}).",
                r.since,
                cohort(&r.cohort),
                percent(r.rest_rate)
            )
        }
        RegressionKind::SinceFirstSeen => format!(
            "since it first appeared on {}, {}: {after} vs {} for the rest of the fleet, {devices}{q}. New, not a change in an existing cohort.",
            r.since,
            cohort(&r.cohort),
            percent(r.rest_rate)
        ),
        RegressionKind::AllAlong => format!(
            "high all along (since {}, the window's first day), {}: {after} vs {} for the rest of the fleet, {devices}{q}. Not a regression.",
            r.since,
            cohort(&r.cohort),
            percent(r.rest_rate)
        ),
    }
}

pub(crate) fn latency_shift_sentence(s: &LatencyShift, slow_ms: Option<f64>) -> String {
    let slow = slow_ms.map_or_else(
        || "slow".to_string(),
        |ms| format!("at or above {}", duration(ms)),
    );
    format!(
        "since {}, {}: {} {} of receipts {slow} vs {} before, {} receipts since (q {}).",
        s.since,
        cohort(&s.cohort),
        percent(s.slow_after),
        interval(&s.interval_after),
        percent(s.slow_before),
        count(s.receipts_after),
        p_value(s.q)
    )
}

pub(crate) fn no_latency_shift_sentence(report: &Report) -> String {
    match report.thresholds.slow_ms {
        Some(ms) => format!(
            "No cohort's share of receipts at or above {} (the fleet's 90th percentile) rose.",
            duration(ms)
        ),
        None => "No receipts with a latency, so no latency shift to look for.".to_string(),
    }
}

pub(crate) const ATTRIBUTE_COLUMNS: [&str; 8] = [
    "Value",
    "Pushes",
    "Share",
    "Failure rate",
    "95 % interval",
    "p50 ms",
    "p90 ms",
    "p99 ms",
];

/// One value's cells; its cohort's own value is shown (`attribute=value` would repeat the heading).
pub(crate) fn value_cells(v: &CohortStats, attribute: &str, all_pushes: u64) -> Vec<String> {
    let name = v
        .cohort
        .0
        .get(attribute)
        .cloned()
        .unwrap_or_else(|| cohort(&v.cohort));
    let ms = |f: fn(&crate::report::Latency) -> f64| {
        v.latency
            .as_ref()
            .map_or_else(|| "–".to_string(), |l| milliseconds(f(l)))
    };
    vec![
        name,
        count(v.pushes),
        percent(share(v.pushes, all_pushes)),
        percent(v.failure_rate),
        interval_bare(&v.failure_interval),
        ms(|l| l.p50_ms),
        ms(|l| l.p90_ms),
        ms(|l| l.p99_ms),
    ]
}

/// "… and 37 more values (1,234 pushes)" when an attribute has more than [`TOP_VALUES`].
pub(crate) fn rest_of_values(attribute: &AttributeStats) -> Option<String> {
    let rest = attribute.values.get(TOP_VALUES..)?;
    if rest.is_empty() {
        return None;
    }
    let pushes: u64 = rest.iter().map(|v| v.pushes).sum();
    Some(format!(
        "… and {} more values of {} ({} pushes).",
        count(rest.len() as u64),
        attribute.attribute,
        count(pushes)
    ))
}

pub(crate) fn threshold_lines(t: &Thresholds, rules: &OutcomeRules) -> Vec<String> {
    let mut lines = vec![
        format!(
            "A cohort is tested when it has at least {} failures from at least {} failing devices; {} cohorts were tested.",
            count(t.min_failures),
            count(t.min_devices),
            count(t.tested as u64)
        ),
        format!(
            "A cohort is shown when its risk ratio is at least {} and it survives Benjamini–Hochberg at a false discovery rate of {}.",
            ratio(t.min_risk_ratio),
            percent(t.fdr)
        ),
        format!(
            "A push without a deadline is on time when its receipt comes within {}.",
            duration(rules.on_time_within_micros as f64 / 1000.0)
        ),
    ];
    if let Some(ms) = t.slow_ms {
        lines.push(format!(
            "A receipt is slow at or above {} (the fleet's 90th percentile).",
            duration(ms)
        ));
    }
    lines
}

/// A cohort in words (`carrier=Orange ∧ os_version=26.2`).
pub(crate) fn cohort(c: &Cohort) -> String {
    c.to_string()
}

// The formats below are every renderer's (this one, `text_report`, `html_report` and its
// charts), so a figure pasted from any of them reads the same.

/// A rate as a percentage with one decimal (`31.2 %`).
pub(crate) fn percent(rate: f64) -> String {
    if !rate.is_finite() {
        return "n/a".to_string();
    }
    format!("{:.1} %", rate * 100.0)
}

/// `(30.1–32.3 %)`: the 95 % interval of a rate.
pub(crate) fn interval(i: &Interval) -> String {
    format!("({} %)", interval_bare(i))
}

/// `30.1–32.3`, for a table column whose header says the unit.
pub(crate) fn interval_bare(i: &Interval) -> String {
    let bare = |r: f64| percent(r).trim_end_matches(" %").to_string();
    format!("{}–{}", bare(i.low), bare(i.high))
}

/// A risk ratio: `×3.2`.
pub(crate) fn ratio(r: f64) -> String {
    format!("×{}", ratio_bare(r))
}

fn ratio_bare(r: f64) -> String {
    if r.is_infinite() {
        "∞".to_string()
    } else if !r.is_finite() {
        "n/a".to_string()
    } else if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// A p- or q-value: `3.2e-5`, and below 1e-10 only that (no test is that exact).
pub(crate) fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "n/a".to_string()
    } else if p < 1e-10 {
        "< 1e-10".to_string()
    } else {
        format!("{p:.1e}")
    }
}

/// A count with thousands separated by commas.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds for a table cell: whole above 10, one decimal below.
pub(crate) fn milliseconds(ms: f64) -> String {
    if !ms.is_finite() {
        "n/a".to_string()
    } else if ms >= 10.0 {
        count(ms.round() as u64)
    } else {
        format!("{ms:.1}")
    }
}

/// A duration in words: `350 ms`, `2.3 s`, `1.5 min`, `2.0 h`.
pub(crate) fn duration(ms: f64) -> String {
    if !ms.is_finite() {
        "n/a".to_string()
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// Text made inert for Markdown: characters that would start emphasis, code, links, HTML, a
/// quote, a heading or a table cell are backslash-escaped, line breaks become spaces. An underscore between two
/// letters or digits (`os_version`) cannot start emphasis and is left alone, so identifiers
/// read as they are in a ticket that does not render Markdown.
pub(crate) fn md(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let next = |i: usize| chars.get(i + 1).copied();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // An HTML tag, an entity, a quote or a heading only where one could start.
            '<' if next(i).is_some_and(|n| n.is_alphanumeric() || "/!?".contains(n)) => {
                out.push_str("\\<");
            }
            '&' if next(i).is_some_and(|n| n.is_alphanumeric() || n == '#') => {
                out.push_str("\\&");
            }
            '>' | '#' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '_' => {
                let word = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                if !(word(i.checked_sub(1)) && word(Some(i + 1))) {
                    out.push('\\');
                }
                out.push('_');
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::counts::Counts;
    use crate::report::{DayStats, Latency, Window};
    use crate::stats::TestMethod;

    fn iv(low: f64, high: f64) -> Interval {
        Interval { low, high }
    }

    fn stats(cohort: Cohort, pushes: u64, failures: u64) -> CohortStats {
        let counts = Counts {
            on_time: pushes - failures - pushes / 50,
            late: failures,
            no_receipt: pushes / 50,
            rejected: 0,
            not_sent: 0,
        };
        let judged = pushes - pushes / 50;
        let rate = if judged == 0 {
            0.0
        } else {
            failures as f64 / judged as f64
        };
        CohortStats {
            cohort,
            pushes,
            counts,
            failures,
            failure_rate: rate,
            failure_interval: iv(rate * 0.9, rate * 1.1 + 0.001),
            devices: Some(pushes / 3),
            failing_devices: failures / 2,
            latency: Some(Latency {
                receipts: judged,
                p50_ms: 420.0,
                p90_ms: 2_300.0,
                p99_ms: 9_870.4,
                relative_error: 0.01,
            }),
        }
    }

    /// A small report with every section filled; `tests` of the HTML report use it too.
    pub(crate) fn sample() -> Report {
        let orange = Cohort::of([
            ("os_version", "26.2"),
            ("carrier", "Orange"),
            ("interface", "cellular"),
        ]);
        let days = ["2026-03-01", "2026-03-02", "2026-03-03"];
        Report {
            rules: OutcomeRules::default(),
            window: Window {
                first_day: days[0].to_string(),
                last_day: days[2].to_string(),
                days: 3,
            },
            thresholds: Thresholds {
                min_failures: 20,
                min_devices: 10,
                min_risk_ratio: 1.5,
                fdr: 0.05,
                tested: 412,
                slow_ms: Some(2_300.0),
            },
            overall: stats(Cohort::everyone(), 150_000, 4_500),
            daily: days
                .iter()
                .map(|d| DayStats {
                    day: d.to_string(),
                    pushes: 50_000,
                    failures: 1_500,
                    failure_rate: 0.0306,
                    failure_interval: iv(0.0291, 0.0321),
                    p50_ms: Some(420.0),
                })
                .collect(),
            changes: vec![Change {
                day: days[1].to_string(),
                rate_before: 0.021,
                interval_before: iv(0.020, 0.022),
                rate_after: 0.035,
                interval_after: iv(0.034, 0.036),
                p: 3e-12,
            }],
            attributes: vec![AttributeStats {
                attribute: "carrier".to_string(),
                values: vec![
                    stats(Cohort::of([("carrier", "Orange")]), 90_000, 3_900),
                    stats(
                        Cohort::of([("carrier", "<script>x|y</script>")]),
                        60_000,
                        600,
                    ),
                ],
            }],
            differences: vec![Difference {
                cohort: orange.clone(),
                pushes: 2_600,
                failures: 811,
                failure_rate: 0.312,
                failure_interval: iv(0.301, 0.323),
                rest_rate: 0.021,
                risk_ratio: 14.857,
                risk_ratio_interval: iv(13.9, 15.8),
                excess_failures: 756.4,
                share_of_failures: 0.18,
                failing_devices: 812,
                devices: Some(2_100),
                busiest_device_failures: 4,
                risk_ratio_without_busiest: 14.8,
                failing_device_share: Some(0.387),
                rest_failing_device_share: Some(0.02),
                test: TestMethod::ChiSquared,
                p: 1e-200,
                q: 4e-198,
                device_q: Some(1e-30),
            }],
            since_change: None,
            regressions: vec![
                Regression {
                    cohort: orange,
                    kind: RegressionKind::Since,
                    since: days[1].to_string(),
                    rate_after: 0.312,
                    interval_after: iv(0.301, 0.323),
                    rate_before: Some(0.021),
                    interval_before: Some(iv(0.019, 0.023)),
                    rest_rate: 0.02,
                    failing_devices: 812,
                    p: Some(1e-50),
                    q: Some(2e-49),
                },
                Regression {
                    cohort: Cohort::of([("model", "iPhone11,8")]),
                    kind: RegressionKind::AllAlong,
                    since: days[0].to_string(),
                    rate_after: 0.12,
                    interval_after: iv(0.10, 0.14),
                    rate_before: None,
                    interval_before: None,
                    rest_rate: 0.02,
                    failing_devices: 40,
                    p: None,
                    q: None,
                },
            ],
            latency_shifts: vec![],
            notes: vec![
                "carrier has 3 values past the limit of 64: counted as *other*".to_string(),
            ],
        }
    }

    /// The report of a window without a single push.
    pub(crate) fn empty() -> Report {
        Report {
            rules: OutcomeRules::default(),
            window: Window {
                first_day: String::new(),
                last_day: String::new(),
                days: 0,
            },
            thresholds: Thresholds {
                min_failures: 20,
                min_devices: 10,
                min_risk_ratio: 1.5,
                fdr: 0.05,
                tested: 0,
                slow_ms: None,
            },
            overall: CohortStats {
                cohort: Cohort::everyone(),
                pushes: 0,
                counts: Counts::default(),
                failures: 0,
                failure_rate: 0.0,
                failure_interval: iv(0.0, 1.0),
                devices: None,
                failing_devices: 0,
                latency: None,
            },
            daily: vec![],
            changes: vec![],
            attributes: vec![],
            differences: vec![],
            since_change: None,
            regressions: vec![],
            latency_shifts: vec![],
            notes: vec!["no pushes were read".to_string()],
        }
    }

    #[test]
    fn numbers_read_as_in_the_text() {
        assert_eq!(percent(0.3124), "31.2 %");
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(percent(0.001), "0.1 %");
        assert_eq!(interval(&iv(0.301, 0.323)), "(30.1–32.3 %)");
        assert_eq!(interval_bare(&iv(0.301, 0.323)), "30.1–32.3");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(812), "812");
        assert_eq!(ratio(14.857), "×14.9");
        assert_eq!(ratio(f64::INFINITY), "×∞");
        assert_eq!(p_value(3e-12), "< 1e-10");
        assert_eq!(p_value(0.0412), "4.1e-2");
        assert_eq!(milliseconds(9_870.4), "9,870");
        assert_eq!(milliseconds(4.25), "4.2");
        assert_eq!(duration(2_300.0), "2.3 s");
        assert_eq!(duration(60_000.0), "1.0 min");
        assert_eq!(duration(350.4), "350 ms");
    }

    #[test]
    fn the_sample_reads_like_the_brief() {
        let out = render_markdown(&sample());
        assert!(
            out.starts_with("# Push delivery, 2026-03-01 to 2026-03-03\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "- since 2026-03-02, carrier=Orange ∧ interface=cellular ∧ os_version=26.2: \
                 31.2 % (30.1–32.3 %) vs 2.1 % before, 812 failing devices"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "- high all along (since 2026-03-01, the window's first day), model=iPhone11,8"
            ),
            "{out}"
        );
        assert!(out.contains("Not a regression."));
        assert!(
            out.contains("The fleet's failure rate rose on 2026-03-02: 2.1 % (2.0–2.2 %) before")
        );
        assert_eq!(
            out.matches("No receipt is not a failure").count(),
            1,
            "{out}"
        );
        assert!(out.contains("--no-receipt-is-failure"));
        assert!(
            out.contains("| no receipt (not judged) | 3,000 | 2.0 % |"),
            "{out}"
        );
        assert!(
            out.contains("| 1 | carrier=Orange ∧ interface=cellular ∧ os_version=26.2 | 2,600 | 31.2 % | 30.1–32.3 | 2.1 % | ×14.9 (13.9–15.8) | 756 | 18.0 % | 812 of 2,100 | < 1e-10 / < 1e-10 |"),
            "{out}"
        );
        assert!(out.contains("| Orange | 90,000 | 60.0 % |"), "{out}");
        assert!(out.contains("| 420 | 2,300 | 9,870 |"), "{out}");
        assert!(out.contains("## Thresholds"));
        assert!(
            out.contains("- carrier has 3 values past the limit of 64: counted as \\*other\\*")
        );
        assert!(out.contains("No cohort's share of receipts at or above 2.3 s"));
        // Every table row has as many cells as its header.
        for line in out.lines().filter(|l| l.starts_with('|')) {
            let cells = line.replace("\\|", "").matches('|').count();
            assert!(cells == 12 || cells == 9 || cells == 4, "{line}");
        }
    }

    #[test]
    fn user_text_cannot_break_out_of_a_table_cell() {
        let out = render_markdown(&sample());
        assert!(
            out.contains("| \\<script>x\\|y\\</script> | 60,000 |"),
            "{out}"
        );
        // No tag survives: every `<` before a letter or `/` is escaped.
        let bytes = out.as_bytes();
        for (i, _) in out.match_indices('<') {
            let tag = bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/');
            assert!(!tag || (i > 0 && bytes[i - 1] == b'\\'), "{}", &out[i..]);
        }
        assert_eq!(md("os_version"), "os_version");
        assert_eq!(md("_x_ a\nb"), "\\_x\\_ a b");
        assert_eq!(md("p < 1e-10 & q > 2"), "p < 1e-10 & q > 2");
        assert_eq!(md("> #1 &amp; <b>"), "\\> #1 \\&amp; \\<b>");
    }

    #[test]
    fn an_empty_report_says_so() {
        let out = render_markdown(&empty());
        assert!(
            out.contains("No pushes in the window (no days): there is nothing to report."),
            "{out}"
        );
        assert!(out.contains("No pushes, so no cohort to compare."), "{out}");
        assert!(!out.contains("NaN"), "{out}");
        assert!(!out.contains("| Outcome"), "{out}");
    }

    #[test]
    fn one_day_and_no_differences_are_said_in_words() {
        let mut r = sample();
        r.daily.truncate(1);
        r.window.last_day = r.window.first_day.clone();
        r.window.days = 1;
        r.changes.clear();
        r.differences.clear();
        r.regressions.clear();
        let out = render_markdown(&r);
        assert!(out.contains("over 1 day (2026-03-01)"), "{out}");
        assert!(out.contains("One day of data: too short to tell"), "{out}");
        assert!(
            out.contains("No cohort fails more than the rest of the fleet: of 412 cohorts tested, none reached a risk ratio of ×1.5 with a false discovery rate of 5.0 %."),
            "{out}"
        );
        assert!(!out.contains("## Since when"));
    }

    #[test]
    fn counting_no_receipt_as_failure_is_said_instead() {
        let mut r = sample();
        r.rules.no_receipt_is_failure = true;
        let out = render_markdown(&r);
        assert!(!out.contains("No receipt is not a failure"));
        assert!(out.contains("No receipt counts as a failure in this report"));
        assert!(out.contains("| no receipt (failure) |"), "{out}");
    }
}
