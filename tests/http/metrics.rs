//! `/metrics` scraped as Prometheus would, around real traffic: counters move by exactly what
//! was done, and the outbox gauges match the database.

use crate::support::{account, dispatched_ticket, start, technician, Browser};
use dispatch::testing::each_backend;
use domain::Role;

/// The value of the series whose name and labels start as given, if it is there.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_what_happened() {
    for db in each_backend().await {
        let s = start(db).await;
        let mut b = Browser::new(&s);
        let healthz = r#"rd_http_requests_total{route="/healthz",method="GET",status="200"}"#;
        let before = series(&b.get("/metrics").await.body, healthz).unwrap_or(0.0);
        for _ in 0..3 {
            assert_eq!(b.get("/healthz").await.status, 200);
        }
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 0).await;
        // Actions through the doors: two that land, one on a stale version.
        account(&s, "op@metrics.test", Role::Operator, None, None).await;
        b.login("op@metrics.test", "correct horse battery").await;
        let version = job.version.to_string();
        let stale = (job.version - 1).to_string();
        for (priority, v) in [("urgent", version.as_str()), ("standard", ""), ("urgent", stale.as_str())] {
            let r =
                b.call("console_set_priority", &[("ticket_id", &job.id), ("priority", priority), ("version", v)]).await;
            assert!(r.status < 500, "{}", r.body);
        }
        let scraped = b.get("/metrics").await;
        assert_eq!(scraped.status, 200);
        assert!(scraped.headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/openmetrics-text"));
        let text = scraped.body;
        assert_eq!(series(&text, healthz), Some(before + 3.0), "{text}");
        assert!(series(&text, r#"rd_http_request_duration_seconds_count{route="/healthz"}"#) >= Some(3.0));
        let set = |outcome: &str| {
            format!(r#"rd_actions_total{{action="ticket.set_priority",role="operator",outcome="{outcome}"}}"#)
        };
        assert_eq!(series(&text, &set("ok")), Some(2.0), "{text}");
        assert_eq!(series(&text, &set("CONFLICT")), Some(1.0), "{text}");
        // A route is counted by its template, not by each id.
        b.get("/tools/v1/cases/tkt_nobody").await;
        let text = b.get("/metrics").await.body;
        assert!(text.contains(r#"route="/tools/v1/cases/{ticket_id}""#), "{text}");
        assert!(!text.contains("tkt_nobody"));
        // The outbox gauge is what the database holds.
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customer_updates WHERE status = 'pending'")
            .fetch_one(s.service.db().pool())
            .await
            .expect("count");
        assert_eq!(series(&text, r#"rd_outbox_pending{outbox="customer_updates"}"#), Some(pending as f64), "{text}");
        assert!(series(&text, "rd_db_pool_connections").is_some_and(|n| n >= 1.0));
        assert_eq!(series(&text, "rd_image_work_running"), Some(0.0));
        assert_eq!(series(&text, "rd_audit_checkpoint_age_seconds"), Some(-1.0), "no checkpoint yet");
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_span() {
    use crate::support::process::{cli, free_port, serve_logging_to};
    let dir = dispatch::testing::temp_dir();
    cli(&dir, &[], &["migrate"]);
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let env = [("RD_LOG_FORMAT", "json"), ("RUST_LOG", "info")];
    let server = serve_logging_to(&dir, &env, free_port(), log).await;
    let answered = reqwest::Client::new()
        .get(format!("{}/readyz", server.base))
        .header("x-request-id", "probe-request-1")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .expect("readyz");
    assert_eq!(answered.status(), 200);
    drop(server);
    let text = std::fs::read_to_string(&log_path).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "the server logged");
    let response = lines
        .iter()
        .find(|l| l["fields"]["message"] == "response" && l["span"]["request_id"] == "probe-request-1")
        .unwrap_or_else(|| panic!("the answer's line carries its request's span: {text}"));
    assert_eq!(response["fields"]["status"], 200);
    assert_eq!(response["span"]["path"], "/readyz");
    assert_eq!(response["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736", "the caller's trace is on the span");
}

/// The Grafana dashboard in `integrations/` only asks for series the server exports.
#[tokio::test]
async fn the_dashboard_asks_only_for_series_the_server_exports() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/grafana/real-dispatch.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("the dashboard is JSON");
    let mut db = dispatch::testing::each_backend().await;
    let s = start(db.next().expect("a backend")).await;
    let mut b = Browser::new(&s);
    b.get("/healthz").await;
    let text = b.get("/metrics").await.body;
    let exported: std::collections::BTreeSet<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ").and_then(|t| t.split(' ').next())).collect();
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    for target in panels.iter().flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default()) {
        let expr = target["expr"].as_str().expect("an expression");
        for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("rd_")) {
            let family = ["_bucket", "_count", "_sum", "_total"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|f| exported.contains(f))
                .unwrap_or(name);
            assert!(exported.contains(family), "{name} in `{expr}` is not exported: {exported:?}");
        }
    }
}
