//! API tokens for agents and scripts: bound to one role, stored as a hash, revocable.
//!
//! A token reads `rdt_<id>.<secret>`; the id finds the row, the SHA-256 of the secret must
//! match. Secrets are 256 random bits, so a fast hash is enough (no password stretching).

use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::Service;
use crate::store::tokens as store;
use domain::{Actor, ActorKind, Role};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How stale a token's "last used" time may get.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long this instance trusts its copy of a token's row. An agent's turn makes several calls
/// a second with one token; reading its row for each was one more trip to the database per call.
/// A token revoked here stops at once; one revoked on another instance or by the command line
/// stops here within this time.
pub const TOKEN_FRESH: Duration = Duration::from_secs(1);

/// Tokens this instance read recently, by id. Only rows that exist are kept (a guessed id is
/// read each time, as before), so the map holds at most the shop's own tokens.
#[derive(Default)]
pub(crate) struct TokenCache {
    rows: Mutex<HashMap<String, (Instant, store::StoredToken)>>,
}

impl TokenCache {
    fn fresh(&self, id: &str) -> Option<store::StoredToken> {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(id).filter(|(at, _)| at.elapsed() < TOKEN_FRESH).map(|(_, row)| row.clone())
    }

    fn keep(&self, id: &str, row: &store::StoredToken) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.retain(|_, (at, _)| at.elapsed() < TOKEN_FRESH);
        rows.insert(id.to_string(), (Instant::now(), row.clone()));
    }

    fn forget(&self, id: &str) {
        self.rows.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison, so timing does not reveal how much of a guess was right.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a bearer token stands for, and the budget of calls it was given.
pub struct TokenHolder {
    pub actor: Actor,
    /// Calls per minute (`None`: the shop's budget; 0: unlimited).
    pub calls_per_minute: Option<u32>,
}

pub struct NewToken {
    pub id: String,
    /// Shown once; only its hash is stored.
    pub token: String,
}

impl Service {
    pub async fn create_token(&self, role: Role, name: &str) -> Result<NewToken, ServiceError> {
        self.create_token_with_budget(role, name, None).await
    }

    /// [`Service::create_token`] with its own budget of calls per minute (0: unlimited), in
    /// place of the shop's.
    pub async fn create_token_with_budget(
        &self,
        role: Role,
        name: &str,
        calls_per_minute: Option<u32>,
    ) -> Result<NewToken, ServiceError> {
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
        store::insert(self.db.pool(), &id, name, role, &secret_hash(&secret), calls_per_minute, now_ms()).await?;
        Ok(NewToken { token: format!("rdt_{id}.{secret}"), id })
    }

    /// The actor a bearer token stands for, or `None` when unknown, malformed or revoked.
    pub async fn authenticate_token(&self, bearer: &str) -> Result<Option<Actor>, ServiceError> {
        Ok(self.token_holder(bearer).await?.map(|h| h.actor))
    }

    /// [`Service::authenticate_token`] with the token's budget of calls.
    pub async fn token_holder(&self, bearer: &str) -> Result<Option<TokenHolder>, ServiceError> {
        let Some((id, secret)) = bearer.strip_prefix("rdt_").and_then(|t| t.split_once('.')) else {
            return Ok(None);
        };
        let presented = secret_hash(secret);
        let stored = match self.tokens.fresh(id) {
            Some(row) => row,
            None => {
                let Some(mut row) = store::get(self.db.pool(), id).await? else { return Ok(None) };
                // "Last used" to the minute: a write on every call would queue each read behind
                // the writers (SQLite has one).
                let now = now_ms();
                if !row.revoked
                    && same(&row.secret_hash, &presented)
                    && row.last_used_at_ms.is_none_or(|at| now - at >= TOUCH_EVERY_MS)
                {
                    store::touch(self.db.pool(), id, now).await?;
                    row.last_used_at_ms = Some(now);
                }
                self.tokens.keep(id, &row);
                row
            }
        };
        if stored.revoked || !same(&stored.secret_hash, &presented) {
            return Ok(None);
        }
        Ok(Some(TokenHolder {
            actor: Actor::new(ActorKind::Token, id, stored.role, stored.name),
            calls_per_minute: stored.calls_per_minute,
        }))
    }

    /// Revokes a token by id; `false` if there was no such active token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, ServiceError> {
        let revoked = store::revoke(self.db.pool(), id, now_ms()).await;
        self.tokens.forget(id);
        revoked
    }
}
