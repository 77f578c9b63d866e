//! The pages, byte for byte, as `insta` snapshots (`tests/app/snapshots/`): any change in what
//! a page says, in its markup or in its escaping fails here, whatever changed how the page is
//! put together. Six states are enough to reach every branch of the templates: an empty and a
//! full comparison page, one page per strategy (the three explanations, a store that is down, a
//! cookie that could not be read, the signed cookie's readable value) and the error page.
//!
//! The state is fixed by hand (lists, cookies, facts, errors, notices) rather than read from
//! the strategies, whose ids, ciphertexts and times differ on every run. It holds text that
//! must be escaped in every place a page prints text: items, cookie previews, facts, errors.
//!
//! Each page is answered by a route this test mounts beside the app's own, with the app's own
//! page builder ([`Page::html`], [`catchers::error_page`]) and responder: what is compared is
//! the body a request gets, only the state is fixed.
//!
//! After a deliberate change to a template, review the new pages with `cargo insta review`
//! (from cargo-insta), or accept them all with `INSTA_UPDATE=always cargo test --test app
//! page_output`, and read the diff before committing.

use insta::assert_snapshot;
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket::State;
use server_side_sessions::instance::InstanceView;
use server_side_sessions::item::{Item, ItemList};
use server_side_sessions::strategy::{CookieView, Fact, Slug, View};
use server_side_sessions::web::catchers;
use server_side_sessions::web::pages::{Column, Page};
use server_side_sessions::web::render::Html;

use crate::support::visitor::figment;

/// Items that are hostile to HTML in every way a page could get wrong: markup, attribute
/// breakers, entities, Handlebars' own syntax, and text outside ASCII.
const HOSTILE: [&str; 6] = [
    "<script>alert(\"x\")</script>",
    "a & b &amp; c",
    "it's `quoted` = \"yes\"",
    "{{this}} {{{raw}}} \\{{x}}",
    "café ✓ — naïve 🍪",
    "   spaced   out   ",
];

fn items(n: usize) -> ItemList {
    let mut texts: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    texts.extend((texts.len()..n).map(|i| format!("bench item {i:03}")));
    texts.truncate(n);
    let items = texts.iter().map(|t| Item::parse(t).expect("a valid item")).collect::<Vec<_>>();
    ItemList::try_from(items).expect("a valid list")
}

fn instance(port: Option<u16>) -> InstanceView {
    InstanceView { id: "1a2b3c4d".into(), port, started_at: "2026-12-01T12:00:00Z".into() }
}

fn cookie(name: &str, value: &str, status: &str) -> CookieView {
    CookieView::new(name, value, status)
}

fn global(n: usize) -> View {
    View {
        items: items(n),
        browser: vec![],
        server: vec![
            Fact::new("kept in", "the memory of instance 1a2b3c4d"),
            Fact::new("items", format!("{n} (shared by every visitor of this instance)")),
            Fact::new("lasts", "until this process stops"),
        ],
        expires_at: None,
        notice: None,
    }
}

fn server_session(n: usize) -> View {
    let id = "q3V9pZ0xK2mW7rT4yB8nC1dF6gH5jL0sA9eR2tU4wI8";
    View {
        items: items(n),
        browser: vec![
            cookie("session_id", id, "live session").set_with("HttpOnly; Path=/; Max-Age=28800".into())
        ],
        server: vec![
            Fact::new("kept in", "the memory session store"),
            Fact::new("record key", "sha256(id) = 4f1c0b9a2e7d…"),
            Fact::new("items", n),
            Fact::new("created", "2026-12-01T12:01:02Z"),
            Fact::new("expires", "2026-12-01T12:31:02Z"),
        ],
        expires_at: Some("2026-12-01T12:31:02Z".into()),
        notice: None,
    }
}

fn cookie_session(n: usize) -> View {
    let sealed = "AbC/dEf+GhI=jKl/MnO+PqR/StU+VwX/YzA+bCd/EfG+hIj/KlM+nOp/QrS+tUv/WxY+z01/234+567";
    View {
        items: items(n),
        browser: vec![
            cookie("cookie_session", sealed, "decrypted").set_with("HttpOnly; <Lax> & \"x\"".into())
        ],
        server: vec![
            Fact::new("kept in", "your cookie: the server keeps no list"),
            Fact::new("started", "2026-12-01T12:01:02Z"),
            Fact::new("expires", "2026-12-01T12:31:02Z"),
            Fact::new("revocation", "after Sign out everywhere, the memory store keeps one epoch <b>"),
        ],
        expires_at: Some("2026-12-01T12:31:02Z".into()),
        notice: None,
    }
}

fn signed_session(n: usize) -> View {
    let mut view =
        cookie("signed_session", "c2lnbmF0dXJl/Kw=+{\"v\":1,\"items\":[\"<i>\"]}", "signature verified");
    view.readable = Some("{\"v\":1,\"items\":[\"<script>alert(\\\"x\\\")</script>\",\"a & b\"]}".into());
    View {
        items: items(n),
        browser: vec![view],
        server: vec![
            Fact::new("kept in", "nothing on the server: the list is in your cookie, in plain text"),
            Fact::new("revocation", "none: a copy replays until it expires"),
        ],
        expires_at: None,
        notice: None,
    }
}

fn view(slug: Slug, n: usize) -> View {
    match slug {
        Slug::Global => global(n),
        Slug::ServerSession => server_session(n),
        Slug::CookieSession => cookie_session(n),
        Slug::SignedSession => signed_session(n),
    }
}

fn column(slug: Slug, n: usize) -> Column {
    Column { slug, view: Some(view(slug, n)), error: None, flash: None }
}

/// The lists a page shows, each holding `n` items.
fn lists(page: Page, n: usize) -> Vec<Column> {
    page.slugs().into_iter().map(|slug| column(slug, n)).collect()
}

/// A column as a visitor sees it before any change: no items, no cookie, no session.
fn untouched(slug: Slug) -> Column {
    let mut view = view(slug, 0);
    view.browser.clear();
    view.expires_at = None;
    if slug == Slug::ServerSession {
        view.server.truncate(1);
        view.server.push(Fact::new("your record", "none yet: a session is created on your first change"));
    }
    Column { slug, view: Some(view), error: None, flash: None }
}

/// The five states of the pages that show lists, which with the error page reach every branch
/// of the templates.
fn cases() -> Vec<Case> {
    let home_empty = Slug::COMPARED.map(untouched).to_vec();

    // Full lists and live sessions; a refused change (the reason, and apart from the list's
    // own cookies the flash cookie that carried it) and a notice.
    let mut home_full = lists(Page::Home, 10);
    let flash = "the reason your last change was refused; this page showed it and deleted it";
    home_full[0].flash = Some(cookie("flash", "global:a list holds at most 100 items", flash));
    home_full[0].error = Some("a list holds at most 100 items & this one is full".into());
    home_full[2].view.as_mut().expect("a view").notice =
        Some("The session store is unreachable, so revocation could not be checked <since start>.".into());

    // The store is down: the column says why and offers no form.
    let down = Column {
        slug: Slug::ServerSession,
        view: None,
        error: Some("the session store is unavailable: connection refused <127.0.0.1:6379>".into()),
        flash: None,
    };

    // A private cookie that could not be read beside a signed one anyone can read.
    let mut cookies = lists(Page::Strategy(Slug::CookieSession), 1);
    let unreadable = cookies[0].view.as_mut().expect("a view");
    unreadable.items = ItemList::default();
    unreadable.expires_at = None;
    unreadable.browser = vec![cookie("cookie_session", "tampered/<value>+\"x\"", "could not decrypt")];
    unreadable.notice = Some("the cookie_session cookie could not be read <it was changed>".into());

    let global = lists(Page::Strategy(Slug::Global), 1);
    vec![
        ("home-empty".into(), Page::Home, instance(None), home_empty),
        ("home-full".into(), Page::Home, instance(Some(8000)), home_full),
        ("global".into(), Page::Strategy(Slug::Global), instance(Some(8000)), global),
        ("server-session-store-down".into(), Page::Strategy(Slug::ServerSession), instance(None), vec![down]),
        ("cookie-session".into(), Page::Strategy(Slug::CookieSession), instance(Some(8000)), cookies),
    ]
}

/// One page in one fixed state: its snapshot's name, the page, and what it shows.
type Case = (String, Page, InstanceView, Vec<Column>);

/// The fixed states, for the routes below.
struct Cases(Vec<Case>);

/// Case `n`, answered as the app answers every page.
#[rocket::get("/<n>")]
fn fixed_page(n: usize, cases: &State<Cases>) -> Option<Html> {
    let (_, page, instance, columns) = cases.0.get(n)?;
    Some(page.html(instance.clone(), columns))
}

/// The error page for `code` and `message`, answered as the app answers every error.
#[rocket::get("/<code>?<message>")]
fn fixed_error(code: u16, message: String) -> (Status, Html) {
    catchers::error_page(Status::from_code(code).unwrap_or(Status::InternalServerError), message)
}

/// The app with the two routes above mounted under `/fixed-page/` and `/fixed-error/`.
async fn app_with_fixed_pages() -> Client {
    let rocket = server_side_sessions::build(figment())
        .mount("/fixed-page", rocket::routes![fixed_page])
        .mount("/fixed-error", rocket::routes![fixed_error])
        .manage(Cases(cases()));
    Client::untracked(rocket).await.expect("app launches")
}

/// The body of `uri`, which must answer `status`.
async fn body(client: &Client, uri: String, status: Status) -> String {
    let response = client.get(uri.clone()).dispatch().await;
    assert_eq!(response.status(), status, "{uri}");
    response.into_string().await.unwrap_or_else(|| panic!("{uri}: a body"))
}

#[tokio::test]
async fn every_page_matches_its_snapshot() {
    let client = app_with_fixed_pages().await;
    for (n, (name, ..)) in cases().iter().enumerate() {
        let html = body(&client, format!("/fixed-page/{n}"), Status::Ok).await;
        assert!(!html.contains("<script>alert"), "{name}: an item printed unescaped");
        assert_eq!(html.matches("<h1").count(), 1, "{name}: one level-one heading");
        assert_snapshot!(name.as_str(), html);
    }
    let message = "there is no strategy called `<b>nope</b>`";
    let uri = rocket::uri!("/fixed-error", fixed_error(404, message)).to_string();
    let html = body(&client, uri, Status::NotFound).await;
    assert_eq!(html.matches("<h1").count(), 1, "the error page: one level-one heading");
    assert_snapshot!("error-404", html);
}
