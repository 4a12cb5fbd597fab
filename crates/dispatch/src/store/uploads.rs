//! Uploads: files received before they are attached to a case, one per client key.

use crate::error::ServiceError;
use serde::Serialize;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub upload_id: String,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub filename: Option<String>,
    /// True when a thumbnail and a customer-visible copy were made.
    pub previews: bool,
    #[serde(skip)]
    pub blob_key: String,
    #[serde(skip)]
    pub thumb_key: Option<String>,
    #[serde(skip)]
    pub view_key: Option<String>,
}

const UPLOAD_COLUMNS: &str =
    "SELECT id, sha256, size, content_type, filename, blob_key, thumb_key, view_key FROM uploads";

fn upload_of(row: &sqlx::any::AnyRow) -> Result<Upload, ServiceError> {
    let thumb_key: Option<String> = row.try_get("thumb_key")?;
    Ok(Upload {
        upload_id: row.try_get("id")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        content_type: row.try_get("content_type")?,
        filename: row.try_get("filename")?,
        previews: thumb_key.is_some(),
        blob_key: row.try_get("blob_key")?,
        thumb_key,
        view_key: row.try_get("view_key")?,
    })
}

pub async fn insert(
    tx: &mut crate::db::WriteTx,
    u: &Upload,
    owner_id: &str,
    client_key: Option<&str>,
    now: i64,
) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO uploads (id, owner_id, sha256, size, content_type, filename, blob_key, thumb_key, view_key, \
         client_key, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&u.upload_id)
    .bind(owner_id)
    .bind(&u.sha256)
    .bind(u.size)
    .bind(&u.content_type)
    .bind(&u.filename)
    .bind(&u.blob_key)
    .bind(&u.thumb_key)
    .bind(&u.view_key)
    .bind(client_key)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The owner's upload under this client key.
pub async fn by_client_key(pool: &AnyPool, owner_id: &str, key: &str) -> Result<Option<Upload>, ServiceError> {
    let row = sqlx::query(&format!("{UPLOAD_COLUMNS} WHERE owner_id = $1 AND client_key = $2"))
        .bind(owner_id)
        .bind(key)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(upload_of).transpose()
}

/// The owner's upload with this id, if not yet attached.
pub async fn unused(pool: &AnyPool, owner_id: &str, id: &str) -> Result<Option<Upload>, ServiceError> {
    let row = sqlx::query(&format!("{UPLOAD_COLUMNS} WHERE id = $1 AND owner_id = $2 AND used_at_ms IS NULL"))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(upload_of).transpose()
}

/// The blob of the owner's upload with this id, if it was attached already.
pub async fn used_blob_key(pool: &AnyPool, owner_id: &str, id: &str) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT blob_key FROM uploads WHERE id = $1 AND owner_id = $2 AND used_at_ms IS NOT NULL")
        .bind(id)
        .bind(owner_id)
        .fetch_optional(pool)
        .await?)
}

/// Every blob key a row names: attachments and their copies, uploads and their copies, packets.
pub async fn referenced_blob_keys(pool: &AnyPool) -> Result<std::collections::HashSet<String>, ServiceError> {
    let keys: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT blob_key FROM attachments UNION ALL SELECT thumb_key FROM attachments \
         UNION ALL SELECT view_key FROM attachments UNION ALL SELECT blob_key FROM uploads \
         UNION ALL SELECT thumb_key FROM uploads UNION ALL SELECT view_key FROM uploads \
         UNION ALL SELECT blob_key FROM closeout_packets",
    )
    .fetch_all(pool)
    .await?;
    Ok(keys.into_iter().flatten().collect())
}

/// Uploads never attached and created before `before_ms`: (id, sha256, size, content type).
pub async fn unused_before(pool: &AnyPool, before_ms: i64) -> Result<Vec<(String, String, i64, String)>, ServiceError> {
    Ok(sqlx::query_as(
        "SELECT id, sha256, size, content_type FROM uploads WHERE used_at_ms IS NULL AND created_at_ms < $1 ORDER BY id",
    )
    .bind(before_ms)
    .fetch_all(pool)
    .await?)
}

/// Deletes the upload if it is still unused; whether it did.
pub async fn delete_unused(tx: &mut crate::db::WriteTx, id: &str) -> Result<bool, ServiceError> {
    let done =
        sqlx::query("DELETE FROM uploads WHERE id = $1 AND used_at_ms IS NULL").bind(id).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}
