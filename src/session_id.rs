//! The opaque session id: the only thing the server-side session strategy puts in the browser.
//!
//! 256 bits from the operating system's CSPRNG, written as 43 URL-safe base64 characters.
//! A [`SessionId`] can only come from [`SessionId::generate`] or from a cookie value that has
//! exactly that shape ([`SessionId::parse`]); anything else is treated as "no session".
//! Stores never see the id itself: they key records by [`SessionId::storage_key`], a SHA-256
//! hash, so a leaked store dump cannot be replayed as cookies.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

const ID_BYTES: usize = 32;
/// Length of the encoded id: 32 bytes in unpadded base64.
pub const ID_LEN: usize = 43;

#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh id from the OS CSPRNG (`getrandom`).
    pub fn generate() -> SessionId {
        let mut bytes = [0u8; ID_BYTES];
        // The OS generator failing means the machine cannot make secrets at all; serving
        // sessions with a weaker id would be worse than stopping.
        OsRng.try_fill_bytes(&mut bytes).expect("the OS random number generator failed");
        SessionId(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts only the exact shape `generate` produces; `None` for anything else.
    pub fn parse(raw: &str) -> Option<SessionId> {
        let decoded = URL_SAFE_NO_PAD.decode(raw).ok()?;
        // Decoding also accepts non-canonical trailing bits; re-encoding rules those out.
        (decoded.len() == ID_BYTES && URL_SAFE_NO_PAD.encode(&decoded) == raw)
            .then(|| SessionId(raw.to_owned()))
    }

    /// The cookie value. Only the cookie code should need this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What stores key records by: SHA-256 of the id. One-way, so the store's contents do
    /// not contain any usable cookie value.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// [`SessionId::hash`] as lowercase hex, for stores whose keys are text.
    pub fn storage_key(&self) -> String {
        // Two table lookups per byte: a `format!` per byte cost more than the SHA-256 itself.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(64);
        for byte in self.hash() {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        hex
    }

    /// `successor`, sealed so that only a holder of this id can read it: XOR with a SHA-256 of
    /// this id (under its own label, so it is not the storage key), as hex. A store keeps it
    /// beside a rotated-away id for the grace window ([`crate::store`]), so that a request
    /// still carrying this id can be answered with its successor; the store itself, which
    /// holds only hashes, learns nothing it could use as a cookie.
    pub fn seal_successor(&self, successor: &SessionId) -> String {
        let bytes = URL_SAFE_NO_PAD.decode(&successor.0).unwrap_or_default();
        let sealed: Vec<u8> = bytes.iter().zip(self.successor_mask()).map(|(b, m)| b ^ m).collect();
        sealed.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The id [`SessionId::seal_successor`] sealed for this one, if `sealed` is such a seal and
    /// the result hashes to `storage_key` (the key the store moved the session to).
    pub fn open_successor(&self, sealed: &str, storage_key: &str) -> Option<SessionId> {
        let bytes: Vec<u8> = (0..sealed.len())
            .step_by(2)
            .map(|at| sealed.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
            .collect::<Option<_>>()?;
        if bytes.len() != ID_BYTES {
            return None;
        }
        let plain: Vec<u8> = bytes.iter().zip(self.successor_mask()).map(|(b, m)| b ^ m).collect();
        let successor = SessionId(URL_SAFE_NO_PAD.encode(plain));
        (successor.storage_key() == storage_key).then_some(successor)
    }

    fn successor_mask(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"server-side-sessions successor\0")
            .chain_update(self.0.as_bytes())
            .finalize()
            .into()
    }

    /// A shortened form for logs and the page: enough to tell ids apart, not to use one.
    pub fn redacted(&self) -> String {
        format!("{}…{}", &self.0[..4], &self.0[ID_LEN - 2..])
    }
}

/// Debug never prints the whole id, so a stray `{:?}` cannot leak it into logs.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_long_url_safe_and_distinct() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), ID_LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(SessionId::parse(a.expose()), Some(a));
    }

    #[test]
    fn malformed_ids_are_refused() {
        let good = SessionId::generate();
        for bad in ["", "abc", &"A".repeat(42), &"A".repeat(44), &format!("{}=", good.expose())] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
        let mut swapped = good.expose().to_owned();
        swapped.replace_range(0..1, "+");
        assert_eq!(SessionId::parse(&swapped), None);
    }

    #[test]
    fn only_a_holder_of_the_old_id_can_open_its_successor() {
        let (old, new, other) = (SessionId::generate(), SessionId::generate(), SessionId::generate());
        let sealed = old.seal_successor(&new);
        assert_eq!(sealed.len(), 64);
        assert_eq!(old.open_successor(&sealed, &new.storage_key()), Some(new.clone()));
        assert_eq!(other.open_successor(&sealed, &new.storage_key()), None, "another id opens nothing");
        assert_eq!(old.open_successor(&sealed, &other.storage_key()), None, "a foreign key");
        assert!(!sealed.contains(&new.storage_key()) && !sealed.contains(&old.storage_key()));
        for bad in ["", "zz", &sealed[2..], &format!("{sealed}00")] {
            assert_eq!(old.open_successor(bad, &new.storage_key()), None, "{bad:?}");
        }
    }

    #[test]
    fn storage_key_and_debug_do_not_reveal_the_id() {
        let id = SessionId::generate();
        assert_eq!(id.storage_key().len(), 64);
        let expected: String = id.hash().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(id.storage_key(), expected);
        assert!(!id.storage_key().contains(id.expose()));
        assert!(!format!("{id:?}").contains(id.expose()));
    }
}
