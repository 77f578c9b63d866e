//! Behind a port forwarder that rewrites `Origin` as GitHub Codespaces' does (the browser's
//! `Origin` names the forwarded address, the app receives `http://localhost:<port>`, `Host`
//! stays as the browser sent it): what a same-origin form and another site's form get.

use crate::support::http::http;
use crate::support::proxy::origin::OriginRewriter;
use crate::support::server::Server;
use crate::support::visitor::figment;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_origin_passes_when_sec_fetch_site_says_same_origin() {
    let server = Server::start(figment()).await;
    let forwarder = OriginRewriter::start(server.port).await;
    let port = forwarder.proxy.port;
    let own_page = format!("http://127.0.0.1:{port}");
    let post = |headers: Vec<(&'static str, String)>| async move {
        let mut all: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        all.push(FORM);
        http(port, "POST", "/global/items", &all, "item=forwarded&return_to=/").await
    };

    let browser = post(vec![("Sec-Fetch-Site", "same-origin".into()), ("Origin", own_page.clone())]).await;
    assert_eq!(browser.status, 303, "a form of the app's own page: {}", browser.body);
    assert_eq!(forwarder.rewritten(), 1, "the forwarder changed its Origin");

    // Without Sec-Fetch-Site (a browser from before 2023), Origin against Host is all there
    // is, and the rewritten Origin does not match: refused, as Go's rule refuses it.
    let old_browser = post(vec![("Origin", own_page.clone())]).await;
    assert_eq!(old_browser.status, 403, "{}", old_browser.body);
    assert!(old_browser.body.contains("is not this host"), "{}", old_browser.body);

    // Another site's page: its Origin is not rewritten, and Sec-Fetch-Site gives it away.
    let elsewhere = vec![("Sec-Fetch-Site", "same-site".into()), ("Origin", "http://127.0.0.1:1".into())];
    let attack = post(elsewhere).await;
    assert_eq!(attack.status, 403, "{}", attack.body);
    assert_eq!(forwarder.rewritten(), 2, "only the app's own Origin is rewritten");

    let list = http(port, "GET", "/api/global/items", &[], "").await;
    assert!(list.body.contains(r#"["forwarded"]"#), "one item arrived: {}", list.body);
}
