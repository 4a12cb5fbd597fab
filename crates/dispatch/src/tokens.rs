//! API tokens for agents and scripts: bound to one role, stored as a hash, revocable.
//!
//! A token reads `rdt_<id>.<secret>`; the id finds the row, the SHA-256 of the secret must
//! match. Secrets are 256 random bits, so a fast hash is enough (no password stretching).

use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::Service;
use domain::{Actor, ActorKind, Role};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::Row;

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison, so timing does not reveal how much of a guess was right.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct NewToken {
    pub id: String,
    /// Shown once; only its hash is stored.
    pub token: String,
}

impl Service {
    pub async fn create_token(&self, role: Role, name: &str) -> Result<NewToken, ServiceError> {
        if !role.is_token_role() {
            return Err(ServiceError::invalid("role", "invalid_role", "API tokens are for agent roles and operator"));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ServiceError::invalid("name", "required", "a name of 1 to 100 characters"));
        }
        let id = new_id("tok");
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let secret = hex::encode(raw);
        sqlx::query("INSERT INTO api_tokens (id, name, role, secret_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(name)
            .bind(role.as_str())
            .bind(secret_hash(&secret))
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        Ok(NewToken { token: format!("rdt_{id}.{secret}"), id })
    }

    /// The actor a bearer token stands for, or `None` when unknown, malformed or revoked.
    pub async fn authenticate_token(&self, bearer: &str) -> Result<Option<Actor>, ServiceError> {
        let Some((id, secret)) = bearer.strip_prefix("rdt_").and_then(|t| t.split_once('.')) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT name, role, secret_hash, revoked_at_ms FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get("secret_hash")?;
        let revoked: Option<i64> = row.try_get("revoked_at_ms")?;
        if revoked.is_some() || !same(&stored, &secret_hash(secret)) {
            return Ok(None);
        }
        let role: String = row.try_get("role")?;
        let role: Role = role.parse().map_err(ServiceError::Internal)?;
        sqlx::query("UPDATE api_tokens SET last_used_at_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        let name: String = row.try_get("name")?;
        Ok(Some(Actor::new(ActorKind::Token, id, role, name)))
    }

    /// Revokes a token by id; `false` if there was no such active token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, ServiceError> {
        let r = sqlx::query("UPDATE api_tokens SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
