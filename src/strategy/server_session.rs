//! Strategy 2: a server-side session, with only an opaque id in the browser.
//!
//! - **Where the data lives:** in a [`SessionStore`] on the server (memory by default, or
//!   Redis or Postgres, chosen by `session_store`: see [`crate::store`]); the `session_id`
//!   cookie holds 43 random characters and nothing else.
//! - **How long it lasts:** until the idle timeout or the absolute lifetime runs out, both
//!   enforced by the store, or until the visitor ends it; the memory store also forgets
//!   everything on restart.
//! - **Who can read it:** only the server. The browser cannot see or change the list, and
//!   the store keys records by a hash of the id, so even a store dump yields no cookies.
//! - **What it costs:** one store lookup per request, and store memory per visitor. A
//!   session is created only on the first write, so readers cost nothing.
//! - **How it fails:** if the store is down, this strategy answers 503 while the other two
//!   keep working; an unknown, expired or malformed id is never adopted, a write gets a
//!   fresh one (no session fixation).

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::http::CookieJar;
use rocket::request::{self, FromRequest, Request};

use super::{CookieSettings, CookieView, Fact, Strategy, View};
use crate::admission::client_address::ClientAddress;
use crate::admission::Admission;
use crate::admission::Refused;
use crate::clock;
use crate::config::AppConfig;
use crate::cookie_rules;
use crate::error::AppError;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;
use crate::store::{Created, Reached, Record, Rotated, SessionStore, Store};

/// The session cookie's settings, managed by [`stage`]. The store itself is the store
/// stage's ([`crate::store::stage()`]); this strategy takes it from Rocket state per request.
pub type Settings = CookieSettings<ServerSession<'static>>;

pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Server-side sessions", |rocket| async {
        let Some(config) = rocket.state::<AppConfig>() else {
            // The configuration stage failed and has said why; one message is enough.
            return Err(rocket);
        };
        let settings = Settings::new(config, cookie_rules::SESSION_ID);
        Ok(rocket.attach(settings.announce()).manage(settings))
    })
}

/// The visitor's server-side session as seen by one request: the id cookie (if any, and
/// if well-formed) and the store to look it up in. Nothing is loaded until asked.
pub struct ServerSession<'r> {
    sessions: &'r Settings,
    store: &'r Store,
    /// Who may start a new session: consulted only when this request would create one.
    admission: &'r Admission,
    /// The client's address ([`ClientAddress`]), for the per-client rate.
    client: Option<std::net::IpAddr>,
    jar: &'r CookieJar<'r>,
    sent: Option<String>,
    id: Option<SessionId>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ServerSession<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        let state = (rocket.state::<Settings>(), rocket.state::<Store>(), rocket.state::<Arc<Admission>>());
        let (Some(sessions), Some(store), Some(admission)) = state else {
            return super::missing_state("server_session::stage() and store::stage()");
        };
        let jar = request.cookies();
        let sent = jar.get(&sessions.name).map(|c| c.value().to_owned());
        let id = sent.as_deref().and_then(SessionId::parse);
        let ClientAddress(client) = ClientAddress::of(request);
        request::Outcome::Success(ServerSession { sessions, store, admission, client, jar, sent, id })
    }
}

impl ServerSession<'_> {
    fn store(&self) -> &dyn SessionStore {
        &**self.store
    }

    /// The live record behind the visitor's cookie, if there is one. Reached through an id
    /// rotated away moments ago, the answer carries the new id.
    pub async fn record(&self) -> Result<Option<Record>, AppError> {
        let Some(id) = &self.id else { return Ok(None) };
        Ok(self.store().load(id).await?.map(|reached| self.follow(reached)))
    }

    /// The value an operation reached, after pointing the cookie at the id it was moved to.
    fn follow<T>(&self, Reached { value, moved_to }: Reached<T>) -> T {
        if let Some(successor) = moved_to {
            self.set_cookie(&successor);
        }
        value
    }

    /// Log out: delete the record and the cookie. The id is dead even if copied elsewhere.
    pub async fn end(&self) -> Result<(), AppError> {
        if let Some(id) = &self.id {
            if self.store().destroy(id).await? {
                self.admission.ended();
                log::info!("session {} ended", id.redacted());
            }
        }
        if self.sent.is_some() {
            cookie_rules::remove(self.jar, &self.sessions.name, self.sessions.policy);
        }
        Ok(())
    }

    /// Moves the session to a new id; the old one leads to it for the grace window, then
    /// stops working. Returns whether there was a session to rotate.
    pub async fn rotate(&self) -> Result<bool, AppError> {
        let Some(old) = &self.id else { return Ok(false) };
        let new = SessionId::generate();
        let now = match self.store().rotate(old, &new).await? {
            Rotated::Missing => return Ok(false),
            Rotated::Moved => new,
            // Another tab (or a double click) rotated it moments ago: the same successor.
            Rotated::Already(successor) => successor,
        };
        log::info!("session {} rotated to {}", old.redacted(), now.redacted());
        self.set_cookie(&now);
        Ok(true)
    }

    fn set_cookie(&self, id: &SessionId) {
        let s = self.sessions;
        self.jar.add(cookie_rules::build(&s.name, id.expose().to_owned(), s.policy, s.lifetimes.max));
    }

    /// What the page says about an id the store does not know. A store in this process's
    /// memory cannot tell an expired session from one that lives in another process, so it
    /// names both.
    fn unknown_id_notice(&self) -> String {
        let end = "Your next change starts a new one.";
        if self.store().per_process() {
            format!(
                "This server does not know your session id: your server-side session has expired or \
                 ended, or it is kept in the memory of another process (a server that restarted, or \
                 another instance behind a load balancer). {end}"
            )
        } else {
            format!("Your server-side session has expired or ended. {end}")
        }
    }

    /// The cookie panel's row; a live session's id was set by [`Self::set_cookie`], so its
    /// attributes are known.
    fn cookie_view(&self, value: &str, status: &str, live: bool) -> CookieView {
        let view = CookieView::new(&self.sessions.name, value, status);
        match live {
            true => {
                view.set_with(cookie_rules::attributes(self.sessions.policy, self.sessions.lifetimes.max))
            }
            false => view,
        }
    }

    fn facts(&self, record: &Record) -> Vec<Fact> {
        let key = self.id.as_ref().map(SessionId::storage_key).unwrap_or_default();
        vec![
            Fact::new("kept in", format!("the {} session store", self.store().backend())),
            Fact::new("record key", format!("sha256(id) = {}…", &key[..12.min(key.len())])),
            Fact::new("items", record.items.len()),
            Fact::new("created", clock::format_ms(record.created_ms)),
            Fact::new("expires", clock::format_ms(record.expires_ms(&self.sessions.lifetimes))),
        ]
    }
}

#[rocket::async_trait]
impl Strategy for ServerSession<'_> {
    async fn view(&self) -> Result<View, AppError> {
        let record = self.record().await?;
        let (status, notice) = match (&self.sent, &self.id, &record) {
            (None, _, _) => (None, None),
            (Some(_), None, _) => (Some("malformed id, ignored"), None),
            (Some(_), Some(_), Some(_)) => (Some("live session"), None),
            (Some(_), Some(_), None) => (Some("unknown or expired id"), Some(self.unknown_id_notice())),
        };
        let browser = match (&self.sent, status) {
            (Some(value), Some(status)) => vec![self.cookie_view(value, status, record.is_some())],
            _ => Vec::new(),
        };
        let server = match &record {
            Some(record) => self.facts(record),
            None => vec![
                Fact::new("kept in", format!("the {} session store", self.store().backend())),
                Fact::new("your record", "none yet: a session is created on your first change"),
            ],
        };
        let expires_at = record.as_ref().map(|r| clock::format_ms(r.expires_ms(&self.sessions.lifetimes)));
        let items = record.map(|r| r.items).unwrap_or_default();
        Ok(View { items, browser, server, expires_at, notice })
    }

    async fn items(&self) -> Result<ItemList, AppError> {
        Ok(self.record().await?.map(|record| record.items).unwrap_or_default())
    }

    async fn apply(&self, op: Op) -> Result<ItemList, AppError> {
        if let Some(id) = &self.id {
            if let Some(reached) = self.store().update(id, &op).await? {
                return Ok(self.follow(reached)?.items);
            }
            // Missing: never adopt the id; a fresh one follows.
        }
        let mut items = ItemList::default();
        items.apply(&op)?;
        if items.is_empty() {
            return Ok(items); // clearing nothing: no reason to create a session
        }
        let ticket = self.admission.admit()?;
        let id = SessionId::generate();
        match self.store().create(&id, items, &self.admission.charge(self.client)).await? {
            Created::TooFast { retry_after } => Err(Refused::TooFast { retry_after }.into()),
            Created::Stored(record) => {
                ticket.created();
                self.set_cookie(&id);
                Ok(record.items)
            }
        }
    }
}
