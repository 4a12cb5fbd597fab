//! The SQL of backups and restores (see `crate::backup`): a snapshot of SQLite by `VACUUM
//! INTO`, of PostgreSQL by exporting every table as JSON inside one repeatable-read
//! transaction, and the reverse on an empty database.

use futures_util::stream::BoxStream;
use sqlx::{AnyConnection, Connection, Row};
use std::collections::BTreeMap;
use std::path::Path;

/// Every table of the schema, parents before the tables that reference them, so rows can be
/// inserted in this order. [`unknown_tables`] finds a table added by a migration but not here.
pub const TABLES: &[&str] = &[
    "counters",
    "customers",
    "customer_contacts",
    "customer_people",
    "sites",
    "technicians",
    "technician_time_off",
    "checklist_templates",
    "state_transitions",
    "tickets",
    "appointments",
    "messages",
    "checklist_items",
    "notes",
    "attachments",
    "labor_lines",
    "part_lines",
    "invoice_drafts",
    "closeout_packets",
    "payments",
    "audit_events",
    "audit_streams",
    "users",
    "login_throttle",
    "sessions",
    "portal_links",
    "api_tokens",
    "idempotency_keys",
    "inbound_messages",
    "uploads",
    "followups",
    "autonomy_pauses",
    "approvals",
    "shop_settings",
    "conversation_bindings",
    "customer_updates",
    "audit_checkpoints",
];

/// Tables the migrations fill on an empty database; any other row makes a database non-empty.
const SEEDED: &[&str] = &["counters", "checklist_templates", "state_transitions"];

/// What a snapshot holds, read inside it.
#[derive(Debug, Clone, Default)]
pub struct Described {
    /// The newest migration applied.
    pub schema_version: i64,
    /// The newest event (seq, hash); (0, "") for an empty chain.
    pub audit_head: (i64, String),
    pub rows: BTreeMap<String, i64>,
    /// Every blob key a row names, with the SHA-256 the row records for it when it records one.
    pub blobs: Vec<(String, Option<String>)>,
    /// The seqs of the signed checkpoints (their blob-store copies belong to the snapshot).
    pub checkpoints: Vec<i64>,
}

/// Reads what [`Described`] lists, on a connection that sees one snapshot.
pub async fn describe(conn: &mut AnyConnection) -> Result<Described, sqlx::Error> {
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get("seq")?, r.try_get("hash")?)))
        .transpose()?
        .unwrap_or((0, String::new()));
    let mut rows = BTreeMap::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *conn).await?;
        rows.insert((*table).to_string(), n);
    }
    let blobs: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT blob_key, sha256 FROM attachments UNION ALL SELECT thumb_key, NULL FROM attachments \
         UNION ALL SELECT view_key, NULL FROM attachments UNION ALL SELECT blob_key, sha256 FROM uploads \
         UNION ALL SELECT thumb_key, NULL FROM uploads UNION ALL SELECT view_key, NULL FROM uploads \
         UNION ALL SELECT blob_key, sha256 FROM closeout_packets",
    )
    .fetch_all(&mut *conn)
    .await?;
    // The shop's logo is named by a setting (a JSON document), not by a column.
    let logo: Option<String> = sqlx::query_scalar("SELECT value_json FROM shop_settings WHERE key = $1")
        .bind(domain::shop_profile::ShopKey::Logo.storage_key())
        .fetch_optional(&mut *conn)
        .await?;
    let logo = logo
        .and_then(|raw| serde_json::from_str::<Option<domain::shop_profile::ShopLogo>>(&raw).ok().flatten())
        .map(|l| (Some(l.blob_key), Some(l.sha256)));
    let blobs: Vec<_> = blobs.into_iter().chain(logo).collect();
    let checkpoints =
        sqlx::query_scalar("SELECT seq FROM audit_checkpoints ORDER BY seq").fetch_all(&mut *conn).await?;
    Ok(Described {
        schema_version,
        audit_head: head,
        rows,
        blobs: blobs.into_iter().filter_map(|(k, h)| Some((k?, h))).collect(),
        checkpoints,
    })
}

/// Tables in the database that [`TABLES`] does not list (a backup would miss them).
pub async fn unknown_tables(conn: &mut AnyConnection, postgres: bool) -> Result<Vec<String>, sqlx::Error> {
    let sql = if postgres {
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations'"
    };
    let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *conn).await?;
    Ok(names.into_iter().filter(|n| !TABLES.contains(&n.as_str())).collect())
}

/// Whether the database holds anything beyond what the migrations put there.
pub async fn is_empty(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    for table in TABLES.iter().filter(|t| !SEEDED.contains(t)) {
        let any: Option<i64> =
            sqlx::query_scalar(&format!("SELECT 1 FROM {table} LIMIT 1")).fetch_optional(&mut *conn).await?;
        if any.is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// SQLite: a consistent copy of the whole database in a new file, written from one read
/// transaction while writers carry on.
pub async fn vacuum_into(pool: &sqlx::AnyPool, file: &Path) -> Result<(), sqlx::Error> {
    let target = file.to_str().ok_or_else(|| sqlx::Error::Protocol(format!("not a UTF-8 path: {}", file.display())))?;
    sqlx::query("VACUUM INTO $1").bind(target).execute(pool).await?;
    Ok(())
}

/// A read-only connection to a SQLite file (a snapshot, never the live database).
pub async fn open_sqlite_file(file: &Path) -> Result<AnyConnection, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&format!("sqlite://{}?mode=ro", file.display())).await
}

/// PostgreSQL: a transaction that sees one snapshot of every table and writes nothing.
pub async fn begin_snapshot(pool: &sqlx::AnyPool) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    Ok(tx)
}

/// PostgreSQL: the query [`export_rows`] runs for `table`.
pub fn export_sql(table: &str) -> String {
    // Ordered so that two backups of the same data are the same files.
    format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY 1")
}

/// PostgreSQL: every row of a table as one JSON object (its columns' names and values as
/// stored), by the query [`export_sql`] gives.
pub fn export_rows<'c>(conn: &'c mut AnyConnection, sql: &'c str) -> BoxStream<'c, Result<String, sqlx::Error>> {
    sqlx::query_scalar(sql).fetch(conn)
}

/// PostgreSQL: prepares an empty, migrated database to take the rows of a backup: the rows the
/// migrations seeded go (the backup has its own), and the tables' own triggers are off until
/// [`end_import`] (the state guard would refuse a ticket that does not start new, the chain's
/// head would follow each event). Needs only the tables' ownership, not a superuser.
pub async fn begin_import(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for table in TABLES.iter().rev() {
        sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER")).execute(&mut *conn).await?;
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *conn).await?;
    }
    Ok(())
}

/// PostgreSQL: inserts rows of `table` given as a JSON array of objects from [`export_rows`].
pub async fn import_rows(conn: &mut AnyConnection, table: &str, json_array: &str) -> Result<u64, sqlx::Error> {
    let sql = format!("INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, $1::json)");
    Ok(sqlx::query(&sql).bind(json_array).execute(&mut *conn).await?.rows_affected())
}

pub async fn end_import(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for table in TABLES {
        sqlx::query(&format!("ALTER TABLE {table} ENABLE TRIGGER USER")).execute(&mut *conn).await?;
    }
    restart_sequences(conn).await
}

/// PostgreSQL, after rows were copied in: the sequences of event seqs and ticket numbers go on
/// after the newest ones.
pub async fn restart_sequences(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    for (sequence, newest) in
        [("audit_seq", "SELECT MAX(seq) FROM audit_events"), ("ticket_number_seq", "SELECT MAX(number) FROM tickets")]
    {
        sqlx::query(&format!(
            "SELECT setval('{sequence}', GREATEST(COALESCE(({newest}), 0), 1), COALESCE(({newest}), 0) > 0)"
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The rows of every table, for comparing a restore with its backup.
pub async fn row_counts(conn: &mut AnyConnection) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let mut rows = BTreeMap::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *conn).await?;
        rows.insert((*table).to_string(), n);
    }
    Ok(rows)
}
