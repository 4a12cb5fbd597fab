//! Who is acting, in which role, and through which channel.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
    Technician,
    Customer,
    IntakeAgent,
    SchedulingAgent,
    TechLiaisonAgent,
    CloseoutAgent,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Operator,
        Role::Technician,
        Role::Customer,
        Role::IntakeAgent,
        Role::SchedulingAgent,
        Role::TechLiaisonAgent,
        Role::CloseoutAgent,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Technician => "technician",
            Role::Customer => "customer",
            Role::IntakeAgent => "intake_agent",
            Role::SchedulingAgent => "scheduling_agent",
            Role::TechLiaisonAgent => "tech_liaison_agent",
            Role::CloseoutAgent => "closeout_agent",
        }
    }

    pub const fn is_agent(self) -> bool {
        matches!(self, Role::IntakeAgent | Role::SchedulingAgent | Role::TechLiaisonAgent | Role::CloseoutAgent)
    }

    /// Roles an API token may carry (agents, and operators scripting the API).
    pub const fn is_token_role(self) -> bool {
        self.is_agent() || matches!(self, Role::Operator)
    }

    /// Roles a human account may carry.
    pub const fn is_human(self) -> bool {
        !self.is_agent()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role '{s}' (one of: {})", names.join(", "))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person logged in to the web app.
    User,
    /// An API token (OpenClaw agents, scripts).
    Token,
    /// The server itself (seeding, timers).
    System,
}

impl ActorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::System => "system",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
    pub role: Role,
    pub name: String,
    /// For technicians: the technician profile they act as (their jobs only).
    #[serde(default)]
    pub technician_id: Option<String>,
    /// For customers: the customer record they act as (their tickets only).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// For a customer who came by a portal link: the one ticket that link opens.
    #[serde(default)]
    pub ticket_scope: Option<String>,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>, role: Role, name: impl Into<String>) -> Self {
        Actor {
            kind,
            id: id.into(),
            role,
            name: name.into(),
            technician_id: None,
            customer_id: None,
            ticket_scope: None,
        }
    }

    pub fn system(name: &str) -> Self {
        Actor::new(ActorKind::System, format!("system:{name}"), Role::Admin, name)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceChannel {
    Whatsapp,
    Sms,
    Email,
    Webchat,
    Telegram,
    Voice,
    #[default]
    Internal,
}

impl SourceChannel {
    pub const ALL: [SourceChannel; 7] = [
        SourceChannel::Whatsapp,
        SourceChannel::Sms,
        SourceChannel::Email,
        SourceChannel::Webchat,
        SourceChannel::Telegram,
        SourceChannel::Voice,
        SourceChannel::Internal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            SourceChannel::Whatsapp => "whatsapp",
            SourceChannel::Sms => "sms",
            SourceChannel::Email => "email",
            SourceChannel::Webchat => "webchat",
            SourceChannel::Telegram => "telegram",
            SourceChannel::Voice => "voice",
            SourceChannel::Internal => "internal",
        }
    }
}

impl FromStr for SourceChannel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceChannel::ALL.into_iter().find(|c| c.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::json!(r.as_str())));
        }
        let err = "boss".parse::<Role>().unwrap_err();
        assert!(err.contains("intake_agent"), "{err}");
    }

    #[test]
    fn token_roles_are_agents_and_operator() {
        let token_roles: Vec<_> = Role::ALL.into_iter().filter(|r| r.is_token_role()).collect();
        assert_eq!(
            token_roles,
            vec![Role::Operator, Role::IntakeAgent, Role::SchedulingAgent, Role::TechLiaisonAgent, Role::CloseoutAgent]
        );
    }

    #[test]
    fn channels_parse() {
        assert_eq!("sms".parse(), Ok(SourceChannel::Sms));
        assert_eq!("fax".parse::<SourceChannel>(), Err(()));
    }
}
