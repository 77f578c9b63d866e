//! One error type for everything a request can get wrong, each variant with its status.
//! How an error is sent (a JSON body, an error page) is the web layer's business: see
//! [`crate::web::error`].
//!
//! Messages are written for the visitor and say what to do. Internal details (a store's
//! connection error, a decryption failure's cause) go to the log, never into a response: the
//! web layer logs them ([`AppError::log`]) where it answers the error, so each is logged once.

use rocket::http::Status;

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
    /// 503: the session store did not answer. The cause is for the log ([`AppError::log`]),
    /// never for the visitor.
    #[error("the session store is unavailable right now; try again shortly (other strategies still work)")]
    StoreUnavailable(#[source] crate::store::StoreError),
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
    /// 429: this client started new server-side sessions faster than its rate allows. A
    /// visitor who already has a session never sees it.
    #[error(
        "too many new sessions from your address; try again in {retry_after} s (a visitor who \
         already has a session is never limited, and the other two strategies keep working)"
    )]
    NewSessionsTooFast { retry_after: u64 },
    /// 503: the store holds `session_limit` live sessions; new ones wait until some expire.
    #[error(
        "the server already holds the {limit} live sessions it allows, so it starts no new one \
         right now (existing sessions are never evicted to make room); try again in \
         {retry_after} s; the global list and the private cookie keep working"
    )]
    SessionLimitReached { limit: usize, retry_after: u64 },
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
            AppError::StoreUnavailable(_) | AppError::SessionLimitReached { .. } => {
                Status::ServiceUnavailable
            }
            AppError::NewSessionsTooFast { .. } => Status::TooManyRequests,
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::PayloadTooLarge(_) => Status::PayloadTooLarge,
            AppError::UnsupportedMediaType => Status::UnsupportedMediaType,
        }
    }
}

impl AppError {
    /// Seconds a client should wait before trying again (`Retry-After`), for refusals that
    /// pass with time.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::NewSessionsTooFast { retry_after }
            | AppError::SessionLimitReached { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Logs what the answer does not say, for the operator: the cause of a 503, or that the
    /// server is full. The web layer calls it once, where it answers the error.
    pub fn log(&self) {
        match self {
            AppError::StoreUnavailable(cause) => log::error!("{cause}"),
            AppError::SessionLimitReached { limit, .. } => {
                log::warn!("session limit reached ({limit} live sessions): a new session was refused")
            }
            _ => {}
        }
    }
}

impl From<crate::admission::Refused> for AppError {
    fn from(refused: crate::admission::Refused) -> Self {
        match refused {
            crate::admission::Refused::TooFast { retry_after } => {
                AppError::NewSessionsTooFast { retry_after: retry_after.as_secs().max(1) }
            }
            crate::admission::Refused::Full { limit, retry_after } => {
                AppError::SessionLimitReached { limit, retry_after: retry_after.as_secs() }
            }
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(error: crate::store::StoreError) -> Self {
        AppError::StoreUnavailable(error)
    }
}
