//! A case's audit events as people read them: "Dana Whitfield checked in", "Priority standard
//! → urgent", times in the shop's zone, money in its currency — never ids, epoch milliseconds
//! or the diff's own markers (`$append`, `$len`, `$absent`).
//!
//! Pure: the caller gives the actor's name and role, the event's change set and detail, and
//! the shop's way of writing times and money.

use crate::actor::Role;
use crate::portal_view::ShopLabels;
use crate::state::CaseState;
use serde_json::Value;

/// One event, as stored, with who did it already named.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    pub action: &'a str,
    /// The person or agent's name ("Dana Whitfield"); empty when unknown.
    pub actor_name: &'a str,
    pub role: Option<Role>,
    /// Field-level change maps (JSON Pointer → value), as the audit trail keeps them.
    pub before: &'a Value,
    pub after: &'a Value,
    pub detail: &'a Value,
}

/// The event in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrated {
    /// "Dana Whitfield checked in".
    pub sentence: String,
    /// Short facts beside it: "Priority standard → urgent", "Running late: traffic".
    pub facts: Vec<String>,
    /// Every changed field, readable, for the disclosure ("eta: 14:30 CST").
    pub raw: Vec<String>,
}

/// How a role is named where the actor's own name is unknown, and on agents' badges.
pub const fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::Operator => "Dispatcher",
        Role::Technician => "Technician",
        Role::Customer => "The customer",
        Role::IntakeAgent => "Intake agent",
        Role::SchedulingAgent => "Scheduling agent",
        Role::TechLiaisonAgent => "Technician liaison agent",
        Role::CloseoutAgent => "Closeout agent",
    }
}

/// The name a sentence starts with.
pub fn actor_label(name: &str, role: Option<Role>) -> String {
    let name = name.trim();
    match role {
        // An agent is named by its role; the token's name is the office's business.
        Some(r) if r.is_agent() => role_label(r).to_string(),
        _ if !name.is_empty() && !looks_like_id(name) => name.to_string(),
        Some(r) => role_label(r).to_string(),
        None => "Real Dispatch".to_string(),
    }
}

/// `usr_01J…`, `tok_…`, `system:cli`: machine names, never shown.
fn looks_like_id(s: &str) -> bool {
    let prefixed = s.split_once('_').is_some_and(|(p, rest)| {
        p.len() == 3 && p.bytes().all(|b| b.is_ascii_lowercase()) && rest.len() >= 8 && !rest.contains(' ')
    });
    prefixed || s.starts_with("system:")
}

/// The value at `path` in a change map, also when only a parent object changed ("/eta" holds
/// the whole ETA when it was first set; "/eta/eta_ms" when it moved).
fn at(map: &Value, path: &str) -> Option<Value> {
    let obj = map.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(v.clone());
    }
    let mut parent = path;
    while let Some(i) = parent.rfind('/') {
        parent = &parent[..i];
        if parent.is_empty() {
            break;
        }
        if let Some(v) = obj.get(parent) {
            return v.pointer(&path[parent.len()..]).cloned();
        }
    }
    None
}

fn text(v: Option<Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

fn int(v: Option<Value>) -> Option<i64> {
    v?.as_i64()
}

fn state_label(v: Option<Value>) -> Option<&'static str> {
    let s = text(v)?;
    serde_json::from_value::<CaseState>(Value::String(s)).ok().map(CaseState::label)
}

fn changed(e: &EventFacts<'_>, path: &str) -> bool {
    e.after.as_object().is_some_and(|o| o.keys().any(|k| k == path || k.starts_with(&format!("{path}/"))))
}

/// Items appended to a history (`notes`, `attachments`, `checklist`) by this event.
fn appended(e: &EventFacts<'_>, path: &str) -> Vec<Value> {
    match at(e.after, path) {
        Some(Value::Object(o)) => o.get("$append").and_then(Value::as_array).cloned().unwrap_or_default(),
        Some(Value::Array(a)) => a,
        _ => vec![],
    }
}

pub fn narrate(e: &EventFacts<'_>, shop: &impl ShopLabels) -> Narrated {
    let who = actor_label(e.actor_name, e.role);
    let mut facts = vec![];
    let time = |ms: Option<i64>| ms.map(|m| shop.time_label(m)).unwrap_or_default();
    let tech = text(at(e.after, "/assignment/technician_name"));
    let sentence = match e.action {
        "ticket.create" => format!("{who} opened the ticket"),
        "ticket.add_message" => format!("{who} added a message"),
        "ticket.set_priority" => {
            let (b, a) = (text(at(e.before, "/priority")), text(at(e.after, "/priority")));
            facts.push(format!("Priority {} → {}", b.unwrap_or_else(|| "none".into()), a.unwrap_or_default()));
            format!("{who} changed the priority")
        }
        "ticket.set_flag" => match text(at(e.after, "/flag")) {
            Some(f) => format!("{who} marked the ticket {}", if f == "vip" { "VIP".into() } else { f }),
            None => format!("{who} removed the ticket's mark"),
        },
        "ticket.cancel" => {
            if let Some(r) = text(at(e.after, "/cancel_reason")) {
                facts.push(format!("Reason: {r}"));
            }
            format!("{who} canceled the ticket")
        }
        "schedule.propose_slots" => format!("{who} looked for free slots"),
        "schedule.confirm" | "ticket.book" => {
            let (s, end) = (int(at(e.after, "/appointment/start_ms")), int(at(e.after, "/appointment/end_ms")));
            let window = match (s, end) {
                (Some(s), Some(end)) => format!(" for {}", shop.window_label(s, end)),
                _ => String::new(),
            };
            let with = tech.clone().map(|t| format!(" with {t}")).unwrap_or_default();
            let verb = if at(e.before, "/appointment").is_some_and(|v| v.is_object()) {
                "moved the booking"
            } else {
                "booked"
            };
            let verb = if changed(e, "/appointment/start_ms") { "moved the booking" } else { verb };
            format!("{who} {verb}{window}{with}")
        }
        "dispatch.assign_tech" => format!("{who} dispatched {}", tech.unwrap_or_else(|| "a technician".into())),
        "dispatch.set_eta" => {
            if let Some(r) = text(at(e.after, "/eta/late_reason")) {
                facts.push(format!("Running late: {r}"));
            }
            if let Some(n) = text(at(e.after, "/eta/note")) {
                facts.push(format!("Note: {n}"));
            }
            format!("{who} set the ETA to {}", time(int(at(e.after, "/eta/eta_ms"))))
        }
        "job.check_in" => format!("{who} checked in"),
        "job.complete_work" => format!("{who} marked the work done"),
        "job.record_labor" => {
            for l in appended(e, "/labor") {
                let minutes = l.get("minutes").and_then(Value::as_i64).unwrap_or_default();
                facts.push(format!("{} min", minutes));
            }
            format!("{who} recorded labor")
        }
        "job.record_part" => {
            for p in appended(e, "/parts") {
                if let Some(d) = p.get("description").and_then(Value::as_str) {
                    facts.push(d.to_string());
                }
            }
            format!("{who} recorded a part")
        }
        "closeout.add_photo" => format!("{who} added a photo"),
        "closeout.add_note" => {
            let summary =
                appended(e, "/notes").iter().any(|n| n.get("kind").and_then(Value::as_str) == Some("work_summary"));
            format!("{who} added {}", if summary { "the work summary" } else { "a note" })
        }
        "closeout.checklist_complete" => format!("{who} ticked a checklist item"),
        "billing.generate_invoice_draft" => match text(at(e.after, "/invoice/number")) {
            Some(n) => format!("{who} drafted invoice {n}"),
            None => format!("{who} drafted the invoice"),
        },
        "billing.edit_invoice_draft" => {
            if let Some(t) = int(at(e.after, "/invoice/total_cents")) {
                facts.push(format!("Total {}", shop.money(t)));
            }
            format!("{who} edited the invoice")
        }
        "billing.compile_closeout_packet" => format!("{who} compiled the closeout packet and sent the invoice"),
        "billing.record_payment" => {
            let amount = int(at(e.after, "/payment/amount_cents")).map(|c| shop.money(c)).unwrap_or_default();
            match text(at(e.after, "/payment/kind")).as_deref() {
                Some("ar") => format!("{who} put {amount} on account"),
                _ => format!("{who} recorded a payment of {amount}"),
            }
        }
        "portal.create_link" | "portal.link_created" => format!("{who} made a portal link for the customer"),
        "portal.send_link" => format!("{who} sent the customer a link to this ticket's page"),
        "portal.revoke_link" | "portal.link_revoked" => format!("{who} revoked a portal link"),
        "portal.link_opened" => "The customer opened their portal link".to_string(),
        "approval.requested" => format!("{who} asked a person to approve a step"),
        "approval.approved" => format!("{who} approved an agent's step"),
        "approval.rejected" => format!("{who} turned down an agent's step"),
        "autonomy.pause" => format!("{who} paused the agents"),
        "autonomy.resume" => format!("{who} resumed the agents"),
        "autonomy.held" => "An agent's step waited: the agents are paused".to_string(),
        "update.sent" => "The customer was sent an update".to_string(),
        "update.dead" => "A customer update could not be delivered".to_string(),
        "conversation.bound" => "A conversation was linked to the ticket".to_string(),
        "followup.fired" => "A follow-up reminder went off".to_string(),
        "followup.failed" => "A follow-up reminder failed".to_string(),
        "field.refused" => {
            if let Some(r) = text(e.detail.get("reason").cloned()) {
                facts.push(format!("Reason: {r}"));
            }
            let what = text(e.detail.get("refused_action").cloned()).map_or("make a change", |a| field_step_words(&a));
            format!("{who} could not {what}: done offline, refused when it arrived")
        }
        other => format!("{who}: {}", other.replace(['.', '_'], " ")),
    };
    if let (Some(b), Some(a)) = (state_label(at(e.before, "/state")), state_label(at(e.after, "/state"))) {
        if a != b {
            facts.push(format!("{b} → {a}"));
        }
    }
    Narrated { sentence, facts, raw: raw_lines(e, shop) }
}

/// A technician's step as the office would say it ("save a note"), for `field.refused`.
fn field_step_words(action: &str) -> &'static str {
    match action {
        "job.check_in" => "check in",
        "job.complete_work" => "mark the work done",
        "closeout.add_note" => "save a note",
        "closeout.checklist_complete" => "change the checklist or submit the closeout",
        "closeout.add_photo" => "add a photo",
        "job.record_labor" => "record time",
        "job.record_part" => "record a part",
        _ => "make a change",
    }
}

/// Every changed field in words: `eta: 14:30 CST`, `notes: 1 added`.
fn raw_lines(e: &EventFacts<'_>, shop: &impl ShopLabels) -> Vec<String> {
    let Some(after) = e.after.as_object() else { return vec![] };
    let mut lines: Vec<String> = after
        .iter()
        .filter(|(path, _)| !matches!(path.as_str(), "/version" | "/updated_at_ms" | ""))
        .map(|(path, a)| {
            let name = path.trim_start_matches('/').replace('/', " › ").replace('_', " ").replace(" ms", "");
            let b = e.before.get(path);
            match (b.map(|b| readable(path, b, shop)), readable(path, a, shop)) {
                (_, a) if a.starts_with('+') => format!("{name}: {a}"),
                (Some(b), a) if b != "—" => format!("{name}: {b} → {a}"),
                (_, a) => format!("{name}: {a}"),
            }
        })
        .collect();
    if after.get("").is_some() {
        lines.insert(0, "the whole ticket, as created".into());
    }
    if let Some(d) = e.detail.as_object() {
        for (k, v) in d {
            if !k.ends_with("id") && !v.is_null() {
                lines.push(format!("{}: {}", k.replace('_', " "), readable(k, v, shop)));
            }
        }
    }
    lines
}

fn readable(path: &str, v: &Value, shop: &impl ShopLabels) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(b) => (if *b { "yes" } else { "no" }).to_string(),
        Value::Number(n) if path.ends_with("_ms") => n.as_i64().map(|ms| shop.time_label(ms)).unwrap_or_default(),
        Value::Number(n) if path.ends_with("_cents") => n.as_i64().map(|c| shop.money(c)).unwrap_or_default(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if looks_like_id(s) => "(on file)".into(),
        Value::String(s) if path.ends_with("state") => {
            serde_json::from_value::<CaseState>(v.clone()).map(|st| st.label().to_string()).unwrap_or_else(|_| clip(s))
        }
        Value::String(s) => clip(s),
        Value::Array(a) => format!("{} item{}", a.len(), if a.len() == 1 { "" } else { "s" }),
        Value::Object(o) => {
            if let Some(items) = o.get("$append").and_then(Value::as_array) {
                return format!("+{} added", items.len());
            }
            if let Some(n) = o.get("$len").and_then(Value::as_i64) {
                return format!("{n} item{}", if n == 1 { "" } else { "s" });
            }
            if o.contains_key("$absent") {
                return "—".into();
            }
            let parts: Vec<String> = o
                .iter()
                .filter(|(k, v)| !k.ends_with("id") && !v.is_null())
                .map(|(k, v)| {
                    let name = k.trim_end_matches("_ms").trim_end_matches("_cents").replace('_', " ");
                    format!("{name} {}", readable(k, v, shop))
                })
                .collect();
            clip(&parts.join(", "))
        }
    }
}

fn clip(s: &str) -> String {
    crate::views::clip_chars(s, 120)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Shop;
    impl ShopLabels for Shop {
        fn window_label(&self, a: i64, b: i64) -> String {
            format!("{}–{}", self.time_label(a), self.time_label(b))
        }
        fn time_label(&self, ms: i64) -> String {
            format!("{:02}:{:02}", ms / 3_600_000 % 24, ms / 60_000 % 60)
        }
        fn money(&self, cents: i64) -> String {
            format!("${}.{:02}", cents / 100, cents % 100)
        }
        fn card(&self) -> crate::portal_view::PortalShop {
            crate::portal_view::PortalShop::default()
        }
    }

    fn say(action: &str, name: &str, role: Role, before: Value, after: Value, detail: Value) -> Narrated {
        let e =
            EventFacts { action, actor_name: name, role: Some(role), before: &before, after: &after, detail: &detail };
        narrate(&e, &Shop)
    }

    /// Nothing a person should not have to read.
    fn clean(n: &Narrated) {
        let all = format!("{} {} {}", n.sentence, n.facts.join(" "), n.raw.join(" "));
        for bad in ["usr_", "tok_", "$append", "$len", "$absent", "_ms", "1764"] {
            assert!(!all.contains(bad), "{bad} in {all}");
        }
    }

    #[test]
    fn a_check_in_reads_as_a_sentence_with_the_state_it_moved() {
        let n = say(
            "job.check_in",
            "Dana Whitfield",
            Role::Technician,
            json!({"/state": "dispatched"}),
            json!({"/state": "onsite"}),
            json!(null),
        );
        assert_eq!(n.sentence, "Dana Whitfield checked in");
        assert_eq!(n.facts, ["Dispatched → On site"]);
        clean(&n);
    }

    #[test]
    fn a_refused_offline_step_says_what_and_why() {
        let n = say(
            "field.refused",
            "Dana Whitfield",
            Role::Technician,
            json!({}),
            json!({}),
            json!({"refused_action": "closeout.add_note", "code": "FORBIDDEN", "reason": "this job is not assigned to you"}),
        );
        assert_eq!(n.sentence, "Dana Whitfield could not save a note: done offline, refused when it arrived");
        assert_eq!(n.facts, ["Reason: this job is not assigned to you"]);
        clean(&n);
    }

    #[test]
    fn a_priority_change_names_both_priorities() {
        let n = say(
            "ticket.set_priority",
            "Sam Ortiz",
            Role::Operator,
            json!({"/priority": "standard"}),
            json!({"/priority": "urgent"}),
            json!(null),
        );
        assert_eq!(n.sentence, "Sam Ortiz changed the priority");
        assert_eq!(n.facts, ["Priority standard → urgent"]);
        assert_eq!(n.raw, ["priority: standard → urgent"]);
    }

    #[test]
    fn an_agent_is_named_by_its_role_and_a_machine_name_never_shows() {
        let n = say("ticket.create", "tok_01JABCDEFGHJK", Role::IntakeAgent, json!({}), json!({"": {}}), json!(null));
        assert_eq!(n.sentence, "Intake agent opened the ticket");
        assert_eq!(actor_label("usr_01J9Z8Y7X6W5", Some(Role::Operator)), "Dispatcher");
        assert_eq!(actor_label("system:cli", None), "Real Dispatch");
        assert_eq!(actor_label("", Some(Role::Customer)), "The customer");
    }

    #[test]
    fn an_eta_is_a_local_time_and_a_late_one_says_why() {
        let eta: i64 = 14 * 3_600_000 + 30 * 60_000 + 1_764_000_000_000_i64 / 86_400_000 * 86_400_000;
        let n = say(
            "dispatch.set_eta",
            "Sam Ortiz",
            Role::Operator,
            json!({"/eta": null}),
            json!({"/eta": {"eta_ms": eta, "note": null, "set_at_ms": eta, "late_reason": "the previous job ran over"}}),
            json!({"late_reason": "the previous job ran over"}),
        );
        assert_eq!(n.sentence, "Sam Ortiz set the ETA to 14:30");
        assert_eq!(n.facts, ["Running late: the previous job ran over"]);
        clean(&n);
        let moved = say(
            "dispatch.set_eta",
            "Sam Ortiz",
            Role::Operator,
            json!({"/eta/eta_ms": eta}),
            json!({"/eta/eta_ms": eta + 600_000}),
            json!(null),
        );
        assert_eq!(moved.sentence, "Sam Ortiz set the ETA to 14:40");
        assert_eq!(moved.raw, ["eta › eta: 14:30 → 14:40"]);
    }

    #[test]
    fn histories_and_money_are_counted_and_written_not_dumped() {
        let n = say(
            "closeout.add_note",
            "Dana Whitfield",
            Role::Technician,
            json!({"/notes": {"$len": 2}}),
            json!({"/notes": {"$append": [{"id": "not_01JABCDEFGH", "kind": "work_summary", "text": "Replaced igniter", "author": "usr_01JABCDEFGH", "created_at_ms": 1_764_000_000_000_i64}]}}),
            json!(null),
        );
        assert_eq!(n.sentence, "Dana Whitfield added the work summary");
        assert_eq!(n.raw, ["notes: +1 added"]);
        clean(&n);
        let paid = say(
            "billing.record_payment",
            "Sam Ortiz",
            Role::Operator,
            json!({"/payment": null, "/state": "invoice_ready"}),
            json!({"/payment": {"kind": "paid", "amount_cents": 15725, "due_ms": null, "recorded_at_ms": 1_764_000_000_000_i64}, "/state": "paid_or_ar"}),
            json!(null),
        );
        assert_eq!(paid.sentence, "Sam Ortiz recorded a payment of $157.25");
        assert_eq!(paid.facts, ["Invoice ready → Paid / AR"]);
        clean(&paid);
    }

    #[test]
    fn a_booking_names_its_window_and_technician() {
        let n = say(
            "ticket.book",
            "Sam Ortiz",
            Role::Operator,
            json!({"/appointment": null, "/assignment": null, "/state": "intake"}),
            json!({
                "/appointment": {"id": "apt_01JABCDEFGH", "start_ms": 9 * 3_600_000, "end_ms": 11 * 3_600_000, "technician_id": "tec_01JABCDEFGH"},
                "/assignment": {"technician_id": "tec_01JABCDEFGH", "technician_name": "Dana Whitfield", "assigned_at_ms": 0},
                "/state": "dispatched"
            }),
            json!(null),
        );
        assert_eq!(n.sentence, "Sam Ortiz booked for 09:00–11:00 with Dana Whitfield");
        assert_eq!(n.facts, ["Intake → Dispatched"]);
        clean(&n);
    }
}
