//! The closed tool API for OpenClaw agents (design §3): `POST /tools/v1/{tool}` and case reads.
//! A thin door: it authenticates, parses and maps errors; the service decides everything.

use crate::server::{AppState, REQUEST_ID};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dispatch::idempotency::{IdempotencyKey, Stored};
use dispatch::{CallContext, ServiceError};
use domain::{Actor, DomainError, SourceChannel, Tool};
use serde_json::{json, Value};

/// The agent toolset, plus the operator actions an operator token may script (check-in and
/// completion on a technician's behalf, cancel, labor, parts, payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolName {
    Agent(Tool),
    Operator(OperatorAction),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    CheckIn,
    CompleteWork,
    RecordLabor,
    RecordPart,
    Cancel,
    EditInvoice,
    RecordPayment,
}

impl OperatorAction {
    pub const ALL: [(&'static str, OperatorAction); 7] = [
        ("job.check_in", OperatorAction::CheckIn),
        ("job.complete_work", OperatorAction::CompleteWork),
        ("job.record_labor", OperatorAction::RecordLabor),
        ("job.record_part", OperatorAction::RecordPart),
        ("ticket.cancel", OperatorAction::Cancel),
        ("billing.edit_invoice_draft", OperatorAction::EditInvoice),
        ("billing.record_payment", OperatorAction::RecordPayment),
    ];
}

impl ToolName {
    pub fn parse(name: &str) -> Option<ToolName> {
        name.parse()
            .ok()
            .map(ToolName::Agent)
            .or_else(|| OperatorAction::ALL.iter().find(|(n, _)| *n == name).map(|(_, a)| ToolName::Operator(*a)))
    }

    pub fn allowed_for(self, role: domain::Role) -> bool {
        match self {
            ToolName::Agent(t) => t.allowed_for(role),
            ToolName::Operator(_) => matches!(role, domain::Role::Operator | domain::Role::Admin),
        }
    }
}

/// Largest tool request body: a 10 MiB photo in base64 plus its JSON.
pub const MAX_TOOL_BODY: usize = 14 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list_tools))
        .route("/inbound", post(inbound))
        // The spool enforces the configured limit (RD_MAX_UPLOAD_MIB) as the bytes arrive.
        .route("/uploads", post(upload).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/portal.create_link", post(create_link))
        .route("/portal.revoke_link", post(revoke_link))
        .route("/{tool}", post(call_tool))
        .route("/cases/{ticket_id}", get(read_case))
        .route("/cases/{ticket_id}/summary", get(read_summary))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_TOOL_BODY))
}

impl OperatorAction {
    pub fn description(self) -> &'static str {
        match self {
            OperatorAction::CheckIn => "Check the technician in on site (dispatched -> onsite).",
            OperatorAction::CompleteWork => "Mark the work done (onsite -> work_performed).",
            OperatorAction::RecordLabor => "Record labor time on the job.",
            OperatorAction::RecordPart => "Record a part used on the job.",
            OperatorAction::Cancel => "Cancel the ticket (possible until a technician is on site).",
            OperatorAction::EditInvoice => {
                "Replace the invoice draft's lines and tax rate (invoice_ready, until a closeout packet is compiled)."
            }
            OperatorAction::RecordPayment => {
                "Record payment: paid, or accounts receivable with a due date (invoice_ready -> paid_or_ar)."
            }
        }
    }
}

impl ToolName {
    pub fn name(self) -> &'static str {
        match self {
            ToolName::Agent(t) => t.name(),
            ToolName::Operator(a) => OperatorAction::ALL.iter().find(|(_, x)| *x == a).map(|(n, _)| *n).unwrap_or(""),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ToolName::Agent(t) => t.description(),
            ToolName::Operator(a) => a.description(),
        }
    }

    /// Every tool and action the door knows, in a stable order.
    pub fn all() -> Vec<ToolName> {
        Tool::ALL
            .into_iter()
            .map(ToolName::Agent)
            .chain(OperatorAction::ALL.iter().map(|(_, a)| ToolName::Operator(*a)))
            .collect()
    }

    /// The JSON Schema of the tool's input, generated from the Rust type the door parses:
    /// inline (self-contained) for `GET /tools/v1`.
    pub fn input_schema(self) -> Value {
        let mut settings = schemars::generate::SchemaSettings::draft2020_12();
        settings.inline_subschemas = true;
        settings.meta_schema = None;
        let mut generator = settings.into_generator();
        serde_json::to_value(self.input_schema_in(&mut generator)).unwrap_or(Value::Null)
    }

    /// The input schema in `generator` (a `$ref` when the generator keeps definitions).
    pub fn input_schema_in(self, g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        use domain::commands as c;
        match self {
            ToolName::Agent(t) => match t {
                Tool::TicketCreate => g.subschema_for::<domain::CreateTicket>(),
                Tool::TicketAddMessage => g.subschema_for::<c::AddMessage>(),
                Tool::TicketSetPriority => g.subschema_for::<c::SetPriority>(),
                Tool::ScheduleProposeSlots => g.subschema_for::<c::ProposeSlots>(),
                Tool::ScheduleConfirm => g.subschema_for::<c::ConfirmSlot>(),
                Tool::DispatchAssignTech => g.subschema_for::<c::AssignTech>(),
                Tool::DispatchSetEta => g.subschema_for::<c::SetEta>(),
                Tool::CloseoutAddPhoto => g.subschema_for::<c::AddPhoto>(),
                Tool::CloseoutAddNote => g.subschema_for::<c::AddNote>(),
                Tool::CloseoutChecklistComplete => g.subschema_for::<c::ChecklistComplete>(),
                Tool::BillingGenerateInvoiceDraft | Tool::BillingCompileCloseoutPacket => {
                    g.subschema_for::<c::TicketRef>()
                }
            },
            ToolName::Operator(a) => match a {
                OperatorAction::CheckIn | OperatorAction::CompleteWork => g.subschema_for::<c::TicketRef>(),
                OperatorAction::RecordLabor => g.subschema_for::<c::RecordLabor>(),
                OperatorAction::RecordPart => g.subschema_for::<c::RecordPart>(),
                OperatorAction::Cancel => g.subschema_for::<c::CancelTicket>(),
                OperatorAction::EditInvoice => g.subschema_for::<c::EditInvoiceDraft>(),
                OperatorAction::RecordPayment => g.subschema_for::<c::RecordPayment>(),
            },
        }
    }
}

/// `POST /tools/v1/uploads`: the file as the raw body (`?filename=` names it) or as the
/// multipart field `file`, hashed and checked while it streams to the blob store; memory
/// stays flat whatever the size. Returns the upload
/// id for `closeout.add_photo`. An `Idempotency-Key` makes a retry return the first upload.
async fn upload(State(state): State<AppState>, headers: HeaderMap, request: axum::extract::Request) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let actor = authenticate(&state, &headers, &rid).await?;
        if !Tool::CloseoutAddPhoto.allowed_for(actor.role) {
            let message = format!("role {} may not upload files", actor.role);
            return Err(ApiError::new(&rid, StatusCode::FORBIDDEN, "TOOL_NOT_ALLOWED", message).by(&actor));
        }
        check_rate(&state, &actor, &rid)?;
        let ctx = call_context(actor, &headers, &rid)?;
        let (file, filename) = crate::files::receive_upload(
            request,
            state.service.settings().max_upload_bytes(),
            state.service.blobs().clone(),
        )
        .await
        .map_err(|e| e.into_api(&rid))?;
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

/// `POST /tools/v1/inbound`: a message as a channel delivered it (intake agents, operators).
/// Deduplicated by the provider's message id, so it needs no Idempotency-Key.
async fn inbound(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let body = body.map_err(|e| ApiError::new(&rid, e.status(), "PAYLOAD_TOO_LARGE", e.body_text()))?;
        let actor = authenticate(&state, &headers, &rid).await?;
        if !matches!(actor.role, domain::Role::IntakeAgent | domain::Role::Operator | domain::Role::Admin) {
            let message = format!("role {} may not deliver inbound messages", actor.role);
            return Err(ApiError::new(&rid, StatusCode::FORBIDDEN, "TOOL_NOT_ALLOWED", message).by(&actor));
        }
        check_rate(&state, &actor, &rid)?;
        let ctx = call_context(actor, &headers, &rid)?;
        let json: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(&rid, StatusCode::BAD_REQUEST, "INVALID_JSON", format!("the body is not valid JSON: {e}"))
        })?;
        let input: domain::commands::Inbound = parse_input(json, &rid)?;
        let r =
            state.service.inbound(&ctx, &input).await.map_err(|e| ApiError::from_service(&rid, &e).by(&ctx.actor))?;
        Ok(json!({
            "request_id": rid,
            "ticket_id": r.ticket_id,
            "message_id": r.message_id,
            "disposition": r.disposition,
            "reason": r.reason,
            "case": r.case,
        }))
    }
    .await;
    respond(&state, result, "inbound", &headers).await
}

/// The shared front of the portal-link calls: token, rate, JSON body.
async fn link_call<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    rid: &str,
) -> Result<(CallContext, T), ApiError> {
    let actor = authenticate(state, headers, rid).await?;
    check_rate(state, &actor, rid)?;
    let ctx = call_context(actor, headers, rid)?;
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(rid, StatusCode::BAD_REQUEST, "INVALID_JSON", format!("the body is not valid JSON: {e}"))
    })?;
    Ok((ctx, parse_input(json, rid)?))
}

/// `POST /tools/v1/portal.create_link`: a signed, expiring link for the customer of one ticket
/// (operators and agents). The path in the answer is shown once.
async fn create_link(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let (ctx, input) = link_call::<dispatch::portal::CreateLink>(&state, &headers, &body, &rid).await?;
        let link = state
            .service
            .create_portal_link(&ctx, &input)
            .await
            .map_err(|e| ApiError::from_service(&rid, &e).by(&ctx.actor))?;
        Ok(json!({"request_id": rid, "link": link}))
    }
    .await;
    respond(&state, result, "portal.create_link", &headers).await
}

/// `POST /tools/v1/portal.revoke_link`: the link and its sessions stop working at once.
async fn revoke_link(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let result = async {
        let (ctx, input) = link_call::<dispatch::portal::RevokeLink>(&state, &headers, &body, &rid).await?;
        state
            .service
            .revoke_portal_link(&ctx, &input)
            .await
            .map_err(|e| ApiError::from_service(&rid, &e).by(&ctx.actor))?;
        Ok(json!({"request_id": rid, "revoked": input.link_id}))
    }
    .await;
    respond(&state, result, "portal.revoke_link", &headers).await
}

/// `GET /tools/v1`: the tools the caller's role may use.
async fn list_tools(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let actor = match authenticate(&state, &headers, &rid).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let tools: Vec<Value> = ToolName::all()
        .into_iter()
        .filter(|t| t.allowed_for(actor.role))
        .map(|t| json!({"name": t.name(), "description": t.description(), "input_schema": t.input_schema()}))
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

/// An error response in the public envelope.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    request_id: String,
    /// Seconds, for RATE_LIMITED.
    retry_after: Option<u64>,
    /// Who was refused, when known (for the security event).
    actor: Option<Actor>,
}

impl ApiError {
    pub(crate) fn new(request_id: &str, status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
            request_id: request_id.to_string(),
            retry_after: None,
            actor: None,
        }
    }

    pub(crate) fn by(mut self, actor: &Actor) -> Self {
        self.actor = Some(actor.clone());
        self
    }

    /// Refusals that are security events: audited even though the call wrote nothing.
    fn is_denial(&self) -> bool {
        matches!(self.code, "UNAUTHENTICATED" | "TOOL_NOT_ALLOWED" | "FORBIDDEN" | "RATE_LIMITED")
    }

    pub(crate) fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub(crate) fn from_service(request_id: &str, e: &ServiceError) -> Self {
        let status = match e {
            ServiceError::Domain(DomainError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ServiceError::Domain(DomainError::InvalidTransition { .. } | DomainError::NotInState { .. })
            | ServiceError::Conflict(_)
            | ServiceError::TechUnavailable { .. }
            | ServiceError::CloseoutIncomplete { .. }
            | ServiceError::InvoiceSent { .. } => StatusCode::CONFLICT,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::TicketNotFound(_) | ServiceError::AttachmentNotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::LoginFailed | ServiceError::LinkInvalid => StatusCode::UNAUTHORIZED,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Internal(_) | ServiceError::AlreadyProcessed => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let details = match e {
            ServiceError::Domain(DomainError::Invalid(fields)) => json!({ "fields": fields }),
            ServiceError::Domain(DomainError::InvalidTransition { from, to }) => json!({
                "from_state": from, "to_state": to, "allowed_from": domain::CaseState::allowed_from(*to),
            }),
            ServiceError::Domain(DomainError::NotInState { action, state, allowed }) => json!({
                "from_state": state, "to_state": null, "action": action, "allowed_from": allowed,
            }),
            ServiceError::TechUnavailable { technician_id, reason } => {
                json!({ "technician_id": technician_id, "reason": reason })
            }
            ServiceError::CloseoutIncomplete { missing } => json!({ "missing": missing }),
            ServiceError::InvoiceSent { packet_id } => json!({ "packet_id": packet_id }),
            _ => json!({}),
        };
        ApiError::new(request_id, status, e.code(), e.public_message()).details(details)
    }
}

/// The error body of every refused call; its schema is published in /openapi.json.
#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// Stable code: INVALID_REQUEST, TOOL_NOT_ALLOWED, CONFLICT, ...
    pub code: String,
    pub message: String,
    pub request_id: String,
    /// Code-specific: `fields` for INVALID_REQUEST, `from_state`/`to_state`/`allowed_from` for
    /// INVALID_STATE_TRANSITION, `missing` for CLOSEOUT_REQUIREMENTS_INCOMPLETE, `reason` for
    /// TECH_UNAVAILABLE.
    pub details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
                request_id: self.request_id,
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

async fn authenticate(state: &AppState, headers: &HeaderMap, rid: &str) -> Result<Actor, ApiError> {
    let unauthenticated =
        || ApiError::new(rid, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "a valid bearer token is required");
    let token = header(headers, "authorization")
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .ok_or_else(unauthenticated)?;
    match state.service.authenticate_token(token.trim()).await {
        Ok(Some(actor)) => Ok(actor),
        Ok(None) => Err(unauthenticated()),
        Err(e) => Err(ApiError::from_service(rid, &e)),
    }
}

/// The context of a read: any valid token; what it may see is the service's decision.
async fn reader(state: &AppState, headers: &HeaderMap, rid: &str) -> Result<CallContext, ApiError> {
    let actor = authenticate(state, headers, rid).await?;
    call_context(actor, headers, rid)
}

fn call_context(actor: Actor, headers: &HeaderMap, rid: &str) -> Result<CallContext, ApiError> {
    let channel = match header(headers, "x-source-channel") {
        None => SourceChannel::Internal,
        Some(raw) => raw.parse().map_err(|()| {
            ApiError::new(rid, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "unknown X-Source-Channel").details(json!({
                "fields": [{"field": "X-Source-Channel", "code": "invalid_channel",
                            "message": "one of whatsapp, sms, email, webchat, telegram, voice, internal"}]
            }))
        })?,
    };
    let correlation_id = header(headers, "x-correlation-id").map(|c| c.chars().take(200).collect());
    Ok(CallContext { actor, channel, correlation_id, request_id: Some(rid.to_string()), idempotency: None })
}

/// JSON parse errors become `INVALID_REQUEST` naming the field serde complained about.
fn parse_input<T: serde::de::DeserializeOwned>(body: Value, rid: &str) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| {
        let message = e.to_string();
        let field = message.split('`').nth(1).filter(|_| message.contains("field")).unwrap_or("body").to_string();
        ApiError::new(
            rid,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            format!("the request body does not match the tool's input: {message}"),
        )
        .details(json!({"fields": [{"field": field, "code": "invalid", "message": message}]}))
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
            return ApiError::new(&rid, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message).into_response();
        }
        Err(e) => {
            return ApiError::new(&rid, StatusCode::BAD_REQUEST, "INVALID_REQUEST", e.body_text()).into_response()
        }
    };
    let result = run_tool(&state, &tool_name, &headers, &body, &rid).await;
    respond(&state, result, &tool_name, &headers).await
}

/// Tool calls per token: `RATE_LIMITED` with `Retry-After` once the budget is spent.
fn check_rate(state: &AppState, actor: &Actor, rid: &str) -> Result<(), ApiError> {
    let Err(wait) = state.tool_limit.check(&actor.id) else { return Ok(()) };
    let secs = wait.as_secs().max(1);
    let mut e =
        ApiError::new(rid, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", format!("too many calls; retry in {secs} s"))
            .by(actor);
    e.retry_after = Some(secs);
    e.details = json!({ "retry_after_seconds": secs });
    Err(e)
}

/// The response of a door handler; refusals that are security events are audited first.
async fn respond(state: &AppState, result: Result<Value, ApiError>, what: &str, headers: &HeaderMap) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::info!(code = e.code, what, "call refused");
            if e.is_denial() {
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
    let detail = json!({"tool": tool.chars().take(100).collect::<String>(), "code": e.code, "message": e.message});
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
    let actor = authenticate(state, headers, rid).await?;
    check_rate(state, &actor, rid)?;
    let tool = ToolName::parse(tool_name).ok_or_else(|| {
        ApiError::new(rid, StatusCode::NOT_FOUND, "UNKNOWN_TOOL", format!("there is no tool '{tool_name}'"))
    })?;
    if !tool.allowed_for(actor.role) {
        tracing::warn!(actor = %actor.id, role = %actor.role, tool = tool_name, "tool not allowed");
        return Err(ApiError::new(
            rid,
            StatusCode::FORBIDDEN,
            "TOOL_NOT_ALLOWED",
            format!("role {} may not call {tool_name}", actor.role),
        )
        .by(&actor));
    }
    let key = header(headers, "idempotency-key").ok_or_else(|| {
        ApiError::new(
            rid,
            StatusCode::BAD_REQUEST,
            "MISSING_IDEMPOTENCY_KEY",
            "send an Idempotency-Key header (a UUID) with every call",
        )
    })?;
    if !is_uuid(key) {
        return Err(ApiError::new(rid, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "Idempotency-Key must be a UUID").details(json!({
            "fields": [{"field": "Idempotency-Key", "code": "invalid_uuid", "message": "a UUID such as 3f0e8c4e-6a1b-4b8e-9d57-2f1c9a6e0b11"}]
        })));
    }
    let mut ctx = call_context(actor, headers, rid)?;
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(rid, StatusCode::BAD_REQUEST, "INVALID_JSON", format!("the body is not valid JSON: {e}"))
    })?;
    let idem = IdempotencyKey {
        scope: ctx.actor.id.clone(),
        tool: tool_name.to_string(),
        key: key.to_ascii_lowercase(),
        request_hash: dispatch::idempotency::request_hash(&json),
    };
    if let Some(stored) = stored_answer(state, &idem, rid).await? {
        return Ok(stored);
    }
    ctx.idempotency = Some(idem.clone());
    let service = &state.service;
    let outcome = match tool {
        ToolName::Operator(action) => match action {
            OperatorAction::CheckIn => service.check_in(&ctx, &parse_input(json, rid)?).await,
            OperatorAction::CompleteWork => service.complete_work(&ctx, &parse_input(json, rid)?).await,
            OperatorAction::RecordLabor => service.record_labor(&ctx, &parse_input(json, rid)?).await,
            OperatorAction::RecordPart => service.record_part(&ctx, &parse_input(json, rid)?).await,
            OperatorAction::Cancel => service.cancel_ticket(&ctx, &parse_input(json, rid)?).await,
            OperatorAction::EditInvoice => service.edit_invoice_draft(&ctx, &parse_input(json, rid)?).await,
            OperatorAction::RecordPayment => service.record_payment(&ctx, &parse_input(json, rid)?).await,
        },
        ToolName::Agent(tool) => match tool {
            Tool::TicketCreate => service.create_ticket(&ctx, &parse_input(json, rid)?).await,
            Tool::TicketAddMessage => service.add_message(&ctx, &parse_input(json, rid)?).await,
            Tool::TicketSetPriority => service.set_priority(&ctx, &parse_input(json, rid)?).await,
            Tool::ScheduleProposeSlots => service.propose_slots(&ctx, &parse_input(json, rid)?).await,
            Tool::ScheduleConfirm => service.confirm_slot(&ctx, &parse_input(json, rid)?).await,
            Tool::DispatchAssignTech => service.assign_tech(&ctx, &parse_input(json, rid)?).await,
            Tool::DispatchSetEta => service.set_eta(&ctx, &parse_input(json, rid)?).await,
            Tool::CloseoutAddPhoto => service.add_photo(&ctx, &parse_input(json, rid)?).await,
            Tool::CloseoutAddNote => service.add_note(&ctx, &parse_input(json, rid)?).await,
            Tool::CloseoutChecklistComplete => service.checklist_complete(&ctx, &parse_input(json, rid)?).await,
            Tool::BillingGenerateInvoiceDraft => service.generate_invoice_draft(&ctx, &parse_input(json, rid)?).await,
            Tool::BillingCompileCloseoutPacket => service.compile_closeout_packet(&ctx, &parse_input(json, rid)?).await,
        },
    };
    match outcome {
        Ok(o) => Ok(o.envelope(Some(rid))),
        // A duplicate that raced the first call: answer as the first call did.
        Err(ServiceError::AlreadyProcessed) => match stored_answer(state, &idem, rid).await? {
            Some(v) => Ok(v),
            None => Err(ApiError::new(
                rid,
                StatusCode::CONFLICT,
                "CONFLICT",
                "a request with this Idempotency-Key is still in progress",
            )),
        },
        Err(e) => Err(ApiError::from_service(rid, &e).by(&ctx.actor)),
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// The answer a key already holds: the stored response, a mismatch, or (after waiting for a
/// call still in progress) nothing.
async fn stored_answer(state: &AppState, idem: &IdempotencyKey, rid: &str) -> Result<Option<Value>, ApiError> {
    for _ in 0..300 {
        match dispatch::idempotency::lookup(state.service.db().pool(), idem)
            .await
            .map_err(|e| ApiError::from_service(rid, &e))?
        {
            None => return Ok(None),
            Some(Stored::Replay(v)) => {
                tracing::info!(key = %idem.key, "idempotent replay");
                return Ok(Some(v));
            }
            Some(Stored::Mismatch) => {
                return Err(ApiError::new(
                    rid,
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_PAYLOAD_MISMATCH",
                    "this Idempotency-Key was used with a different request body",
                ))
            }
            Some(Stored::InProgress) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    Err(ApiError::new(
        rid,
        StatusCode::CONFLICT,
        "CONFLICT",
        "a request with this Idempotency-Key is still in progress",
    ))
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
