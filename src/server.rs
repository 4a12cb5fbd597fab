//! The HTTP server: Leptos pages and server functions, the tool API, health, static files.

use crate::config::Config;
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
    let blobs: Arc<dyn BlobStore> = match &config.s3 {
        Some(s3) => {
            let store = S3BlobStore::new(s3);
            store.ensure_bucket().await?;
            Arc::new(store)
        }
        None => Arc::new(LocalBlobStore::new(config.data_dir.join("blobs"))?),
    };
    tracing::info!(database = db.backend().as_str(), blobs = blobs.kind(), "storage ready");
    let keys = dispatch::audit_key::KeySource::from_env(&config.data_dir)
        .load_or_create()
        .map_err(|e| format!("audit key: {e}"))?;
    tracing::info!(public_key = %keys.signer().public_hex(), trusted = keys.trusted_hex().len(), "audit key ready");
    Ok(Service::with_settings(db, blobs, dispatch::ShopSettings::from_env()?).with_audit_keys(keys))
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
    let per_minute = web.tool_rate_per_minute;
    let state = AppState {
        service: service.clone(),
        leptos: leptos.clone(),
        tool_limit: Arc::new(crate::ratelimit::RateLimiter::new(per_minute, per_minute.clamp(1, 120))),
        denial_audit_limit: Arc::new(crate::ratelimit::RateLimiter::new(60, 60)),
        web,
    };
    let routes = generate_route_list(app::App);
    let shell_options = leptos.clone();
    let ctx_service = service.clone();
    let sessions = crate::web::session_layer(&state);
    let identify = axum::middleware::from_fn_with_state(state.clone(), crate::web::identify);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(|| async { Json(crate::openapi::cached()) }))
        .route("/portal/link/{token}", get(crate::web::open_link))
        .nest("/tools/v1", tools::router())
        .route(
            "/app/jobs/{ticket_id}/photos",
            axum::routing::post(crate::files::upload_photo).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/files/{attachment_id}/{variant}", get(crate::files::download))
        .route("/packets/{ticket_id}", get(crate::files::packet))
        .leptos_routes_with_context(
            &state,
            routes,
            move || leptos::context::provide_context(ctx_service.clone()),
            move || app::shell(shell_options.clone()),
        )
        // Static files from the site root; anything else renders the app's "not found" page.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .with_state(state)
        .layer(identify)
        .layer(sessions)
        .layer(axum::middleware::from_fn(crate::web::refuse_cross_site))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
                })
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1e3, "response");
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
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

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.service.db().ping().await.map_err(|e| e.to_string());
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
        "database": describe(&db),
        "blob_store": describe(&blobs),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body))
}

pub async fn serve(config: Config) -> Result<(), BoxError> {
    let service = open_service(&config).await?;
    let app = router(service.clone(), leptos_options(&config));
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    tracing::info!("serving on http://{}", config.bind);
    spawn_housekeeping(service.clone());
    spawn_audit_checkpoints(service.clone());
    serve_on(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    service.db().close().await;
    Ok(())
}

/// What [`serve_on`] returns: axum's server over a listener that sets `TCP_NODELAY`, giving
/// each request its peer address.
pub type Serving = axum::serve::Serve<
    axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>,
    axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr>,
    axum::middleware::AddExtension<Router, axum::extract::ConnectInfo<std::net::SocketAddr>>,
>;

/// Serves `app` on `listener` with each connection's peer address (for throttling) and
/// `TCP_NODELAY`: pages stream in several writes, and without it the kernel holds the last
/// one back for the client's delayed acknowledgement (40 ms on every page).
pub fn serve_on(listener: tokio::net::TcpListener, app: Router) -> Serving {
    use axum::serve::ListenerExt;
    fn nodelay(tcp: &mut tokio::net::TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    }
    let listener = listener.tap_io(nodelay as fn(&mut tokio::net::TcpStream));
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
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
                Ok(r) if r.orphans_removed + r.uploads_expired > 0 => {
                    tracing::info!(removed = r.orphans_removed, expired = r.uploads_expired, "blob sweep")
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
