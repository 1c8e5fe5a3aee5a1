//! The fleet's daily failure rate: a line, its 95 % Wilson interval as a shaded band, and each
//! change day as a dashed vertical line labelled with the rate before and after.
//!
//! A day without pushes has no rate (its interval would be all of 0–100 %), so the line and the
//! band break there instead of plunging.

use super::{Swatch, legend, percent_tick};
use crate::markdown_report::{count, direction, interval, percent};
use crate::report::Report;
use crate::svg::{Anchor, Linear, Svg, keep_apart, linear_ticks, text_width};

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = WIDTH - 20.0;
const PLOT_HEIGHT: f64 = 260.0;
const TICK: f64 = 11.0;
const CHANGE: f64 = 11.0;
const ROW: f64 = 16.0;

/// The chart, or `None` when the window has no day with pushes.
pub fn chart(report: &Report) -> Option<String> {
    let days = &report.daily;
    if !days.iter().any(|d| d.pushes > 0) {
        return None;
    }
    let pad = if days.len() > 1 { 8.0 } else { 0.0 };
    let x = Linear {
        d0: 0.0,
        d1: days.len().saturating_sub(1) as f64,
        r0: LEFT + pad,
        r1: RIGHT - pad,
    };
    let step_px = if days.len() > 1 {
        (x.r1 - x.r0) / (days.len() - 1) as f64
    } else {
        x.r1 - x.r0
    };

    // Change labels first: how many rows they take sets the top margin.
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut changes = Vec::new();
    for c in &report.changes {
        let Some(i) = days.iter().position(|d| d.day == c.day) else {
            continue;
        };
        let cx = x.at(i as f64);
        let arrow = if direction(c) == "rose" { "↑" } else { "↓" };
        let label = format!(
            "{} {arrow} {} → {}",
            short_day(&c.day),
            percent(c.rate_before),
            percent(c.rate_after)
        );
        let width = text_width(&label, CHANGE);
        let anchor = if cx + 4.0 + width <= WIDTH - 4.0 {
            Anchor::Start
        } else {
            Anchor::End
        };
        let lx = if anchor == Anchor::Start {
            cx + 4.0
        } else {
            cx - 4.0
        };
        let left = anchor.left(lx, width);
        let row = rows
            .iter()
            .position(|taken| {
                taken
                    .iter()
                    .all(|&(l, r)| left + width + 8.0 <= l || left >= r + 8.0)
            })
            .unwrap_or(rows.len());
        if row == rows.len() {
            rows.push(Vec::new());
        }
        rows[row].push((left, left + width));
        let title = format!(
            "The fleet's failure rate {} on {}: {} {} before, {} {} from that day",
            direction(c),
            c.day,
            percent(c.rate_before),
            interval(&c.interval_before),
            percent(c.rate_after),
            interval(&c.interval_after)
        );
        changes.push((cx, lx, anchor, row, label, title));
    }
    let top = 14.0 + rows.len() as f64 * ROW;
    let bottom = top + PLOT_HEIGHT;
    let height = bottom + 22.0 + 20.0 + 26.0;
    let mut svg = Svg::new(WIDTH, height);

    let high = days
        .iter()
        .filter(|d| d.pushes > 0)
        .map(|d| d.failure_interval.high.max(d.failure_rate))
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let (ticks, top_rate) = linear_ticks(high * 1.05, 5);
    let tick_step = ticks.get(1).copied().unwrap_or(top_rate);
    let y = Linear {
        d0: 0.0,
        d1: top_rate,
        r0: bottom,
        r1: top,
    };

    svg.rect("plot-area", LEFT, top, RIGHT - LEFT, PLOT_HEIGHT);
    for &t in &ticks {
        let ty = y.at(t);
        svg.line("grid", LEFT, ty, RIGHT, ty);
        svg.text(
            "tick",
            LEFT - 6.0,
            ty + 4.0,
            Anchor::End,
            &percent_tick(t, tick_step),
            None,
        );
    }
    svg.line("axis", LEFT, bottom, RIGHT, bottom);
    svg.line("axis", LEFT, top, LEFT, bottom);

    // Day ticks: a mark every day when they fit, labels only where they do not collide.
    let labels: Vec<String> = days.iter().map(|d| short_day(&d.day)).collect();
    let boxes: Vec<(f64, f64)> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let w = text_width(l, TICK);
            (x.at(i as f64) - w / 2.0, w)
        })
        .collect();
    let keep = keep_apart(&boxes, 10.0);
    for (i, label) in labels.iter().enumerate() {
        let tx = x.at(i as f64);
        if keep[i] || step_px >= 4.0 {
            svg.line(
                "axis",
                tx,
                bottom,
                tx,
                bottom + if keep[i] { 5.0 } else { 3.0 },
            );
        }
        if keep[i] {
            svg.text(
                "tick",
                tx,
                bottom + 17.0,
                Anchor::Middle,
                label,
                Some(&days[i].day),
            );
        }
    }
    let first_year = days.first().map_or("", |d| d.day.get(..4).unwrap_or(""));
    svg.text(
        "axis-title",
        (LEFT + RIGHT) / 2.0,
        bottom + 36.0,
        Anchor::Middle,
        &format!("day (UTC, {first_year})"),
        None,
    );

    // The band and the line, one piece per run of days with pushes.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (i, d) in days.iter().enumerate() {
        if d.pushes == 0 {
            continue;
        }
        match runs.last_mut() {
            Some(run) if run.last() == Some(&(i - 1)) => run.push(i),
            _ => runs.push(vec![i]),
        }
    }
    for run in &runs {
        let half = if run.len() == 1 {
            (step_px / 3.0).clamp(3.0, 12.0)
        } else {
            0.0
        };
        let mut band: Vec<(f64, f64)> = Vec::new();
        for &i in run {
            band.push((x.at(i as f64) - half, y.at(days[i].failure_interval.high)));
        }
        if half > 0.0 {
            band.push((
                x.at(run[0] as f64) + half,
                y.at(days[run[0]].failure_interval.high),
            ));
            band.push((
                x.at(run[0] as f64) + half,
                y.at(days[run[0]].failure_interval.low),
            ));
        }
        for &i in run.iter().rev() {
            band.push((x.at(i as f64) - half, y.at(days[i].failure_interval.low)));
        }
        svg.path("band", &band, true, None);
        let line: Vec<(f64, f64)> = run
            .iter()
            .map(|&i| (x.at(i as f64), y.at(days[i].failure_rate)))
            .collect();
        if line.len() > 1 {
            svg.path("rate-line", &line, false, None);
        }
    }
    for (i, d) in days.iter().enumerate().filter(|(_, d)| d.pushes > 0) {
        let title = format!(
            "{}: {} {}, {} failures of {} pushes",
            d.day,
            percent(d.failure_rate),
            interval(&d.failure_interval),
            count(d.failures),
            count(d.pushes)
        );
        let r = if step_px >= 8.0 { 3.0 } else { 2.0 };
        svg.circle(
            "rate-dot",
            x.at(i as f64),
            y.at(d.failure_rate),
            r,
            Some(&title),
        );
    }

    for (cx, lx, anchor, row, label, title) in &changes {
        svg.line("change", *cx, top, *cx, bottom);
        let ly = top - 5.0 - *row as f64 * ROW;
        svg.text("change-label", *lx, ly, *anchor, label, Some(title));
    }

    legend(
        &mut svg,
        LEFT,
        height - 10.0,
        RIGHT,
        &[
            (Swatch::Line("rate-line"), "daily failure rate"),
            (Swatch::Box("band"), "95 % Wilson interval"),
            (Swatch::Line("change"), "change in the fleet's rate"),
        ],
    );
    Some(svg.finish(
        "chart-daily",
        "chart daily",
        "The fleet's daily failure rate with its 95 % interval and the days it changed",
    ))
}

/// `03-02` for `2026-03-02`: the year is said once, under the axis.
fn short_day(day: &str) -> String {
    day.get(5..).unwrap_or(day).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown_report::tests::{empty, sample};

    #[test]
    fn the_sample_draws_a_band_a_line_and_its_change() {
        let svg = chart(&sample()).unwrap();
        assert!(svg.starts_with("<svg id=\"chart-daily\""));
        assert_eq!(svg.matches("<path class=\"band\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("<path class=\"rate-line\"").count(), 1);
        assert_eq!(svg.matches("<circle class=\"rate-dot\"").count(), 3);
        assert_eq!(svg.matches("<line class=\"change\"").count(), 1);
        assert_eq!(svg.matches("<line class=\"change key\"").count(), 1);
        assert!(svg.contains("03-02 ↑ 2.1 % → 3.5 %</text>"), "{svg}");
        assert!(svg.contains(">day (UTC, 2026)</text>"));
        assert_eq!(
            chart(&sample()),
            Some(svg),
            "the same report draws the same bytes"
        );
    }

    #[test]
    fn days_without_pushes_break_the_line_and_nothing_means_no_chart() {
        let mut r = sample();
        r.daily[1].pushes = 0;
        r.daily[1].failure_interval.high = 1.0;
        let svg = chart(&r).unwrap();
        // Two single-day runs: two bands and no line.
        assert_eq!(svg.matches("<path class=\"band\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("<path class=\"rate-line\"").count(), 0);
        // The empty day's [0, 1] interval does not set the axis.
        assert!(!svg.contains(">100 %<"), "{svg}");
        assert_eq!(chart(&empty()), None);
    }

    #[test]
    fn one_day_is_drawn_in_the_middle() {
        let mut r = sample();
        r.daily.truncate(1);
        r.changes.clear();
        let svg = chart(&r).unwrap();
        assert!(
            svg.contains(r#"<circle class="rate-dot" cx="570""#),
            "{svg}"
        );
    }
}
