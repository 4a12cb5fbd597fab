//! Server functions: typed calls from the browser, each one line into the service, one module
//! per surface. Everything is re-exported here, so pages name `crate::api::X`.

mod accounts;
mod approvals;
mod calendar;
mod console;
mod portal;
mod records;
mod session;
mod settings;
mod technician;
mod ticket;
mod updates;

pub use accounts::*;
pub use approvals::*;
pub use calendar::*;
pub use console::*;
pub use portal::*;
pub use records::*;
pub use session::*;
pub use settings::*;
pub use technician::*;
pub use ticket::*;
pub use updates::*;

#[cfg(feature = "ssr")]
use domain::Action;
use domain::{Case, FieldError, Role};
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
    use dispatch::users::{ClientAddr, CurrentActor};
    use dispatch::{CallContext, Service, ServiceError};
    use domain::{Actor, Role, SourceChannel};
    use leptos::prelude::*;

    pub fn service() -> Result<Service, ServerFnError> {
        use_context::<Service>().ok_or_else(|| ServerFnError::new("service unavailable"))
    }

    fn parts() -> Option<http::request::Parts> {
        use_context::<http::request::Parts>()
    }

    /// The signed-in actor of this request, resolved from the session by the server (never
    /// from anything the browser sends).
    pub fn current_actor() -> Option<Actor> {
        parts().and_then(|p| p.extensions.get::<CurrentActor>().cloned()).and_then(|a| a.0)
    }

    pub fn client_addr() -> String {
        parts().and_then(|p| p.extensions.get::<ClientAddr>().cloned()).map(|c| c.0).unwrap_or_else(|| "unknown".into())
    }

    /// Whether this call is a plain HTML form post (the page had no client): the browser then
    /// shows whatever the function answers, so it should be sent to a page instead.
    pub fn plain_form_post() -> bool {
        parts()
            .and_then(|p| p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_string))
            .is_some_and(|accept| accept.contains("text/html"))
    }

    /// Answers a plain form post with `303 See Other` to `path` (a page of this site), so the
    /// browser shows that page again instead of the function's answer. leptos_axum would
    /// send it back by the `Referer`, which these pages never send (`Referrer-Policy:
    /// no-referrer`).
    pub fn see_other(path: &str) {
        if let (Some(options), Ok(location)) =
            (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(path))
        {
            options.insert_header(http::header::LOCATION, location);
            options.set_status(http::StatusCode::SEE_OTHER);
        }
    }

    /// An id as one path segment: anything but letters, digits, `-` and `_` percent-encoded, so
    /// an id from a form can only name a page under the one it is put in.
    pub fn path_segment(id: &str) -> String {
        id.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    pub fn request_id() -> Option<String> {
        parts().and_then(|p| p.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string))
    }

    /// The call context of the signed-in actor, for a server function that declares, by a row
    /// of the action table, who may call it: anyone else is refused before any work (and the
    /// service checks again). Without a session, an error asking to sign in.
    pub fn context(action: domain::Action) -> Result<CallContext, ServerFnError> {
        // 401, so a page's queued steps can tell "sign in again" from a refusal of the step.
        let Some(actor) = current_actor() else {
            set_status(401);
            return Err(ServerFnError::new("please sign in again"));
        };
        if !action.allowed_for(actor.role) {
            tracing::warn!(actor = %actor.id, role = %actor.role, %action, "server function refused");
            set_status(403);
            return Err(ServerFnError::new(format!("this page is not for the {} role", actor.role)));
        }
        let channel = if actor.role == Role::Customer { SourceChannel::Webchat } else { SourceChannel::Internal };
        Ok(CallContext { channel, request_id: request_id(), ..CallContext::new(actor) })
    }

    /// Declares who may call a server function (the roles of `action`): its first statement,
    /// before any input is parsed or checked, so nobody else learns anything from it.
    pub fn allow(action: domain::Action) -> Result<(), ServerFnError> {
        context(action).map(|_| ())
    }

    pub async fn session() -> Result<tower_sessions::Session, ServerFnError> {
        leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| ServerFnError::new("sessions unavailable"))
    }

    /// A refusal as a server-function error, answered with the code's own HTTP status
    /// (400, 403, 404, 409, ...): only an internal error is a 500.
    pub fn error(e: ServiceError) -> ServerFnError {
        set_status(e.code().http_status());
        if let ServiceError::Busy { retry_after_secs, .. } | ServiceError::RateLimited { retry_after_secs, .. } = &e {
            if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
                options.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(*retry_after_secs));
            }
        }
        ServerFnError::new(e.public_message())
    }

    fn set_status(status: u16) {
        if let (Some(options), Ok(status)) =
            (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(status))
        {
            options.set_status(status);
        }
    }

    /// Runs one action of the table that answers with data (records, roster, accounts)
    /// through the service's one entry point (`Service::execute`), its answer read as `T`;
    /// case actions use `Service::execute_case`.
    pub async fn run<T: serde::de::DeserializeOwned>(
        input: domain::ActionInput,
    ) -> Result<Result<T, ServiceError>, ServerFnError> {
        let done = service()?.execute(&context(input.action())?, input).await;
        Ok(match done {
            Ok(dispatch::Done::Data(v) | dispatch::Done::Replayed(v)) => {
                serde_json::from_value(v).map_err(|e| ServiceError::Internal(e.to_string()))
            }
            Ok(dispatch::Done::Case(o)) => Err(ServiceError::Internal(format!("{} answers with a case", o.case.id))),
            Err(e) => Err(e),
        })
    }

    /// Service errors that the user can act on become form outcomes; the rest become
    /// server-function errors with the public message only.
    pub fn outcome<T>(r: Result<T, ServiceError>) -> Result<super::FormOutcome<T>, ServerFnError> {
        match r {
            Ok(v) => Ok(super::FormOutcome::Done(v)),
            Err(ServiceError::Domain(domain::DomainError::Invalid(fields))) => {
                Ok(super::FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields })
            }
            // Load is no fault of the form: the call fails as a whole (503 with Retry-After),
            // and the same submission may simply be sent again.
            Err(
                e @ (ServiceError::Internal(_)
                | ServiceError::Forbidden(_)
                | ServiceError::NotAllowed { .. }
                | ServiceError::Busy { .. }),
            ) => Err(error(e)),
            Err(e) => Ok(super::FormOutcome::Invalid { message: e.public_message(), fields: vec![] }),
        }
    }

    /// Where a role starts.
    pub fn home_of(role: Role) -> &'static str {
        match role {
            Role::Technician => "/tech",
            Role::Customer => "/portal",
            _ => "/console",
        }
    }
}

/// What a console action answers: the case after it, or what to fix.
pub type ActionResult = Result<FormOutcome<Case>, ServerFnError>;

#[cfg(feature = "ssr")]
fn case_of(r: Result<dispatch::Outcome, dispatch::ServiceError>) -> ActionResult {
    ssr::outcome(r.map(|o| o.case))
}

#[cfg(feature = "ssr")]
fn version(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}
