#![no_main]
//! Fuzzes the `idevicesyslog` reader.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(Some("idevicesyslog".parse().expect("known format")), data));
