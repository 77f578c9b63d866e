//! What a cookie session's column shows: the list, the cookie as the server received it, and
//! what the server keeps for it.

use super::revocation::unconfirmed;
use super::session::Reading;
use super::{Codec, Received, Session};
use crate::clock;
use crate::cookie_rules;
use crate::strategy::{CookieView, Fact, View};

impl<C: Codec> Session<'_, C> {
    pub(super) fn show(&self, reading: &Reading) -> View {
        let mut server: Vec<Fact> =
            C::WORDS.facts.iter().map(|(label, value)| Fact::new(label, value)).collect();
        if let Received::Valid { payload, .. } = &reading.received {
            server.push(Fact::new("started", clock::format_ms(payload.started_ms)));
            server.push(Fact::new("expires", clock::format_ms(payload.expires_ms(&self.settings.lifetimes))));
        }
        if let Some(revocations) = self.revocations {
            server.push(Fact::new("revocation", self.revocation_fact(revocations)));
        }
        let view = self.panel(&reading.received);
        View { server, notice: view.notice.or_else(|| unconfirmed(reading.confirmed)), ..view }
    }

    /// The list and the cookie panel (without the server's facts).
    fn panel(&self, received: &Received) -> View {
        let name = &self.settings.name;
        let refused = |raw: &str, status: &str, notice: String| View {
            browser: vec![CookieView::new(name, raw, status)],
            notice: Some(notice),
            ..View::default()
        };
        match received {
            Received::Absent => View::default(),
            Received::Valid { raw, payload } => {
                let attributes = cookie_rules::attributes(self.settings.policy, self.max_age(payload));
                let mut cookie = CookieView::new(name, raw, C::WORDS.opened).set_with(attributes);
                cookie.readable = C::readable(raw).map(str::to_owned);
                let expires = clock::format_ms(payload.expires_ms(&self.settings.lifetimes));
                View {
                    items: payload.items.clone(),
                    browser: vec![cookie],
                    expires_at: Some(expires),
                    ..View::default()
                }
            }
            Received::Unreadable { raw } => refused(
                raw,
                C::WORDS.unopened,
                format!(
                    "Your {name} cookie {}, so it reads as empty. Your next change replaces it.",
                    C::WORDS.unopened_because
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
            Received::Implausible { raw } => refused(
                raw,
                "refused",
                format!(
                    "Your {name} cookie holds times or an epoch this server never writes (a cookie \
                     made with the key, not by the app), so it was refused."
                ),
            ),
        }
    }
}
