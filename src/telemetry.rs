//! Logging and traces.
//!
//! Logs: `RUST_LOG` filters (default `info`), one span per request carrying its id.
//! `RD_LOG_FORMAT=json` writes one JSON object per line (with the current span and its
//! parents), for log collectors; the default is text for people.
//!
//! Traces: with the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, the
//! same spans are exported over OTLP/HTTP (protobuf) to a collector, each request's span a
//! child of the caller's W3C `traceparent` (see [`crate::trace`]).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans leave the process (so a request's span should take its caller's trace).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Holds the trace exporter; [`Telemetry::shutdown`] sends what is still buffered.
#[must_use]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporter. Call outside the async runtime: the export client
    /// blocks.
    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            if let Err(e) = p.shutdown() {
                eprintln!("warning: traces not all exported at exit: {e}");
            }
        }
    }
}

/// Installs the subscriber. `export_traces` is for the long-running commands (`serve`,
/// `worker`): a one-shot CLI command would only wait on the collector at exit.
/// Call before the async runtime starts: the exporter's HTTP client is a blocking one, which
/// must not be built or dropped on a runtime thread.
pub fn init(export_traces: bool) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,aws=warn,tower_sessions=warn,tower_sessions_core=warn"));
    let json = std::env::var("RD_LOG_FORMAT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("json"));
    // Logs go to stderr so stdout stays machine-readable for CLI output (tokens, counts).
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if json { logs.json().with_current_span(true).with_span_list(true).boxed() } else { logs.boxed() };
    let (provider, problem) = match otlp_wanted().filter(|_| export_traces) {
        Some(where_to) => match exporter() {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(format!("OTLP trace export to {where_to} is off: {e}"))),
        },
        None => (None, None),
    };
    let traces = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("real-dispatch")));
    let installed = tracing_subscriber::registry().with(filter).with(logs).with(traces).try_init().is_ok();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
    if installed && provider.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Telemetry { provider }
}

/// The configured collector, when export is asked for and not disabled
/// (`OTEL_SDK_DISABLED=true` turns it off, as the specification has it).
fn otlp_wanted() -> Option<String> {
    let set = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// The exporter reads the rest of the standard variables itself (headers, timeout, the
/// batch processor's `OTEL_BSP_*`); `OTEL_SERVICE_NAME` names the service.
fn exporter() -> Result<SdkTracerProvider, String> {
    let protocol = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_default();
    if !matches!(protocol.trim(), "" | "http/protobuf") {
        return Err(format!("OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported; use http/protobuf"));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build().map_err(|e| e.to_string())?;
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "real-dispatch".into());
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(name).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}
