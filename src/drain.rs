//! Rolling restarts. On SIGTERM an instance first tells its balancer it is leaving — `/readyz`
//! answers 503 `draining` and every answer carries `Connection: close`, so clients reconnect
//! elsewhere — while it still serves everything sent to it, for [`DrainSettings::notice`].
//! Then it stops accepting, lets each request in flight finish (uploads included) within
//! [`DrainSettings::deadline`], and exits. Behind a balancer that checks readiness, a restart
//! of one instance of several fails no call.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether this instance is leaving; shared by the server loop and the handlers.
#[derive(Debug, Clone, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How an instance leaves, read once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainSettings {
    /// `RD_DRAIN_NOTICE_SECS` (0): how long the instance keeps serving, unready, before it
    /// stops accepting. Behind a balancer, set it above the balancer's readiness interval
    /// (e.g. 5); alone, there is nobody to tell, so it stops at once.
    pub notice: Duration,
    /// `RD_SHUTDOWN_TIMEOUT_SECS` (30): the longest requests in flight are waited for.
    pub deadline: Duration,
}

impl Default for DrainSettings {
    fn default() -> Self {
        DrainSettings { notice: Duration::ZERO, deadline: Duration::from_secs(30) }
    }
}

impl DrainSettings {
    pub fn from_env() -> DrainSettings {
        let d = DrainSettings::default();
        let secs = |name: &str, default: Duration| match std::env::var(name) {
            Ok(raw) => raw.trim().parse::<u64>().map(Duration::from_secs).unwrap_or_else(|_| {
                tracing::warn!(variable = name, value = %raw, "not a whole number of seconds; using the default");
                default
            }),
            Err(_) => default,
        };
        DrainSettings {
            notice: secs("RD_DRAIN_NOTICE_SECS", d.notice),
            deadline: secs("RD_SHUTDOWN_TIMEOUT_SECS", d.deadline),
        }
    }
}

/// While draining, every answer asks its client to close the connection, so its next
/// request opens a new one (which the balancer sends to another instance).
pub async fn close_while_draining(State(drain): State<Drain>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if drain.is_draining() {
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}
