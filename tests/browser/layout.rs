//! The page on a phone and on a wide screen, and what it costs to load.

use serde::Deserialize;

use crate::harness::{Browsers, Viewport};
use crate::page::{PAGES, STRATEGIES};
use crate::server::App;

#[derive(Deserialize, Debug)]
struct Fit {
    inner_width: u32,
    width: u32,
    scroll_width: u32,
    sticking_out: Vec<String>,
    tiny_text: Vec<String>,
    split_cookie_names: Vec<String>,
    column_tops: Vec<f64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_a_wide_screen_without_sideways_scrolling() {
    let Some(browsers) =
        Browsers::start("every_page_fits_a_phone_and_a_wide_screen_without_sideways_scrolling").await
    else {
        return;
    };
    let app = App::start().await;
    for viewport in [Viewport::Phone, Viewport::Desktop] {
        let v = browsers.open(&app, viewport).await;
        // The widest content the app allows: a 200-character word, and cookies to show.
        for slug in STRATEGIES {
            v.paste_and_add(slug, &"W".repeat(200)).await;
            v.add(slug, "short item").await;
        }
        for path in PAGES {
            v.goto(path).await;
            let fit: Fit = v.js(FIT).await;
            let at = format!("{path} at {viewport:?}");
            assert_eq!(fit.inner_width, viewport.width(), "{at}: the viewport");
            assert!(fit.scroll_width <= fit.width, "{at}: scrolls sideways ({} px wide)", fit.scroll_width);
            assert!(fit.sticking_out.is_empty(), "{at}: past the right edge: {:?}", fit.sticking_out);
            assert!(fit.tiny_text.is_empty(), "{at}: text under 12 px: {:?}", fit.tiny_text);
            assert!(
                fit.split_cookie_names.is_empty(),
                "{at}: names split over lines: {:?}",
                fit.split_cookie_names
            );
            if path == "/" {
                let side_by_side = fit.column_tops.windows(2).all(|w| (w[0] - w[1]).abs() < 1.0);
                let stacked = fit.column_tops.windows(2).all(|w| w[1] > w[0]);
                match viewport {
                    Viewport::Desktop => {
                        assert!(side_by_side, "three columns side by side: {:?}", fit.column_tops)
                    }
                    Viewport::Phone => assert!(stacked, "columns stacked: {:?}", fit.column_tops),
                }
            }
        }
    }
}

/// Layout facts about the page; `width` leaves out a vertical scrollbar. The skip link sits
/// off-screen on purpose until it has focus.
const FIT: &str = r#"
const width = document.documentElement.clientWidth;
const all = Array.from(document.querySelectorAll('body *:not(.skip)'));
const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '');
return {
  inner_width: innerWidth,
  width,
  scroll_width: document.documentElement.scrollWidth,
  sticking_out: all.filter(e => e.getBoundingClientRect().right > width + 0.5).map(name),
  tiny_text: all.filter(e => Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())
                          && parseFloat(getComputedStyle(e).fontSize) < 12).map(name),
  split_cookie_names: Array.from(document.querySelectorAll('.panel td:first-child code'))
    .filter(e => e.getClientRects().length > 1)
    .map(e => e.textContent),
  column_tops: Array.from(document.querySelectorAll('.columns > .strategy'),
                          e => e.getBoundingClientRect().top),
};
"#;

#[derive(Deserialize, Debug)]
struct Weight {
    scripts: u32,
    stylesheets: u32,
    fetched: Vec<String>,
    html_bytes: u64,
    css_bytes: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_one_html_file_and_one_stylesheet_under_30_kb() {
    let Some(browsers) = Browsers::start("pages_are_one_html_file_and_one_stylesheet_under_30_kb").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    for slug in STRATEGIES {
        a.add(slug, "an item").await;
    }
    let mut css_bytes = 0;
    for path in PAGES {
        a.goto(path).await;
        let weight: Weight = a.js(WEIGHT).await;
        assert_eq!(weight.scripts, 0, "{path}: no scripts");
        assert_eq!(weight.stylesheets, 1, "{path}: one stylesheet");
        // The browser may take the stylesheet from its cache after the first page; the
        // favicon request is answered with an empty 204.
        assert!(
            weight.fetched.iter().all(|p| p == "/static/style.css" || p == "/favicon.ico"),
            "{path}: fetched {:?}",
            weight.fetched
        );
        css_bytes = css_bytes.max(weight.css_bytes);
        let total = weight.html_bytes + css_bytes;
        assert!(
            css_bytes > 0 && total < 30_000,
            "{path}: {} B of HTML + {css_bytes} B of CSS",
            weight.html_bytes
        );
    }
}

/// What the page loaded, from the browser's own Resource Timing records.
const WEIGHT: &str = r#"
const resources = performance.getEntriesByType('resource');
const css = resources.find(r => r.name.endsWith('/static/style.css'));
return {
  scripts: document.scripts.length,
  stylesheets: document.styleSheets.length,
  fetched: resources.map(r => new URL(r.name).pathname),
  html_bytes: performance.getEntriesByType('navigation')[0].decodedBodySize,
  css_bytes: css ? css.decodedBodySize : 0,
};
"#;
