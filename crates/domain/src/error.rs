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
    pub const fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid(_) => "INVALID_REQUEST",
            DomainError::InvalidTransition { .. } | DomainError::NotInState { .. } => "INVALID_STATE_TRANSITION",
        }
    }
}

fn summarize(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
