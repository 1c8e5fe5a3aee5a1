#![no_main]
//! Fuzzes the `console` reader.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("console".parse().expect("known format")), data));
