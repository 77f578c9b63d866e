//! The secret key that encrypts private cookies: where it comes from and how it is checked.
//!
//! Rocket reads `secret_key` (base64 of 32 or 64 bytes, or 64 hex digits) from `Rocket.toml`,
//! `ROCKET_SECRET_KEY`, or (on Shuttle) `Secrets.toml`. This module reads the same value the
//! same way, so the app holds the very key Rocket uses: the cookie strategy needs it to seal
//! a cookie *before* the response is sent and so know its exact size. Rocket itself seals
//! private cookies only while writing the response, too late to refuse an oversized one.
//!
//! Without a key, a release build refuses to start and says how to make one; a debug build
//! makes a random key for the run and puts it into the configuration, so Rocket and the app
//! agree on it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;
use rocket::figment::Figment;

/// The key private cookies are sealed with (AES-256-GCM, as in Rocket's private jar).
pub struct SecretKey(pub cookie::Key);

const HOW_TO_MAKE_A_KEY: &str = "make one with `openssl rand -base64 32` and set it as \
`ROCKET_SECRET_KEY=...`, as `secret_key = \"...\"` in the profile's section of Rocket.toml, \
or (on Shuttle) as `ROCKET_SECRET_KEY = \"...\"` in Secrets.toml";

/// Reads the configured key, or makes a temporary one in the debug profile. Returns the key
/// and the figment to launch with (the same one, plus the temporary key if one was made).
pub fn resolve(figment: Figment) -> Result<(SecretKey, Figment), String> {
    let configured = match figment.find_value(rocket::Config::SECRET_KEY) {
        Ok(value) => Some(material(&value)?),
        Err(_) => None,
    };
    if let Some(bytes) = configured.filter(|bytes| bytes.iter().any(|b| *b != 0)) {
        return Ok((SecretKey(key_from(&bytes)), figment));
    }
    if figment.profile() != rocket::Config::DEBUG_PROFILE {
        return Err(format!(
            "refusing to start: the `{}` profile needs a `secret_key` to encrypt private cookies \
             (none is set, or it is all zeros); {HOW_TO_MAKE_A_KEY}.",
            figment.profile()
        ));
    }
    log::warn!(
        "no `secret_key` configured: using a random key for this run only, so private cookies \
         will not survive a restart. To keep them, {HOW_TO_MAKE_A_KEY}."
    );
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| format!("the OS random number generator failed: {e}"))?;
    let figment = figment.merge((rocket::Config::SECRET_KEY, STANDARD.encode(bytes)));
    Ok((SecretKey(key_from(&bytes)), figment))
}

/// The key bytes from a configured value, accepting exactly what Rocket accepts.
fn material(value: &rocket::figment::value::Value) -> Result<Vec<u8>, String> {
    let invalid = |why: &str| format!("`secret_key` is invalid: {why}; {HOW_TO_MAKE_A_KEY}");
    let bytes = if let Some(text) = value.as_str() {
        match text.len() {
            44 | 88 => STANDARD.decode(text).map_err(|_| invalid("not valid base64"))?,
            64 => decode_hex(text).ok_or_else(|| invalid("not valid hex"))?,
            n => return Err(invalid(&format!("{n} characters; expected 44 or 88 (base64) or 64 (hex)"))),
        }
    } else {
        value.deserialize::<Vec<u8>>().map_err(|_| invalid("expected a base64 or hex string"))?
    };
    if bytes.len() < 32 {
        return Err(invalid(&format!("{} bytes; at least 32 are needed", bytes.len())));
    }
    Ok(bytes)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

/// Rocket's rule: 64 bytes or more are the key itself; 32 to 63 are stretched with HKDF.
fn key_from(bytes: &[u8]) -> cookie::Key {
    if bytes.len() >= 64 {
        cookie::Key::from(bytes)
    } else {
        cookie::Key::derive_from(bytes)
    }
}

#[cfg(test)]
mod tests {
    use rocket::figment::Figment;

    use super::*;

    fn figment(profile: &str) -> Figment {
        Figment::from(rocket::Config::default()).select(profile)
    }

    #[test]
    fn release_without_a_key_is_refused_with_directions() {
        let error = resolve(figment("release")).err().expect("must refuse");
        assert!(error.contains("openssl rand -base64 32") && error.contains("ROCKET_SECRET_KEY"), "{error}");
        let zeros = figment("release").merge(("secret_key", STANDARD.encode([0u8; 32])));
        assert!(resolve(zeros).is_err());
    }

    #[test]
    fn debug_without_a_key_gets_a_random_one_that_rocket_sees_too() {
        let (_, figment) = resolve(figment("debug")).expect("debug may generate");
        let value: String = figment.extract_inner("secret_key").unwrap();
        assert_eq!(STANDARD.decode(value).unwrap().len(), 32);
    }

    #[test]
    fn keys_in_every_form_rocket_accepts_are_read() {
        let b64 = STANDARD.encode([7u8; 32]);
        let hex: String = [7u8; 32].iter().map(|b| format!("{b:02x}")).collect();
        for value in [b64, hex, STANDARD.encode([9u8; 64])] {
            assert!(resolve(figment("release").merge(("secret_key", value.clone()))).is_ok(), "{value}");
        }
        for bad in ["short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"] {
            assert!(resolve(figment("release").merge(("secret_key", bad))).is_err(), "{bad}");
        }
    }
}
