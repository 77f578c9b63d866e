//! One error type for everything a request can get wrong, each variant with its status.
//!
//! Messages are written for the visitor and say what to do. Internal details (a store's
//! connection error, a decryption failure's cause) go to the log, never into a response.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::Request;
use serde::Serialize;

use crate::item::{ItemError, ListError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// 422: the item breaks a rule of [`crate::item::Item`].
    #[error("{0}")]
    Item(#[from] ItemError),
    /// 422 when the list is full; 404 for an index that is not in the list.
    #[error("{0}")]
    List(#[from] ListError),
    /// 422: the cookie holding the list would pass the size browsers keep; the old cookie
    /// stays.
    #[error(
        "the {cookie} cookie would be {size} bytes (name plus value), over the {limit}-byte \
         limit browsers keep, so the item was not added and your list is unchanged; \
         remove or shorten items first"
    )]
    CookieTooLarge { cookie: String, size: usize, limit: usize },
    /// 503: the session store did not answer; the log has the cause.
    #[error("the session store is unavailable right now; try again shortly (other strategies still work)")]
    StoreUnavailable,
    /// 400: the request itself is malformed (bad JSON, bad index).
    #[error("{0}")]
    BadRequest(String),
    /// 413: the body is over the configured limit.
    #[error("the request body is larger than this app accepts ({0})")]
    PayloadTooLarge(String),
    /// 415: a JSON route was sent something that is not `application/json`.
    #[error("this endpoint accepts only `Content-Type: application/json` bodies")]
    UnsupportedMediaType,
    /// 422: the body parsed but had the wrong shape (missing field, wrong type).
    #[error("{0}")]
    Unprocessable(String),
    /// 404: the URL names a strategy that does not exist.
    #[error("no strategy named `{0}`: use global, server-session, cookie-session or signed-session")]
    UnknownStrategy(String),
}

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            AppError::Item(_) | AppError::CookieTooLarge { .. } | AppError::Unprocessable(_) => {
                Status::UnprocessableEntity
            }
            AppError::List(ListError::Full) => Status::UnprocessableEntity,
            AppError::List(ListError::NoSuchIndex { .. }) | AppError::UnknownStrategy(_) => Status::NotFound,
            AppError::StoreUnavailable => Status::ServiceUnavailable,
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::PayloadTooLarge(_) => Status::PayloadTooLarge,
            AppError::UnsupportedMediaType => Status::UnsupportedMediaType,
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(error: crate::store::StoreError) -> Self {
        log::error!("{error}");
        AppError::StoreUnavailable
    }
}

/// The JSON body of every API error: `{"error": "..."}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: String,
}

/// An [`AppError`] as an API response: its status and `{"error": message}`.
#[derive(Debug, rocket::Responder)]
pub struct ApiError {
    inner: (Status, Json<ErrorBody>),
}

impl ApiError {
    pub fn new(status: Status, message: impl Into<String>) -> ApiError {
        ApiError { inner: (status, Json(ErrorBody { error: message.into() })) }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError::new(error.status(), error.to_string())
    }
}

/// Why a guard refused a request, kept in the request's local cache so that the catcher
/// that renders the refusal can say it (Rocket's catchers see only the status).
#[derive(Debug, Default, Clone)]
pub struct RefusalReason(pub Option<String>);

impl RefusalReason {
    pub fn record(request: &Request<'_>, message: impl Into<String>) {
        let message = message.into();
        request.local_cache(|| RefusalReason(Some(message)));
    }

    pub fn of(request: &Request<'_>) -> Option<String> {
        request.local_cache(RefusalReason::default).0.clone()
    }
}
