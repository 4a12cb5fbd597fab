//! The actions of the table (`domain::action`), one module per area: each a service function
//! that authorises by the table, validates, and commits through the store.

pub mod approvals;
pub mod autonomy;
pub mod billing;
pub mod closeout;
pub mod inbound;
pub mod portal;
pub mod records;
pub mod scheduling;
pub mod tickets;
pub mod users;
