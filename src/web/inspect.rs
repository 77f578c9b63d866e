//! `/api/inspect`: everything the server received from this visitor and holds for them, in one
//! JSON answer: each strategy's view, every cookie the browser sent and what the server made of
//! it, the store, the revocation copy, the keys and the client address the bounds see.

use rocket::http::CookieJar;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Serialize;

use super::api::ApiResult;
use crate::admission::client_address::ClientView;
use crate::cookie_rules;
use crate::error::AppError;
use crate::instance::{Instance, InstanceView};
use crate::secret::SecretKeys;
use crate::store::{RevocationCopy, Store, StoreError};
use crate::strategy::{CookieView, Strategies, Strategy, View};

pub fn routes() -> Vec<Route> {
    rocket::routes![inspect]
}

#[derive(Serialize)]
struct Inspect {
    instance: InstanceView,
    /// Every cookie this request carried, and what the server made of it.
    received: Vec<CookieView>,
    store: StoreInfo,
    global: View,
    /// `null` when the session store could not be read (see `store.error`).
    server_session: Option<View>,
    cookie_session: Option<View>,
    revocation: RevocationInfo,
    /// The signed-cookie demonstrator shown on the private-cookie page.
    signed_session: View,
    keys: KeyInfo,
    /// Who this request came from, as the rate on new sessions sees it.
    client: ClientView,
}

/// How current this instance's copy of the revoked private-cookie families is.
#[derive(Serialize)]
struct RevocationInfo {
    /// The store's change feed is connected: a sign-out anywhere is seen here within a second.
    live: bool,
    /// When the copy was last known complete (RFC 3339; now while `live`); `null` if never.
    confirmed_at: Option<String>,
}

impl RevocationInfo {
    fn of(revocations: &RevocationCopy) -> RevocationInfo {
        let (live, at) = revocations.status();
        RevocationInfo { live, confirmed_at: (at > 0).then(|| crate::clock::format_ms(at)) }
    }
}

/// Key rotation at a glance: once `old_key_reads` stops growing, the previous keys can go.
#[derive(Serialize)]
struct KeyInfo {
    previous_keys: usize,
    /// Private cookies opened under a previous key (and re-sealed) since this instance started.
    old_key_reads: u64,
}

#[derive(Serialize)]
struct StoreInfo {
    backend: &'static str,
    /// Live sessions in the store; `null` when it could not be counted.
    sessions: Option<usize>,
    error: Option<String>,
}

impl StoreInfo {
    fn of(store: &Store, count: Result<usize, StoreError>) -> StoreInfo {
        let (sessions, error) = match count.map_err(AppError::from) {
            Ok(n) => (Some(n), None),
            Err(error) => {
                error.log();
                (None, Some(error.to_string()))
            }
        };
        StoreInfo { backend: store.backend(), sessions, error }
    }
}

/// Every cookie the browser sent: the strategies' own as their `views` describe them, then
/// any other, said to be the flash cookie or not this app's.
fn received<'a>(views: impl Iterator<Item = &'a View>, jar: &CookieJar<'_>) -> Vec<CookieView> {
    let mut received: Vec<CookieView> = views.flat_map(|view| view.browser.clone()).collect();
    let ours: Vec<String> = received.iter().map(|c| c.name.clone()).collect();
    for cookie in jar.iter().filter(|c| !ours.iter().any(|name| name == c.name())) {
        let status = match cookie.name().strip_prefix("__Host-").unwrap_or(cookie.name()) {
            cookie_rules::FLASH => "why a form change was refused; the next page shows it and deletes it",
            _ => "not used by this app",
        };
        received.push(CookieView::new(cookie.name(), cookie.value(), status));
    }
    received
}

#[rocket::get("/api/inspect")]
async fn inspect(
    strategies: Strategies<'_>,
    instance: &State<Instance>,
    keys: &State<SecretKeys>,
    store: &State<Store>,
    revocations: &State<std::sync::Arc<RevocationCopy>>,
    jar: &CookieJar<'_>,
    client: ClientView,
) -> ApiResult<Json<Inspect>> {
    // Up to three store calls (count, session, and a revocation epoch while this instance's
    // copy is not current) at once: with a store that does not answer, the page waits for
    // one timeout, not three in a row.
    let (count, global, server_session, cookie_session, signed_session) = rocket::tokio::join!(
        store.count_recent(),
        strategies.global.view(),
        strategies.server.view(),
        strategies.private.view(),
        strategies.signed.view()
    );
    // A view the store could not give is `null` here, and its cause is logged.
    let (server_session, cookie_session) =
        (server_session.inspect_err(AppError::log).ok(), cookie_session.inspect_err(AppError::log).ok());
    let (global, signed_session) = (global?, signed_session?);
    let views = server_session.iter().chain(&cookie_session).chain(std::iter::once(&signed_session));
    Ok(Json(Inspect {
        instance: instance.view(),
        received: received(views, jar),
        store: StoreInfo::of(store, count),
        global,
        server_session,
        cookie_session,
        revocation: RevocationInfo::of(revocations),
        signed_session,
        keys: KeyInfo {
            previous_keys: keys.previous.len(),
            old_key_reads: strategies.private.old_key_reads(),
        },
        client,
    }))
}
