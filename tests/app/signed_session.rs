//! The signed cookie (Flask's default, shown on the private-cookie page): the list in plain
//! sight behind an HMAC-SHA-256 tag. Readable by anyone, changeable by no one without the key.

use rocket::http::Status;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::{figment, flip_one_char, App, KEY, OTHER_KEY};

const S: Slug = Slug::SignedSession;

/// The JSON behind the 44-character tag; the helpers' jar holds values URL-decoded already.
fn readable(value: &str) -> serde_json::Value {
    serde_json::from_str(&value[44..]).unwrap_or_else(|e| panic!("not JSON after the tag ({e}): {value}"))
}

#[tokio::test]
async fn anyone_holding_the_cookie_reads_the_list_and_the_server_keeps_nothing() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "milk").await;
    me.add(S, "a secret").await;
    let value = me.cookie("signed_session").expect("a signed cookie");
    assert_eq!(readable(&value)["items"], serde_json::json!(["milk", "a secret"]), "no key needed");
    assert_eq!(app.session_count().await, 0, "nothing in the session store");

    let page = me.get("/cookie-session").await.body;
    assert!(page.contains("id=\"signed-session\"") && page.contains("id=\"cookie-session\""));
    assert!(page.contains("&quot;items&quot;:[&quot;milk&quot;,&quot;a secret&quot;]"), "the panel shows it");
    let inspect = me.get("/api/inspect").await.json();
    let view = &inspect["signed_session"]["browser"][0];
    assert_eq!(view["status"], "signature verified");
    assert_eq!(readable(&format!("{:44}{}", "", view["readable"].as_str().unwrap()))["items"][0], "milk");
}

#[tokio::test]
async fn a_changed_list_or_a_foreign_key_does_not_verify_and_reads_as_empty() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "milk").await;
    let good = me.cookie("signed_session").unwrap();

    let other_app = App::with(figment().merge(("secret_key", OTHER_KEY))).await;
    let foreigner = other_app.visitor();
    foreigner.add(S, "milk").await;
    let foreign = foreigner.cookie("signed_session").unwrap();

    let forged = good.replace("milk", "mild");
    let cut = good[..40].to_owned();
    for bad in [forged, flip_one_char(&good), foreign, cut, "garbage".into()] {
        let visitor = app.visitor();
        visitor.set_cookie("signed_session", &bad);
        assert!(visitor.items(S).await.is_empty(), "{bad:?}");
        let page = visitor.get("/cookie-session").await;
        assert_eq!(page.status, Status::Ok);
        assert!(page.body.contains("failed its signature check"), "{bad:?}");
        let inspect = visitor.get("/api/inspect").await.json();
        assert_eq!(inspect["signed_session"]["browser"][0]["status"], "signature did not verify");
        assert_eq!(visitor.add(S, "fresh").await.status, Status::Created);
        assert_eq!(visitor.items(S).await, ["fresh"], "the next change replaces it");
    }
}

#[tokio::test]
async fn a_copy_replays_and_the_previous_key_still_verifies() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "before").await;
    let old = me.cookie("signed_session").unwrap();
    me.delete("/api/signed-session/items").await;
    let replayer = app.visitor();
    replayer.set_cookie("signed_session", &old);
    assert_eq!(replayer.items(S).await, ["before"], "nothing on the server can revoke it");

    let rotated = figment().merge(("secret_key", OTHER_KEY)).merge(("previous_secret_keys", vec![KEY]));
    let rotated = App::with(rotated).await;
    let later = rotated.visitor();
    later.set_cookie("signed_session", &old);
    assert_eq!(later.items(S).await, ["before"], "verified under the previous key");
    assert_ne!(later.cookie("signed_session").unwrap(), old, "and signed again under the current one");
}

#[tokio::test]
async fn the_idle_timeout_and_the_maximum_lifetime_apply() {
    let app =
        App::with(figment().merge(("session_idle_timeout", 1)).merge(("session_max_lifetime", 60))).await;
    let me = app.visitor();
    me.add(S, "idle").await;
    let copy = me.cookie("signed_session").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let replayer = app.visitor();
    replayer.set_cookie("signed_session", &copy);
    assert!(replayer.items(S).await.is_empty(), "idled out by the server's clock");
    assert!(replayer.get("/cookie-session").await.body.contains("past its idle timeout or maximum lifetime"));

    let app = App::with(figment().merge(("session_max_lifetime", 1))).await;
    let me = app.visitor();
    me.add(S, "old").await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(me.items(S).await.is_empty(), "past the absolute lifetime");
}

#[tokio::test]
async fn an_add_that_would_pass_4096_bytes_is_refused_and_the_old_cookie_kept() {
    let app = App::new().await;
    let me = app.visitor();
    let item = "\"q\"".repeat(60); // quotes: 3 bytes each once percent-encoded, \" in JSON first
    for i in 0..40 {
        let resp = me.add(S, &item).await;
        for set_cookie in resp.set_cookies() {
            let name_value = set_cookie.split(';').next().unwrap();
            assert!(name_value.len() - 1 <= 4096, "sent a cookie of {} bytes", name_value.len() - 1);
        }
        if resp.status != Status::Created {
            assert_eq!(resp.status, Status::UnprocessableEntity);
            assert!(resp.set_cookies().is_empty(), "the refused add must not touch the cookie");
            assert!(resp.error().contains("signed_session cookie would be"), "{}", resp.error());
            assert_eq!(me.items(S).await.len(), i, "the list is intact");
            return;
        }
    }
    panic!("40 items of 180 characters never hit the 4096-byte limit");
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(S, "kept").await;
    for path in ["/signed-session/items", "/signed-session/clear", "/signed-session/items/0/delete"] {
        let resp = me.post_form_from(path, "item=evil", &[("Sec-Fetch-Site", "cross-site")]).await;
        assert_eq!(resp.status, Status::Forbidden, "{path}");
    }
    let resp = me.send(
        app.client
            .delete("/api/signed-session/items")
            .header(rocket::http::Header::new("Origin", "http://evil.test")),
    );
    assert_eq!(resp.await.status, Status::Forbidden);
    assert_eq!(me.items(S).await, ["kept"]);
}
