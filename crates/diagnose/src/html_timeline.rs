//! The SVG picture of one failure window: a lane per device dimension the log speaks about
//! (APNs connection, power policy, display, radio…), coloured by state, with the push's send
//! time, its deadline and its arrival drawn across the lanes. Inline SVG, so the HTML report
//! stays one file that needs nothing from the network (no `xmlns` either: inline SVG in HTML5
//! does not need it, and the report carries no URL at all).

use std::fmt::Write as _;

use pushtrace_devicelog::timeline::{
    Activity, ApnsState, DeviceTimeline, Dimension, Interval, Lock, Radio, Screen, State,
};
use pushtrace_model::Timestamp;

use crate::html_report::escape;

/// The part of the log one failure is drawn over, in UTC microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    /// A minute before the send up to 20 s after the latest moment to mark (arrival, deadline,
    /// recovery), at least two minutes wide so short windows still show their context.
    pub fn around(sent: Timestamp, marks: &[Timestamp]) -> Window {
        let from = sent.utc_micros() - 60_000_000;
        let latest = marks
            .iter()
            .map(|t| t.utc_micros())
            .fold(sent.utc_micros(), i64::max);
        let to = (latest + 20_000_000).max(from + 120_000_000);
        Window { from, to }
    }

    /// Whether any of the window is inside what the log covers.
    pub fn meets(&self, timeline: &DeviceTimeline) -> bool {
        match (timeline.start, timeline.end) {
            (Some(start), Some(end)) => {
                start.utc_micros() <= self.to && end.utc_micros() >= self.from
            }
            _ => false,
        }
    }
}

/// A moment drawn across every lane.
pub struct Mark {
    pub at: Timestamp,
    pub label: String,
    pub class: &'static str,
}

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 130.0;
const LANE_H: f64 = 24.0;
const LANE_GAP: f64 = 6.0;
const TOP: f64 = 34.0;
const AXIS_H: f64 = 22.0;

/// The colour class of a state: green when the device can take a push, amber when it is on its
/// way there, red when it cannot, slate when it is idle, grey when the log does not say.
fn tone(state: &State) -> &'static str {
    match state {
        State::Unknown => "s-unknown",
        State::Apns(ApnsState::Connected { .. }) => "s-good",
        State::Apns(ApnsState::Reconnecting { .. }) => "s-warn",
        State::Apns(ApnsState::Down(_)) => "s-bad",
        State::PowerPolicy(p) if p.is_display_off() => "s-bad",
        State::PowerPolicy(p) if p.restricts() => "s-warn",
        State::Display(Screen::Off)
        | State::Lock(Lock::Locked)
        | State::UserActivity(Activity::Inactive) => "s-dim",
        State::Radio(Radio::Idle { .. }) => "s-warn",
        State::AppBlocked(_) => "s-bad",
        State::Network(pushtrace_devicelog::timeline::Network::Down { .. }) => "s-bad",
        _ => "s-good",
    }
}

/// The dimensions worth a lane: APNs always, the others when the log says something about them
/// inside the window.
fn lanes(timeline: &DeviceTimeline, window: Window) -> Vec<(Dimension, Vec<&Interval>)> {
    let start = timeline.start.map_or(i64::MIN, Timestamp::utc_micros);
    let end = timeline.end.map_or(i64::MAX, Timestamp::utc_micros);
    Dimension::ALL
        .iter()
        .filter_map(|&d| {
            let inside: Vec<&Interval> = timeline
                .states
                .get(&d)
                .map(|all| {
                    all.iter()
                        .filter(|i| {
                            let from = i.from.map_or(start, Timestamp::utc_micros);
                            let to = i.to.map_or(end, Timestamp::utc_micros);
                            from <= window.to && to >= window.from
                        })
                        .collect()
                })
                .unwrap_or_default();
            let known = inside.iter().any(|i| !i.is_unknown());
            (d == Dimension::Apns || known).then_some((d, inside))
        })
        .collect()
}

/// `17:47:00` in the push's zone.
fn hms(micros: i64, like: Timestamp) -> String {
    let text = Timestamp::new(micros, like.offset()).time_of_day_millis();
    text.get(..8).unwrap_or(&text).to_string()
}

/// Axis steps tried in order until at most eight ticks fit.
const STEPS_S: [i64; 9] = [10, 15, 30, 60, 120, 300, 600, 1800, 3600];

/// Renders the SVG for `window`; `zone_of` gives the zone the times are written in.
pub fn render(
    timeline: &DeviceTimeline,
    window: Window,
    marks: &[Mark],
    zone_of: Timestamp,
) -> String {
    let lanes = lanes(timeline, window);
    let span = (window.to - window.from).max(1) as f64;
    let plot_w = WIDTH - LABEL_W - 10.0;
    let x = |micros: i64| {
        LABEL_W + (micros.clamp(window.from, window.to) - window.from) as f64 / span * plot_w
    };
    let lanes_h = lanes.len() as f64 * (LANE_H + LANE_GAP);
    let height = TOP + lanes_h + AXIS_H + 8.0;
    let log_start = timeline.start.map_or(window.from, Timestamp::utc_micros);
    let log_end = timeline.end.map_or(window.to, Timestamp::utc_micros);
    let bottom = TOP + lanes_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" aria-label="device states from {} to {}">"#,
        hms(window.from, zone_of),
        hms(window.to, zone_of)
    );
    // Outside what the log covers nothing is known: hatched, whatever the lanes say.
    let _ = write!(
        svg,
        r##"<defs><pattern id="outside" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c7cbd1" stroke-width="2"/></pattern></defs>"##
    );
    // Grid lines first, so the lanes' state labels are drawn over them.
    let step = STEPS_S
        .iter()
        .map(|s| s * 1_000_000)
        .find(|s| (window.to - window.from) / s <= 8)
        .unwrap_or(7_200_000_000);
    let mut tick = window.from.div_euclid(step) * step + step;
    while tick < window.to {
        let _ = write!(
            svg,
            r##"<line class="tick" x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}"/><text class="axis" x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            x(tick),
            bottom + 4.0,
            bottom + 18.0,
            hms(tick, zone_of)
        );
        tick += step;
    }
    for (row, (dimension, intervals)) in lanes.iter().enumerate() {
        let y = TOP + row as f64 * (LANE_H + LANE_GAP);
        let _ = write!(
            svg,
            r#"<text class="lane" x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL_W - 8.0,
            y + LANE_H * 0.68,
            escape(dimension.label())
        );
        for interval in intervals {
            let from = interval.from.map_or(log_start, Timestamp::utc_micros);
            let to = interval.to.map_or(log_end, Timestamp::utc_micros);
            let (x0, x1) = (x(from), x(to));
            let w = (x1 - x0).max(1.0);
            let state = interval.state.to_string();
            let _ = write!(
                svg,
                r#"<rect class="{}" x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{LANE_H}"><title>{}: {} ({}–{})</title></rect>"#,
                tone(&interval.state),
                escape(dimension.label()),
                escape(&state),
                hms(from, zone_of),
                hms(to, zone_of)
            );
            // A label only where it fits (about 6.5 px a character at 12 px).
            let fits = (w / 6.5) as usize;
            if fits >= 4 {
                let text: String = if state.chars().count() > fits {
                    state
                        .chars()
                        .take(fits.saturating_sub(1))
                        .chain(['…'])
                        .collect()
                } else {
                    state.to_string()
                };
                let _ = write!(
                    svg,
                    r#"<text class="state" x="{:.1}" y="{:.1}">{}</text>"#,
                    x0 + 4.0,
                    y + LANE_H * 0.68,
                    escape(&text)
                );
            }
        }
    }
    for (from, to) in [(window.from, log_start), (log_end, window.to)] {
        if to > from {
            let _ = write!(
                svg,
                r#"<rect fill="url(#outside)" x="{:.1}" y="{TOP}" width="{:.1}" height="{lanes_h:.1}"><title>outside the log</title></rect>"#,
                x(from),
                (x(to) - x(from)).max(1.0)
            );
        }
    }
    // Marks are labelled above the lanes, alternating rows so neighbours do not overlap.
    for (i, mark) in marks.iter().enumerate() {
        let at = x(mark.at.utc_micros());
        let label_y = if i % 2 == 0 { 13.0 } else { 27.0 };
        let anchor = if at > WIDTH - 160.0 { "end" } else { "start" };
        let _ = write!(
            svg,
            r#"<line class="mark {0}" x1="{1:.1}" x2="{1:.1}" y1="{2}" y2="{3:.1}"/><text class="mark-label {0}" x="{4:.1}" y="{2}" text-anchor="{5}">{6} {7}</text>"#,
            mark.class,
            at,
            label_y,
            bottom,
            if anchor == "end" { at - 3.0 } else { at + 3.0 },
            anchor,
            escape(&mark.label),
            mark.at.with_offset(zone_of.offset()).time_of_day_millis()
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushtrace_devicelog::timeline::TimelineBuilder;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_utc_micros(s * 1_000_000)
    }

    #[test]
    fn a_window_spans_a_minute_before_to_after_the_last_mark() {
        let w = Window::around(at(1000), &[at(1185)]);
        assert_eq!((w.from, w.to), (940_000_000, 1_205_000_000));
        let short = Window::around(at(1000), &[]);
        assert_eq!(short.to - short.from, 120_000_000);
    }

    #[test]
    fn outside_the_log_is_hatched_and_states_are_escaped() {
        let mut b = TimelineBuilder::new();
        b.observe(at(1000));
        b.observe(at(1100));
        let timeline = b.finish();
        let w = Window::around(at(1050), &[at(1200)]);
        assert!(w.meets(&timeline));
        let svg = render(
            &timeline,
            w,
            &[Mark {
                at: at(1050),
                label: "sent <x>".into(),
                class: "sent",
            }],
            at(1050),
        );
        assert!(svg.contains("url(#outside)"), "{svg}");
        assert!(svg.contains("sent &lt;x&gt;"), "{svg}");
        assert!(!svg.contains("<x>"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
