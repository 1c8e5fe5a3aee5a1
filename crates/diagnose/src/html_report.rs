//! The HTML report: the Markdown report's content as one self-contained file — inline CSS and
//! inline SVG, no script, no font, no image and no URL of any kind — so it opens the same way
//! offline, in a mail attachment or in Feedback Assistant, and cannot leak that it was opened.
//!
//! A summary table of every push comes first (`#failures`: the pushes that were not on time are
//! the marked rows), then one section per failure: its verdict and explanation, an SVG timeline of
//! the device states around it with the send, deadline and arrival drawn in, what ended the outage,
//! and the evidence lines with their source. Every string that comes from a log or a push record
//! goes through [`escape`].

use std::fmt::Write as _;

use pushtrace_devicelog::timeline::DeviceTimeline;
use pushtrace_model::{EvidenceRole, Outcome, PushRecord, Timestamp, Verdict};

use crate::html_timeline::{self, Mark, Window};
use crate::text_report::{Diagnosed, apns_answer, clock, summary_line};
use crate::verdicts::{DiagnoseOptions, expected_by};
use pushtrace_model::human;

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in HTML text.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fail: #fde2e1; --fail-edge: #c0392b; --ok: #e7f6ec; --ink: #1f2328; --muted: #59636e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 0 auto; padding: 20px 28px 48px; max-width: 1200px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 6px; border-bottom: 1px solid #d1d9e0; padding-bottom: 4px; }
p.summary { margin: 0 0 14px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #d1d9e0; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
table#failures tr.failure td { background: var(--fail); }
table#failures td:first-child { white-space: nowrap; }
table#failures tr.failure td:first-child { border-left: 5px solid var(--fail-edge); font-weight: 600; }
table#failures tr.on-time td:first-child { border-left: 5px solid #2da44e; }
td.num, td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.time small { color: var(--muted); }
td.id code { overflow-wrap: anywhere; font-size: 12px; }
code, .raw { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.raw { white-space: pre-wrap; overflow-wrap: anywhere; color: #3b434b; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.bad { background: var(--fail-edge); color: #fff; }
.badge.good { background: #2da44e; color: #fff; }
.badge.unknown { background: #818b98; color: #fff; }
section.failure { margin-top: 8px; }
section.failure p.explanation { font-size: 15px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
tr.moment td { background: #eef4ff; font-weight: 600; }
tr.contradicts td { background: #fff4d6; }
figure { margin: 10px 0; } figcaption { color: var(--muted); font-size: 12.5px; }
svg.timeline { display: block; max-width: 100%; font: 12px system-ui, sans-serif; }
svg .lane { fill: var(--ink); font-weight: 600; } svg .state { fill: #10161c; }
svg .axis { fill: var(--muted); } svg .tick { stroke: #d1d9e0; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 6px 0 2px;
            font-size: 12.5px; color: var(--ink); }
ul.legend li { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
ul.legend .swatch { display: inline-block; width: 22px; height: 12px; border: 1px solid #8c959f; }
ul.legend .swatch.outside { background: repeating-linear-gradient(45deg, #f3f4f6 0 3px, #c7cbd1 3px 5px); }
ul.legend .line { display: inline-block; width: 22px; height: 0; border-top: 2px solid; }
ul.legend .line.sent { border-color: #0969da; } ul.legend .line.due { border-top-style: dashed; border-color: #c0392b; }
ul.legend .line.arrived { border-color: #1a7f37; } ul.legend .line.recovered { border-top-style: dotted; border-color: #8250df; }
svg rect { stroke: #fff; stroke-width: 1; }
svg line.mark { stroke-width: 2; } svg text.mark-label { font-weight: 600; }
svg .sent { stroke: #0969da; fill: #0969da; } svg .due { stroke: #c0392b; fill: #c0392b; stroke-dasharray: 5 3; }
svg text.due { stroke: none; } svg text.sent, svg text.arrived, svg text.recovered { stroke: none; }
svg .arrived { stroke: #1a7f37; fill: #1a7f37; } svg .recovered { stroke: #8250df; fill: #8250df; stroke-dasharray: 2 2; }
"#;

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "—".into())
}

fn badge(outcome: Outcome) -> String {
    let class = match outcome {
        Outcome::OnTime => "good",
        Outcome::Unknown => "unknown",
        _ => "bad",
    };
    format!(r#"<span class="badge {class}">{outcome}</span>"#)
}

/// A time as its time of day, its date and UTC offset below it (`17:47:00.000` /
/// `2026-05-20 +03:00`): the table stays narrow and no zone is left unstated.
fn when(t: Timestamp) -> String {
    let c = t.local();
    format!(
        "{}<br><small>{:04}-{:02}-{:02} {}</small>",
        t.time_of_day_millis(),
        c.year,
        c.month,
        c.day,
        t.offset()
    )
}

/// Renders the report; `title` heads it (e.g. the log's name), `timeline` is what the
/// verdicts were drawn from, `options` the thresholds they used.
pub fn render(
    title: &str,
    diagnosed: &[Diagnosed<'_>],
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Push diagnosis: {}</title>\n<style>{STYLE}{}</style>\n</head>\n<body>\n",
        escape(title),
        html_timeline::css()
    );
    let _ = writeln!(out, "<h1>Push diagnosis: {}</h1>", escape(title));
    let _ = writeln!(
        out,
        "<p class=\"summary\">{}.</p>",
        escape(&summary_line(diagnosed))
    );
    summary_table(&mut out, diagnosed);
    for (index, d) in diagnosed.iter().enumerate() {
        if d.verdict.outcome != Outcome::OnTime {
            failure(&mut out, index, d, timeline, options);
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn summary_table(out: &mut String, diagnosed: &[Diagnosed<'_>]) {
    out.push_str(
        "<table id=\"failures\">\n<caption hidden>Every push; the rows not on time are marked</caption>\n\
         <thead><tr><th>push</th><th>apns-id</th><th>sent</th><th>APNs answer</th><th>received</th>\
         <th>latency</th><th>outcome</th><th>cause</th><th>confidence</th></tr></thead>\n<tbody>\n",
    );
    for (index, d) in diagnosed.iter().enumerate() {
        let p = d.push;
        let v = d.verdict;
        let failed = v.outcome != Outcome::OnTime;
        let name = if failed {
            format!("<a href=\"#push-{index}\">{}</a>", escape(&v.push))
        } else {
            escape(&v.push)
        };
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{name}</td><td class=\"id\"><code>{}</code></td><td class=\"time\">{}</td>\
             <td class=\"num\">{}</td><td class=\"time\">{}</td><td class=\"num\">{}</td><td>{}</td>\
             <td><code>{}</code></td><td>{}</td></tr>",
            if failed { "failure" } else { "on-time" },
            or_dash(p.apns_id.as_deref().map(escape)),
            when(p.sent_at),
            escape(&apns_answer(p)),
            or_dash(p.received_at.map(when)),
            or_dash(v.latency.map(human)),
            badge(v.outcome),
            v.cause,
            v.confidence.as_str(),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn failure(
    out: &mut String,
    index: usize,
    d: &Diagnosed<'_>,
    timeline: &DeviceTimeline,
    options: &DiagnoseOptions,
) {
    let p = d.push;
    let v = d.verdict;
    let due = expected_by(p, options);
    let arrived = v.arrived_at;
    let recovered = v.recovered_at;
    let _ = writeln!(
        out,
        "<section class=\"failure\" id=\"push-{index}\">\n<h2>{} {} <code>{}</code> ({} confidence)</h2>",
        escape(&v.push),
        badge(v.outcome),
        v.cause,
        v.confidence.as_str()
    );
    let _ = writeln!(
        out,
        "<p class=\"explanation\">{}</p>",
        escape(&v.explanation)
    );
    let _ = writeln!(
        out,
        "<dl class=\"facts\"><dt>sent</dt><dd>{} (APNs {})</dd><dt>expected by</dt><dd>{}</dd>\
         <dt>arrived</dt><dd>{}</dd><dt>recovery</dt><dd>{}</dd></dl>",
        escape(&p.sent_at.to_string()),
        escape(&apns_answer(p)),
        escape(&due.to_string()),
        or_dash(arrived.map(|t| escape(&t.to_string()))),
        or_dash(v.recovery.map(|r| {
            let when = recovered.map(|t| format!(" at {}", clock(t, p.sent_at)));
            escape(&format!("{}{}", r.describe(), when.unwrap_or_default()))
        })),
    );

    let mut moments = vec![p.sent_at, due];
    moments.extend(arrived);
    moments.extend(recovered);
    let window = Window::around(p.sent_at, &moments);
    if window.meets(timeline) {
        let mut marks = vec![
            Mark {
                at: p.sent_at,
                label: "sent".into(),
                class: "sent",
            },
            Mark {
                at: due,
                label: "due".into(),
                class: "due",
            },
        ];
        if let Some(at) = recovered {
            marks.push(Mark {
                at,
                label: "woken".into(),
                class: "recovered",
            });
        }
        if let Some(at) = arrived {
            marks.push(Mark {
                at,
                label: "arrived".into(),
                class: "arrived",
            });
        }
        marks.sort_by_key(|m| m.at);
        let drawing = html_timeline::render(timeline, window, &marks, p.sent_at);
        let _ = writeln!(
            out,
            "<figure>{}{}<figcaption>Device states from the log around the push, one lane per \
             part of the device; the legend names each colour.</figcaption></figure>",
            drawing.svg, drawing.legend
        );
    } else {
        let covers = match (timeline.start, timeline.end) {
            (Some(s), Some(e)) => format!(
                "The log covers {}–{}",
                clock(s, p.sent_at),
                clock(e, p.sent_at)
            ),
            _ => "The log holds no dated record".into(),
        };
        let _ = writeln!(
            out,
            "<p class=\"summary\">{}: no device state to draw around this push.</p>",
            escape(&covers)
        );
    }
    evidence_table(out, p, v);
    out.push_str("</section>\n");
}

fn evidence_table(out: &mut String, p: &PushRecord, v: &Verdict) {
    if v.evidence.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"evidence\">\n<thead><tr><th>time</th><th>process</th><th>role</th>\
         <th>what it shows</th><th>line</th><th>source</th></tr></thead>\n<tbody>\n",
    );
    // The push's own moments, inserted among the log lines in time order.
    let mut moments: Vec<(Timestamp, String)> = vec![(
        p.sent_at,
        format!(
            "<tr class=\"moment\"><td class=\"time\">{}</td><td>—</td><td>push sent</td><td>APNs {}</td><td>—</td><td>push record</td></tr>",
            p.sent_at.time_of_day_millis(),
            escape(&apns_answer(p))
        ),
    )];
    if let Some(received) = p.received_at {
        moments.push((
            received,
            format!(
                "<tr class=\"moment\"><td class=\"time\">{}</td><td>—</td><td>received</td><td>the app's receipt</td><td>—</td><td>push record</td></tr>",
                clock(received, p.sent_at)
            ),
        ));
    }
    let mut moments = moments.into_iter().peekable();
    for e in &v.evidence {
        while let Some((_, row)) = moments.next_if(|(at, _)| *at < e.event.at) {
            let _ = writeln!(out, "{row}");
        }
        let (class, role) = match e.role {
            EvidenceRole::Supports => ("supports", "supports"),
            EvidenceRole::Contradicts => ("contradicts", "contradicts"),
            EvidenceRole::Context => ("context", "context"),
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td class=\"time\">{}</td><td>{}</td><td>{role}</td><td>{}</td>\
             <td class=\"raw\">{}</td><td><code>{}</code></td></tr>",
            clock(e.event.at, p.sent_at),
            escape(&e.event.process),
            escape(&e.note),
            escape(&e.event.raw),
            escape(&e.event.source.to_string()),
        );
    }
    for (_, row) in moments {
        let _ = writeln!(out, "{row}");
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_quotes_and_controls() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("a\u{0}b\tc"), "a\u{FFFD}b\tc");
        assert_eq!(escape("plain — text"), "plain — text");
    }
}
