//! The service handle shared by every front end.

use crate::blob::BlobStore;
use crate::db::Db;
use crate::error::ServiceError;
use domain::{Actor, Role, SourceChannel, Tool};
use std::sync::Arc;

/// Who is calling, through which door, for the audit trail.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub actor: Actor,
    pub channel: SourceChannel,
    pub correlation_id: Option<String>,
    pub request_id: Option<String>,
}

impl CallContext {
    pub fn new(actor: Actor) -> Self {
        CallContext { actor, channel: SourceChannel::Internal, correlation_id: None, request_id: None }
    }
}

#[derive(Clone)]
pub struct Service {
    pub(crate) db: Db,
    pub(crate) blobs: Arc<dyn BlobStore>,
}

impl Service {
    pub fn new(db: Db, blobs: Arc<dyn BlobStore>) -> Self {
        Service { db, blobs }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Every tool call passes here first: the role must be allowed the tool at all.
    pub(crate) fn authorize_tool(&self, ctx: &CallContext, tool: Tool) -> Result<(), ServiceError> {
        if tool.allowed_for(ctx.actor.role) {
            Ok(())
        } else {
            tracing::warn!(actor = %ctx.actor.id, role = %ctx.actor.role, %tool, "permission denied");
            Err(ServiceError::Forbidden(format!("role {} may not use {tool}", ctx.actor.role)))
        }
    }

    /// Reads of whole cases: staff and agents see every case. Technicians and customers are
    /// scoped to their own jobs and tickets by the identity layer; until a case is linked to
    /// them they see none.
    pub(crate) fn authorize_read_any(&self, ctx: &CallContext) -> Result<(), ServiceError> {
        match ctx.actor.role {
            Role::Technician | Role::Customer => Err(ServiceError::Forbidden("not your ticket".into())),
            _ => Ok(()),
        }
    }
}
