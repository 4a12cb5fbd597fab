//! Configuration from the environment (documented in README.md).

use dispatch::S3Settings;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub site_root: PathBuf,
    pub s3: Option<S3Settings>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database_url", &dispatch::db::redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("site_root", &self.site_root)
            .field("s3", &self.s3)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("RD_BIND='{0}' is not an address like 127.0.0.1:3000")]
    Bind(String),
    #[error("RD_S3_ENDPOINT is set, so {0} must be set too")]
    S3Missing(&'static str),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let bind_raw = var("RD_BIND").unwrap_or_else(|| "127.0.0.1:3000".into());
        let bind = bind_raw.parse().map_err(|_| ConfigError::Bind(bind_raw.clone()))?;
        let data_dir = PathBuf::from(var("RD_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url =
            var("DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}/real-dispatch.db?mode=rwc", data_dir.display()));
        let site_root = PathBuf::from(var("RD_SITE_ROOT").unwrap_or_else(|| "target/site".into()));
        let s3 = match var("RD_S3_ENDPOINT") {
            None => None,
            Some(endpoint) => Some(S3Settings {
                endpoint,
                bucket: var("RD_S3_BUCKET").ok_or(ConfigError::S3Missing("RD_S3_BUCKET"))?,
                region: var("RD_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: var("AWS_ACCESS_KEY_ID").ok_or(ConfigError::S3Missing("AWS_ACCESS_KEY_ID"))?,
                secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                    .ok_or(ConfigError::S3Missing("AWS_SECRET_ACCESS_KEY"))?,
            }),
        };
        Ok(Config { bind, database_url, data_dir, site_root, s3 })
    }
}
