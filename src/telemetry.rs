//! Logging: `RUST_LOG` filters (default `info`), one span per request carrying its id.
//! `RD_LOG_FORMAT=json` writes one JSON object per line (with the current span and its
//! parents), for log collectors; the default is text for people.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,aws=warn"));
    let json = std::env::var("RD_LOG_FORMAT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("json"));
    // Logs go to stderr so stdout stays machine-readable for CLI output (tokens, counts).
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ =
        if json { builder.json().with_current_span(true).with_span_list(true).try_init() } else { builder.try_init() };
}
