//! The top differences as paired horizontal bars: each cohort's failure rate (with its 95 %
//! interval as a whisker) above the rate of the rest of the fleet, and the risk ratio at the
//! right. Long cohort labels are cut to their column with the whole text as a tooltip.

use super::{Swatch, legend, percent_tick};
use crate::markdown_report::{cohort, count, interval, percent, ratio};
use crate::report::Difference;
use crate::svg::{Anchor, Linear, Svg, keep_apart, linear_ticks, text_width, truncate};

/// Cohorts drawn; the table below the chart lists them all.
pub const TOP: usize = 10;

const WIDTH: f64 = 1100.0;
const LABEL: f64 = 12.0;
const TICK: f64 = 11.0;
const X0: f64 = 350.0;
const X1: f64 = WIDTH - 240.0;
const FIRST_ROW: f64 = 30.0;
const ROW: f64 = 38.0;
/// Bar thickness and the distance between the tops of a cohort's two bars: the value labels
/// beside them are 10 px text, about 12 px tall, so 14 px keeps them apart.
const BAR: f64 = 11.0;
const PITCH: f64 = 14.0;

/// The chart of `differences` (`id` names it in the page), or `None` when there are none.
pub fn chart(differences: &[Difference], id: &str) -> Option<String> {
    if differences.is_empty() {
        return None;
    }
    let shown = &differences[..differences.len().min(TOP)];
    let high = shown
        .iter()
        .map(|d| d.failure_interval.high.max(d.failure_rate).max(d.rest_rate))
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let (ticks, top) = linear_ticks(high, 5);
    let step = ticks.get(1).copied().unwrap_or(top);
    let x = Linear {
        d0: 0.0,
        d1: top,
        r0: X0,
        r1: X1,
    };
    let plot_bottom = FIRST_ROW + shown.len() as f64 * ROW;
    let height = plot_bottom + 20.0 + 34.0;
    let mut svg = Svg::new(WIDTH, height);

    svg.rect(
        "plot-area",
        X0,
        FIRST_ROW - 6.0,
        X1 - X0,
        plot_bottom - FIRST_ROW + 6.0,
    );
    svg.text("column", 8.0, 16.0, Anchor::Start, "cohort", None);
    svg.text("column", X0, 16.0, Anchor::Start, "failure rate", None);
    svg.text(
        "column",
        WIDTH - 8.0,
        16.0,
        Anchor::End,
        "risk ratio (95 %)",
        None,
    );
    let labels: Vec<String> = ticks.iter().map(|&t| percent_tick(t, step)).collect();
    let boxes: Vec<(f64, f64)> = ticks
        .iter()
        .zip(&labels)
        .map(|(&t, l)| {
            let w = text_width(l, TICK);
            (x.at(t) - w / 2.0, w)
        })
        .collect();
    let keep = keep_apart(&boxes, 8.0);
    for (i, &t) in ticks.iter().enumerate() {
        svg.line("grid", x.at(t), FIRST_ROW - 6.0, x.at(t), plot_bottom);
        if keep[i] {
            svg.text(
                "tick",
                x.at(t),
                plot_bottom + 16.0,
                Anchor::Middle,
                &labels[i],
                None,
            );
        }
    }
    svg.line("axis", X0, plot_bottom, X1, plot_bottom);

    for (i, d) in shown.iter().enumerate() {
        let row = FIRST_ROW + i as f64 * ROW;
        let whole = format!("{}. {}", i + 1, cohort(&d.cohort));
        let (label, cut) = truncate(&whole, LABEL, X0 - 24.0);
        let tooltip = format!(
            "{}: {} {} vs {} for the rest, {} pushes, {} failing devices",
            cohort(&d.cohort),
            percent(d.failure_rate),
            interval(&d.failure_interval),
            percent(d.rest_rate),
            count(d.pushes),
            count(d.failing_devices)
        );
        svg.text(
            "label",
            8.0,
            row + PITCH + 2.0,
            Anchor::Start,
            &label,
            Some(if cut { &tooltip } else { &whole }),
        );
        let x0 = x.at(0.0);
        svg.rect("bar-cohort", x0, row, x.at(d.failure_rate) - x0, BAR);
        let (low, high) = (x.at(d.failure_interval.low), x.at(d.failure_interval.high));
        let mid = row + BAR / 2.0;
        svg.line("whisker", low, mid, high, mid);
        svg.line("whisker", low, mid - 4.0, low, mid + 4.0);
        svg.line("whisker", high, mid - 4.0, high, mid + 4.0);
        svg.text(
            "value",
            x.at(d.failure_rate).max(high) + 5.0,
            row + 9.0,
            Anchor::Start,
            &percent(d.failure_rate),
            None,
        );
        svg.rect("bar-rest", x0, row + PITCH, x.at(d.rest_rate) - x0, BAR);
        svg.text(
            "value",
            x.at(d.rest_rate) + 5.0,
            row + PITCH + 9.0,
            Anchor::Start,
            &percent(d.rest_rate),
            None,
        );
        svg.text(
            "label",
            WIDTH - 8.0,
            row + PITCH + 2.0,
            Anchor::End,
            &format!(
                "{} ({}–{})",
                ratio(d.risk_ratio),
                ratio(d.risk_ratio_interval.low).trim_start_matches('×'),
                ratio(d.risk_ratio_interval.high).trim_start_matches('×')
            ),
            None,
        );
    }
    legend(
        &mut svg,
        8.0,
        height - 10.0,
        WIDTH - 8.0,
        &[
            (Swatch::Box("bar-cohort"), "cohort's failure rate"),
            (Swatch::Line("whisker"), "its 95 % Wilson interval"),
            (Swatch::Box("bar-rest"), "the rest of the fleet"),
        ],
    );
    Some(svg.finish(
        id,
        "chart differences",
        "Failure rate of each cohort that fails more than the rest, beside the rest's",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::Cohort;
    use crate::markdown_report::tests::sample;

    #[test]
    fn each_cohort_has_two_bars_a_whisker_and_its_ratio() {
        let r = sample();
        let svg = chart(&r.differences, "chart-differences").unwrap();
        assert_eq!(svg.matches("<rect class=\"bar-cohort\"").count(), 1);
        assert_eq!(svg.matches("<rect class=\"bar-rest\"").count(), 1);
        assert_eq!(svg.matches("class=\"bar-rest key\"").count(), 1, "a legend");
        assert!(svg.contains(">31.2 %</text>"));
        assert!(svg.contains(">2.1 %</text>"));
        assert!(svg.contains(">×14.9 (13.9–15.8)</text>"), "{svg}");
        assert!(chart(&[], "x").is_none());
    }

    #[test]
    fn long_cohorts_are_cut_with_the_whole_text_in_a_tooltip() {
        let mut r = sample();
        r.differences[0].cohort = Cohort::of([
            (
                "carrier",
                "<script>alert(1)</script> Telecommunications Unlimited",
            ),
            ("model", "iPhone17,2"),
        ]);
        let svg = chart(&r.differences, "c").unwrap();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("…</text>"), "{svg}");
        assert!(svg.contains("<title>carrier=&lt;script&gt;alert(1)&lt;/script&gt; Telecommunications Unlimited ∧ model=iPhone17,2: 31.2 %"), "{svg}");
    }

    #[test]
    fn at_most_the_top_cohorts_are_drawn() {
        let r = sample();
        let many = vec![r.differences[0].clone(); TOP + 5];
        let svg = chart(&many, "c").unwrap();
        assert_eq!(svg.matches("<rect class=\"bar-cohort\"").count(), TOP);
    }
}
