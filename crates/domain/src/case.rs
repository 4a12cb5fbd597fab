//! The canonical case: what every action returns and every surface shows.

use crate::actor::SourceChannel;
use crate::priority::Priority;
use crate::state::CaseState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    /// Human ticket number, `RD-000123`.
    pub number: String,
    pub state: CaseState,
    pub priority: Priority,
    pub problem_summary: Option<String>,
    pub trade: Option<String>,
    pub customer: CustomerView,
    pub site: Option<SiteView>,
    /// Compare-and-swap version: every committed change increments it.
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub preferred_channel: Option<SourceChannel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteView {
    pub id: String,
    pub address: String,
    pub access_notes: Option<String>,
}

pub fn ticket_number(n: i64) -> String {
    format!("RD-{n:06}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ticket_numbers_are_zero_padded() {
        assert_eq!(super::ticket_number(123), "RD-000123");
        assert_eq!(super::ticket_number(1_234_567), "RD-1234567");
    }
}
