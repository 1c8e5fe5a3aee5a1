//! The SVG picture of one failure window: a lane per device dimension the log speaks about
//! (APNs connection, power policy, display, radio…), coloured by state, with the push's send
//! time, its deadline and its arrival drawn across the lanes. Inline SVG, so the HTML report
//! stays one file that needs nothing from the network (no `xmlns` either: inline SVG in HTML5
//! does not need it, and the report carries no URL at all).

use std::fmt::Write as _;

use pushtrace_devicelog::timeline::{
    Activity, ApnsState, DeviceTimeline, Dimension, Interval, Lock, Network, Radio, Registration,
    Screen, State,
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
const AXIS_H: f64 = 22.0;
/// One row of mark labels above the lanes.
const MARK_ROW_H: f64 = 14.0;
/// About the width of a character of the 12 px bold mark labels.
const MARK_CHAR_W: f64 = 7.0;

/// How a kind of state is drawn: its CSS class, its colour and what the legend calls it.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    pub class: &'static str,
    pub colour: &'static str,
    pub label: &'static str,
}

const fn kind(class: &'static str, colour: &'static str, label: &'static str) -> Kind {
    Kind {
        class,
        colour,
        label,
    }
}

/// Every kind of state, each with its own colour: greens where the device can take a push,
/// ambers and oranges on the way there or restricted, reds where it cannot, blues and greys for
/// the quiet states that are normal (an idle radio wakes for traffic), the lightest grey where
/// the log does not say. A colour means one state, so the legend can name it.
pub const KINDS: [Kind; 24] = [
    kind("s-unknown", "#eceef1", "the log does not say"),
    kind("s-apns-connected", "#6cc487", "APNs connected"),
    kind("s-apns-reconnecting", "#f5c242", "APNs reconnecting"),
    kind("s-apns-down", "#e5786d", "APNs down"),
    kind("s-power-normal", "#c7ebd2", "power policy normal"),
    kind(
        "s-power-restricted",
        "#f2a65a",
        "power policy restricting (inactive)",
    ),
    kind(
        "s-power-display-off",
        "#c98bd9",
        "power policy display off (pushes wait)",
    ),
    kind("s-display-on", "#fbeaa0", "display on"),
    kind("s-display-off", "#8e9aab", "display off"),
    kind("s-user-active", "#ffd3a1", "user active"),
    kind("s-user-passive", "#f6e3d0", "user passive"),
    kind("s-user-inactive", "#b3bcc9", "user inactive"),
    kind("s-locked", "#97a9c4", "locked"),
    kind("s-unlocked", "#dde8f6", "unlocked"),
    kind("s-radio-idle", "#a6cef5", "radio idle (wakes for traffic)"),
    kind("s-radio-connected", "#5ea8ec", "radio connected"),
    kind("s-registered", "#bfe3bc", "registered (home)"),
    kind("s-roaming", "#e3c6f0", "registered (roaming)"),
    kind("s-unregistered", "#f0a0a8", "not registered"),
    kind("s-hotspot", "#cdbbe9", "personal hotspot on"),
    kind("s-hotspot-off", "#e4e9df", "personal hotspot off"),
    kind("s-app-blocked", "#d65a5a", "app blocked from VoIP launches"),
    kind("s-network-up", "#9fdcc6", "network path up"),
    kind("s-network-down", "#ee9a6e", "network path down"),
];

/// The kind of a state; see [`KINDS`].
pub fn kind_of(state: &State) -> &'static Kind {
    let class = match state {
        State::Unknown => "s-unknown",
        State::Apns(ApnsState::Connected { .. }) => "s-apns-connected",
        State::Apns(ApnsState::Reconnecting { .. }) => "s-apns-reconnecting",
        State::Apns(ApnsState::Down(_)) => "s-apns-down",
        State::PowerPolicy(p) if p.is_display_off() => "s-power-display-off",
        State::PowerPolicy(p) if p.restricts() => "s-power-restricted",
        State::PowerPolicy(_) => "s-power-normal",
        State::Display(Screen::On) => "s-display-on",
        State::Display(Screen::Off) => "s-display-off",
        State::UserActivity(Activity::Active) => "s-user-active",
        State::UserActivity(Activity::Passive) => "s-user-passive",
        State::UserActivity(Activity::Inactive) => "s-user-inactive",
        State::Lock(Lock::Locked) => "s-locked",
        State::Lock(Lock::Unlocked) => "s-unlocked",
        State::Radio(Radio::Idle { .. }) => "s-radio-idle",
        State::Radio(Radio::Connected { .. }) => "s-radio-connected",
        State::Registration(Registration::Home) => "s-registered",
        State::Registration(Registration::Roaming) => "s-roaming",
        State::Registration(Registration::Other(_)) => "s-unregistered",
        State::InternetSharing(true) => "s-hotspot",
        State::InternetSharing(false) => "s-hotspot-off",
        State::AppBlocked(_) => "s-app-blocked",
        State::Network(Network::Up { .. }) => "s-network-up",
        State::Network(Network::Down { .. }) => "s-network-down",
    };
    KINDS.iter().find(|k| k.class == class).unwrap_or(&KINDS[0])
}

/// The CSS of every kind: the fill of its lane rectangles and the background of its legend
/// swatch.
pub fn css() -> String {
    let mut css = String::new();
    for k in &KINDS {
        let _ = writeln!(
            css,
            "svg .{0} {{ fill: {1}; }} .legend .{0} {{ background: {1}; }}",
            k.class, k.colour
        );
    }
    css
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

/// The picture of one window: the SVG, and its legend (HTML) naming the colour of every state
/// drawn in it, the hatching and the marks.
pub struct Drawing {
    pub svg: String,
    pub legend: String,
}

/// A mark's label placed above the lanes: its anchor, text and the row that keeps it clear of
/// its neighbours.
struct PlacedMark<'a> {
    mark: &'a Mark,
    at: f64,
    end_anchored: bool,
    row: usize,
}

/// Puts each mark's label on the first row where it overlaps no label already there (in time
/// order), so close marks (sent, woken, arrived within seconds) stack instead of colliding.
fn place_marks<'a>(
    marks: &'a [Mark],
    x: impl Fn(i64) -> f64,
    zone_of: Timestamp,
) -> Vec<PlacedMark<'a>> {
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut placed = Vec::new();
    for mark in marks {
        let at = x(mark.at.utc_micros());
        let text = label_text(mark, zone_of);
        let width = text.chars().count() as f64 * MARK_CHAR_W + 6.0;
        let end_anchored = at + width > WIDTH;
        let extent = if end_anchored {
            (at - width, at)
        } else {
            (at, at + width)
        };
        let row = rows
            .iter()
            .position(|taken| {
                taken
                    .iter()
                    .all(|&(a, b)| extent.1 + 4.0 <= a || extent.0 >= b + 4.0)
            })
            .unwrap_or(rows.len());
        if row == rows.len() {
            rows.push(Vec::new());
        }
        rows[row].push(extent);
        placed.push(PlacedMark {
            mark,
            at,
            end_anchored,
            row,
        });
    }
    placed
}

fn label_text(mark: &Mark, zone_of: Timestamp) -> String {
    format!(
        "{} {}",
        mark.label,
        mark.at.with_offset(zone_of.offset()).time_of_day_millis()
    )
}

/// Renders the picture of `window`; `zone_of` gives the zone the times are written in.
pub fn render(
    timeline: &DeviceTimeline,
    window: Window,
    marks: &[Mark],
    zone_of: Timestamp,
) -> Drawing {
    let lanes = lanes(timeline, window);
    let span = (window.to - window.from).max(1) as f64;
    let plot_w = WIDTH - LABEL_W - 10.0;
    let x = |micros: i64| {
        LABEL_W + (micros.clamp(window.from, window.to) - window.from) as f64 / span * plot_w
    };
    let placed = place_marks(marks, x, zone_of);
    let mark_rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(1).max(2);
    let top = 6.0 + mark_rows as f64 * MARK_ROW_H;
    let lanes_h = lanes.len() as f64 * (LANE_H + LANE_GAP);
    let height = top + lanes_h + AXIS_H + 8.0;
    let log_start = timeline.start.map_or(window.from, Timestamp::utc_micros);
    let log_end = timeline.end.map_or(window.to, Timestamp::utc_micros);
    let bottom = top + lanes_h;
    let mut drawn: Vec<&'static Kind> = Vec::new();

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
            r##"<line class="tick" x1="{0:.1}" x2="{0:.1}" y1="{top}" y2="{1:.1}"/><text class="axis" x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            x(tick),
            bottom + 4.0,
            bottom + 18.0,
            hms(tick, zone_of)
        );
        tick += step;
    }
    for (row, (dimension, intervals)) in lanes.iter().enumerate() {
        let y = top + row as f64 * (LANE_H + LANE_GAP);
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
            let kind = kind_of(&interval.state);
            if !drawn.contains(&kind) {
                drawn.push(kind);
            }
            let _ = write!(
                svg,
                r#"<rect class="{}" x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{LANE_H}"><title>{}: {} ({}–{})</title></rect>"#,
                kind.class,
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
    let mut hatched = false;
    for (from, to) in [(window.from, log_start), (log_end, window.to)] {
        if to > from {
            hatched = true;
            let _ = write!(
                svg,
                r#"<rect fill="url(#outside)" x="{:.1}" y="{top}" width="{:.1}" height="{lanes_h:.1}"><title>outside the log</title></rect>"#,
                x(from),
                (x(to) - x(from)).max(1.0)
            );
        }
    }
    for placed in &placed {
        let label_y = 13.0 + placed.row as f64 * MARK_ROW_H;
        let (anchor, text_x) = if placed.end_anchored {
            ("end", placed.at - 3.0)
        } else {
            ("start", placed.at + 3.0)
        };
        let _ = write!(
            svg,
            r#"<line class="mark {0}" x1="{1:.1}" x2="{1:.1}" y1="{2}" y2="{3:.1}"/><text class="mark-label {0}" x="{4:.1}" y="{2}" text-anchor="{5}">{6}</text>"#,
            placed.mark.class,
            placed.at,
            label_y,
            bottom,
            text_x,
            anchor,
            escape(&label_text(placed.mark, zone_of)),
        );
    }
    svg.push_str("</svg>");
    Drawing {
        svg,
        legend: legend(&drawn, hatched, marks),
    }
}

/// The legend of one picture: the states drawn in it (in [`KINDS`] order), the hatching when
/// some of the window is outside the log, and the marks.
fn legend(drawn: &[&'static Kind], hatched: bool, marks: &[Mark]) -> String {
    let mut out = String::from(r#"<ul class="legend" aria-label="legend">"#);
    for kind in KINDS.iter().filter(|k| drawn.contains(k)) {
        let _ = write!(
            out,
            r#"<li><span class="swatch {}"></span>{}</li>"#,
            kind.class,
            escape(kind.label)
        );
    }
    if hatched {
        out.push_str(r#"<li><span class="swatch outside"></span>outside the log</li>"#);
    }
    let mut seen: Vec<&str> = Vec::new();
    for mark in marks {
        if !seen.contains(&mark.class) {
            seen.push(mark.class);
            let _ = write!(
                out,
                r#"<li><span class="line {}"></span>{}</li>"#,
                mark.class,
                escape(mark_meaning(mark))
            );
        }
    }
    out.push_str("</ul>");
    out
}

/// What a mark's line stands for, for the legend.
fn mark_meaning(mark: &Mark) -> &str {
    match mark.class {
        "sent" => "sent: the push left the server",
        "due" => "due: when it should have rung",
        "arrived" => "arrived: it reached the device",
        "recovered" => "woken: the outage ended",
        _ => &mark.label,
    }
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
        let drawing = render(
            &timeline,
            w,
            &[Mark {
                at: at(1050),
                label: "sent <x>".into(),
                class: "sent",
            }],
            at(1050),
        );
        let svg = drawing.svg;
        assert!(svg.contains("url(#outside)"), "{svg}");
        assert!(svg.contains("sent &lt;x&gt;"), "{svg}");
        assert!(!svg.contains("<x>"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn every_state_kind_has_its_own_colour_and_class() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                assert_ne!(a.colour, b.colour, "{} and {}", a.class, b.class);
                assert_ne!(a.class, b.class);
                assert_ne!(a.label, b.label);
            }
        }
        let reconnecting = State::Apns(ApnsState::Reconnecting { interface: None });
        let idle = State::Radio(Radio::Idle { interface: None });
        assert_ne!(kind_of(&reconnecting).colour, kind_of(&idle).colour);
    }

    #[test]
    fn close_marks_stack_on_rows_and_the_legend_names_what_is_drawn() {
        let mut b = TimelineBuilder::new();
        b.observe(at(1000));
        b.observe(at(1300));
        let timeline = b.finish();
        let mark = |s: i64, label: &str, class: &'static str| Mark {
            at: at(s),
            label: label.into(),
            class,
        };
        // Three marks within 4 s: at this scale their labels would overlap on two rows.
        let marks = [
            mark(1100, "sent", "sent"),
            mark(1102, "woken", "recovered"),
            mark(1104, "arrived", "arrived"),
            mark(1110, "due", "due"),
        ];
        let window = Window::around(at(1100), &[at(1110)]);
        let drawing = render(&timeline, window, &marks, at(1100));
        let rows: Vec<&str> = drawing
            .svg
            .match_indices(r#"<text class="mark-label"#)
            .map(|(i, _)| {
                let rest = &drawing.svg[i..];
                let y = rest.find(" y=\"").unwrap() + 4;
                &rest[y..y + rest[y..].find('"').unwrap()]
            })
            .collect();
        assert_eq!(rows, ["13", "27", "41", "55"], "{}", drawing.svg);
        assert!(
            drawing.legend.contains("the log does not say"),
            "{}",
            drawing.legend
        );
        assert!(drawing.legend.contains("sent: the push left the server"));
        assert!(drawing.legend.contains("woken: the outage ended"));
        assert!(
            !drawing.legend.contains("APNs connected"),
            "only what is drawn"
        );
    }
}
