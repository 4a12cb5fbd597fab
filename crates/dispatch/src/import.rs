//! Moving in from an export (`import --all`): every file of the export is checked against its
//! manifest before anything is written; the database and the blob store must be empty; the
//! stored files go into the blob store, then every row goes into the database in one
//! transaction (so a failure leaves the database as it was, and the files are removed again);
//! then the result is proved: the audit chain and its checkpoints verify, every case replays
//! from its events, every row count and the audit head are the export's, and every file whose
//! row records a hash has it.

use crate::backup::{self, STORE_PREFIXES};
use crate::blob::BlobStore;
use crate::db::{Backend, Db};
use crate::export::{io, ExportError, ExportManifest, ExportScope, FORMAT, MANIFEST, VERSION};
use crate::service::Service;
use crate::store::export::{self as rows, Cell, KINDS, LOAD_BATCH};
use std::path::Path;
use tokio::io::AsyncBufReadExt;

/// Reads the manifest and checks every file it lists (size and SHA-256): nothing of an
/// export is trusted before this passes.
#[tracing::instrument(name = "import.check", skip_all, fields(dir = %dir.display()))]
pub async fn check_export(dir: &Path) -> Result<ExportManifest, ExportError> {
    let path = dir.join(MANIFEST);
    let body = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ExportError::Damaged(format!("{} has no {MANIFEST}: not an export", dir.display())))
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let manifest: ExportManifest = serde_json::from_slice(&body)
        .map_err(|e| ExportError::Damaged(format!("{MANIFEST} cannot be read ({e}): it was changed or cut off")))?;
    if manifest.format != FORMAT {
        return Err(ExportError::Damaged(format!("{MANIFEST} is of format '{}', not {FORMAT}", manifest.format)));
    }
    if manifest.version > VERSION {
        return Err(ExportError::Refused(format!(
            "this export has format version {}, newer than this release reads ({VERSION}): import it with a newer release",
            manifest.version
        )));
    }
    for f in &manifest.files {
        let safe = !f.path.is_empty()
            && f.path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\'));
        if !safe {
            return Err(ExportError::Damaged(format!("{MANIFEST} lists a path outside the export: {}", f.path)));
        }
        let found = match backup::hash_file(dir, &f.path).await {
            Ok(found) => found,
            Err(backup::BackupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(ExportError::Damaged(format!("{} is missing", f.path)))
            }
            Err(e) => return Err(e.into()),
        };
        if found.size != f.size || found.sha256 != f.sha256 {
            return Err(ExportError::Damaged(format!(
                "{} has SHA-256 {} ({} bytes), but the manifest says {} ({} bytes): the file was changed or damaged",
                f.path, found.sha256, found.size, f.sha256, f.size
            )));
        }
    }
    Ok(manifest)
}

/// The public keys that signed the export's audit checkpoints (from `audit_keys.jsonl`, which
/// [`check_export`] has checked).
pub async fn signing_keys(dir: &Path) -> Result<Vec<String>, ExportError> {
    let path = dir.join("audit_keys.jsonl");
    let body = match tokio::fs::read_to_string(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io(&path)(e)),
    };
    let mut keys = vec![];
    for (i, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| ExportError::Damaged(format!("audit_keys.jsonl line {}: {e}", i + 1)))?;
        let key = row["public_key"]
            .as_str()
            .ok_or_else(|| ExportError::Damaged(format!("audit_keys.jsonl line {}: no public_key", i + 1)))?;
        keys.push(key.to_string());
    }
    Ok(keys)
}

/// An export loaded: the database, open and migrated, and what was in the export.
#[derive(Debug)]
pub struct Imported {
    pub db: Db,
    pub manifest: ExportManifest,
    pub files: usize,
    pub rows: u64,
}

/// Loads the checked export in `dir` into the database at `url` and the blob store `blobs`,
/// both empty. Run it with the server stopped.
#[tracing::instrument(name = "import", skip(manifest, url, blobs), fields(dir = %dir.display()))]
pub async fn import_all(
    dir: &Path,
    manifest: ExportManifest,
    url: &str,
    blobs: &dyn BlobStore,
) -> Result<Imported, ExportError> {
    if let ExportScope::Customer { customer_id } = &manifest.scope {
        return Err(ExportError::Refused(format!(
            "this export holds one customer's data ({customer_id}), not everything: only a full export \
             (`export --to DIR` without --customer) can be imported with --all"
        )));
    }
    for kind in KINDS.iter().filter(|k| k.table.is_some()) {
        let file = format!("{}.jsonl", kind.file);
        if !manifest.files.iter().any(|f| f.path == file) {
            return Err(ExportError::Damaged(format!("{MANIFEST} does not list {file}")));
        }
    }
    // A kind this release does not know would be left behind without a word.
    for f in manifest.files.iter().filter(|f| !f.path.contains('/')) {
        let known = f.path.strip_suffix(".jsonl").and_then(rows::by_file).is_some();
        if !known {
            return Err(ExportError::Refused(format!(
                "the export holds {}, which this release does not know: import it with the release that made it, or a newer one",
                f.path
            )));
        }
    }
    let db = Db::connect(url).await?;
    db.migrate().await?;
    let mut conn = db.pool().acquire().await?;
    let empty = crate::store::backup::is_empty(&mut conn).await?;
    drop(conn);
    if !empty {
        return Err(ExportError::Refused(format!(
            "the database {} already holds data: import into a new, empty instance",
            crate::db::redact_url(url)
        )));
    }
    for prefix in STORE_PREFIXES {
        let held = blobs.list(prefix).await?.len();
        if held > 0 {
            return Err(ExportError::Refused(format!(
                "the blob store ({}) already holds {held} files under {prefix}: import into an empty one",
                blobs.kind()
            )));
        }
    }
    // Files first: a database that commits never names a file that is not there.
    let mut stored: Vec<&str> = vec![];
    let mut result = Ok(0);
    for (key, f) in manifest.stored_files() {
        if let Err(e) = blobs.put_file(key, backup::content_type_of(key), &dir.join(&f.path)).await {
            result = Err(ExportError::from(e));
            break;
        }
        stored.push(key);
    }
    if result.is_ok() {
        result = load_rows(&db, dir, &manifest).await;
    }
    match result {
        Ok(rows) => {
            tracing::info!(files = stored.len(), rows, "export imported");
            Ok(Imported { db, files: stored.len(), rows, manifest })
        }
        Err(e) => {
            // Nothing of a failed import stays: the rows were rolled back; the files go too.
            for key in stored {
                if let Err(d) = blobs.delete(key).await {
                    tracing::warn!(key, error = %d, "a file of the failed import could not be removed");
                }
            }
            Err(e)
        }
    }
}

/// Every row of the export, in one transaction, in the order of [`KINDS`] (parents first).
async fn load_rows(db: &Db, dir: &Path, manifest: &ExportManifest) -> Result<u64, ExportError> {
    let postgres = db.backend() == Backend::Postgres;
    let mut tx = db.begin_write().await?;
    let trigger = rows::begin_load(&mut tx, postgres).await?;
    let mut total = 0;
    for kind in KINDS.iter().filter(|k| k.table.is_some()) {
        let rel = format!("{}.jsonl", kind.file);
        let path = dir.join(&rel);
        let file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
        let mut lines = tokio::io::BufReader::new(file).lines();
        let mut batch: Vec<Vec<Cell>> = Vec::with_capacity(LOAD_BATCH);
        let (mut n, mut line_no) = (0u64, 0usize);
        while let Some(line) = lines.next_line().await.map_err(io(&path))? {
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            let cells =
                rows::cells(kind, &line).map_err(|e| ExportError::Damaged(format!("{rel} line {line_no}: {e}")))?;
            batch.push(cells);
            if batch.len() == LOAD_BATCH {
                n += insert(&mut tx, kind, &rel, line_no, &batch).await?;
                batch.clear();
            }
        }
        n += insert(&mut tx, kind, &rel, line_no, &batch).await?;
        let listed = manifest.records.get(kind.file).copied().unwrap_or(0);
        if n != listed {
            return Err(ExportError::Damaged(format!("{rel}: {n} rows in the file, {listed} in the manifest")));
        }
        total += n;
    }
    rows::end_load(&mut tx, postgres, trigger).await?;
    tx.commit().await?;
    Ok(total)
}

async fn insert(
    conn: &mut sqlx::AnyConnection,
    kind: &rows::Kind,
    rel: &str,
    line_no: usize,
    batch: &[Vec<Cell>],
) -> Result<u64, ExportError> {
    rows::insert(conn, kind, batch)
        .await
        .map_err(|e| ExportError::Damaged(format!("{rel}, the rows up to line {line_no}, cannot be loaded: {e}")))
}

/// What an imported instance was checked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCheck {
    pub events: u64,
    pub checkpoints_verified: u64,
    pub cases: usize,
    /// Files re-hashed against the hash their row records.
    pub files_checked: usize,
    pub problems: Vec<String>,
}

impl Service {
    /// The import itself, on the record: one event after the export's own, once the result
    /// is proved (so the chain it extends is the export's).
    pub async fn record_import(&self, ctx: &crate::CallContext, imported: &Imported) -> Result<(), ExportError> {
        let m = &imported.manifest;
        let detail = serde_json::json!({
            "export_created_at_ms": m.created_at_ms,
            "source": m.source,
            "records": imported.rows,
            "files": imported.files,
        });
        let mut tx = self.db.begin_write().await?;
        crate::audit::append(
            &mut tx,
            ctx,
            crate::audit::NewEvent { action: "data.import".into(), detail: Some(detail), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Proves an import: the audit chain and its checkpoints verify, every case replays from
    /// its events, the audit head and each kind's rows are the export's, and every file whose
    /// row records a hash has it.
    #[tracing::instrument(name = "import.check_result", skip_all)]
    pub async fn check_import(&self, manifest: &ExportManifest) -> Result<ImportCheck, ExportError> {
        let audit = self.verify_audit().await?;
        let mut problems = audit.problems;
        let replay = self.replay().await?;
        problems.extend(replay.mismatches);
        let mut conn = self.db.pool().acquire().await?;
        let (seq, hash) = rows::audit_head(&mut conn).await?;
        let head = &manifest.source.audit_head;
        if seq != head.seq || hash != head.hash {
            problems
                .push(format!("the audit head is seq {seq} ({hash}), the export's seq {} ({})", head.seq, head.hash));
        }
        for kind in KINDS.iter().filter(|k| k.table.is_some()) {
            let Some(table) = kind.table else { continue };
            let found = rows::count(&mut conn, table).await?;
            let listed = manifest.records.get(kind.file).copied().unwrap_or(0);
            if found != listed {
                problems.push(format!("{}: {found} rows imported, {listed} in the export", kind.file));
            }
        }
        let described = crate::store::backup::describe(&mut conn).await?;
        drop(conn);
        let mut files_checked = 0;
        for (key, expected) in described.blobs.iter().filter_map(|(k, h)| Some((k, h.as_ref()?))) {
            match self.blob_sha256(key).await {
                Ok(found) if found == *expected => files_checked += 1,
                Ok(found) => problems.push(format!("file {key}: SHA-256 {found}, its row records {expected}")),
                Err(e) => problems.push(format!("file {key}: {e}")),
            }
        }
        Ok(ImportCheck {
            events: audit.events,
            checkpoints_verified: audit.seals.verified,
            cases: replay.cases,
            files_checked,
            problems,
        })
    }
}
