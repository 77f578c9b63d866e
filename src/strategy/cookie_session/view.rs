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

    /// What *Sign out everywhere* leaves on the server, and who sees it: two sentences. How
    /// the epochs are kept current on every instance is in the explanation and docs/stores.md;
    /// whether this instance's copy is current is in `/api/inspect` (`revocation`), and a
    /// notice says so when it is not.
    fn revocation_fact(&self) -> String {
        let backend = self.revocations.backend();
        let reach = if backend == "memory" {
            "It is kept in this process only: another instance, or this one after a restart, does not see it."
        } else {
            "Every instance that uses this store sees it."
        };
        format!(
            "Sign out everywhere makes the {backend} store keep one epoch for your cookie family for {}, \
             and every copy of this cookie is refused from then on. {reach}",
            clock::span(self.config.lifetimes.max)
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
