//! `GET /console/export`: everything (or `?customer=cus_…`, one customer's part) as one
//! `.tar.gz` download, for admins. The answer starts as soon as the export is allowed and on
//! the record; the export is written to a staging folder next to the upload spool
//! (`RD_DATA_DIR/export-staging`), then sent as a tar stream compressed on the fly, and removed
//! once sent or abandoned: memory stays flat whatever the size. A failure after the answer
//! started ends the download early (the archive is then incomplete, and says so to `tar`).

use crate::api_error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header as h, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use dispatch::export::{ExportError, ExportScope};
use dispatch::users::CurrentActor;
use domain::ErrorCode;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, serde::Deserialize)]
pub struct ExportQuery {
    customer: Option<String>,
}

/// Bytes handed to the response at a time.
const CHUNK: usize = 256 * 1024;
/// Staged exports older than this were abandoned by a process that stopped.
const STALE_SECS: u64 = 24 * 3600;

/// The staging folder: beside the upload spool, in the data folder the server owns.
fn staging(spool: &Path) -> PathBuf {
    spool.parent().unwrap_or(spool).join("export-staging")
}

#[tracing::instrument(name = "export.download", skip_all)]
pub async fn download(
    State(state): State<AppState>,
    Extension(CurrentActor(actor)): Extension<CurrentActor>,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> Response {
    let (ctx, rid) = match crate::files::reader(actor, &headers) {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let scope = match q.customer.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()) {
        Some(customer_id) => ExportScope::Customer { customer_id },
        None => ExportScope::All,
    };
    // Who may, and the record of it, come first; the answer then starts at once and the
    // export is written while the client waits on the open response (a large one takes longer
    // than a request may take to be answered).
    let permit = match state.service.permit_export(&ctx, &scope).await {
        Ok(p) => p,
        Err(ExportError::Service(e)) => return ApiError::from_service(&rid, &e).by(&ctx.actor).into_response(),
        Err(other) => {
            tracing::error!(error = %other, "export refused");
            return ApiError::new(&rid, ErrorCode::Internal, "the export could not be started").into_response();
        }
    };
    let stage = staging(state.service.spool_dir());
    remove_stale(&stage);
    let name = dispatch::export::export_name(dispatch::ids::now_ms());
    let folder = stage.join(dispatch::ids::new_id("exp"));
    let dest = folder.join(&name);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let service = state.service.clone();
    let root = name.clone();
    tokio::spawn(async move {
        let written = match tokio::fs::create_dir_all(&folder).await {
            Ok(()) => service.export_permitted(permit, &dest).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("{}: {e}", folder.display())),
        };
        // The staged copy goes before the response ends, so nothing is left once it is read.
        let sent = tokio::task::spawn_blocking(move || {
            let outcome = match written {
                Ok(manifest) => {
                    tracing::info!(files = manifest.files.len(), bytes = manifest.bytes(), "export written; sending");
                    let sending = Sender { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
                    // Fails when the client went away (the channel closed) or a file cannot be read.
                    crate::tarball::write_tar_gz(&dest, &root, sending)
                }
                Err(e) => Err(std::io::Error::other(format!("the export failed: {e}"))),
            };
            if let Err(e) = std::fs::remove_dir_all(&folder) {
                tracing::warn!(error = %e, folder = %folder.display(), "staged export not removed");
            }
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "export download ended early");
                let _ = tx.blocking_send(Err(e));
            }
        })
        .await;
        if let Err(e) = sent {
            tracing::error!(error = %e, "export download task failed");
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut res = Body::from_stream(body).into_response();
    let hs = res.headers_mut();
    hs.insert(h::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    hs.insert(h::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.tar.gz\"")) {
        hs.insert(h::CONTENT_DISPOSITION, v);
    }
    res
}

/// Writes into the response in chunks; a closed response (the client left) stops the writer.
struct Sender {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Sender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client stopped reading"))
    }
}

impl Write for Sender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Removes staged exports a stopped process left behind.
fn remove_stale(stage: &Path) {
    let Ok(entries) = std::fs::read_dir(stage) else { return };
    for e in entries.flatten() {
        let age = e.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a.as_secs() > STALE_SECS) {
            if let Err(err) = std::fs::remove_dir_all(e.path()) {
                tracing::warn!(error = %err, folder = %e.path().display(), "stale staged export not removed");
            }
        }
    }
}
