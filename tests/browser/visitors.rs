//! The lesson's first steps, as a student takes them: two windows, one list shared, two kept
//! apart; then the cookies in devtools.

use fantoccini::cookies::Cookie;

use crate::harness::{Browsers, Viewport};
use crate::page::STRATEGIES;
use crate::server::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_browser_sees_the_global_item_but_neither_session_item() {
    let Some(browsers) =
        Browsers::start("a_second_browser_sees_the_global_item_but_neither_session_item").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    let b = browsers.open(&app, Viewport::Desktop).await;

    for slug in STRATEGIES {
        a.add(slug, &format!("from A to {slug}")).await;
    }

    b.reload().await;
    assert_eq!(b.items("global").await, ["from A to global"], "the global list is one list for everyone");
    assert!(b.items("server-session").await.is_empty(), "A's server session is not B's");
    assert!(b.items("cookie-session").await.is_empty(), "A's cookie is in A's browser only");
    assert!(b.client.get_all_cookies().await.unwrap().is_empty(), "reading pages gave B no cookie");

    a.reload().await;
    for slug in STRATEGIES {
        assert_eq!(a.items(slug).await, [format!("from A to {slug}")], "A keeps its {slug} item");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jar_holds_a_fixed_size_id_and_a_growing_private_cookie_both_hidden_from_scripts() {
    let Some(browsers) = Browsers::start(
        "the_jar_holds_a_fixed_size_id_and_a_growing_private_cookie_both_hidden_from_scripts",
    )
    .await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;

    let (mut id_lengths, mut cookie_lengths) = (vec![], vec![]);
    for n in 1..=4 {
        a.add("server-session", &format!("item number {n}")).await;
        a.add("cookie-session", &format!("item number {n}")).await;
        id_lengths.push(jar_cookie(&a, "session_id").await.value().len());
        cookie_lengths.push(jar_cookie(&a, "cookie_session").await.value().len());
    }
    assert_eq!(id_lengths, [43; 4], "the id is 43 characters however long the list gets");
    assert!(
        cookie_lengths.windows(2).all(|w| w[1] > w[0]),
        "the private cookie grows with every item: {cookie_lengths:?}"
    );

    for name in ["session_id", "cookie_session"] {
        let cookie = jar_cookie(&a, name).await;
        assert_eq!(cookie.http_only(), Some(true), "{name} is HttpOnly in the jar");
        assert_eq!(cookie.path(), Some("/"), "{name} is for the whole site");
        assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax), "{name} is SameSite=Lax");
    }

    // A script-visible cookie next to them shows that document.cookie does work here.
    a.add_cookie("visible", "yes", false).await;
    let seen: String = a.js("return document.cookie").await;
    assert_eq!(seen, "visible=yes", "scripts see neither session_id nor cookie_session");
}

async fn jar_cookie(browser: &crate::page::Browser, name: &str) -> Cookie<'static> {
    browser.cookie(name).await.unwrap_or_else(|| panic!("no {name} cookie in the jar"))
}
