//! Checklist templates, one list per job type.

use crate::error::ServiceError;
use domain::records::TemplateItem;
use sqlx::{AnyPool, Row};

pub async fn all(pool: &AnyPool) -> Result<Vec<TemplateItem>, ServiceError> {
    let rows = sqlx::query(
        "SELECT job_type, item_key, label, required, position FROM checklist_templates ORDER BY job_type, position, item_key",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TemplateItem {
                job_type: r.try_get("job_type")?,
                key: r.try_get("item_key")?,
                label: r.try_get("label")?,
                required: r.try_get::<i64, _>("required")? != 0,
                position: r.try_get("position")?,
            })
        })
        .collect()
}

/// Adds the item, or changes the one with the same job type and key.
pub async fn put(tx: &mut crate::db::WriteTx, item: &TemplateItem) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO checklist_templates (job_type, item_key, label, required, position) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (job_type, item_key) DO UPDATE SET label = $3, required = $4, position = $5",
    )
    .bind(&item.job_type)
    .bind(&item.key)
    .bind(&item.label)
    .bind(i64::from(item.required))
    .bind(item.position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes the item; false when there was none.
pub async fn remove(tx: &mut crate::db::WriteTx, job_type: &str, key: &str) -> Result<bool, ServiceError> {
    let r = sqlx::query("DELETE FROM checklist_templates WHERE job_type = $1 AND item_key = $2")
        .bind(job_type)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}
