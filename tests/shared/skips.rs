//! Tests that pass without running, counted, so `cargo test` cannot hide them.
//!
//! A test whose server or browser is missing prints `SKIPPED: <test>: <why>` and returns. libtest
//! still counts it as passed, and its summary line cannot say otherwise; so each skip is also
//! counted here by reason, and when the test binary exits (after libtest has printed its
//! `test result:` line) the count is printed: the binary's last line. Shared by both test
//! binaries (`#[path]` in each `main.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, Once};

static SKIPS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
static AT_EXIT: Once = Once::new();

/// Says that `test` is skipped and why, and counts it under `why`.
pub fn skipped(test: &str, why: &str) {
    // Straight to the process's stderr: libtest would swallow `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    if let Ok(mut skips) = SKIPS.lock() {
        *skips.entry(why.to_owned()).or_default() += 1;
    }
    // SAFETY: `atexit` registers a plain function once; `report` takes no arguments and does
    // not unwind (it catches every error).
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(report);
    });
}

/// The summary, printed as the process exits: `std::process::exit` and returning from `main`
/// both run `atexit` handlers, so it comes after libtest's own summary, whether tests passed
/// or failed.
extern "C" fn report() {
    let Ok(skips) = SKIPS.lock() else { return };
    let total: usize = skips.values().sum();
    let reasons: Vec<String> = skips.iter().map(|(why, n)| format!("{n} {why}")).collect();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {total} of the tests above: they passed without running, {}",
        reasons.join("; ")
    );
}
