//! One visitor's browser, and what a person does with it: open pages, type into the forms,
//! press keys, and look at the cookie jar the way devtools shows it.

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::cookies::Cookie;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::harness::Viewport;

/// The three strategies' slugs: the ids of their columns and the paths of their forms.
pub const STRATEGIES: [&str; 3] = ["global", "server-session", "cookie-session"];
/// Every page a visitor can open, the error page included.
pub const PAGES: [&str; 5] = ["/", "/global", "/server-session", "/cookie-session", "/no-such-page"];

pub struct Browser {
    pub client: Client,
    base: String,
    pub viewport: Viewport,
}

impl Browser {
    pub fn new(client: Client, base: String, viewport: Viewport) -> Browser {
        Browser { client, base, viewport }
    }

    /// Open a path on the app.
    pub async fn goto(&self, path: &str) {
        self.visit(&format!("{}{path}", self.base)).await;
    }

    /// Open any URL (another origin, too).
    pub async fn visit(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn reload(&self) {
        self.client.refresh().await.expect("reload");
    }

    /// Type `text` into a strategy's own "New item" field and press its Add button.
    pub async fn add(&self, slug: &str, text: &str) {
        let input = self.find(&format!("#{slug}-item")).await;
        input.send_keys(text).await.expect("type the item");
        self.submit_with(&format!("#{slug} form.add button[type=submit]")).await;
    }

    /// Like [`Browser::add`], but the text is put into the field in one step, as pasting
    /// does: typing 200 characters key by key takes about a second in WebDriver.
    pub async fn paste_and_add(&self, slug: &str, text: &str) {
        let (field, text) =
            (serde_json::to_string(&format!("{slug}-item")).unwrap(), serde_json::to_string(text).unwrap());
        let _: Value = self.js(&format!("document.getElementById({field}).value = {text}")).await;
        self.submit_with(&format!("#{slug} form.add button[type=submit]")).await;
    }

    /// Click a form's submit button and wait for the page the answer leads to.
    pub async fn submit_with(&self, css: &str) {
        self.mark_page().await;
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.wait_for_new_page().await;
    }

    /// Tag the current document, so [`Browser::wait_for_new_page`] can tell it from the next.
    pub async fn mark_page(&self) {
        let _: Value = self.js("window.__previousPage = true").await;
    }

    /// A click does not always make chromedriver wait for the navigation it starts (POST, 303,
    /// GET): wait until a fresh document, without the mark, has loaded.
    pub async fn wait_for_new_page(&self) {
        self.wait_for("return window.__previousPage !== true && document.readyState === 'complete'").await;
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// The items a strategy's column lists, as the page shows them.
    pub async fn items(&self, slug: &str) -> Vec<String> {
        self.js(&format!(
            "return Array.from(document.querySelectorAll('#{slug} ol.items .text'), e => e.textContent)"
        ))
        .await
    }

    /// The text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let css = serde_json::to_string(css).expect("a string");
        self.js(&format!("const e = document.querySelector({css}); return e && e.textContent.trim()")).await
    }

    /// Run a script in the page and read its result. WebDriver scripts are exempt from the
    /// page's Content-Security-Policy, which allows no scripts of the page's own.
    pub async fn js<T: DeserializeOwned>(&self, script: &str) -> T {
        let value =
            self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}"));
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("unexpected result {value}: {e}"))
    }

    /// The HTTP status of the page now shown (Navigation Timing; WebDriver itself has none).
    pub async fn status(&self) -> u16 {
        self.js("return performance.getEntriesByType('navigation')[0].responseStatus").await
    }

    /// A cookie as the browser stores it (what devtools > Application > Cookies lists).
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        let all = self.client.get_all_cookies().await.expect("read the cookie jar");
        all.into_iter().find(|c| c.name() == name)
    }

    /// Overwrite a cookie's value in the jar, keeping it HttpOnly on path `/`, as a person
    /// editing it in devtools would. WebDriver has no "edit": delete, then add.
    pub async fn set_cookie(&self, name: &str, value: &str) {
        self.client.delete_cookie(name).await.expect("delete the cookie");
        self.add_cookie(name, value, true).await;
    }

    /// Put a cookie for the app's host into the jar. The domain and SameSite are spelled out:
    /// chromedriver rejects the `null` domain and the `SameSite=None` that fantoccini sends
    /// when they are left unset.
    pub async fn add_cookie(&self, name: &str, value: &str, http_only: bool) {
        let cookie = Cookie::build((name.to_owned(), value.to_owned()))
            .domain("127.0.0.1")
            .path("/")
            .http_only(http_only)
            .same_site(cookie::SameSite::Lax)
            .build();
        self.client.add_cookie(cookie).await.unwrap_or_else(|e| panic!("add cookie {name}: {e}"));
    }

    /// Press keys on the keyboard, one after the other, wherever the focus is.
    pub async fn press(&self, keys: &[Key]) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys {
            actions = actions
                .then(KeyAction::Down { value: (*key).into() })
                .then(KeyAction::Up { value: (*key).into() });
        }
        self.client.perform_actions(actions).await.expect("press keys");
    }

    /// Type text with the keyboard into whatever has focus.
    pub async fn type_text(&self, text: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for c in text.chars() {
            actions = actions.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(actions).await.expect("type");
    }

    /// Wait (up to fifteen seconds: a loaded machine is slow) until a script returns `true`.
    pub async fn wait_for(&self, script: &str) {
        for _ in 0..300 {
            if self.client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for `{script}`");
    }

    /// Console messages at level SEVERE (errors, CSP violations, failed loads) since the last
    /// call: chromedriver hands each message out once.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("read the browser log");
        let entries = log.as_array().unwrap_or_else(|| panic!("the browser log is not a list: {log}"));
        entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }
}

/// chromedriver's log endpoint (not part of the W3C standard, hence not in fantoccini), which
/// returns what `goog:loggingPrefs` asked it to collect.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}
