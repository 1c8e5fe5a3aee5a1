//! The statistics of cohort comparison.
