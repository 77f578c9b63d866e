//! Session-id parsing takes any cookie value a browser (or attacker) sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server_side_sessions::session_id::{SessionId, ID_LEN};

fuzz_target!(|raw: &str| {
    if let Some(id) = SessionId::parse(raw) {
        // Only the exact shape `generate` makes is accepted, and it round-trips.
        assert_eq!(id.expose(), raw);
        assert_eq!(raw.len(), ID_LEN);
        assert!(raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(id.storage_key().len(), 64);
        assert!(!id.redacted().contains(raw));
    }
});
