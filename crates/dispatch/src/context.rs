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
}

impl CallContext {
    pub fn new(actor: Actor) -> Self {
        CallContext {
            actor,
            channel: SourceChannel::Internal,
            correlation_id: None,
            request_id: None,
            idempotency: None,
        }
    }
}
