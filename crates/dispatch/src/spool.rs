//! Incoming files, streamed to a temporary file while they are hashed, measured, typed by
//! their magic bytes and checked for completeness, so memory stays flat whatever their size.
//! Every door that accepts files (the tool API, the web app) spools through here.

use crate::error::ServiceError;
use domain::image_check::{ImageDefect, IntegrityCheck};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Bytes needed to recognise every accepted type.
const HEAD: usize = 32;

/// Why a spool stopped taking bytes.
#[derive(Debug)]
pub enum SpoolError {
    /// More than the configured limit.
    TooLarge {
        limit: u64,
    },
    Io(std::io::Error),
}

/// A file being received.
pub struct Spool {
    path: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
    check: Option<IntegrityCheck>,
}

/// A file fully received, removed from disk when dropped.
#[derive(Debug)]
pub struct Spooled {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// The type its magic bytes say, if it is an accepted image.
    pub content_type: Option<&'static str>,
    /// Whether the image's own structure is complete (None when the type is not an image).
    pub defect: Option<ImageDefect>,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spool {
    /// A new spool in `dir` accepting at most `limit` bytes.
    pub async fn create(dir: &Path, limit: u64) -> Result<Spool, SpoolError> {
        let path = dir.join(format!("rd-upload-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&path).await.map_err(SpoolError::Io)?;
        Ok(Spool { path, file, hasher: Sha256::new(), size: 0, limit, head: Vec::with_capacity(HEAD), check: None })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), SpoolError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(SpoolError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() == HEAD {
                self.start_check();
                if let Some(check) = &mut self.check {
                    check.feed(&chunk[take..]);
                }
            }
        } else if let Some(check) = &mut self.check {
            check.feed(chunk);
        }
        self.file.write_all(chunk).await.map_err(SpoolError::Io)
    }

    /// The check starts once the type is known; it is fed the head, then every later byte.
    fn start_check(&mut self) {
        if let Some(mut check) = domain::media::sniff_image(&self.head).and_then(IntegrityCheck::new) {
            check.feed(&self.head);
            self.check = Some(check);
        }
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn finish(mut self) -> Result<Spooled, SpoolError> {
        self.file.flush().await.map_err(SpoolError::Io)?;
        if self.head.len() < HEAD && self.check.is_none() {
            // A file shorter than the head: typed and checked from what there is.
            self.start_check();
        }
        let content_type = domain::media::sniff_image(&self.head);
        let defect = self.check.as_ref().and_then(|c| c.finish().err());
        let hasher = std::mem::take(&mut self.hasher);
        let spooled = Spooled {
            path: std::mem::take(&mut self.path),
            sha256: hex::encode(hasher.finalize()),
            size: self.size,
            content_type,
            defect,
        };
        Ok(spooled)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // An abandoned spool (client gone, limit hit) leaves nothing behind. After `finish`
        // the path is empty and `Spooled` owns the file.
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Spooled {
    /// The file as an accepted, complete image, or the field error saying why not.
    pub fn image_type(&self) -> Result<&'static str, ServiceError> {
        if self.size == 0 {
            return Err(ServiceError::invalid("file", "empty_file", "the file is empty"));
        }
        let Some(content_type) = self.content_type else {
            return Err(ServiceError::invalid(
                "file",
                "unsupported_type",
                "a JPEG, PNG, WebP or HEIC/HEIF image (the file's content is none of these)",
            ));
        };
        if let Some(defect) = self.defect {
            return Err(ServiceError::invalid("file", defect.code(), defect.message()));
        }
        Ok(content_type)
    }
}
