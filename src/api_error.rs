//! The public error envelope of the tool API and the file routes (design §3), with its codes
//! and statuses from `domain::ErrorCode`, and the request headers every door reads.

use crate::state::REQUEST_ID;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dispatch::ServiceError;
use domain::{Actor, ErrorCode};
use serde_json::{json, Value};

/// An error response in the public envelope.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) details: Value,
    pub(crate) request_id: String,
    /// Seconds, for RATE_LIMITED.
    pub(crate) retry_after: Option<u64>,
    /// Who was refused, when known (for the security event).
    pub(crate) actor: Option<Box<Actor>>,
}

impl ApiError {
    pub(crate) fn new(request_id: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: json!({}),
            request_id: request_id.to_string(),
            retry_after: None,
            actor: None,
        }
    }

    pub(crate) fn by(mut self, actor: &Actor) -> Self {
        self.actor = Some(Box::new(actor.clone()));
        self
    }

    pub(crate) fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub(crate) fn from_service(request_id: &str, e: &ServiceError) -> Self {
        let mut error = ApiError::new(request_id, e.code(), e.public_message()).details(e.details());
        if let ServiceError::RateLimited { retry_after_secs, .. } | ServiceError::Busy { retry_after_secs, .. } = e {
            error.retry_after = Some(*retry_after_secs);
        }
        error
    }
}

/// The error body of every refused call; its schema is published in /openapi.json.
#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// Stable code: INVALID_REQUEST, TOOL_NOT_ALLOWED, CONFLICT, ...
    pub code: String,
    pub message: String,
    pub request_id: String,
    /// Code-specific: `fields` for INVALID_REQUEST, `from_state`/`to_state`/`allowed_from` for
    /// INVALID_STATE_TRANSITION, `missing` for CLOSEOUT_REQUIREMENTS_INCOMPLETE, `reason` for
    /// TECH_UNAVAILABLE.
    pub details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().into(),
                message: self.message,
                request_id: self.request_id,
                details: self.details,
            },
        };
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}
