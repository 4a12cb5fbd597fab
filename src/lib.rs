//! The Real Dispatch server: configuration, HTTP composition and the tool API door.
//! `main.rs` is the CLI around it; integration tests drive [`server::router`] over real HTTP.

pub mod api_error;
pub mod assets;
pub mod backup_schedule;
pub mod backups;
pub mod config;
pub mod drain;
pub mod export_download;
pub mod files;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod openclaw;
pub use dispatch::ratelimit;
pub mod server;
pub mod shop_logo;
pub mod state;
pub mod tarball;
pub mod telemetry;
pub mod tools;
pub mod trace;
pub mod web;
pub mod worker;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
