//! How errors travel over HTTP: the JSON body every API error has, and the reason a guard
//! refused a request, kept for the catcher that renders it.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::Request;
use serde::Serialize;

use crate::error::AppError;

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
