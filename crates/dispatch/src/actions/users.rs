//! Human accounts: creation and administration, login with throttling, password changes, and
//! turning a browser session back into an [`Actor`].
//!
//! Passwords are hashed with argon2id (19 MiB memory, 2 passes, 1 lane: the OWASP baseline,
//! about 30 ms on one core of a small homelab box). Every login, failed login, logout and
//! account change is an audit event (outside any ticket's chain).

use crate::audit::{self, NewEvent, Who};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use domain::validate::Email;
use domain::{Action, Actor, ActorKind, Role};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 1024;
/// Failed logins from one client for one e-mail before that pair is locked.
pub const LOCK_AFTER: i64 = 5;
/// The first lock lasts a minute and doubles with each further failure, up to this cap, so an
/// attacker can delay but never permanently lock out the account's owner.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash to verify against when the e-mail is unknown, so both answers take as long.
fn decoy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("decoy password for unknown accounts").unwrap_or_default())
}

/// How long a (e-mail, client) pair stays locked after `failures` consecutive failures.
pub fn lock_duration_ms(failures: i64) -> Option<i64> {
    if failures < LOCK_AFTER {
        return None;
    }
    let doublings = (failures - LOCK_AFTER).min(10) as u32;
    Some((60_000i64 << doublings).min(MAX_LOCK_MS))
}

fn check_password(field: &str, password: &str) -> Result<(), ServiceError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(ServiceError::invalid(field, "too_short", "at least 10 characters"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(ServiceError::invalid(field, "too_long", "at most 1024 bytes"));
    }
    Ok(())
}

/// An account as the console lists it (never the hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub technician_id: Option<String>,
    pub customer_id: Option<String>,
    pub disabled: bool,
    pub created_at_ms: i64,
    pub last_login_at_ms: Option<i64>,
}

/// `account.create`'s input.
pub use domain::records::NewAccount as NewUser;

/// What a browser session stores about who signed in (under one session key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionAuth {
    /// The account, or None for a portal-link visitor.
    pub user_id: Option<String>,
    /// The account's `session_epoch` at login.
    pub epoch: i64,
    /// The portal link the visitor came by.
    pub link_id: Option<String>,
    /// When the session was authenticated (absolute expiry counts from here).
    pub auth_ms: i64,
}

impl SessionAuth {
    pub const KEY: &'static str = "auth";
}

/// The actor of the current browser request (None when nobody is signed in), put in the
/// request's extensions by the server for pages and server functions.
#[derive(Debug, Clone, Default)]
pub struct CurrentActor(pub Option<Actor>);

/// The client address of the current browser request, as the server determined it.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// Sessions end this long after sign-in, however active (idle expiry is the cookie's).
pub const SESSION_MAX_AGE_MS: i64 = 24 * 3_600_000;

/// Where a login attempt came from, for throttling and the audit trail.
#[derive(Debug, Clone)]
pub struct LoginFrom {
    pub client: String,
    pub request_id: Option<String>,
}

const USER_COLUMNS: &str =
    "id, email, name, role, technician_id, customer_id, disabled_at_ms, created_at_ms, last_login_at_ms";

fn user_view(r: &sqlx::any::AnyRow) -> Result<UserView, ServiceError> {
    let role: String = r.try_get("role")?;
    Ok(UserView {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: role.parse().map_err(ServiceError::Internal)?,
        technician_id: r.try_get("technician_id")?,
        customer_id: r.try_get("customer_id")?,
        disabled: r.try_get::<Option<i64>, _>("disabled_at_ms")?.is_some(),
        created_at_ms: r.try_get("created_at_ms")?,
        last_login_at_ms: r.try_get("last_login_at_ms")?,
    })
}

impl Service {
    /// Writes one audit event outside any ticket, in its own transaction.
    async fn account_event(&self, who: &Who<'_>, action: &str, detail: serde_json::Value) -> Result<(), ServiceError> {
        let mut tx = self.db.begin_write().await?;
        audit::append_as(&mut tx, who, NewEvent { action: action.into(), detail: Some(detail), ..Default::default() })
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an account (admins; the CLI acts as the system, which is an admin).
    pub async fn create_user(&self, ctx: &CallContext, input: &NewUser) -> Result<UserView, ServiceError> {
        self.authorize(ctx, Action::AccountCreate)?;
        let email =
            Email::parse("email", &input.email).map_err(|e| ServiceError::invalid(&e.field, &e.code, &e.message))?;
        let role = input
            .role
            .ok_or_else(|| ServiceError::invalid("role", "required", "admin, operator, technician or customer"))?;
        if !role.is_human() {
            return Err(ServiceError::invalid("role", "invalid_role", "agent roles use API tokens, not accounts"));
        }
        check_password("password", &input.password)?;
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::invalid("name", "required", "a display name of 1 to 100 characters"));
        }
        let technician_id = input.technician_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let customer_id = input.customer_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        match (role, technician_id, customer_id) {
            (Role::Technician, None, _) => {
                return Err(ServiceError::invalid(
                    "technician_id",
                    "required",
                    "a technician account needs its technician profile",
                ))
            }
            (Role::Customer, _, None) => {
                return Err(ServiceError::invalid(
                    "customer_id",
                    "required",
                    "a customer account needs its customer record",
                ))
            }
            _ => {}
        }
        let technician_id = technician_id.filter(|_| role == Role::Technician);
        let customer_id = customer_id.filter(|_| role == Role::Customer);
        let mut tx = self.db.begin_write().await?;
        if let Some(t) = technician_id {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM technicians WHERE id = $1").bind(t).fetch_optional(&mut *tx).await?;
            if found.is_none() {
                return Err(ServiceError::invalid("technician_id", "not_found", "no such technician"));
            }
        }
        if let Some(c) = customer_id {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM customers WHERE id = $1").bind(c).fetch_optional(&mut *tx).await?;
            if found.is_none() {
                return Err(ServiceError::invalid("customer_id", "not_found", "no such customer"));
            }
        }
        let id = new_id("usr");
        let hash = hash_password(&input.password)?;
        let email = email.as_str().to_lowercase();
        let now = now_ms();
        let r = sqlx::query(
            "INSERT INTO users (id, email, name, role, password_hash, technician_id, customer_id, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(&email)
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(technician_id)
        .bind(customer_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(ServiceError::invalid("email", "taken", "an account with this e-mail already exists"));
        }
        let detail = serde_json::json!({"user_id": id, "email": email, "role": role, "technician_id": technician_id, "customer_id": customer_id});
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "account.create".into(), detail: Some(detail), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user = %id, %role, "account created");
        self.user(ctx, &id).await
    }

    pub async fn user(&self, ctx: &CallContext, id: &str) -> Result<UserView, ServiceError> {
        if ctx.actor.id != id {
            self.authorize(ctx, Action::AccountsRead)?;
        }
        let r = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| ServiceError::invalid("user_id", "not_found", "no such account"))?;
        user_view(&r)
    }

    pub async fn users(&self, ctx: &CallContext) -> Result<Vec<UserView>, ServiceError> {
        self.authorize(ctx, Action::AccountsRead)?;
        let rows =
            sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email")).fetch_all(self.db.pool()).await?;
        rows.iter().map(user_view).collect()
    }

    /// Looks an account up by e-mail (for the CLI).
    pub async fn user_by_email(&self, ctx: &CallContext, email: &str) -> Result<UserView, ServiceError> {
        self.authorize(ctx, Action::AccountsRead)?;
        let r = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| ServiceError::invalid("email", "not_found", "no account with this e-mail"))?;
        user_view(&r)
    }

    /// Disables or re-enables an account. Disabling ends every session of it at once.
    pub async fn set_user_disabled(
        &self,
        ctx: &CallContext,
        user_id: &str,
        disabled: bool,
    ) -> Result<UserView, ServiceError> {
        self.authorize(ctx, Action::AccountSetDisabled)?;
        if disabled && ctx.actor.id == user_id {
            return Err(ServiceError::invalid("user_id", "self", "you cannot disable your own account"));
        }
        let mut tx = self.db.begin_write().await?;
        let r = if disabled {
            sqlx::query(
                "UPDATE users SET disabled_at_ms = $1, session_epoch = session_epoch + 1 \
                 WHERE id = $2 AND disabled_at_ms IS NULL",
            )
            .bind(now_ms())
            .bind(user_id)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query("UPDATE users SET disabled_at_ms = NULL WHERE id = $1 AND disabled_at_ms IS NOT NULL")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
        };
        if r.rows_affected() == 0 {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
            if exists.is_none() {
                return Err(ServiceError::invalid("user_id", "not_found", "no such account"));
            }
        } else {
            let action = if disabled { "account.disable" } else { "account.enable" };
            record_account_change(&mut tx, ctx, action, user_id, disabled).await?;
        }
        tx.commit().await?;
        self.user(ctx, user_id).await
    }

    /// Sets a new password for someone else's account (admins); their sessions end.
    pub async fn reset_password(
        &self,
        ctx: &CallContext,
        user_id: &str,
        new_password: &str,
    ) -> Result<(), ServiceError> {
        self.authorize(ctx, Action::AccountResetPassword)?;
        check_password("password", new_password)?;
        self.replace_password(ctx, user_id, new_password, "account.password_reset").await.map(|_| ())
    }

    /// Changes the caller's own password; every session of the account ends, and the caller
    /// gets the new epoch to carry on in a fresh session.
    pub async fn change_password(
        &self,
        ctx: &CallContext,
        current: &str,
        new_password: &str,
    ) -> Result<i64, ServiceError> {
        if ctx.actor.kind != ActorKind::User || ctx.actor.id.starts_with("link:") {
            return Err(ServiceError::Forbidden("only signed-in accounts have a password".into()));
        }
        check_password("new_password", new_password)?;
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND disabled_at_ms IS NULL")
                .bind(&ctx.actor.id)
                .fetch_optional(self.db.pool())
                .await?;
        if !hash.is_some_and(|h| verify_password(current, &h)) {
            return Err(ServiceError::invalid(
                "current_password",
                "wrong_password",
                "the current password is not right",
            ));
        }
        self.replace_password(ctx, &ctx.actor.id, new_password, "account.password_change").await
    }

    async fn replace_password(
        &self,
        ctx: &CallContext,
        user_id: &str,
        new_password: &str,
        action: &str,
    ) -> Result<i64, ServiceError> {
        let hash = hash_password(new_password)?;
        let mut tx = self.db.begin_write().await?;
        let epoch: Option<i64> = sqlx::query_scalar(
            "UPDATE users SET password_hash = $1, session_epoch = session_epoch + 1 WHERE id = $2 RETURNING session_epoch",
        )
        .bind(hash)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let epoch = epoch.ok_or_else(|| ServiceError::invalid("user_id", "not_found", "no such account"))?;
        record_account_change(&mut tx, ctx, action, user_id, true).await?;
        tx.commit().await?;
        Ok(epoch)
    }

    /// Checks an e-mail and password. Every failure gets the same answer, whether the e-mail
    /// exists, the password is wrong, the account is disabled or the pair is locked.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        from: &LoginFrom,
    ) -> Result<(UserView, SessionAuth), ServiceError> {
        let email_key: String = email.trim().to_lowercase().chars().take(254).collect();
        let client: String = from.client.chars().take(64).collect();
        if let Err(wait) = self.login_limit.check(&client) {
            tracing::warn!(client = %client, "login attempts rate limited");
            return Err(ServiceError::RateLimited { retry_after_secs: wait.as_secs().max(1) });
        }
        let now = now_ms();
        let who = |id: &'static str| Who {
            kind: ActorKind::User.as_str(),
            id,
            role: Role::Customer.as_str(),
            channel: "web",
            correlation_id: None,
            request_id: from.request_id.as_deref(),
        };
        let locked_until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until_ms FROM login_throttle WHERE email = $1 AND client = $2")
                .bind(&email_key)
                .bind(&client)
                .fetch_optional(self.db.pool())
                .await?
                .flatten();
        if locked_until.is_some_and(|t| t > now) {
            tracing::warn!(client = %client, "login refused: locked");
            let detail = serde_json::json!({"email": email_key, "client": client, "reason": "locked"});
            self.account_event(&who("anonymous"), "auth.login_failed", detail).await?;
            return Err(ServiceError::LoginFailed);
        }
        let row =
            sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash, session_epoch FROM users WHERE email = $1"))
                .bind(&email_key)
                .fetch_optional(self.db.pool())
                .await?;
        let hash = row.as_ref().map(|r| r.try_get::<String, _>("password_hash")).transpose()?;
        let verified = if password.len() > MAX_PASSWORD {
            false
        } else {
            verify_password(password, hash.as_deref().unwrap_or_else(|| decoy_hash()))
        };
        let user = match &row {
            Some(r) if verified => Some((user_view(r)?, r.try_get::<i64, _>("session_epoch")?)),
            _ => None,
        };
        match user {
            Some((user, epoch)) if !user.disabled => {
                let mut tx = self.db.begin_write().await?;
                sqlx::query("DELETE FROM login_throttle WHERE email = $1 AND client = $2")
                    .bind(&email_key)
                    .bind(&client)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE users SET last_login_at_ms = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                let w = Who { id: &user.id, role: user.role.as_str(), ..who("") };
                audit::append_as(
                    &mut tx,
                    &w,
                    NewEvent {
                        action: "auth.login".into(),
                        detail: Some(serde_json::json!({"client": client})),
                        ..Default::default()
                    },
                )
                .await?;
                tx.commit().await?;
                let auth = SessionAuth { user_id: Some(user.id.clone()), epoch, link_id: None, auth_ms: now };
                Ok((user, auth))
            }
            other => {
                let reason = match (&row, other) {
                    (None, _) => "unknown_email",
                    (Some(_), Some(_)) => "disabled",
                    (Some(_), None) => "wrong_password",
                };
                let mut tx = self.db.begin_write().await?;
                let failures: i64 = sqlx::query_scalar(
                    "INSERT INTO login_throttle (email, client, failures, updated_at_ms) VALUES ($1, $2, 1, $3) \
                     ON CONFLICT (email, client) DO UPDATE SET failures = login_throttle.failures + 1, updated_at_ms = $3 \
                     RETURNING failures",
                )
                .bind(&email_key)
                .bind(&client)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(ms) = lock_duration_ms(failures) {
                    sqlx::query("UPDATE login_throttle SET locked_until_ms = $1 WHERE email = $2 AND client = $3")
                        .bind(now + ms)
                        .bind(&email_key)
                        .bind(&client)
                        .execute(&mut *tx)
                        .await?;
                }
                let user_id = row.as_ref().map(|r| r.try_get::<String, _>("id")).transpose()?;
                let detail =
                    serde_json::json!({"email": email_key, "client": client, "reason": reason, "failures": failures});
                let w = Who { id: user_id.as_deref().unwrap_or("anonymous"), ..who("") };
                audit::append_as(
                    &mut tx,
                    &w,
                    NewEvent { action: "auth.login_failed".into(), detail: Some(detail), ..Default::default() },
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(client = %client, reason, failures, "login failed");
                Err(ServiceError::LoginFailed)
            }
        }
    }

    /// Records a sign-out (the door deletes the session itself).
    pub async fn logout(&self, ctx: &CallContext) -> Result<(), ServiceError> {
        let mut tx = self.db.begin_write().await?;
        audit::append(&mut tx, ctx, NewEvent { action: "auth.logout".into(), ..Default::default() }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The actor a browser session stands for, or None when the session is no longer good:
    /// account disabled, password changed since (epoch), link expired or revoked, or older
    /// than `max_age_ms`.
    pub async fn session_actor(&self, auth: &SessionAuth, max_age_ms: i64) -> Result<Option<Actor>, ServiceError> {
        let now = now_ms();
        if now - auth.auth_ms > max_age_ms {
            return Ok(None);
        }
        if let Some(link) = &auth.link_id {
            return self.link_actor(link, now).await;
        }
        let Some(user_id) = &auth.user_id else { return Ok(None) };
        let row = sqlx::query(
            "SELECT name, role, technician_id, customer_id, session_epoch, disabled_at_ms FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        if r.try_get::<Option<i64>, _>("disabled_at_ms")?.is_some()
            || r.try_get::<i64, _>("session_epoch")? != auth.epoch
        {
            return Ok(None);
        }
        let role: Role = r.try_get::<String, _>("role")?.parse().map_err(ServiceError::Internal)?;
        let mut actor = Actor::new(ActorKind::User, user_id.clone(), role, r.try_get::<String, _>("name")?);
        actor.technician_id = r.try_get("technician_id")?;
        actor.customer_id = r.try_get("customer_id")?;
        Ok(Some(actor))
    }

    /// Deletes sessions past their expiry (called now and then by the server).
    pub async fn delete_expired_sessions(&self) -> Result<u64, ServiceError> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected())
    }
}

/// Audits a change to an account; with `end_sessions`, every session of it is deleted too
/// (its epoch was raised by the caller, so cached sessions are refused as well).
async fn record_account_change(
    tx: &mut crate::db::WriteTx,
    ctx: &CallContext,
    action: &str,
    user_id: &str,
    end_sessions: bool,
) -> Result<(), ServiceError> {
    if end_sessions {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    }
    let detail = Some(serde_json::json!({"user_id": user_id}));
    audit::append(tx, ctx, NewEvent { action: action.into(), detail, ..Default::default() }).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_verify() {
        let h = super::hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify_password("correct horse battery", &h));
        assert!(!super::verify_password("correct horse batterx", &h));
        assert!(!super::verify_password("x", "not a hash"));
    }

    #[test]
    fn lockouts_grow_and_are_capped() {
        assert_eq!(super::lock_duration_ms(4), None);
        assert_eq!(super::lock_duration_ms(5), Some(60_000));
        assert_eq!(super::lock_duration_ms(6), Some(120_000));
        assert_eq!(super::lock_duration_ms(9), Some(super::MAX_LOCK_MS));
        assert_eq!(super::lock_duration_ms(1_000_000), Some(super::MAX_LOCK_MS));
    }
}
