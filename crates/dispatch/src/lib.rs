//! Real Dispatch service layer: the one implementation of every action.
//!
//! Every front end (server functions, the tool API, the CLI) calls [`Service`]; it authorises
//! the [`domain::Actor`], validates with the pure domain rules, and commits the state change
//! together with its audit event in one transaction.

pub mod actions;
pub mod audit_checkpoints;
pub mod audit_key;
pub mod audit_seal;
pub mod backlog;
pub mod backup;
pub mod blob;
pub mod context;
pub mod customer_updates;
pub mod error;
pub mod execute;
pub mod export;
pub mod field_refusals;
pub mod files;
pub mod followups;
pub mod ids;
pub mod import;
pub mod list_import;
pub mod packet;
pub mod packet_pdf;
pub mod photo_copies;
pub mod ratelimit;
pub mod replay;
pub mod seed;
pub mod service;
pub mod settings;
pub mod shop;
pub mod shop_rules;
pub mod spool;
pub mod store;
pub mod summary;
pub mod surfaces;
pub mod sweep;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod timeline;
pub mod tokens;
pub mod uploads;

// The store's and the actions' modules keep their short paths (`dispatch::db`, `dispatch::records`).
pub use actions::{billing, closeout, inbound, portal, records, scheduling, tickets, users};
pub use store::{audit, case_store, db, idempotency, sessions};

pub use blob::{BlobStore, LocalBlobStore, S3BlobStore, S3Settings};
pub use db::{Backend, Db};
pub use error::ServiceError;
pub use execute::{run_to_end, Done};
pub use service::{CallContext, Outcome, Service};
pub use settings::{Shop, ShopSettings};
