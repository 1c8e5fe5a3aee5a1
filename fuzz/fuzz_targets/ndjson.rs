#![no_main]
//! Fuzzes the `ndjson` reader.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("ndjson".parse().expect("known format")), data));
