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
use crate::store::accounts::{self, Referenced};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use domain::validate::Email;
use domain::{Action, Actor, ActorKind, Role};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 1024;
/// Failed logins from one client for one e-mail before that pair is locked.
pub const LOCK_AFTER: i64 = 5;
/// The first lock lasts a minute and doubles with each further failure, up to this cap, so an
/// attacker can delay but never permanently lock out the account's owner.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;

/// A stable mark for whoever is signed in, that names no record: a phone keeps the steps a
/// technician took under it, so a shared phone sends each person's steps as theirs, while the
/// page never carries an internal id (account, link or technician ids stay on the server).
pub fn account_mark(actor_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("real-dispatch account mark\n{actor_id}").as_bytes());
    format!("acct-{}", hex::encode(&digest[..12]))
}

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

pub use crate::store::accounts::UserView;

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
            if !accounts::exists(&mut tx, Referenced::Technician, t).await? {
                return Err(ServiceError::invalid("technician_id", "not_found", "no such technician"));
            }
        }
        if let Some(c) = customer_id {
            if !accounts::exists(&mut tx, Referenced::Customer, c).await? {
                return Err(ServiceError::invalid("customer_id", "not_found", "no such customer"));
            }
        }
        let id = new_id("usr");
        let hash = hash_password(&input.password)?;
        let email = email.as_str().to_lowercase();
        let row = accounts::NewUserRow {
            id: &id,
            email: &email,
            name,
            role,
            password_hash: &hash,
            technician_id,
            customer_id,
            now: now_ms(),
        };
        if !accounts::insert(&mut tx, &row).await? {
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
        accounts::by_id(self.db.pool(), id)
            .await?
            .ok_or_else(|| ServiceError::invalid("user_id", "not_found", "no such account"))
    }

    pub async fn users(&self, ctx: &CallContext) -> Result<Vec<UserView>, ServiceError> {
        self.authorize(ctx, Action::AccountsRead)?;
        accounts::all(self.db.pool()).await
    }

    /// Looks an account up by e-mail (for the CLI).
    pub async fn user_by_email(&self, ctx: &CallContext, email: &str) -> Result<UserView, ServiceError> {
        self.authorize(ctx, Action::AccountsRead)?;
        accounts::by_email(self.db.pool(), &email.trim().to_lowercase())
            .await?
            .ok_or_else(|| ServiceError::invalid("email", "not_found", "no account with this e-mail"))
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
        if !accounts::set_disabled(&mut tx, user_id, disabled, now_ms()).await? {
            if !accounts::exists(&mut tx, Referenced::User, user_id).await? {
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
        let hash = accounts::active_password_hash(self.db.pool(), &ctx.actor.id).await?;
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
        let epoch = accounts::replace_password(&mut tx, user_id, &hash).await?;
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
            return Err(ServiceError::RateLimited {
                what: "too many sign-in attempts from this address",
                retry_after_secs: wait.as_secs().max(1),
            });
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
        let locked_until = accounts::locked_until(self.db.pool(), &email_key, &client).await?;
        if locked_until.is_some_and(|t| t > now) {
            tracing::warn!(client = %client, "login refused: locked");
            let detail = serde_json::json!({"email": email_key, "client": client, "reason": "locked"});
            self.account_event(&who("anonymous"), "auth.login_failed", detail).await?;
            return Err(ServiceError::LoginFailed);
        }
        let row = accounts::login_row(self.db.pool(), &email_key).await?;
        let hash = row.as_ref().map(|r| r.password_hash.as_str());
        let verified = if password.len() > MAX_PASSWORD {
            false
        } else {
            verify_password(password, hash.unwrap_or_else(|| decoy_hash()))
        };
        let user = match &row {
            Some(r) if verified => Some((r.user.clone(), r.session_epoch)),
            _ => None,
        };
        match user {
            Some((user, epoch)) if !user.disabled => {
                let mut tx = self.db.begin_write().await?;
                accounts::record_login(&mut tx, &user.id, &email_key, &client, now).await?;
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
                let failures = accounts::count_failure(&mut tx, &email_key, &client, now).await?;
                if let Some(ms) = lock_duration_ms(failures) {
                    accounts::lock(&mut tx, &email_key, &client, now + ms).await?;
                }
                let user_id = row.as_ref().map(|r| r.user.id.clone());
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
        let Some(u) = accounts::session_user(self.db.pool(), user_id).await? else { return Ok(None) };
        if u.disabled || u.session_epoch != auth.epoch {
            return Ok(None);
        }
        let mut actor = Actor::new(ActorKind::User, user_id.clone(), u.role, u.name);
        actor.technician_id = u.technician_id;
        actor.customer_id = u.customer_id;
        Ok(Some(actor))
    }

    /// Deletes sessions past their expiry (called now and then by the server).
    pub async fn delete_expired_sessions(&self) -> Result<u64, ServiceError> {
        accounts::delete_expired_sessions(self.db.pool(), now_ms()).await
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
        accounts::end_sessions(tx, user_id).await?;
    }
    let detail = Some(serde_json::json!({"user_id": user_id}));
    audit::append(tx, ctx, NewEvent { action: action.into(), detail, ..Default::default() }).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_account_mark_is_stable_distinct_and_names_no_record() {
        let a = super::account_mark("usr_0123456789abcdef");
        assert_eq!(a, super::account_mark("usr_0123456789abcdef"));
        assert_ne!(a, super::account_mark("usr_0123456789abcdee"));
        assert_ne!(a, super::account_mark("link:lnk_0123456789abcdef"));
        assert!(a.starts_with("acct-") && a.len() == 29, "{a}");
        assert!(!a.contains("usr_") && !a.contains("0123456789abcdef"), "{a}");
    }

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
