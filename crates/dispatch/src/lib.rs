//! Real Dispatch service layer: the one implementation of every action.
//!
//! Every front end (server functions, the tool API, the CLI) calls [`Service`]; it authorises
//! the [`domain::Actor`], validates with the pure domain rules, and commits the state change
//! together with its audit event in one transaction.

pub mod audit;
pub mod billing;
pub mod blob;
pub mod case_store;
pub mod closeout;
pub mod db;
pub mod error;
pub mod execute;
pub mod files;
pub mod followups;
pub mod idempotency;
pub mod ids;
pub mod inbound;
pub mod packet;
pub mod packet_pdf;
pub mod photo_copies;
pub mod portal;
pub mod ratelimit;
pub mod records;
pub mod replay;
pub mod scheduling;
pub mod seed;
pub mod service;
pub mod sessions;
pub mod settings;
pub mod spool;
pub mod summary;
pub mod sweep;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tickets;
pub mod timeline;
pub mod tokens;
pub mod uploads;
pub mod users;

pub use blob::{BlobStore, LocalBlobStore, S3BlobStore, S3Settings};
pub use db::{Backend, Db};
pub use error::ServiceError;
pub use execute::Done;
pub use service::{CallContext, Outcome, Service};
pub use settings::ShopSettings;
