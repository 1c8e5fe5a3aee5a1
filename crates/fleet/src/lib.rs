//! Cohort analytics over many pushes: what happened to every push a service sent, and what
//! makes the failing ones different.
//!
//! # Brief overview
//!
//! (Being built: see the modules.)

pub mod onset;
pub mod pushdown;
pub mod sketch;
pub mod stats;
pub mod synthetic;
