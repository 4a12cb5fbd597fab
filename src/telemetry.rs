//! Logging: `RUST_LOG` filters (default `info`), one span per request carrying its id.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,aws=warn"));
    // Logs go to stderr so stdout stays machine-readable for CLI output (tokens, counts).
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
