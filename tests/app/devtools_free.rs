//! What a visitor without devtools needs from the page and `/api/inspect`: each cookie's
//! `Set-Cookie` attributes (the Network tab's view), shown exactly as the app sent them, and
//! never a full cookie value (that would hand it to any script on the page and undo HttpOnly).

use server_side_sessions::strategy::Slug;

use crate::support::visitor::{figment, App};

const COOKIES: [Slug; 3] = [Slug::ServerSession, Slug::CookieSession, Slug::SignedSession];

#[tokio::test]
async fn the_page_and_inspect_show_the_attributes_each_set_cookie_carried() {
    for secure in [false, true] {
        let app = App::with(figment().merge(("cookie_secure", secure))).await;
        let me = app.visitor();
        let mut sent = Vec::new();
        for slug in COOKIES {
            let added = me.add(slug, "milk").await;
            sent.extend(added.set_cookies().iter().map(|header| header.to_string()));
        }
        assert_eq!(sent.len(), 3, "one Set-Cookie per list: {sent:?}");
        let inspect = me.get("/api/inspect").await.json();
        let pages = me.get("/").await.body + &me.get("/cookie-session").await.body;
        let pages = pages.replace("&#x3D;", "=");
        for header in &sent {
            let (pair, attributes) = header.split_once("; ").expect("attributes after the value");
            let name = pair.split_once('=').expect("name=value").0;
            assert!(attributes.contains("HttpOnly"), "{header}");
            assert_eq!(attributes.contains("Secure"), secure, "{header}");
            let received = inspect["received"].as_array().expect("received cookies");
            let shown = received.iter().find(|cookie| cookie["name"] == name).expect("the cookie");
            assert_eq!(shown["attributes"], attributes, "/api/inspect, secure {secure}");
            let line = format!("attributes of <code>{name}</code>: <code>{attributes}</code>");
            assert!(pages.contains(&line), "the page shows {line}");
        }
    }
}

#[tokio::test]
async fn no_full_cookie_value_is_shown_on_a_page_or_in_inspect() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in COOKIES {
        me.add(slug, "milk").await;
    }
    let shown = [
        me.get("/api/inspect").await.body,
        me.get("/").await.body,
        me.get("/cookie-session").await.body,
        me.get("/server-session").await.body,
    ];
    for name in ["session_id", "cookie_session", "signed_session"] {
        let value = me.cookie(name).unwrap_or_else(|| panic!("{name} was set"));
        let stored = server_side_sessions::cookie_rules::stored_value(name, &value);
        for body in &shown {
            assert!(!body.contains(&value) && !body.contains(&stored), "{name}'s whole value is shown");
        }
    }
}
