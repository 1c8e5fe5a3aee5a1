#![no_main]
//! Fuzzes the `default` reader.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("default".parse().expect("known format")), data));
