//! Cookies only a holder of the key could make, with values no server of this app writes: an
//! epoch at `u64::MAX`, times at `u64::MAX` or in the future. None may panic, none may be read
//! as a session that never ends, and *Sign out everywhere* on one refuses it from then on.

use base64::Engine;
use rocket::http::Status;
use server_side_sessions::secret::SecretKeys;
use server_side_sessions::strategy::client_side::{seal, Codec, Payload};
use server_side_sessions::strategy::private_cookie::Sealed;
use server_side_sessions::strategy::signed_cookie::Signed;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::{App, KEY};

/// The app's keys in the tests (`visitor::KEY`), as the app derives them.
fn keys() -> SecretKeys {
    let bytes = base64::engine::general_purpose::STANDARD.decode(KEY).expect("base64");
    SecretKeys { current: cookie::Key::derive_from(&bytes), previous: Vec::new() }
}

/// A cookie of codec `C` holding "forged" with the given times and epoch.
fn forged<C: Codec>(started_ms: u64, seen_ms: u64, epoch: Option<u64>) -> String {
    let mut payload = Payload::new(started_ms, C::REVOCABLE);
    payload.seen_ms = seen_ms;
    if C::REVOCABLE {
        payload.epoch = epoch;
    }
    payload
        .items
        .apply(&server_side_sessions::item::Op::Add(
            server_side_sessions::item::Item::parse("forged").unwrap(),
        ))
        .unwrap();
    seal::<C>(C::COOKIE, &payload, &keys())
}

#[tokio::test]
async fn a_forged_epoch_at_the_limit_is_refused_and_signing_it_out_does_not_panic() {
    let app = App::new().await;
    let now = server_side_sessions::clock::now_ms();
    let me = app.visitor();
    me.set_cookie("cookie_session", &forged::<Sealed>(now, now, Some(u64::MAX)));
    assert!(me.items(Slug::CookieSession).await.is_empty(), "never read as a session");
    let page = me.get("/cookie-session").await;
    assert!(page.body.contains("holds times or an epoch this server never writes"), "{}", page.body);
    let copy = forged::<Sealed>(now, now, Some(u64::MAX));
    me.set_cookie("cookie_session", &copy);
    let signed_out = me.post_form("/cookie-session/sign-out-everywhere", "return_to=%2F").await;
    assert_eq!(signed_out.status, Status::SeeOther, "{}", signed_out.body);
    let replayer = app.visitor();
    replayer.set_cookie("cookie_session", &copy);
    assert!(replayer.items(Slug::CookieSession).await.is_empty());
    // The highest epoch a real cookie may carry still signs out, one above it.
    let top = forged::<Sealed>(now, now, Some(server_side_sessions::strategy::client_side::MAX_EPOCH));
    me.set_cookie("cookie_session", &top);
    assert_eq!(me.items(Slug::CookieSession).await, ["forged"]);
    me.post_form("/cookie-session/sign-out-everywhere", "return_to=%2F").await;
    replayer.set_cookie("cookie_session", &top);
    assert!(replayer.items(Slug::CookieSession).await.is_empty(), "revoked");
}

#[tokio::test]
async fn times_at_the_limit_or_from_the_future_never_read_as_a_session_that_lasts_forever() {
    let app = App::new().await;
    let now = server_side_sessions::clock::now_ms();
    let hour_ahead = now + 3_600_000;
    for (started, seen) in [(u64::MAX, u64::MAX), (now, u64::MAX), (hour_ahead, hour_ahead), (now, now - 1)] {
        let me = app.visitor();
        me.set_cookie("cookie_session", &forged::<Sealed>(started, seen, Some(0)));
        me.set_cookie("signed_session", &forged::<Signed>(started, seen, None));
        for slug in [Slug::CookieSession, Slug::SignedSession] {
            assert!(me.items(slug).await.is_empty(), "{slug:?} read ({started}, {seen})");
        }
        assert_eq!(me.add(Slug::CookieSession, "fresh").await.status, Status::Created, "a write starts over");
        assert_eq!(me.items(Slug::CookieSession).await, ["fresh"]);
    }
}
