//! Backups that restore. A backup is a folder: the database as one consistent snapshot taken
//! while the server keeps serving (SQLite: `VACUUM INTO`; PostgreSQL: every table as JSON
//! Lines, exported in one repeatable-read transaction), every blob a row of that snapshot
//! names (copied with its recorded hash checked), the audit checkpoints' blob-store copies,
//! and `manifest.json` listing every file with its SHA-256.
//!
//! A restore checks every file against the manifest before it writes anything, refuses a
//! database or blob store that already holds data, and afterwards re-verifies the audit chain,
//! replays every case and re-hashes every file whose row records a hash.
//!
//! The audit signing key is never part of a backup: it lives outside the database so that
//! whoever holds the data cannot re-sign a rewritten chain (see `audit_key`).

use crate::audit_checkpoints::blob_key as checkpoint_key;
use crate::blob::{BlobError, BlobStore};
use crate::db::{Backend, Db};
use crate::error::ServiceError;
use crate::ids::now_ms;
use crate::service::Service;
use crate::store::backup as sql;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// The layout of a backup folder; a restore refuses a newer one.
pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
/// The SHA-256 of `manifest.json`, so that a changed byte in the manifest is found too.
const MANIFEST_HASH: &str = "manifest.sha256";
const SQLITE_FILE: &str = "database.sqlite";
const TABLES_DIR: &str = "tables";
const BLOBS_DIR: &str = "blobs";
/// Backups made by [`Service::backup_into`] are folders named `backup-<UTC time>`.
const NAME_PREFIX: &str = "backup-";
/// Rows per INSERT when a table is restored into PostgreSQL.
const IMPORT_BATCH: usize = 500;
/// Folders of the blob store that a restore requires to be empty.
pub(crate) const STORE_PREFIXES: &[&str] =
    &["uploads/", "attachments/", "packets/", crate::audit_checkpoints::BLOB_PREFIX];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
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
    /// The live data does not hold together (a row names a missing or changed blob).
    #[error("cannot back up: {0}")]
    Inconsistent(String),
    /// A file of the backup is missing or differs from the manifest: nothing was restored.
    #[error("the backup is damaged, nothing was restored: {0}")]
    Damaged(String),
    /// Refused before anything was written.
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.display().to_string(), source }
}

/// What `manifest.json` says of a backup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at_ms: i64,
    /// `sqlite` or `postgres`: a backup restores into the same kind of database.
    pub backend: String,
    /// The newest migration the database had.
    pub schema_version: i64,
    pub audit_head: AuditHead,
    /// Signed checkpoints in the snapshot.
    pub checkpoints: usize,
    /// Rows per table.
    pub tables: BTreeMap<String, i64>,
    /// Every file of the backup but the manifest, by its path inside the folder.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditHead {
    /// 0 for an empty chain.
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    /// The blob files (their store keys, and their paths in the backup).
    fn blobs(&self) -> impl Iterator<Item = (&str, &FileEntry)> {
        self.files.iter().filter_map(|f| Some((f.path.strip_prefix(BLOBS_DIR)?.strip_prefix('/')?, f)))
    }

    pub fn blob_count(&self) -> usize {
        self.blobs().count()
    }

    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

impl Service {
    /// Backs everything up into `dest`, a folder that must not exist yet. It is written as
    /// `<dest>.partial` and renamed when complete, so a folder named `dest` is always whole.
    #[tracing::instrument(name = "backup", skip(self), fields(dest = %dest.display()))]
    pub async fn backup(&self, dest: &Path) -> Result<Manifest, BackupError> {
        if tokio::fs::try_exists(dest).await.map_err(io(dest))? {
            return Err(BackupError::Refused(format!("{} already exists: back up into a new folder", dest.display())));
        }
        let partial = partial_path(dest);
        // Left by a backup that crashed: it was never complete.
        if tokio::fs::try_exists(&partial).await.map_err(io(&partial))? {
            tokio::fs::remove_dir_all(&partial).await.map_err(io(&partial))?;
        }
        tokio::fs::create_dir_all(&partial).await.map_err(io(&partial))?;
        let written = self.write_backup(&partial).await;
        match written {
            Ok(manifest) => {
                tokio::fs::rename(&partial, dest).await.map_err(io(dest))?;
                tracing::info!(
                    files = manifest.files.len(),
                    bytes = manifest.bytes(),
                    audit_seq = manifest.audit_head.seq,
                    "backup complete"
                );
                Ok(manifest)
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                Err(e)
            }
        }
    }

    /// [`Service::backup`] into a new folder under `parent` named for the time; returns it.
    pub async fn backup_into(&self, parent: &Path) -> Result<(PathBuf, Manifest), BackupError> {
        tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
        let mut dest = parent.join(backup_name(now_ms()));
        let mut n = 1;
        while tokio::fs::try_exists(&dest).await.map_err(io(&dest))? {
            n += 1;
            dest = parent.join(format!("{}-{n}", backup_name(now_ms())));
        }
        let manifest = self.backup(&dest).await?;
        Ok((dest, manifest))
    }

    async fn write_backup(&self, dir: &Path) -> Result<Manifest, BackupError> {
        let created_at_ms = now_ms();
        let mut files = vec![];
        let described = match self.db.backend() {
            Backend::Sqlite => {
                let file = dir.join(SQLITE_FILE);
                sql::vacuum_into(self.db.pool(), &file).await?;
                // Read from the copy, not the live file: the counts and the head are the copy's.
                let mut conn = sql::open_sqlite_file(&file).await?;
                let described = known_tables(&mut conn, false).await;
                let described = match described {
                    Ok(()) => sql::describe(&mut conn).await.map_err(BackupError::from),
                    Err(e) => Err(e),
                };
                sqlx::Connection::close(conn).await?;
                files.push(hash_file(dir, SQLITE_FILE).await?);
                described?
            }
            Backend::Postgres => {
                let mut tx = sql::begin_snapshot(self.db.pool()).await?;
                known_tables(&mut tx, true).await?;
                let described = sql::describe(&mut tx).await?;
                let tables = dir.join(TABLES_DIR);
                tokio::fs::create_dir_all(&tables).await.map_err(io(&tables))?;
                for table in sql::TABLES {
                    files.push(export_table(&mut tx, dir, table).await?);
                }
                tx.rollback().await?;
                described
            }
        };
        // Blobs are written before the rows that name them and never change under a key, so
        // every blob the snapshot names is in the store now, as it was then. (The sweep only
        // removes a blob an hour after no row names it: a backup would have to outlast that
        // for an upload expired since the snapshot to be missing, and then it fails and says so.)
        let mut keys: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for (key, hash) in &described.blobs {
            let known = keys.entry(key).or_default();
            if known.is_none() {
                *known = hash.as_deref();
            }
        }
        for (key, expected) in keys {
            let copied = self.copy_blob(dir, key, expected).await?;
            files.push(copied.ok_or_else(|| {
                BackupError::Inconsistent(format!("blob {key}, which the database names, is not in the blob store"))
            })?);
        }
        // A checkpoint whose copy was never stored is reported by `audit verify` as it is now.
        for seq in &described.checkpoints {
            if let Some(copied) = self.copy_blob(dir, &checkpoint_key(*seq), None).await? {
                files.push(copied);
            }
        }
        let (seq, hash) = described.audit_head;
        let manifest = Manifest {
            format: FORMAT,
            created_at_ms,
            backend: self.db.backend().as_str().to_string(),
            schema_version: described.schema_version,
            audit_head: AuditHead { seq, hash },
            checkpoints: described.checkpoints.len(),
            tables: described.rows,
            files,
        };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let path = dir.join(MANIFEST);
        tokio::fs::write(&path, &body).await.map_err(io(&path))?;
        let path = dir.join(MANIFEST_HASH);
        let line = format!("{}  {MANIFEST}\n", hex::encode(Sha256::digest(&body)));
        tokio::fs::write(&path, line).await.map_err(io(&path))?;
        Ok(manifest)
    }

    /// Copies one blob into the backup (see [`copy_blob`]).
    async fn copy_blob(&self, dir: &Path, key: &str, expected: Option<&str>) -> Result<Option<FileEntry>, BackupError> {
        copy_blob(self.blobs.as_ref(), dir, BLOBS_DIR, key, expected).await
    }
}

/// Copies one stored file to `<dir>/<under>/<key>`, hashing it on the way; None if the store
/// has no such key. A file whose row records a different hash is an error: the copy would carry
/// the damage forward.
pub(crate) async fn copy_blob(
    blobs: &dyn crate::blob::BlobStore,
    dir: &Path,
    under: &str,
    key: &str,
    expected: Option<&str>,
) -> Result<Option<FileEntry>, BackupError> {
    let mut reader = match blobs.open(key).await {
        Ok(r) => r,
        Err(BlobError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let rel = format!("{under}/{key}");
    let path = dir.join(&rel);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
    }
    let file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
    let mut out = tokio::io::BufWriter::with_capacity(crate::blob::WRITE_BUFFER, file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.body.read(&mut buf).await.map_err(|e| BlobError::Io(format!("reading {key}: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        out.write_all(&buf[..n]).await.map_err(io(&path))?;
    }
    out.flush().await.map_err(io(&path))?;
    let sha256 = hex::encode(hasher.finalize());
    if let Some(expected) = expected.filter(|e| *e != sha256) {
        return Err(BackupError::Inconsistent(format!(
            "file {key} has SHA-256 {sha256} in the store, but its row records {expected}"
        )));
    }
    Ok(Some(FileEntry { path: rel, size, sha256 }))
}

/// Refuses a snapshot with tables this release does not know: the backup would miss them.
async fn known_tables(conn: &mut sqlx::AnyConnection, postgres: bool) -> Result<(), BackupError> {
    let unknown = sql::unknown_tables(conn, postgres).await?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(BackupError::Inconsistent(format!("tables this release cannot back up: {}", unknown.join(", "))))
    }
}

/// PostgreSQL: one table as JSON Lines, hashed while written.
async fn export_table(conn: &mut sqlx::AnyConnection, dir: &Path, table: &str) -> Result<FileEntry, BackupError> {
    let rel = format!("{TABLES_DIR}/{table}.jsonl");
    let path = dir.join(&rel);
    let file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
    let mut out = tokio::io::BufWriter::with_capacity(crate::blob::WRITE_BUFFER, file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let query = sql::export_sql(table);
    let mut rows = sql::export_rows(conn, &query);
    while let Some(mut row) = rows.try_next().await? {
        row.push('\n');
        hasher.update(row.as_bytes());
        size += row.len() as u64;
        out.write_all(row.as_bytes()).await.map_err(io(&path))?;
    }
    out.flush().await.map_err(io(&path))?;
    Ok(FileEntry { path: rel, size, sha256: hex::encode(hasher.finalize()) })
}

pub(crate) async fn hash_file(dir: &Path, rel: &str) -> Result<FileEntry, BackupError> {
    let path = dir.join(rel);
    let mut file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(io(&path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileEntry { path: rel.to_string(), size, sha256: hex::encode(hasher.finalize()) })
}

pub(crate) fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

/// `backup-20261130T120000.123Z`: names sort in time order.
pub fn backup_name(at_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(at_ms) {
        Ok(t) => format!("{NAME_PREFIX}{}", t.strftime("%Y%m%dT%H%M%S%.3fZ")),
        Err(_) => format!("{NAME_PREFIX}{at_ms}"),
    }
}

/// The complete backups under `parent`, oldest first.
pub fn list_backups(parent: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let entries = match std::fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io(parent)(e)),
    };
    let mut found = vec![];
    for entry in entries {
        let entry = entry.map_err(io(parent))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(NAME_PREFIX) && !name.ends_with(".partial") && entry.path().join(MANIFEST).is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// The backup `path` names: the folder itself if it holds a manifest, else the newest
/// complete backup inside it.
pub fn locate(path: &Path) -> Result<PathBuf, BackupError> {
    if path.join(MANIFEST).is_file() {
        return Ok(path.to_path_buf());
    }
    list_backups(path)?.pop().ok_or_else(|| {
        BackupError::Refused(format!(
            "{} holds no backup (no {MANIFEST} in it or in a backup-* folder)",
            path.display()
        ))
    })
}

/// Removes all but the newest `keep` backups under `parent` (and folders of backups that never
/// finished, once a day old); returns what was removed.
#[tracing::instrument(name = "backup.prune", skip_all, fields(parent = %parent.display(), keep))]
pub fn prune(parent: &Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let backups = list_backups(parent)?;
    let mut removed = vec![];
    let cut = backups.len().saturating_sub(keep.max(1));
    for old in &backups[..cut] {
        std::fs::remove_dir_all(old).map_err(io(old))?;
        tracing::info!(backup = %old.display(), "old backup removed");
        removed.push(old.clone());
    }
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in std::fs::read_dir(parent).map_err(io(parent))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if name.starts_with(NAME_PREFIX) && name.ends_with(".partial") && stale.is_some_and(|age| age > day) {
            std::fs::remove_dir_all(entry.path()).map_err(io(&entry.path()))?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// When the newest complete backup under `parent` was made (unix ms).
pub fn newest_at_ms(parent: &Path) -> Result<Option<i64>, BackupError> {
    let Some(newest) = list_backups(parent)?.pop() else { return Ok(None) };
    let path = newest.join(MANIFEST);
    let body = std::fs::read(&path).map_err(io(&path))?;
    Ok(serde_json::from_slice::<Manifest>(&body).ok().map(|m| m.created_at_ms))
}

/// Reads the manifest and checks every file it lists, size and SHA-256; no file of the
/// backup is trusted before this passes.
#[tracing::instrument(name = "backup.check", skip_all, fields(dir = %dir.display()))]
pub async fn check_backup(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST);
    let body = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::Damaged(format!(
                "{} has no {MANIFEST}: not a backup, or one that never finished",
                dir.display()
            )))
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let hash_path = dir.join(MANIFEST_HASH);
    let recorded = match tokio::fs::read_to_string(&hash_path).await {
        Ok(t) => t.split_whitespace().next().unwrap_or_default().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::Damaged(format!("{MANIFEST_HASH} is missing")))
        }
        Err(e) => return Err(io(&hash_path)(e)),
    };
    let found = hex::encode(Sha256::digest(&body));
    if found != recorded {
        return Err(BackupError::Damaged(format!(
            "{MANIFEST} has SHA-256 {found}, but {MANIFEST_HASH} says {recorded}: the file was changed or damaged"
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&body)
        .map_err(|e| BackupError::Damaged(format!("{MANIFEST} cannot be read ({e}): it was changed or cut off")))?;
    if manifest.format > FORMAT {
        return Err(BackupError::Refused(format!(
            "this backup has format {}, newer than this release reads ({FORMAT}): restore it with the release that made it",
            manifest.format
        )));
    }
    let required: Vec<String> = match manifest.backend.as_str() {
        "sqlite" => vec![SQLITE_FILE.to_string()],
        "postgres" => sql::TABLES.iter().map(|t| format!("{TABLES_DIR}/{t}.jsonl")).collect(),
        other => return Err(BackupError::Damaged(format!("{MANIFEST} names an unknown database kind '{other}'"))),
    };
    for r in &required {
        if !manifest.files.iter().any(|f| &f.path == r) {
            return Err(BackupError::Damaged(format!("{MANIFEST} does not list {r}")));
        }
    }
    for f in &manifest.files {
        let safe = !f.path.is_empty()
            && f.path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\'));
        if !safe {
            return Err(BackupError::Damaged(format!("{MANIFEST} lists a path outside the backup: {}", f.path)));
        }
        let found = match hash_file(dir, &f.path).await {
            Ok(found) => found,
            Err(BackupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(BackupError::Damaged(format!("{} is missing", f.path)))
            }
            Err(e) => return Err(e),
        };
        if found.size != f.size || found.sha256 != f.sha256 {
            return Err(BackupError::Damaged(format!(
                "{} has SHA-256 {} ({} bytes), but the manifest says {} ({} bytes): the file was changed or damaged",
                f.path, found.sha256, found.size, f.sha256, f.size
            )));
        }
    }
    Ok(manifest)
}

/// Copies the backup in `dir` to `store` under `prefix` (a folder such as
/// `backups/backup-20261130T120000.000Z/`). The manifest goes last: a copy cut off midway has
/// none, and is not a backup.
#[tracing::instrument(name = "backup.upload", skip_all, fields(store = store.kind(), prefix))]
pub async fn upload(dir: &Path, manifest: &Manifest, store: &dyn BlobStore, prefix: &str) -> Result<(), BackupError> {
    for f in &manifest.files {
        store.put_file(&format!("{prefix}{}", f.path), "application/octet-stream", &dir.join(&f.path)).await?;
    }
    for name in [MANIFEST_HASH, MANIFEST] {
        store.put_file(&format!("{prefix}{name}"), "application/json", &dir.join(name)).await?;
    }
    Ok(())
}

/// The complete backups in `store` under `prefix` (each a folder `backup-*/` holding a
/// manifest), oldest first, as their prefixes.
pub async fn list_stored(store: &dyn BlobStore, prefix: &str) -> Result<Vec<String>, BackupError> {
    let mut found: Vec<String> = store
        .list(prefix)
        .await?
        .into_iter()
        .filter_map(|l| {
            let rest = l.key.strip_prefix(prefix)?;
            let (name, file) = rest.split_once('/')?;
            (name.starts_with(NAME_PREFIX) && file == MANIFEST).then(|| format!("{prefix}{name}/"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Removes all but the newest `keep` backups in `store` under `prefix`; returns what went.
pub async fn prune_stored(store: &dyn BlobStore, prefix: &str, keep: usize) -> Result<Vec<String>, BackupError> {
    let backups = list_stored(store, prefix).await?;
    let cut = backups.len().saturating_sub(keep.max(1));
    for old in &backups[..cut] {
        // The manifest first: a backup half removed is no longer taken for a whole one.
        store.delete(&format!("{old}{MANIFEST}")).await?;
        for l in store.list(old).await? {
            store.delete(&l.key).await?;
        }
    }
    Ok(backups[..cut].to_vec())
}

/// Copies the backup under `prefix` in `store` (or, if `prefix` holds no manifest, the newest
/// backup under it) into the empty local folder `into`, for [`check_backup`] and [`restore`].
#[tracing::instrument(name = "backup.download", skip_all, fields(store = store.kind(), prefix))]
pub async fn download(store: &dyn BlobStore, prefix: &str, into: &Path) -> Result<(), BackupError> {
    let prefix = match store.get(&format!("{prefix}{MANIFEST}")).await {
        Ok(_) => prefix.to_string(),
        Err(BlobError::NotFound(_)) => list_stored(store, prefix)
            .await?
            .pop()
            .ok_or_else(|| BackupError::Refused(format!("the store holds no backup under {prefix} (no {MANIFEST})")))?,
        Err(e) => return Err(e.into()),
    };
    for l in store.list(&prefix).await? {
        let Some(rel) = l.key.strip_prefix(&prefix) else { continue };
        let path = into.join(rel);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
        }
        let mut reader = store.open(&l.key).await?;
        let mut file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
        tokio::io::copy(&mut reader.body, &mut file).await.map_err(io(&path))?;
        file.flush().await.map_err(io(&path))?;
    }
    Ok(())
}

/// A backup restored: the database, open and migrated, and what was in the backup.
#[derive(Debug)]
pub struct Restored {
    pub db: Db,
    pub manifest: Manifest,
    pub blobs: usize,
}

/// Restores the backup in `dir` into the database at `url` and the blob store `blobs`, both
/// empty. Every file is checked against the manifest first; the database and the store are
/// checked for data next; only then is anything written. Run it with the server stopped.
pub async fn restore(dir: &Path, url: &str, blobs: &dyn BlobStore) -> Result<Restored, BackupError> {
    let manifest = check_backup(dir).await?;
    restore_checked(dir, manifest, url, blobs).await
}

/// [`restore`] of a backup whose files [`check_backup`] has just checked.
#[tracing::instrument(name = "restore", skip(manifest, url, blobs), fields(dir = %dir.display()))]
pub async fn restore_checked(
    dir: &Path,
    manifest: Manifest,
    url: &str,
    blobs: &dyn BlobStore,
) -> Result<Restored, BackupError> {
    let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
    if manifest.backend != backend.as_str() {
        return Err(BackupError::Refused(format!(
            "this backup is of a {} database; DATABASE_URL names a {} one",
            manifest.backend,
            backend.as_str()
        )));
    }
    let newest = Db::latest_migration(backend);
    if manifest.schema_version > newest {
        return Err(BackupError::Refused(format!(
            "this backup has schema version {}, newer than this release's ({newest}): restore it with a release at least as new as the one that made it",
            manifest.schema_version
        )));
    }
    for prefix in STORE_PREFIXES {
        let held = blobs.list(prefix).await?.len();
        if held > 0 {
            return Err(BackupError::Refused(format!(
                "the blob store ({}) already holds {held} files under {prefix}: restore into an empty one",
                blobs.kind()
            )));
        }
    }
    let db = match backend {
        Backend::Sqlite => restore_sqlite(dir, url).await?,
        Backend::Postgres => restore_postgres(dir, url, &manifest).await?,
    };
    let mut copied = 0;
    for (key, f) in manifest.blobs() {
        blobs.put_file(key, content_type_of(key), &dir.join(&f.path)).await?;
        copied += 1;
    }
    tracing::info!(blobs = copied, audit_seq = manifest.audit_head.seq, "backup restored");
    Ok(Restored { db, manifest, blobs: copied })
}

/// SQLite: the snapshot file takes the place of the database file (which may exist only if it
/// is empty), then is migrated forward if it is older than this release.
async fn restore_sqlite(dir: &Path, url: &str) -> Result<Db, BackupError> {
    let Some(file) = crate::db::sqlite_file(url) else {
        return Err(BackupError::Refused("restore needs a SQLite database file, not an in-memory database".into()));
    };
    if tokio::fs::try_exists(&file).await.map_err(io(&file))? {
        // Looked at read-only: a database that is refused is left exactly as it was. One this
        // release cannot read (another schema, not a database) counts as holding data.
        let size = tokio::fs::metadata(&file).await.map_err(io(&file))?.len();
        let empty = size == 0 || {
            let mut conn = sql::open_sqlite_file(&file).await?;
            let empty = sql::is_empty(&mut conn).await.unwrap_or(false);
            sqlx::Connection::close(conn).await?;
            empty
        };
        if !empty {
            return Err(BackupError::Refused(format!(
                "the database {} already holds data: restore into a new, empty one",
                file.display()
            )));
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = file.clone().into_os_string();
            name.push(suffix);
            match tokio::fs::remove_file(&name).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(Path::new(&name))(e)),
            }
        }
    }
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
    }
    // Copied aside and renamed: a crash mid-copy leaves no half database under the real name.
    let mut aside = file.clone().into_os_string();
    aside.push(".restoring");
    let aside = PathBuf::from(aside);
    tokio::fs::copy(dir.join(SQLITE_FILE), &aside).await.map_err(io(&aside))?;
    tokio::fs::rename(&aside, &file).await.map_err(io(&file))?;
    let db = Db::connect(url).await?;
    db.migrate().await?;
    Ok(db)
}

/// PostgreSQL: every table's rows go into the migrated, empty database in one transaction.
async fn restore_postgres(dir: &Path, url: &str, manifest: &Manifest) -> Result<Db, BackupError> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    if manifest.schema_version != Db::latest_migration(Backend::Postgres) {
        return Err(BackupError::Refused(format!(
            "this backup has schema version {}, this release {}: restore it with the release that made it, then upgrade",
            manifest.schema_version,
            Db::latest_migration(Backend::Postgres)
        )));
    }
    let mut conn = db.pool().acquire().await?;
    let empty = sql::is_empty(&mut conn).await?;
    drop(conn);
    if !empty {
        return Err(BackupError::Refused(format!(
            "the database {} already holds data: restore into a new, empty one",
            crate::db::redact_url(url)
        )));
    }
    let mut tx = db.begin_write().await?;
    sql::begin_import(&mut tx).await?;
    for table in sql::TABLES {
        let n = import_table(&mut tx, dir, table).await?;
        let listed = manifest.tables.get(*table).copied().unwrap_or(0);
        if n != listed {
            return Err(BackupError::Damaged(format!("{table}: {n} rows in its file, {listed} in the manifest")));
        }
    }
    sql::end_import(&mut tx).await?;
    tx.commit().await?;
    Ok(db)
}

async fn import_table(conn: &mut sqlx::AnyConnection, dir: &Path, table: &str) -> Result<i64, BackupError> {
    let path = dir.join(TABLES_DIR).join(format!("{table}.jsonl"));
    let file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut batch = String::from("[");
    let mut in_batch = 0;
    let mut total = 0i64;
    loop {
        let line = lines.next_line().await.map_err(io(&path))?;
        let done = line.is_none();
        if let Some(line) = line.filter(|l| !l.trim().is_empty()) {
            if in_batch > 0 {
                batch.push(',');
            }
            batch.push_str(&line);
            in_batch += 1;
        }
        if in_batch > 0 && (done || in_batch == IMPORT_BATCH) {
            batch.push(']');
            total += sql::import_rows(conn, table, &batch).await? as i64;
            batch.clear();
            batch.push('[');
            in_batch = 0;
        }
        if done {
            break;
        }
    }
    Ok(total)
}

/// The type a restored blob is stored with (downloads take theirs from the rows).
pub(crate) fn content_type_of(key: &str) -> &'static str {
    match key.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// What a restored instance was checked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreCheck {
    pub events: u64,
    pub cases: usize,
    /// Files re-hashed against the hash their row records.
    pub files_checked: usize,
    pub problems: Vec<String>,
}

impl Service {
    /// Checks a restored instance against its backup: the audit chain and its checkpoints
    /// verify, every case replays from its events, the head and the row counts are the
    /// manifest's, and every file whose row records a hash has it.
    #[tracing::instrument(name = "restore.check", skip_all)]
    pub async fn check_restore(&self, manifest: &Manifest) -> Result<RestoreCheck, BackupError> {
        let audit = self.verify_audit().await?;
        let mut problems = audit.problems;
        let replay = self.replay().await?;
        problems.extend(replay.mismatches);
        let mut conn = self.db.pool().acquire().await?;
        let now = sql::describe(&mut conn).await?;
        drop(conn);
        if now.audit_head.0 != manifest.audit_head.seq || now.audit_head.1 != manifest.audit_head.hash {
            problems.push(format!(
                "the audit head is seq {} ({}), the backup's seq {} ({})",
                now.audit_head.0, now.audit_head.1, manifest.audit_head.seq, manifest.audit_head.hash
            ));
        }
        if now.schema_version == manifest.schema_version {
            for (table, n) in &manifest.tables {
                let restored = now.rows.get(table).copied().unwrap_or(0);
                if restored != *n {
                    problems.push(format!("{table}: {restored} rows restored, {n} in the backup"));
                }
            }
        }
        let mut files_checked = 0;
        for (key, expected) in now.blobs.iter().filter_map(|(k, h)| Some((k, h.as_ref()?))) {
            match self.blob_sha256(key).await {
                Ok(found) if found == *expected => files_checked += 1,
                Ok(found) => problems.push(format!("blob {key}: SHA-256 {found}, its row records {expected}")),
                Err(e) => problems.push(format!("blob {key}: {e}")),
            }
        }
        Ok(RestoreCheck { events: audit.events, cases: replay.cases, files_checked, problems })
    }

    pub(crate) async fn blob_sha256(&self, key: &str) -> Result<String, BlobError> {
        let mut reader = self.blobs.open(key).await?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.body.read(&mut buf).await.map_err(|e| BlobError::Io(format!("reading {key}: {e}")))?;
            if n == 0 {
                return Ok(hex::encode(hasher.finalize()));
            }
            hasher.update(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_sort_in_time_order() {
        let a = super::backup_name(1_795_485_600_000);
        let b = super::backup_name(1_795_485_600_001);
        assert_eq!(a, "backup-20261124T020000.000Z");
        assert!(a < b);
    }
}
