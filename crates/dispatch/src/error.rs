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
    #[error("the ticket changed since it was read; reload and try again")]
    Conflict,
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Domain(e) => e.code(),
            ServiceError::Forbidden(_) => "FORBIDDEN",
            ServiceError::TicketNotFound(_) => "TICKET_NOT_FOUND",
            ServiceError::Conflict => "CONFLICT",
            ServiceError::Internal(_) => "INTERNAL",
        }
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
