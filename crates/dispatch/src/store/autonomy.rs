//! Pauses of the agents, one row per scope.

use crate::error::ServiceError;
use domain::autonomy::{Pause, PauseScope};
use sqlx::{AnyPool, Row};

fn pause(r: &sqlx::any::AnyRow) -> Result<Option<Pause>, ServiceError> {
    let key: String = r.try_get("scope")?;
    let Some(scope) = PauseScope::from_key(&key) else { return Ok(None) };
    Ok(Some(Pause {
        scope,
        reason: r.try_get("reason")?,
        paused_by: r.try_get("paused_by")?,
        paused_at_ms: r.try_get("paused_at_ms")?,
    }))
}

/// Pauses the scope (a second pause of the same scope keeps the first); whether it is new.
pub async fn pause_scope(
    tx: &mut crate::db::WriteTx,
    scope: &PauseScope,
    reason: Option<&str>,
    by: &str,
    now: i64,
) -> Result<bool, ServiceError> {
    let r = sqlx::query(
        "INSERT INTO autonomy_pauses (scope, reason, paused_by, paused_at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope) DO NOTHING",
    )
    .bind(scope.key())
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Lifts the pause of the scope; the pause it lifted, if there was one.
pub async fn resume_scope(tx: &mut crate::db::WriteTx, scope: &PauseScope) -> Result<Option<Pause>, ServiceError> {
    let row =
        sqlx::query("DELETE FROM autonomy_pauses WHERE scope = $1 RETURNING scope, reason, paused_by, paused_at_ms")
            .bind(scope.key())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(match row {
        Some(r) => pause(&r)?,
        None => None,
    })
}

/// Every pause in force, broadest first.
pub async fn all(pool: &AnyPool) -> Result<Vec<Pause>, ServiceError> {
    let rows = sqlx::query("SELECT scope, reason, paused_by, paused_at_ms FROM autonomy_pauses ORDER BY paused_at_ms")
        .fetch_all(pool)
        .await?;
    let mut out = vec![];
    for r in &rows {
        out.extend(pause(r)?);
    }
    out.sort_by_key(|p| match p.scope {
        PauseScope::All => 0,
        PauseScope::Role { .. } => 1,
        PauseScope::Ticket { .. } => 2,
    });
    Ok(out)
}

/// The broadest pause among `scopes` (broadest first), if any is in force: one query.
pub async fn first_of(pool: &AnyPool, scopes: &[PauseScope]) -> Result<Option<Pause>, ServiceError> {
    if scopes.is_empty() {
        return Ok(None);
    }
    let params: Vec<String> = (1..=scopes.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT scope, reason, paused_by, paused_at_ms FROM autonomy_pauses WHERE scope IN ({})",
        params.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for scope in scopes {
        q = q.bind(scope.key());
    }
    let mut found = vec![];
    for r in &q.fetch_all(pool).await? {
        found.extend(pause(r)?);
    }
    Ok(scopes.iter().find_map(|s| found.iter().find(|p| &p.scope == s).cloned()))
}
