//! The annotated timeline as text, in the style people post to forums: each key line, a `↑`
//! line saying what it means, `── 2 min 40 s ──` where time passes, then states and summary.

use std::fmt::Write;

use pushtrace_model::Timestamp;

use super::summary::{self, TimeFormat};
use super::{DeviceTimeline, Dimension};

/// Silences at least this long get a `── … ──` separator.
pub const GAP_MICROS: i64 = 30 * 1_000_000;

/// `2 min 40 s`, `1 h 3 min`, `45 s`.
pub fn duration(micros: i64) -> String {
    let seconds = micros.max(0) / 1_000_000;
    let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The whole report: events with explanations, states per dimension, summary sentences.
pub fn text(timeline: &DeviceTimeline, title: &str) -> String {
    let time = TimeFormat::for_timeline(timeline);
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let width = timeline
        .events
        .iter()
        .map(|e| e.process.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let indent = " ".repeat(time.show(Timestamp::from_utc_micros(0)).chars().count() + 2);
    let mut previous: Option<Timestamp> = timeline.start;
    out.push('\n');
    for event in &timeline.events {
        if let Some(p) = previous
            && event.at.utc_micros() - p.utc_micros() >= GAP_MICROS
        {
            let _ = writeln!(
                out,
                "{indent}── {} ──\n",
                duration(event.at.utc_micros() - p.utc_micros())
            );
        }
        let _ = writeln!(
            out,
            "{}  {:width$}  {}",
            time.show(event.at),
            event.process,
            event.raw.trim_end()
        );
        let _ = writeln!(out, "{indent}↑ {}", event.kind);
        previous = Some(event.at);
    }
    if let (Some(p), Some(end)) = (previous, timeline.end)
        && end.utc_micros() - p.utc_micros() >= GAP_MICROS
    {
        let _ = writeln!(
            out,
            "{indent}── {} to the end of the log ──",
            duration(end.utc_micros() - p.utc_micros())
        );
    }
    if timeline.events.is_empty() {
        let _ = writeln!(out, "(no line of the log matched a rule; try --unmatched)");
    }

    let _ = writeln!(out, "\nStates");
    let label_width = Dimension::ALL
        .iter()
        .map(|d| d.label().len())
        .max()
        .unwrap_or(0);
    for dimension in Dimension::ALL {
        let Some(intervals) = timeline.states.get(&dimension) else {
            continue;
        };
        let parts: Vec<String> = intervals
            .iter()
            .map(|i| match (i.from, i.to) {
                (_, None) if intervals.len() == 1 => i.state.to_string(),
                (_, Some(t)) if i.is_unknown() => format!("{} until {}", i.state, time.show(t)),
                (Some(f), Some(t)) if intervals.len() > 1 => {
                    format!("{} {}–{}", i.state, time.show(f), time.show(t))
                }
                (_, Some(t)) => format!("{} until {}", i.state, time.show(t)),
                (Some(f), None) => format!("{} from {}", i.state, time.show(f)),
                (None, None) => i.state.to_string(),
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:label_width$}  {}",
            dimension.label(),
            parts.join(" · ")
        );
    }
    let _ = writeln!(out, "\nSummary");
    for sentence in summary::sentences(timeline) {
        let _ = writeln!(out, "  {sentence}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_seed() {
        assert_eq!(duration(160_000_000), "2 min 40 s");
        assert_eq!(duration(45_000_000), "45 s");
        assert_eq!(duration(120_000_000), "2 min");
        assert_eq!(duration(3_780_000_000), "1 h 3 min");
    }
}
