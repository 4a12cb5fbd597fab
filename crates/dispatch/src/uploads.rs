//! Uploads: files sent ahead of the action that uses them (`closeout.add_photo` with
//! `upload_id`), spooled by the door and stored here with their derived copies. Each upload
//! is used once; a retried upload with the same client key returns the first one.

use crate::audit::{self, NewEvent};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::photo_copies::{self, NoCopies};
use crate::service::{CallContext, Service};
use crate::spool::Spooled;
use crate::store::uploads;
use domain::Action;
use std::path::PathBuf;

pub use crate::store::uploads::Upload;

/// The blobs of one stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredPhoto {
    pub blob_key: String,
    pub thumb_key: Option<String>,
    pub view_key: Option<String>,
}

impl StoredPhoto {
    fn keys(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.blob_key).chain(self.thumb_key.iter()).chain(self.view_key.iter())
    }
}

/// Where a photo's bytes are.
pub(crate) enum PhotoBody {
    File(PathBuf, u64),
    Bytes(Vec<u8>),
    /// Already in the blob store under `key`, with a local copy when it is small.
    Stored {
        key: String,
        local: Option<PathBuf>,
        size: u64,
    },
}

/// Longest client idempotency key.
const MAX_CLIENT_KEY: usize = 100;

impl Service {
    /// Stores the original under `base` (a key without extension) with its thumbnail and
    /// customer-visible copy. An image that does not decode is refused before anything is
    /// written; `field` names the input that carried it.
    pub(crate) async fn put_photo(
        &self,
        base: &str,
        content_type: &'static str,
        body: PhotoBody,
        field: &str,
    ) -> Result<StoredPhoto, ServiceError> {
        let streamed_key = match &body {
            PhotoBody::Stored { key, .. } => Some(key.clone()),
            _ => None,
        };
        // Bounded image work: a few decodes at once, each under the decoder's memory cap and a
        // time limit. The permit goes with the work, so a decode that outlives its request
        // still counts until it ends.
        let queued = tokio::time::timeout(photo_copies::QUEUE_WAIT, self.image_work.clone().acquire_owned()).await;
        let Ok(Ok(permit)) = queued else {
            tracing::warn!(%base, "image work is at its limit");
            self.forget_streamed(streamed_key.as_deref()).await;
            return Err(ServiceError::Busy {
                what: "the server is busy with other photos".into(),
                retry_after_secs: 10,
            });
        };
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let copies = match &body {
                PhotoBody::File(path, size) | PhotoBody::Stored { local: Some(path), size, .. } => {
                    photo_copies::from_file(path, content_type, *size)
                }
                PhotoBody::Stored { local: None, .. } => Err(NoCopies::Skipped("too large to decode")),
                PhotoBody::Bytes(bytes) => photo_copies::from_bytes(bytes, content_type),
            };
            (body, copies)
        });
        let Ok(done) = tokio::time::timeout(photo_copies::TIME_LIMIT, work).await else {
            tracing::warn!(%base, "photo copies took too long");
            self.forget_streamed(streamed_key.as_deref()).await;
            return Err(ServiceError::invalid(
                field,
                "image_too_slow",
                "the image took too long to process; please send a smaller photo",
            ));
        };
        let (body, copies) = done.map_err(|e| ServiceError::Internal(format!("thumbnail task failed: {e}")))?;
        let copies = match copies {
            Ok(c) => Some(c),
            Err(NoCopies::Skipped(why)) => {
                tracing::info!(%base, why, "photo stored without previews");
                None
            }
            Err(NoCopies::TooManyPixels { width, height }) => {
                tracing::info!(%base, width, height, "photo refused: more pixels than the budget");
                self.forget_streamed(streamed_key.as_deref()).await;
                let message = format!(
                    "the image is {width} × {height} pixels; photos up to {} megapixels are accepted \
                     (take it at the camera's normal size)",
                    photo_copies::MAX_PIXELS / 1_000_000
                );
                return Err(ServiceError::invalid(field, "too_many_pixels", &message));
            }
            Err(NoCopies::Unreadable(detail)) => {
                tracing::info!(%base, %detail, "photo refused: does not decode");
                if let PhotoBody::Stored { key, .. } = &body {
                    let _ = self.blobs.delete(key).await;
                }
                return Err(ServiceError::invalid(
                    field,
                    "unreadable_image",
                    "the image could not be read; it may be damaged, please take or choose it again",
                ));
            }
        };
        let blob_key = match &body {
            PhotoBody::Stored { key, .. } => key.clone(),
            _ => format!("{base}.{}", domain::media::extension(content_type)),
        };
        let stored = StoredPhoto {
            blob_key,
            thumb_key: copies.as_ref().map(|_| format!("{base}.thumb.jpg")),
            view_key: copies.as_ref().map(|_| format!("{base}.view.jpg")),
        };
        // The original and its copies are written side by side.
        let original = async {
            match body {
                PhotoBody::File(path, _) => self.blobs.put_file(&stored.blob_key, content_type, &path).await?,
                PhotoBody::Bytes(bytes) => {
                    self.blobs.put(&stored.blob_key, content_type, bytes).await?;
                }
                PhotoBody::Stored { .. } => {}
            }
            Ok::<_, ServiceError>(())
        };
        let previews = async {
            if let (Some(c), Some(tk), Some(vk)) = (copies, &stored.thumb_key, &stored.view_key) {
                futures_util::future::try_join(
                    self.blobs.put(tk, "image/jpeg", c.thumb),
                    self.blobs.put(vk, "image/jpeg", c.view),
                )
                .await?;
            }
            Ok::<_, ServiceError>(())
        };
        let written = futures_util::future::try_join(original, previews).await;
        if let Err(e) = written {
            self.forget_blobs(&stored).await;
            return Err(e);
        }
        Ok(stored)
    }

    /// Removes an original streamed into the store for a photo that was then refused.
    async fn forget_streamed(&self, key: Option<&str>) {
        if let Some(key) = key {
            if let Err(e) = self.blobs.delete(key).await {
                tracing::warn!(%key, error = %e, "could not remove a blob; the sweep will");
            }
        }
    }

    /// Removes the blobs of a photo whose row did not commit (the sweep catches any left).
    pub(crate) async fn forget_blobs(&self, stored: &StoredPhoto) {
        for key in stored.keys() {
            if let Err(e) = self.blobs.delete(key).await {
                tracing::warn!(%key, error = %e, "could not remove a blob; the sweep will");
            }
        }
    }

    /// Stores a spooled file as an upload of the calling token or user. With a `client_key`
    /// (the client's idempotency key for this file), a retry of the same file returns the
    /// first upload instead of storing it twice.
    #[tracing::instrument(name = "upload.create", skip_all, fields(actor = %ctx.actor.id, size = file.size))]
    pub async fn store_upload(
        &self,
        ctx: &CallContext,
        file: &Spooled,
        filename: Option<&str>,
        client_key: Option<&str>,
    ) -> Result<Upload, ServiceError> {
        let result = self.store_spooled(ctx, file, filename, client_key).await;
        // A streamed original that did not become this upload (refused, or a retry answered
        // with the first upload) goes again; the sweep would also find it, an hour later.
        if let Some(s) = &file.streamed {
            if result.as_ref().map_or(true, |u| u.blob_key != s.key) {
                let _ = self.blobs.delete(&s.key).await;
            }
        }
        result
    }

    async fn store_spooled(
        &self,
        ctx: &CallContext,
        file: &Spooled,
        filename: Option<&str>,
        client_key: Option<&str>,
    ) -> Result<Upload, ServiceError> {
        self.authorize(ctx, Action::CloseoutAddPhoto)?;
        let mut errors = vec![];
        let filename = domain::media::stored_filename(filename);
        let client_key = domain::validate::optional_text("idempotency_key", client_key, MAX_CLIENT_KEY, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        if let Some(key) = &client_key {
            if let Some(first) = self.upload_by_client_key(ctx, key, &file.sha256).await? {
                return Ok(first);
            }
        }
        let content_type = file.image_type()?;
        let (id, body) = match (&file.streamed, &file.path) {
            (Some(s), local) => {
                (s.upload_id.clone(), PhotoBody::Stored { key: s.key.clone(), local: local.clone(), size: file.size })
            }
            (None, Some(path)) => (new_id("upl"), PhotoBody::File(path.clone(), file.size)),
            (None, None) => {
                return Err(ServiceError::Internal("a spooled file with neither a local copy nor a blob".into()))
            }
        };
        let stored = self.put_photo(&format!("uploads/{id}"), content_type, body, "file").await?;
        let upload = Upload {
            upload_id: id,
            sha256: file.sha256.clone(),
            size: file.size as i64,
            content_type: content_type.to_string(),
            filename,
            previews: stored.thumb_key.is_some(),
            blob_key: stored.blob_key.clone(),
            thumb_key: stored.thumb_key.clone(),
            view_key: stored.view_key.clone(),
        };
        let result = async {
            let mut tx = self.db.begin_write().await?;
            uploads::insert(&mut tx, &upload, &ctx.actor.id, client_key.as_deref(), now_ms()).await?;
            let reference = serde_json::json!({"id": upload.upload_id, "sha256": upload.sha256, "size": upload.size, "content_type": upload.content_type});
            audit::append(&mut tx, ctx, NewEvent { action: "upload.create".into(), attachments: vec![reference], ..Default::default() }).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = result {
            self.forget_blobs(&stored).await;
            // Two copies of one retry racing: the first one's row stands.
            if let Some(key) = &client_key {
                if let Ok(Some(first)) = self.upload_by_client_key(ctx, key, &file.sha256).await {
                    return Ok(first);
                }
            }
            return Err(e);
        }
        Ok(upload)
    }

    /// The caller's earlier upload under this client key; a different file under the same key
    /// is a client bug and is refused rather than silently mixed up.
    async fn upload_by_client_key(
        &self,
        ctx: &CallContext,
        key: &str,
        sha256: &str,
    ) -> Result<Option<Upload>, ServiceError> {
        let Some(first) = uploads::by_client_key(self.db.pool(), &ctx.actor.id, key).await? else { return Ok(None) };
        if first.sha256 != sha256 {
            return Err(ServiceError::invalid(
                "idempotency_key",
                "key_reused",
                "this idempotency key was used for a different file; use a fresh key per file",
            ));
        }
        Ok(Some(first))
    }

    /// An unused upload of this caller.
    pub(crate) async fn unused_upload(&self, ctx: &CallContext, id: &str) -> Result<Upload, ServiceError> {
        uploads::unused(self.db.pool(), &ctx.actor.id, id.trim()).await?.ok_or_else(|| {
            ServiceError::invalid("upload_id", "unknown_upload", "no unused upload with this id from this caller")
        })
    }

    /// Attaches an upload to a ticket once: a retry after the first attach succeeded (its
    /// answer lost on a bad connection) answers with the case instead of an error.
    pub async fn attach_upload(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
        upload_id: &str,
        kind: domain::case::AttachmentKind,
    ) -> Result<domain::Case, ServiceError> {
        let input = domain::commands::AddPhoto {
            ticket_id: ticket_id.to_string(),
            kind,
            content_type: None,
            filename: None,
            content_base64: None,
            upload_id: Some(upload_id.to_string()),
        };
        match self.add_photo(ctx, &input).await {
            Ok(o) => Ok(o.case),
            Err(e) => {
                let blob_key = uploads::used_blob_key(self.db.pool(), &ctx.actor.id, upload_id.trim()).await?;
                if let Some(key) = blob_key {
                    let case = self.visible_case(ctx, ticket_id).await?;
                    if case.attachments.iter().any(|a| a.blob_key == key) {
                        return Ok(case);
                    }
                }
                Err(e)
            }
        }
    }
}
