//! Opening a private cookie: arbitrary values must never open (without the key) or panic,
//! and whatever the app seals must open to the same payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server_side_sessions::item::{Item, ItemList, Op};
use server_side_sessions::secret::SecretKeys;
use server_side_sessions::strategy::client_side::{open, seal, Payload};
use server_side_sessions::strategy::private_cookie::Sealed;

fuzz_target!(|input: (&str, Vec<String>)| {
    let (raw, items) = input;
    let keys = SecretKeys { current: cookie::Key::derive_from(&[42; 32]), previous: vec![] };
    // Random bytes do not authenticate under AES-GCM.
    assert!(open::<Sealed>("cookie_session", raw, &keys).is_none());

    let mut payload = Payload::new(1, true);
    for text in items.iter().filter_map(|t| Item::parse(t).ok()) {
        let _ = payload.items.apply(&Op::Add(text));
    }
    let sealed = seal::<Sealed>("cookie_session", &payload, &keys);
    let opened = open::<Sealed>("cookie_session", &sealed, &keys).expect("what we seal opens");
    assert_eq!(opened.payload, payload);
    assert!(!opened.under_previous_key);
    let _: &ItemList = &opened.payload.items;
});
