//! Opening a private cookie: arbitrary values must never open (without the key) or panic, and
//! whatever the app seals must open to the same payload. Whatever times and epoch a payload
//! holds (a holder of the key can write any), checking it never panics and never accepts one
//! that no server writes, nor one that would never expire.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::item::{Item, Op};
use server_side_sessions::secret::SecretKeys;
use server_side_sessions::strategy::client_side::{open, seal, Payload, CLOCK_SKEW_MS, MAX_EPOCH};
use server_side_sessions::strategy::private_cookie::Sealed;

const LIFETIMES: Lifetimes =
    Lifetimes { idle: Duration::from_secs(1800), max: Duration::from_secs(28800), rotation_grace: Duration::ZERO };

fuzz_target!(|input: (&str, Vec<String>, (u64, u64, u64, u64))| {
    let (raw, items, (started_ms, seen_ms, epoch, now)) = input;
    let keys = SecretKeys { current: cookie::Key::derive_from(&[42; 32]), previous: vec![] };
    // Random bytes do not authenticate under AES-GCM.
    assert!(open::<Sealed>("cookie_session", raw, &keys).is_none());

    let mut payload = Payload::new(started_ms, true);
    (payload.seen_ms, payload.epoch) = (seen_ms, Some(epoch));
    for text in items.iter().filter_map(|t| Item::parse(t).ok()) {
        let _ = payload.items.apply(&Op::Add(text));
    }
    let sealed = seal::<Sealed>("cookie_session", &payload, &keys);
    let opened = open::<Sealed>("cookie_session", &sealed, &keys).expect("what we seal opens");
    assert_eq!(opened.payload, payload);
    assert!(!opened.under_previous_key);
    if opened.payload.check(now, &LIFETIMES).is_ok() {
        assert!(started_ms <= seen_ms && seen_ms <= now.saturating_add(CLOCK_SKEW_MS));
        assert!(epoch <= MAX_EPOCH && epoch.checked_add(1).is_some(), "sign out everywhere can raise it");
        assert!(now < started_ms.saturating_add(LIFETIMES.max.as_millis() as u64), "it ends");
    }
});
