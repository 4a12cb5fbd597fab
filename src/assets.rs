//! The site's static files — the wasm client, its JavaScript and CSS, and the public files —
//! read once at start-up from the site root (`RD_SITE_ROOT`) and served from memory.
//!
//! The build (`scripts/site.sh`) names the client's files by their content
//! (`/pkg/real-dispatch.<hash>.wasm`), lists them in `assets.json`, and writes a brotli and a
//! gzip copy next to each file. Here each request gets the smallest copy its
//! `Accept-Encoding` allows (`Vary: Accept-Encoding`), the client's files are cached for a year
//! (a new build has new names), and everything else carries an `ETag` to revalidate
//! (`If-None-Match` answers 304 without a body).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The build's list of the client's files, in the site root (not served).
pub const MANIFEST: &str = "assets.json";
/// Files whose name changes with their content: a cached copy never goes stale.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else: kept, but asked about (`If-None-Match`) before each use.
pub const REVALIDATE: &str = "no-cache";

/// A content coding this server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// Preferred first when the client accepts several equally (brotli is the smallest).
    const PREFERENCE: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

    fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }

    fn content_encoding(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// One stored copy of a file.
struct Variant {
    coding: Coding,
    body: Bytes,
    etag: HeaderValue,
}

struct Asset {
    content_type: &'static str,
    cache_control: &'static str,
    /// The file itself first, then its precompressed copies.
    variants: Vec<Variant>,
}

/// The static files by URL path, and the client's file names for the pages.
pub struct SiteAssets {
    files: HashMap<String, Asset>,
    client: app::ClientFiles,
}

impl SiteAssets {
    /// Reads every file under `root`. A missing or unreadable root gives an empty set (the
    /// pages still render, without styles or the client), with a warning.
    pub fn load(root: &Path) -> SiteAssets {
        let manifest = std::fs::read(root.join(MANIFEST)).ok();
        let client = match &manifest {
            Some(json) => match serde_json::from_slice::<app::ClientFiles>(json) {
                Ok(files) if files.is_plain() => files,
                Ok(_) => {
                    tracing::warn!(root = %root.display(), "{MANIFEST} names files outside plain URL paths; using the unhashed names");
                    app::ClientFiles::default()
                }
                Err(e) => {
                    tracing::warn!(error = %e, root = %root.display(), "{MANIFEST} unreadable; using the unhashed names");
                    app::ClientFiles::default()
                }
            },
            None => app::ClientFiles::default(),
        };
        let immutable: Vec<String> =
            if manifest.is_some() { client.names().map(str::to_string).collect() } else { vec![] };
        let mut paths = vec![];
        if let Err(e) = walk(root, &mut paths) {
            tracing::warn!(error = %e, root = %root.display(), "cannot read the site root; no static files are served");
        }
        let mut files = HashMap::new();
        for path in &paths {
            let Some(url) = url_of(root, path) else { continue };
            let name = url.rsplit('/').next().unwrap_or_default();
            if url == format!("/{MANIFEST}") || name.ends_with(".br") || name.ends_with(".gz") {
                continue;
            }
            let body = match std::fs::read(path) {
                Ok(b) => Bytes::from(b),
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "static file unreadable; not served");
                    continue;
                }
            };
            let hash = hex::encode(&Sha256::digest(&body)[..12]);
            let mut variants = vec![Variant { coding: Coding::Identity, etag: etag(&hash, Coding::Identity), body }];
            for coding in [Coding::Brotli, Coding::Gzip] {
                let copy = PathBuf::from(format!("{}{}", path.display(), coding.suffix()));
                if let Ok(b) = std::fs::read(&copy) {
                    variants.push(Variant { coding, etag: etag(&hash, coding), body: Bytes::from(b) });
                }
            }
            let cache_control = if immutable.contains(&url) { IMMUTABLE } else { REVALIDATE };
            files.insert(url.clone(), Asset { content_type: content_type(&url), cache_control, variants });
        }
        if manifest.is_none() && !files.is_empty() {
            tracing::warn!(root = %root.display(), "no {MANIFEST} in the site root (build it with `make site`): the client's files are not cached");
        }
        for name in client.names() {
            if !files.is_empty() && !files.contains_key(name) {
                tracing::warn!(file = %name, root = %root.display(), "a file of the client is missing from the site root");
            }
        }
        SiteAssets { files, client }
    }

    /// The client's file names, for the pages' `<head>`.
    pub fn client(&self) -> &app::ClientFiles {
        &self.client
    }

    /// Whether `path` names a static file.
    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// The answer for a request of a static file; None when the path names none.
    pub fn respond<B>(&self, req: &Request<B>) -> Option<Response> {
        let asset = self.files.get(req.uri().path())?;
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut res = StatusCode::METHOD_NOT_ALLOWED.into_response();
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Some(res);
        }
        let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let available: Vec<Coding> = asset.variants.iter().map(|v| v.coding).collect();
        let chosen = negotiate(header(header::ACCEPT_ENCODING), &available);
        let variant = asset.variants.iter().find(|v| v.coding == chosen).unwrap_or(&asset.variants[0]);
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, variant.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(asset.cache_control));
        if asset.variants.len() > 1 {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if header(header::IF_NONE_MATCH).is_some_and(|tags| matches_etag(tags, &variant.etag)) {
            return Some((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        if let Some(encoding) = variant.coding.content_encoding() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        let body = if req.method() == Method::HEAD { Body::empty() } else { Body::from(variant.body.clone()) };
        let mut res = (StatusCode::OK, headers, body).into_response();
        res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(variant.body.len()));
        Some(res)
    }
}

/// The coding to send: the one the client rates highest among those stored, brotli before
/// gzip before none on a tie. Without a header, or when nothing stored is acceptable, the
/// file as it is (a client that refuses even that still gets an answer it can report).
pub fn negotiate(accept_encoding: Option<&str>, available: &[Coding]) -> Coding {
    let Some(accept) = accept_encoding else { return Coding::Identity };
    let mut explicit: Vec<(Option<Coding>, f32)> = vec![];
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let coding = match name.as_str() {
            "br" => Some(Coding::Brotli),
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "identity" => Some(Coding::Identity),
            "*" => None,
            _ => continue,
        };
        explicit.push((coding, q));
    }
    let quality = |c: Coding| {
        if let Some((_, q)) = explicit.iter().find(|(e, _)| *e == Some(c)) {
            return *q;
        }
        if let Some((_, q)) = explicit.iter().find(|(e, _)| e.is_none()) {
            return *q;
        }
        // Not named and no wildcard: the file as it is stays acceptable (RFC 9110, 12.5.3),
        // below any coding the client did name.
        if c == Coding::Identity {
            0.001
        } else {
            0.0
        }
    };
    let mut best = (Coding::Identity, 0.0f32);
    for coding in Coding::PREFERENCE {
        let q = quality(coding);
        if available.contains(&coding) && q > best.1 {
            best = (coding, q);
        }
    }
    best.0
}

/// Whether an `If-None-Match` list names `current` (weak comparison, as RFC 9110 asks for
/// this header), or is `*`.
pub fn matches_etag(if_none_match: &str, current: &HeaderValue) -> bool {
    let current = current.to_str().unwrap_or_default();
    let current = current.strip_prefix("W/").unwrap_or(current);
    if_none_match.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current)
}

/// A strong validator per stored copy: the file's content hash, and the coding (a brotli
/// copy is other bytes than the gzip one).
fn etag(hash: &str, coding: Coding) -> HeaderValue {
    let tag = match coding.content_encoding() {
        Some(encoding) => format!("\"{hash}-{encoding}\""),
        None => format!("\"{hash}\""),
    };
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The URL path of a file under the root (`/pkg/x.js`); None for names that are not UTF-8.
fn url_of(root: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
    Some(format!("/{}", parts?.join("/")))
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Coding; 3] = [Coding::Identity, Coding::Brotli, Coding::Gzip];

    #[test]
    fn negotiation_follows_the_clients_preferences() {
        assert_eq!(negotiate(None, &ALL), Coding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd"), &ALL), Coding::Brotli);
        assert_eq!(negotiate(Some("gzip, deflate"), &ALL), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.8"), &ALL), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip"), &ALL), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.1"), &ALL), Coding::Brotli);
        assert_eq!(negotiate(Some("gzip;q=0, identity;q=0.5"), &ALL), Coding::Identity);
        assert_eq!(negotiate(Some("*"), &ALL), Coding::Brotli);
        assert_eq!(negotiate(Some("deflate"), &ALL), Coding::Identity);
        assert_eq!(negotiate(Some(""), &ALL), Coding::Identity);
        // Only what is stored can be sent.
        assert_eq!(negotiate(Some("br, gzip"), &[Coding::Identity, Coding::Gzip]), Coding::Gzip);
        assert_eq!(negotiate(Some("br"), &[Coding::Identity]), Coding::Identity);
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let tag = HeaderValue::from_static("\"abc-br\"");
        assert!(matches_etag("\"abc-br\"", &tag));
        assert!(matches_etag("W/\"abc-br\"", &tag));
        assert!(matches_etag("\"x\", \"abc-br\"", &tag));
        assert!(matches_etag("*", &tag));
        assert!(!matches_etag("\"abc\"", &tag));
        assert!(!matches_etag("\"abc-gzip\"", &tag));
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("/pkg/real-dispatch.0a1b.wasm"), "application/wasm");
        assert_eq!(content_type("/pkg/real-dispatch.0a1b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("/LICENSE"), "application/octet-stream");
    }
}
