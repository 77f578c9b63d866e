//! Verifying a signed cookie: arbitrary values must never verify (without the key) or panic,
//! and whatever the app signs must verify to the same payload. Whatever times a payload holds,
//! checking it never panics and never accepts one that would never expire.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::item::{Item, Op};
use server_side_sessions::secret::SecretKeys;
use server_side_sessions::strategy::client_side::{open, seal, Opened, Payload, CLOCK_SKEW_MS};
use server_side_sessions::strategy::signed_cookie::Signed;

const LIFETIMES: Lifetimes =
    Lifetimes { idle: Duration::from_secs(1800), max: Duration::from_secs(28800), rotation_grace: Duration::ZERO };

fuzz_target!(|input: (&str, Vec<String>, (u64, u64, u64))| {
    let (raw, items, (started_ms, seen_ms, now)) = input;
    let keys = SecretKeys { current: cookie::Key::derive_from(&[42; 32]), previous: vec![] };
    // Random bytes carry no valid HMAC-SHA-256 tag.
    assert!(open::<Signed>("signed_session", raw, &keys).is_none());

    let mut payload = Payload::new(started_ms, false);
    payload.seen_ms = seen_ms;
    for text in items.iter().filter_map(|t| Item::parse(t).ok()) {
        let _ = payload.items.apply(&Op::Add(text));
    }
    let signed = seal::<Signed>("signed_session", &payload, &keys);
    let verified = open::<Signed>("signed_session", &signed, &keys);
    assert_eq!(verified, Some(Opened { payload: payload.clone(), under_previous_key: false }), "what we sign verifies");
    if payload.check(now, &LIFETIMES).is_ok() {
        assert!(started_ms <= seen_ms && seen_ms <= now.saturating_add(CLOCK_SKEW_MS));
        assert!(now < started_ms.saturating_add(LIFETIMES.max.as_millis() as u64), "it ends");
    }
});
