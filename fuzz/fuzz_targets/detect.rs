#![no_main]
//! Fuzzes the `detect` reader by format detection, then whichever reader it picks.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_as(None, data));
