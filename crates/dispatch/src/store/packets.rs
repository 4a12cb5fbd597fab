//! Closeout packets: the current one per ticket, found again by hash or id for verification.

use crate::error::ServiceError;
use crate::store::case_tx::CaseTx;
use sqlx::{AnyPool, Row};

/// A packet as recorded.
pub struct PacketRow {
    pub id: String,
    pub ticket_id: String,
}

impl CaseTx {
    /// The packet becomes the ticket's current one.
    pub fn add_packet(&mut self, id: &str, blob_key: &str, sha256: &str, size: i64, manifest_json: &str) {
        let ticket = self.before.id.clone();
        self.stage("UPDATE closeout_packets SET current = 0 WHERE ticket_id = $1", vec![ticket.as_str().into()]);
        let binds = vec![
            id.into(),
            ticket.into(),
            blob_key.into(),
            sha256.into(),
            size.into(),
            manifest_json.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO closeout_packets (id, ticket_id, blob_key, sha256, size, manifest_json, current, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
            binds,
        );
    }
}

fn packet(r: &sqlx::any::AnyRow) -> Result<PacketRow, ServiceError> {
    Ok(PacketRow { id: r.try_get("id")?, ticket_id: r.try_get("ticket_id")? })
}

pub async fn by_sha256(pool: &AnyPool, sha256: &str) -> Result<Option<PacketRow>, ServiceError> {
    let row = sqlx::query("SELECT id, ticket_id FROM closeout_packets WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(packet).transpose()
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<PacketRow>, ServiceError> {
    let row =
        sqlx::query("SELECT id, ticket_id FROM closeout_packets WHERE id = $1").bind(id).fetch_optional(pool).await?;
    row.as_ref().map(packet).transpose()
}

/// Where an attachment's original is stored, if it is still on record.
pub async fn attachment_blob(pool: &AnyPool, attachment_id: &str) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT blob_key FROM attachments WHERE id = $1")
        .bind(attachment_id)
        .fetch_optional(pool)
        .await?)
}
