//! Scheduled backups in the worker: with `RD_BACKUP_DIR` set (a folder, or `s3://bucket/prefix`
//! on the configured S3 server), a backup (see `dispatch::backup`) is made there whenever the
//! newest one is older than
//! `RD_BACKUP_EVERY_HOURS` (default 24), and only the newest `RD_BACKUP_KEEP` (default 7) are
//! kept. The age is read from the backups themselves, so restarts neither skip nor repeat one.

use crate::backups::Place;
use crate::config::Config;
use crate::BoxError;
use dispatch::Service;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// A folder or `s3://bucket/prefix`.
    pub target: String,
    pub every: Duration,
    pub keep: usize,
}

/// How often the worker looks whether a backup is due.
const LOOK_EVERY: Duration = Duration::from_secs(300);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn whole(name: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(format!("{name}='{v}': a whole number from {} to {}", range.start(), range.end())),
        },
    }
}

impl BackupSchedule {
    /// From the environment; None when `RD_BACKUP_DIR` is not set.
    pub fn from_env() -> Result<Option<BackupSchedule>, String> {
        let Some(dir) = var("RD_BACKUP_DIR") else { return Ok(None) };
        let hours = whole("RD_BACKUP_EVERY_HOURS", 24, 1..=24 * 365)?;
        let keep = whole("RD_BACKUP_KEEP", 7, 1..=10_000)?;
        Ok(Some(BackupSchedule {
            target: dir,
            every: Duration::from_secs(hours * 3600),
            keep: usize::try_from(keep).unwrap_or(usize::MAX),
        }))
    }

    /// Makes a backup if the newest one there is older than the period (or there is none),
    /// then removes the oldest beyond `keep`. Returns where the new backup went.
    #[tracing::instrument(name = "backup.scheduled", skip_all, fields(target = %self.target))]
    pub async fn run_if_due(
        &self,
        service: &Service,
        config: &Config,
        now_ms: i64,
    ) -> Result<Option<String>, BoxError> {
        let place = Place::parse(config, &self.target).await?;
        let every_ms = i64::try_from(self.every.as_millis()).unwrap_or(i64::MAX);
        if place.newest_at_ms().await?.is_some_and(|at| now_ms - at < every_ms) {
            return Ok(None);
        }
        let (dest, manifest) = place.backup(service, config).await?;
        tracing::info!(backup = %dest, bytes = manifest.bytes(), audit_seq = manifest.audit_head.seq, "scheduled backup written");
        for old in place.prune(self.keep).await? {
            tracing::info!(backup = %old, "old backup removed");
        }
        Ok(Some(dest))
    }

    /// Looks every few minutes whether a backup is due, beside the worker's passes (a backup
    /// of a large shop takes minutes; timers must not wait for it).
    pub fn spawn(self, service: Service, config: Config) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LOOK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_if_due(&service, &config, dispatch::ids::now_ms()).await {
                    tracing::error!(error = %e, "scheduled backup failed; trying again in a few minutes");
                }
            }
        })
    }
}
