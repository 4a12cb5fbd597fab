//! Who is calling, for every action and its audit event.

use domain::{Actor, SourceChannel};

/// Who is calling, through which door, for the audit trail.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub actor: Actor,
    pub channel: SourceChannel,
    pub correlation_id: Option<String>,
    pub request_id: Option<String>,
    /// Set by the tool API: the answer is stored with the action, once.
    pub idempotency: Option<crate::idempotency::IdempotencyKey>,
    /// An agent's held call run because this person approved it: the gate and pauses are
    /// behind it.
    pub approved_by: Option<String>,
}

impl CallContext {
    pub fn new(actor: Actor) -> Self {
        CallContext {
            actor,
            channel: SourceChannel::Internal,
            correlation_id: None,
            request_id: None,
            idempotency: None,
            approved_by: None,
        }
    }
}
