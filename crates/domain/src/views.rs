//! Read models the console shows: the message thread and the audit timeline of a case.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEntry {
    pub at_ms: i64,
    pub direction: String,
    pub channel: String,
    pub sender: Option<String>,
    pub text: String,
}

/// One changed field of an event: its path in the case and the values before and after, as
/// compact JSON (`(absent)` where the field did not exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// One audit event of a case, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at_ms: i64,
    /// "Dana Whitfield checked in" ([`crate::timeline::narrate`]).
    pub sentence: String,
    /// "Priority standard → urgent", "Running late: traffic".
    pub facts: Vec<String>,
    /// Every changed field in words, for the disclosure.
    pub raw: Vec<String>,
    /// The action's name (`job.check_in`), for the disclosure and tests.
    pub action: String,
    pub channel: String,
    /// The agent's role ("Scheduling agent") when one of the AI agents took the action.
    pub agent: Option<String>,
}

/// What the dispatch board is narrowed to (empty strings: no narrowing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct BoardFilter {
    /// Ticket number (`RD-000123`, `123`), or text in the customer, contact, address or problem.
    pub query: String,
    pub state: String,
    pub priority: String,
    pub technician: String,
    pub trade: String,
    /// Paid and canceled tickets too (their columns follow the open ones): how last month's
    /// job is found.
    #[serde(default)]
    pub include_closed: bool,
}

/// One column of the board: a lifecycle state, how many tickets match, the first of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardColumn {
    pub state: crate::CaseState,
    pub count: usize,
    pub cards: Vec<crate::CaseSummary>,
}

/// The ticket number a search means, if it is one (`RD-000123`, `rd123`, `123`). Bare digits
/// longer than six are a phone number, not a ticket.
pub fn ticket_number_query(q: &str) -> Option<i64> {
    let q = q.trim().to_ascii_lowercase();
    let (digits, prefixed) = match q.strip_prefix("rd-").or_else(|| q.strip_prefix("rd")) {
        Some(d) => (d, true),
        None => (q.as_str(), false),
    };
    let max = if prefixed { 12 } else { 6 };
    (!digits.is_empty() && digits.len() <= max && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// One booked appointment on the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaItem {
    pub technician_id: String,
    pub technician_name: String,
    pub ticket_id: String,
    pub number: String,
    pub state: crate::CaseState,
    pub start_ms: i64,
    pub end_ms: i64,
    pub customer_name: String,
    pub site_address: Option<String>,
}

/// A lead nobody has acted on for this long gets flagged on the board.
pub const LEAD_UNTOUCHED_MS: i64 = 15 * 60 * 1000;

/// The service-level warnings of a board row at `now_ms`.
pub fn sla_badges(row: &crate::CaseSummary, now_ms: i64) -> Vec<&'static str> {
    use crate::CaseState as S;
    let mut out = vec![];
    if row.state == S::Lead && now_ms - row.updated_at_ms >= LEAD_UNTOUCHED_MS {
        out.push("untouched 15 min+");
    }
    if row.state == S::Dispatched && row.eta_ms.is_none() {
        out.push("no ETA");
    }
    if matches!(row.state, S::Scheduled | S::Dispatched) && row.appointment.is_some_and(|w| w.start_ms < now_ms) {
        out.push("late");
    }
    out
}

/// A short age: `45 s`, `12 min`, `5 h`, `3 d`.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// Pairs an event's `before` and `after` change maps into field changes, skipping the
/// bookkeeping every action touches (version, updated_at_ms).
pub fn field_changes(before: &serde_json::Value, after: &serde_json::Value) -> Vec<FieldChange> {
    let show = |v: Option<&serde_json::Value>| match v {
        None => "(absent)".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) if v.get("$absent").is_some() => "(absent)".to_string(),
        Some(v) => v.to_string(),
    };
    let Some(after) = after.as_object() else { return vec![] };
    after
        .iter()
        .filter(|(path, _)| !matches!(path.as_str(), "/version" | "/updated_at_ms"))
        .map(|(path, a)| {
            if path.is_empty() {
                // The whole case at once: its creation.
                return FieldChange { path: "(case)".into(), before: "(none)".into(), after: "created".into() };
            }
            FieldChange { path: path.clone(), before: clip(show(before.get(path))), after: clip(show(Some(a))) }
        })
        .collect()
}

/// Long values (a whole appointment, a line list) are cut for the timeline.
fn clip(s: String) -> String {
    clip_chars(&s, 160)
}

/// `s` cut to at most `max` characters, the last one an ellipsis when it was cut.
pub fn clip_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn row(state: crate::CaseState) -> crate::CaseSummary {
        crate::CaseSummary {
            id: "t".into(),
            number: "RD-000001".into(),
            state,
            priority: crate::Priority::Standard,
            problem_summary: None,
            trade: None,
            customer_name: "A".into(),
            customer_contact: None,
            site_address: None,
            technician_name: None,
            appointment: None,
            eta_ms: None,
            version: 1,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn badges_flag_untouched_leads_missing_etas_and_late_jobs() {
        use crate::CaseState as S;
        let min = 60_000;
        assert!(super::sla_badges(&row(S::Lead), 14 * min).is_empty());
        assert_eq!(super::sla_badges(&row(S::Lead), 15 * min), vec!["untouched 15 min+"]);
        assert_eq!(super::sla_badges(&row(S::Dispatched), 0), vec!["no ETA"]);
        let mut late = row(S::Scheduled);
        late.appointment = Some(crate::window::TimeWindow { start_ms: 10, end_ms: 20 });
        assert_eq!(super::sla_badges(&late, 11), vec!["late"]);
        assert!(super::sla_badges(&late, 9).is_empty());
        assert!(super::sla_badges(&row(S::Intake), 99 * min).is_empty());
    }

    #[test]
    fn ticket_numbers_are_recognised_in_searches() {
        assert_eq!(super::ticket_number_query("RD-000123"), Some(123));
        assert_eq!(super::ticket_number_query(" rd42 "), Some(42));
        assert_eq!(super::ticket_number_query("7"), Some(7));
        assert_eq!(super::ticket_number_query("Main St"), None);
        assert_eq!(super::ticket_number_query("RD-"), None);
        assert_eq!(super::ticket_number_query("5550100012"), None, "a phone number");
    }

    #[test]
    fn ages_read_short() {
        assert_eq!(super::age(59_000), "59 s");
        assert_eq!(super::age(12 * 60_000), "12 min");
        assert_eq!(super::age(5 * 3_600_000), "5 h");
        assert_eq!(super::age(3 * 86_400_000), "3 d");
        assert_eq!(super::age(-5), "0 s");
    }

    #[test]
    fn changes_pair_before_and_after_without_bookkeeping() {
        let before = json!({"/state": "intake", "/version": 1, "/eta": null});
        let after = json!({"/state": "scheduled", "/version": 2, "/eta": {"eta_ms": 5}});
        let c = super::field_changes(&before, &after);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].path, "/eta");
        assert_eq!(c[0].before, "null");
        assert_eq!(c[0].after, "{\"eta_ms\":5}");
        assert_eq!(c[1].before, "intake");
        assert_eq!(c[1].after, "scheduled");
        let created = super::field_changes(&json!({"": null}), &json!({"": {"number": "RD-1"}}));
        assert_eq!(created[0].after, "created");
        let long = super::field_changes(&json!({}), &json!({"/notes": "x".repeat(500)}));
        assert_eq!(long[0].after.chars().count(), 160);
    }
}
