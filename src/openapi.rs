//! `GET /openapi.json`: the tool API described from the same Rust types the door parses and
//! returns, so the description cannot drift from the behaviour.

use crate::api_error::ErrorBody;
use dispatch::service::SuccessBody;
use domain::Action;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

fn error_responses(codes: &[(&str, &str)]) -> Map<String, Value> {
    codes
        .iter()
        .map(|(status, what)| {
            let body = json!({
                "description": what,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            });
            (status.to_string(), body)
        })
        .collect()
}

/// The document, built once per process.
pub fn cached() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(document)
}

pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = settings.into_generator();
    let success = g.subschema_for::<SuccessBody>();
    g.subschema_for::<ErrorBody>();
    let case = g.subschema_for::<domain::Case>();

    let mut paths = Map::new();
    for tool in Action::CHANGES.iter().copied().filter(|a| a.audience() == domain::Audience::Tools) {
        let input = tool.input_schema_in(&mut g);
        let mut responses = error_responses(&[
            ("202", "APPROVAL_REQUIRED: an agent's call the shop's rules give to a person; nothing changed yet (details.approval_id, details.rule, details.reason, details.status)"),
            ("400", "INVALID_JSON, INVALID_REQUEST (details.fields) or MISSING_IDEMPOTENCY_KEY"),
            ("401", "UNAUTHENTICATED"),
            ("403", "TOOL_NOT_ALLOWED or FORBIDDEN"),
            ("404", "UNKNOWN_TOOL or TICKET_NOT_FOUND"),
            ("408", "REQUEST_TIMEOUT: the body stalled or the request was not done in time; the connection is closed"),
            ("409", "INVALID_STATE_TRANSITION, CONFLICT, TECH_UNAVAILABLE, CLOSEOUT_REQUIREMENTS_INCOMPLETE, INVOICE_SENT, ETA_OUTSIDE_WINDOW (details.reason, details.window_start_ms, details.window_end_ms), CONTACT_NAME_DIFFERS (details.customer_id, details.customer_name, details.contact, details.choices), IDEMPOTENCY_PAYLOAD_MISMATCH or AUTONOMY_PAUSED (details.scope, details.reason)"),
            ("413", "PAYLOAD_TOO_LARGE"),
            ("429", "RATE_LIMITED (Retry-After header)"),
            ("503", "BUSY (Retry-After header): image work is at its limit; retry with the same key"),
            ("500", "INTERNAL"),
        ]);
        // The autonomy switches answer with the pause, not a case.
        let answer = match tool {
            Action::AutonomyPause | Action::AutonomyResume => {
                let field = if tool == Action::AutonomyPause { "pause" } else { "resumed" };
                let pause = g.subschema_for::<domain::autonomy::Pause>();
                json!({"description": "Done; the pause in force, or the one lifted", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["request_id", field],
                    "properties": {"request_id": {"type": "string"}, field: pause}
                }}}})
            }
            // Deciding a held call answers with the approval as it now stands.
            Action::ApprovalApprove | Action::ApprovalReject => {
                let approval = g.subschema_for::<domain::approval::Approval>();
                json!({"description": "Decided; the approval (approved, rejected, or failed with why)", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["request_id", "approval"],
                    "properties": {"request_id": {"type": "string"}, "approval": approval}
                }}}})
            }
            _ => {
                json!({"description": "Committed; the case after the action", "content": {"application/json": {"schema": success}}})
            }
        };
        responses.insert("200".into(), answer);
        let operation = json!({
            "operationId": tool.name().replace('.', "_"),
            "summary": tool.description(),
            "parameters": [
                {"$ref": "#/components/parameters/IdempotencyKey"},
                {"$ref": "#/components/parameters/SourceChannel"},
                {"$ref": "#/components/parameters/CorrelationId"},
            ],
            "requestBody": {"required": true, "content": {"application/json": {"schema": input}}},
            "responses": responses,
        });
        paths.insert(format!("/tools/v1/{}", tool.name()), json!({ "post": operation }));
    }
    let inbound_input = g.subschema_for::<domain::commands::Inbound>();
    let mut inbound_responses = error_responses(&[
        ("400", "INVALID_JSON or INVALID_REQUEST"),
        ("401", "UNAUTHENTICATED"),
        ("403", "TOOL_NOT_ALLOWED"),
        ("429", "RATE_LIMITED"),
    ]);
    inbound_responses.insert(
        "200".into(),
        json!({"description": "What was done with the message",
               "content": {"application/json": {"schema": {"type": "object", "required": ["request_id", "disposition"],
               "properties": {"request_id": {"type": "string"}, "ticket_id": {"type": ["string", "null"]},
                              "message_id": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
                              "disposition": {"type": "string", "enum": ["attached", "created", "duplicate", "quarantined"]},
                              "case": {}}}}}}),
    );
    paths.insert(
        "/tools/v1/inbound".into(),
        json!({"post": {"operationId": "inbound", "summary": "Deliver an inbound message: deduplicated, gated, attached or turned into a lead.",
                        "requestBody": {"required": true, "content": {"application/json": {"schema": inbound_input}}},
                        "responses": inbound_responses}}),
    );
    let read_errors = error_responses(&[
        ("400", "INVALID_REQUEST (a bad header)"),
        ("401", "UNAUTHENTICATED"),
        ("404", "TICKET_NOT_FOUND"),
    ]);
    let ticket_param = json!({"name": "ticket_id", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut case_responses = read_errors.clone();
    case_responses.insert(
        "200".into(),
        json!({"description": "The canonical case", "content": {"application/json": {"schema": {
            "type": "object", "required": ["request_id", "case"],
            "properties": {"request_id": {"type": "string"}, "case": case}}}}}),
    );
    let mut summary_responses = read_errors.clone();
    summary_responses.insert(
        "200".into(),
        json!({"description": "A summary of at most 6,000 characters for a model's context",
               "content": {"application/json": {"schema": {"type": "object", "required": ["request_id", "summary"],
               "properties": {"request_id": {"type": "string"}, "summary": {"type": "object"}}}}}}),
    );
    paths.insert(
        "/tools/v1/cases/{ticket_id}".into(),
        json!({"get": {"operationId": "case_get", "summary": "The canonical case.", "parameters": [ticket_param], "responses": case_responses}}),
    );
    paths.insert(
        "/tools/v1/cases/{ticket_id}/summary".into(),
        json!({"get": {"operationId": "case_summary", "summary": "Compact case summary with the tools legal now.",
                       "parameters": [ticket_param], "responses": summary_responses}}),
    );
    let mut conversation_responses = read_errors.clone();
    conversation_responses.insert(
        "200".into(),
        json!({"description": "The ticket the conversation is bound to",
               "content": {"application/json": {"schema": {"type": "object", "required": ["request_id", "ticket_id", "channel", "bound_at_ms"],
               "properties": {"request_id": {"type": "string"}, "ticket_id": {"type": "string"}, "channel": {"type": "string"},
                              "bound_at_ms": {"type": "integer"}}}}}}),
    );
    paths.insert(
        "/tools/v1/conversations/{conversation}".into(),
        json!({"get": {"operationId": "conversation_get", "summary": "The ticket a channel conversation (an OpenClaw session key) is bound to by its inbound messages.",
                       "parameters": [{"name": "conversation", "in": "path", "required": true, "schema": {"type": "string"}}],
                       "responses": conversation_responses}}),
    );
    let mut list_responses = error_responses(&[("401", "UNAUTHENTICATED")]);
    list_responses.insert(
        "200".into(),
        json!({"description": "The tools this token's role may call, with input JSON Schemas",
               "content": {"application/json": {"schema": {"type": "object", "required": ["request_id", "role", "tools"],
               "properties": {"request_id": {"type": "string"}, "role": {"type": "string"},
                              "tools": {"type": "array", "items": {"type": "object",
                                        "required": ["name", "description", "input_schema"],
                                        "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                                                       "input_schema": {"type": "object"}}}}}}}}}),
    );
    paths.insert("/tools/v1".into(), json!({"get": {"operationId": "tools_list", "summary": "Tools for the caller's role.", "responses": list_responses}}));

    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Real Dispatch tool API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The closed toolset through which AI agents act on dispatch cases. Every call needs a bearer token and an Idempotency-Key.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": true,
                                   "schema": {"type": "string", "format": "uuid"}},
                "SourceChannel": {"name": "X-Source-Channel", "in": "header", "required": false,
                                  "schema": {"type": "string", "enum": ["whatsapp", "sms", "email", "webchat", "telegram", "voice", "internal"]}},
                "CorrelationId": {"name": "X-Correlation-Id", "in": "header", "required": false, "schema": {"type": "string"}},
            },
            "schemas": schemas,
        },
    })
}
