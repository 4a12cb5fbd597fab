//! W3C Trace Context: a caller's `traceparent` names the trace a request belongs to (the
//! OpenClaw plugin sends one per agent turn), so one turn's requests, their log lines and the
//! audit events they write can be found together.

use axum::http::HeaderMap;

/// The trace id of a valid `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), lowercase;
/// anything else is ignored, as the specification asks.
pub fn trace_id(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("traceparent")?.to_str().ok()?.trim();
    let mut parts = value.split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && !zero(trace)
        && hex(parent, 16)
        && !zero(parent)
        && hex(flags, 2);
    valid.then_some(trace)
}

/// Makes `span` a child of the caller's `traceparent` (one [`trace_id`] accepted) when spans
/// are exported, so a collector shows one agent turn's requests as one trace.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !crate::telemetry::exporting() {
        return;
    }
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}

/// The request's own span, kept on the request: layers in between (the session layer) enter
/// spans of their own, so the route, known only after routing, is recorded here by name.
#[derive(Clone)]
pub struct RequestSpan(pub tracing::Span);

/// Keeps the current (request) span on the request; sits just inside the trace layer.
pub async fn remember_span(mut req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    req.extensions_mut().insert(RequestSpan(tracing::Span::current()));
    next.run(req).await
}

struct Headers<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("traceparent", value.parse().expect("header"));
        h
    }

    #[test]
    fn only_well_formed_traceparents_name_a_trace() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(&with(good)), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(trace_id(&HeaderMap::new()), None);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(trace_id(&with(bad)), None, "{bad}");
        }
    }
}
