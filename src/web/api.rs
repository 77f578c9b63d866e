//! The JSON API: the same operations as the forms, for curl and scripts, plus
//! `/api/inspect` (what the server received from and holds for this visitor) and `/healthz`.

use rocket::http::{CookieJar, Status};
use rocket::serde::json::{self, Json};
use rocket::{Route, State};
use serde::{Deserialize, Serialize};

use super::client_address::ClientView;
use super::error::ApiError;
use super::origin::SameOrigin;
use crate::cookies;
use crate::error::AppError;
use crate::instance::{Instance, InstanceView};
use crate::item::{Item, ItemList, Op, MAX_ITEMS};
use crate::secret::SecretKeys;
use crate::store::{Revocations, Store, StoreError};
use crate::strategy::{CookieView, Slug, Strategies, Strategy, View};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, add, add_wrong_type, remove, clear, inspect, healthz]
}

#[derive(Debug, Serialize)]
pub struct ItemsBody {
    strategy: Slug,
    items: ItemList,
    count: usize,
    cap: usize,
}

impl ItemsBody {
    fn new(strategy: Slug, items: ItemList) -> Json<ItemsBody> {
        Json(ItemsBody { strategy, count: items.len(), items, cap: MAX_ITEMS })
    }
}

#[derive(Debug, Deserialize)]
pub struct NewItem {
    item: String,
}

type ApiResult<T> = Result<T, ApiError>;

#[rocket::get("/api/<slug>/items")]
async fn list(slug: Result<Slug, &str>, strategies: Strategies<'_>) -> ApiResult<Json<ItemsBody>> {
    let slug = super::strategy_named(slug)?;
    let items = strategies.get(slug).items().await?;
    Ok(ItemsBody::new(slug, items))
}

#[rocket::post("/api/<slug>/items", format = "json", data = "<body>")]
async fn add(
    _same_origin: SameOrigin,
    slug: Result<Slug, &str>,
    strategies: Strategies<'_>,
    body: Result<Json<NewItem>, json::Error<'_>>,
) -> ApiResult<(Status, Json<ItemsBody>)> {
    let slug = super::strategy_named(slug)?;
    let item = Item::parse(&body.map_err(json_error)?.item).map_err(AppError::from)?;
    let items = strategies.get(slug).apply(Op::Add(item)).await?;
    Ok((Status::Created, ItemsBody::new(slug, items)))
}

/// Same path without `Content-Type: application/json`: say so instead of a bare 404.
#[rocket::post("/api/<slug>/items", rank = 2)]
fn add_wrong_type(_same_origin: SameOrigin, slug: Result<Slug, &str>) -> ApiError {
    super::strategy_named(slug).err().unwrap_or(AppError::UnsupportedMediaType).into()
}

#[rocket::delete("/api/<slug>/items/<index>")]
async fn remove(
    _same_origin: SameOrigin,
    slug: Result<Slug, &str>,
    index: Result<usize, &str>,
    strategies: Strategies<'_>,
) -> ApiResult<Json<ItemsBody>> {
    let slug = super::strategy_named(slug)?;
    let index = index.map_err(super::bad_index)?;
    let items = strategies.get(slug).apply(Op::Remove(index)).await?;
    Ok(ItemsBody::new(slug, items))
}

#[rocket::delete("/api/<slug>/items")]
async fn clear(
    _same_origin: SameOrigin,
    slug: Result<Slug, &str>,
    strategies: Strategies<'_>,
) -> ApiResult<Json<ItemsBody>> {
    let slug = super::strategy_named(slug)?;
    let items = strategies.get(slug).apply(Op::Clear).await?;
    Ok(ItemsBody::new(slug, items))
}

/// Turns Rocket's JSON guard error into a message that says what was wrong.
fn json_error(error: json::Error<'_>) -> ApiError {
    let app_error = match error {
        json::Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AppError::PayloadTooLarge("JSON bodies are limited by `limits.json` in Rocket.toml".into())
        }
        json::Error::Io(e) => AppError::BadRequest(format!("could not read the body: {e}")),
        json::Error::Parse(_, e) if e.is_data() => {
            AppError::Unprocessable(format!("expected {{\"item\": \"text\"}}: {e}"))
        }
        json::Error::Parse(_, e) => AppError::BadRequest(format!("malformed JSON: {e}")),
    };
    app_error.into()
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
    fn of(revocations: &Revocations) -> RevocationInfo {
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
            cookies::FLASH => "why a form change was refused; the next page shows it and deletes it",
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
    revocations: &State<std::sync::Arc<Revocations>>,
    jar: &CookieJar<'_>,
    client: ClientView,
) -> ApiResult<Json<Inspect>> {
    // Up to three store calls (count, session, and a revocation epoch while this instance's
    // copy is not current) at once: with a store that does not answer, the page waits for
    // one timeout, not three in a row.
    let (count, global, server_session, cookie_session, signed_session) = rocket::tokio::join!(
        store.count(),
        strategies.global.view(),
        strategies.server.view(),
        strategies.cookie.view(),
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
            old_key_reads: strategies.cookie.old_key_reads(),
        },
        client,
    }))
}

/// The answer of `/healthz`.
///
/// - `200 {"status": "ok", "store": {"backend": "redis", "up": true}}` when the session store
///   answers a ping within its timeout (always, for `memory`).
/// - `503 {"status": "degraded", "store": {"backend": "redis", "up": false}}` when it does
///   not. The app itself is still serving: the global and cookie strategies work, only
///   server-side sessions answer 503. A load balancer that checks `/healthz` therefore takes
///   an instance out while its store is unreachable; the cause is in the log, not the body.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    store: StoreHealth,
}

#[derive(Serialize)]
struct StoreHealth {
    backend: &'static str,
    up: bool,
}

#[rocket::get("/healthz")]
async fn healthz(store: &State<Store>) -> (Status, Json<Health>) {
    let up = match store.ping().await {
        Ok(()) => true,
        Err(e) => {
            log::warn!("health check: {e}");
            false
        }
    };
    let (status, word) = if up { (Status::Ok, "ok") } else { (Status::ServiceUnavailable, "degraded") };
    (status, Json(Health { status: word, store: StoreHealth { backend: store.backend(), up } }))
}
