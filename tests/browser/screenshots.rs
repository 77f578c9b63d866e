//! Screenshots of the comparison page as two visitors see it, wide and on a phone, and of the
//! signed cookie's section of the private-cookie page.
//!
//! Every run takes them (so a page that no longer renders fails here) and writes them under
//! the build directory; with `UPDATE_SCREENSHOTS=1` (`scripts/screenshots.sh`) they replace the
//! README's images in `docs/`. Not on every run: the pages show start times and instance
//! ids, so each run's PNGs differ and would dirty the work tree.
//!
//! The images must still show what the pages say. With each image, the text of the page it
//! shows is kept in `docs/screenshots.txt`, with what changes on every run (instance ids,
//! ports, times, cookie values and sizes) replaced by placeholders. Every run compares the
//! pages' text with that file, and fails when a page says something the images do not:
//! the sign to run `scripts/screenshots.sh`, which rewrites both.

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
    let mut texts = String::new();
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    save(&a, &dir.join("screenshot-desktop-a.png"), 1440, true, &mut texts).await;
    save(&b, &dir.join("screenshot-desktop-b.png"), 1440, true, &mut texts).await;
    a.goto("/cookie-session").await;
    a.add("signed-session", "theme: dark").await;
    assert_eq!(a.items("signed-session").await, ["theme: dark"]);
    // The signed cookie's section, one screen high: the whole page would be a very tall image.
    a.client.set_window_size(Viewport::Desktop.width(), 1100).await.expect("resize");
    let _: serde_json::Value =
        a.js("document.getElementById('signed-session').scrollIntoView(); return null").await;
    save(&a, &dir.join("screenshot-signed-cookie.png"), 1440, false, &mut texts).await;
    // Device pixel ratio 2: the phone's 360 CSS pixels are 720 image pixels. One screen
    // high, as a phone shows it: the whole stacked page would be a very tall image.
    save(&phone, &dir.join("screenshot-phone.png"), 720, false, &mut texts).await;
    compare_or_write(&texts);
}

/// The committed text of the pages the screenshots show.
fn texts_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots.txt")
}

/// Writes the pages' text next to new screenshots, or fails when the committed screenshots
/// show another text than the pages now have.
fn compare_or_write(texts: &str) {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        std::fs::write(texts_file(), texts).expect("write docs/screenshots.txt");
        return;
    }
    let committed = std::fs::read_to_string(texts_file()).unwrap_or_default();
    if committed == texts {
        return;
    }
    let first = committed.lines().zip(texts.lines()).position(|(old, new)| old != new);
    let line = first.unwrap_or(committed.lines().count().min(texts.lines().count()));
    let (old, new) = (committed.lines().nth(line), texts.lines().nth(line));
    panic!(
        "the pages' text changed since docs/screenshot-*.png were taken: run scripts/screenshots.sh \
         and commit the images with docs/screenshots.txt.\nFirst difference, line {}:\n  screenshots: {}\n  pages now:   {}",
        line + 1,
        old.unwrap_or("(end)"),
        new.unwrap_or("(end)")
    );
}

/// The visible text of the page `browser` shows, without what differs on every run.
async fn page_text(browser: &Browser) -> String {
    browser.js(PAGE_TEXT).await
}

/// Placeholders for the instance id, the port, times, cookie values (previews, the signed
/// cookie's timestamps, a record key) and cookie sizes (a value's percent-encoding varies).
const PAGE_TEXT: &str = r#"
    let text = document.body.innerText
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, '<time>')
        .replace(/\b\d{13}\b/g, '<ms>')
        .replace(/\S*…\S*/g, '<value>')
        .replace(/\d+\s*\/\s*4096\s*B/g, '<bytes> / 4096 B')
        .replace(/[ \t]+\n/g, '\n');
    const id = document.querySelector('[data-instance]')?.dataset.instance;
    if (id) text = text.split(id).join('<instance>');
    if (location.port) text = text.split(location.port).join('<port>');
    return text;
"#;

fn output_dir() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

/// Save a PNG of what the browser shows, first growing the window to the whole page if asked,
/// and add the page's text to `texts`.
async fn save(
    browser: &Browser,
    path: &std::path::Path,
    expected_width: u32,
    whole_page: bool,
    texts: &mut String,
) {
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
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    texts.push_str(&format!("== {name}\n{}\n", page_text(browser).await.trim_end()));
}
