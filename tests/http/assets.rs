//! Static files over real HTTP, from a site root laid out by the real pipeline
//! (`scripts/site.sh`: content-named client files, `assets.json`, brotli and gzip copies):
//! content negotiation, year-long caching of the client's files, validators and 304 for the
//! rest, 404 for what is not there, and which pages load the client (on both backends).
//!
//! The file answers touch no database, so those tests run on SQLite only; the pages run on
//! both.

use crate::support::{account, dispatched_ticket, start_with_site, technician, Browser};
use dispatch::testing::{each_backend, sqlite_db};
use domain::Role;
use reqwest::header::HeaderMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One site root for the whole binary, built by `scripts/site.sh` from a stand-in client
/// (compressible, so every file gets both copies).
fn site() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = dispatch::testing::temp_dir();
        let client = dir.join("client");
        std::fs::create_dir_all(&client).expect("client dir");
        let js = format!("export function hydrate() {{}}\n{}", "export const glue = 'wasm-bindgen';\n".repeat(400));
        std::fs::write(client.join("real-dispatch.js"), js).expect("js");
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(b"tachys reactive_graph leptos ".repeat(2000));
        std::fs::write(client.join("real-dispatch_bg.wasm"), &wasm).expect("wasm");
        // The phone pages' client beside it (`make client` builds both).
        std::fs::write(client.join("field.js"), "export function hydrate() {}\n".repeat(300)).expect("field js");
        std::fs::write(client.join("field_bg.wasm"), &wasm[..wasm.len() / 2]).expect("field wasm");
        let site = dir.join("site");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/site.sh");
        let out = std::process::Command::new(script).arg(&client).arg(&site).output().expect("run scripts/site.sh");
        assert!(out.status.success(), "scripts/site.sh: {}", String::from_utf8_lossy(&out.stderr));
        site
    })
}

/// The client's URL paths as the build listed them: (js, wasm, css).
fn client_files() -> (String, String, String) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site().join("assets.json")).expect("assets.json")).expect("json");
    let name = |k: &str| manifest[k].as_str().expect(k).to_string();
    (name("js"), name("wasm"), name("css"))
}

/// The phone pages' client as the build listed it: (js, wasm).
fn field_files() -> (String, String) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site().join("assets.json")).expect("assets.json")).expect("json");
    let name = |k: &str| {
        manifest[k].as_str().unwrap_or_else(|| panic!("{k} in assets.json (make client builds it)")).to_string()
    };
    (name("field_js"), name("field_wasm"))
}

fn on_disk(url_path: &str) -> Vec<u8> {
    std::fs::read(site().join(url_path.trim_start_matches('/'))).expect(url_path)
}

/// A GET with the given request headers (no automatic decompression: the bytes as sent).
async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("get");
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.bytes().await.expect("body").to_vec())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn the_client_is_content_named_precompressed_and_cached_for_a_year() {
    let s = start_with_site(sqlite_db().await, site()).await;
    let (js, wasm, css) = client_files();
    for (path, ext) in [(&js, "js"), (&wasm, "wasm"), (&css, "css")] {
        let name = path.strip_prefix("/pkg/real-dispatch.").and_then(|n| n.strip_suffix(&format!(".{ext}")));
        assert!(
            name.is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "{path} is named by its content"
        );
    }

    // The client's preference among the stored copies, and the exact bytes of that copy.
    let cases = [
        ("gzip, deflate, br, zstd", "br", ".br"),
        ("gzip, deflate", "gzip", ".gz"),
        ("br;q=0.5, gzip;q=0.9", "gzip", ".gz"),
        ("br;q=0, gzip", "gzip", ".gz"),
        ("*", "br", ".br"),
        ("identity", "", ""),
        ("deflate", "", ""),
    ];
    let mut etags = vec![];
    for (accept, encoding, suffix) in cases {
        let (status, h, body) = get(&s.base, &wasm, &[("accept-encoding", accept)]).await;
        assert_eq!(status, 200, "{accept}");
        assert_eq!(header(&h, "content-encoding"), encoding, "Accept-Encoding: {accept}");
        assert_eq!(header(&h, "content-type"), "application/wasm");
        assert_eq!(header(&h, "vary"), "accept-encoding", "caches keep one copy per coding");
        assert_eq!(header(&h, "cache-control"), "public, max-age=31536000, immutable");
        assert_eq!(body, on_disk(&format!("{wasm}{suffix}")), "Accept-Encoding: {accept}: the stored bytes");
        assert_eq!(header(&h, "content-length"), body.len().to_string());
        etags.push(header(&h, "etag").to_string());
    }
    let distinct: std::collections::BTreeSet<&String> = etags.iter().collect();
    assert_eq!(distinct.len(), 3, "one validator per stored copy (brotli, gzip, none): {etags:?}");
    assert!(on_disk(&format!("{wasm}.gz")).starts_with(&[0x1f, 0x8b]), "the .gz copy is gzip");
    assert!(on_disk(&format!("{wasm}.br")).len() < on_disk(&wasm).len(), "the .br copy is smaller");

    // Without Accept-Encoding: the file as built.
    let (_, h, body) = get(&s.base, &wasm, &[]).await;
    assert_eq!(header(&h, "content-encoding"), "");
    assert_eq!(body, on_disk(&wasm));

    let (field_js, field_wasm) = field_files();
    for (path, ext) in [(&field_js, "js"), (&field_wasm, "wasm")] {
        let name = path.strip_prefix("/pkg/field.").and_then(|n| n.strip_suffix(&format!(".{ext}")));
        assert!(
            name.is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "{path} is named by its content"
        );
    }
    let (status, h, body) = get(&s.base, &field_wasm, &[("accept-encoding", "br")]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-encoding"), "br");
    assert_eq!(header(&h, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(body, on_disk(&format!("{field_wasm}.br")));

    for (path, content_type) in [(&js, "text/javascript; charset=utf-8"), (&css, "text/css; charset=utf-8")] {
        let (status, h, body) = get(&s.base, path, &[("accept-encoding", "br")]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&h, "content-type"), content_type, "{path}");
        assert_eq!(header(&h, "content-encoding"), "br", "{path}");
        assert_eq!(header(&h, "cache-control"), "public, max-age=31536000, immutable", "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        assert_eq!(body, on_disk(&format!("{path}.br")), "{path}");
    }

    // HEAD: the same headers, no body.
    let res = reqwest::Client::new()
        .head(format!("{}{wasm}", s.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("head");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(header(res.headers(), "content-encoding"), "gzip");
    assert_eq!(header(res.headers(), "content-length"), on_disk(&format!("{wasm}.gz")).len().to_string());
    assert!(res.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn other_static_files_revalidate_with_etags() {
    let s = start_with_site(sqlite_db().await, site()).await;
    let (status, h, body) = get(&s.base, "/favicon.svg", &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), "image/svg+xml");
    assert_eq!(header(&h, "cache-control"), "no-cache", "kept, but asked about before each use: {h:?}");
    assert_eq!(header(&h, "content-encoding"), "gzip");
    assert_eq!(body, on_disk("/favicon.svg.gz"));
    let etag = header(&h, "etag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong validator: {etag}");

    // The copy the browser holds is current: 304, no body, the validator and policy again.
    for if_none_match in [etag.clone(), format!("W/{etag}"), format!("\"0000\", {etag}"), "*".to_string()] {
        let (status, h, body) =
            get(&s.base, "/favicon.svg", &[("accept-encoding", "gzip"), ("if-none-match", &if_none_match)]).await;
        assert_eq!(status, 304, "If-None-Match: {if_none_match}");
        assert!(body.is_empty());
        assert_eq!(header(&h, "etag"), etag);
        assert_eq!(header(&h, "cache-control"), "no-cache");
        assert_eq!(header(&h, "vary"), "accept-encoding");
    }
    // Another copy (another coding, or an earlier file) is not current.
    let (status, _, body) = get(&s.base, "/favicon.svg", &[("if-none-match", &etag)]).await;
    assert_eq!(status, 200, "the gzip copy's tag does not validate the plain file");
    assert_eq!(body, on_disk("/favicon.svg"));
    let (status, _, _) =
        get(&s.base, "/favicon.svg", &[("accept-encoding", "gzip"), ("if-none-match", "\"an-older-build\"")]).await;
    assert_eq!(status, 200);

    // The client's files answer 304 too (a browser may still ask, e.g. on reload).
    let (_, wasm, _) = client_files();
    let (_, h, _) = get(&s.base, &wasm, &[("accept-encoding", "br")]).await;
    let (status, h2, _) =
        get(&s.base, &wasm, &[("accept-encoding", "br"), ("if-none-match", header(&h, "etag"))]).await;
    assert_eq!(status, 304);
    assert_eq!(header(&h2, "cache-control"), "public, max-age=31536000, immutable");
}

#[tokio::test]
async fn what_is_not_there_is_404() {
    let s = start_with_site(sqlite_db().await, site()).await;
    let (_, wasm, _) = client_files();
    for path in ["/pkg/real-dispatch.0000000000000000.wasm", "/pkg/real-dispatch_bg.wasm", "/pkg/nothing.js"] {
        let (status, h, body) = get(&s.base, path, &[("accept-encoding", "br")]).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.is_empty(), "{path}: a missing file of the client gets no page");
        assert_eq!(header(&h, "cache-control"), "no-store", "{path}");
    }
    // The build's list and the compressed copies are not files of the site by their own names.
    for path in ["/assets.json".to_string(), format!("{wasm}.br"), "/favicon.svg.gz".to_string()] {
        let (status, _, _) = get(&s.base, &path, &[]).await;
        assert_eq!(status, 404, "{path}");
    }
    // Outside /pkg/, an unknown path is the app's "not found" page.
    let (status, h, body) = get(&s.base, "/favicon.ico", &[]).await;
    assert_eq!(status, 404);
    assert!(header(&h, "content-type").starts_with("text/html"));
    assert!(String::from_utf8_lossy(&body).contains("Page not found"));
    // Files are read, never written.
    let res = reqwest::Client::new()
        .post(format!("{}{wasm}", s.base))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(header(res.headers(), "allow"), "GET, HEAD");
}

#[tokio::test]
async fn pages_name_the_built_files_stay_uncached_and_only_the_app_pages_load_the_client() {
    let (js, wasm, css) = client_files();
    for db in each_backend().await {
        let s = start_with_site(db, site()).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut b = Browser::new(&s);

        // The sign-in page is a plain form: styled, no client.
        let login = b.get("/login").await;
        assert_eq!(login.status, 200);
        assert_eq!(header(&login.headers, "cache-control"), "no-store");
        assert!(login.body.contains(&format!("href=\"{css}\"")), "the built stylesheet");
        assert!(!login.body.contains(".wasm") && !login.body.contains(&js), "no client on the sign-in page");

        // A refused plain form post comes back to the form, which says why, keeping `next`.
        let plain_post = b
            .http
            .post(format!("{}/api/login", s.base))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "text/html,application/xhtml+xml")
            .form(&[("email", "op@example.com"), ("password", "wrong"), ("next", "/console/approvals")]);
        let refused = b.send(plain_post).await;
        assert_eq!(refused.status, 302);
        assert_eq!(refused.location, "/login?failed=1&next=/console/approvals");
        assert!(b.cookie.is_none(), "nobody signed in");
        let again = b.get(&refused.location).await;
        assert!(again.body.contains("data-test=\"login-error\""), "the form says it failed");
        assert!(again.body.contains("not recognised"));
        assert!(again.body.contains("value=\"/console/approvals\""), "the page asked for is kept");

        // An app page loads the built client (preloaded) and its stylesheet, and is not cached.
        b.login("op@example.com", "correct horse battery").await;
        let console = b.get("/console").await;
        assert_eq!(console.status, 200);
        assert_eq!(header(&console.headers, "cache-control"), "no-store", "pages are per person");
        assert!(console.body.contains(&format!("rel=\"modulepreload\" href=\"{js}\"")), "{}", console.body);
        assert!(console.body.contains(&format!("href=\"{wasm}\" as=\"fetch\"")));
        assert!(console.body.contains(&format!("from \"{js}\"")) && console.body.contains(&format!("\"{wasm}\"")));
        assert!(console.body.contains(&format!("href=\"{css}\"")));

        // The technician's job page loads the phone client alone.
        let (field_js, field_wasm) = field_files();
        assert!(!console.body.contains(&field_js), "the console loads the whole client");
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 3).await;
        account(&s, "tech@assets.test", Role::Technician, Some(&tech), None).await;
        let mut t = Browser::new(&s);
        t.login("tech@assets.test", "correct horse battery").await;
        let phone = t.get(&format!("/tech/jobs/{}", job.id)).await;
        assert_eq!(phone.status, 200, "{}", phone.body);
        assert!(phone.body.contains(&format!("rel=\"modulepreload\" href=\"{field_js}\"")), "{}", phone.body);
        assert!(phone.body.contains(&format!("\"{field_wasm}\"")));
        assert!(!phone.body.contains(&js) && !phone.body.contains(&wasm), "not the whole client");

        // The page of another role's refusal names the built stylesheet too.
        let tech_page = b.get("/tech").await;
        assert_eq!(tech_page.status, 403);
        assert!(tech_page.body.contains(&format!("href=\"{css}\"")));
    }
}
