//! The app behind a port forwarder that rewrites `Origin` as GitHub Codespaces' does: the
//! browser's `Origin` names the address it sees, the app receives `http://localhost:<port>`,
//! and `Host` stays as the browser sent it. Same-origin forms must still work, because
//! `Sec-Fetch-Site` says `same-origin`; another site's page must still be refused.

use crate::cross_site::{every_attempt_is_refused, AnotherSite, LISTS};
use crate::harness::{Browsers, Viewport};
use crate::proxy::origin::OriginRewriter;
use crate::server::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_codespaces_style_forwarder_forms_work_and_the_cross_site_page_is_refused() {
    let test = "behind_a_codespaces_style_forwarder_forms_work_and_the_cross_site_page_is_refused";
    let Some(browsers) = Browsers::start(test).await else { return };
    let app = App::start().await;
    let forwarder = OriginRewriter::start(app.port()).await;
    let public = format!("http://127.0.0.1:{}", forwarder.proxy.port);
    let a = browsers.open_at(public.clone(), Viewport::Desktop).await;

    for slug in LISTS {
        for item in ["first", "second"] {
            a.add(slug, item).await;
            assert_eq!(a.status().await, 200, "{slug}: the form post of {item:?} was not refused");
        }
        assert_eq!(a.items(slug).await, ["first", "second"], "{slug}: both posts arrived");
    }
    a.submit_with("#global ol.items li:first-child button").await;
    assert_eq!(a.items("global").await, ["second"], "the remove form works too");
    let rewritten = forwarder.rewritten();
    assert!(rewritten >= 7, "the forwarder rewrote the Origin of every form post, only {rewritten}");

    let site = AnotherSite::start(&public);
    every_attempt_is_refused(&a, &site).await;
    a.goto("/").await;
    assert_eq!(a.items("global").await, ["second"], "nothing was planted in global");
    for slug in &LISTS[1..] {
        assert_eq!(a.items(slug).await, ["first", "second"], "nothing was planted in {slug}");
    }
}
