//! Private cookies: the list itself, encrypted, in the browser.

use rocket::http::Status;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::{figment, flip_one_char, App, KEY, OTHER_KEY};

const C: Slug = Slug::CookieSession;

#[tokio::test]
async fn the_cookie_grows_with_the_list_and_the_server_keeps_no_list() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "first").await;
    let small = me.cookie("cookie_session").expect("a private cookie").len();
    for i in 0..10 {
        me.add(C, &format!("item number {i}")).await;
    }
    let big = me.cookie("cookie_session").unwrap();
    assert!(big.len() > small + 100, "{small} -> {}", big.len());
    assert!(!big.contains("item number"), "the cookie is not readable");
    assert_eq!(app.session_count().await, 0, "nothing in the session store");
    assert_eq!(me.items(C).await.len(), 11);
}

#[tokio::test]
async fn a_tampered_or_foreign_cookie_reads_as_empty_with_a_notice_never_an_error() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "mine").await;
    let good = me.cookie("cookie_session").unwrap();

    let other_app = App::with(figment().merge(("secret_key", OTHER_KEY))).await;
    let foreigner = other_app.visitor();
    foreigner.add(C, "made elsewhere").await;
    let foreign = foreigner.cookie("cookie_session").unwrap();

    let truncated = good[..good.len() - 5].to_owned();
    for bad in [flip_one_char(&good), truncated, foreign, "garbage!".into(), "".into(), "é€😀".into()] {
        let visitor = app.visitor();
        visitor.set_cookie("cookie_session", &bad);
        assert!(visitor.items(C).await.is_empty(), "{bad:?}");
        let page = visitor.get("/cookie-session").await;
        assert_eq!(page.status, Status::Ok);
        if !bad.is_empty() {
            assert!(page.body.contains("could not be decrypted"), "notice for {bad:?}");
        }
        let inspect = visitor.get("/api/inspect").await.json();
        let status = inspect["received"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "cookie_session")
            .map(|c| c["status"].clone());
        if !bad.is_empty() {
            assert_eq!(status, Some("could not decrypt".into()), "{bad:?}");
        }
        // Writing replaces the unreadable cookie with a good one.
        assert_eq!(visitor.add(C, "fresh").await.status, Status::Created);
        assert_eq!(visitor.items(C).await, ["fresh"]);
    }
}

#[tokio::test]
async fn a_private_cookie_under_the_session_id_name_is_not_a_session() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "x").await;
    let sealed = me.cookie("cookie_session").unwrap();
    let other = app.visitor();
    other.set_cookie("session_id", &sealed);
    assert!(other.items(Slug::ServerSession).await.is_empty());
    // And a value sealed for one name does not decrypt under another.
    other.set_cookie("cookie_session", &flip_one_char(&sealed));
    assert!(other.items(C).await.is_empty());
}

#[tokio::test]
async fn a_copied_old_cookie_replays_the_old_list() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "before").await;
    let old = me.cookie("cookie_session").unwrap();
    me.add(C, "after").await;
    me.delete("/api/cookie-session/items/0").await;
    assert_eq!(me.items(C).await, ["after"]);

    let replayer = app.visitor();
    replayer.set_cookie("cookie_session", &old);
    assert_eq!(replayer.items(C).await, ["before"], "the server cannot revoke what it issued");
}

#[tokio::test]
async fn payloads_older_than_the_maximum_lifetime_are_refused() {
    let app = App::with(figment().merge(("session_max_lifetime", 1))).await;
    let me = app.visitor();
    me.add(C, "old").await;
    let copy = me.cookie("cookie_session").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let replayer = app.visitor();
    replayer.set_cookie("cookie_session", &copy);
    assert!(replayer.items(C).await.is_empty(), "expired by the server's clock, whatever the cookie says");
    assert!(replayer.get("/cookie-session").await.body.contains("past its idle timeout or maximum lifetime"));
}

#[tokio::test]
async fn an_add_that_would_pass_4096_bytes_is_refused_and_the_old_cookie_kept() {
    let app = App::new().await;
    let me = app.visitor();
    let item = "y".repeat(200);
    let mut refused = None;
    for i in 0..40 {
        let resp = me.add(C, &item).await;
        for set_cookie in resp.set_cookies() {
            let name_value = set_cookie.split(';').next().unwrap();
            assert!(name_value.len() - 1 <= 4096, "sent a cookie of {} bytes", name_value.len() - 1);
        }
        if resp.status != Status::Created {
            refused = Some((i, resp));
            break;
        }
    }
    let (count, resp) = refused.expect("the cookie must fill up before 40 items of 200 bytes");
    assert_eq!(resp.status, Status::UnprocessableEntity);
    assert!(resp.set_cookies().is_empty(), "the refused add must not touch the cookie");
    let error = resp.error();
    assert!(error.contains("4096") && error.contains("bytes"), "{error}");
    let size: usize =
        error.split_whitespace().find_map(|w| w.parse().ok()).expect("the message gives the size");
    assert!(size > 4096, "{error}");
    assert_eq!(me.items(C).await.len(), count, "the list is intact");

    // Through the form, the page says why and keeps the list. The same add may fit this
    // time: `/` and `+` in the random ciphertext are percent-encoded to 3 bytes each, so the
    // size near the limit varies by a few dozen bytes between seals. Add until refused.
    let mut count = count;
    for _ in 0..10 {
        let written = me.post_form("/cookie-session/items", &format!("item={item}")).await;
        assert_eq!(written.status, Status::SeeOther, "refused or not, a form write redirects");
        let page = me.follow(&written).await;
        if !page.body.contains("class=\"error\"") {
            count += 1;
            assert_eq!(me.items(C).await.len(), count, "an add that fit is kept");
            continue;
        }
        assert!(page.body.contains("cookie_session cookie would be"), "{}", page.body);
        assert!(page.body.contains("over the 4096-byte limit"));
        assert_eq!(me.items(C).await.len(), count, "the refused add changed nothing");
        return;
    }
    panic!("10 more items of 200 bytes never hit the 4096-byte limit");
}

#[tokio::test]
async fn clearing_removes_the_cookie() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "x").await;
    let resp = me.delete("/api/cookie-session/items").await;
    assert!(resp.set_cookies().iter().any(|c| c.starts_with("cookie_session=;")), "{:?}", resp.set_cookies());
    assert_eq!(me.cookie("cookie_session"), None);
}

#[tokio::test]
async fn rotating_the_key_logs_nobody_out() {
    let old_app = App::new().await;
    let me = old_app.visitor();
    me.add(C, "made under the old key").await;
    let old_cookie = me.cookie("cookie_session").unwrap();

    // The new deployment: a new current key, the old one listed as previous.
    let rotated = figment().merge(("secret_key", OTHER_KEY)).merge(("previous_secret_keys", vec![KEY]));
    let new_app = App::with(rotated).await;
    let visitor = new_app.visitor();
    visitor.set_cookie("cookie_session", &old_cookie);
    let resp = visitor.get("/api/cookie-session/items").await;
    assert_eq!(resp.items(), ["made under the old key"]);
    let resealed = visitor.cookie("cookie_session").unwrap();
    assert_ne!(resealed, old_cookie, "re-sealed under the current key on that response");
    let inspect = visitor.get("/api/inspect").await.json();
    assert_eq!(inspect["keys"], serde_json::json!({"previous_keys": 1, "old_key_reads": 1}));

    // Once the old key is retired, the re-sealed cookie still opens.
    let retired = App::with(figment().merge(("secret_key", OTHER_KEY))).await;
    let later = retired.visitor();
    later.set_cookie("cookie_session", &resealed);
    assert_eq!(later.items(C).await, ["made under the old key"]);
    later.set_cookie("cookie_session", &old_cookie);
    assert!(later.items(C).await.is_empty(), "and an un-rotated old cookie no longer does");
}

#[tokio::test]
async fn the_idle_timeout_applies_to_cookies_too_and_reading_keeps_them_alive() {
    // Reads every 500 ms against a 2 s idle timeout: only a stall of 1.5 s on a loaded CI
    // machine could fail it; after five reads (2.5 s) the unused copy has idled out.
    let app =
        App::with(figment().merge(("session_idle_timeout", 2)).merge(("session_max_lifetime", 60))).await;
    let me = app.visitor();
    me.add(C, "kept alive by reading").await;
    let untouched = me.cookie("cookie_session").unwrap();
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(me.items(C).await, ["kept alive by reading"]);
    }
    let copy = app.visitor();
    copy.set_cookie("cookie_session", &untouched);
    assert!(copy.items(C).await.is_empty(), "the copy nobody used has idled out");
    assert!(copy.get("/cookie-session").await.body.contains("idle timeout"));
}

#[tokio::test]
async fn signing_out_everywhere_revokes_every_copy() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(C, "shared device").await;
    let copy_of_cookie = me.cookie("cookie_session").unwrap();
    let resp = me.post_form("/cookie-session/sign-out-everywhere", "return_to=%2F").await;
    assert_eq!((resp.status, resp.header("Location")), (Status::SeeOther, Some("/")));
    assert_eq!(me.cookie("cookie_session"), None, "the cookie is deleted here");

    let thief = app.visitor();
    thief.set_cookie("cookie_session", &copy_of_cookie);
    assert!(thief.items(C).await.is_empty(), "the copy is revoked");
    assert!(thief.get("/cookie-session").await.body.contains("signed out everywhere"));
    let inspect = thief.get("/api/inspect").await.json();
    let status =
        &inspect["received"].as_array().unwrap().iter().find(|c| c["name"] == "cookie_session").unwrap()
            ["status"];
    assert_eq!(status, "revoked");

    // A fresh start is a new family, unaffected.
    me.add(C, "new start").await;
    assert_eq!(me.items(C).await, ["new start"]);
    assert!(me.get("/cookie-session").await.body.contains("revocation"), "the page says where epochs live");
}

/// A plain read answers with a new `Set-Cookie` once the cookie is older than the refresh
/// interval (a quarter of the idle timeout, at most a minute), and not before.
#[tokio::test]
async fn a_read_re_seals_the_cookie_once_it_is_stale_and_not_before() {
    let app = App::with(figment().merge(("session_idle_timeout", 4))).await;
    let me = app.visitor();
    me.add(C, "x").await;
    let fresh = me.get("/api/cookie-session/items").await;
    assert!(fresh.set_cookies().is_empty(), "a fresh cookie is not re-sealed: {:?}", fresh.set_cookies());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stale = me.get("/api/cookie-session/items").await;
    assert!(stale.set_cookies().iter().any(|c| c.starts_with("cookie_session=")), "a GET sets the cookie");
    let page = me.get("/cookie-session").await.body;
    assert!(page.contains("the answer to a plain <code>GET</code> carries a new <code>Set-Cookie</code>"));
}
