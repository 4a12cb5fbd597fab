//! The closed tool API for OpenClaw agents (design §3): `POST /tools/v1/{tool}` and case reads.
//! A thin door: it authenticates, parses and maps errors; the service decides everything.

use crate::api_error::{header, request_id, ApiError};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dispatch::tokens::TokenHolder;
use dispatch::CallContext;
use domain::{Action, Actor, ErrorCode, SourceChannel};
use serde_json::{json, Value};

/// The JSON Schema of an action's input, inline (self-contained) for `GET /tools/v1` and the
/// plugin's tool list.
pub fn input_schema(action: Action) -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    action.input_schema_in(&mut generator).and_then(|s| serde_json::to_value(s).ok()).unwrap_or(Value::Null)
}

/// Largest tool request body: a 10 MiB photo in base64 plus its JSON.
pub const MAX_TOOL_BODY: usize = 14 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list_tools))
        // The spool enforces the configured limit (RD_MAX_UPLOAD_MIB) as the bytes arrive.
        .route(
            "/uploads",
            post(upload)
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(axum::middleware::from_fn(crate::limits::upload)),
        )
        .route("/{tool}", post(call_tool))
        .route("/cases/{ticket_id}", get(read_case))
        .route("/cases/{ticket_id}/summary", get(read_summary))
        .route("/conversations/{conversation}", get(read_conversation))
        .route("/updates/{update_id}", get(read_update))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_TOOL_BODY))
}

/// `POST /tools/v1/uploads`: the file as the raw body (`?filename=` names it) or as the
/// multipart field `file`, hashed and checked while it streams to the blob store; memory
/// stays flat whatever the size. Returns the upload
/// id for `closeout.add_photo`. An `Idempotency-Key` makes a retry return the first upload.
async fn upload(State(state): State<AppState>, headers: HeaderMap, request: axum::extract::Request) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let holder = authenticate(&state, &headers, &rid).await?;
        let budget = holder.calls_per_minute;
        let ctx = call_context(holder.actor, &headers, &rid)?;
        // Refused before a byte of the file is read.
        state
            .service
            .permit(&ctx, Action::CloseoutAddPhoto)
            .map_err(|e| ApiError::from_service(&rid, &e).by(&ctx.actor))?;
        check_rate(&state, &ctx.actor, budget, &rid)?;
        let (file, filename) =
            crate::files::receive_upload(request, &state.service).await.map_err(|e| e.into_api(&rid))?;
        let upload = state
            .service
            .store_upload(&ctx, &file, filename.as_deref(), header(&headers, "idempotency-key"))
            .await
            .map_err(|e| ApiError::from_service(&rid, &e).by(&ctx.actor))?;
        let mut body = json!(upload);
        body["request_id"] = json!(rid);
        Ok(body)
    }
    .await;
    respond(&state, result, "uploads", &headers).await
}

/// `GET /tools/v1`: the tools the caller's role may use.
async fn list_tools(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let actor = match authenticate(&state, &headers, &rid).await {
        Ok(a) => a.actor,
        Err(e) => return e.into_response(),
    };
    let tools: Vec<Value> = Action::CHANGES
        .iter()
        .filter(|a| a.is_tool_for(actor.role))
        .map(|a| json!({"name": a.name(), "description": a.description(), "input_schema": input_schema(*a)}))
        .collect();
    Json(json!({"request_id": rid, "role": actor.role, "tools": tools})).into_response()
}

async fn read_summary(State(state): State<AppState>, Path(ticket_id): Path<String>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let ctx = reader(&state, &headers, &rid).await?;
        state.service.case_summary(&ctx, &ticket_id).await.map_err(|e| ApiError::from_service(&rid, &e))
    }
    .await;
    match result {
        Ok(summary) => Json(json!({"request_id": rid, "summary": summary})).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /tools/v1/conversations/{key}`: the ticket a channel conversation is bound to.
async fn read_conversation(
    State(state): State<AppState>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let ctx = reader(&state, &headers, &rid).await?;
        state.service.conversation_ticket(&ctx, &conversation).await.map_err(|e| ApiError::from_service(&rid, &e))
    }
    .await;
    match result {
        Ok(mut body) => {
            body["request_id"] = json!(rid);
            Json(body).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /tools/v1/updates/{id}`: a customer update as it goes out (the gateway reads the exact
/// words from here when the worker asks it to deliver one).
async fn read_update(State(state): State<AppState>, Path(update_id): Path<String>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let ctx = reader(&state, &headers, &rid).await?;
        state.service.customer_update(&ctx, &update_id).await.map_err(|e| ApiError::from_service(&rid, &e))
    }
    .await;
    match result {
        Ok(u) => Json(json!({"request_id": rid, "update": u})).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap, rid: &str) -> Result<TokenHolder, ApiError> {
    let unauthenticated = || ApiError::new(rid, ErrorCode::Unauthenticated, "a valid bearer token is required");
    let token = header(headers, "authorization")
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .ok_or_else(unauthenticated)?;
    match state.service.token_holder(token.trim()).await {
        Ok(Some(holder)) => Ok(holder),
        Ok(None) => Err(unauthenticated()),
        Err(e) => Err(ApiError::from_service(rid, &e)),
    }
}

/// The context of a read: any valid token; what it may see is the service's decision.
async fn reader(state: &AppState, headers: &HeaderMap, rid: &str) -> Result<CallContext, ApiError> {
    let actor = authenticate(state, headers, rid).await?.actor;
    call_context(actor, headers, rid)
}

fn call_context(actor: Actor, headers: &HeaderMap, rid: &str) -> Result<CallContext, ApiError> {
    let channel = match header(headers, "x-source-channel") {
        None => SourceChannel::Internal,
        Some(raw) => raw.parse().map_err(|()| {
            ApiError::new(rid, ErrorCode::InvalidRequest, "unknown X-Source-Channel").details(json!({
                "fields": [{"field": "X-Source-Channel", "code": "invalid_channel",
                            "message": "one of whatsapp, sms, email, webchat, telegram, voice, internal"}]
            }))
        })?,
    };
    // The trace the call belongs to (one agent turn, whose calls it ties together), else the
    // caller's own correlation id.
    let correlation_id = crate::trace::trace_id(headers)
        .or_else(|| header(headers, "x-correlation-id"))
        .map(|c| c.chars().take(200).collect());
    Ok(CallContext {
        actor,
        channel,
        correlation_id,
        request_id: Some(rid.to_string()),
        idempotency: None,
        approved_by: None,
    })
}

#[tracing::instrument(name = "tool", skip_all, fields(tool = %tool_name))]
async fn call_tool(
    State(state): State<AppState>,
    Path(tool_name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let rid = request_id(&headers);
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message =
                format!("the request body is larger than {} MiB; send large files as uploads", MAX_TOOL_BODY >> 20);
            return ApiError::new(&rid, ErrorCode::PayloadTooLarge, message).into_response();
        }
        Err(e) => return ApiError::new(&rid, ErrorCode::InvalidRequest, e.body_text()).into_response(),
    };
    let result = run_tool(&state, &tool_name, &headers, &body, &rid).await;
    respond(&state, result, &tool_name, &headers).await
}

/// Tool calls per token: `RATE_LIMITED` with `Retry-After` once the budget is spent (the
/// token's own budget when it was given one, else the shop's).
fn check_rate(state: &AppState, actor: &Actor, budget: Option<u32>, rid: &str) -> Result<(), ApiError> {
    let checked = match budget {
        None => state.tool_limit.check(&actor.id),
        Some(per_minute) => state.tool_limit.check_budget(&actor.id, per_minute),
    };
    let Err(wait) = checked else { return Ok(()) };
    let secs = wait.as_secs().max(1);
    let mut e = ApiError::new(rid, ErrorCode::RateLimited, format!("too many calls; retry in {secs} s")).by(actor);
    e.retry_after = Some(secs);
    e.details = json!({ "retry_after_seconds": secs });
    Err(e)
}

/// The response of a door handler; refusals that are security events are audited first.
async fn respond(state: &AppState, result: Result<Value, ApiError>, what: &str, headers: &HeaderMap) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::info!(code = e.code.as_str(), what, "call refused");
            if e.code.is_denial() {
                audit_denial(state, &e, what, headers).await;
            }
            e.into_response()
        }
    }
}

/// Denials are security events. Callers without a valid token share one budget of audit
/// writes, so a flood of bad tokens cannot fill the trail (the log still has every one).
async fn audit_denial(state: &AppState, e: &ApiError, tool: &str, headers: &HeaderMap) {
    let channel = header(headers, "x-source-channel").and_then(|c| c.parse::<SourceChannel>().ok()).unwrap_or_default();
    let correlation = header(headers, "x-correlation-id");
    let who = match &e.actor {
        Some(a) => dispatch::audit::Who {
            kind: a.kind.as_str(),
            id: &a.id,
            role: a.role.as_str(),
            channel: channel.as_str(),
            correlation_id: correlation,
            request_id: Some(&e.request_id),
        },
        None => {
            if state.denial_audit_limit.check("anonymous").is_err() {
                return;
            }
            dispatch::audit::Who {
                kind: "anonymous",
                id: "anonymous",
                role: "none",
                channel: channel.as_str(),
                correlation_id: correlation,
                request_id: Some(&e.request_id),
            }
        }
    };
    let detail =
        json!({"tool": tool.chars().take(100).collect::<String>(), "code": e.code.as_str(), "message": e.message});
    if let Err(err) = state.service.record_denial(&who, detail).await {
        tracing::error!(error = %err, "could not audit a refused call");
    }
}

async fn run_tool(
    state: &AppState,
    tool_name: &str,
    headers: &HeaderMap,
    body: &[u8],
    rid: &str,
) -> Result<Value, ApiError> {
    let holder = authenticate(state, headers, rid).await?;
    check_rate(state, &holder.actor, holder.calls_per_minute, rid)?;
    let actor = holder.actor;
    // Web-app actions and reads are not tools: to a token they do not exist.
    let action = tool_name
        .parse::<Action>()
        .ok()
        .filter(|a| a.audience() != domain::Audience::App)
        .ok_or_else(|| ApiError::new(rid, ErrorCode::UnknownTool, format!("there is no tool '{tool_name}'")))?;
    let ctx = call_context(actor, headers, rid)?;
    let key = header(headers, "idempotency-key");
    match state.service.call(ctx.clone(), action, key, body).await {
        Ok(done) => Ok(done.body(rid)),
        Err(e) => Err(ApiError::from_service(rid, &e).by(&ctx.actor)),
    }
}

async fn read_case(State(state): State<AppState>, Path(ticket_id): Path<String>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let ctx = reader(&state, &headers, &rid).await?;
        state.service.case(&ctx, &ticket_id).await.map_err(|e| ApiError::from_service(&rid, &e))
    }
    .await;
    match result {
        Ok(case) => Json(json!({"request_id": rid, "case": case})).into_response(),
        Err(e) => e.into_response(),
    }
}
