//! What every request handler shares: the service, the page options, the door's limits and
//! settings (read once at start-up).

use crate::limits::Limits;
use axum::extract::FromRef;
use axum::http::HeaderName;
use dispatch::Service;
use leptos::config::LeptosOptions;
use std::sync::Arc;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub leptos: LeptosOptions,
    /// Tool calls per token.
    pub tool_limit: Arc<crate::ratelimit::RateLimiter>,
    /// Audit writes for refused calls without a valid token (so a flood cannot fill the trail).
    pub denial_audit_limit: Arc<crate::ratelimit::RateLimiter>,
    pub web: WebSettings,
    /// Set when the instance starts leaving (readiness then answers 503).
    pub drain: crate::drain::Drain,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The site root's static files, read at start-up.
    pub assets: Arc<crate::assets::SiteAssets>,
}

/// The HTTP door's settings, read from the environment once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSettings {
    /// `RD_TRUST_PROXY=1`: the client address is the first `X-Forwarded-For` hop.
    pub trust_proxy: bool,
    /// `RD_PUBLIC_URL` is https: session cookies are marked Secure.
    pub secure_cookies: bool,
    /// `RD_TOOL_RATE_PER_MINUTE`: tool calls per token per minute (burst up to 120).
    pub tool_rate_per_minute: u32,
    /// Timeouts and the connection cap (`RD_HEADER_TIMEOUT_SECS`, …; see [`Limits`]).
    pub limits: Limits,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings { trust_proxy: false, secure_cookies: false, tool_rate_per_minute: 600, limits: Limits::default() }
    }
}

impl WebSettings {
    pub fn from_env() -> WebSettings {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        WebSettings {
            trust_proxy: var("RD_TRUST_PROXY").is_some_and(|v| v == "1"),
            secure_cookies: var("RD_PUBLIC_URL").is_some_and(|u| u.starts_with("https://")),
            tool_rate_per_minute: var("RD_TOOL_RATE_PER_MINUTE").and_then(|v| v.parse().ok()).unwrap_or(600),
            limits: Limits::from_env(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}
