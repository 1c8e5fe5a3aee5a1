//! Latency small multiples: for each attribute, its values' p50, p90 and p99 receipt latency as
//! three markers on one row, on a logarithmic axis shared by every attribute (latency spans
//! milliseconds to minutes, and a shared axis lets one compare panels).

use super::{Marker, Swatch, legend, marker};
use crate::markdown_report::{count, duration};
use crate::report::{AttributeStats, CohortStats, Latency};
use crate::svg::{Anchor, Log, Svg, keep_apart, log_ticks, text_width, truncate};

/// Values drawn per attribute (the most pushes first); the tables list more.
pub const TOP: usize = 10;

const WIDTH: f64 = 540.0;
const X0: f64 = 150.0;
const X1: f64 = WIDTH - 24.0;
const LABEL: f64 = 12.0;
const TICK: f64 = 11.0;
const FIRST_ROW: f64 = 34.0;
const ROW: f64 = 22.0;

/// The values of `attribute` that have a latency, at most [`TOP`].
fn values(attribute: &AttributeStats) -> Vec<(&CohortStats, &Latency)> {
    attribute
        .values
        .iter()
        .filter_map(|v| v.latency.as_ref().map(|l| (v, l)))
        .take(TOP)
        .collect()
}

/// The axis every panel shares: whole decades around the smallest p50 and the largest p99.
pub fn domain(attributes: &[AttributeStats]) -> Option<(f64, f64)> {
    let all: Vec<&Latency> = attributes
        .iter()
        .flat_map(|a| values(a).into_iter().map(|(_, l)| l))
        .collect();
    if all.is_empty() {
        return None;
    }
    let low = all
        .iter()
        .map(|l| l.p50_ms.min(l.p90_ms).min(l.p99_ms))
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let high = all
        .iter()
        .map(|l| l.p99_ms.max(l.p90_ms).max(l.p50_ms))
        .fold(0.0_f64, f64::max)
        .max(low * 1.01);
    let low = 10f64.powf(low.log10().floor());
    let mut high = 10f64.powf(high.log10().ceil());
    if high <= low {
        high = low * 10.0;
    }
    Some((low, high))
}

/// One panel, or `None` when no value of the attribute has a latency. `index` names the panel
/// in the page (attribute names come from the data, so they are not used as ids).
pub fn chart(attribute: &AttributeStats, index: usize, domain: (f64, f64)) -> Option<String> {
    let rows = values(attribute);
    if rows.is_empty() {
        return None;
    }
    let x = Log {
        d0: domain.0,
        d1: domain.1,
        r0: X0,
        r1: X1,
    };
    let plot_bottom = FIRST_ROW + rows.len() as f64 * ROW;
    let height = plot_bottom + 20.0 + 34.0;
    let mut svg = Svg::new(WIDTH, height);
    let (title, cut) = truncate(&attribute.attribute, 13.0, WIDTH - 16.0);
    svg.text(
        "panel-title",
        8.0,
        16.0,
        Anchor::Start,
        &title,
        cut.then_some(attribute.attribute.as_str()),
    );
    svg.rect(
        "plot-area",
        X0,
        FIRST_ROW - 8.0,
        X1 - X0,
        plot_bottom - FIRST_ROW + 8.0,
    );

    // Ticks: every 1-2-5 step when their labels fit, else the decades (thinned if need be).
    let all = log_ticks(domain.0, domain.1);
    let boxes = |ticks: &[f64]| -> Vec<(f64, f64)> {
        ticks
            .iter()
            .map(|&t| {
                let w = text_width(&duration(t), TICK);
                (x.at(t) - w / 2.0, w)
            })
            .collect()
    };
    let ticks: Vec<f64> = if keep_apart(&boxes(&all), 8.0).iter().all(|&k| k) {
        all
    } else {
        all.into_iter()
            .filter(|t| (t.log10() - t.log10().round()).abs() < 1e-9)
            .collect()
    };
    let keep = keep_apart(&boxes(&ticks), 8.0);
    for (i, &t) in ticks.iter().enumerate() {
        svg.line("grid", x.at(t), FIRST_ROW - 8.0, x.at(t), plot_bottom);
        if keep[i] {
            svg.text(
                "tick",
                x.at(t),
                plot_bottom + 16.0,
                Anchor::Middle,
                &duration(t),
                None,
            );
        }
    }
    svg.line("axis", X0, plot_bottom, X1, plot_bottom);

    for (i, (v, l)) in rows.iter().enumerate() {
        let y = FIRST_ROW + i as f64 * ROW + ROW / 2.0 - 4.0;
        let name = v
            .cohort
            .0
            .get(&attribute.attribute)
            .cloned()
            .unwrap_or_else(|| v.cohort.to_string());
        let (label, cut) = truncate(&name, LABEL, X0 - 16.0);
        let whole = format!(
            "{name}: p50 {}, p90 {}, p99 {} ({} receipts)",
            duration(l.p50_ms),
            duration(l.p90_ms),
            duration(l.p99_ms),
            count(l.receipts)
        );
        svg.text(
            "label",
            X0 - 8.0,
            y + 4.0,
            Anchor::End,
            &label,
            Some(if cut { &whole } else { &name }),
        );
        svg.line("range", x.at(l.p50_ms), y, x.at(l.p99_ms), y);
        for (shape, class, ms, name) in [
            (Marker::Circle, "p50", l.p50_ms, "p50"),
            (Marker::Square, "p90", l.p90_ms, "p90"),
            (Marker::Diamond, "p99", l.p99_ms, "p99"),
        ] {
            let tip = format!("{}: {name} {}", v.cohort, duration(ms));
            marker(&mut svg, shape, class, x.at(ms), y, Some(&tip));
        }
    }
    legend(
        &mut svg,
        8.0,
        height - 10.0,
        WIDTH - 8.0,
        &[
            (Swatch::Marker(Marker::Circle, "p50"), "p50"),
            (Swatch::Marker(Marker::Square, "p90"), "p90"),
            (Swatch::Marker(Marker::Diamond, "p99"), "p99"),
            (Swatch::Line("range"), "p50 to p99, log scale"),
        ],
    );
    Some(svg.finish(
        &format!("chart-latency-{index}"),
        "chart latency",
        &format!(
            "Receipt latency percentiles by {} (log scale)",
            attribute.attribute
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown_report::tests::sample;

    #[test]
    fn every_value_gets_three_markers_on_a_shared_log_axis() {
        let r = sample();
        let domain = domain(&r.attributes).unwrap();
        assert_eq!(domain, (100.0, 10_000.0));
        let svg = chart(&r.attributes[0], 0, domain).unwrap();
        assert!(svg.starts_with("<svg id=\"chart-latency-0\""));
        assert_eq!(svg.matches("<circle class=\"p50\"").count(), 2);
        assert_eq!(svg.matches("<path class=\"p99\"").count(), 2);
        assert_eq!(svg.matches(" key\"").count(), 4, "a legend of four");
        // Cut to its column, whole in the tooltip, escaped in both.
        assert!(
            svg.contains("<title>&lt;script&gt;x|y&lt;/script&gt;: p50 420 ms, p90 2.3 s"),
            "{svg}"
        );
        assert!(svg.contains("&lt;script&gt;x|y&lt;/sc…</text>"), "{svg}");
        for tick in ["100 ms", "200 ms", "500 ms", "1.0 s", "10.0 s"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick}: {svg}");
        }
    }

    #[test]
    fn a_wide_axis_keeps_to_decades() {
        let r = sample();
        let svg = chart(&r.attributes[0], 0, (1.0, 1_000_000.0)).unwrap();
        assert!(svg.contains(">1.0 s</text>"));
        assert!(!svg.contains(">2 ms</text>"), "{svg}");
    }

    #[test]
    fn no_latency_no_panel() {
        let mut r = sample();
        for v in &mut r.attributes[0].values {
            v.latency = None;
        }
        assert_eq!(domain(&r.attributes), None);
        assert_eq!(chart(&r.attributes[0], 0, (1.0, 10.0)), None);
    }
}
