//! Cohort analytics over many pushes: what happened to every push a service sent, and what
//! makes the failing ones different.
//!
//! # Brief overview
//!
//! A [`Table`] receives push records (it is a `pushtrace_records::RecordSink`, one per reading
//! thread, merged at the end) and holds each push in 14 bytes: day, interned attribute tuple,
//! [`Outcome`], device, latency bucket, hour of day. [`build::aggregate`] counts it into [`Aggregates`]:
//! daily outcome counts for every push, every attribute value and every combination of up to
//! three values with enough failures, latency sketches and devices. The same aggregates come
//! from PostgreSQL with the counting pushed down as SQL, or from an aggregates file a warehouse
//! wrote. [`analyze()`] turns aggregates into a [`Report`]: rates with Wilson intervals, latency
//! percentiles, what makes the failing pushes different (risk ratios, Fisher or chi-squared,
//! Benjamini–Hochberg, the smallest explaining combination), and when it started (binomial
//! PELT change points). The renderers print it for a terminal, Markdown or one HTML file.

pub mod aggregates;
pub mod aggregates_file;
pub mod analyze;
pub mod build;
mod chart;
pub mod cohort;
pub mod counts;
pub mod html_report;
pub mod markdown_report;
pub mod onset;
pub mod outcome;
pub mod pushdown;
pub mod report;
pub mod sketch;
pub mod stats;
mod svg;
pub mod synthetic;
pub mod table;
#[cfg(test)]
mod test_random;
pub mod text_report;

pub use aggregates::{Aggregates, CohortAggregate};
pub use analyze::{AnalysisOptions, analyze};
pub use build::BuildOptions;
pub use cohort::Cohort;
pub use counts::Counts;
pub use outcome::{Outcome, OutcomeRules};
pub use report::Report;
pub use table::Table;
