//! Storage: the database (SQLite or PostgreSQL behind one write transaction), case loading,
//! the hash-chained audit trail, idempotency keys, browser sessions, and one query module per
//! aggregate. The actions above it read as rules; what SQL they still hold moves here.

pub mod accounts;
pub mod audit;
pub mod case_store;
pub mod case_tx;
pub mod case_writes;
pub mod customers;
pub mod db;
pub mod idempotency;
pub mod inbound;
pub mod links;
pub mod sessions;
pub mod technicians;
pub mod templates;
pub mod tickets;
