//! Just enough SVG for the HTML report's charts, written by hand: a document builder whose
//! output is the same bytes for the same input (coordinates rounded to 0.1 px), linear and
//! logarithmic scales with "nice" ticks, and the text-width estimate the charts lay out their
//! labels with.
//!
//! No plotting crate: the report must be one self-contained file with no script, and the charts
//! are few and simple. Labels are placed from an estimate of their width (no font metrics are
//! available when the file is written), so the estimate is deliberately generous: the browser
//! test measures the real boxes and fails when two labels overlap.

use std::fmt::Write as _;

/// Escapes text for HTML and SVG content and attribute values (`&`, `<`, `>`, `"`, `'`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate or length, rounded to 0.1 px so the output is stable and short.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "0".to_string();
    }
    let rounded = (x * 10.0).round() / 10.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}

/// Width in px of `text` at `size` px in a sans-serif font, over-estimated: 0.66 em a character
/// covers the digits and most letters of DejaVu Sans and Helvetica, the widest common defaults.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.66
}

/// `text` cut to at most `max_px` wide (with "…"), or whole; whether it was cut.
pub fn truncate(text: &str, size: f64, max_px: f64) -> (String, bool) {
    if text_width(text, size) <= max_px {
        return (text.to_string(), false);
    }
    let keep = ((max_px / (size * 0.66)).floor() as usize).saturating_sub(1);
    let mut cut: String = text.chars().take(keep).collect();
    cut.push('…');
    (cut, true)
}

/// Horizontal anchor of a text label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }

    /// The left edge of a label `width` wide anchored at `x`.
    pub fn left(self, x: f64, width: f64) -> f64 {
        match self {
            Anchor::Start => x,
            Anchor::Middle => x - width / 2.0,
            Anchor::End => x - width,
        }
    }
}

/// One `<svg>` element being written.
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    /// A rectangle; `class` styles it from the page's CSS.
    pub fn rect(&mut self, class: &str, x: f64, y: f64, w: f64, h: f64) {
        let _ = writeln!(
            self.body,
            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}"/>"#,
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0))
        );
    }

    pub fn line(&mut self, class: &str, x1: f64, y1: f64, x2: f64, y2: f64) {
        let _ = writeln!(
            self.body,
            r#"<line class="{class}" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    pub fn circle(&mut self, class: &str, x: f64, y: f64, r: f64, title: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<circle class="{class}" cx="{}" cy="{}" r="{}""#,
            num(x),
            num(y),
            num(r)
        );
        self.close("circle", title);
    }

    /// A filled polygon or open polyline through `points`.
    pub fn path(&mut self, class: &str, points: &[(f64, f64)], closed: bool, title: Option<&str>) {
        if points.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{},{}",
                if i == 0 { "M" } else { " L" },
                num(*x),
                num(*y)
            );
        }
        if closed {
            d.push_str(" Z");
        }
        let _ = write!(self.body, r#"<path class="{class}" d="{d}""#);
        self.close("path", title);
    }

    /// A text label. `title`, when given, is the tooltip (the whole text of a truncated label).
    pub fn text(
        &mut self,
        class: &str,
        x: f64,
        y: f64,
        anchor: Anchor,
        text: &str,
        title: Option<&str>,
    ) {
        let _ = write!(
            self.body,
            r#"<text class="{class}" x="{}" y="{}" text-anchor="{}">"#,
            num(x),
            num(y),
            anchor.as_str()
        );
        if let Some(title) = title {
            let _ = write!(self.body, "<title>{}</title>", escape(title));
        }
        let _ = writeln!(self.body, "{}</text>", escape(text));
    }

    fn close(&mut self, element: &str, title: Option<&str>) {
        match title {
            Some(title) => {
                let _ = writeln!(self.body, "><title>{}</title></{element}>", escape(title));
            }
            None => self.body.push_str("/>\n"),
        }
    }

    /// The finished element: `id` and `class` for the page, `label` read by screen readers.
    pub fn finish(self, id: &str, class: &str, label: &str) -> String {
        format!(
            "<svg id=\"{}\" class=\"{class}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
             width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\n{}</svg>\n",
            escape(id),
            escape(label),
            self.body,
            w = num(self.width),
            h = num(self.height),
        )
    }
}

/// A linear map from a domain to pixels.
#[derive(Clone, Copy, Debug)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Linear {
    pub fn at(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

/// A base-10 logarithmic map from a positive domain to pixels.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Log {
    pub fn at(&self, v: f64) -> f64 {
        let (a, b) = (self.d0.log10(), self.d1.log10());
        if b == a {
            return (self.r0 + self.r1) / 2.0;
        }
        let v = v.max(self.d0).min(self.d1).log10();
        self.r0 + (v - a) / (b - a) * (self.r1 - self.r0)
    }
}

/// A tick step of 1, 2 or 5 × 10^k that cuts `0..=max` into at most about `count` parts.
pub fn nice_step(max: f64, count: usize) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / count.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Ticks `0, step, 2·step, …` up to the first at or above `max`, and that last tick (the axis's
/// top). Each tick is computed as `i · step` so no error accumulates.
pub fn linear_ticks(max: f64, count: usize) -> (Vec<f64>, f64) {
    let step = nice_step(max, count);
    let n = (max / step).ceil().max(1.0) as usize;
    let ticks: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
    let top = ticks.last().copied().unwrap_or(step);
    (ticks, top)
}

/// The 1-2-5 ticks between `low` and `high` (both positive).
pub fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    if !(low > 0.0 && high >= low && high.is_finite()) {
        return ticks;
    }
    let first = low.log10().floor() as i32;
    let last = high.log10().ceil() as i32;
    for k in first..=last {
        for m in [1.0, 2.0, 5.0] {
            let t = m * 10f64.powi(k);
            if t >= low * (1.0 - 1e-9) && t <= high * (1.0 + 1e-9) {
                ticks.push(t);
            }
        }
    }
    ticks
}

/// Which of the labels (left edge, width), in order along an axis, can be drawn without two of
/// them overlapping (with `gap` px between): greedy, the first label always kept.
pub fn keep_apart(boxes: &[(f64, f64)], gap: f64) -> Vec<bool> {
    let mut keep = Vec::with_capacity(boxes.len());
    let mut right = f64::NEG_INFINITY;
    for &(left, width) in boxes {
        if left >= right + gap {
            keep.push(true);
            right = left + width;
        } else {
            keep.push(false);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let mut svg = Svg::new(100.0, 20.0);
        svg.text("label", 1.0, 2.0, Anchor::Start, "<b>", Some("a\"<script>"));
        let out = svg.finish("x\"y", "chart", "<label>");
        assert!(!out.contains("<b>"), "{out}");
        assert!(!out.contains("<script>"), "{out}");
        assert!(out.contains("id=\"x&quot;y\""), "{out}");
        assert!(out.contains("<title>a&quot;&lt;script&gt;</title>&lt;b&gt;</text>"));
    }

    #[test]
    fn shapes_with_titles_close_their_own_element() {
        let mut svg = Svg::new(10.0, 10.0);
        svg.circle("dot", 1.0, 2.0, 3.0, Some("p50 <1 ms>"));
        svg.path("band", &[(0.0, 0.0), (1.0, 1.0)], true, Some("t"));
        svg.path("line", &[(0.0, 0.0), (1.25, 1.0)], false, None);
        let out = svg.finish("c", "chart", "c");
        assert!(out.contains(
            r#"<circle class="dot" cx="1" cy="2" r="3"><title>p50 &lt;1 ms&gt;</title></circle>"#
        ));
        assert!(out.contains(r#"<path class="band" d="M0,0 L1,1 Z"><title>t</title></path>"#));
        assert!(
            out.contains(r#"<path class="line" d="M0,0 L1.3,1"/>"#),
            "{out}"
        );
    }

    #[test]
    fn ticks_are_nice_and_cover_the_data() {
        let (ticks, top) = linear_ticks(0.137, 5);
        assert_eq!(top, 0.15000000000000002);
        assert_eq!(ticks.len(), 4);
        assert_eq!(nice_step(7.0, 5), 2.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
        assert_eq!(
            log_ticks(30.0, 1200.0),
            vec![50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        assert!(log_ticks(0.0, 10.0).is_empty());
    }

    #[test]
    fn scales_map_ends_to_ends() {
        let x = Linear {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 200.0,
        };
        assert_eq!(x.at(5.0), 150.0);
        let flat = Linear { d1: 0.0, ..x };
        assert_eq!(flat.at(3.0), 150.0);
        let l = Log {
            d0: 10.0,
            d1: 1000.0,
            r0: 0.0,
            r1: 200.0,
        };
        assert!((l.at(100.0) - 100.0).abs() < 1e-9);
        assert_eq!(l.at(1.0), 0.0);
    }

    #[test]
    fn labels_that_would_overlap_are_dropped_and_long_ones_cut() {
        let keep = keep_apart(&[(0.0, 30.0), (20.0, 30.0), (40.0, 30.0)], 4.0);
        assert_eq!(keep, vec![true, false, true]);
        let (cut, was) = truncate("carrier=Orange ∧ os_version=26.2", 10.0, 60.0);
        assert!(was);
        assert!(text_width(&cut, 10.0) <= 60.0, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("ok", 10.0, 60.0), ("ok".to_string(), false));
    }

    #[test]
    fn numbers_are_rounded_to_a_tenth() {
        assert_eq!(num(1.04), "1");
        assert_eq!(num(1.06), "1.1");
        assert_eq!(num(-3.0), "-3");
        assert_eq!(num(f64::NAN), "0");
    }
}
