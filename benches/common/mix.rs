//! The lifecycle mix both wire benchmarks drive: one ticket from creation to payment in 15
//! tool calls (a photo among them), each with a fresh idempotency key.

use base64::Engine;
use serde_json::{json, Value};
use std::time::Instant;

pub const HOUR: i64 = 3_600_000;
/// Two-hour bookings (the hour and the travel buffers around it) over 13 days: an ETA more than
/// 14 days ahead is refused, so a client then takes a new technician.
pub const SLOTS_PER_TECHNICIAN: u64 = 13 * 12;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub lat_us: Vec<u64>,
    pub errors: u64,
}

impl Client {
    pub async fn call(&mut self, tool: &str, body: Value) -> Option<Value> {
        let t = Instant::now();
        let res = self
            .http
            .post(format!("{}/tools/v1/{tool}", self.base))
            .bearer_auth(&self.token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .ok()?;
        let ok = res.status().is_success();
        let v: Value = res.json().await.ok()?;
        self.lat_us.push(t.elapsed().as_micros() as u64);
        if !ok {
            self.errors += 1;
            if self.errors <= 3 {
                eprintln!("  {tool} failed: {v}");
            }
            return None;
        }
        Some(v)
    }
}

/// One ticket's lifecycle; `n` is the client's number times a million plus the ticket's.
pub async fn lifecycle(c: &mut Client, tech: &str, slot: i64, n: u64) -> Option<()> {
    let photo = base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png());
    // A phone number of its own for each customer (up to 100 clients of 100,000 tickets): a
    // number that already belongs to someone of another name is refused (CONTACT_NAME_DIFFERS).
    let phone = (n / 1_000_000 % 100) * 100_000 + n % 1_000_000 % 100_000;
    let v = c
        .call(
            "ticket.create",
            json!({"customer": {"name": format!("Wire {phone}"), "phone": format!("+1556{phone:07}")},
                   "site": {"address": format!("{n} Wire St")}, "problem_summary": "No heat", "trade": "hvac"}),
        )
        .await?;
    let id = v["case"]["id"].as_str()?.to_string();
    let keys = v["case"]["checklist"]
        .as_array()?
        .iter()
        .filter_map(|i| i["key"].as_str().map(str::to_string))
        .collect::<Vec<_>>();
    c.call("ticket.add_message", json!({"ticket_id": id, "direction": "inbound", "text": "When can you come?"}))
        .await?;
    c.call(
        "schedule.propose_slots",
        json!({"ticket_id": id, "from_ms": slot, "to_ms": slot + 4 * HOUR, "duration_minutes": 60, "max_slots": 3}),
    )
    .await?;
    c.call(
        "schedule.confirm",
        json!({"ticket_id": id, "start_ms": slot, "end_ms": slot + HOUR, "technician_id": tech}),
    )
    .await?;
    c.call("dispatch.assign_tech", json!({"ticket_id": id, "technician_id": tech})).await?;
    // Within the booked hour: an ETA before the window is refused (ETA_OUTSIDE_WINDOW).
    c.call("dispatch.set_eta", json!({"ticket_id": id, "eta_ms": slot + HOUR / 4})).await?;
    c.call("job.check_in", json!({"ticket_id": id})).await?;
    c.call("closeout.add_note", json!({"ticket_id": id, "kind": "work_summary", "text": "Replaced igniter"})).await?;
    c.call("closeout.add_photo", json!({"ticket_id": id, "kind": "after", "content_base64": photo})).await?;
    c.call("job.record_labor", json!({"ticket_id": id, "minutes": 45, "description": "Repair"})).await?;
    c.call("job.complete_work", json!({"ticket_id": id})).await?;
    c.call("closeout.checklist_complete", json!({"ticket_id": id, "items": keys, "finalize": true})).await?;
    c.call("billing.generate_invoice_draft", json!({"ticket_id": id})).await?;
    c.call("ticket.add_message", json!({"ticket_id": id, "direction": "outbound", "text": "Invoice sent"})).await?;
    c.call("billing.record_payment", json!({"ticket_id": id, "kind": "paid"})).await?;
    Some(())
}

pub fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}
