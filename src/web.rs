//! The browser door's protections: sessions, who is asking, which pages each role may open,
//! cross-site request refusal, security headers, and the portal-link landing.
//!
//! The tool API (`/tools/v1`) authenticates with bearer tokens and sends no cookies, so it is
//! outside all of this.

use crate::state::{AppState, REQUEST_ID};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dispatch::sessions::DbSessionStore;
use dispatch::users::{ClientAddr, CurrentActor, SessionAuth, SESSION_MAX_AGE_MS};
use domain::{Action, Role};
use std::net::SocketAddr;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// A session ends after this long without a request (and after a day in any case).
pub const IDLE_HOURS: i64 = 8;
pub const SESSION_COOKIE: &str = "rd_session";

/// Cookies are marked Secure when the public address is https (`RD_PUBLIC_URL`).
pub fn session_layer(state: &AppState) -> SessionManagerLayer<DbSessionStore> {
    let secure = state.web.secure_cookies;
    SessionManagerLayer::new(DbSessionStore::new(state.service.db().clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(CookieDuration::hours(IDLE_HOURS)))
}

/// Paths that never carry a browser session: the tool API, health, and the static files.
fn sessionless(state: &AppState, path: &str) -> bool {
    path.starts_with("/tools/")
        || path.starts_with("/pkg/")
        || matches!(path, "/healthz" | "/readyz" | "/openapi.json")
        || state.assets.contains(path)
}

/// The client address: the socket peer, or the first `X-Forwarded-For` hop when
/// `RD_TRUST_PROXY=1` says a reverse proxy sets it.
fn client_addr(req: &Request, trust_proxy: bool) -> String {
    if trust_proxy {
        if let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return first.to_string();
        }
    }
    req.extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Resolves the session to an actor (dropping sessions that are no longer good) and puts it,
/// with the client address, in the request for pages and server functions.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if sessionless(&state, path) {
        return next.run(req).await;
    }
    let addr = client_addr(&req, state.web.trust_proxy);
    let mut actor = None;
    if let Some(session) = req.extensions().get::<Session>().cloned() {
        match session.get::<SessionAuth>(SessionAuth::KEY).await {
            Ok(Some(auth)) => match state.service.session_actor(&auth, SESSION_MAX_AGE_MS).await {
                Ok(Some(a)) => actor = Some(a),
                Ok(None) => {
                    tracing::info!("session no longer valid; signed out");
                    let _ = session.flush().await;
                }
                Err(e) => tracing::error!(error = %e, "could not resolve the session"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable session"),
        }
    }
    req.extensions_mut().insert(CurrentActor(actor));
    req.extensions_mut().insert(ClientAddr(addr));
    // Pages are written with the shop's profile (its zone, its name): bring this instance's
    // copy up to date first (a read at most once a second).
    state.service.shop().await;
    guard(&state, req, next).await
}

/// The read of the action table a page shows, by path (its roles may open it); None means
/// anyone.
pub fn page_action(path: &str) -> Option<Action> {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/account") {
        Some(Action::OwnAccount)
    } else if under("/console/export") {
        Some(Action::DataExport)
    } else if under("/console/accounts") {
        Some(Action::AccountsRead)
    } else if under("/console/settings") {
        Some(Action::ShopSettingsRead)
    } else if under("/console") {
        Some(Action::BoardRead)
    } else if under("/tech") {
        Some(Action::JobsRead)
    } else if under("/portal/link") {
        None
    } else if under("/portal") {
        Some(Action::PortalRead)
    } else {
        None
    }
}

/// Pages of the wrong role answer 403; without a session, the login page (then back here).
async fn guard(state: &AppState, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let Some(page) = page_action(&path) else { return next.run(req).await };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    let actor = req.extensions().get::<CurrentActor>().and_then(|a| a.0.clone());
    match actor {
        None => {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            Redirect::to(&format!("/login?next={}", encode_component(target))).into_response()
        }
        Some(a) if page.allowed_for(a.role) => next.run(req).await,
        Some(a) => {
            let rid = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_string);
            let who = dispatch::audit::Who {
                kind: a.kind.as_str(),
                id: &a.id,
                role: a.role.as_str(),
                channel: "web",
                correlation_id: None,
                request_id: rid.as_deref(),
            };
            let detail = serde_json::json!({"page": path, "reason": "role_not_allowed"});
            if let Err(e) = state.service.record_denial(&who, detail).await {
                tracing::error!(error = %e, "could not audit a page denial");
            }
            tracing::warn!(actor = %a.id, role = %a.role, path, "page denied");
            (
                StatusCode::FORBIDDEN,
                Html(simple_page(state, "Not allowed", "Your account cannot open this page.", &a.role)),
            )
                .into_response()
        }
    }
}

fn simple_page(state: &AppState, title: &str, message: &str, role: &Role) -> String {
    let home = app::api::ssr::home_of(*role);
    let css = &state.assets.client().css;
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title} · Real Dispatch</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main class=\"narrow\">\
         <h1>{title}</h1><p>{message}</p><p><a href=\"{home}\">Go to your start page</a></p></main></body></html>"
    )
}

fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Refuses state-changing browser requests that another site could have made: the browser
/// must say the request is same-origin (`Sec-Fetch-Site`), or, for browsers that do not send
/// that, the `Origin` must be this host. Without either, the request is refused.
pub async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || req.uri().path().starts_with("/tools/")
    {
        return next.run(req).await;
    }
    if same_origin(req.headers()) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "cross-site or unmarked state-changing request refused");
    let body = serde_json::json!({"error": {"code": "CSRF_REFUSED",
        "message": "state-changing requests must come from this site's own pages"}});
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

pub fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match get("sec-fetch-site") {
        Some(site) => site == "same-origin",
        None => match (get("origin"), get("host")) {
            (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, rest)| rest == host),
            _ => false,
        },
    }
}

/// Security headers on every response; HTML pages get a Content-Security-Policy whose nonce
/// the page's hydration script carries.
pub async fn security_headers(mut req: Request, next: Next) -> Response {
    let nonce = {
        use rand_core::RngCore;
        let mut b = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut b);
        hex::encode(b)
    };
    req.extensions_mut().insert(app::CspNonce(nonce.clone()));
    // The service worker's own policy is the one its script is served with: it fetches pages
    // and files of this site, so it needs `connect-src 'self'` where other files get none.
    let worker = req.uri().path() == "/sw.js";
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let is_html = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let csp = if is_html {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        )
    } else if worker {
        "default-src 'self'; frame-ancestors 'none'".to_string()
    } else {
        "default-src 'none'; frame-ancestors 'none'".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Portal links carry a secret in the path: no page sends its address anywhere.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if is_html {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// `GET /portal/link/{token}`: opens a customer's link, starts a session scoped to that
/// ticket (a new session id), and moves the secret out of the address bar.
///
/// A browser signed in to an account is never switched by following a link (another site
/// could send an operator to a link of its own ticket, and the operator's next words would go
/// to that ticket): it is asked first, and only this site's own form opens the link.
pub async fn open_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let signed_in = session.get::<SessionAuth>(SessionAuth::KEY).await.ok().flatten().and_then(|a| a.user_id);
    if signed_in.is_some() {
        return confirm_link_page(&state, &token);
    }
    start_link_session(state, token, session, headers).await
}

/// `POST /portal/link/{token}`: the confirmation of [`open_link`]'s question, from this
/// site's own page (cross-site posts are refused before they get here).
pub async fn confirm_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    start_link_session(state, token, session, headers).await
}

fn confirm_link_page(state: &AppState, token: &str) -> Response {
    let action = format!("/portal/link/{}", encode_component(token));
    let css = &state.assets.client().css;
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>Open a customer's link? · Real Dispatch</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main class=\"narrow\">\
         <h1>Open a customer's link?</h1><p>You are signed in to Real Dispatch. This link opens one \
         customer's ticket as that customer sees it, and signs you out here.</p>\
         <form method=\"post\" action=\"{action}\"><button type=\"submit\" class=\"primary\">\
         Sign out and open the customer's view</button></form>\
         <p><a href=\"/\">Stay signed in</a></p></main></body></html>"
    );
    let mut res = (StatusCode::OK, Html(page)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn start_link_session(state: AppState, token: String, session: Session, headers: HeaderMap) -> Response {
    let rid = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_string);
    match state.service.open_portal_link(&token, rid.as_deref()).await {
        Ok(grant) => {
            let auth =
                SessionAuth { user_id: None, epoch: 0, link_id: Some(grant.link_id), auth_ms: dispatch::ids::now_ms() };
            let stored = async {
                session.cycle_id().await?;
                session.insert(SessionAuth::KEY, auth).await
            };
            if let Err(e) = stored.await {
                tracing::error!(error = %e, "could not start a portal session");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            Redirect::to(&format!("/portal/tickets/{}", grant.ticket_id)).into_response()
        }
        Err(e) => {
            tracing::info!(code = e.code().as_str(), "portal link refused");
            let page = simple_page(&state, "Link not valid", &e.public_message(), &Role::Customer)
                .replace("<p><a href=\"/portal\">Go to your start page</a></p>", "");
            (StatusCode::GONE, Html(page)).into_response()
        }
    }
}
