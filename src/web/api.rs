//! The JSON API: the same operations as the forms, for curl and scripts, and `/healthz`.
//! `/api/inspect`, what the server received from and holds for this visitor, is
//! [`super::inspect`].

use rocket::http::Status;
use rocket::serde::json::{self, Json};
use rocket::{Route, State};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::origin::SameOrigin;
use crate::error::AppError;
use crate::item::{Item, ItemList, Op, MAX_ITEMS};
use crate::store::Store;
use crate::strategy::{Slug, Strategies};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, add, add_wrong_type, remove, clear, healthz]
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

pub(super) type ApiResult<T> = Result<T, ApiError>;

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
