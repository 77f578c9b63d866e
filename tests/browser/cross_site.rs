//! Pages on another origin writing to the app: the browser sends what they ask (or, for a
//! fetch() of JSON, asks the app first and stops), and the app refuses every write.

use crate::harness::{Browsers, Viewport};
use crate::page::Browser;
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

/// The attacker's page of `scripts/cross-site.sh` (README, exercise 9), started by the test on
/// a free port and stopped when dropped, aimed at the app at `app_url`.
pub struct AnotherSite {
    child: std::process::Child,
    pub url: String,
}

impl AnotherSite {
    pub fn start(app_url: &str) -> AnotherSite {
        use std::io::BufRead;
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = std::process::Command::new(format!("{root}/scripts/cross-site.sh"))
            .args(["--app", app_url, "--port", "0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("scripts/cross-site.sh starts (needs python3)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its output");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("its first line");
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://")).expect("the page's URL").to_owned();
        AnotherSite { child, url }
    }
}

impl Drop for AnotherSite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const LISTS: [&str; 3] = ["global", "server-session", "cookie-session"];

/// Exercise 9's page: for each list, a fetch() of the form is sent and refused unseen, a
/// fetch() of JSON is stopped by the browser before it is sent, and a forged form post shows
/// the app's 403; afterwards every list holds only what the visitor put there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cross_site_page_tries_every_list_and_each_attempt_is_refused() {
    let test = "the_cross_site_page_tries_every_list_and_each_attempt_is_refused";
    let Some(browsers) = Browsers::start(test).await else { return };
    let app = App::start().await;
    let site = AnotherSite::start(&app.url(""));
    let a = browsers.open(&app, Viewport::Desktop).await;
    for slug in LISTS {
        a.add(slug, "mine").await;
    }
    every_attempt_is_refused(&a, &site).await;
    a.goto("/").await;
    for slug in LISTS {
        assert_eq!(a.items(slug).await, ["mine"], "nothing was planted in {slug}");
    }
}

/// Presses every button of exercise 9's page, and checks what each attempt shows.
pub async fn every_attempt_is_refused(a: &Browser, site: &AnotherSite) {
    a.visit(&site.url).await;
    for slug in LISTS {
        for (kind, expected) in
            [("form", "Sent, with your cookies"), ("json", "Blocked before the write was sent")]
        {
            let _: serde_json::Value =
                a.js(&format!("document.getElementById('fetch-{kind}-{slug}').click()")).await;
            let output = format!("document.getElementById('{kind}-{slug}').textContent");
            a.wait_for(&format!("return !['', 'sending...'].includes({output})")).await;
            let said = a.text(&format!("#{kind}-{slug}")).await.unwrap_or_default();
            assert!(said.starts_with(expected), "{kind} fetch to {slug}: {said}");
        }
    }
    for slug in LISTS {
        a.visit(&site.url).await;
        a.submit_with(&format!("#post-{slug}")).await;
        assert_eq!(a.status().await, 403, "the forged form to {slug} got the app's refusal");
        let message = a.text("p.error").await.unwrap_or_default();
        assert!(message.contains("cross-site request refused"), "{slug}: {message:?}");
    }
}
