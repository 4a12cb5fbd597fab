//! Storage: the database (SQLite or PostgreSQL behind one write transaction), case loading,
//! the hash-chained audit trail, idempotency keys, browser sessions, and one query module per
//! aggregate. The actions above it read as rules; what SQL they still hold moves here.

pub mod audit;
pub mod case_store;
pub mod customers;
pub mod db;
pub mod idempotency;
pub mod sessions;
