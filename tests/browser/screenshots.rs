//! Screenshots of the comparison page as two visitors see it, wide and on a phone, and of the
//! signed cookie's section of the private-cookie page.
//!
//! Every run takes them (so a page that no longer renders fails here) and writes them under
//! the build directory; with `UPDATE_SCREENSHOTS=1` (`scripts/screenshots.sh`) they replace the
//! README's images in `docs/`. Not on every run: the pages show start times and instance
//! ids, so each run's PNGs differ and would dirty the work tree.

use std::path::PathBuf;

use crate::harness::{Browsers, Viewport};
use crate::page::Browser;
use crate::server::App;

/// Each image stays small enough for a README.
const MAX_PNG_BYTES: usize = 400 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_show_two_visitors_on_a_wide_screen_and_a_phone() {
    let Some(browsers) = Browsers::start("screenshots_show_two_visitors_on_a_wide_screen_and_a_phone").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    let b = browsers.open(&app, Viewport::Desktop).await;
    for (slug, item) in [
        ("global", "milk"),
        ("server-session", "draft: reply to Sam"),
        ("server-session", "call the bank"),
        ("cookie-session", "theme: dark"),
        ("cookie-session", "language: en"),
    ] {
        a.add(slug, item).await;
    }
    for (slug, item) in [
        ("global", "coffee beans"),
        ("server-session", "B's own note"),
        ("cookie-session", "B's cart: 1 book"),
    ] {
        b.add(slug, item).await;
    }
    a.reload().await;
    assert_eq!(a.items("global").await, ["milk", "coffee beans"], "A sees B's global item");

    // The same visitor A on a phone: A's cookies carry A's state to the other device.
    let phone = browsers.open(&app, Viewport::Phone).await;
    for cookie in a.client.get_all_cookies().await.expect("A's cookies") {
        phone.add_cookie(cookie.name(), cookie.value(), cookie.http_only().unwrap_or(false)).await;
    }
    phone.reload().await;
    assert_eq!(phone.items("cookie-session").await, ["theme: dark", "language: en"]);

    let dir = output_dir();
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    save(&a, &dir.join("screenshot-desktop-a.png"), 1440, true).await;
    save(&b, &dir.join("screenshot-desktop-b.png"), 1440, true).await;
    a.goto("/cookie-session").await;
    a.add("signed-session", "theme: dark").await;
    assert_eq!(a.items("signed-session").await, ["theme: dark"]);
    // The signed cookie's section, one screen high: the whole page would be a very tall image.
    a.client.set_window_size(Viewport::Desktop.width(), 1100).await.expect("resize");
    let _: serde_json::Value =
        a.js("document.getElementById('signed-session').scrollIntoView(); return null").await;
    save(&a, &dir.join("screenshot-signed-cookie.png"), 1440, false).await;
    // Device pixel ratio 2: the phone's 360 CSS pixels are 720 image pixels. One screen
    // high, as a phone shows it: the whole stacked page would be a very tall image.
    save(&phone, &dir.join("screenshot-phone.png"), 720, false).await;
}

fn output_dir() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

/// Save a PNG of what the browser shows, first growing the window to the whole page if asked.
async fn save(browser: &Browser, path: &std::path::Path, expected_width: u32, whole_page: bool) {
    if whole_page {
        // From a short window: a window grown for an earlier, taller page would stay that tall.
        browser.client.set_window_size(browser.viewport.width(), 600).await.expect("resize");
        let (page, inner, outer): (u32, u32, u32) =
            browser.js("return [document.documentElement.scrollHeight, innerHeight, outerHeight]").await;
        browser
            .client
            .set_window_size(browser.viewport.width(), page + (outer - inner))
            .await
            .expect("resize");
    }
    let png = browser.screenshot().await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}: a PNG", path.display());
    // The IHDR chunk, first in every PNG, starts with the width (big-endian, at byte 16).
    let width = u32::from_be_bytes(png[16..20].try_into().expect("four bytes"));
    assert_eq!(width, expected_width, "{}: image width", path.display());
    assert!(png.len() < MAX_PNG_BYTES, "{}: {} bytes", path.display(), png.len());
    std::fs::write(path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("screenshot: {} ({} KB)", path.display(), png.len() / 1024);
}
