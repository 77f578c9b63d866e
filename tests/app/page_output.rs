//! Every page of one fixed state, byte for byte. The expected HTML in `tests/app/page_output/`
//! is each page as it must stay: any change in what a page says, in its markup or in its
//! escaping fails here, whatever changed how the page is put together.
//!
//! The state is fixed by hand (lists, cookies, facts, errors, notices) rather than read from
//! the strategies, whose ids, ciphertexts and times differ on every run. It holds text that
//! must be escaped in every place a page prints text: items, cookie previews, facts, errors.
//!
//! Each page is answered by a route this test mounts beside the app's own, with the app's own
//! page builder ([`Page::html`], [`catchers::error_page`]) and responder: what is compared is
//! the body a request gets, only the state is fixed.
//!
//! After a deliberate change to a template, write the new pages with
//! `PAGE_OUTPUT=write cargo test --test app page_output` and read the diff before committing.

use std::path::PathBuf;

use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket::State;
use server_side_sessions::instance::InstanceView;
use server_side_sessions::item::{Item, ItemList};
use server_side_sessions::strategy::{CookieView, Fact, Slug, View};
use server_side_sessions::web::catchers;
use server_side_sessions::web::pages::{Column, Page};
use server_side_sessions::web::render::Html;

use crate::support::visitor::{figment, App};

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

/// The start of the expected pages' file names: `home`, or the strategy's slug.
fn file_name(page: Page) -> &'static str {
    match page {
        Page::Home => "home",
        Page::Strategy(slug) => slug.as_str(),
    }
}

/// Every page in the states a visitor can see: empty, short and full lists, a store that is
/// down, a refused change, a cookie that could not be read, and the error page.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let pages = [
        Page::Home,
        Page::Strategy(Slug::Global),
        Page::Strategy(Slug::ServerSession),
        Page::Strategy(Slug::CookieSession),
    ];
    for page in pages {
        let name = file_name(page);
        for n in [0, 1, 10] {
            cases.push((format!("{name}-{n}"), page, instance(Some(8000)), lists(page, n)));
        }
    }

    // The store is down: the server-session column says why and offers no form.
    let mut down = lists(Page::Home, 2);
    down[1] = Column {
        slug: Slug::ServerSession,
        view: None,
        error: Some("the session store is unavailable: connection refused <127.0.0.1:6379>".into()),
        flash: None,
    };
    cases.push(("home-store-down".into(), Page::Home, instance(Some(8000)), down.clone()));
    cases.push((
        "server-session-store-down".into(),
        Page::Strategy(Slug::ServerSession),
        instance(None),
        vec![down[1].clone()],
    ));

    // A change was refused: the column shows the reason, and apart from the list's own
    // cookies, the flash cookie that carried it.
    for page in pages {
        let mut refused = lists(page, 10);
        let first = &mut refused[0];
        let flash = "the reason your last change was refused; this page showed it and deleted it";
        let value = format!("{}:a list holds at most 100 items", first.slug.as_str());
        first.flash = Some(cookie("flash", &value, flash));
        first.error = Some("a list holds at most 100 items & this one is full".into());
        let name = file_name(page);
        cases.push((format!("{name}-refused"), page, instance(Some(8000)), refused));
    }

    // Cookies the server could not use: a notice, and nothing listed.
    let mut unreadable = lists(Page::Strategy(Slug::CookieSession), 0);
    for (column, name) in unreadable.iter_mut().zip(["cookie_session", "signed_session"]) {
        let view = column.view.as_mut().expect("a view");
        view.browser = vec![cookie(name, "tampered/<value>+\"x\"", "could not decrypt")];
        view.notice =
            Some(format!("the {name} cookie could not be read <it was changed>; the list reads as empty"));
    }
    cases.push((
        "cookie-session-unreadable".into(),
        Page::Strategy(Slug::CookieSession),
        instance(Some(8000)),
        unreadable,
    ));
    let mut unknown = lists(Page::Strategy(Slug::ServerSession), 0);
    let view = unknown[0].view.as_mut().expect("a view");
    view.browser = vec![cookie("session_id", "not-an-id-the-server-issued", "unknown or expired id")];
    view.notice = Some("your browser sent a session id this server does not know & ignored".into());
    view.server.truncate(1);
    view.server.push(Fact::new("your record", "none yet: a session is created on your first change"));
    cases.push((
        "server-session-unknown-id".into(),
        Page::Strategy(Slug::ServerSession),
        instance(Some(8000)),
        unknown,
    ));
    cases
}

fn expected_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/app/page_output")
}

/// Compares `html` with the page written before, or writes it under `PAGE_OUTPUT=write`.
fn check(name: &str, html: &str, mismatches: &mut Vec<String>) {
    let path = expected_dir().join(format!("{name}.html"));
    if std::env::var("PAGE_OUTPUT").as_deref() == Ok("write") {
        std::fs::create_dir_all(expected_dir()).expect("the expected-output folder");
        std::fs::write(&path, html).expect("write the expected page");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if expected != html {
        let line = expected.lines().zip(html.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        let at = |text: &str| text.lines().nth(line.saturating_sub(1)).unwrap_or("").to_owned();
        mismatches.push(format!(
            "{name}: first difference at line {line}:\n  was: {}\n  now: {}",
            at(&expected),
            at(html)
        ));
    }
}

/// One page in one fixed state: its expected file's name, the page, and what it shows.
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
async fn every_page_matches_its_expected_html() {
    let client = app_with_fixed_pages().await;
    let mut mismatches = Vec::new();
    let cases = cases();
    for (n, (name, ..)) in cases.iter().enumerate() {
        check(name, &body(&client, format!("/fixed-page/{n}"), Status::Ok).await, &mut mismatches);
    }
    let errors = [
        ("error-404", Status::NotFound, "there is no strategy called `<b>nope</b>`"),
        (
            "error-405",
            Status::MethodNotAllowed,
            "PUT is not allowed on /global; it accepts GET, HEAD, OPTIONS",
        ),
        (
            "error-503",
            Status::ServiceUnavailable,
            "too many sessions & \"more\" are refused; try again in 60 s",
        ),
    ];
    for (name, status, message) in errors {
        let uri = rocket::uri!("/fixed-error", fixed_error(status.code, message)).to_string();
        check(name, &body(&client, uri, status).await, &mut mismatches);
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} pages changed:\n{}",
        mismatches.len(),
        cases.len() + 3,
        mismatches.join("\n")
    );
}

/// The check above can fail: a page that differs by one escaped character is caught.
#[tokio::test]
async fn a_page_that_differs_by_one_escape_is_caught() {
    let client = app_with_fixed_pages().await;
    let home_10 = cases().iter().position(|(name, ..)| name == "home-10").expect("a home-10 case");
    let html = body(&client, format!("/fixed-page/{home_10}"), Status::Ok).await;
    let mut mismatches = Vec::new();
    if std::env::var("PAGE_OUTPUT").as_deref() != Ok("write") {
        check("home-10", &html.replacen("&lt;script&gt;", "<script>", 1), &mut mismatches);
        assert_eq!(mismatches.len(), 1, "an unescaped item must not pass");
    }
}

/// Pages are rendered from a copy of the template registry, and a debug build (as `cargo run`
/// and these tests are) still shows an edited template on the next request, the explanations
/// rendered once per load included.
#[tokio::test]
async fn an_edited_template_shows_on_the_next_request_in_a_debug_build() {
    let dir = tempfile::tempdir().expect("a template folder");
    copy_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates"), dir.path());
    let figment = figment().merge(("template_dir", dir.path()));
    let app = App::with(figment).await;
    let me = app.visitor();
    assert!(me.get("/global").await.body.contains("<h2>How global state works</h2>"));
    let explain = dir.path().join("partials/explain-global.html.hbs");
    let text = std::fs::read_to_string(&explain).expect("the explanation");
    std::fs::write(&explain, text.replace("How global state works", "How global state works, edited"))
        .expect("edit the explanation");
    let layout = dir.path().join("layout.html.hbs");
    let text = std::fs::read_to_string(&layout).expect("the layout");
    std::fs::write(&layout, text.replace("Skip to content", "Skip to the content")).expect("edit the layout");
    let mut page = String::new();
    for _ in 0..100 {
        page = me.get("/global").await.body;
        if page.contains("Skip to the content") && page.contains("How global state works, edited") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the edits did not show within 5 s:\n{page}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read the templates") {
        let entry = entry.expect("a template entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its type").is_dir() {
            std::fs::create_dir_all(&target).expect("a template subfolder");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a template");
        }
    }
}
