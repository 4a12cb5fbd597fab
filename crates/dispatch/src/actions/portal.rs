//! Customer access without a password: a link per ticket carrying a random secret. Only the
//! secret's hash is stored; links expire and can be revoked, and a visitor who came by one
//! acts as that ticket's customer for that ticket only.

use crate::audit::{self, NewEvent, Who};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use crate::store::links;
use domain::{Action, Actor, ActorKind, Role};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
        let hash = secret_hash(&secret);
        let row = links::NewLink {
            id: &link_id,
            ticket_id: &case.id,
            secret_hash: &hash,
            created_by: &ctx.actor.id,
            now,
            expires_at_ms,
        };
        links::insert(&mut tx, &row).await?;
        let detail = serde_json::json!({"link_id": link_id, "expires_at_ms": expires_at_ms});
        audit::append(&mut tx, ctx, NewEvent::ticket_note(&case.id, "portal.link_created", detail)).await?;
        tx.commit().await?;
        Ok(PortalLink { path: format!("/portal/link/{link_id}.{secret}"), link_id, ticket_id: case.id, expires_at_ms })
    }

    /// `portal.revoke_link`: the link and every session opened with it stop working.
    pub async fn revoke_portal_link(&self, ctx: &CallContext, input: &RevokeLink) -> Result<(), ServiceError> {
        self.authorize(ctx, Action::PortalRevokeLink)?;
        let mut tx = self.db.begin_write().await?;
        let ticket = links::revoke(&mut tx, input.link_id.trim(), now_ms()).await?;
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
        let link = links::get(self.db.pool(), link_id).await?.ok_or(ServiceError::LinkInvalid)?;
        let expires_at_ms = link.expires_at_ms;
        if !crate::tokens::same(&link.secret_hash, &secret_hash(secret)) || expires_at_ms <= now || link.revoked {
            return Err(ServiceError::LinkInvalid);
        }
        let ticket_id = link.ticket_id;
        let mut tx = self.db.begin_write().await?;
        links::touch(&mut tx, link_id, now).await?;
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
        let Some(h) = links::holder(self.db.pool(), link_id).await? else { return Ok(None) };
        if h.revoked || h.expires_at_ms <= now {
            return Ok(None);
        }
        let name = h.customer_name.unwrap_or_default();
        let mut actor = Actor::new(ActorKind::User, format!("link:{link_id}"), Role::Customer, name);
        actor.customer_id = Some(h.customer_id);
        actor.ticket_scope = Some(h.ticket_id);
        Ok(Some(actor))
    }
}
