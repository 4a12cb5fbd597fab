//! The service layer's error type; codes are the stable public ones of design §3.

use domain::{Action, CaseState, DomainError, ErrorCode, FieldError, Role};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Forbidden(String),
    /// The action table does not give the caller's role this action (through `execute`).
    #[error("role {role} may not call {action}")]
    NotAllowed { role: Role, action: Action },
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("send an Idempotency-Key header (a UUID) with every call")]
    MissingIdempotencyKey,
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyMismatch,
    #[error("ticket {0} not found")]
    TicketNotFound(String),
    #[error("attachment not found")]
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
    /// An ETA that breaks the booked window: before it, or after it without a running-late
    /// reason. `message` names the times in the shop's zone.
    #[error("{message}")]
    EtaOutsideWindow { message: String, eta_ms: i64, window_start_ms: i64, window_end_ms: i64, late: bool },
    /// The caller's phone or e-mail is a customer's under another name: intake must say who
    /// they are (`customer.known_contact`) before anything is filed.
    #[error(
        "{contact} already belongs to {customer_name}; say whether the caller is the same person, another contact of {customer_name}, or a new customer (customer.known_contact)"
    )]
    ContactNameDiffers { customer_id: String, customer_name: String, contact: String },
    /// The call's idempotency key already holds an answer (the door replays it).
    #[error("this request was already processed")]
    AlreadyProcessed,
    /// Wrong e-mail, wrong password, disabled account or a locked pair: one answer for all.
    #[error("e-mail or password not recognised, or too many attempts; try again in a few minutes")]
    LoginFailed,
    /// Unknown, wrong, expired or revoked portal link: one answer for all.
    #[error("this link is not valid any more; ask the office for a new one")]
    LinkInvalid,
    #[error("{what}; please wait {retry_after_secs} s")]
    RateLimited { what: &'static str, retry_after_secs: u64 },
    /// Work the server bounds (image processing, database connections) is at its limit;
    /// nothing changed.
    #[error("{what}; please try again in {retry_after_secs} s")]
    Busy { what: String, retry_after_secs: u64 },
    /// A person paused the agents this call would have acted for.
    #[error("the office paused {scope}; nothing was changed")]
    AutonomyPaused { scope: String, reason: Option<String> },
    /// The shop's rules hold this agent call for a person; nothing changed yet.
    #[error(
        "a person must approve this first ({reason}); nothing was changed yet. Approval {approval_id} is {status}"
    )]
    ApprovalRequired {
        approval_id: String,
        rule: domain::approval::GateRule,
        reason: String,
        status: domain::approval::ApprovalStatus,
    },
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::Domain(e) => e.code(),
            ServiceError::Forbidden(_) => ErrorCode::Forbidden,
            ServiceError::NotAllowed { .. } => ErrorCode::ToolNotAllowed,
            ServiceError::InvalidJson(_) => ErrorCode::InvalidJson,
            ServiceError::MissingIdempotencyKey => ErrorCode::MissingIdempotencyKey,
            ServiceError::IdempotencyMismatch => ErrorCode::IdempotencyPayloadMismatch,
            ServiceError::TicketNotFound(_) => ErrorCode::TicketNotFound,
            ServiceError::AttachmentNotFound(_) => ErrorCode::AttachmentNotFound,
            ServiceError::Conflict(_) => ErrorCode::Conflict,
            ServiceError::TechUnavailable { .. } => ErrorCode::TechUnavailable,
            ServiceError::CloseoutIncomplete { .. } => ErrorCode::CloseoutRequirementsIncomplete,
            ServiceError::InvoiceSent { .. } => ErrorCode::InvoiceSent,
            ServiceError::EtaOutsideWindow { .. } => ErrorCode::EtaOutsideWindow,
            ServiceError::ContactNameDiffers { .. } => ErrorCode::ContactNameDiffers,
            // Never leaves the service: `execute` answers a replayed key with the stored answer.
            ServiceError::AlreadyProcessed => ErrorCode::Internal,
            ServiceError::LoginFailed => ErrorCode::LoginFailed,
            ServiceError::RateLimited { .. } => ErrorCode::RateLimited,
            ServiceError::Busy { .. } => ErrorCode::Busy,
            ServiceError::LinkInvalid => ErrorCode::LinkInvalid,
            ServiceError::AutonomyPaused { .. } => ErrorCode::AutonomyPaused,
            ServiceError::ApprovalRequired { .. } => ErrorCode::ApprovalRequired,
            ServiceError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Code-specific facts for the error envelope's `details` (design §3).
    pub fn details(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ServiceError::Domain(DomainError::Invalid(fields)) => json!({ "fields": fields }),
            ServiceError::Domain(DomainError::InvalidTransition { from, to }) => json!({
                "from_state": from, "to_state": to, "allowed_from": CaseState::allowed_from(*to),
            }),
            ServiceError::Domain(DomainError::NotInState { action, state, allowed }) => json!({
                "from_state": state, "to_state": null, "action": action, "allowed_from": allowed,
            }),
            ServiceError::TechUnavailable { technician_id, reason } => {
                json!({ "technician_id": technician_id, "reason": reason })
            }
            ServiceError::CloseoutIncomplete { missing } => json!({ "missing": missing }),
            ServiceError::InvoiceSent { packet_id } => json!({ "packet_id": packet_id }),
            ServiceError::EtaOutsideWindow { eta_ms, window_start_ms, window_end_ms, late, .. } => json!({
                "eta_ms": eta_ms, "window_start_ms": window_start_ms, "window_end_ms": window_end_ms,
                "reason": if *late { "after_window" } else { "before_window" },
            }),
            ServiceError::ContactNameDiffers { customer_id, customer_name, contact } => json!({
                "customer_id": customer_id, "customer_name": customer_name, "contact": contact,
                "choices": domain::KnownContact::ALL.map(|k| k.as_str()),
            }),
            ServiceError::RateLimited { retry_after_secs, .. } | ServiceError::Busy { retry_after_secs, .. } => {
                json!({ "retry_after_seconds": retry_after_secs })
            }
            ServiceError::AutonomyPaused { scope, reason } => json!({ "scope": scope, "reason": reason }),
            ServiceError::ApprovalRequired { approval_id, rule, reason, status } => {
                json!({ "approval_id": approval_id, "rule": rule, "reason": reason, "status": status })
            }
            _ => json!({}),
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

/// Seconds a caller refused for want of a database connection is told to wait.
pub const DATABASE_BUSY_RETRY_SECS: u64 = 1;

impl ServiceError {
    /// No database connection came free in time (see `db::acquire_timeout`): nothing was done,
    /// and the caller may try again.
    pub fn database_busy() -> Self {
        ServiceError::Busy {
            what: "the server has more requests than database connections just now".into(),
            retry_after_secs: DATABASE_BUSY_RETRY_SECS,
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // Load, not a fault: the caller hears BUSY and when to come back.
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection came free in time; answered BUSY");
                ServiceError::database_busy()
            }
            e => {
                tracing::error!(error = %e, "database error");
                ServiceError::Internal(e.to_string())
            }
        }
    }
}

impl From<crate::blob::BlobError> for ServiceError {
    fn from(e: crate::blob::BlobError) -> Self {
        tracing::error!(error = %e, "blob store error");
        ServiceError::Internal(e.to_string())
    }
}
