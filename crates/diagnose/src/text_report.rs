//! The terminal report: a summary table of every push, then, per push that was not on time, its
//! verdict and evidence in time order with the push inserted where it was sent
//! (`▶ push … sent 17:47:00.000 (APNs 200 in 84 ms)`) and where the app's receipt says it
//! arrived.

use std::fmt::Write as _;

use pushtrace_model::{EvidenceRole, Outcome, PushRecord, Timestamp, Verdict};

use pushtrace_model::{human, since};

/// One push and its verdict.
#[derive(Debug, Clone, Copy)]
pub struct Diagnosed<'a> {
    pub push: &'a PushRecord,
    pub verdict: &'a Verdict,
}

/// `t` as time of day in the offset `like` was given in (the push's own zone).
pub(crate) fn clock(t: Timestamp, like: Timestamp) -> String {
    t.with_offset(like.offset()).time_of_day_millis()
}

/// `2 push(es): 0 on time, 1 late, …`: the first line of every report.
pub(crate) fn summary_line(diagnosed: &[Diagnosed<'_>]) -> String {
    let count = |o: Outcome| diagnosed.iter().filter(|d| d.verdict.outcome == o).count();
    format!(
        "{} push(es): {} on time, {} late, {} not delivered, {} delivered not reported, {} rejected, {} unknown",
        diagnosed.len(),
        count(Outcome::OnTime),
        count(Outcome::Late),
        count(Outcome::NotDelivered),
        count(Outcome::DeliveredNotReported),
        count(Outcome::Rejected),
        count(Outcome::Unknown),
    )
}

/// APNs's answer and how long it took (`200 in 138 ms`).
pub(crate) fn apns_answer(push: &PushRecord) -> String {
    let status = push
        .apns_status
        .map_or_else(|| "—".to_string(), |s| s.to_string());
    match push.responded_at {
        Some(answered) if answered >= push.sent_at => {
            format!("{status} in {}", human(since(answered, push.sent_at)))
        }
        _ => status,
    }
}

/// Renders the report.
/// What the marks in front of evidence lines mean.
pub const GLYPHS: &str = "Marks: ✓ the line supports the verdict, ✗ it contradicts it, · context \
                          (what happened around it); ▶ the push was sent, ◀ the app's receipt.";

pub fn render(diagnosed: &[Diagnosed<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(diagnosed));
    let _ = writeln!(out);
    let rows: Vec<[String; 8]> = diagnosed
        .iter()
        .map(|d| {
            let p = d.push;
            let v = d.verdict;
            let arrived = p
                .received_at
                .map_or_else(|| "—".to_string(), |t| clock(t, p.sent_at));
            [
                v.push.clone(),
                p.sent_at.time_of_day_millis(),
                apns_answer(p),
                arrived,
                v.latency.map_or_else(|| "—".to_string(), human),
                v.outcome.to_string(),
                v.cause.to_string(),
                v.confidence.as_str().to_string(),
            ]
        })
        .collect();
    let header = [
        "push",
        "sent",
        "APNs",
        "received",
        "latency",
        "outcome",
        "cause",
        "confidence",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut text = String::from(" ");
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(text, " {cell:<w$} ");
        }
        text.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&header));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(&cells));
    }

    // The marks of the evidence lines, explained once before the first of them.
    if diagnosed
        .iter()
        .any(|d| d.verdict.outcome != Outcome::OnTime && !d.verdict.evidence.is_empty())
    {
        let _ = writeln!(out);
        let _ = writeln!(out, "{GLYPHS}");
    }
    for d in diagnosed
        .iter()
        .filter(|d| !matches!(d.verdict.outcome, Outcome::OnTime))
    {
        let p = d.push;
        let v = d.verdict;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "── {} · {} · {} ({} confidence) ──",
            v.push,
            v.outcome,
            v.cause,
            v.confidence.as_str()
        );
        let _ = writeln!(out, "{}", v.explanation);
        if v.evidence.is_empty() {
            continue;
        }
        let _ = writeln!(out);
        let mut sent_shown = false;
        let mut received_shown = false;
        let sent_line = format!(
            "▶ push {} sent {} (APNs {})",
            v.push,
            p.sent_at.time_of_day_millis(),
            apns_answer(p)
        );
        for e in &v.evidence {
            if !sent_shown && e.event.at > p.sent_at {
                let _ = writeln!(out, "{sent_line}");
                sent_shown = true;
            }
            if let Some(received) = p.received_at
                && !received_shown
                && e.event.at > received
            {
                let _ = writeln!(
                    out,
                    "◀ received {} (the app's receipt)",
                    clock(received, p.sent_at)
                );
                received_shown = true;
            }
            let mark = match e.role {
                EvidenceRole::Supports => "✓",
                EvidenceRole::Contradicts => "✗",
                EvidenceRole::Context => "·",
            };
            let _ = writeln!(
                out,
                "{}  {:<12} {} {}",
                clock(e.event.at, p.sent_at),
                e.event.process,
                mark,
                e.note
            );
            let _ = writeln!(out, "              {}  ({})", e.event.raw, e.event.source);
        }
        if !sent_shown {
            let _ = writeln!(out, "{sent_line}");
        }
        if let Some(received) = p.received_at
            && !received_shown
        {
            let _ = writeln!(
                out,
                "◀ received {} (the app's receipt)",
                clock(received, p.sent_at)
            );
        }
    }
    out
}
