//! A realistic synthetic fleet of push records with planted effects, for benchmarks and tests.
