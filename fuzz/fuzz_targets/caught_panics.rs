//! A panic hook for targets whose code under test catches panics of a crate it calls.
//!
//! libfuzzer-sys's panic hook aborts on every panic, caught or not: [`quiet_caught_panics`]
//! replaces it, and [`run`] still lets a panic that escapes the code under test crash the run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

/// Where the panics of the current input happened, for the report of one that escapes.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Replaces libfuzzer-sys's hook (default hook, then `abort`, installed before the first
/// input) with one that only notes where the panic happened. Without it every panic the code
/// under test catches (inside the parquet crate, inside macos-unifiedlogs) would abort the run
/// as a crash. With it a panic that unwinds out of the code under test is still a crash: the body runs inside libfuzzer-sys's
/// `extern "C" fn rust_fuzzer_test_input`, which a panic cannot unwind through (the runtime
/// aborts there), and behind that `LLVMFuzzerTestOneInput` (`test_input_wrap`) runs it under
/// `catch_unwind` and calls `abort` on `Err` (libfuzzer-sys 0.4.13, src/lib.rs). The body
/// prints the noted places first, since by then the stack is unwound.
fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let place = info.location().map_or_else(String::new, |l| l.to_string());
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if let Ok(mut panics) = PANICS.lock()
                && panics.len() < 16
            {
                panics.push(format!("{place}: {message}"));
            }
        }));
    });
}

/// Runs `body` for one input; a panic that escapes it is reported with the caught panics of the
/// input before it, then goes on to crash the run. `what` names the code under test.
pub fn run(what: &str, body: impl FnOnce()) {
    quiet_caught_panics();
    if let Ok(mut panics) = PANICS.lock() {
        panics.clear();
    }
    if let Err(escaped) = panic::catch_unwind(AssertUnwindSafe(body)) {
        if let Ok(panics) = PANICS.lock() {
            eprintln!("a panic escaped {what}; panics of this input: {panics:#?}");
        }
        panic::resume_unwind(escaped);
    }
}
