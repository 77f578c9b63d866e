//! Why a form change was refused, carried across the redirect to the page that shows it once.
//!
//! Rocket's `Flash` does this with a `_flash` cookie that is neither `HttpOnly` nor `Secure`,
//! and every cookie this app sets is `HttpOnly`, and `Secure` with a `__Host-` name when
//! `cookie_secure` is on. So the reason travels in a cookie of the app's own, `flash`, built
//! like the session cookies and kept for a minute: the page it redirects to reads and deletes it.

use std::time::Duration;

use rocket::http::CookieJar;
use rocket::request::{self, FromRequest, Request};

use crate::config::AppConfig;
use crate::cookie_rules;
use crate::cookie_rules::CookiePolicy;
use crate::strategy::{CookieView, Slug};

/// Long enough for the redirect that follows at once, short enough not to linger.
const LIFETIME: Duration = Duration::from_secs(60);
/// Longer values are not a message this app wrote.
const MAX_MESSAGE: usize = 1000;

/// The flash cookie of one request.
pub struct Flash<'r> {
    jar: &'r CookieJar<'r>,
    policy: CookiePolicy,
    name: String,
}

/// A refused change as the next page learns of it: which list, why, and the cookie that
/// carried it (shown in that list's panel, since the browser held it).
pub struct Refusal {
    pub slug: Slug,
    pub message: String,
    pub cookie: CookieView,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Flash<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let Some(config) = request.rocket().state::<AppConfig>() else {
            return request::Outcome::Error((rocket::http::Status::InternalServerError, ()));
        };
        let policy = config.cookies();
        request::Outcome::Success(Flash {
            jar: request.cookies(),
            policy,
            name: policy.name(cookie_rules::FLASH),
        })
    }
}

impl Flash<'_> {
    /// Leaves `message` about `slug` for the next page.
    pub fn set(&self, slug: Slug, message: &str) {
        let value = format!("{}:{message}", slug.as_str());
        self.jar.add(cookie_rules::build(&self.name, value, self.policy, LIFETIME));
    }

    /// Reads and deletes the message, if the browser sent one. A value that names no list, or
    /// is longer than any message this app writes, is deleted and ignored.
    pub fn take(&self) -> Option<Refusal> {
        let value = self.jar.get(&self.name)?.value().to_owned();
        cookie_rules::remove(self.jar, &self.name, self.policy);
        let (slug, message) = value.split_once(':')?;
        let slug = Slug::parse(slug).filter(|_| message.len() <= MAX_MESSAGE)?;
        let what = "the reason your last change was refused; this page showed it and deleted it";
        let cookie = CookieView::new(&self.name, &value, what);
        Some(Refusal { slug, message: message.to_owned(), cookie })
    }
}
