//! The three places this app keeps the same list, behind one [`Strategy`] trait.
//!
//! Reading order: [`global`] (one list in the process), [`server_session`] (an id in the
//! browser, the list in a store), [`private_cookie`] (the list itself, encrypted, in the
//! browser). Each module's own doc says where its data lives, how long it lasts, who can
//! read it, what it costs and how it fails. Routes never name a strategy's internals: they
//! take the [`Strategies`] guard and ask it for the one a [`Slug`] names.
//!
//! [`signed_cookie`] is a fourth, smaller one, shown on the private-cookie page rather than
//! compared: the list in a cookie that is signed but not encrypted, which is what Flask's
//! `session` does by default. It follows the same rules, so the same routes and tests serve it.
//!
//! The two cookie strategies are one [`client_side`] core with two codecs: the core reads, checks,
//! refreshes and writes the cookie; each codec only seals and opens its value.

pub mod client_side;
pub mod global;
pub mod private_cookie;
pub mod server_session;
pub mod signed_cookie;
mod slug;

use std::marker::PhantomData;

use rocket::request::{self, FromRequest, Request};
use serde::Serialize;

pub use self::slug::Slug;
use crate::config::{AppConfig, Lifetimes};
use crate::cookie_rules;
use crate::cookie_rules::CookiePolicy;
use crate::error::AppError;
use crate::item::{ItemList, Op};

/// A cookie as the server received it, for the "what your browser holds" panel.
#[derive(Debug, Clone, Serialize)]
pub struct CookieView {
    pub name: String,
    /// Name plus value as the browser stores them (and devtools counts them), in bytes: what
    /// counts against the browser's 4096-byte limit.
    pub bytes: usize,
    pub limit: usize,
    /// The stored value, shortened: enough to watch it change, not enough to copy.
    pub preview: String,
    /// What the server made of it: `decrypted`, `could not decrypt`, `live session`, ...
    pub status: String,
    /// What anyone holding the cookie can read from it without a key, when that is the point
    /// (the signed cookie's list); `None` for the others.
    pub readable: Option<String>,
    /// The attributes of the `Set-Cookie` that set it (`HttpOnly; SameSite=Lax; ...`), for a
    /// cookie of the app's that the server read; `None` for any other.
    pub attributes: Option<String>,
}

impl CookieView {
    /// `value` as Rocket hands it over: percent-decoded. The browser holds it as the app sent
    /// it in `Set-Cookie`, percent-encoded (a `/` in base64 is `%2F` there, 3 bytes), so that
    /// is the form this view measures and shows.
    pub fn new(name: &str, value: &str, status: impl Into<String>) -> CookieView {
        let stored = cookie_rules::stored_value(name, value);
        CookieView {
            name: name.to_owned(),
            bytes: name.len() + stored.len(),
            limit: cookie_rules::LIMIT,
            preview: shorten(&stored),
            status: status.into(),
            readable: None,
            attributes: None,
        }
    }

    /// This view, with the attributes of the `Set-Cookie` that set the cookie.
    pub fn set_with(self, attributes: String) -> CookieView {
        CookieView { attributes: Some(attributes), ..self }
    }
}

/// The first 8 and last 6 characters of a value longer than 16. Walks the characters without
/// collecting them: a private cookie's value is up to 4 KB and this runs on every page.
fn shorten(value: &str) -> String {
    let mut starts = value.char_indices().map(|(at, _)| at);
    let (Some(head_end), Some(_)) = (starts.nth(8), starts.nth(7)) else {
        return value.to_owned(); // 16 characters or fewer
    };
    let tail_start = value.char_indices().nth_back(5).map_or(0, |(at, _)| at);
    format!("{}…{}", &value[..head_end], &value[tail_start..])
}

/// One labelled fact for the "what the server holds" panel.
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

impl Fact {
    pub fn new(label: &'static str, value: impl ToString) -> Fact {
        Fact { label, value: value.to_string() }
    }
}

/// Everything one strategy shows one visitor: the list and where it is kept.
#[derive(Debug, Clone, Default, Serialize)]
pub struct View {
    pub items: ItemList,
    /// Cookies the browser sent for this strategy.
    pub browser: Vec<CookieView>,
    /// What the server keeps for it.
    pub server: Vec<Fact>,
    /// When the visitor's state here ends (RFC 3339), if it does on a clock.
    pub expires_at: Option<String>,
    /// Something the visitor should know (a cookie that could not be decrypted).
    pub notice: Option<String>,
}

/// The operations every strategy offers, so one set of routes, one template partial and
/// one test suite serve all of them.
#[rocket::async_trait]
pub trait Strategy: Send + Sync {
    /// The visitor's list and what backs it. Never creates state.
    async fn view(&self) -> Result<View, AppError>;
    /// Just the visitor's list: what [`Strategy::view`] returns as `items`, without building
    /// the panels' facts (formatted dates, key digests) that only a page shows.
    async fn items(&self) -> Result<ItemList, AppError>;
    /// Applies `op` and returns the list after it, or refuses and changes nothing.
    async fn apply(&self, op: Op) -> Result<ItemList, AppError>;
}

/// The three strategies as seen by the current request.
pub struct Strategies<'r> {
    pub global: global::Global<'r>,
    pub server: server_session::ServerSession<'r>,
    pub private: private_cookie::PrivateCookie<'r>,
    pub signed: signed_cookie::SignedCookie<'r>,
}

impl Strategies<'_> {
    pub fn get(&self, slug: Slug) -> &dyn Strategy {
        match slug {
            Slug::Global => &self.global,
            Slug::ServerSession => &self.server,
            Slug::CookieSession => &self.private,
            Slug::SignedSession => &self.signed,
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Strategies<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let global = rocket::outcome::try_outcome!(request.guard().await);
        let server = rocket::outcome::try_outcome!(request.guard().await);
        let private = rocket::outcome::try_outcome!(request.guard().await);
        let signed = rocket::outcome::try_outcome!(request.guard().await);
        request::Outcome::Success(Strategies { global, server, private, signed })
    }
}

/// What a strategy that keeps a cookie reads from the configuration once, at ignition: the
/// cookie's name and attributes and the lifetimes it is checked against. One type for every
/// such strategy; `S`, the strategy, only tells their copies in Rocket's state apart.
pub struct CookieSettings<S> {
    pub name: String,
    pub policy: CookiePolicy,
    pub lifetimes: Lifetimes,
    strategy: PhantomData<fn() -> S>,
}

impl<S> CookieSettings<S> {
    /// The settings of cookie `base` (one of [`crate::cookie_rules`]' names).
    pub fn new(config: &AppConfig, base: &'static str) -> CookieSettings<S> {
        let policy = config.cookies();
        CookieSettings {
            name: policy.name(base),
            policy,
            lifetimes: config.lifetimes(),
            strategy: PhantomData,
        }
    }

    /// What the log says of this cookie at liftoff.
    pub fn announce(&self) -> rocket::fairing::AdHoc {
        let secure = self.policy.secure;
        crate::config::announce(vec![format!(
            "cookie {}: HttpOnly, SameSite=Lax, Path=/, Secure={secure}",
            self.name
        )])
    }
}

/// A guard's answer when its stage was not attached: a bug in how the app was built.
pub(crate) fn missing_state<T>(stage: &str) -> request::Outcome<T, ()> {
    log::error!("managed state missing: attach {stage}");
    request::Outcome::Error((rocket::http::Status::InternalServerError, ()))
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shorten_keeps_short_values_and_cuts_long_ones_on_character_boundaries() {
        assert_eq!(shorten(""), "");
        assert_eq!(shorten("0123456789abcdef"), "0123456789abcdef");
        assert_eq!(shorten("0123456789abcdefg"), "01234567…bcdefg");
        assert_eq!(shorten(&"é".repeat(17)), format!("{}…{}", "é".repeat(8), "é".repeat(6)));
    }

    #[test]
    fn a_cookie_view_shows_the_cookie_as_the_browser_stores_it() {
        let view = super::CookieView::new("c", "a/b=c", "decrypted");
        assert_eq!(view.bytes, "c".len() + "a%2Fb%3Dc".len());
        assert_eq!(view.preview, "a%2Fb%3Dc");
    }
}
