//! The browser console stays clean while a visitor uses every page and every button.

use crate::harness::{Browsers, Viewport};
use crate::page::{PAGES, STRATEGIES};
use crate::server::{App, Elsewhere};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn using_every_page_and_button_logs_no_console_error() {
    let Some(browsers) = Browsers::start("using_every_page_and_button_logs_no_console_error").await else {
        return;
    };
    let app = App::start().await;
    let elsewhere = Elsewhere::start(&app).await;
    // A fresh profile, so the browser's first visit (and its favicon request) is to the app.
    let a = browsers.open(&app, Viewport::Desktop).await;

    // Every form and every page. CSP violations would be console errors too. (The 404 page
    // is left out: a browser logs every 4xx page load as an error, by design.)
    for slug in STRATEGIES {
        a.add(slug, "first").await;
        a.add(slug, "second").await;
        a.submit_with(&format!("#{slug} ol.items li:first-child button")).await;
        a.submit_with(&format!("form[action='/{slug}/clear'] button")).await;
        a.add(slug, "third").await;
    }
    a.submit_with("form[action='/server-session/rotate'] button").await;
    a.submit_with("form[action='/server-session/end'] button").await;
    for path in &PAGES[..4] {
        a.goto(path).await;
    }
    let errors = a.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // Proof that the log is read at all: a page with a missing image logs an error.
    a.visit(&elsewhere.url("/console-probe")).await;
    let probe = a.console_errors().await;
    assert!(
        probe.iter().any(|m| m.contains("missing.png") && m.contains("404")),
        "the check sees errors: {probe:?}"
    );
}
