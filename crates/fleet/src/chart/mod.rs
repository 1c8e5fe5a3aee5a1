//! The HTML report's charts, each a function from the report to one `<svg>` element: the daily
//! failure rate with its interval band and change days, the top differences as paired bars, and
//! latency percentiles per attribute value on a log axis.
//!
//! Colours are the Okabe–Ito palette (distinct under the common colour-vision deficiencies), and
//! every series also differs by shape or dash, so a chart reads in grey too. Each chart has its
//! own legend and lays its labels out so none overlaps another (see [`crate::svg`]).

pub mod daily;
pub mod differences;
pub mod latency;

use crate::svg::{Anchor, Svg, text_width};

/// Tick label of a rate axis whose ticks are `step` apart: no more decimals than the step needs.
fn percent_tick(rate: f64, step: f64) -> String {
    let decimals = if step * 100.0 >= 1.0 - 1e-9 {
        0
    } else if step * 100.0 >= 0.1 - 1e-12 {
        1
    } else {
        2
    };
    format!("{:.*} %", decimals, rate * 100.0)
}

/// What a legend entry's swatch looks like.
#[derive(Clone, Copy)]
enum Swatch {
    /// A line of this class (solid or dashed by its CSS).
    Line(&'static str),
    /// A filled box of this class.
    Box(&'static str),
    /// A marker of a latency percentile (its class names the shape's colour).
    Marker(Marker, &'static str),
}

/// The shapes of the latency percentiles.
#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Diamond,
}

fn marker(svg: &mut Svg, shape: Marker, class: &str, x: f64, y: f64, title: Option<&str>) {
    match shape {
        Marker::Circle => svg.circle(class, x, y, 4.5, title),
        Marker::Square => svg.path(
            class,
            &[
                (x - 4.0, y - 4.0),
                (x + 4.0, y - 4.0),
                (x + 4.0, y + 4.0),
                (x - 4.0, y + 4.0),
            ],
            true,
            title,
        ),
        Marker::Diamond => svg.path(
            class,
            &[(x, y - 5.5), (x + 5.5, y), (x, y + 5.5), (x - 5.5, y)],
            true,
            title,
        ),
    }
}

/// Draws a legend row starting at (`x`, `y` baseline), wrapping before `right`; returns the
/// baseline of its last row.
fn legend(svg: &mut Svg, x: f64, y: f64, right: f64, entries: &[(Swatch, &str)]) -> f64 {
    const SIZE: f64 = 11.0;
    let mut cx = x;
    let mut cy = y;
    for (swatch, label) in entries {
        let width = 22.0 + text_width(label, SIZE) + 18.0;
        if cx > x && cx + width > right {
            cx = x;
            cy += 18.0;
        }
        // `key` tells a swatch from the data it stands for (the browser test looks for the
        // change markers by class).
        match *swatch {
            Swatch::Line(class) => {
                svg.line(&format!("{class} key"), cx, cy - 4.0, cx + 16.0, cy - 4.0)
            }
            Swatch::Box(class) => svg.rect(&format!("{class} key"), cx, cy - 9.0, 16.0, 10.0),
            Swatch::Marker(shape, class) => marker(
                svg,
                shape,
                &format!("{class} key"),
                cx + 8.0,
                cy - 4.0,
                None,
            ),
        }
        svg.text("legend", cx + 22.0, cy, Anchor::Start, label, None);
        cx += width;
    }
    cy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_ticks_have_the_decimals_their_step_needs() {
        assert_eq!(percent_tick(0.05, 0.01), "5 %");
        assert_eq!(percent_tick(0.005, 0.005), "0.5 %");
        assert_eq!(percent_tick(0.0004, 0.0002), "0.04 %");
    }

    #[test]
    fn a_legend_wraps_before_the_right_edge() {
        let mut svg = Svg::new(200.0, 100.0);
        let last = legend(
            &mut svg,
            10.0,
            20.0,
            190.0,
            &[
                (Swatch::Line("rate-line"), "daily failure rate"),
                (Swatch::Box("band"), "95 % interval"),
            ],
        );
        assert_eq!(last, 38.0);
    }
}
