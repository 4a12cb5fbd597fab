//! `audit replay`: rebuild every case from its events alone and compare with stored state.

use crate::audit;
use crate::case_store::load_case;
use crate::error::ServiceError;
use crate::service::Service;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub cases: usize,
    pub events: usize,
    pub mismatches: Vec<String>,
}

impl Service {
    pub async fn replay(&self) -> Result<ReplayReport, ServiceError> {
        let events = audit::all_events(self.db.pool()).await?;
        let mut rebuilt: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        let mut mismatches = vec![];
        let mut counted = 0;
        for e in &events {
            let Some(ticket) = &e.ticket_id else { continue };
            counted += 1;
            let after: serde_json::Map<String, serde_json::Value> =
                match e.after_json.as_deref().map(serde_json::from_str) {
                    Some(Ok(serde_json::Value::Object(m))) => m,
                    _ => {
                        mismatches.push(format!("event {} (seq {}): no change set", e.id, e.seq));
                        continue;
                    }
                };
            let doc = rebuilt.entry(ticket.clone()).or_insert(serde_json::Value::Null);
            if let Err(err) = domain::diff::apply(doc, &after) {
                mismatches.push(format!("event {} (seq {}): {err}", e.id, e.seq));
            }
        }
        let mut conn = self.db.pool().acquire().await?;
        let ids = crate::case_store::all_ticket_ids(&mut conn).await?;
        for id in &ids {
            let stored = serde_json::to_value(load_case(&mut conn, id).await?)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            match rebuilt.remove(id) {
                None => mismatches.push(format!("ticket {id}: no events")),
                Some(doc) if doc != stored => {
                    mismatches.push(format!("ticket {id}: replayed state differs from the stored case"))
                }
                Some(_) => {}
            }
        }
        for id in rebuilt.keys() {
            mismatches.push(format!("ticket {id}: events for a ticket that does not exist"));
        }
        Ok(ReplayReport { cases: ids.len(), events: counted, mismatches })
    }
}
