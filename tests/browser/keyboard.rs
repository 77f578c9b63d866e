//! The page with the keyboard alone: every control labelled, reachable with Tab, its focus
//! visible, and a form that works with Enter.

use std::collections::BTreeSet;

use fantoccini::key::Key;
use serde::Deserialize;

use crate::harness::{Browsers, Viewport};
use crate::page::STRATEGIES;
use crate::server::App;

/// Everything the keyboard should reach.
const CONTROLS: &str = "a[href], input:not([type=hidden]), button";

#[derive(Deserialize, Debug)]
struct Focus {
    index: i64,
    name: String,
    focus_visible: bool,
    outline: String,
    on_screen: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_reaches_every_control_with_visible_focus_and_adds_an_item() {
    let Some(browsers) =
        Browsers::start("the_keyboard_alone_reaches_every_control_with_visible_focus_and_adds_an_item").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    for slug in STRATEGIES {
        a.add(slug, &format!("an item in {slug}")).await; // so there are Remove buttons too
    }
    a.goto("/").await;

    let unlabelled: Vec<String> = a.js(UNLABELLED).await;
    assert!(unlabelled.is_empty(), "controls without a label or name: {unlabelled:?}");

    let controls: usize = a.js(&format!("return document.querySelectorAll('{CONTROLS}').length")).await;
    let mut reached = BTreeSet::new();
    for step in 0..controls + 3 {
        a.press(&[Key::Tab]).await;
        let focus: Focus = a.js(&FOCUS.replace("CONTROLS", CONTROLS)).await;
        if focus.index < 0 {
            break; // focus left the page's controls: the end of the tab order
        }
        if step == 0 {
            assert!(
                focus.name.contains("Skip to content"),
                "the first Tab lands on the skip link: {focus:?}"
            );
        }
        assert!(focus.focus_visible, "{} has focus but not :focus-visible", focus.name);
        assert!(
            !focus.outline.starts_with("none") && !focus.outline.ends_with(" 0px"),
            "no outline on {focus:?}"
        );
        assert!(focus.on_screen, "{} has focus but is not on screen", focus.name);
        reached.insert(focus.index);
    }
    assert_eq!(reached.len(), controls, "Tab reached {} of {controls} controls", reached.len());

    // Now use it: Tab to the global field, type, press Enter.
    a.goto("/").await;
    for _ in 0..controls {
        a.press(&[Key::Tab]).await;
        if a.js::<bool>("return document.activeElement.id === 'global-item'").await {
            break;
        }
    }
    a.type_text("typed, not clicked").await;
    a.mark_page().await;
    a.press(&[Key::Enter]).await;
    a.wait_for_new_page().await;
    assert_eq!(a.items("global").await, ["an item in global", "typed, not clicked"]);
}

/// Inputs without a `<label>`, and buttons or links without a name a screen reader can say.
const UNLABELLED: &str = r#"
const inputs = Array.from(document.querySelectorAll('input:not([type=hidden])'))
  .filter(e => !Array.from(e.labels).some(l => l.textContent.trim()));
const named = Array.from(document.querySelectorAll('button, a[href]'))
  .filter(e => !(e.getAttribute('aria-label') || e.textContent).trim());
return inputs.concat(named).map(e => e.outerHTML.slice(0, 80));
"#;

/// What has focus now, and whether a sighted keyboard user can see it.
const FOCUS: &str = r#"
const all = Array.from(document.querySelectorAll('CONTROLS'));
const e = document.activeElement;
const s = getComputedStyle(e);
const r = e.getBoundingClientRect();
return {
  index: all.indexOf(e),
  name: e.tagName + (e.id ? '#' + e.id : '') + ' '
        + (e.getAttribute('aria-label') || e.textContent).trim().slice(0, 50),
  focus_visible: e.matches(':focus-visible'),
  outline: s.outlineStyle + ' ' + s.outlineWidth,
  on_screen: r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
             && r.right <= innerWidth && r.bottom <= innerHeight,
};
"#;
