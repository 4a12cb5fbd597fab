//! The service layer's error type; codes are the stable public ones of design §3.

use domain::{CaseState, DomainError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Forbidden(String),
    #[error("ticket {0} not found")]
    TicketNotFound(String),
    #[error("attachment {0} not found")]
    AttachmentNotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("technician {technician_id} cannot take this job: {reason}")]
    TechUnavailable { technician_id: String, reason: &'static str },
    #[error("closeout evidence is missing: {}", .missing.join(", "))]
    CloseoutIncomplete { missing: Vec<String> },
    /// The invoice went out with a closeout packet; it is no longer a draft to edit.
    #[error("the invoice went out with closeout packet {packet_id} and can no longer be edited")]
    InvoiceSent { packet_id: String },
    /// The call's idempotency key already holds an answer (the door replays it).
    #[error("this request was already processed")]
    AlreadyProcessed,
    /// Wrong e-mail, wrong password, disabled account or a locked pair: one answer for all.
    #[error("e-mail or password not recognised, or too many attempts; try again in a few minutes")]
    LoginFailed,
    /// Unknown, wrong, expired or revoked portal link: one answer for all.
    #[error("this link is not valid any more; ask the office for a new one")]
    LinkInvalid,
    #[error("too many sign-in attempts from this address; wait {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Domain(e) => e.code(),
            ServiceError::Forbidden(_) => "FORBIDDEN",
            ServiceError::TicketNotFound(_) => "TICKET_NOT_FOUND",
            ServiceError::AttachmentNotFound(_) => "ATTACHMENT_NOT_FOUND",
            ServiceError::Conflict(_) => "CONFLICT",
            ServiceError::TechUnavailable { .. } => "TECH_UNAVAILABLE",
            ServiceError::CloseoutIncomplete { .. } => "CLOSEOUT_REQUIREMENTS_INCOMPLETE",
            ServiceError::InvoiceSent { .. } => "INVOICE_SENT",
            ServiceError::AlreadyProcessed => "IDEMPOTENT_REPLAY",
            ServiceError::LoginFailed => "LOGIN_FAILED",
            ServiceError::RateLimited { .. } => "RATE_LIMITED",
            ServiceError::LinkInvalid => "LINK_INVALID",
            ServiceError::Internal(_) => "INTERNAL",
        }
    }

    pub fn stale() -> Self {
        ServiceError::Conflict("the ticket changed since it was read; reload it and try again".into())
    }

    pub fn invalid(field: &str, code: &str, message: &str) -> Self {
        ServiceError::Domain(DomainError::Invalid(vec![FieldError::new(field, code, message)]))
    }

    pub fn transition(from: CaseState, to: CaseState) -> Self {
        ServiceError::Domain(DomainError::InvalidTransition { from, to })
    }

    /// Message safe to show to any caller: internals stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            ServiceError::Internal(_) => "internal error; the request id identifies it in the server logs".into(),
            other => other.to_string(),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        ServiceError::Internal(e.to_string())
    }
}

impl From<crate::blob::BlobError> for ServiceError {
    fn from(e: crate::blob::BlobError) -> Self {
        tracing::error!(error = %e, "blob store error");
        ServiceError::Internal(e.to_string())
    }
}
