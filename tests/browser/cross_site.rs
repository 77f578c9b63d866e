//! A page on another origin posting to the app: the browser sends it, the app refuses it.

use crate::harness::{Browsers, Viewport};
use crate::server::{App, Elsewhere};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_on_another_local_origin_is_refused_and_changes_nothing() {
    let Some(browsers) =
        Browsers::start("a_form_on_another_local_origin_is_refused_and_changes_nothing").await
    else {
        return;
    };
    let app = App::start().await;
    let elsewhere = Elsewhere::start(&app).await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    a.add("global", "before the attack").await;

    // Same host, another port: another origin (and, since ports do not count for sites,
    // `Sec-Fetch-Site: same-site`, which the app refuses too).
    a.visit(&elsewhere.url("/form")).await;
    a.submit_with("#send").await;

    assert_eq!(a.status().await, 403, "the browser got the app's refusal");
    let url = a.client.current_url().await.expect("the url");
    assert_eq!(url.as_str(), app.url("/global/items"), "the refusal is the app's answer, not a redirect");
    let message = a.text("p.error").await.unwrap_or_default();
    assert!(message.contains("cross-site request refused"), "the page says why: {message:?}");
    assert_eq!(a.text("h1").await.as_deref(), Some("403 Forbidden"));

    a.goto("/").await;
    assert_eq!(a.items("global").await, ["before the attack"], "the planted item was not added");
}
