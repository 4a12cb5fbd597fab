//! "Your data, any time": everything the shop keeps, or one customer's part of it, as plain
//! files in a documented format (`docs/export-format.md`) that any tool can read: one JSON
//! Lines file per kind of record, every attachment under `files/`, and `manifest.json`
//! listing every file with its size and SHA-256 and the format's version.
//!
//! Unlike a backup (a copy of the database for this release to restore), an export is a
//! stable, tool-independent description of the data; `import --all` (see `crate::import`)
//! loads it into another, empty instance. Rows are read inside one snapshot and streamed to
//! their files line by line, and files are copied in chunks: memory stays flat whatever the
//! size of the data (the manifest's list of files aside, a few hundred bytes a file).

use crate::audit::{self, NewEvent};
use crate::audit_checkpoints::blob_key as checkpoint_key;
use crate::backup::{self, FileEntry};
use crate::blob::BlobError;
use crate::db::Backend;
use crate::error::ServiceError;
use crate::ids::now_ms;
use crate::service::{CallContext, Service};
use crate::store::export::{self as rows, Kind, KINDS};
use domain::Action;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// What `manifest.json` calls the format.
pub const FORMAT: &str = "real-dispatch-export";
/// The format's version: raised when a file or field changes meaning or goes away (a new
/// file or field keeps it). An import refuses a newer version.
pub const VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
/// Stored files are under `files/<their key in the blob store>`.
pub const FILES_DIR: &str = "files";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database: {0}")]
    Connect(#[from] crate::db::DbError),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The live data does not hold together (a row names a missing or changed file).
    #[error("cannot export: {0}")]
    Inconsistent(String),
    /// A file of the export is missing or differs from the manifest: nothing was imported.
    #[error("the export is damaged, nothing was imported: {0}")]
    Damaged(String),
    /// Refused before anything was written.
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.display().to_string(), source }
}

impl From<backup::BackupError> for ExportError {
    fn from(e: backup::BackupError) -> Self {
        use backup::BackupError as B;
        match e {
            B::Io { path, source } => ExportError::Io { path, source },
            B::Db(e) => ExportError::Db(e),
            B::Connect(e) => ExportError::Connect(e),
            B::Blob(e) => ExportError::Blob(e),
            B::Service(e) => ExportError::Service(e),
            B::Inconsistent(m) => ExportError::Inconsistent(m),
            B::Damaged(m) => ExportError::Damaged(m),
            B::Refused(m) => ExportError::Refused(m),
        }
    }
}

/// Whose data an export holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportScope {
    /// Everything: what `import --all` loads.
    All,
    /// One customer's records, tickets, their messages and files, and the audit events of
    /// those tickets (a privacy request).
    Customer { customer_id: String },
}

impl ExportScope {
    fn customer(&self) -> Option<&str> {
        match self {
            ExportScope::All => None,
            ExportScope::Customer { customer_id } => Some(customer_id),
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportManifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    pub created_at_ms: i64,
    pub scope: ExportScope,
    pub source: ExportSource,
    /// Lines of each JSON Lines file, by its kind (`tickets` for `tickets.jsonl`).
    pub records: BTreeMap<String, u64>,
    /// Every file of the export but this manifest, by its path inside the export.
    pub files: Vec<FileEntry>,
}

/// Where an export came from (for people; an import checks only the audit head).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportSource {
    /// `sqlite` or `postgres`: an export loads into either.
    pub database: String,
    pub schema_version: i64,
    /// The newest audit event in the export: seq 0 and "" for none.
    pub audit_head: backup::AuditHead,
}

impl ExportManifest {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The stored files (their keys in the blob store, and their entries).
    pub fn stored_files(&self) -> impl Iterator<Item = (&str, &FileEntry)> {
        self.files.iter().filter_map(|f| Some((f.path.strip_prefix(FILES_DIR)?.strip_prefix('/')?, f)))
    }

    pub fn rows(&self) -> u64 {
        self.records.values().sum()
    }
}

/// An export the caller may make and that is on the record (see [`Service::permit_export`]).
#[derive(Debug)]
pub struct ExportPermit {
    scope: ExportScope,
}

/// `real-dispatch-export-20261130T120000.123Z`: the name of an export made at `at_ms`.
pub fn export_name(at_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(at_ms) {
        Ok(t) => format!("real-dispatch-export-{}", t.strftime("%Y%m%dT%H%M%S%.3fZ")),
        Err(_) => format!("real-dispatch-export-{at_ms}"),
    }
}

impl Service {
    /// Exports into `dest`, a folder that must not exist yet (it is written as
    /// `<dest>.partial` and renamed when complete). Admins only; the export itself is an
    /// audit event (`data.export`), written first.
    #[tracing::instrument(name = "export", skip(self, ctx), fields(dest = %dest.display(), actor = %ctx.actor.id))]
    pub async fn export(
        &self,
        ctx: &CallContext,
        dest: &Path,
        scope: &ExportScope,
    ) -> Result<ExportManifest, ExportError> {
        if tokio::fs::try_exists(dest).await.map_err(io(dest))? {
            return Err(ExportError::Refused(format!("{} already exists: export into a new folder", dest.display())));
        }
        let permit = self.permit_export(ctx, scope).await?;
        self.export_permitted(permit, dest).await
    }

    /// The first half of [`Service::export`], for a door that answers before the files are
    /// written (the download): the caller may export this scope (admins only; the customer
    /// exists), and the export is on the record.
    pub async fn permit_export(&self, ctx: &CallContext, scope: &ExportScope) -> Result<ExportPermit, ExportError> {
        self.authorize(ctx, Action::DataExport)?;
        if let Some(id) = scope.customer() {
            let mut conn = self.db.pool().acquire().await?;
            crate::case_store::load_customer(&mut conn, id)
                .await
                .map_err(|_| ServiceError::invalid("customer", "not_found", "no such customer"))?;
        }
        let mut tx = self.db.begin_write().await?;
        let detail = serde_json::to_value(scope).map_err(|e| ServiceError::Internal(e.to_string()))?;
        audit::append(
            &mut tx,
            ctx,
            NewEvent {
                action: "data.export".into(),
                detail: Some(serde_json::json!({"scope": detail})),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ExportPermit { scope: scope.clone() })
    }

    /// The second half of [`Service::export`]: the files of a permitted export, into `dest`.
    #[tracing::instrument(name = "export.write", skip_all, fields(dest = %dest.display()))]
    pub async fn export_permitted(&self, permit: ExportPermit, dest: &Path) -> Result<ExportManifest, ExportError> {
        if tokio::fs::try_exists(dest).await.map_err(io(dest))? {
            return Err(ExportError::Refused(format!("{} already exists: export into a new folder", dest.display())));
        }
        let partial = backup::partial_path(dest);
        if tokio::fs::try_exists(&partial).await.map_err(io(&partial))? {
            tokio::fs::remove_dir_all(&partial).await.map_err(io(&partial))?;
        }
        tokio::fs::create_dir_all(&partial).await.map_err(io(&partial))?;
        match self.write_export(&partial, &permit.scope).await {
            Ok(manifest) => {
                tokio::fs::rename(&partial, dest).await.map_err(io(dest))?;
                tracing::info!(
                    files = manifest.files.len(),
                    bytes = manifest.bytes(),
                    rows = manifest.rows(),
                    "export complete"
                );
                Ok(manifest)
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                Err(e)
            }
        }
    }

    async fn write_export(&self, dir: &Path, scope: &ExportScope) -> Result<ExportManifest, ExportError> {
        let created_at_ms = now_ms();
        let customer = scope.customer();
        let mut files = vec![];
        let mut records = BTreeMap::new();
        // One snapshot for every kind: on SQLite a read transaction (writers go on in the
        // write-ahead log), on PostgreSQL a repeatable-read, read-only one.
        let mut tx = match self.db.backend() {
            Backend::Sqlite => self.db.pool().begin().await?,
            Backend::Postgres => crate::store::backup::begin_snapshot(self.db.pool()).await?,
        };
        let schema_version = rows::schema_version(&mut tx).await?;
        let (head_seq, head_hash) = match customer {
            None => rows::audit_head(&mut tx).await?,
            Some(c) => rows::audit_head_of_customer(&mut tx, c).await?,
        };
        for kind in KINDS {
            let Some(sql) = rows::select_sql(kind, customer.is_some()) else { continue };
            let (entry, lines) = write_kind(&mut tx, dir, kind, &sql, customer).await?;
            records.insert(kind.file.to_string(), lines);
            files.push(entry);
        }
        tx.rollback().await?;
        // Stored files never change under their key and are written before the rows that
        // name them, so each file the snapshot names is in the store as it was.
        self.copy_named(dir, "attachments", attachment_files, true, &mut files).await?;
        self.copy_named(dir, "closeout_packets", packet_files, true, &mut files).await?;
        // The shop's logo is named by a setting, not by a column.
        self.copy_named(dir, "shop_settings", logo_files, true, &mut files).await?;
        // A checkpoint whose copy was never stored is reported by `audit verify` as it is now.
        self.copy_named(dir, "audit_checkpoints", checkpoint_files, false, &mut files).await?;
        let manifest = ExportManifest {
            format: FORMAT.into(),
            version: VERSION,
            created_at_ms,
            scope: scope.clone(),
            source: ExportSource {
                database: self.db.backend().as_str().into(),
                schema_version,
                audit_head: backup::AuditHead { seq: head_seq, hash: head_hash },
            },
            records,
            files,
        };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let path = dir.join(MANIFEST);
        tokio::fs::write(&path, &body).await.map_err(io(&path))?;
        Ok(manifest)
    }

    /// Copies every stored file the lines of `<kind>.jsonl` name (as `pick` finds them) into
    /// `files/`, reading the lines back one at a time. A file a row names must be there
    /// (`required`) and have the hash the row records.
    async fn copy_named(
        &self,
        dir: &Path,
        kind: &str,
        pick: fn(&serde_json::Value) -> Vec<Named>,
        required: bool,
        files: &mut Vec<FileEntry>,
    ) -> Result<(), ExportError> {
        let path = dir.join(format!("{kind}.jsonl"));
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            // Not part of this export (a per-customer one).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut lines = tokio::io::BufReader::new(file).lines();
        while let Some(line) = lines.next_line().await.map_err(io(&path))? {
            let row: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| ServiceError::Internal(format!("{kind}.jsonl as written cannot be read back: {e}")))?;
            for (key, expected) in pick(&row) {
                match self.copy_stored(dir, &key, expected.as_deref()).await? {
                    Some(entry) => files.push(entry),
                    None if required => {
                        return Err(ExportError::Inconsistent(format!(
                            "file {key}, which {kind} names, is not in the blob store"
                        )))
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Copies one stored file to `files/<key>`, hashing it on the way; None if the store has
    /// no such key.
    async fn copy_stored(
        &self,
        dir: &Path,
        key: &str,
        expected: Option<&str>,
    ) -> Result<Option<FileEntry>, ExportError> {
        Ok(backup::copy_blob(self.blobs.as_ref(), dir, FILES_DIR, key, expected).await?)
    }
}

/// A stored file a row names: its key, and the SHA-256 the row records for it, if any.
type Named = (String, Option<String>);

fn text(row: &serde_json::Value, field: &str) -> Option<String> {
    row.get(field)?.as_str().map(str::to_string)
}

/// An attachment's original (with the hash its row records), thumbnail and customer copy.
fn attachment_files(row: &serde_json::Value) -> Vec<Named> {
    [("blob_key", text(row, "sha256")), ("thumb_key", None), ("view_key", None)]
        .into_iter()
        .filter_map(|(k, h)| Some((text(row, k)?, h)))
        .collect()
}

fn packet_files(row: &serde_json::Value) -> Vec<Named> {
    text(row, "blob_key").map(|k| (k, text(row, "sha256"))).into_iter().collect()
}

/// The shop's logo, from the setting that names it.
fn logo_files(row: &serde_json::Value) -> Vec<Named> {
    if text(row, "key").as_deref() != Some(domain::shop_profile::ShopKey::Logo.storage_key()) {
        return vec![];
    }
    row.get("value")
        .cloned()
        .and_then(|v| serde_json::from_value::<Option<domain::shop_profile::ShopLogo>>(v).ok().flatten())
        .map(|l| (l.blob_key, Some(l.sha256)))
        .into_iter()
        .collect()
}

/// The copy of a checkpoint the blob store keeps besides its row.
fn checkpoint_files(row: &serde_json::Value) -> Vec<Named> {
    row.get("seq").and_then(serde_json::Value::as_i64).map(|seq| (checkpoint_key(seq), None)).into_iter().collect()
}

/// Streams one kind's rows into `<file>.jsonl`, hashing while writing.
async fn write_kind(
    conn: &mut sqlx::AnyConnection,
    dir: &Path,
    kind: &Kind,
    sql: &str,
    customer: Option<&str>,
) -> Result<(FileEntry, u64), ExportError> {
    let rel = format!("{}.jsonl", kind.file);
    let path = dir.join(&rel);
    let file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
    let mut out = tokio::io::BufWriter::with_capacity(crate::blob::WRITE_BUFFER, file);
    let mut hasher = Sha256::new();
    let (mut size, mut lines) = (0u64, 0u64);
    let mut stream = rows::rows(conn, sql, customer);
    while let Some(row) = stream.try_next().await? {
        let mut line = rows::line(kind, &row)?;
        line.push('\n');
        hasher.update(line.as_bytes());
        size += line.len() as u64;
        lines += 1;
        out.write_all(line.as_bytes()).await.map_err(io(&path))?;
    }
    out.flush().await.map_err(io(&path))?;
    Ok((FileEntry { path: rel, size, sha256: hex::encode(hasher.finalize()) }, lines))
}
