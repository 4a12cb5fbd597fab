//! Where backups go and come from (see `dispatch::backup`): a local folder, or a bucket and
//! prefix on the configured S3 server (`s3://bucket/prefix`, with the endpoint and credentials
//! of `RD_S3_*`). A backup bound for S3 is written to a staging folder under the data folder
//! first, then uploaded; a restore from S3 is downloaded there first.

use crate::config::Config;
use crate::BoxError;
use dispatch::backup::{self, Manifest};
use dispatch::{S3BlobStore, S3Settings, Service};
use std::path::PathBuf;

pub enum Place {
    Folder(PathBuf),
    Bucket { store: S3BlobStore, bucket: String, prefix: String },
}

impl Place {
    /// `s3://bucket/prefix` or a folder.
    pub async fn parse(config: &Config, raw: &str) -> Result<Place, BoxError> {
        let Some(rest) = raw.strip_prefix("s3://") else { return Ok(Place::Folder(PathBuf::from(raw))) };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("'{raw}': name a bucket, as in s3://backups/real-dispatch").into());
        }
        let s3 = config
            .s3
            .clone()
            .ok_or("s3:// backups use the server's S3 settings: set RD_S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (RD_S3_BUCKET may name another bucket)")?;
        let store = S3BlobStore::new(&S3Settings { bucket: bucket.to_string(), ..s3 });
        store.ensure_bucket().await?;
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(Place::Bucket { store, bucket: bucket.to_string(), prefix })
    }

    /// Makes a backup here; returns where it went.
    pub async fn backup(&self, service: &Service, config: &Config) -> Result<(String, Manifest), BoxError> {
        match self {
            Place::Folder(dir) => {
                let (dest, manifest) = service.backup_into(dir).await?;
                Ok((dest.display().to_string(), manifest))
            }
            Place::Bucket { store, bucket, prefix } => {
                let staging = Staging::new(config)?;
                let (dest, manifest) = service.backup_into(&staging.0).await?;
                let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let key_prefix = format!("{prefix}{name}/");
                backup::upload(&dest, &manifest, store, &key_prefix).await?;
                Ok((format!("s3://{bucket}/{key_prefix}"), manifest))
            }
        }
    }

    /// Removes all but the newest `keep` backups here; returns what went.
    pub async fn prune(&self, keep: usize) -> Result<Vec<String>, BoxError> {
        Ok(match self {
            Place::Folder(dir) => backup::prune(dir, keep)?.iter().map(|p| p.display().to_string()).collect(),
            Place::Bucket { store, bucket, prefix } => backup::prune_stored(store, prefix, keep)
                .await?
                .into_iter()
                .map(|p| format!("s3://{bucket}/{p}"))
                .collect(),
        })
    }

    /// When the newest backup here was made (unix ms).
    pub async fn newest_at_ms(&self) -> Result<Option<i64>, BoxError> {
        match self {
            Place::Folder(dir) => Ok(backup::newest_at_ms(dir)?),
            Place::Bucket { store, prefix, .. } => {
                use dispatch::BlobStore;
                let Some(newest) = backup::list_stored(store, prefix).await?.pop() else { return Ok(None) };
                let body = store.get(&format!("{newest}{}", backup::MANIFEST)).await?;
                Ok(serde_json::from_slice::<Manifest>(&body).ok().map(|m| m.created_at_ms))
            }
        }
    }

    /// A local folder holding the backup this place names (downloaded for a bucket; the
    /// staging folder goes when the returned guard is dropped).
    pub async fn fetch(&self, config: &Config) -> Result<(PathBuf, Option<Staging>), BoxError> {
        match self {
            Place::Folder(dir) => Ok((backup::locate(dir)?, None)),
            Place::Bucket { store, prefix, .. } => {
                let staging = Staging::new(config)?;
                backup::download(store, prefix, &staging.0).await?;
                Ok((staging.0.clone(), Some(staging)))
            }
        }
    }
}

/// A staging folder under the data folder, removed when dropped.
pub struct Staging(PathBuf);

impl Staging {
    fn new(config: &Config) -> Result<Staging, BoxError> {
        let dir = config.data_dir.join("backup-staging").join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(dir = %self.0.display(), error = %e, "could not remove the backup staging folder");
        }
    }
}
