#![no_main]
//! Fuzzes the `unifiedlog-csv` reader.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("unifiedlog-csv".parse().expect("known format")), data));
