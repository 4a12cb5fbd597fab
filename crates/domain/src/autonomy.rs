//! People over agents: a pause of every agent, of one agent role, or of the agents on one
//! ticket. While paused, agents' calls change nothing and their case summaries say so.

use crate::actor::Role;
use crate::error::{DomainError, FieldError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a pause covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum PauseScope {
    /// Every agent, on every ticket.
    All,
    /// One agent role (`scheduling_agent`, ...), on every ticket.
    Role { role: Role },
    /// Every agent, on one ticket.
    Ticket { ticket_id: String },
}

impl PauseScope {
    /// The stored key: `all`, `role:<role>`, `ticket:<id>`.
    pub fn key(&self) -> String {
        match self {
            PauseScope::All => "all".into(),
            PauseScope::Role { role } => format!("role:{role}"),
            PauseScope::Ticket { ticket_id } => format!("ticket:{}", ticket_id.trim()),
        }
    }

    pub fn from_key(key: &str) -> Option<PauseScope> {
        match key.split_once(':') {
            None if key == "all" => Some(PauseScope::All),
            Some(("role", r)) => r.parse().ok().map(|role| PauseScope::Role { role }),
            Some(("ticket", t)) => Some(PauseScope::Ticket { ticket_id: t.to_string() }),
            _ => None,
        }
    }

    /// The scopes that cover `ticket` for an agent of `role` (for people, who have no role
    /// pause: every agent's and the ticket's), broadest first.
    pub fn covering(role: Option<Role>, ticket: Option<&str>) -> Vec<PauseScope> {
        let mut scopes = vec![PauseScope::All];
        scopes.extend(role.map(|role| PauseScope::Role { role }));
        if let Some(t) = ticket {
            scopes.push(PauseScope::Ticket { ticket_id: t.trim().to_string() });
        }
        scopes
    }
}

impl fmt::Display for PauseScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PauseScope::All => f.write_str("all agents"),
            PauseScope::Role { role } => {
                write!(f, "the {} agent", role.as_str().trim_end_matches("_agent").replace('_', " "))
            }
            PauseScope::Ticket { ticket_id } => write!(f, "agents on ticket {ticket_id}"),
        }
    }
}

/// Which kind of scope a pause names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    All,
    Role,
    Ticket,
}

/// `autonomy.pause` and `autonomy.resume`: `{"scope": "all"}`, `{"scope": "role", "role":
/// "scheduling_agent"}` or `{"scope": "ticket", "ticket_id": "tkt_..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutonomyChange {
    pub scope: ScopeKind,
    /// With `scope: role`: the agent role.
    #[serde(default)]
    pub role: Option<Role>,
    /// With `scope: ticket`: the ticket.
    #[serde(default)]
    pub ticket_id: Option<String>,
    /// Why (shown to the agents in their case summary and to the office).
    #[serde(default)]
    pub reason: Option<String>,
}

impl AutonomyChange {
    pub fn new(scope: &PauseScope, reason: Option<&str>) -> AutonomyChange {
        let (kind, role, ticket_id) = match scope {
            PauseScope::All => (ScopeKind::All, None, None),
            PauseScope::Role { role } => (ScopeKind::Role, Some(*role), None),
            PauseScope::Ticket { ticket_id } => (ScopeKind::Ticket, None, Some(ticket_id.clone())),
        };
        AutonomyChange { scope: kind, role, ticket_id, reason: reason.map(str::to_string) }
    }

    /// The scope and the reason, or what is wrong with them.
    pub fn validate(&self) -> Result<(PauseScope, Option<String>), DomainError> {
        let mut errors = vec![];
        let scope = match (self.scope, self.role, self.ticket_id.as_deref().map(str::trim)) {
            (ScopeKind::All, None, None) => Some(PauseScope::All),
            (ScopeKind::Role, Some(role), None) if role.is_agent() => Some(PauseScope::Role { role }),
            (ScopeKind::Role, _, None) => {
                errors.push(FieldError::new("role", "not_an_agent", "one of the agent roles, like scheduling_agent"));
                None
            }
            (ScopeKind::Ticket, None, Some(t)) if !t.is_empty() && t.len() <= 64 => {
                Some(PauseScope::Ticket { ticket_id: t.to_string() })
            }
            (ScopeKind::Ticket, None, _) => {
                errors.push(FieldError::new("ticket_id", "required", "the id of the ticket (tkt_...)"));
                None
            }
            _ => {
                errors.push(FieldError::new(
                    "scope",
                    "invalid_scope",
                    "all; role with role; or ticket with ticket_id (one of them)",
                ));
                None
            }
        };
        let reason = crate::validate::optional_text("reason", self.reason.as_deref(), 500, &mut errors);
        match scope {
            Some(scope) if errors.is_empty() => Ok((scope, reason)),
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

/// A pause in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pause {
    pub scope: PauseScope,
    pub reason: Option<String>,
    pub paused_by: String,
    pub paused_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_keys_and_json() {
        for s in [
            PauseScope::All,
            PauseScope::Role { role: Role::SchedulingAgent },
            PauseScope::Ticket { ticket_id: "tkt_1".into() },
        ] {
            assert_eq!(PauseScope::from_key(&s.key()), Some(s.clone()));
        }
        let c: AutonomyChange =
            serde_json::from_str(r#"{"scope":"role","role":"intake_agent","reason":"new SOP"}"#).expect("json");
        assert_eq!(c.validate().ok(), Some((PauseScope::Role { role: Role::IntakeAgent }, Some("new SOP".into()))));
        let bad: AutonomyChange = serde_json::from_str(r#"{"scope":"role","role":"operator"}"#).expect("json");
        assert!(bad.validate().is_err(), "only agents are paused");
        let mixed: AutonomyChange = serde_json::from_str(r#"{"scope":"all","ticket_id":"tkt_1"}"#).expect("json");
        assert!(mixed.validate().is_err(), "one scope at a time");
        assert!(serde_json::from_str::<AutonomyChange>(r#"{"scope":"everything"}"#).is_err());
        assert!(serde_json::from_str::<AutonomyChange>(r#"{"scope":"all","colour":"red"}"#).is_err());
        let t = PauseScope::Ticket { ticket_id: "tkt_2".into() };
        assert_eq!(AutonomyChange::new(&t, None).validate().ok(), Some((t, None)));
    }

    #[test]
    fn scopes_read_as_words() {
        assert_eq!(PauseScope::Role { role: Role::TechLiaisonAgent }.to_string(), "the tech liaison agent");
        assert_eq!(PauseScope::All.to_string(), "all agents");
    }

    #[test]
    fn a_ticket_is_covered_by_every_broader_pause() {
        let keys: Vec<String> =
            PauseScope::covering(Some(Role::CloseoutAgent), Some("tkt_9")).iter().map(PauseScope::key).collect();
        assert_eq!(keys, ["all", "role:closeout_agent", "ticket:tkt_9"]);
        let people: Vec<String> = PauseScope::covering(None, Some("tkt_9")).iter().map(PauseScope::key).collect();
        assert_eq!(people, ["all", "ticket:tkt_9"]);
    }
}
