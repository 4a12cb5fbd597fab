//! The blob sweep. Files are written to the blob store before their row commits, so a crash
//! between the two leaves a blob nothing points at; the sweep removes such blobs once they
//! are older than a grace period (a write still in flight is never taken). It also expires
//! uploads that were never attached. It only ever deletes blobs no row names, so a row never
//! points at a missing blob. Spool files that a killed process left behind go too.

use crate::audit::{self, NewEvent};
use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use crate::store::uploads;
use domain::Actor;
use std::collections::HashSet;

/// Folders of the store that hold this application's files.
const PREFIXES: &[&str] = &["uploads/", "attachments/", "packets/"];

/// A blob younger than this is never swept: its row may be about to commit.
pub const DEFAULT_GRACE_MS: i64 = 60 * 60 * 1000;
/// Uploads not attached within this time are removed.
pub const DEFAULT_UPLOAD_TTL_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Blobs looked at.
    pub scanned: usize,
    /// Blobs removed because no row names them.
    pub orphans_removed: usize,
    /// Orphans left because they are younger than the grace period.
    pub orphans_too_young: usize,
    /// Uploads never attached, removed (their blobs go with the next sweep's orphans).
    pub uploads_expired: usize,
    /// Spool files of uploads cut off by a crash, removed from the spool folder.
    pub spool_removed: usize,
}

impl Service {
    #[tracing::instrument(name = "blobs.sweep", skip(self))]
    pub async fn sweep_blobs(
        &self,
        now_ms: i64,
        grace_ms: i64,
        upload_ttl_ms: i64,
    ) -> Result<SweepReport, ServiceError> {
        let mut report =
            SweepReport { uploads_expired: self.expire_uploads(now_ms - upload_ttl_ms).await?, ..Default::default() };
        report.spool_removed = self.sweep_spool(now_ms, grace_ms).await?.removed;
        // List first, then read the rows: a row committed in between names a blob that is
        // either in the listing and now referenced, or younger than the grace period.
        let mut listed = vec![];
        for prefix in PREFIXES {
            listed.extend(self.blobs.list(prefix).await?);
        }
        let referenced = self.referenced_keys().await?;
        report.scanned = listed.len();
        for blob in listed {
            if referenced.contains(&blob.key) {
                continue;
            }
            if blob.modified_ms > now_ms - grace_ms {
                report.orphans_too_young += 1;
                continue;
            }
            self.blobs.delete(&blob.key).await?;
            tracing::info!(key = %blob.key, "orphan blob removed");
            report.orphans_removed += 1;
        }
        Ok(report)
    }

    /// Removes spool files a killed process left in the spool folder, once older than
    /// `grace_ms` (the server does it at start-up and with every blob sweep).
    pub async fn sweep_spool(&self, now_ms: i64, grace_ms: i64) -> Result<crate::spool::SpoolSweep, ServiceError> {
        crate::spool::sweep_orphans(&self.spool_dir, now_ms, grace_ms).await.map_err(|e| {
            ServiceError::Internal(format!("cannot sweep the spool folder {}: {e}", self.spool_dir.display()))
        })
    }

    async fn referenced_keys(&self) -> Result<HashSet<String>, ServiceError> {
        uploads::referenced_blob_keys(self.db.pool()).await
    }

    /// Removes unused uploads created before `before_ms`, with one audit event.
    async fn expire_uploads(&self, before_ms: i64) -> Result<usize, ServiceError> {
        let rows = uploads::unused_before(self.db.pool(), before_ms).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ctx = CallContext::new(Actor::system("sweep"));
        let mut tx = self.db.begin_write().await?;
        let mut removed = vec![];
        for (id, sha256, size, content_type) in rows {
            // Still unused: an attach racing the sweep wins or loses cleanly.
            if uploads::delete_unused(&mut tx, &id).await? {
                removed
                    .push(serde_json::json!({"id": id, "sha256": sha256, "size": size, "content_type": content_type}));
            }
        }
        let count = removed.len();
        if count > 0 {
            audit::append(
                &mut tx,
                &ctx,
                NewEvent { action: "upload.expire".into(), attachments: removed, ..Default::default() },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(count)
    }
}
