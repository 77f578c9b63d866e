//! Rules every strategy shares, each test run against all of them (the signed-cookie
//! demonstrator included).

use rocket::http::Status;
use server_side_sessions::item::MAX_ITEMS;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::App;

#[tokio::test]
async fn add_list_remove_clear_through_the_api() {
    let app = App::new().await;
    for slug in Slug::ALL {
        let me = app.visitor();
        let api = format!("/api/{}/items", slug.as_str());
        assert!(me.items(slug).await.is_empty(), "{slug:?}");

        let added = me.add(slug, "  milk  ").await;
        assert_eq!(added.status, Status::Created, "{slug:?}: {}", added.body);
        assert_eq!(added.items(), ["milk"], "{slug:?}: trimmed");
        me.add(slug, "eggs").await;
        me.add(slug, "bread").await;
        assert_eq!(me.items(slug).await, ["milk", "eggs", "bread"], "{slug:?}");

        let removed = me.delete(&format!("{api}/1")).await;
        assert_eq!(removed.status, Status::Ok, "{slug:?}");
        assert_eq!(removed.items(), ["milk", "bread"], "{slug:?}");

        let missing = me.delete(&format!("{api}/2")).await;
        assert_eq!(missing.status, Status::NotFound, "{slug:?}");
        assert!(missing.error().contains("no item at index 2"), "{slug:?}: {}", missing.body);

        let cleared = me.delete(&api).await;
        assert_eq!(cleared.status, Status::Ok, "{slug:?}");
        assert!(cleared.items().is_empty(), "{slug:?}");
        assert!(me.items(slug).await.is_empty(), "{slug:?}");
    }
}

#[tokio::test]
async fn forms_change_the_list_and_redirect_back_without_open_redirects() {
    let app = App::new().await;
    for slug in Slug::ALL {
        let me = app.visitor();
        let page = format!("/{}", slug.page().as_str());
        // The signed cookie is not on the comparison page, so it never returns there.
        let home = if Slug::COMPARED.contains(&slug) { "/" } else { page.as_str() };
        let cases = [
            ("item=a", page.as_str()),
            ("item=b&return_to=%2F", home),
            ("item=c&return_to=https%3A%2F%2Fevil.test", page.as_str()),
            ("item=d&return_to=%2F%2Fevil.test", page.as_str()),
        ];
        for (body, location) in cases {
            let resp = me.post_form(&format!("/{}/items", slug.as_str()), body).await;
            assert_eq!(resp.status, Status::SeeOther, "{slug:?} {body}: {}", resp.body);
            assert_eq!(resp.header("Location"), Some(location), "{slug:?} {body}");
        }
        assert_eq!(me.items(slug).await, ["a", "b", "c", "d"], "{slug:?}");

        let resp = me.post_form(&format!("/{}/items/0/delete", slug.as_str()), "return_to=%2F").await;
        assert_eq!((resp.status, resp.header("Location")), (Status::SeeOther, Some(home)), "{slug:?}");
        assert_eq!(me.items(slug).await, ["b", "c", "d"], "{slug:?}");

        let resp = me.post_form(&format!("/{}/clear", slug.as_str()), "").await;
        assert_eq!(
            (resp.status, resp.header("Location")),
            (Status::SeeOther, Some(page.as_str())),
            "{slug:?}"
        );
        assert!(me.items(slug).await.is_empty(), "{slug:?}");
    }
}

#[tokio::test]
async fn invalid_items_are_refused_and_change_nothing() {
    let app = App::new().await;
    for slug in Slug::ALL {
        let me = app.visitor();
        me.add(slug, "kept").await;
        let too_long = "x".repeat(201);
        for (bad, why) in [
            ("", "empty"),
            ("   ", "empty"),
            (too_long.as_str(), "at most 200"),
            ("two\nlines", "single line"),
            ("tab\there", "control"),
        ] {
            let resp = me.add(slug, bad).await;
            assert_eq!(resp.status, Status::UnprocessableEntity, "{slug:?} {bad:?}");
            assert!(resp.error().contains(why), "{slug:?} {bad:?}: {}", resp.body);

            let form = format!("item={}&return_to=%2F", bad.replace('\n', "%0A").replace('\t', "%09"));
            let refused = me.post_form(&format!("/{}/items", slug.as_str()), &form).await;
            let page = me.follow(&refused).await;
            assert_eq!(page.status, Status::Ok, "{slug:?} form {bad:?}");
            assert!(page.body.contains("class=\"error\""), "{slug:?}: the page shows the reason");
            assert!(page.body.contains(why), "{slug:?}: the page shows the reason");
        }
        assert_eq!(me.items(slug).await, ["kept"], "{slug:?}");
        let exactly_200: String = "é".repeat(200);
        assert_eq!(me.add(slug, &exactly_200).await.status, Status::Created, "{slug:?}: 200 chars is fine");
    }
}

#[tokio::test]
async fn each_list_is_capped_with_a_clear_refusal() {
    let app = App::new().await;
    for slug in Slug::ALL {
        let me = app.visitor();
        for i in 0..MAX_ITEMS {
            assert_eq!(me.add(slug, &i.to_string()).await.status, Status::Created, "{slug:?} item {i}");
        }
        let refused = me.add(slug, "one too many").await;
        assert_eq!(refused.status, Status::UnprocessableEntity, "{slug:?}");
        assert!(refused.error().contains("at most 100 items"), "{slug:?}: {}", refused.body);
        let items = me.items(slug).await;
        assert_eq!(items.len(), MAX_ITEMS, "{slug:?}");
        assert_eq!(items.last().map(String::as_str), Some("99"), "{slug:?}");
    }
}

#[tokio::test]
async fn stored_markup_is_shown_as_text() {
    let app = App::new().await;
    let me = app.visitor();
    let attack = r#"<script>alert("x")</script><img src=x onerror=alert(1)> {{title}}"#;
    for slug in Slug::ALL {
        me.add(slug, attack).await;
    }
    for page in ["/", "/global", "/server-session", "/cookie-session"] {
        let body = me.get(page).await.body;
        // Twice per list: as the item, and in its Remove button's label.
        let shown = 2 * if page == "/" { 3 } else { 1 + usize::from(page == "/cookie-session") };
        assert_eq!(
            body.matches("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;").count(),
            shown,
            "{page}"
        );
        assert!(!body.contains("<script>"), "{page}: raw script tag");
        assert!(!body.contains("<img src=x"), "{page}: raw img tag");
        assert!(body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "{page}: escaped text");
        assert!(body.contains("{{title}}"), "{page}: template syntax in data is not evaluated");
    }
}

#[tokio::test]
async fn pages_render_for_every_strategy_and_show_both_sides() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in Slug::ALL {
        me.add(slug, "visible item").await;
    }
    let home = me.get("/").await;
    assert_eq!(home.status, Status::Ok);
    for slug in Slug::COMPARED {
        assert!(home.body.contains(&format!("id=\"{}\"", slug.as_str())), "{slug:?} column");
    }
    assert!(!home.body.contains("id=\"signed-session\""), "the comparison keeps its three columns");
    let moved = me.get("/signed-session").await;
    assert_eq!(moved.header("Location"), Some("/cookie-session#signed-session"));
    for slug in Slug::ALL {
        let page = me.get(&format!("/{}", slug.page().as_str())).await;
        assert_eq!(page.status, Status::Ok, "{slug:?}");
        assert!(page.body.contains("visible item"), "{slug:?}");
        assert!(
            page.body.contains("What your browser holds") && page.body.contains("What the server holds"),
            "{slug:?}"
        );
        assert!(page.body.contains(slug.summary()), "{slug:?}");
    }
    assert!(
        home.body.contains("<code>session_id</code>") && home.body.contains("<code>cookie_session</code>")
    );
    let instance = me.get("/api/inspect").await.json()["instance"]["id"].as_str().unwrap().to_owned();
    assert!(home.body.contains(&instance), "the page names the instance that answered");
    assert_eq!(me.get("/nowhere").await.status, Status::NotFound);
    assert_eq!(me.get("/static/style.css").await.header("Content-Type"), Some("text/css"));
}

#[tokio::test]
async fn answers_that_depend_on_cookies_are_never_cached() {
    let app = App::new().await;
    let me = app.visitor();
    for path in [
        "/",
        "/global",
        "/server-session",
        "/cookie-session",
        "/api/global/items",
        "/api/inspect",
        "/api/server-session/items",
    ] {
        let resp = me.get(path).await;
        assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{path}");
        assert_eq!(resp.header("Vary"), Some("Cookie"), "{path}");
    }
    let added = me.add(Slug::CookieSession, "x").await;
    assert_eq!(added.header("Cache-Control"), Some("no-store"));
}

#[tokio::test]
async fn health_check_answers() {
    let app = App::new().await;
    let resp = app.visitor().get("/healthz").await;
    assert_eq!(resp.status, Status::Ok);
    assert_eq!(resp.json()["status"], "ok");
}

/// The API's list (`Strategy::items`) and the panels' view (`Strategy::view`, which
/// `/api/inspect` shows) are two code paths: they must never disagree.
#[tokio::test]
async fn the_api_list_and_the_inspected_view_agree() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in Slug::ALL {
        assert!(me.items(slug).await.is_empty(), "{slug:?}");
        for item in ["one", "two <b>", "three"] {
            me.add(slug, item).await;
        }
    }
    let inspect = me.get("/api/inspect").await.json();
    for slug in Slug::ALL {
        let key = slug.as_str().replace('-', "_");
        let viewed: Vec<String> = serde_json::from_value(inspect[&key]["items"].clone()).unwrap();
        assert_eq!(viewed, me.items(slug).await, "{slug:?}");
        assert_eq!(viewed, ["one", "two <b>", "three"], "{slug:?}");
    }
}

/// Handlebars re-indents every line a partial outputs when the `{{> ...}}` tag stands
/// indented on its own line; that alone was a third of a page's rendering time
/// (BENCHMARKS.md). Standalone partial tags stay at column 0.
#[test]
fn standalone_partial_tags_are_not_indented() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut files = vec![dir.clone()];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let tag = line.trim();
            let standalone = tag.starts_with("{{>") && tag.ends_with("}}") && tag.matches("{{").count() == 1;
            assert!(
                !(standalone && line.starts_with(char::is_whitespace)),
                "{}:{}: move `{tag}` to column 0",
                path.display(),
                n + 1
            );
            checked += usize::from(standalone);
        }
    }
    assert!(checked >= 3, "expected the layout, index and strategy partial tags, found {checked}");
}
