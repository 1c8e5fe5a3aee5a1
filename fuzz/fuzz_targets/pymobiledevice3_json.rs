#![no_main]
//! Fuzzes the `pymobiledevice3-json` reader (`syslog live --format json`).

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("pymobiledevice3-json".parse().expect("known format")), data));
