//! Traces leave the server over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` names a
//! collector: a tool call's spans carry its caller's trace, under the caller's span, and the
//! same trace id is on the audit event the call wrote.

use crate::support::process::{cli, free_port, serve};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Spans received, each with its service's name.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// An OTLP/HTTP receiver on loopback: keeps every span it is sent, with its service name.
async fn collector() -> (String, Received) {
    use axum::{body::Bytes, extract::State, routing::post, Router};
    let got: Received = Arc::default();
    let receive = |State(got): State<Received>, body: Bytes| async move {
        let Ok(req) = ExportTraceServiceRequest::decode(body) else {
            return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
        };
        let mut got = got.lock().expect("spans");
        for rs in req.resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                got.push((service.clone(), span));
            }
        }
        // An empty ExportTraceServiceResponse.
        (axum::http::StatusCode::OK, Vec::new())
    };
    let app = Router::new().route("/v1/traces", post(receive)).with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn attr(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()).and_then(|v| match &v.value {
        Some(Value::StringValue(s)) => Some(s.clone()),
        Some(Value::IntValue(i)) => Some(i.to_string()),
        _ => None,
    })
}

#[tokio::test]
async fn a_tool_calls_spans_reach_the_collector_in_its_callers_trace() {
    let (endpoint, got) = collector().await;
    let dir = dispatch::testing::temp_dir();
    cli(&dir, &[], &["migrate"]);
    let token = cli(&dir, &[], &["token", "create", "--role", "intake_agent", "--name", "traced"]);
    let token = token.lines().last().expect("a token").trim().to_string();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_SERVICE_NAME", "dispatch-under-test"),
        ("RUST_LOG", "info"),
    ];
    let server = serve(&dir, &env, free_port()).await;
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/tools/v1/ticket.create", server.base))
        .bearer_auth(&token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .json(&serde_json::json!({ "customer": { "name": "Trace Tester", "phone": "+1 312 555 0142" } }))
        .send()
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert!(answer["case"]["id"].is_string(), "{answer}");

    let trace_bytes = hex::decode(trace).expect("hex");
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = got.lock().expect("spans").iter().filter(|(_, s)| s.trace_id == trace_bytes).cloned().collect();
        if spans.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    let request = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "POST" && attr(s, "http.route").is_some())
        .unwrap_or_else(|| panic!("the request span in the caller trace: {names:?}"));
    assert_eq!(hex::encode(&request.parent_span_id), caller_span, "under the caller's span");
    assert_eq!(attr(request, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr(request, "http.route").as_deref(), Some("/tools/v1/{tool}"));
    let call = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "call")
        .unwrap_or_else(|| panic!("the action's span in the same trace: {names:?}"));
    assert_eq!(attr(call, "action").as_deref(), Some("ticket.create"));
    assert!(spans.iter().all(|(service, _)| service.contains("dispatch-under-test")), "service.name");
    // Every span of the trace descends from the request's span.
    let ids: Vec<&[u8]> = spans.iter().map(|(_, s)| s.span_id.as_slice()).collect();
    for (_, s) in &spans {
        assert!(
            s.span_id == request.span_id || ids.contains(&s.parent_span_id.as_slice()),
            "{} hangs off the trace",
            s.name
        );
    }
    drop(server);

    // The audit event of the call carries the same trace id.
    let event = answer["events"][0].as_str().expect("an event");
    let db = dispatch::Db::connect(&format!("sqlite://{}/real-dispatch.db", dir.display())).await.expect("db");
    let events = dispatch::audit::all_events(db.pool()).await.expect("events");
    let written = events.iter().find(|e| e.id == event).expect("the event");
    assert_eq!(written.correlation_id.as_deref(), Some(trace));
}

#[tokio::test]
async fn a_collector_that_is_down_costs_the_server_nothing() {
    let dir = dispatch::testing::temp_dir();
    cli(&dir, &[], &["migrate"]);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", closed.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "50")];
    let server = serve(&dir, &env, free_port()).await;
    for _ in 0..20 {
        let r = reqwest::get(format!("{}/readyz", server.base)).await.expect("readyz");
        assert_eq!(r.status(), 200);
    }
}
