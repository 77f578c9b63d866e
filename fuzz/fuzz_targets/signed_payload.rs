//! Verifying a signed cookie: arbitrary values must never verify (without the key) or panic,
//! and whatever the app signs must verify to the same payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server_side_sessions::item::{Item, Op};
use server_side_sessions::secret::SecretKeys;
use server_side_sessions::strategy::client_side::{open, seal, Opened, Payload};
use server_side_sessions::strategy::signed_cookie::Signed;

fuzz_target!(|input: (&str, Vec<String>)| {
    let (raw, items) = input;
    let keys = SecretKeys { current: cookie::Key::derive_from(&[42; 32]), previous: vec![] };
    // Random bytes carry no valid HMAC-SHA-256 tag.
    assert!(open::<Signed>("signed_session", raw, &keys).is_none());

    let mut payload = Payload::new(1, false);
    for text in items.iter().filter_map(|t| Item::parse(t).ok()) {
        let _ = payload.items.apply(&Op::Add(text));
    }
    let signed = seal::<Signed>("signed_session", &payload, &keys);
    let verified = open::<Signed>("signed_session", &signed, &keys);
    assert_eq!(verified, Some(Opened { payload, under_previous_key: false }), "what we sign verifies");
});
