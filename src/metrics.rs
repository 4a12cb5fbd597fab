//! Prometheus metrics at `/metrics`: requests by route and status with their latency, and,
//! read at each scrape, the database pool, image work, the outboxes and the age of the last
//! signed audit checkpoint. Only a scraper with `RD_METRICS_TOKEN` as its bearer token may
//! read them; without a token set, only this machine (a loopback peer) may.

use crate::state::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route's template (`/tools/v1/{tool}`), so ids do not make a series each.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
    role: String,
    /// `ok`, or the error code (`FORBIDDEN`, `CONFLICT`, …).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    outbox: String,
}

/// Everything `/metrics` shows, registered once per server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    actions: Family<ActionLabels, Counter>,
    pool_size: Gauge,
    pool_idle: Gauge,
    image_work: Gauge,
    image_work_limit: Gauge,
    outbox_pending: Family<OutboxLabels, Gauge>,
    outbox_dead: Family<OutboxLabels, Gauge>,
    outbox_oldest_age: Family<OutboxLabels, Gauge>,
    checkpoint_age: Gauge,
    token: Option<String>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    pub fn new(token: Option<String>) -> Metrics {
        let mut registry = Registry::with_prefix("rd");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route, method and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("http_request_duration_seconds", "Time to answer, by route", latency.clone());
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register("actions", "Actions the doors ran, by action, role and outcome", actions.clone());
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let pool_size = gauge(&mut registry, "db_pool_connections", "Database connections open");
        let pool_idle = gauge(&mut registry, "db_pool_idle_connections", "Database connections open and idle");
        let image_work = gauge(&mut registry, "image_work_running", "Photo decodes running");
        let image_work_limit = gauge(&mut registry, "image_work_limit", "Photo decodes that may run at once");
        let outbox_pending = Family::<OutboxLabels, Gauge>::default();
        registry.register("outbox_pending", "Items waiting to be delivered", outbox_pending.clone());
        let outbox_dead = Family::<OutboxLabels, Gauge>::default();
        registry.register("outbox_dead", "Items given up on (shown to the office)", outbox_dead.clone());
        let outbox_oldest_age = Family::<OutboxLabels, Gauge>::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "How long the oldest pending item has been due (0 when none is)",
            outbox_oldest_age.clone(),
        );
        let checkpoint_age = gauge(
            &mut registry,
            "audit_checkpoint_age_seconds",
            "Seconds since the last signed audit checkpoint (-1 before the first)",
        );
        Metrics {
            registry,
            requests,
            latency,
            actions,
            pool_size,
            pool_idle,
            image_work,
            image_work_limit,
            outbox_pending,
            outbox_dead,
            outbox_oldest_age,
            checkpoint_age,
            token,
        }
    }

    pub fn from_env() -> Metrics {
        Metrics::new(std::env::var("RD_METRICS_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
    }

    /// What the service calls after each action (see `Service::observed`).
    pub fn action_observer(self: &Arc<Self>) -> dispatch::service::ActionObserver {
        let metrics = Arc::clone(self);
        Arc::new(move |action: &str, role: domain::Role, outcome: &str| {
            let labels = ActionLabels {
                action: action.to_string(),
                role: role.as_str().to_string(),
                outcome: outcome.to_string(),
            };
            metrics.actions.get_or_create(&labels).inc();
        })
    }

    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { route: route.to_string(), method: method.to_string(), status };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_string() }).observe(seconds);
    }

    /// Whether this scraper may read the metrics.
    fn admits(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
        match &self.token {
            Some(token) => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes())),
            None => peer.is_some_and(|p| p.ip().is_loopback()),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts every request by its route's template and times it.
pub async fn record(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let method = req.method().as_str().to_string();
    // The request's span carries its route for trace viewers, as the metrics do (its name, the
    // method, is fixed before routing).
    if let Some(span) = req.extensions().get::<crate::trace::RequestSpan>() {
        span.0.record("http.route", route.as_str());
    }
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.observe(&route, &method, res.status().as_u16(), started.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn scrape(State(state): State<AppState>, req: Request) -> Response {
    let metrics = &state.metrics;
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if !metrics.admits(req.headers(), peer) {
        return (StatusCode::FORBIDDEN, "metrics are for this machine, or a scraper with RD_METRICS_TOKEN\n")
            .into_response();
    }
    let service = &state.service;
    let pool = service.pool_use();
    metrics.pool_size.set(i64::from(pool.size));
    metrics.pool_idle.set(i64::from(pool.idle));
    let (running, limit) = service.image_work();
    metrics.image_work.set(i64::try_from(running).unwrap_or(i64::MAX));
    metrics.image_work_limit.set(i64::try_from(limit).unwrap_or(i64::MAX));
    let now = dispatch::ids::now_ms();
    let age = |since: Option<i64>| since.map_or(0, |ms| (now - ms).max(0) / 1000);
    match service.backlog().await {
        Ok(b) => {
            for (name, outbox) in [("customer_updates", b.customer_updates), ("followups", b.followups)] {
                let labels = OutboxLabels { outbox: name.to_string() };
                metrics.outbox_pending.get_or_create(&labels).set(outbox.pending);
                metrics.outbox_dead.get_or_create(&labels).set(outbox.dead);
                metrics.outbox_oldest_age.get_or_create(&labels).set(age(outbox.oldest_due_ms));
            }
            metrics.checkpoint_age.set(b.last_checkpoint_ms.map_or(-1, |ms| age(Some(ms))));
        }
        Err(e) => tracing::warn!(error = %e, "metrics could not read the backlog"),
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &metrics.registry) {
        tracing::error!(error = %e, "metrics could not be written");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapers_are_admitted_by_token_or_from_this_machine() {
        let local: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let remote: SocketAddr = "192.0.2.7:9".parse().expect("addr");
        let open = Metrics::new(None);
        assert!(open.admits(&HeaderMap::new(), Some(local)));
        assert!(!open.admits(&HeaderMap::new(), Some(remote)));
        assert!(!open.admits(&HeaderMap::new(), None));
        let guarded = Metrics::new(Some("s3cret-token".into()));
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, "Bearer s3cret-token".parse().expect("header"));
        assert!(guarded.admits(&bearer, Some(remote)));
        assert!(!guarded.admits(&HeaderMap::new(), Some(local)), "with a token, the token is needed");
        let mut wrong = HeaderMap::new();
        wrong.insert(header::AUTHORIZATION, "Bearer s3cret-tokeN".parse().expect("header"));
        assert!(!guarded.admits(&wrong, Some(remote)));
    }
}
