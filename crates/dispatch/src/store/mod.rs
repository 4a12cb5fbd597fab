//! Storage: the database (SQLite or PostgreSQL behind one write transaction), case loading,
//! the hash-chained audit trail, idempotency keys, browser sessions, and one query module per
//! aggregate. Nothing above this module writes SQL: the actions read as rules.

pub mod accounts;
pub mod actor_names;
pub mod approvals;
pub mod audit;
pub mod audit_checkpoints;
pub mod autonomy;
pub mod backlog;
pub mod backup;
pub mod case_store;
pub mod case_tx;
pub mod case_writes;
pub mod customer_updates;
pub mod customers;
pub mod db;
pub mod export;
pub mod followups;
pub mod idempotency;
pub mod inbound;
pub mod links;
pub mod messages;
pub mod packets;
pub mod sessions;
pub mod shop_settings;
pub mod technicians;
pub mod templates;
pub mod tickets;
pub mod tokens;
pub mod uploads;
