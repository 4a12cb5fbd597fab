//! Uploads: files sent ahead of the action that uses them (`closeout.add_photo` with
//! `upload_id`), streamed to the blob store by the door. Each upload is used once.

use crate::audit::{self, NewEvent};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use domain::Tool;
use serde::Serialize;
use sqlx::Row;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub upload_id: String,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub filename: Option<String>,
    #[serde(skip)]
    pub blob_key: String,
}

impl Service {
    /// Stores the file at `path` (written and hashed by the caller; `head` is its first bytes)
    /// as an upload of the calling token or user.
    pub async fn store_upload(
        &self,
        ctx: &CallContext,
        path: &Path,
        sha256: &str,
        size: u64,
        head: &[u8],
        filename: Option<&str>,
    ) -> Result<Upload, ServiceError> {
        self.authorize_tool(ctx, Tool::CloseoutAddPhoto)?;
        let content_type = domain::media::sniff_image(head)
            .ok_or_else(|| ServiceError::invalid("file", "unsupported_type", "a JPEG, PNG, WebP or HEIC/HEIF image"))?;
        let mut errors = vec![];
        let filename = domain::validate::optional_text("filename", filename, 200, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let id = new_id("upl");
        let key = format!("uploads/{id}.{}", domain::media::extension(content_type));
        self.blobs.put_file(&key, content_type, path).await?;
        let upload = Upload {
            upload_id: id,
            sha256: sha256.to_string(),
            size: size as i64,
            content_type: content_type.to_string(),
            filename,
            blob_key: key,
        };
        let result = async {
            let mut tx = self.db.begin_write().await?;
            sqlx::query(
                "INSERT INTO uploads (id, owner_id, sha256, size, content_type, filename, blob_key, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&upload.upload_id)
            .bind(&ctx.actor.id)
            .bind(&upload.sha256)
            .bind(upload.size)
            .bind(&upload.content_type)
            .bind(&upload.filename)
            .bind(&upload.blob_key)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            let reference = serde_json::json!({"id": upload.upload_id, "sha256": upload.sha256, "size": upload.size, "content_type": upload.content_type});
            audit::append(&mut tx, ctx, NewEvent { action: "upload.create".into(), attachments: vec![reference], ..Default::default() }).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = result {
            let _ = self.blobs.delete(&upload.blob_key).await;
            return Err(e);
        }
        Ok(upload)
    }

    /// An unused upload of this caller.
    pub(crate) async fn unused_upload(&self, ctx: &CallContext, id: &str) -> Result<Upload, ServiceError> {
        let row = sqlx::query(
            "SELECT id, sha256, size, content_type, filename, blob_key FROM uploads WHERE id = $1 AND owner_id = $2 AND used_at_ms IS NULL",
        )
        .bind(id.trim())
        .bind(&ctx.actor.id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| ServiceError::invalid("upload_id", "unknown_upload", "no unused upload with this id from this caller"))?;
        Ok(Upload {
            upload_id: row.try_get("id")?,
            sha256: row.try_get("sha256")?,
            size: row.try_get("size")?,
            content_type: row.try_get("content_type")?,
            filename: row.try_get("filename")?,
            blob_key: row.try_get("blob_key")?,
        })
    }
}
