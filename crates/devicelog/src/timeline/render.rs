//! The annotated timeline as text, in the style people post to forums: each key line, a `↑`
//! line saying what it means, `── 2 min 40 s ──` where time passes, then states and summary.

use std::fmt::Write;

use pushtrace_model::{Human, Timestamp, since};

use super::summary::{self, TimeFormat};
use super::{DeviceTimeline, Dimension};

/// Silences at least this long get a `── … ──` separator.
pub const GAP_MICROS: i64 = 30 * 1_000_000;

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
            let _ = writeln!(out, "{indent}── {} ──\n", Human(since(event.at, p)));
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
            Human(since(end, p))
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
                (Some(f), _) if i.carried_from.is_some() => format!(
                    "{} (set at {}, before the window) to {}",
                    i.state,
                    time.show(i.carried_from.unwrap_or(f)),
                    i.to.map_or_else(|| "its end".to_string(), |t| time.show(t))
                ),
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
