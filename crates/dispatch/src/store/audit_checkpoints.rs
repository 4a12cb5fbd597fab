//! Signed checkpoints of the audit chain (`audit_checkpoints`; see `crate::audit_seal`).
//! Nothing here touches `audit_head`: taking a checkpoint never waits for, nor holds up, an
//! action appending to the chain.

use crate::audit_seal::Checkpoint;
use crate::db::Db;
use sqlx::Row;

/// The last committed event (seq, hash), read on its own. Appenders hold the head row until
/// they commit, so events commit in seq order and the highest committed seq is the head.
pub async fn last_event(pool: &sqlx::AnyPool) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(pool).await?;
    row.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?))).transpose()
}

/// The hash of the event at `seq`, if there is one.
pub async fn event_hash(pool: &sqlx::AnyPool, seq: i64) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT hash FROM audit_events WHERE seq = $1").bind(seq).fetch_optional(pool).await?;
    row.map(|r| r.try_get("hash")).transpose()
}

/// The seq of the newest checkpoint.
pub async fn last_seq(pool: &sqlx::AnyPool) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").fetch_optional(pool).await?;
    row.map(|r| r.try_get("seq")).transpose()
}

/// Stores a checkpoint; false when one for this seq is already there (another instance took
/// it first: both signed the same head, one row is enough).
pub async fn insert(db: &Db, c: &Checkpoint) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "INSERT INTO audit_checkpoints (seq, head_hash, at_ms, public_key, signature) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (seq) DO NOTHING",
    )
    .bind(c.seq)
    .bind(&c.head_hash)
    .bind(c.at_ms)
    .bind(&c.public_key)
    .bind(&c.signature)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Every stored checkpoint in seq order, each with the hash of the event at its seq (None when
/// that event is gone).
pub async fn all_with_event_hash(pool: &sqlx::AnyPool) -> Result<Vec<(Checkpoint, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.seq, c.head_hash, c.at_ms, c.public_key, c.signature, e.hash AS event_hash \
         FROM audit_checkpoints c LEFT JOIN audit_events e ON e.seq = c.seq ORDER BY c.seq",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let c = Checkpoint {
                seq: r.try_get("seq")?,
                head_hash: r.try_get("head_hash")?,
                at_ms: r.try_get("at_ms")?,
                public_key: r.try_get("public_key")?,
                signature: r.try_get("signature")?,
            };
            Ok((c, r.try_get("event_hash")?))
        })
        .collect()
}
