#![no_main]
//! Fuzzes the `pymobiledevice3` reader.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("pymobiledevice3".parse().expect("known format")), data));
