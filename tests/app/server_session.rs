//! Server-side sessions: an opaque id in the browser, the list in the store.

use rocket::http::Status;
use server_side_sessions::session_id::SessionId;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::{figment, App};

const S: Slug = Slug::ServerSession;

#[tokio::test]
async fn reading_creates_nothing() {
    let app = App::new().await;
    let stranger = app.visitor();
    for i in 0..1000 {
        let path = ["/", "/server-session", "/api/server-session/items", "/api/inspect"][i % 4];
        let resp = stranger.get(path).await;
        assert!(resp.set_cookies().is_empty(), "{path} set a cookie");
    }
    assert_eq!(app.session_count().await, 0);
    // Clearing or removing from nothing is not a reason to start a session either.
    assert_eq!(stranger.delete("/api/server-session/items").await.status, Status::Ok);
    assert_eq!(stranger.delete("/api/server-session/items/0").await.status, Status::NotFound);
    assert_eq!(app.session_count().await, 0);
    assert_eq!(stranger.cookie("session_id"), None);
}

#[tokio::test]
async fn the_first_write_creates_one_session_whose_cookie_holds_only_the_id() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "first").await;
    let id = me.cookie("session_id").expect("a session cookie");
    assert!(SessionId::parse(&id).is_some(), "a 256-bit url-safe id: {id}");
    assert_eq!(app.session_count().await, 1);
    for i in 0..20 {
        let resp = me.add(S, &format!("a longer item number {i} to make the list grow")).await;
        assert!(resp.set_cookies().is_empty(), "the id is set once, not on every write");
    }
    assert_eq!(me.cookie("session_id"), Some(id), "same id, same size, however long the list");
    assert_eq!(app.session_count().await, 1);
}

#[tokio::test]
async fn planted_unknown_or_malformed_ids_are_never_adopted() {
    let app = App::new().await;
    let planted = SessionId::generate().expose().to_owned();
    for value in [planted.as_str(), "attacker-chosen", "", "%00", &"A".repeat(43)] {
        let victim = app.visitor();
        victim.set_cookie("session_id", value);
        assert!(victim.items(S).await.is_empty());
        let resp = victim.add(S, "secret").await;
        assert_eq!(resp.status, Status::Created);
        let issued = victim.cookie("session_id").expect("a fresh id");
        assert_ne!(issued, value, "the planted id was adopted");

        // The attacker who planted the id sees nothing of the victim's data.
        let attacker = app.visitor();
        attacker.set_cookie("session_id", value);
        assert!(attacker.items(S).await.is_empty(), "{value:?}");
    }
}

#[tokio::test]
async fn rotating_moves_the_data_to_a_new_id_and_the_old_one_leads_there_only_for_the_grace() {
    let app = App::with(figment().merge(("session_rotation_grace", 1))).await;
    let me = app.visitor();
    me.add(S, "keep me").await;
    let old = me.cookie("session_id").unwrap();
    let resp = me.post_form("/server-session/rotate", "return_to=%2F").await;
    assert_eq!((resp.status, resp.header("Location")), (Status::SeeOther, Some("/")));
    let new = me.cookie("session_id").unwrap();
    assert_ne!(old, new);
    assert_eq!(me.items(S).await, ["keep me"]);
    assert_eq!(app.session_count().await, 1);

    // Another tab whose request was already on its way with the old id loses nothing, and its
    // answer points it at the new id.
    let other_tab = app.visitor();
    other_tab.set_cookie("session_id", &old);
    assert_eq!(other_tab.add(S, "from the other tab").await.status, Status::Created);
    assert_eq!(other_tab.cookie("session_id"), Some(new.clone()));
    assert_eq!(me.items(S).await, ["keep me", "from the other tab"]);

    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let thief = app.visitor();
    thief.set_cookie("session_id", &old);
    assert!(thief.items(S).await.is_empty(), "the old id is dead after the grace window");
    thief.add(S, "thief").await;
    assert!(![Some(old), Some(new)].contains(&thief.cookie("session_id")), "and never revived");
    assert_eq!(me.items(S).await, ["keep me", "from the other tab"]);
}

#[tokio::test]
async fn ending_the_session_deletes_the_record_and_the_cookie() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "private").await;
    let old = me.cookie("session_id").unwrap();
    let resp = me.post_form("/server-session/end", "").await;
    assert_eq!((resp.status, resp.header("Location")), (Status::SeeOther, Some("/server-session")));
    assert!(
        resp.set_cookies().iter().any(|c| c.starts_with("session_id=;") && c.contains("Max-Age=0")),
        "{:?}",
        resp.set_cookies()
    );
    assert_eq!(me.cookie("session_id"), None);
    assert_eq!(app.session_count().await, 0);

    // A copy of the old cookie replays nothing.
    let copy = app.visitor();
    copy.set_cookie("session_id", &old);
    assert!(copy.items(S).await.is_empty());
    let page = copy.get("/server-session").await;
    assert!(page.body.contains("expired or ended"), "the page explains the dead id");
}

#[tokio::test]
async fn idle_sessions_expire_on_the_server_and_are_purged() {
    let app =
        App::with(figment().merge(("session_idle_timeout", 1)).merge(("session_max_lifetime", 60))).await;
    let me = app.visitor();
    me.add(S, "short-lived").await;
    assert_eq!(app.session_count().await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await; // sleeps never end early
    assert!(me.items(S).await.is_empty(), "idle timeout passed");
    assert_eq!(app.session_count().await, 0);
    me.add(S, "again").await;
    assert_eq!(me.items(S).await, ["again"], "a write after expiry starts over with a fresh id");
}

#[tokio::test]
async fn activity_cannot_stretch_a_session_past_its_absolute_lifetime() {
    // Reads every 700 ms against a 2 s idle timeout (only a 1.3 s stall could fail them),
    // until the 3 s absolute lifetime has passed.
    let app =
        App::with(figment().merge(("session_idle_timeout", 2)).merge(("session_max_lifetime", 3))).await;
    let me = app.visitor();
    me.add(S, "busy").await;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        assert_eq!(me.items(S).await, ["busy"], "activity keeps it from idling out");
    }
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert!(me.items(S).await.is_empty(), "3 s absolute lifetime passed");
}

#[tokio::test]
async fn inspect_shows_the_store_and_this_visitors_record() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "one").await;
    let inspect = me.get("/api/inspect").await.json();
    assert_eq!(inspect["store"]["backend"], "memory");
    assert_eq!(inspect["store"]["sessions"], 1);
    assert_eq!(inspect["server_session"]["items"][0], "one");
    assert!(inspect["server_session"]["expires_at"].as_str().unwrap().ends_with('Z'));
    let received = inspect["received"].as_array().unwrap();
    let cookie = received.iter().find(|c| c["name"] == "session_id").unwrap();
    assert_eq!(cookie["bytes"], "session_id".len() + 43);
    assert_eq!(cookie["status"], "live session");
    let id = me.cookie("session_id").unwrap();
    assert!(!inspect.to_string().contains(&id), "the full id is never echoed back");
}
