//! Browser sessions in the application database (SQLite or PostgreSQL), as a tower-sessions
//! store. Written here rather than taken from tower-sessions-sqlx-store because that store
//! needs a concrete pool per engine and keeps sessions opaque: this one records the account
//! of each session, so every session of a user can be ended at once.

use crate::db::Db;
use crate::users::SessionAuth;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{Error, Result, SessionStore};

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }
}

/// The row key of a session: the SHA-256 of its id. The id is the cookie's value, a bearer
/// secret; like tokens and link secrets, it is never stored as it is, so a copy of the
/// database (a backup, a replica) opens no session.
fn key(id: &Id) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(id.to_string().as_bytes()))
}

fn backend(e: sqlx::Error) -> Error {
    tracing::error!(error = %e, "session store");
    Error::Backend(e.to_string())
}

fn expires_ms(r: &Record) -> i64 {
    (r.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

fn user_of(r: &Record) -> Option<String> {
    r.data
        .get(SessionAuth::KEY)
        .and_then(|v| serde_json::from_value::<SessionAuth>(v.clone()).ok())
        .and_then(|a| a.user_id)
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        // A clash of two random 128-bit ids is next to impossible; draw again if it happens.
        for _ in 0..8 {
            let r = sqlx::query(
                "INSERT INTO sessions (id, user_id, data_json, expires_at_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(key(&record.id))
            .bind(user_of(record))
            .bind(&data)
            .bind(expires_ms(record))
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
            if r.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, data_json, expires_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET user_id = $2, data_json = $3, expires_at_ms = $4",
        )
        .bind(key(&record.id))
        .bind(user_of(record))
        .bind(&data)
        .bind(expires_ms(record))
        .execute(self.db.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT data_json, expires_at_ms FROM sessions WHERE id = $1 AND expires_at_ms > $2")
                .bind(key(id))
                .bind(crate::ids::now_ms())
                .fetch_optional(self.db.pool())
                .await
                .map_err(backend)?;
        let Some((data, expires)) = row else { return Ok(None) };
        let data = serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires) * 1_000_000)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(key(id))
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
