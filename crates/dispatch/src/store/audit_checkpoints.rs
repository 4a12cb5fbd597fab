//! Signed checkpoints of the audit trail (`audit_checkpoints`; see `crate::audit_seal`).

use crate::audit_seal::Checkpoint;
use crate::db::Db;
use sqlx::Row;

/// The newest committed event (seq, hash). Events of different streams commit out of seq
/// order: see [`settled_seq`] for a seq that nothing before can still join.
pub async fn last_event(pool: &sqlx::AnyPool) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(pool).await?;
    row.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?))).transpose()
}

/// The newest seq below which every event has committed or never will: on PostgreSQL a brief
/// SHARE lock on the stream heads waits out the appends in flight (each takes its seq while
/// holding a head) and holds new ones back for the one read. None when there are no events, or
/// when appends kept the lock from being had within `wait_ms` (try again later).
pub async fn settled_seq(db: &Db, wait_ms: u32) -> Result<Option<i64>, sqlx::Error> {
    let last = match db.backend() {
        // One writer at a time: whatever is committed is settled.
        crate::db::Backend::Sqlite => {
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_events").fetch_one(db.pool()).await?
        }
        crate::db::Backend::Postgres => {
            let mut tx = db.pool().begin().await?;
            sqlx::query(&format!("SET LOCAL lock_timeout = '{wait_ms}ms'")).execute(&mut *tx).await?;
            match sqlx::query("LOCK TABLE audit_streams IN SHARE MODE").execute(&mut *tx).await {
                Ok(_) => {}
                // 55P03: lock_not_available.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => return Ok(None),
                Err(e) => return Err(e),
            }
            let last = sqlx::query_scalar("SELECT MAX(seq) FROM audit_events").fetch_one(&mut *tx).await?;
            tx.commit().await?;
            last
        }
    };
    Ok(last)
}

/// The events after seq `after` up to `upto`, in seq order: (seq, written before streams, hash).
pub async fn hashes_between(
    pool: &sqlx::AnyPool,
    after: i64,
    upto: i64,
) -> Result<Vec<(i64, bool, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, stream IS NULL AS legacy, hash FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(after)
    .bind(upto)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            // SQLite answers a boolean expression as an integer.
            let legacy = r.try_get::<bool, _>("legacy").or_else(|_| r.try_get::<i64, _>("legacy").map(|n| n != 0))?;
            Ok((r.try_get("seq")?, legacy, r.try_get("hash")?))
        })
        .collect()
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

/// Every stored checkpoint in seq order.
pub async fn all(pool: &sqlx::AnyPool) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let rows = sqlx::query("SELECT seq, head_hash, at_ms, public_key, signature FROM audit_checkpoints ORDER BY seq")
        .fetch_all(pool)
        .await?;
    rows.iter().map(checkpoint).collect()
}

/// The newest stored checkpoint.
pub async fn last(pool: &sqlx::AnyPool) -> Result<Option<Checkpoint>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT seq, head_hash, at_ms, public_key, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(checkpoint).transpose()
}

fn checkpoint(r: &sqlx::any::AnyRow) -> Result<Checkpoint, sqlx::Error> {
    Ok(Checkpoint {
        seq: r.try_get("seq")?,
        head_hash: r.try_get("head_hash")?,
        at_ms: r.try_get("at_ms")?,
        public_key: r.try_get("public_key")?,
        signature: r.try_get("signature")?,
    })
}
