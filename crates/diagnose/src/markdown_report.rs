//! The Markdown report: the same content as the terminal report (a summary table of every
//! push, then each push that was not on time with its verdict and evidence), as Markdown to
//! paste into an issue, a wiki or a Feedback Assistant report. Cells are escaped so a log line
//! with `|` or backticks cannot break the table.

use std::fmt::Write as _;

use pushtrace_model::{EvidenceRole, Outcome, Timestamp};

use crate::text_report::{Diagnosed, apns_answer, clock, summary_line};
use pushtrace_model::human;

/// A table cell: pipes escaped, line breaks flattened.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Inline code that survives backticks inside it.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", cell(text))
}

/// Renders the report; `title` heads it (e.g. the log's name).
pub fn render(title: &str, diagnosed: &[Diagnosed<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Push diagnosis: {}\n", cell(title));
    let _ = writeln!(out, "{}.\n", summary_line(diagnosed));
    let _ = writeln!(
        out,
        "| push | apns-id | sent | APNs | received | latency | outcome | cause | confidence |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for d in diagnosed {
        let p = d.push;
        let v = d.verdict;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | `{}` | {} |",
            cell(&v.push),
            p.apns_id.as_deref().map_or_else(|| "—".to_string(), cell),
            p.sent_at,
            apns_answer(p),
            p.received_at
                .map_or_else(|| "—".to_string(), |t| t.to_string()),
            v.latency.map_or_else(|| "—".to_string(), human),
            v.outcome,
            v.cause,
            v.confidence.as_str(),
        );
    }
    for d in diagnosed
        .iter()
        .filter(|d| d.verdict.outcome != Outcome::OnTime)
    {
        let p = d.push;
        let v = d.verdict;
        let _ = writeln!(
            out,
            "\n## {}: {}, `{}` ({} confidence)\n",
            cell(&v.push),
            v.outcome,
            v.cause,
            v.confidence.as_str()
        );
        let _ = writeln!(out, "{}\n", v.explanation);
        if v.evidence.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "| time | process | role | what it shows | line | source |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        // The push's own moments, inserted among the log lines in time order.
        let mut marks: Vec<(Timestamp, String)> = vec![(
            p.sent_at,
            format!(
                "| **{}** | — | **push sent** | APNs {} | — | push record |",
                p.sent_at.time_of_day_millis(),
                apns_answer(p)
            ),
        )];
        if let Some(received) = p.received_at {
            marks.push((
                received,
                format!(
                    "| **{}** | — | **received** | the app's receipt | — | push record |",
                    clock(received, p.sent_at)
                ),
            ));
        }
        let mut marks = marks.into_iter().peekable();
        for e in &v.evidence {
            while let Some((_, row)) = marks.next_if(|(at, _)| *at < e.event.at) {
                let _ = writeln!(out, "{row}");
            }
            let role = match e.role {
                EvidenceRole::Supports => "supports",
                EvidenceRole::Contradicts => "**contradicts**",
                EvidenceRole::Context => "context",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                clock(e.event.at, p.sent_at),
                cell(&e.event.process),
                role,
                cell(&e.note),
                code(&e.event.raw),
                cell(&e.event.source.to_string()),
            );
        }
        for (_, row) in marks {
            let _ = writeln!(out, "{row}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_code_survive_pipes_and_backticks() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("has ` one"), "``has ` one``");
        assert_eq!(code("`edge"), "`` `edge ``");
    }
}
