//! The fleet report as one self-contained HTML file: inline CSS, inline SVG charts drawn by
//! [`crate::chart`], the same tables and sentences as the Markdown report, no script and no
//! URL of any kind, so it opens offline, from a ticket attachment or an air-gapped machine.
//!
//! Every piece of text from the data (attribute names and values, notes) is escaped: a carrier
//! called `<script>` is shown as those characters. The same report gives the same bytes.

use std::fmt::Write as _;

use crate::chart;
use crate::markdown_report::{
    ATTRIBUTE_COLUMNS, DIFFERENCE_COLUMNS, count, difference_cells, interval,
    latency_shift_sentence, no_difference_sentence, no_latency_shift_sentence, no_receipt_sentence,
    outcome_rows, percent, regression_sentence, rest_of_values, summary_sentences, threshold_lines,
    title, value_cells,
};
use crate::report::{Difference, Report};
use crate::svg::escape;

/// Renders `report` as an HTML5 document.
pub fn render_html(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        escape(&title(report)),
        escape(&title(report)),
    );
    summary(&mut out, report);
    daily(&mut out, report);
    differences(&mut out, report);
    since_when(&mut out, report);
    latency(&mut out, report);
    attributes(&mut out, report);
    out.push_str("<section id=\"thresholds\">\n<h2>Thresholds</h2>\n<ul>\n");
    for line in threshold_lines(&report.thresholds, &report.rules) {
        let _ = writeln!(out, "<li>{}</li>", escape(&line));
    }
    out.push_str("</ul>\n</section>\n");
    if !report.notes.is_empty() {
        out.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
        for note in &report.notes {
            let _ = writeln!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn summary(out: &mut String, report: &Report) {
    out.push_str("<section id=\"summary\">\n");
    for (i, sentence) in summary_sentences(report).iter().enumerate() {
        let class = if i == 0 { " class=\"headline\"" } else { "" };
        let _ = writeln!(out, "<p{class}>{}</p>", escape(sentence));
    }
    if report.overall.pushes > 0 {
        out.push_str(
            "<table id=\"outcomes\">\n<thead><tr><th>Outcome</th><th>Pushes</th><th>Share</th></tr></thead>\n<tbody>\n",
        );
        for (label, n, share) in outcome_rows(&report.overall, &report.rules) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">{share}</td></tr>",
                escape(&label)
            );
        }
        out.push_str("</tbody>\n</table>\n");
        let _ = writeln!(
            out,
            "<p class=\"aside\">{}</p>",
            escape(&no_receipt_sentence(report))
        );
    }
    out.push_str("</section>\n");
}

fn daily(out: &mut String, report: &Report) {
    out.push_str("<section id=\"daily\">\n<h2>Daily failure rate</h2>\n");
    match chart::daily::chart(report) {
        Some(svg) => {
            let _ = write!(
                out,
                "<figure>\n{svg}<figcaption>The fleet's failure rate each day (UTC) with its 95 % \
                 Wilson interval; dashed lines mark the days it changed.</figcaption>\n</figure>\n"
            );
            out.push_str(
                "<details>\n<summary>The figures of each day</summary>\n<div class=\"scroll\">\n\
                 <table id=\"days\">\n<thead><tr><th>Day</th><th>Pushes</th><th>Failures</th>\
                 <th>Failure rate</th><th>95 % interval</th><th>p50</th></tr></thead>\n<tbody>\n",
            );
            for d in &report.daily {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                     <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    escape(&d.day),
                    count(d.pushes),
                    count(d.failures),
                    if d.pushes == 0 {
                        "–".to_string()
                    } else {
                        percent(d.failure_rate)
                    },
                    if d.pushes == 0 {
                        "–".to_string()
                    } else {
                        escape(&interval(&d.failure_interval))
                    },
                    d.p50_ms
                        .map_or_else(|| "–".to_string(), crate::markdown_report::duration),
                );
            }
            out.push_str("</tbody>\n</table>\n</div>\n</details>\n");
        }
        None => out.push_str("<p class=\"empty\">No day with pushes: nothing to draw.</p>\n"),
    }
    out.push_str("</section>\n");
}

fn differences(out: &mut String, report: &Report) {
    out.push_str("<section id=\"differences\">\n<h2>What is different</h2>\n");
    differences_block(out, report, &report.differences, "differences");
    if let Some(since) = &report.since_change {
        let _ = writeln!(
            out,
            "<h3>Since {} (the fleet's last rise)</h3>",
            escape(&since.since)
        );
        differences_block(out, report, &since.differences, "since-change");
    }
    out.push_str("</section>\n");
}

fn differences_block(out: &mut String, report: &Report, differences: &[Difference], id: &str) {
    let Some(svg) = chart::differences::chart(differences, &format!("chart-{id}")) else {
        let _ = writeln!(
            out,
            "<p class=\"empty\">{}</p>",
            escape(&no_difference_sentence(report))
        );
        return;
    };
    let shown = differences.len().min(chart::differences::TOP);
    let _ = write!(
        out,
        "<figure>\n{svg}<figcaption>The {} cohort{} that fail most in excess of the rest of the \
         fleet: the cohort's failure rate (with its 95 % interval) above the rest's.</figcaption>\n\
         </figure>\n<div class=\"scroll\">\n<table id=\"{id}-table\" class=\"differences\">\n<thead><tr>",
        shown,
        if shown == 1 { "" } else { "s" }
    );
    for column in DIFFERENCE_COLUMNS {
        let _ = write!(out, "<th>{column}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, d) in differences.iter().enumerate() {
        let cells = difference_cells(d);
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"cohort\">{}</td>",
            i + 1,
            escape(&cells[0])
        );
        for cell in &cells[1..] {
            let _ = write!(out, "<td class=\"n\">{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

fn since_when(out: &mut String, report: &Report) {
    if !report.regressions.is_empty() {
        out.push_str("<section id=\"regressions\">\n<h2>Since when</h2>\n<ul>\n");
        for r in &report.regressions {
            let _ = writeln!(out, "<li>{}</li>", escape(&regression_sentence(r)));
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("<section id=\"latency-shifts\">\n<h2>Latency shifts</h2>\n");
    if report.latency_shifts.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"empty\">{}</p>",
            escape(&no_latency_shift_sentence(report))
        );
    } else {
        out.push_str("<ul>\n");
        for s in &report.latency_shifts {
            let _ = writeln!(
                out,
                "<li>{}</li>",
                escape(&latency_shift_sentence(s, report.thresholds.slow_ms))
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn latency(out: &mut String, report: &Report) {
    let Some(domain) = chart::latency::domain(&report.attributes) else {
        return;
    };
    out.push_str(
        "<section id=\"latency\">\n<h2>Latency by attribute</h2>\n<p>Receipt latency \
         (received − sent) of the values with the most pushes, on one logarithmic axis.</p>\n\
         <div class=\"panels\">\n",
    );
    for (i, attribute) in report.attributes.iter().enumerate() {
        if let Some(svg) = chart::latency::chart(attribute, i, domain) {
            let _ = write!(out, "<figure>\n{svg}</figure>\n");
        }
    }
    out.push_str("</div>\n</section>\n");
}

fn attributes(out: &mut String, report: &Report) {
    if report.attributes.is_empty() {
        return;
    }
    out.push_str("<section id=\"attributes\">\n<h2>By attribute</h2>\n");
    for attribute in &report.attributes {
        let _ = write!(
            out,
            "<h3>{}</h3>\n<div class=\"scroll\">\n<table class=\"values\">\n<thead><tr>",
            escape(&attribute.attribute)
        );
        for column in ATTRIBUTE_COLUMNS {
            let _ = write!(out, "<th>{column}</th>");
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for value in attribute
            .values
            .iter()
            .take(crate::markdown_report::TOP_VALUES)
        {
            let cells = value_cells(value, &attribute.attribute, report.overall.pushes);
            let _ = write!(out, "<tr><td class=\"cohort\">{}</td>", escape(&cells[0]));
            for cell in &cells[1..] {
                let _ = write!(out, "<td class=\"n\">{}</td>", escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
        if let Some(rest) = rest_of_values(attribute) {
            let _ = writeln!(out, "<p class=\"aside\">{}</p>", escape(&rest));
        }
    }
    out.push_str("</section>\n");
}

/// The page's style. Colours of the series are Okabe–Ito: blue #0072B2, vermillion #D55E00,
/// orange #E69F00, reddish purple #CC79A7.
const CSS: &str = r#"* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1a1a1a; font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 16px 20px 48px; }
h1 { font-size: 24px; margin: 8px 0 12px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; overflow-wrap: anywhere; }
p, li { overflow-wrap: anywhere; }
.headline { font-size: 17px; }
.aside, figcaption { color: #555; font-size: 13px; }
.empty { font-style: italic; }
figure { margin: 8px 0 12px; }
svg.chart { display: block; width: 100%; height: auto; max-width: 100%; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 8px 24px; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.cohort { overflow-wrap: anywhere; max-width: 360px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: #0b5394; }
svg text { font-family: Helvetica, Arial, "DejaVu Sans", sans-serif; fill: #1a1a1a; }
svg .tick, svg .legend { font-size: 11px; fill: #333; }
svg .axis-title { font-size: 11px; fill: #555; }
svg .label, svg .column { font-size: 12px; }
svg .column { fill: #555; }
svg .value { font-size: 10px; fill: #333; }
svg .panel-title { font-size: 13px; font-weight: 600; }
svg .plot-area { fill: #fbfbfb; stroke: #d0d0d0; }
svg .grid { stroke: #e6e6e6; }
svg .axis { stroke: #666; }
svg .band { fill: #0072B2; fill-opacity: 0.2; stroke: none; }
svg .rate-line { fill: none; stroke: #0072B2; stroke-width: 2; }
svg .rate-dot { fill: #0072B2; }
svg .change { stroke: #D55E00; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .change-label { font-size: 11px; fill: #A04000; font-weight: 600; }
svg .bar-cohort { fill: #D55E00; }
svg .bar-rest { fill: #0072B2; }
svg .whisker { stroke: #1a1a1a; stroke-width: 1.3; }
svg .range { stroke: #9a9a9a; stroke-width: 1.5; }
svg .p50 { fill: #0072B2; }
svg .p90 { fill: #E69F00; }
svg .p99 { fill: #CC79A7; stroke: #5a2a48; stroke-width: 0.6; }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown_report::tests::{empty, sample};

    #[test]
    fn the_sample_page_has_every_chart_and_table() {
        let html = render_html(&sample());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.ends_with("</html>\n"));
        for id in [
            "chart-daily",
            "chart-differences",
            "chart-latency-0",
            "differences-table",
            "outcomes",
            "days",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(html.contains(
            "since 2026-03-02, carrier=Orange ∧ interface=cellular ∧ os_version=26.2: 31.2 % (30.1–32.3 %) vs 2.1 % before, 812 failing devices"
        ));
        assert!(html.contains("<td class=\"n\">31.2 %</td>"));
        assert_eq!(render_html(&sample()), html, "deterministic");
    }

    #[test]
    fn user_text_is_shown_not_run() {
        let mut r = sample();
        r.notes.push("<img src=x onerror=alert(1)>".to_string());
        r.attributes[0].attribute = "carrier\"><script>".to_string();
        let html = render_html(&r);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;x|y&lt;/script&gt;"));
        assert!(html.contains("<li>&lt;img src=x onerror=alert(1)&gt;</li>"));
    }

    #[test]
    fn nothing_points_outside_the_file() {
        let html = render_html(&sample());
        // The one URL is SVG's namespace, an identifier no browser fetches.
        let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for needle in [
            "http:", "https:", "//", "url(", "@import", "<script", "<link", "src=",
        ] {
            assert!(!without_namespace.contains(needle), "{needle}");
        }
    }

    #[test]
    fn an_empty_report_renders_and_says_why_there_is_nothing() {
        let html = render_html(&empty());
        assert!(html.contains("No pushes in the window (no days): there is nothing to report."));
        assert!(html.contains("No day with pushes: nothing to draw."));
        assert!(html.contains("No pushes, so no cohort to compare."));
        assert!(!html.contains("<svg"), "{html}");
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn one_day_and_no_difference_still_render_in_words() {
        let mut r = sample();
        r.daily.truncate(1);
        r.window.last_day = r.window.first_day.clone();
        r.window.days = 1;
        r.changes.clear();
        r.differences.clear();
        r.regressions.clear();
        let html = render_html(&r);
        assert!(html.contains("id=\"chart-daily\""));
        assert!(!html.contains("id=\"chart-differences\""));
        assert!(
            html.contains("<p class=\"empty\">No cohort fails more than the rest of the fleet")
        );
        assert!(html.contains("One day of data: too short to tell"));
    }
}
