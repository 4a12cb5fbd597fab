//! Server functions: typed calls from the browser, each one line into the service.

use domain::{Case, CaseSummary, FieldError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The result of a form submission: the new state, or what to fix, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormOutcome<T> {
    Done(T),
    Invalid { message: String, fields: Vec<FieldError> },
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use dispatch::{CallContext, Service, ServiceError};
    use domain::{Actor, ActorKind, Role, SourceChannel};
    use leptos::prelude::*;

    pub fn service() -> Result<Service, ServerFnError> {
        use_context::<Service>().ok_or_else(|| ServerFnError::new("service unavailable"))
    }

    /// The console's actor. Until sign-in exists, the console acts as one operator seat and
    /// the server listens on loopback by default.
    pub fn console_context() -> CallContext {
        let actor = Actor::new(ActorKind::User, "console", Role::Operator, "Console");
        CallContext { channel: SourceChannel::Internal, ..CallContext::new(actor) }
    }

    /// Service errors that the user can act on become form outcomes; the rest become
    /// server-function errors with the public message only.
    pub fn outcome<T>(r: Result<T, ServiceError>) -> Result<super::FormOutcome<T>, ServerFnError> {
        match r {
            Ok(v) => Ok(super::FormOutcome::Done(v)),
            Err(ServiceError::Domain(domain::DomainError::Invalid(fields))) => {
                Ok(super::FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields })
            }
            Err(e @ (ServiceError::Internal(_) | ServiceError::Forbidden(_))) => {
                Err(ServerFnError::new(e.public_message()))
            }
            Err(e) => Ok(super::FormOutcome::Invalid { message: e.public_message(), fields: vec![] }),
        }
    }
}

#[server(endpoint = "list_cases")]
pub async fn list_cases() -> Result<Vec<CaseSummary>, ServerFnError> {
    let service = ssr::service()?;
    let filter = dispatch::tickets::CaseFilter { limit: Some(200), ..Default::default() };
    service.cases(&ssr::console_context(), &filter).await.map_err(|e| ServerFnError::new(e.public_message()))
}

#[server(endpoint = "create_ticket")]
pub async fn create_ticket(
    customer_name: String,
    phone: String,
    email: String,
    address: String,
    problem_summary: String,
    trade: String,
    priority: String,
) -> Result<FormOutcome<Case>, ServerFnError> {
    use domain::{CreateTicket, NewCustomer, NewSite};
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let priority = match priority.parse() {
        Ok(p) => Some(p),
        Err(()) if priority.trim().is_empty() => None,
        Err(()) => {
            return Ok(FormOutcome::Invalid {
                message: "Please correct the highlighted fields.".into(),
                fields: vec![FieldError::new("priority", "invalid_priority", "standard, urgent or emergency")],
            })
        }
    };
    let input = CreateTicket {
        customer: NewCustomer {
            name: opt(customer_name),
            phone: opt(phone),
            email: opt(email),
            preferred_channel: None,
        },
        site: opt(address).map(|a| NewSite { address: Some(a), ..Default::default() }),
        problem_summary: opt(problem_summary),
        trade: opt(trade),
        priority,
        ..Default::default()
    };
    let service = ssr::service()?;
    ssr::outcome(service.create_ticket(&ssr::console_context(), &input).await.map(|o| o.case))
}
