//! What the private-cookie column shows: the list, the cookie as the server received it, and
//! what the server keeps for it (nothing but, once a family signs out, its epoch).

use super::{CookieSession, Reading, Received};
use crate::clock;
use crate::item::ItemList;
use crate::store::revocations::Confirmed;
use crate::strategy::{CookieView, Fact, View};

/// The list, the cookie panel, when it expires, and what the visitor should know.
type Panel = (ItemList, Vec<CookieView>, Option<String>, Option<String>);

impl CookieSession<'_> {
    pub(super) fn show(&self, reading: &Reading) -> View {
        let mut server = vec![Fact::new("kept in", "your cookie: the server keeps no list")];
        if let Received::Valid { payload, .. } = &reading.received {
            server.push(Fact::new("started", clock::format_ms(payload.iat)));
            server.push(Fact::new("expires", clock::format_ms(payload.expires_ms(&self.config.lifetimes))));
        }
        server.push(Fact::new("revocation", self.revocation_fact()));
        let (items, browser, expires_at, notice) = self.panel(&reading.received);
        let notice = notice.or_else(|| unconfirmed(reading.confirmed));
        View { items, browser, server, expires_at, notice }
    }

    fn panel(&self, received: &Received) -> Panel {
        let name = &self.config.cookie_name;
        let refused = |raw: &str, status: &str, notice: String| {
            (ItemList::default(), vec![CookieView::new(name, raw, status)], None, Some(notice))
        };
        match received {
            Received::Absent => (ItemList::default(), vec![], None, None),
            Received::Valid { raw, payload } => {
                let expires = clock::format_ms(payload.expires_ms(&self.config.lifetimes));
                (payload.items.clone(), vec![CookieView::new(name, raw, "decrypted")], Some(expires), None)
            }
            Received::Unreadable { raw } => refused(
                raw,
                "could not decrypt",
                format!(
                    "Your {name} cookie could not be decrypted (it was changed, cut short, or made \
                 with another key), so it reads as empty. Your next change replaces it."
                ),
            ),
            Received::Expired { raw } => refused(
                raw,
                "expired",
                format!(
                    "Your {name} cookie is past its idle timeout or maximum lifetime, so it was refused."
                ),
            ),
            Received::Revoked { raw } => refused(
                raw,
                "revoked",
                format!("This {name} cookie was signed out everywhere, so it was refused."),
            ),
        }
    }

    /// Where epochs live and when this instance last knew them all.
    fn revocation_fact(&self) -> String {
        let backend = self.revocations.backend();
        let copy = match self.revocations.status() {
            (true, _) => "is current (the store announces every sign-out)".to_owned(),
            (false, 0) => "has not been confirmed since this instance started".to_owned(),
            (false, at) => format!("was last confirmed complete at {}", clock::format_ms(at)),
        };
        let reach = if backend == "memory" {
            "in this process only: another instance, or this one after a restart, does not see it"
        } else {
            "shared by every instance that uses this store"
        };
        format!(
            "after Sign out everywhere, the {backend} store keeps one epoch for your cookie family \
             for {} s ({reach}); every read of this cookie checks the copy of those epochs that \
             this instance keeps, with no network call; the copy {copy}",
            self.config.lifetimes.max.as_secs()
        )
    }
}

/// The notice for a cookie accepted without a revocation check (the store did not answer).
fn unconfirmed(confirmed: Option<Confirmed>) -> Option<String> {
    let Some(Confirmed::Since(since)) = confirmed else { return None };
    let since = since
        .map_or("since this instance started".to_owned(), |at| format!("after {}", clock::format_ms(at)));
    Some(format!(
        "The session store is unreachable, so revocation could not be checked: a sign-out on \
         another instance {since} may not be seen here yet."
    ))
}
