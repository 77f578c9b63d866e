//! The three places this app keeps the same list, behind one [`Strategy`] trait.
//!
//! Reading order: [`global`] (one list in the process), [`server_session`] (an id in the
//! browser, the list in a store), [`cookie_session`] (the list itself, encrypted, in the
//! browser). Each module's own doc says where its data lives, how long it lasts, who can
//! read it, what it costs and how it fails. Routes never name a strategy's internals: they
//! take the [`Strategies`] guard and ask it for the one a [`Slug`] names.
//!
//! [`signed_session`] is a fourth, smaller one, shown on the private-cookie page rather than
//! compared: the list in a cookie that is signed but not encrypted, which is what Flask's
//! `session` does by default. It follows the same rules, so the same routes and tests serve it.

pub mod cookie_session;
pub mod global;
pub mod server_session;
pub mod signed_session;

use rocket::request::{self, FromParam, FromRequest, Request};
use serde::Serialize;

use crate::error::AppError;
use crate::item::{ItemList, Op};

/// Browsers keep cookies of up to 4096 bytes of name plus value (RFC 6265 §6.1 asks for at
/// least that; Chrome and Firefox drop bigger ones silently).
pub const COOKIE_LIMIT: usize = 4096;

/// The strategy a URL names: `global`, `server-session`, `cookie-session` or
/// `signed-session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Slug {
    Global,
    ServerSession,
    CookieSession,
    SignedSession,
}

impl Slug {
    /// The three strategies the comparison page sets side by side.
    pub const COMPARED: [Slug; 3] = [Slug::Global, Slug::ServerSession, Slug::CookieSession];
    /// Every list the app keeps: the compared three and the signed-cookie demonstrator.
    pub const ALL: [Slug; 4] = [Slug::Global, Slug::ServerSession, Slug::CookieSession, Slug::SignedSession];

    pub fn as_str(self) -> &'static str {
        match self {
            Slug::Global => "global",
            Slug::ServerSession => "server-session",
            Slug::CookieSession => "cookie-session",
            Slug::SignedSession => "signed-session",
        }
    }

    /// The page that shows this list: its own, except the signed cookie, which is shown on the
    /// private-cookie page next to what it is compared with.
    pub fn page(self) -> Slug {
        match self {
            Slug::SignedSession => Slug::CookieSession,
            slug => slug,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Slug::Global => "Global state",
            Slug::ServerSession => "Server-side session",
            Slug::CookieSession => "Private cookie",
            Slug::SignedSession => "Signed cookie (what Flask does by default)",
        }
    }

    /// The trade-off in one line, shown under each list.
    pub fn summary(self) -> &'static str {
        match self {
            Slug::Global => {
                "One list in this server process, shared by every visitor; gone on restart, different on every instance."
            }
            Slug::ServerSession => {
                "Your browser holds only a random id; the list lives on the server, which can expire or revoke it."
            }
            Slug::CookieSession => {
                "The list itself travels in an encrypted cookie, 4 KB at most; the server keeps no list, only an epoch per cookie family that signed out everywhere, and a copied cookie replays until it expires or its family signs out."
            }
            Slug::SignedSession => {
                "The list travels in a cookie that is signed, not encrypted: the server can tell it was not changed, but anyone holding it can read it."
            }
        }
    }

    pub fn parse(raw: &str) -> Option<Slug> {
        Slug::ALL.into_iter().find(|slug| slug.as_str() == raw)
    }
}

impl<'a> FromParam<'a> for Slug {
    type Error = &'a str;
    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        Slug::parse(param).ok_or(param)
    }
}

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
}

impl CookieView {
    /// `value` as Rocket hands it over: percent-decoded. The browser holds it as the app sent
    /// it in `Set-Cookie`, percent-encoded (a `/` in base64 is `%2F` there, 3 bytes), so that
    /// is the form this view measures and shows.
    pub fn new(name: &str, value: &str, status: impl Into<String>) -> CookieView {
        let stored = as_stored(name, value);
        CookieView {
            name: name.to_owned(),
            bytes: name.len() + stored.len(),
            limit: COOKIE_LIMIT,
            preview: shorten(&stored),
            status: status.into(),
            readable: None,
        }
    }
}

/// A cookie value percent-encoded as Rocket encodes it in `Set-Cookie`.
fn as_stored(name: &str, value: &str) -> String {
    let cookie = rocket::http::Cookie::new(name, value);
    let pair = cookie.stripped().encoded().to_string();
    pair.split_once('=').map_or(pair.clone(), |(_, value)| value.to_owned())
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
#[derive(Debug, Clone, Serialize)]
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
    pub cookie: cookie_session::CookieSession<'r>,
    pub signed: signed_session::SignedSession<'r>,
}

impl Strategies<'_> {
    pub fn get(&self, slug: Slug) -> &dyn Strategy {
        match slug {
            Slug::Global => &self.global,
            Slug::ServerSession => &self.server,
            Slug::CookieSession => &self.cookie,
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
        let cookie = rocket::outcome::try_outcome!(request.guard().await);
        let signed = rocket::outcome::try_outcome!(request.guard().await);
        request::Outcome::Success(Strategies { global, server, cookie, signed })
    }
}

/// A guard's answer when its stage was not attached: a bug in how the app was built.
fn missing_state<T>(stage: &str) -> request::Outcome<T, ()> {
    log::error!("managed state missing: attach {stage}");
    request::Outcome::Error((rocket::http::Status::InternalServerError, ()))
}

/// Every cookie this app sets: HttpOnly (scripts cannot read it), `SameSite=Lax` (not sent
/// on cross-site subrequests or POSTs), `Path=/`, and `Secure` when configured.
pub(crate) fn cookie(
    name: &str,
    value: String,
    policy: crate::config::CookiePolicy,
    max_age: std::time::Duration,
) -> rocket::http::Cookie<'static> {
    let max_age = rocket::time::Duration::seconds(max_age.as_secs().min(i64::MAX as u64) as i64);
    rocket::http::Cookie::build((name.to_owned(), value))
        .http_only(true)
        .same_site(rocket::http::SameSite::Lax)
        .path("/")
        .secure(policy.secure)
        .max_age(max_age)
        .build()
}

/// Tells the browser to delete cookie `name`. The removal must carry the same attributes
/// (a `__Host-` cookie is only replaced by a Secure one), so it is built like the original.
pub(crate) fn remove_cookie(
    jar: &rocket::http::CookieJar<'_>,
    name: &str,
    policy: crate::config::CookiePolicy,
) {
    jar.remove(cookie(name, String::new(), policy, std::time::Duration::ZERO));
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
    fn a_cookie_is_measured_as_the_browser_stores_it() {
        let view = super::CookieView::new("c", "a/b=c", "decrypted");
        assert_eq!(view.bytes, "c".len() + "a%2Fb%3Dc".len());
        assert_eq!(view.preview, "a%2Fb%3Dc");
    }
}
