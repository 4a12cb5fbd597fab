//! The HTTP server: Leptos pages and server functions, the tool API, health, static files.

use crate::config::Config;
use crate::drain::{Drain, DrainSettings};
use crate::limits::Limits;
pub use crate::state::{AppState, WebSettings, REQUEST_ID};
use crate::tools;
use crate::BoxError;
use axum::extract::State;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dispatch::{BlobStore, Db, LocalBlobStore, S3BlobStore, Service};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Opens the database (migrated), the blob store the configuration names, and the audit key
/// (`RD_AUDIT_KEY`, else the key file, created on first use).
pub async fn open_service(config: &Config) -> Result<Service, BoxError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    service_over(config, db, open_blobs(config).await?)
}

/// The blob store the configuration names: S3 when `RD_S3_ENDPOINT` is set, else
/// `RD_DATA_DIR/blobs`.
pub async fn open_blobs(config: &Config) -> Result<Arc<dyn BlobStore>, BoxError> {
    Ok(match &config.s3 {
        Some(s3) => {
            let store = S3BlobStore::new(s3);
            store.ensure_bucket().await?;
            Arc::new(store)
        }
        None => Arc::new(LocalBlobStore::new(config.data_dir.join("blobs"))?),
    })
}

/// The service over an open database and blob store, with the configuration's settings,
/// audit key and spool folder (`RD_DATA_DIR/spool`).
pub fn service_over(config: &Config, db: Db, blobs: Arc<dyn BlobStore>) -> Result<Service, BoxError> {
    tracing::info!(database = db.backend().as_str(), blobs = blobs.kind(), "storage ready");
    let keys = dispatch::audit_key::KeySource::from_env(&config.data_dir)
        .load_or_create()
        .map_err(|e| format!("audit key: {e}"))?;
    tracing::info!(public_key = %keys.signer().public_hex(), trusted = keys.trusted_hex().len(), "audit key ready");
    Ok(Service::with_settings(db, blobs, dispatch::ShopSettings::from_env()?)
        .with_audit_keys(keys)
        .with_spool_dir(spool_dir(config)))
}

/// Where uploads are received: inside the data folder, which this server owns, so that what a
/// killed process leaves behind is found and swept (the OS temp folder is never swept).
pub fn spool_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("spool")
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("real-dispatch")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .build()
}

pub fn router(service: Service, leptos: LeptosOptions) -> Router {
    router_with(service, leptos, WebSettings::from_env())
}

/// [`router`] with an explicit per-token tool-call rate (calls per minute; burst up to 120).
pub fn router_with_rate(service: Service, leptos: LeptosOptions, per_minute: u32) -> Router {
    router_with(service, leptos, WebSettings { tool_rate_per_minute: per_minute, ..WebSettings::from_env() })
}

/// The whole app with the door's settings given (read once by the caller).
pub fn router_with(service: Service, leptos: LeptosOptions, web: WebSettings) -> Router {
    router_draining(service, leptos, web, Drain::default())
}

/// [`router_with`] that leaves when `drain` starts (see [`crate::drain`]).
pub fn router_draining(service: Service, leptos: LeptosOptions, web: WebSettings, drain: Drain) -> Router {
    let per_minute = web.tool_rate_per_minute;
    let metrics = Arc::new(crate::metrics::Metrics::from_env());
    let service = service.observed(metrics.action_observer());
    let assets = Arc::new(crate::assets::SiteAssets::load(std::path::Path::new(leptos.site_root.as_ref())));
    let state = AppState {
        drain: drain.clone(),
        metrics: metrics.clone(),
        service: service.clone(),
        leptos: leptos.clone(),
        tool_limit: Arc::new(crate::ratelimit::RateLimiter::new(per_minute, per_minute.clamp(1, 120))),
        denial_audit_limit: Arc::new(crate::ratelimit::RateLimiter::new(60, 60)),
        web,
        assets: assets.clone(),
    };
    let routes = generate_route_list(app::App);
    let shell_options = leptos.clone();
    let ctx_service = service.clone();
    let client_files = assets.client().clone();
    let sessions = crate::web::session_layer(&state);
    let identify = axum::middleware::from_fn_with_state(state.clone(), crate::web::identify);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/openapi.json", get(|| async { Json(crate::openapi::cached()) }))
        .route("/portal/link/{token}", get(crate::web::open_link).post(crate::web::confirm_link))
        .nest("/tools/v1", tools::router())
        .route(
            "/app/jobs/{ticket_id}/photos",
            axum::routing::post(crate::files::upload_photo)
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(axum::middleware::from_fn(crate::limits::upload)),
        )
        .route("/files/{attachment_id}/{variant}", get(crate::files::download))
        .route("/packets/{ticket_id}", get(crate::files::packet))
        .route("/console/export", get(crate::export_download::download))
        .route(
            "/app/settings/logo",
            axum::routing::post(crate::shop_logo::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::shop_logo::BODY_LIMIT)),
        )
        .route("/shop/logo", get(crate::shop_logo::image))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                leptos::context::provide_context(ctx_service.clone());
                leptos::context::provide_context(client_files.clone());
            },
            move || app::shell(shell_options.clone()),
        )
        // Every route above is counted by its template (static files and unknown paths are not).
        .route_layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::record))
        // Static files from the site root; anything else renders the app's "not found" page.
        .fallback(static_or_not_found)
        .with_state(state)
        .layer(identify)
        .layer(sessions)
        .layer(axum::middleware::from_fn(run_to_end))
        .layer(axum::middleware::from_fn(crate::web::refuse_cross_site))
        .layer(axum::middleware::from_fn_with_state(web.limits, crate::limits::guard_requests))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(axum::middleware::from_fn_with_state(drain, crate::drain::close_while_draining))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(crate::trace::remember_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    let traced = crate::trace::trace_id(req.headers());
                    let trace_id = traced.unwrap_or("-");
                    let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id, trace_id = %trace_id,
                        "otel.name" = %req.method(), "otel.kind" = "server", "http.route" = tracing::field::Empty,
                        "http.response.status_code" = tracing::field::Empty);
                    if traced.is_some() {
                        crate::trace::continue_trace(&span, req.headers());
                    }
                    span
                })
                .on_response(|res: &Response, latency: Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", res.status().as_u16());
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1e3, "response");
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A static file of the site root; a missing one under `/pkg/` is a bare 404 (a page from an
/// earlier build asking for its files needs no HTML), any other path the app's "not found"
/// page.
async fn static_or_not_found(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    if let Some(res) = state.assets.respond(&req) {
        return res;
    }
    if req.uri().path().starts_with("/pkg/") {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")]).into_response();
    }
    let service = state.service.clone();
    let files = state.assets.client().clone();
    let options = state.leptos.clone();
    let render = leptos_axum::render_app_to_stream_in_order_with_context(
        move || {
            leptos::context::provide_context(service.clone());
            leptos::context::provide_context(files.clone());
        },
        move || app::shell(options.clone()),
    );
    render(req).await
}

/// Runs a request that may change something on a task of its own, so that a client who gives
/// up (or the request timeout) stops waiting for the answer but not the work: the action, the
/// upload and the session write each reach their commit or rollback. Reads (GET, HEAD) stay on
/// the connection's task, so a page nobody waits for any more stops rendering.
async fn run_to_end(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    if matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS) {
        return next.run(request).await;
    }
    // The body is the client's part: once nobody waits for the answer, reading the rest of it
    // fails, so the handler stops there (before any action, which reads its whole body first)
    // and the connection closes instead of draining a body that trickles in.
    let (waiting, abandoned) = tokio::sync::oneshot::channel::<()>();
    let (parts, body) = request.into_parts();
    let request = axum::extract::Request::from_parts(
        parts,
        axum::body::Body::new(UntilAbandoned { body, abandoned, gave_up: false }),
    );
    let answer =
        tokio::spawn(dispatch::execute::runs_to_end(next.run(request)).instrument(tracing::Span::current())).await;
    drop(waiting);
    match answer {
        Ok(response) => response,
        // The panic handler outside answers it, as it would have on this task.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            tracing::error!(error = %e, "request task ended early");
            panic_response(Box::new(()))
        }
    }
}

/// A request body that fails once the request it belongs to is abandoned (the sender of
/// `abandoned` dropped with the waiting request).
struct UntilAbandoned {
    body: axum::body::Body,
    abandoned: tokio::sync::oneshot::Receiver<()>,
    gave_up: bool,
}

impl http_body::Body for UntilAbandoned {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        let this = self.get_mut();
        if !this.gave_up && std::pin::Pin::new(&mut this.abandoned).poll(cx).is_ready() {
            this.gave_up = true;
        }
        if this.gave_up {
            return std::task::Poll::Ready(Some(Err(axum::Error::new("the client gave up before the body was whole"))));
        }
        std::pin::Pin::new(&mut this.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A bug must not cost the caller their connection: answer 500 in the API's error shape.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    let body = serde_json::json!({"error": {"code": "INTERNAL", "request_id": "-", "details": {},
        "message": "internal error; the X-Request-Id header identifies it in the server logs"}});
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

async fn healthz() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Json(serde_json::json!({"status": "ok"})))
}

/// How long readiness waits for a database connection before it calls the instance saturated.
const READY_WAIT: Duration = Duration::from_millis(250);

/// Ready when the database answers, the blob store answers and a database connection is to
/// be had: when none frees within [`READY_WAIT`], callers already queue (and some hear BUSY),
/// so a load balancer should send new ones elsewhere until one frees.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.drain.is_draining() {
        // Leaving: the balancer sends new work elsewhere while what is here finishes.
        let body = serde_json::json!({"status": "draining"});
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
    }
    // Every connection lent out for a moment is ordinary under load (callers take turns);
    // unready is when none frees within a short wait, so balancers do not flap on a busy pool.
    let waited = tokio::time::timeout(READY_WAIT, state.service.db().ping()).await;
    let pool = state.service.db().pool_status();
    let saturated = waited.is_err() && pool.saturated();
    let db = match waited {
        Ok(pinged) => pinged.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no database connection free within {} ms", READY_WAIT.as_millis())),
    };
    let blobs = state.service.blobs().ping().await.map_err(|e| e.to_string());
    let ready = db.is_ok() && blobs.is_ok();
    let describe = |r: &Result<(), String>| match r {
        Ok(()) => serde_json::json!("ok"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            serde_json::json!("unavailable")
        }
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": if saturated { serde_json::json!("saturated") } else { describe(&db) },
        "blob_store": describe(&blobs),
        "pool": pool,
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
    if saturated {
        let retry = axum::http::HeaderValue::from(dispatch::error::DATABASE_BUSY_RETRY_SECS);
        response.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    response
}

pub async fn serve(config: Config) -> Result<(), BoxError> {
    let service = open_service(&config).await?;
    let web = WebSettings::from_env();
    let drain = Drain::default();
    let leaving = DrainSettings::from_env();
    let app = router_draining(service.clone(), leptos_options(&config), web, drain.clone());
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    tracing::info!(limits = ?web.limits, "serving on http://{}", config.bind);
    sweep_spool_at_start(&service).await;
    spawn_housekeeping(service.clone());
    spawn_audit_checkpoints(service.clone());
    let signal = async move {
        shutdown_signal().await;
        drain.start();
        tracing::info!(notice = ?leaving.notice, "draining: not ready, still serving");
        tokio::time::sleep(leaving.notice).await;
        tracing::info!(deadline = ?leaving.deadline, "no longer accepting; finishing requests in flight");
    };
    serve_on_with(listener, app, web.limits).until(signal, leaving.deadline).await?;
    service.db().close().await;
    Ok(())
}

/// What [`serve_on`] returns: a server to await, alone or [`Serving::with_graceful_shutdown`].
#[must_use = "a server does nothing until awaited"]
pub struct Serving {
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
}

/// Serves `app` on `listener` under the limits the environment sets (see [`Limits`]).
pub fn serve_on(listener: tokio::net::TcpListener, app: Router) -> Serving {
    serve_on_with(listener, app, Limits::from_env())
}

/// Serves `app` on `listener` over HTTP/1.1, each request with its peer address (for
/// throttling) and each connection with `TCP_NODELAY`: pages stream in several writes, and
/// without it the kernel holds the last one back for the client's delayed acknowledgement
/// (40 ms on every page). `limits` bounds the connections served at once and the time a
/// client has to send its headers; the router built with the same limits bounds the rest.
pub fn serve_on_with(listener: tokio::net::TcpListener, app: Router, limits: Limits) -> Serving {
    Serving { listener, app, limits }
}

impl Serving {
    /// Serves until `signal` completes, then stops accepting, lets each connection finish the
    /// request it is on, and returns once all are closed.
    pub async fn with_graceful_shutdown(self, signal: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        self.run(signal, None).await
    }

    /// [`Serving::with_graceful_shutdown`] that waits at most `deadline` for requests in
    /// flight once `signal` completes; those still running then are cut.
    pub async fn until(self, signal: impl std::future::Future<Output = ()>, deadline: Duration) -> std::io::Result<()> {
        self.run(signal, Some(deadline)).await
    }

    async fn run(
        self,
        signal: impl std::future::Future<Output = ()>,
        deadline: Option<Duration>,
    ) -> std::io::Result<()> {
        let Serving { listener, app, limits } = self;
        // A cap of none would serve nothing; one is the least that still serves.
        let cap = limits.max_connections.max(1);
        let slots = Arc::new(tokio::sync::Semaphore::new(cap));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut signal = std::pin::pin!(signal);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
        loop {
            // A connection is accepted only with a free slot; until then new ones wait in the
            // listen queue, and the header timeout frees the slots of those that stall.
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => slot,
                () = &mut signal => break,
            };
            let Ok(slot) = slot else { break };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        accept_failed(e).await;
                        continue;
                    }
                },
                () = &mut signal => break,
            };
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "could not set TCP_NODELAY");
            }
            let (app, http) = (app.clone(), http.clone());
            let mut stopping = stopping.clone();
            let span = tracing::debug_span!("connection", %peer);
            let connection = async move {
                let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    // A router is always ready: it can be called without polling readiness.
                    tower::Service::call(&mut app.clone(), request)
                });
                let connection = http.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                let mut connection = std::pin::pin!(connection);
                let served = tokio::select! {
                    served = connection.as_mut() => served,
                    () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(e) = served {
                    // Clients that stall, hang up or send garbage end here; none is the server's fault.
                    tracing::debug!(error = %e, "connection ended");
                }
                drop(slot);
            };
            tokio::spawn(tracing::Instrument::instrument(connection, span));
        }
        drop(listener);
        let _ = stop.send(true);
        // Every open connection holds a slot: when all are back, all connections are done.
        let all = u32::try_from(cap).unwrap_or(u32::MAX);
        match deadline {
            None => drop(slots.acquire_many(all).await),
            Some(deadline) => {
                if tokio::time::timeout(deadline, slots.acquire_many(all)).await.is_err() {
                    let open = cap.saturating_sub(slots.available_permits());
                    tracing::warn!(open, ?deadline, "requests still in flight at the shutdown deadline are cut");
                }
            }
        }
        Ok(())
    }
}

impl std::future::IntoFuture for Serving {
    type Output = std::io::Result<()>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run(std::future::pending(), None))
    }
}

/// After a failed accept: a connection that died in the queue is no reason to wait, but
/// running out of file descriptors is, or the loop would spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A process killed mid-upload left its spool file behind: such files go at start-up, once
/// older than the sweep's grace period (another instance sharing the folder may be receiving).
pub async fn sweep_spool_at_start(service: &Service) {
    match service.sweep_spool(dispatch::ids::now_ms(), dispatch::sweep::DEFAULT_GRACE_MS).await {
        Ok(r) if r.removed > 0 => tracing::info!(removed = r.removed, kept = r.kept, "orphan spool files removed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not sweep the spool folder"),
    }
}

/// Hourly housekeeping: deletes expired sessions (they are already refused; this keeps the
/// table small) and sweeps orphan blobs. Safe with several instances: both only delete what
/// nothing refers to.
fn spawn_housekeeping(service: Service) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match service.delete_expired_sessions().await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
            let swept = service
                .sweep_blobs(
                    dispatch::ids::now_ms(),
                    dispatch::sweep::DEFAULT_GRACE_MS,
                    dispatch::sweep::DEFAULT_UPLOAD_TTL_MS,
                )
                .await;
            match swept {
                Ok(r) if r.orphans_removed + r.uploads_expired + r.spool_removed > 0 => {
                    tracing::info!(
                        removed = r.orphans_removed,
                        expired = r.uploads_expired,
                        spool_removed = r.spool_removed,
                        "blob sweep"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "blob sweep failed"),
            }
        }
    });
}

/// How often the head of the audit chain is signed when it moved: a rewrite by someone with
/// database access can only hide among events younger than this.
pub const AUDIT_CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// Signs the audit chain's head every [`AUDIT_CHECKPOINT_EVERY`] when new events were written.
/// The worker does the same; whichever comes first signs, the other finds nothing new.
fn spawn_audit_checkpoints(service: Service) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(AUDIT_CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = service.checkpoint_audit(dispatch::ids::now_ms()).await {
                tracing::error!(error = %e, "audit checkpoint failed; trying again in a minute");
            }
        }
    });
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}
