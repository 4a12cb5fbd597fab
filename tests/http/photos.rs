//! Photos through the web app over real HTTP, on SQLite and PostgreSQL: the technician's
//! upload with retries, previews, the customer's metadata-free copy, access rules, and bad
//! uploads that change nothing.

use crate::support::{account, blob_count, dispatched_ticket, start, start_with, system, technician, Browser, Server};
use dispatch::testing::{each_backend, jpeg_with_exif, GPS_MARK};
use domain::commands::TicketRef;
use domain::Role;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Posts a file as the technician's page does (same-origin, session cookie).
async fn post_photo(b: &mut Browser, ticket: &str, kind: &str, key: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(body).file_name("photo.jpg").mime_str("image/jpeg").expect("mime"),
    );
    let mut req = b
        .http
        .post(format!("{}/app/jobs/{ticket}/photos?kind={kind}", b.base))
        .header("sec-fetch-site", "same-origin")
        .multipart(form);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = b.send(req).await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

/// The same as [`post_photo`], sent as the technician page sends it: the file as the raw body.
async fn post_photo_raw(b: &mut Browser, ticket: &str, kind: &str, body: Vec<u8>) -> (u16, Value) {
    let req = b
        .http
        .post(format!("{}/app/jobs/{ticket}/photos?kind={kind}&filename=photo.jpg", b.base))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "image/jpeg")
        .body(body);
    let r = b.send(req).await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

fn field_code(body: &Value) -> &str {
    body["error"]["details"]["fields"][0]["code"].as_str().unwrap_or_default()
}

/// A job dispatched to a signed-in technician and checked in.
async fn onsite_job(s: &Server) -> (Browser, domain::Case, String) {
    let tech = technician(&s.service, "hvac").await;
    let email = format!("{tech}@example.com");
    account(s, &email, Role::Technician, Some(&tech), None).await;
    let job = dispatched_ticket(&s.service, &tech, 0).await;
    let job = s
        .service
        .check_in(&system(), &TicketRef { ticket_id: job.id.clone(), expected_version: None })
        .await
        .expect("check in")
        .case;
    let mut b = Browser::new(s);
    assert_eq!(b.login(&email, PASSWORD).await.status, 200);
    (b, job, tech)
}

#[tokio::test]
async fn a_technicians_photo_gets_previews_and_customers_never_see_its_location() {
    for db in each_backend().await {
        let s = start(db).await;
        let (mut tech, job, _) = onsite_job(&s).await;
        // 800 × 400 stored sideways (EXIF orientation 6: rotate 90° to display).
        let photo = jpeg_with_exif(800, 400, 6);
        let (st, first) = post_photo(&mut tech, &job.id, "before", Some("file-1"), photo.clone()).await;
        assert_eq!(st, 200, "{first}");
        let id = first["attachment_id"].as_str().expect("attachment id").to_string();
        assert_eq!(first["thumb_url"], format!("/files/{id}/thumb"));

        // A retry with the same key (answer lost on a bad connection) stores nothing new.
        let before_retry = blob_count(&s).await;
        let (st, again) = post_photo(&mut tech, &job.id, "before", Some("file-1"), photo.clone()).await;
        assert_eq!(st, 200, "{again}");
        assert_eq!(again["attachment_id"], first["attachment_id"]);
        assert_eq!(blob_count(&s).await, before_retry);
        let case = s.service.case(&system(), &job.id).await.expect("case");
        assert_eq!(case.attachments.len(), 1, "one photo, however many retries");
        // The same key for a different file is a client bug, refused.
        let (st, reused) = post_photo(&mut tech, &job.id, "before", Some("file-1"), jpeg_with_exif(64, 64, 1)).await;
        assert_eq!((st, field_code(&reused)), (400, "key_reused"), "{reused}");

        // The office gets the original, metadata and all; the shared copy has none of it.
        let (st, headers, original) = tech.get_bytes(&format!("/files/{id}/original")).await;
        assert_eq!(st, 200);
        assert_eq!(original, photo);
        assert_eq!(headers["content-type"], "image/jpeg");
        assert!(headers["cache-control"].to_str().unwrap_or_default().starts_with("private"));
        assert!(contains(&original, &GPS_MARK));
        let (st, _, view) = tech.get_bytes(&format!("/files/{id}/view")).await;
        assert_eq!(st, 200);
        assert!(!contains(&view, b"Exif") && !contains(&view, &GPS_MARK), "the shared copy carries no EXIF");
        let view_img = image::load_from_memory(&view).expect("view decodes");
        assert_eq!((view_img.width(), view_img.height()), (400, 800), "orientation applied before EXIF is dropped");
        let (st, _, thumb) = tech.get_bytes(&format!("/files/{id}/thumb")).await;
        assert_eq!(st, 200);
        let thumb_img = image::load_from_memory(&thumb).expect("thumb decodes");
        assert_eq!((thumb_img.width(), thumb_img.height()), (160, 320));

        // The customer's link: the shared copy and the thumbnail, never the original.
        let link = s
            .service
            .create_portal_link(&system(), &dispatch::portal::CreateLink { ticket_id: job.id.clone(), ttl_hours: None })
            .await
            .expect("link");
        let mut customer = Browser::new(&s);
        assert_eq!(customer.get(&link.path).await.status, 303);
        let (st, _, seen) = customer.get_bytes(&format!("/files/{id}/view")).await;
        assert_eq!((st, seen.len()), (200, view.len()));
        assert_eq!(customer.get_bytes(&format!("/files/{id}/original")).await.0, 403);
        assert_eq!(customer.get_bytes(&format!("/files/{id}/thumb")).await.0, 200);
        let (st, _, _) = customer.get_bytes(&format!("/files/{id}/raw")).await;
        assert_eq!(st, 400, "unknown variant");

        // Another technician, and nobody at all, see nothing.
        let (mut other, _, _) = onsite_job(&s).await;
        assert_eq!(other.get_bytes(&format!("/files/{id}/thumb")).await.0, 404);
        let (st, b) = post_photo(&mut other, &job.id, "after", None, jpeg_with_exif(64, 64, 1)).await;
        assert_eq!((st, b["error"]["code"].as_str()), (404, Some("TICKET_NOT_FOUND")), "{b}");
        let mut anonymous = Browser::new(&s);
        assert_eq!(anonymous.get_bytes(&format!("/files/{id}/thumb")).await.0, 401);

        let report = dispatch::audit::verify(s.service.db().pool()).await.expect("verify");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let replay = s.service.replay().await.expect("replay");
        assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
    }
}

#[tokio::test]
async fn bad_uploads_are_refused_with_a_clear_code_and_change_nothing() {
    for db in each_backend().await {
        let settings = dispatch::ShopSettings { max_upload_mib: 1, ..Default::default() };
        let blobs = dispatch::LocalBlobStore::new(dispatch::testing::temp_dir()).expect("blobs");
        let s = start_with(dispatch::Service::with_settings(db, std::sync::Arc::new(blobs), settings)).await;
        let (mut tech, job, _) = onsite_job(&s).await;
        let version = s.service.case(&system(), &job.id).await.expect("case").version;
        let events = dispatch::audit::verify(s.service.db().pool()).await.expect("verify").events;

        let good = jpeg_with_exif(320, 240, 1);
        let mut truncated = good.clone();
        truncated.truncate(good.len() * 2 / 3);
        let mut oversize = jpeg_with_exif(64, 64, 1);
        oversize.resize(1024 * 1024 + 10, 0);
        let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
            ("a PDF", b"%PDF-1.7\n1 0 obj".to_vec(), 400, "unsupported_type"),
            ("a cut-off photo", truncated, 400, "truncated_image"),
            ("an empty file", vec![], 400, "empty_file"),
            (
                "a JPEG header with garbage",
                [&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02][..], &[0x12; 4000]].concat(),
                400,
                "malformed_image",
            ),
            ("more than the limit", oversize, 413, "too_large"),
        ];
        for (what, body, status, code) in cases {
            let (st, b) = post_photo(&mut tech, &job.id, "after", Some(what), body.clone()).await;
            assert_eq!((st, field_code(&b)), (status, code), "{what}: {b}");
            assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message for people");
            let (st, b) = post_photo_raw(&mut tech, &job.id, "after", body).await;
            assert_eq!((st, field_code(&b)), (status, code), "{what}, as a raw body: {b}");
        }
        let (st, b) = post_photo(&mut tech, &job.id, "portrait", None, good.clone()).await;
        assert_eq!((st, field_code(&b)), (400, "invalid"), "{b}");

        // Cross-site posts and posts without a session are refused before anything is read.
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(good.clone()));
        let r = tech.send(tech.http.post(format!("{}/app/jobs/{}/photos", tech.base, job.id)).multipart(form)).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("CSRF_REFUSED"));
        let mut anonymous = Browser::new(&s);
        let (st, _) = post_photo(&mut anonymous, &job.id, "after", None, good.clone()).await;
        assert_eq!(st, 401);

        assert_eq!(blob_count(&s).await, 0, "no file of a refused upload is kept");
        let after = s.service.case(&system(), &job.id).await.expect("case");
        assert_eq!((after.version, after.attachments.len()), (version, 0));
        assert_eq!(
            dispatch::audit::verify(s.service.db().pool()).await.expect("verify").events,
            events,
            "nothing audited as written"
        );

        // And the limit is not a wall for a normal photo, in either shape.
        let (st, b) = post_photo(&mut tech, &job.id, "after", None, good.clone()).await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = post_photo_raw(&mut tech, &job.id, "before", good).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["upload"]["filename"], "photo.jpg");
    }
}
