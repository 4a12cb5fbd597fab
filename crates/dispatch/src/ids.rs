//! Identifiers and clock.

/// A new opaque id with a type prefix (`tkt_`, `cus_`, `evt_`, ...). Time-ordered (UUIDv7),
/// so new rows land at the end of their primary-key index instead of on a random page.
/// Ids are not secrets: tokens and links carry their own random secrets.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Milliseconds since the Unix epoch; the one time representation in storage.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
