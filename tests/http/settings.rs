//! The shop's settings over real HTTP and from the command line, on SQLite and PostgreSQL:
//! an admin changes them on the settings page (a form post, the logo a multipart upload), the
//! CLI changes them on the same database, and the customer's portal page and the closeout
//! packet PDF then show the shop's new name, phone, terms, currency and logo.

use crate::support::{account, dispatched_ticket, start, start_with, system, technician, Browser, Server};
use dispatch::testing::each_backend;
use dispatch::Service;
use domain::shop_profile::ShopKey;
use domain::Role;
use std::path::Path;
use std::process::Command;

/// A dispatched job driven to a compiled closeout packet, for customer Ada.
async fn packet_compiled(svc: &Service, tech: &str) -> domain::Case {
    let case = dispatched_ticket(svc, tech, 0).await;
    crate::support::closed_out(svc, &case, Some(60)).await
}

/// The text of a PDF, by poppler's `pdftotext` (installed by `make test`).
pub(crate) fn pdf_text(pdf: &[u8]) -> String {
    let path = dispatch::testing::temp_dir().join("packet.pdf");
    std::fs::write(&path, pdf).expect("write the packet");
    let out = Command::new("pdftotext").args(["-layout"]).arg(&path).arg("-").output().expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a customer sees: the portal page (as HTML), the packet (as text) and whether the packet
/// places the shop's logo.
async fn customer_sees(s: &Server, case: &domain::Case, email: &str) -> (String, String, bool) {
    account(s, email, Role::Customer, None, Some(&case.customer.id)).await;
    let mut customer = Browser::new(s);
    assert!(customer.login(email, "correct horse battery").await.status < 400);
    let page = customer.get(&format!("/portal/tickets/{}", case.id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (status, headers, pdf) = customer.get_bytes(&format!("/packets/{}", case.id)).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
    let logo = pdf.windows(6).any(|w| w == b"/Logo ");
    (page.body, pdf_text(&pdf), logo)
}

/// The settings form as the page sends it: every field as shown, some edited.
fn form(s: &Server, edits: &[(ShopKey, &str)]) -> Vec<(String, String)> {
    let profile = s.service.shop_now().profile.clone();
    ShopKey::ALL
        .into_iter()
        .filter(|k| *k != ShopKey::Logo)
        .map(|k| {
            let value = edits.iter().find(|(e, _)| *e == k).map(|(_, v)| v.to_string());
            (k.as_str().to_string(), value.unwrap_or_else(|| profile.form_text(k)))
        })
        .collect()
}

async fn post_form(b: &mut Browser, endpoint: &str, form: &[(String, String)]) -> crate::support::Reply {
    let req = b
        .http
        .post(format!("{}/api/{endpoint}", b.base))
        .header("sec-fetch-site", "same-origin")
        .header("accept", "application/json")
        .form(form);
    b.send(req).await
}

/// The settings page's logo form, as a browser posts it (no client code involved).
async fn post_logo(b: &mut Browser, bytes: Vec<u8>) -> crate::support::Reply {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("logo.png").mime_str("image/png").expect("part");
    let req = b
        .http
        .post(format!("{}/app/settings/logo", b.base))
        .header("sec-fetch-site", "same-origin")
        .multipart(reqwest::multipart::Form::new().part("file", part));
    b.send(req).await
}

fn logo_png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(300, 120, |x, _| image::Rgba([20, 60, 140, if x < 150 { 255 } else { 0 }]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img).write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

#[tokio::test]
async fn an_admin_changes_the_settings_page_and_the_portal_and_packet_follow() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "admin@settings.test", Role::Admin, None, None).await;
        account(&s, "operator@settings.test", Role::Operator, None, None).await;
        let mut admin = Browser::new(&s);
        assert!(admin.login("admin@settings.test", "correct horse battery").await.status < 400);
        let page = admin.get("/console/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Shop settings") && page.body.contains("name=\"business_name\""), "the form");
        assert!(page.body.contains("href=\"/console/settings\""), "the console links it for admins");

        // A bad value is refused next to its field; nothing changes.
        let bad =
            post_form(&mut admin, "save_shop_settings", &form(&s, &[(ShopKey::Timezone, "Nowhere/Atlantis")])).await;
        assert_eq!(bad.status, 200, "{}", bad.body);
        assert!(bad.body.contains("unknown_time_zone") && bad.body.contains("\"timezone\""), "{}", bad.body);
        assert!(s
            .service
            .shop_settings(&system())
            .await
            .expect("read")
            .entries
            .iter()
            .all(|e| e.source != domain::shop_profile::Source::Database));

        let edits = [
            (ShopKey::BusinessName, "Acme Heating & Air"),
            (ShopKey::Phone, "(312) 555-0188"),
            (ShopKey::Address, "12 Elm St\nSpringfield, IL 62701"),
            (ShopKey::PaymentTerms, "Net 15"),
            (ShopKey::Currency, "EUR"),
            (ShopKey::LaborRate, "120.00"),
        ];
        let saved = post_form(&mut admin, "save_shop_settings", &form(&s, &edits)).await;
        assert_eq!(saved.status, 200, "{}", saved.body);
        assert!(saved.body.contains("Done") && saved.body.contains("Acme Heating & Air"), "{}", saved.body);
        let logo = post_logo(&mut admin, logo_png()).await;
        assert_eq!((logo.status, logo.location.as_str()), (303, "/console/settings?logo=saved"), "{}", logo.body);
        let refused = post_logo(&mut admin, b"GIF89a not a logo".to_vec()).await;
        assert_eq!(refused.status, 303);
        assert!(refused.location.starts_with("/console/settings?logo_error="), "{}", refused.location);

        let view = s.service.shop_settings(&system()).await.expect("read");
        let saved_keys: Vec<ShopKey> =
            view.entries.iter().filter(|e| e.source == domain::shop_profile::Source::Database).map(|e| e.key).collect();
        let mut expected: Vec<ShopKey> = edits.iter().map(|(k, _)| *k).chain([ShopKey::Logo]).collect();
        expected.sort();
        assert_eq!(saved_keys, expected, "only what was edited is saved; the rest follows its default");
        let (status, headers, jpeg) = admin.get_bytes("/shop/logo").await;
        assert_eq!((status, headers.get("content-type").and_then(|v| v.to_str().ok())), (200, Some("image/jpeg")));
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);

        // Operators read the page but cannot save, nor upload a logo.
        let mut operator = Browser::new(&s);
        assert!(operator.login("operator@settings.test", "correct horse battery").await.status < 400);
        assert_eq!(operator.get("/console/settings").await.status, 200);
        let denied =
            post_form(&mut operator, "save_shop_settings", &form(&s, &[(ShopKey::BusinessName, "Op Co")])).await;
        assert_eq!(denied.status, 403, "{}", denied.body);
        assert_eq!(post_logo(&mut operator, logo_png()).await.status, 403);
        assert_eq!(s.service.shop_now().profile.business_name, "Acme Heating & Air");

        // The customer's portal page and packet show the shop as it now is.
        let tech = technician(&s.service, "hvac").await;
        let case = packet_compiled(&s.service, &tech).await;
        let (portal, packet, logo) = customer_sees(&s, &case, "ada@settings.test").await;
        assert!(logo, "the packet carries the logo");
        assert!(portal.contains("Acme Heating &amp; Air"), "the portal names the shop");
        assert!(portal.contains("(312) 555-0188") && portal.contains("tel:+13125550188"), "and its phone");
        assert!(portal.contains("/shop/logo?v="), "and its logo");
        for expected in
            ["Acme Heating & Air", "12 Elm St", "Springfield, IL 62701", "(312) 555-0188", "Net 15", "€120.00"]
        {
            assert!(packet.contains(expected), "the packet shows {expected}:\n{packet}");
        }
        assert!(!packet.contains("$"), "money in the shop's currency:\n{packet}");
    }
}

/// The CLI against a database: its output, and whether it succeeded.
fn cli(dir: &Path, database_url: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_real-dispatch"));
    cmd.args(args).env("RD_DATA_DIR", dir).env("RUST_LOG", "warn").env_remove("RD_S3_ENDPOINT");
    for var in ShopKey::ALL.iter().filter_map(|k| k.env()) {
        cmd.env_remove(var);
    }
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the cli");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn line_of<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(&format!("{key} "))).unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

#[tokio::test]
async fn the_command_line_shows_and_saves_settings_that_the_server_then_uses() {
    for postgres in [false, true] {
        let dir = dispatch::testing::temp_dir();
        let url = if postgres { Some(dispatch::testing::postgres_url().await) } else { None };
        let url = url.as_deref();
        let env = [("RD_SHOP_NAME", "Env Plumbing"), ("RD_TAX_RATE_BP", "500")];
        let (ok, shown) = cli(&dir, url, &env, &["settings", "show"]);
        assert!(ok, "{shown}");
        assert!(line_of(&shown, "business_name").contains("Env Plumbing  [environment, RD_SHOP_NAME]"), "{shown}");
        assert!(line_of(&shown, "tax_rate").contains("5 %  [environment, RD_TAX_RATE_BP]"), "{shown}");
        assert!(line_of(&shown, "currency").contains("USD  [default]"), "{shown}");

        let (ok, out) = cli(&dir, url, &env, &["settings", "set", "business_name", "Pipe Pros"]);
        assert!(ok, "{out}");
        assert!(line_of(&out, "business_name").contains("Pipe Pros  [database, saved by system:cli"), "{out}");
        for (key, value) in
            [("phone", "+1 773 555 0142"), ("payment_terms", "Due on receipt, thank you"), ("tax_rate", "7.25")]
        {
            let (ok, out) = cli(&dir, url, &env, &["settings", "set", key, value]);
            assert!(ok, "{key}: {out}");
        }
        let logo = dir.join("logo.png");
        std::fs::write(&logo, logo_png()).expect("logo file");
        let (ok, out) = cli(&dir, url, &env, &["settings", "set", "--logo", &logo.display().to_string()]);
        assert!(ok, "{out}");
        assert!(line_of(&out, "logo").contains("JPEG, sha256"), "{out}");

        // Refused, with the field's reason, and nothing saved.
        let (ok, out) = cli(&dir, url, &env, &["settings", "set", "timezone", "Mars/Base"]);
        assert!(!ok && out.contains("not a known IANA time zone"), "{out}");
        let (ok, out) = cli(&dir, url, &env, &["settings", "set", "tax_rate", "-3"]);
        assert!(!ok && out.contains("not below zero"), "{out}");
        let (ok, out) = cli(&dir, url, &env, &["settings", "set", "colour", "red"]);
        assert!(!ok && out.contains("not a setting"), "{out}");
        let (_, shown) = cli(&dir, url, &env, &["settings", "show"]);
        assert!(line_of(&shown, "tax_rate").contains("7.25 %  [database"), "{shown}");
        assert!(line_of(&shown, "timezone").contains("[default"), "{shown}");

        // The server on the same database: the CLI's settings are in force, audited as the CLI's.
        let db = match url {
            Some(u) => dispatch::Db::connect(u).await.expect("connect"),
            None => dispatch::Db::connect(&format!("sqlite://{}/real-dispatch.db?mode=rwc", dir.display()))
                .await
                .expect("open"),
        };
        let actors: Vec<String> =
            sqlx::query_scalar("SELECT actor_id FROM audit_events WHERE action = 'shop.settings.set' ORDER BY seq")
                .fetch_all(db.pool())
                .await
                .expect("events");
        assert_eq!(actors, vec!["system:cli".to_string(); 5], "each change audited as the CLI's");
        // The server's blob store is the CLI's (the data folder's), where the logo went.
        let blobs = dispatch::LocalBlobStore::new(dir.join("blobs")).expect("blobs");
        let s = start_with(Service::new(db, std::sync::Arc::new(blobs))).await;
        let tech = technician(&s.service, "hvac").await;
        let case = packet_compiled(&s.service, &tech).await;
        assert_eq!(case.invoice.as_ref().map(|i| i.tax_rate_bp), Some(725), "the saved tax rate");
        let (portal, packet, logo) = customer_sees(&s, &case, "ada@cli.test").await;
        assert!(logo, "the packet carries the logo the CLI saved");
        assert!(portal.contains("Pipe Pros") && portal.contains("+1 773 555 0142"), "the portal");
        for expected in ["Pipe Pros", "+1 773 555 0142", "Due on receipt, thank you"] {
            assert!(packet.contains(expected), "the packet shows {expected}:\n{packet}");
        }
    }
}
