//! Item validation takes any text a form or JSON body carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server_side_sessions::item::{Item, MAX_ITEM_CHARS};

fuzz_target!(|raw: &str| {
    if let Ok(item) = Item::parse(raw) {
        let text = item.as_str();
        assert_eq!(text, text.trim());
        let chars = text.chars().count();
        assert!((1..=MAX_ITEM_CHARS).contains(&chars));
        assert!(!text.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'));
        // Serde goes through the same rule.
        let json = serde_json_roundtrip(text);
        assert_eq!(json.as_deref(), Some(text));
    }
});

fn serde_json_roundtrip(text: &str) -> Option<String> {
    let item = Item::parse(text).ok()?;
    Some(String::from(item))
}
