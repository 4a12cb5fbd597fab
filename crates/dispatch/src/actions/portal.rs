//! Customer access without a password: a link per ticket carrying a random secret. Only the
//! secret's hash is stored; links expire and can be revoked, and a visitor who came by one
//! acts as that ticket's customer for that ticket only.

use crate::audit::{self, NewEvent, Who};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use domain::{Action, Actor, ActorKind, Role};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

pub const DEFAULT_TTL_HOURS: u32 = 72;
pub const MAX_TTL_HOURS: u32 = 24 * 30;
const HOUR_MS: i64 = 3_600_000;

/// A new link; `path` holds the secret and is shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PortalLink {
    pub link_id: String,
    pub ticket_id: String,
    /// `/portal/link/<token>`: put the shop's address in front of it.
    pub path: String,
    pub expires_at_ms: i64,
}

pub use domain::commands::{CreateLink, RevokeLink};

/// What opening a link grants.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalGrant {
    pub link_id: String,
    pub ticket_id: String,
    pub expires_at_ms: i64,
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Service {
    /// `portal.create_link`: a new link to one ticket's portal page.
    pub async fn create_portal_link(&self, ctx: &CallContext, input: &CreateLink) -> Result<PortalLink, ServiceError> {
        self.authorize(ctx, Action::PortalCreateLink)?;
        let ttl = input.ttl_hours.unwrap_or(DEFAULT_TTL_HOURS);
        if ttl == 0 || ttl > MAX_TTL_HOURS {
            return Err(ServiceError::invalid("ttl_hours", "out_of_range", "1 to 720 hours"));
        }
        let mut tx = self.db.begin_write().await?;
        let case = crate::case_store::load_case(&mut tx, input.ticket_id.trim()).await?;
        self.check_scope(ctx, &case)?;
        let link_id = new_id("lnk");
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let secret = hex::encode(raw);
        let now = now_ms();
        let expires_at_ms = now + i64::from(ttl) * HOUR_MS;
        sqlx::query(
            "INSERT INTO portal_links (id, ticket_id, secret_hash, created_by, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link_id)
        .bind(&case.id)
        .bind(secret_hash(&secret))
        .bind(&ctx.actor.id)
        .bind(now)
        .bind(expires_at_ms)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({"link_id": link_id, "expires_at_ms": expires_at_ms});
        audit::append(&mut tx, ctx, NewEvent::ticket_note(&case.id, "portal.link_created", detail)).await?;
        tx.commit().await?;
        Ok(PortalLink { path: format!("/portal/link/{link_id}.{secret}"), link_id, ticket_id: case.id, expires_at_ms })
    }

    /// `portal.revoke_link`: the link and every session opened with it stop working.
    pub async fn revoke_portal_link(&self, ctx: &CallContext, input: &RevokeLink) -> Result<(), ServiceError> {
        self.authorize(ctx, Action::PortalRevokeLink)?;
        let mut tx = self.db.begin_write().await?;
        let ticket: Option<String> = sqlx::query_scalar(
            "UPDATE portal_links SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL RETURNING ticket_id",
        )
        .bind(now_ms())
        .bind(input.link_id.trim())
        .fetch_optional(&mut *tx)
        .await?;
        let ticket =
            ticket.ok_or_else(|| ServiceError::invalid("link_id", "not_found", "no active link with this id"))?;
        let detail = serde_json::json!({"link_id": input.link_id.trim()});
        audit::append(&mut tx, ctx, NewEvent::ticket_note(&ticket, "portal.link_revoked", detail)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a link token (`<link id>.<secret>`). Unknown, wrong, expired and revoked links all
    /// get the same answer.
    pub async fn open_portal_link(&self, token: &str, request_id: Option<&str>) -> Result<PortalGrant, ServiceError> {
        let (link_id, secret) = token.split_once('.').ok_or(ServiceError::LinkInvalid)?;
        if link_id.len() > 64 || secret.len() != 64 {
            return Err(ServiceError::LinkInvalid);
        }
        let now = now_ms();
        let row =
            sqlx::query("SELECT ticket_id, secret_hash, expires_at_ms, revoked_at_ms FROM portal_links WHERE id = $1")
                .bind(link_id)
                .fetch_optional(self.db.pool())
                .await?
                .ok_or(ServiceError::LinkInvalid)?;
        let stored: String = row.try_get("secret_hash")?;
        let expires_at_ms: i64 = row.try_get("expires_at_ms")?;
        let revoked: Option<i64> = row.try_get("revoked_at_ms")?;
        if !crate::tokens::same(&stored, &secret_hash(secret)) || expires_at_ms <= now || revoked.is_some() {
            return Err(ServiceError::LinkInvalid);
        }
        let ticket_id: String = row.try_get("ticket_id")?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE portal_links SET last_used_at_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(link_id)
            .execute(&mut *tx)
            .await?;
        let actor_id = format!("link:{link_id}");
        let who = Who {
            kind: ActorKind::User.as_str(),
            id: &actor_id,
            role: Role::Customer.as_str(),
            channel: "web",
            correlation_id: None,
            request_id,
        };
        let detail = serde_json::json!({"link_id": link_id});
        audit::append_as(&mut tx, &who, NewEvent::ticket_note(&ticket_id, "portal.link_opened", detail)).await?;
        tx.commit().await?;
        Ok(PortalGrant { link_id: link_id.to_string(), ticket_id, expires_at_ms })
    }

    /// The customer a still-valid link stands for, scoped to its ticket.
    pub(crate) async fn link_actor(&self, link_id: &str, now: i64) -> Result<Option<Actor>, ServiceError> {
        let row = sqlx::query(
            "SELECT l.ticket_id, l.expires_at_ms, l.revoked_at_ms, t.customer_id, c.name FROM portal_links l \
             JOIN tickets t ON t.id = l.ticket_id JOIN customers c ON c.id = t.customer_id WHERE l.id = $1",
        )
        .bind(link_id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        if r.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some() || r.try_get::<i64, _>("expires_at_ms")? <= now {
            return Ok(None);
        }
        let name: Option<String> = r.try_get("name")?;
        let mut actor =
            Actor::new(ActorKind::User, format!("link:{link_id}"), Role::Customer, name.unwrap_or_default());
        actor.customer_id = Some(r.try_get("customer_id")?);
        actor.ticket_scope = Some(r.try_get("ticket_id")?);
        Ok(Some(actor))
    }
}
