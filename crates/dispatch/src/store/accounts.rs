//! Accounts, their sign-in throttle and what a browser session needs to know about them.

use crate::error::ServiceError;
use domain::Role;
use sqlx::{AnyPool, Row};

pub use domain::records::UserView;

/// A new account's row (the password already hashed).
pub struct NewUserRow<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub technician_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub now: i64,
}

/// What a sign-in checks: the account, its password hash and its session epoch.
pub struct LoginRow {
    pub user: UserView,
    pub password_hash: String,
    pub session_epoch: i64,
}

/// What turns a session back into an actor.
pub struct SessionUser {
    pub name: String,
    pub role: Role,
    pub technician_id: Option<String>,
    pub customer_id: Option<String>,
    pub session_epoch: i64,
    pub disabled: bool,
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

/// Whether a row with this id exists in `table` (one of the tables an account may point to).
pub async fn exists(tx: &mut crate::db::WriteTx, table: Referenced, id: &str) -> Result<bool, ServiceError> {
    let sql = match table {
        Referenced::Technician => "SELECT id FROM technicians WHERE id = $1",
        Referenced::Customer => "SELECT id FROM customers WHERE id = $1",
        Referenced::User => "SELECT id FROM users WHERE id = $1",
    };
    let found: Option<String> = sqlx::query_scalar(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

/// The records an account can name.
#[derive(Debug, Clone, Copy)]
pub enum Referenced {
    Technician,
    Customer,
    User,
}

/// Inserts the account unless its e-mail is taken; false when it is.
pub async fn insert(tx: &mut crate::db::WriteTx, u: &NewUserRow<'_>) -> Result<bool, ServiceError> {
    let r = sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, technician_id, customer_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email) DO NOTHING",
    )
    .bind(u.id)
    .bind(u.email)
    .bind(u.name)
    .bind(u.role.as_str())
    .bind(u.password_hash)
    .bind(u.technician_id)
    .bind(u.customer_id)
    .bind(u.now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<UserView>, ServiceError> {
    let row =
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(user_view).transpose()
}

pub async fn by_email(pool: &AnyPool, email: &str) -> Result<Option<UserView>, ServiceError> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_view).transpose()
}

pub async fn all(pool: &AnyPool) -> Result<Vec<UserView>, ServiceError> {
    let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email")).fetch_all(pool).await?;
    rows.iter().map(user_view).collect()
}

/// Disables (raising the session epoch, so cached sessions are refused) or re-enables the
/// account; false when it was already so, or does not exist.
pub async fn set_disabled(
    tx: &mut crate::db::WriteTx,
    id: &str,
    disabled: bool,
    now: i64,
) -> Result<bool, ServiceError> {
    let r = if disabled {
        sqlx::query(
            "UPDATE users SET disabled_at_ms = $1, session_epoch = session_epoch + 1 \
             WHERE id = $2 AND disabled_at_ms IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query("UPDATE users SET disabled_at_ms = NULL WHERE id = $1 AND disabled_at_ms IS NOT NULL")
            .bind(id)
            .execute(&mut **tx)
            .await?
    };
    Ok(r.rows_affected() == 1)
}

/// The password hash of an enabled account.
pub async fn active_password_hash(pool: &AnyPool, id: &str) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND disabled_at_ms IS NULL")
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// Sets the hash and raises the session epoch; the new epoch, or None for no such account.
pub async fn replace_password(tx: &mut crate::db::WriteTx, id: &str, hash: &str) -> Result<Option<i64>, ServiceError> {
    Ok(sqlx::query_scalar(
        "UPDATE users SET password_hash = $1, session_epoch = session_epoch + 1 WHERE id = $2 RETURNING session_epoch",
    )
    .bind(hash)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Deletes every session of the account.
pub async fn end_sessions(tx: &mut crate::db::WriteTx, user_id: &str) -> Result<(), ServiceError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(())
}

pub async fn login_row(pool: &AnyPool, email: &str) -> Result<Option<LoginRow>, ServiceError> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash, session_epoch FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(pool)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(LoginRow {
        user: user_view(&r)?,
        password_hash: r.try_get("password_hash")?,
        session_epoch: r.try_get("session_epoch")?,
    }))
}

pub async fn session_user(pool: &AnyPool, id: &str) -> Result<Option<SessionUser>, ServiceError> {
    let row = sqlx::query(
        "SELECT name, role, technician_id, customer_id, session_epoch, disabled_at_ms FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(SessionUser {
        name: r.try_get("name")?,
        role: r.try_get::<String, _>("role")?.parse().map_err(ServiceError::Internal)?,
        technician_id: r.try_get("technician_id")?,
        customer_id: r.try_get("customer_id")?,
        session_epoch: r.try_get("session_epoch")?,
        disabled: r.try_get::<Option<i64>, _>("disabled_at_ms")?.is_some(),
    }))
}

/// Until when the (e-mail, client) pair is locked, if it ever was.
pub async fn locked_until(pool: &AnyPool, email: &str, client: &str) -> Result<Option<i64>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT locked_until_ms FROM login_throttle WHERE email = $1 AND client = $2")
        .bind(email)
        .bind(client)
        .fetch_optional(pool)
        .await?
        .flatten())
}

/// A good sign-in: the pair's failures are forgotten and the account's last login set.
pub async fn record_login(
    tx: &mut crate::db::WriteTx,
    user_id: &str,
    email: &str,
    client: &str,
    now: i64,
) -> Result<(), ServiceError> {
    sqlx::query("DELETE FROM login_throttle WHERE email = $1 AND client = $2")
        .bind(email)
        .bind(client)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE users SET last_login_at_ms = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A failed sign-in: counts it for the pair and returns the failures so far.
pub async fn count_failure(
    tx: &mut crate::db::WriteTx,
    email: &str,
    client: &str,
    now: i64,
) -> Result<i64, ServiceError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO login_throttle (email, client, failures, updated_at_ms) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (email, client) DO UPDATE SET failures = login_throttle.failures + 1, updated_at_ms = $3 \
         RETURNING failures",
    )
    .bind(email)
    .bind(client)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn lock(tx: &mut crate::db::WriteTx, email: &str, client: &str, until: i64) -> Result<(), ServiceError> {
    sqlx::query("UPDATE login_throttle SET locked_until_ms = $1 WHERE email = $2 AND client = $3")
        .bind(until)
        .bind(email)
        .bind(client)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes sessions past their expiry.
pub async fn delete_expired_sessions(pool: &AnyPool, now: i64) -> Result<u64, ServiceError> {
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1").bind(now).execute(pool).await?;
    Ok(r.rows_affected())
}
