//! The terminal summary: what an on-call engineer reads in twenty seconds.
//!
//! Headline figures, the fleet's changes, the ranked differences and since when, latency
//! shifts; the per-value tables are left to `--json`, `--markdown` and `--html`. Cohort values
//! come from the records, so control characters are shown escaped, never sent to the terminal.

use std::fmt::Write;

use pushtrace_model::terminal::escape;

use crate::cohort::Cohort;
use crate::markdown_report::{count, duration, interval, p_value, percent, regression_sentence};
use crate::outcome::Outcome;
use crate::report::Report;
use crate::stats::Interval;

/// The summary of `report` as lines of text.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let o = &report.overall;
    let devices = o
        .devices
        .map(|d| format!(" from {} devices", count(d)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Fleet: {} pushes{devices}, {} – {} ({} days, UTC)",
        count(o.pushes),
        report.window.first_day,
        report.window.last_day,
        report.window.days
    );
    if o.pushes == 0 {
        out.push_str("No pushes to report on.\n");
        return out;
    }
    let share = |n: u64| percent(n as f64 / o.pushes as f64);
    let failing: Vec<String> = [Outcome::Late, Outcome::Rejected, Outcome::NotSent]
        .into_iter()
        .filter(|&k| o.counts.get(k) > 0)
        .map(|k| format!("{} {}", k.label(), share(o.counts.get(k))))
        .collect();
    let no_receipt = if report.rules.no_receipt_is_failure {
        format!(
            "; no receipt {} (counted as failures)",
            share(o.counts.no_receipt)
        )
    } else {
        format!(
            "; no receipt {} (not counted: receipts are lossy)",
            share(o.counts.no_receipt)
        )
    };
    let _ = writeln!(
        out,
        "Failed: {} {}{}{no_receipt}",
        percent(o.failure_rate),
        interval(&o.failure_interval),
        if failing.is_empty() {
            String::new()
        } else {
            format!(" — {}", failing.join(", "))
        }
    );
    if let Some(l) = &o.latency {
        let _ = writeln!(
            out,
            "Latency to the app: p50 {} · p90 {} · p99 {} (±{:.0} %, {} receipts)",
            duration(l.p50_ms),
            duration(l.p90_ms),
            duration(l.p99_ms),
            l.relative_error * 100.0,
            count(l.receipts)
        );
    }
    if report.changes.is_empty() {
        out.push_str("Changes: none — the fleet's daily failure rate held steady.\n");
    } else {
        for c in &report.changes {
            let _ = writeln!(
                out,
                "Change on {}: {} → {} a day (p {})",
                c.day,
                percent(c.rate_before),
                percent(c.rate_after),
                p_value(c.p)
            );
        }
    }
    out.push('\n');
    let t = &report.thresholds;
    let _ = writeln!(
        out,
        "What is different ({} of {} cohorts tested; BH {:.0} %, risk ratio ≥ {}, ≥ {} failures, ≥ {} failing devices):",
        report.differences.len(),
        count(t.tested as u64),
        t.fdr * 100.0,
        t.min_risk_ratio,
        count(t.min_failures),
        t.min_devices
    );
    if report.differences.is_empty() {
        out.push_str("  nothing: no cohort fails more than the rest beyond chance.\n");
    }
    for (i, d) in report.differences.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {}\n     {} vs {} for the rest · risk ratio {:.1} {} · +{} failures ({} of all) · {} devices",
            i + 1,
            cohort(&d.cohort),
            percent(d.failure_rate),
            percent(d.rest_rate),
            d.risk_ratio,
            ratio_interval(&d.risk_ratio_interval),
            count(d.excess_failures.max(0.0).round() as u64),
            percent(d.share_of_failures),
            count(d.failing_devices)
        );
    }
    if let Some(since) = &report.since_change {
        let new: Vec<_> = since
            .differences
            .iter()
            .filter(|d| !report.differences.iter().any(|w| w.cohort == d.cohort))
            .collect();
        if !new.is_empty() {
            let _ = writeln!(out, "Since {}, also different:", since.since);
            for d in new {
                let _ = writeln!(
                    out,
                    "  · {}: {} vs {} for the rest, {} devices",
                    cohort(&d.cohort),
                    percent(d.failure_rate),
                    percent(d.rest_rate),
                    count(d.failing_devices)
                );
            }
        }
    }
    if !report.regressions.is_empty() {
        out.push_str("\nSince when:\n");
        for r in &report.regressions {
            let _ = writeln!(out, "  {}", escape(&regression_sentence(r)));
        }
    }
    if !report.latency_shifts.is_empty() {
        let slow = t
            .slow_ms
            .map(|ms| format!(" (≥ {})", duration(ms)))
            .unwrap_or_default();
        let _ = writeln!(out, "\nLatency shifts: share of slow receipts{slow}");
        for s in &report.latency_shifts {
            let _ = writeln!(
                out,
                "  since {}, {}: {} → {}",
                s.since,
                cohort(&s.cohort),
                percent(s.slow_before),
                percent(s.slow_after)
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {}", escape(note));
    }
    out
}

fn cohort(c: &Cohort) -> String {
    escape(&c.to_string()).into_owned()
}

fn ratio_interval(i: &Interval) -> String {
    if i.high.is_finite() {
        format!("({:.1}–{:.1})", i.low, i.high)
    } else {
        format!("({:.1}–∞)", i.low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(percent(0.03125), "3.1 %");
        assert_eq!(duration(312.4), "312 ms");
        assert_eq!(duration(1900.0), "1.9 s");
        assert_eq!(duration(125_000.0), "2.1 min");
    }

    #[test]
    fn control_characters_are_escaped() {
        // A terminal escape and a right-to-left override in attribute values.
        assert_eq!(
            escape("Orange\u{1b}]0;owned\u{7}\u{202e}"),
            "Orange\\u{1b}]0;owned\\u{7}\\u{202e}"
        );
        assert_eq!(escape("plain"), "plain");
    }
}
