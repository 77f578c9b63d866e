//! End-to-end tests in a real browser: headless Chromium, driven over WebDriver (chromedriver),
//! against the real app on a free port. Each test plays one or two visitors with separate
//! browser profiles, uses the page's own forms and buttons, and reads the cookie jar the way
//! devtools shows it.
//!
//! Without Chromium and chromedriver every test prints `SKIPPED: ...` and passes; CI sets
//! `REQUIRE_BROWSER=1`, which turns a missing browser into a failure. The binary's last line
//! counts the skipped tests.

mod harness;
mod page;
// The one proxy of the test tree, shared with tests/app; this binary uses only its
// Origin-rewriting mode.
#[allow(dead_code)]
#[path = "../app/support/proxy/mod.rs"]
mod proxy;
mod server;
#[path = "../shared/skips.rs"]
mod skips;

mod console;
mod cross_site;
mod devtools;
mod forwarded;
mod keyboard;
mod layout;
mod screenshots;
mod visitors;
