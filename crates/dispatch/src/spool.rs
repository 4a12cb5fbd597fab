//! Incoming files, received chunk by chunk while they are hashed, measured, typed by their
//! magic bytes and checked for completeness, so memory stays flat whatever their size. Every
//! door that accepts files (the tool API, the web app) receives through here.
//!
//! With a blob store attached, an image is streamed into the store as it arrives, and a local
//! copy is kept only while the file is small enough to make previews from. Anything that is
//! not an image can be refused at its first bytes.

use crate::blob::{BlobSink, BlobStore};
use crate::error::ServiceError;
use domain::image_check::{ImageDefect, IntegrityCheck};
use domain::FieldError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Spool files are named so that the sweep can tell them from anything else in the folder.
pub const FILE_PREFIX: &str = "rd-upload-";

/// A spool file untouched for this long belongs to no upload: the process that wrote it
/// crashed or was killed. Files in flight are written at least once per megabyte (the write
/// buffer) and uploads have a minimum rate, so they are never this idle; a received file is
/// only kept while its upload is stored, seconds.
pub const ORPHAN_AFTER_MS: i64 = 60 * 60 * 1000;

/// Bytes needed to recognise every accepted type.
const HEAD: usize = 32;
use crate::blob::WRITE_BUFFER;

/// Why a spool stopped taking bytes.
#[derive(Debug)]
pub enum SpoolError {
    /// More than the configured limit.
    TooLarge {
        limit: u64,
    },
    /// The first bytes are not those of an accepted image (streaming spools only).
    NotAnImage,
    /// The body did not match the size its sender declared.
    WrongLength,
    Io(std::io::Error),
    Store(crate::blob::BlobError),
}

/// The refusal of a file that is not an accepted image, for `field` (the input that carried
/// it). Every door's image refusals are worded here and in [`image_verdict`].
pub fn not_an_image(field: &str) -> FieldError {
    FieldError::new(
        field,
        "unsupported_type",
        "a JPEG, PNG, WebP or HEIC/HEIF image (the file's content is none of these)",
    )
}

/// Whether a file, as sniffed and checked, is an accepted and complete image: its type, or
/// the error for `field`.
pub fn image_verdict(
    field: &str,
    sniffed: Option<&'static str>,
    defect: Option<ImageDefect>,
) -> Result<&'static str, FieldError> {
    let content_type = sniffed.ok_or_else(|| not_an_image(field))?;
    match defect {
        Some(d) => Err(FieldError::new(field, d.code(), d.message())),
        None => Ok(content_type),
    }
}

/// Where the original went when it was streamed into the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedOriginal {
    pub upload_id: String,
    pub key: String,
}

/// A file being received.
pub struct Spool {
    path: PathBuf,
    /// Buffered: network chunks are small, and every write to a tokio file is a hop to a
    /// blocking thread.
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    /// The local copy is dropped once the file grows past this.
    keep_local: u64,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
    check: Option<IntegrityCheck>,
    store: Option<Arc<dyn BlobStore>>,
    sink: Option<Box<dyn BlobSink>>,
    streamed: Option<StreamedOriginal>,
    /// Refuse anything but an accepted image at its first bytes.
    images_only: bool,
    /// The exact size the sender declared, when it did.
    declared: Option<u64>,
}

/// A file fully received; its local copy (if any) is removed when this is dropped.
#[derive(Debug)]
pub struct Spooled {
    /// The local copy, when the file was small enough to keep one.
    pub path: Option<PathBuf>,
    pub sha256: String,
    pub size: u64,
    /// The type its magic bytes say, if it is an accepted image.
    pub content_type: Option<&'static str>,
    /// Whether the image's own structure is complete (None when the type is not an image).
    pub defect: Option<ImageDefect>,
    /// The original, already in the blob store (streaming spools).
    pub streamed: Option<StreamedOriginal>,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Spool {
    /// A new spool in `dir` accepting at most `limit` bytes, kept on local disk.
    pub async fn create(dir: &Path, limit: u64) -> Result<Spool, SpoolError> {
        let path = dir.join(format!("{FILE_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        let file = match tokio::fs::File::create(&path).await {
            Ok(f) => f,
            // The folder is made on first use (or again, if someone removed it).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tokio::fs::create_dir_all(dir).await.map_err(SpoolError::Io)?;
                tokio::fs::File::create(&path).await.map_err(SpoolError::Io)?
            }
            Err(e) => return Err(SpoolError::Io(e)),
        };
        Ok(Spool {
            path,
            file: Some(tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file)),
            keep_local: u64::MAX,
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::with_capacity(HEAD),
            check: None,
            store: None,
            sink: None,
            streamed: None,
            images_only: false,
            declared: None,
        })
    }

    /// Refuses a file that is not an accepted image as soon as its first bytes say so, instead
    /// of receiving all of it first.
    pub fn images_only(mut self) -> Spool {
        self.images_only = true;
        self
    }

    /// Streams the file into `store` as an upload while it arrives, keeping a local copy only
    /// up to `keep_local` bytes. Only images are accepted.
    pub fn streaming_to(mut self, store: Arc<dyn BlobStore>, keep_local: u64) -> Spool {
        self.images_only = true;
        self.store = Some(store);
        self.keep_local = keep_local;
        self
    }

    /// The sender declared the file's exact size (a raw body with a Content-Length): a store
    /// can then take it as one write while it arrives. A file over the limit is refused now,
    /// before any byte is read.
    pub fn declared_size(mut self, size: u64) -> Result<Spool, SpoolError> {
        if size > self.limit {
            return Err(SpoolError::TooLarge { limit: self.limit });
        }
        self.declared = Some(size);
        Ok(self)
    }

    pub async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), SpoolError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(SpoolError::TooLarge { limit: self.limit });
        }
        if self.declared.is_some_and(|d| self.size > d) {
            return Err(SpoolError::WrongLength);
        }
        self.hasher.update(&chunk);
        let mut to_sink = chunk.clone();
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() < HEAD {
                to_sink = bytes::Bytes::new();
            } else {
                self.start_check();
                if let Some(check) = &mut self.check {
                    check.feed(&chunk[take..]);
                }
                // The sink opens now and gets the head first, then the rest of this chunk.
                self.open_sink().await?;
                to_sink = chunk.slice(take..);
            }
        } else if let Some(check) = &mut self.check {
            check.feed(&chunk);
        }
        if let Some(file) = &mut self.file {
            if self.size <= self.keep_local {
                file.write_all(&chunk).await.map_err(SpoolError::Io)?;
            } else {
                self.file = None;
                let _ = tokio::fs::remove_file(&self.path).await;
            }
        }
        if let Some(sink) = &mut self.sink {
            if !to_sink.is_empty() {
                sink.write(to_sink).await.map_err(SpoolError::Store)?;
            }
        }
        Ok(())
    }

    /// The check starts once the type is known; it is fed the head, then every later byte.
    fn start_check(&mut self) {
        if let Some(mut check) = domain::media::sniff_image(&self.head).and_then(IntegrityCheck::new) {
            check.feed(&self.head);
            self.check = Some(check);
        }
    }

    async fn open_sink(&mut self) -> Result<(), SpoolError> {
        let sniffed = domain::media::sniff_image(&self.head);
        if sniffed.is_none() && self.images_only {
            return Err(SpoolError::NotAnImage);
        }
        let (Some(store), Some(content_type)) = (&self.store, sniffed) else { return Ok(()) };
        let upload_id = crate::ids::new_id("upl");
        let key = format!("uploads/{upload_id}.{}", domain::media::extension(content_type));
        let mut sink = store.sink(&key, content_type, self.declared).await.map_err(SpoolError::Store)?;
        sink.write(bytes::Bytes::copy_from_slice(&self.head)).await.map_err(SpoolError::Store)?;
        self.sink = Some(sink);
        self.streamed = Some(StreamedOriginal { upload_id, key });
        Ok(())
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn finish(mut self) -> Result<Spooled, SpoolError> {
        if self.head.len() < HEAD && self.check.is_none() && self.size > 0 {
            // A file shorter than the head: typed, checked and stored from what there is.
            self.start_check();
            self.open_sink().await?;
        }
        if let Some(file) = &mut self.file {
            file.flush().await.map_err(SpoolError::Io)?;
        }
        if self.declared.is_some_and(|d| d != self.size) {
            return Err(SpoolError::WrongLength);
        }
        if let Some(sink) = self.sink.take() {
            if let Err(e) = sink.finish().await {
                self.streamed = None;
                return Err(SpoolError::Store(e));
            }
        }
        let content_type = domain::media::sniff_image(&self.head);
        let defect = self.check.as_ref().and_then(|c| c.finish().err());
        let hasher = std::mem::take(&mut self.hasher);
        let path = std::mem::take(&mut self.path);
        Ok(Spooled {
            path: self.file.take().map(|_| path),
            sha256: hex::encode(hasher.finalize()),
            size: self.size,
            content_type,
            defect,
            streamed: self.streamed.take(),
        })
    }

    /// Gives up on the file: the local copy and anything sent to the store are removed.
    pub async fn abort(mut self) {
        if let Some(sink) = self.sink.take() {
            sink.abort().await;
        }
        // Drop removes the local copy.
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // An abandoned spool (client gone mid-upload) leaves nothing behind. After `finish`
        // the path is empty and `Spooled` owns the local copy.
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(sink) = self.sink.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(sink.abort());
            }
        }
    }
}

impl Spooled {
    /// The file as an accepted, complete image, or the field error saying why not.
    pub fn image_type(&self) -> Result<&'static str, ServiceError> {
        if self.size == 0 {
            return Err(ServiceError::invalid("file", "empty_file", "the file is empty"));
        }
        image_verdict("file", self.content_type, self.defect).map_err(|e| domain::DomainError::Invalid(vec![e]).into())
    }
}

/// What a sweep of the spool folder did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpoolSweep {
    /// Spool files older than the grace period, removed.
    pub removed: usize,
    /// Spool files younger than it, kept (uploads in flight).
    pub kept: usize,
}

/// Removes the spool files in `dir` not written to for `grace_ms`: what a killed process left.
/// Only files named as spools are touched; a missing folder has nothing to sweep.
#[tracing::instrument(name = "spool.sweep", skip_all, fields(dir = %dir.display()))]
pub async fn sweep_orphans(dir: &Path, now_ms: i64, grace_ms: i64) -> std::io::Result<SpoolSweep> {
    let mut report = SpoolSweep::default();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(e),
    };
    while let Some(entry) = entries.next_entry().await? {
        if !entry.file_name().to_string_lossy().starts_with(FILE_PREFIX) {
            continue;
        }
        let meta = match entry.metadata().await {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            // Finished and removed since the folder was read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        if modified_ms > now_ms - grace_ms {
            report.kept += 1;
            continue;
        }
        match tokio::fs::remove_file(entry.path()).await {
            Ok(()) => {
                tracing::info!(file = %entry.path().display(), "orphan spool file removed");
                report.removed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
