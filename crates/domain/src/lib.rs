//! The Real Dispatch domain: pure types and rules shared by the server and the browser.
//!
//! Nothing here performs I/O, so the same validation and the same lifecycle table run in the
//! service (authoritative) and in the wasm client (to offer only the actions legal right now).

pub mod action;
pub mod actor;
pub mod approval;
pub mod autonomy;
pub mod case;
pub mod command;
pub mod commands;
pub mod csv;
pub mod currency;
pub mod diff;
pub mod error;
pub mod eta;
pub mod image_check;
pub mod import_map;
pub mod invoice;
pub mod job_view;
pub mod media;
pub mod money;
pub mod portal_view;
pub mod priority;
pub mod records;
pub mod shop_profile;
pub mod slots;
pub mod state;
pub mod timeline;
pub mod updates;
pub mod validate;
pub mod views;
pub mod window;

pub use action::{Action, ActionInput, Audience};
pub use actor::{Actor, ActorKind, Role, SourceChannel};
pub use case::{Case, CaseSummary, ContactPerson, CustomerView, SiteView};
pub use command::{CreateTicket, KnownContact, NewCustomer, NewSite, ValidCreateTicket};
pub use commands::*;
pub use error::{DomainError, ErrorCode, FieldError};
pub use priority::Priority;
pub use state::CaseState;
