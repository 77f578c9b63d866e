//! How errors travel over HTTP: the JSON body every API error has, and the reason a guard
//! refused a request, kept for the catcher that renders it.

use rocket::http::{Header, Status};
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::Request;
use serde::Serialize;

use crate::error::AppError;

/// The JSON body of every API error: `{"error": "..."}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: String,
}

/// An [`AppError`] as an API response: its status, `{"error": message}`, and `Retry-After`
/// when waiting will help (a 429 or a full session store).
#[derive(Debug)]
pub struct ApiError {
    status: Status,
    body: Json<ErrorBody>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: Status, message: impl Into<String>) -> ApiError {
        ApiError { status, body: Json(ErrorBody { error: message.into() }), retry_after: None }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        error.log();
        ApiError { retry_after: error.retry_after(), ..ApiError::new(error.status(), error.to_string()) }
    }
}

/// Written by hand because Rocket's `#[derive(Responder)]` can add a header only when it is
/// always there, and `Retry-After` is there only for some errors.
impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let mut response = (self.status, self.body).respond_to(request)?;
        if let Some(seconds) = self.retry_after {
            response.set_header(Header::new("Retry-After", seconds.to_string()));
        }
        Ok(response)
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
