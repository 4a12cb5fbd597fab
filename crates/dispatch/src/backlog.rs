//! What the server has waiting, for the metrics: the outboxes, image work, the audit
//! checkpoints, and the database pool.

use crate::error::ServiceError;
use crate::service::Service;
pub use crate::store::backlog::Outbox;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub customer_updates: Outbox,
    pub followups: Outbox,
    pub last_checkpoint_ms: Option<i64>,
}

/// The database pool as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub size: u32,
    pub idle: u32,
}

impl Service {
    pub async fn backlog(&self) -> Result<Backlog, ServiceError> {
        let pool = self.db.pool();
        Ok(Backlog {
            customer_updates: crate::store::backlog::customer_updates(pool).await?,
            followups: crate::store::backlog::followups(pool).await?,
            last_checkpoint_ms: crate::store::backlog::last_checkpoint_ms(pool).await?,
        })
    }

    pub fn pool_use(&self) -> PoolUse {
        let pool = self.db.pool();
        PoolUse { size: pool.size(), idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX) }
    }

    /// Photo decodes running now, and how many may run at once.
    pub fn image_work(&self) -> (usize, usize) {
        let limit = crate::photo_copies::workers();
        (limit.saturating_sub(self.image_work.available_permits()), limit)
    }
}
