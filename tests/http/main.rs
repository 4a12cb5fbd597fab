//! The server over real HTTP, on SQLite and PostgreSQL: the tool API, the browser door, the
//! console's server side, photos and the follow-up worker. One test binary, because each one
//! links the whole app.

mod support;

mod approvals;
mod assets;
mod audiences;
mod backup;
mod calendar;
mod console;
mod export;
mod field;
mod hardening;
mod limits;
mod metrics;
mod photos;
mod restart;
mod settings;
mod ticket_page;
mod tool_api;
mod traces;
mod under_load;
mod updates;
mod web_auth;
mod worker;
