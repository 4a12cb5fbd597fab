//! Domain errors with stable codes; the HTTP layer maps them to statuses.

use crate::state::CaseState;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one input field. `field` is a dotted path (`customer.phone`),
/// `code` a stable snake_case reason, `message` a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code: code.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the request is invalid: {}", summarize(.0))]
    Invalid(Vec<FieldError>),
    #[error("a ticket in state '{from}' cannot move to '{to}'")]
    InvalidTransition { from: CaseState, to: CaseState },
    #[error("{action} is not possible while the ticket is '{state}'")]
    NotInState { action: String, state: CaseState, allowed: Vec<CaseState> },
}

impl DomainError {
    pub const fn code(&self) -> ErrorCode {
        match self {
            DomainError::Invalid(_) => ErrorCode::InvalidRequest,
            DomainError::InvalidTransition { .. } | DomainError::NotInState { .. } => ErrorCode::InvalidStateTransition,
        }
    }
}

fn summarize(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Every stable error code the system answers with, once, with its HTTP status. The tool API,
/// the server functions, the file routes and OpenAPI all take their codes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    MissingIdempotencyKey,
    Unauthenticated,
    LoginFailed,
    LinkInvalid,
    ToolNotAllowed,
    Forbidden,
    CsrfRefused,
    UnknownTool,
    TicketNotFound,
    AttachmentNotFound,
    InvalidStateTransition,
    TechUnavailable,
    Conflict,
    IdempotencyPayloadMismatch,
    CloseoutRequirementsIncomplete,
    InvoiceSent,
    /// An ETA before the booked window, or after it without a running-late reason.
    EtaOutsideWindow,
    /// Intake named a caller whose phone or e-mail is another customer's name: who are they?
    ContactNameDiffers,
    AutonomyPaused,
    /// Not a failure: the call waits for a person (202, with the approval's id).
    ApprovalRequired,
    PayloadTooLarge,
    /// The client sent its request too slowly (a stalled or trickling body, or a request that
    /// was not done in time); the connection is closed.
    RequestTimeout,
    RateLimited,
    /// The server is at its limit for this kind of work: nothing changed, retry later.
    Busy,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 27] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::MissingIdempotencyKey,
        ErrorCode::Unauthenticated,
        ErrorCode::LoginFailed,
        ErrorCode::LinkInvalid,
        ErrorCode::ToolNotAllowed,
        ErrorCode::Forbidden,
        ErrorCode::CsrfRefused,
        ErrorCode::UnknownTool,
        ErrorCode::TicketNotFound,
        ErrorCode::AttachmentNotFound,
        ErrorCode::InvalidStateTransition,
        ErrorCode::TechUnavailable,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyPayloadMismatch,
        ErrorCode::CloseoutRequirementsIncomplete,
        ErrorCode::InvoiceSent,
        ErrorCode::EtaOutsideWindow,
        ErrorCode::ContactNameDiffers,
        ErrorCode::AutonomyPaused,
        ErrorCode::ApprovalRequired,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RequestTimeout,
        ErrorCode::RateLimited,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "INVALID_JSON",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::MissingIdempotencyKey => "MISSING_IDEMPOTENCY_KEY",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::LoginFailed => "LOGIN_FAILED",
            ErrorCode::LinkInvalid => "LINK_INVALID",
            ErrorCode::ToolNotAllowed => "TOOL_NOT_ALLOWED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::CsrfRefused => "CSRF_REFUSED",
            ErrorCode::UnknownTool => "UNKNOWN_TOOL",
            ErrorCode::TicketNotFound => "TICKET_NOT_FOUND",
            ErrorCode::AttachmentNotFound => "ATTACHMENT_NOT_FOUND",
            ErrorCode::InvalidStateTransition => "INVALID_STATE_TRANSITION",
            ErrorCode::TechUnavailable => "TECH_UNAVAILABLE",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::IdempotencyPayloadMismatch => "IDEMPOTENCY_PAYLOAD_MISMATCH",
            ErrorCode::CloseoutRequirementsIncomplete => "CLOSEOUT_REQUIREMENTS_INCOMPLETE",
            ErrorCode::InvoiceSent => "INVOICE_SENT",
            ErrorCode::EtaOutsideWindow => "ETA_OUTSIDE_WINDOW",
            ErrorCode::ContactNameDiffers => "CONTACT_NAME_DIFFERS",
            ErrorCode::AutonomyPaused => "AUTONOMY_PAUSED",
            ErrorCode::ApprovalRequired => "APPROVAL_REQUIRED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Busy => "BUSY",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The HTTP status every door answers this code with.
    pub const fn http_status(self) -> u16 {
        match self {
            // Accepted, not done: nothing changed until a person approves.
            ErrorCode::ApprovalRequired => 202,
            ErrorCode::InvalidJson | ErrorCode::InvalidRequest | ErrorCode::MissingIdempotencyKey => 400,
            ErrorCode::Unauthenticated | ErrorCode::LoginFailed | ErrorCode::LinkInvalid => 401,
            ErrorCode::ToolNotAllowed | ErrorCode::Forbidden | ErrorCode::CsrfRefused => 403,
            ErrorCode::UnknownTool | ErrorCode::TicketNotFound | ErrorCode::AttachmentNotFound => 404,
            ErrorCode::InvalidStateTransition
            | ErrorCode::TechUnavailable
            | ErrorCode::Conflict
            | ErrorCode::IdempotencyPayloadMismatch
            | ErrorCode::CloseoutRequirementsIncomplete
            | ErrorCode::InvoiceSent
            | ErrorCode::EtaOutsideWindow
            | ErrorCode::ContactNameDiffers
            | ErrorCode::AutonomyPaused => 409,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Busy => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// Refusals that are security events: audited even though the call wrote nothing.
    pub const fn is_denial(self) -> bool {
        matches!(
            self,
            ErrorCode::Unauthenticated | ErrorCode::ToolNotAllowed | ErrorCode::Forbidden | ErrorCode::RateLimited
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;

    #[test]
    fn codes_are_listed_once_and_serialise_as_their_names() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::json!(c.as_str())));
            let held = c == ErrorCode::ApprovalRequired && c.http_status() == 202;
            assert!(held || (400..600).contains(&c.http_status()), "{c}");
        }
    }
}
