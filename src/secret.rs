//! The secret keys that encrypt private cookies: where they come from and how they are checked.
//!
//! Rocket reads `secret_key` (base64 of 32 or 64 bytes, or 64 hex digits) from `Rocket.toml`,
//! `ROCKET_SECRET_KEY`, or (on Shuttle) `Secrets.toml`. This module reads the same value the
//! same way, so the app holds the very key Rocket uses: the cookie strategy needs it to seal
//! a cookie *before* the response is sent and so know its exact size. Rocket itself seals
//! private cookies only while writing the response, too late to refuse an oversized one.
//!
//! `previous_secret_keys` (a list, same formats) lets an operator rotate the key without
//! logging anyone out: cookies that open only under an old key are accepted and re-sealed
//! under the current one.
//!
//! Outside the debug profile the app refuses to start without a key, or with a weak one
//! (all bytes the same, or a key published in documentation), and says how to make one. The
//! debug profile makes a random key for the run. It is not written into Rocket's configuration,
//! so Rocket's own start-up line says `secret key: [generated]` and warns that the key is not
//! stable, which is the truth: a restart makes new keys. (Rocket generates its own key for its
//! cookie jar; the app seals every cookie itself with the keys here, never through that jar.)

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;
use rocket::fairing::AdHoc;
use rocket::figment::value::Value;
use rocket::figment::Figment;

/// The current key, then the previous ones, newest first.
pub struct SecretKeys {
    pub current: cookie::Key,
    pub previous: Vec<cookie::Key>,
}

/// Keys printed in documentation, which anyone can use to forge cookies: Rocket's guide,
/// and this project's own `Secrets.toml.example` placeholder.
const PUBLISHED_KEYS: &[&str] =
    &["hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=", "replace-me-with-the-output-of-openssl-rand-base64-32"];

/// Only the environment or the git-ignored `Secrets.toml`: `Rocket.toml` is tracked and
/// shipped with the app, so a key written there ends up in the repository.
/// The shell command works when copied as it is.
const HOW_TO_MAKE_A_KEY: &str = "make one and keep it in the environment: \
`export ROCKET_SECRET_KEY=\"$(openssl rand -base64 32)\"` (on a platform, from its secret \
store); for `cargo shuttle run`, put the output of `openssl rand -base64 32` in the git-ignored \
Secrets.toml as `ROCKET_SECRET_KEY = \"<that output>\"`; never in Rocket.toml, which is \
committed";

/// Reads the keys once, at ignition, and manages them for the cookie strategies. A missing or
/// weak key stops the launch with a message that says how to make one.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Secret keys", |rocket| async {
        if rocket.state::<crate::config::AppConfig>().is_none() {
            // The configuration stage failed and has said why; one message is enough.
            return Err(rocket);
        }
        match resolve(rocket.figment()) {
            Ok(keys) => Ok(rocket.manage(keys)),
            Err(message) => {
                log::error!("{message}");
                Err(rocket)
            }
        }
    })
}

/// Reads the configured keys, or makes a temporary one in the debug profile.
pub fn resolve(figment: &Figment) -> Result<SecretKeys, String> {
    let debug = figment.profile() == rocket::Config::DEBUG_PROFILE;
    let previous = match figment.find_value("previous_secret_keys") {
        Ok(Value::Array(_, values)) => {
            values.iter().map(|v| checked(v, "previous_secret_keys", debug)).collect::<Result<Vec<_>, _>>()?
        }
        Ok(_) => return Err(format!("`previous_secret_keys` must be a list of keys; {HOW_TO_MAKE_A_KEY}")),
        Err(_) => Vec::new(),
    };
    let previous: Vec<cookie::Key> = previous.iter().map(|bytes| key_from(bytes)).collect();
    if let Ok(value) = figment.find_value(rocket::Config::SECRET_KEY) {
        let material = checked(&value, "secret_key", debug)?;
        if !all_same(&material) {
            return Ok(SecretKeys { current: key_from(&material), previous });
        }
    }
    if !debug {
        return Err(format!(
            "refusing to start: the `{}` profile needs a `secret_key` to encrypt private cookies \
             (none is set, or it is all zeros); {HOW_TO_MAKE_A_KEY}.",
            figment.profile()
        ));
    }
    log::warn!(
        "no `secret_key` configured: the cookies are sealed with a random key generated for this \
         run only, so they will not survive a restart. To keep them, {HOW_TO_MAKE_A_KEY}."
    );
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| format!("the OS random number generator failed: {e}"))?;
    Ok(SecretKeys { current: key_from(&bytes), previous })
}

/// The key bytes, refusing what Rocket refuses, and weak keys outside the debug profile
/// (where a zero key still means "make one for me", as Rocket treats it).
fn checked(value: &Value, name: &str, debug: bool) -> Result<Vec<u8>, String> {
    let invalid = |why: &str| format!("`{name}` is invalid: {why}; {HOW_TO_MAKE_A_KEY}");
    let text = value.as_str();
    if let Some(text) = text.filter(|t| PUBLISHED_KEYS.contains(t)) {
        if !debug {
            return Err(invalid(&format!(
                "`{text}` is published in documentation, so anyone can forge cookies with it"
            )));
        }
        log::warn!("`{name}` is a published example key: fine for a local run, never for a deployment");
    }
    let bytes = match text {
        Some(text) => match text.len() {
            44 | 88 => STANDARD.decode(text).map_err(|_| invalid("not valid base64"))?,
            64 => decode_hex(text).ok_or_else(|| invalid("not valid hex"))?,
            n => return Err(invalid(&format!("{n} characters; expected 44 or 88 (base64) or 64 (hex)"))),
        },
        None => value.deserialize::<Vec<u8>>().map_err(|_| invalid("expected a base64 or hex string"))?,
    };
    if bytes.len() < 32 {
        return Err(invalid(&format!("{} bytes; at least 32 are needed", bytes.len())));
    }
    // An all-zero `secret_key` is how Rocket's defaults say "none configured"; `resolve`
    // treats it as missing. Any other key whose bytes are all the same is refused.
    let zero_means_unset = name == "secret_key" && bytes.iter().all(|b| *b == 0);
    if all_same(&bytes) && !zero_means_unset && !debug {
        return Err(invalid("every byte is the same, so it is trivially guessable"));
    }
    Ok(bytes)
}

fn all_same(bytes: &[u8]) -> bool {
    bytes.windows(2).all(|pair| pair[0] == pair[1])
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

    fn refused(profile: &str, key: &str) -> String {
        resolve(&figment(profile).merge(("secret_key", key))).err().expect("must refuse")
    }

    #[test]
    fn release_without_a_key_is_refused_with_directions() {
        let error = resolve(&figment("release")).err().expect("must refuse");
        assert!(error.contains("openssl rand -base64 32") && error.contains("ROCKET_SECRET_KEY"), "{error}");
    }

    #[test]
    fn release_refuses_weak_keys_and_says_why() {
        assert!(refused("release", &STANDARD.encode([0u8; 32])).contains("none is set, or it is all zeros"));
        assert!(refused("release", &STANDARD.encode([7u8; 32])).contains("every byte is the same"));
        assert!(refused("release", PUBLISHED_KEYS[0]).contains("published in documentation"));
        assert!(refused("release", &STANDARD.encode([1u8; 16])).contains("characters"));
        assert!(refused("release", "short").contains("expected 44 or 88"));
        let old = figment("release").merge(("secret_key", STANDARD.encode([1, 2, 3, 4].repeat(8))));
        assert!(resolve(&old.merge(("previous_secret_keys", vec![PUBLISHED_KEYS[0]]))).is_err());
    }

    #[test]
    fn debug_without_a_key_gets_a_random_one_for_the_run() {
        let (first, second) = (resolve(&figment("debug")), resolve(&figment("debug")));
        let (first, second) = (first.expect("debug may generate"), second.expect("debug may generate"));
        assert_ne!(first.current.master(), second.current.master(), "a fresh key for every run");
        assert!(
            resolve(&figment("debug").merge(("secret_key", PUBLISHED_KEYS[0]))).is_ok(),
            "debug only warns"
        );
    }

    #[test]
    fn keys_in_every_form_rocket_accepts_are_read_with_previous_keys() {
        let bytes: Vec<u8> = (0..32).collect();
        let b64 = STANDARD.encode(&bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let long: Vec<u8> = (0..64).collect();
        for value in [b64.clone(), hex, STANDARD.encode(long)] {
            assert!(resolve(&figment("release").merge(("secret_key", value.clone()))).is_ok(), "{value}");
        }
        let rotated =
            figment("release").merge(("secret_key", b64.clone())).merge(("previous_secret_keys", vec![b64]));
        assert_eq!(resolve(&rotated).unwrap().previous.len(), 1);
    }
}
