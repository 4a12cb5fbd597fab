//! Reading attachments: only through the app, with the same access rules as the case they
//! belong to. Customers get the re-encoded copy (no GPS or camera metadata), never the
//! original.

use crate::blob::{BlobError, BlobReader};
use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use domain::Role;

/// Which file of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// As uploaded (staff and technicians only).
    Original,
    /// Re-encoded, bounded in size, without metadata.
    View,
    Thumb,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::View => "view",
            Variant::Thumb => "thumb",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = ServiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "original" => Ok(Variant::Original),
            "view" => Ok(Variant::View),
            "thumb" => Ok(Variant::Thumb),
            _ => Err(ServiceError::invalid("variant", "unknown_variant", "one of original, view, thumb")),
        }
    }
}

/// An attachment file opened for reading.
#[derive(Debug)]
pub struct AttachmentFile {
    pub content_type: String,
    /// The original's name, for downloads.
    pub filename: Option<String>,
    /// Stable for the life of the key (keys are never reused): usable as an ETag.
    pub etag: String,
    pub reader: BlobReader,
}

impl Service {
    #[tracing::instrument(name = "attachment.read", skip(self, ctx), fields(actor = %ctx.actor.id))]
    pub async fn attachment_file(
        &self,
        ctx: &CallContext,
        attachment_id: &str,
        variant: Variant,
    ) -> Result<AttachmentFile, ServiceError> {
        // One answer for a missing attachment and for one on a ticket the caller may not reach,
        // naming only what the caller sent: the answer tells nothing about other tickets.
        let not_found = || ServiceError::AttachmentNotFound(attachment_id.trim().to_string());
        let ticket_id = crate::store::messages::attachment_ticket(self.db.pool(), attachment_id.trim()).await?;
        let ticket_id = ticket_id.ok_or_else(not_found)?;
        let case = self.visible_case(ctx, &ticket_id).await.map_err(|e| match e {
            ServiceError::TicketNotFound(_) => not_found(),
            other => other,
        })?;
        let a = case.attachments.into_iter().find(|a| a.id == attachment_id.trim()).ok_or_else(not_found)?;
        let customer = ctx.actor.role == Role::Customer;
        let (key, content_type) = match variant {
            Variant::Original if customer => {
                return Err(ServiceError::Forbidden(
                    "customers see the shared copy of a photo, not the original".into(),
                ))
            }
            Variant::Original => (a.blob_key, a.content_type),
            Variant::View => match a.view_key {
                Some(k) => (k, "image/jpeg".to_string()),
                // Without a re-encoded copy, staff see the original; customers see nothing.
                None if !customer => (a.blob_key, a.content_type),
                None => return Err(not_found()),
            },
            Variant::Thumb => (a.thumb_key.ok_or_else(not_found)?, "image/jpeg".to_string()),
        };
        let reader = self.blobs.open(&key).await.map_err(|e| match e {
            BlobError::NotFound(_) => ServiceError::Internal(format!("attachment {} has no blob at {key}", a.id)),
            other => other.into(),
        })?;
        Ok(AttachmentFile {
            content_type,
            filename: a.filename,
            etag: format!("\"{}-{}\"", a.sha256, variant.as_str()),
            reader,
        })
    }
}
