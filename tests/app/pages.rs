//! What the pages say and show, checked against what the app does: the panels' numbers are
//! the browser's, the text names what the server keeps, and a refused form leaves nothing to
//! re-post on reload.

use rocket::http::Status;
use server_side_sessions::item::MAX_ITEMS;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::{figment, App};

const C: Slug = Slug::CookieSession;

/// A refused form change answers like an accepted one, `303 See Other` back to the page, so a
/// reload repeats the `GET` and never the `POST`. The reason rides in the `flash` cookie (as
/// `HttpOnly` as the others), which the panel names apart from the list's own cookies, and the
/// page deletes after showing it once.
#[tokio::test]
async fn a_refused_form_change_redirects_and_a_reload_shows_the_page_without_posting_again() {
    let app = App::new().await;
    for slug in Slug::ALL {
        let me = app.visitor();
        for i in 0..MAX_ITEMS {
            me.add(slug, &i.to_string()).await;
        }
        let refused = me.post_form(&format!("/{}/items", slug.as_str()), "item=one+too+many").await;
        assert_eq!(refused.status, Status::SeeOther, "{slug:?}: {}", refused.body);
        assert_eq!(refused.header("Location"), Some(format!("/{}", slug.page().as_str())).as_deref());
        let flash = refused.set_cookies().into_iter().find(|c| c.starts_with("flash=")).map(str::to_owned);
        let flash = flash.unwrap_or_else(|| panic!("{slug:?}: no flash cookie"));
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(flash.contains(attribute), "{slug:?}: {flash}");
        }
        let page = me.follow(&refused).await;
        assert_eq!(page.status, Status::Ok, "{slug:?}");
        assert!(page.body.contains("at most 100 items"), "{slug:?}: the reason is shown");
        assert!(page.body.contains("<code>flash</code>"), "{slug:?}: the panel names the cookie");
        assert!(
            page.body.contains("which is not this list's: the app's one-minute cookie that carried why your last change was refused"),
            "{slug:?}: and says what it is"
        );
        assert!(!page.body.contains("<td><code>flash</code>"), "{slug:?}: not among the list's own cookies");
        assert!(page.set_cookies().iter().any(|c| c.starts_with("flash=;")), "{slug:?}: and deletes it");
        let reloaded = me.get(&format!("/{}", slug.page().as_str())).await;
        assert!(!reloaded.body.contains("at most 100 items"), "{slug:?}: shown once");
        assert_eq!(me.items(slug).await.len(), MAX_ITEMS, "{slug:?}: nothing was added");
    }
}

/// The panel's size column is what the browser stores and devtools shows: name plus value as
/// sent in `Set-Cookie`, percent-encoded (`%2F` is 3 bytes), not the decoded value.
#[tokio::test]
async fn the_panel_counts_each_cookie_as_its_set_cookie_header_sends_it() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in [Slug::ServerSession, Slug::CookieSession, Slug::SignedSession] {
        let added = me.add(slug, "a/b=c+d \"quoted\"").await;
        let name_value = added.set_cookies()[0].split(';').next().unwrap().to_owned();
        let (name, value) = name_value.split_once('=').unwrap();
        let sent = name.len() + value.len();
        let page = me.get(&format!("/{}", slug.page().as_str())).await.body;
        let shown = format!("<code>{name}</code></td><td class=\"size\">{sent}&thinsp;/&thinsp;4096&nbsp;B");
        assert!(page.contains(&shown), "{slug:?}: the page shows {sent} bytes for {name}");
        let inspect = me.get("/api/inspect").await.json();
        let received = inspect["received"].as_array().unwrap().iter().find(|c| c["name"] == name).cloned();
        assert_eq!(received.map(|c| c["bytes"].clone()), Some(sent.into()), "{slug:?}");
        if slug != Slug::ServerSession {
            assert!(value.contains('%'), "{slug:?}: the value has encoded characters to count: {value}");
        }
    }
}

/// The page says exactly what the server keeps for a private cookie: no list, and one epoch
/// per family that signed out everywhere, in two sentences in the column (the lookup it costs
/// in the explanation), and where it is seen.
#[tokio::test]
async fn the_private_cookie_page_names_what_the_server_keeps() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "x").await;
    let body = me.get("/cookie-session").await.body;
    // The private cookie's column and explanation; the signed cookie's section follows.
    let page = &body[..body.find("id=\"signed-session\"").expect("the signed-cookie section")];
    for claim in
        ["keeps nothing", "nothing on the server", "no server state", "Scales for free", "Not revocable"]
    {
        assert!(!page.contains(claim), "the private-cookie page must not say {claim:?}");
    }
    for fact in [
        "the server keeps no list",
        "the memory store keep one epoch for your cookie family for 8 h",
        "in this process only: another instance, or this one after a restart, does not see it",
        "a read checks the copy without a network call",
        "per cookie family that signed out everywhere, one epoch",
    ] {
        assert!(page.contains(fact), "the page names what the server keeps: {fact:?}");
    }
    let inspect = me.get("/api/inspect").await.json();
    let facts = inspect["cookie_session"]["server"].to_string();
    assert!(facts.contains("one epoch for your cookie family"), "{facts}");
}

/// The opening tag of the button labelled `label`.
fn button<'a>(page: &'a str, label: &str) -> &'a str {
    let end = page.find(&format!(">{label}</button>")).unwrap_or_else(|| panic!("no {label} button"));
    &page[page[..end].rfind("<button").expect("an opening tag")..end]
}

/// Before the first change the page says a session strategy has no cookie *yet*, and the
/// buttons that act on a session are disabled with a line saying why; after it they act.
#[tokio::test]
async fn buttons_act_only_on_what_exists_and_the_page_says_why() {
    let app = App::new().await;
    let me = app.visitor();
    let page = me.get("/").await.body;
    assert!(page.contains("No cookie: this list is the same for every visitor"), "global: none at all");
    assert_eq!(page.matches("No cookie yet: your first change to this list sets one.").count(), 2);
    for label in ["Rotate id", "End session", "Sign out everywhere", "Clear list"] {
        assert!(button(&page, label).contains(" disabled"), "{label}: {}", button(&page, label));
    }
    assert!(page.contains("Rotate id and End session act on a session: your first change starts one."));
    assert!(page.contains("Sign out everywhere acts on a cookie: your first change sets one."));

    me.add(Slug::ServerSession, "x").await;
    me.add(C, "x").await;
    let page = me.get("/").await.body;
    for label in ["Rotate id", "End session", "Sign out everywhere"] {
        assert!(!button(&page, label).contains(" disabled"), "{label}: {}", button(&page, label));
    }
    assert!(!page.contains("act on a session"), "the reason goes with the disabled state");
}

/// Pages are rendered from a copy of the template registry, and a debug build (as `cargo run`
/// and these tests are) still shows an edited template on the next request, the explanations
/// rendered once per load included.
#[tokio::test]
async fn an_edited_template_shows_on_the_next_request_in_a_debug_build() {
    let dir = tempfile::tempdir().expect("a template folder");
    copy_dir(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates"), dir.path());
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
