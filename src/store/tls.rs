//! Which certificate authority vouches for a network store's TLS certificate.
//!
//! Without `session_store_ca`, `rediss://` and Postgres's `sslmode=verify-full` check the
//! server against the public web roots compiled into the binary (webpki-roots), which is
//! right for a managed service. A store with a certificate from a private authority (your
//! own, or the throwaway one `scripts/tls-stores.sh` makes) names that authority's PEM
//! file in `session_store_ca`; then only that authority is trusted, not the public ones.
//!
//! The setting asks for verification, so it is refused next to a URL that would not verify:
//! `redis://` (no TLS at all) or a Postgres `sslmode` weaker than `verify-ca` (`prefer`,
//! sqlx's default, falls back to plain text when the server offers no TLS). No store ever
//! falls back to plain text behind a verifying setting: a handshake that fails is a
//! [`super::StoreError`], so a 503, and the log says why (unknown issuer, expired, ...).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The PEM certificates of the authority named by `session_store_ca`, read once at start.
#[derive(Clone)]
pub struct RootCa {
    pem: Vec<u8>,
}

impl RootCa {
    /// Reads `path` and checks that it holds at least one PEM certificate, so a wrong path
    /// or a key file given by mistake stops the start with a message instead of failing
    /// every connection later.
    pub fn load(path: &str) -> Result<RootCa, String> {
        let pem =
            std::fs::read(path).map_err(|e| format!("`session_store_ca`: cannot read `{path}`: {e}"))?;
        let certificates = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
        match certificates {
            Ok(found) if !found.is_empty() => Ok(RootCa { pem }),
            Ok(_) => Err(format!("`session_store_ca`: `{path}` holds no PEM certificate")),
            Err(e) => Err(format!("`session_store_ca`: `{path}` is not a readable PEM file: {e}")),
        }
    }

    /// The file's bytes, as both drivers take them.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

impl std::fmt::Debug for RootCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCa").field("bytes", &self.pem.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::RootCa;

    #[test]
    fn a_missing_or_certificate_less_file_is_refused_with_its_name() {
        let missing = RootCa::load("/nonexistent/ca.pem").unwrap_err();
        assert!(missing.contains("/nonexistent/ca.pem") && missing.contains("session_store_ca"), "{missing}");
        let dir = std::env::temp_dir().join(format!("sss-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate\n").unwrap();
        let empty = RootCa::load(dir.to_str().unwrap()).unwrap_err();
        std::fs::remove_file(&dir).unwrap();
        assert!(empty.contains("no PEM certificate"), "{empty}");
    }
}
