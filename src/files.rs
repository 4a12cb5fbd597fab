//! Files over HTTP: receiving multipart uploads into a spool (shared by the tool API and the
//! web app), the technician's photo upload, and attachment downloads with the case's own
//! access rules.

use crate::api_error::{header, request_id, ApiError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header as h, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use dispatch::files::Variant;
use dispatch::spool::{Spool, SpoolError, Spooled};
use dispatch::users::CurrentActor;
use dispatch::CallContext;
use domain::case::AttachmentKind;
use domain::ErrorCode;
use futures_util::TryStreamExt;
use serde_json::json;

/// Why a file could not be received.
#[derive(Debug)]
pub enum ReceiveError {
    TooLarge {
        limit: u64,
    },
    Bad(String),
    /// The client stopped sending, or sent too slowly (see `crate::limits`).
    TimedOut(crate::limits::BodyTimeout),
    /// Refused for what it is (not an image), with the service's own words.
    Refused(dispatch::ServiceError),
    Io(String),
}

impl ReceiveError {
    pub fn into_api(self, rid: &str) -> ApiError {
        match self {
            ReceiveError::TooLarge { limit } => {
                ApiError::new(rid, ErrorCode::PayloadTooLarge, format!("files are limited to {} MiB", limit >> 20))
                    .details(json!({"fields": [{"field": "file", "code": "too_large",
                "message": format!("at most {} MiB", limit >> 20)}]}))
            }
            ReceiveError::Bad(message) => ApiError::new(rid, ErrorCode::InvalidRequest, message.clone())
                .details(json!({"fields": [{"field": "file", "code": "required", "message": message}]})),
            ReceiveError::TimedOut(why) => {
                ApiError::new(rid, ErrorCode::RequestTimeout, format!("{why}; send the file again"))
            }
            ReceiveError::Refused(e) => ApiError::from_service(rid, &e),
            ReceiveError::Io(e) => {
                tracing::error!(error = %e, "upload spool failed");
                ApiError::new(
                    rid,
                    ErrorCode::Internal,
                    "the file could not be received; the request id identifies it in the server logs",
                )
            }
        }
    }
}

impl From<SpoolError> for ReceiveError {
    fn from(e: SpoolError) -> Self {
        match e {
            SpoolError::TooLarge { limit } => ReceiveError::TooLarge { limit },
            SpoolError::NotAnImage => {
                ReceiveError::Refused(domain::DomainError::Invalid(vec![dispatch::spool::not_an_image("file")]).into())
            }
            SpoolError::WrongLength => {
                ReceiveError::Bad("the upload was cut off: its body does not match its Content-Length".into())
            }
            SpoolError::Io(e) => ReceiveError::Io(e.to_string()),
            SpoolError::Store(e) => ReceiveError::Io(e.to_string()),
        }
    }
}

/// The refusal of a body that carries no file.
fn no_file() -> ReceiveError {
    ReceiveError::Bad(
        "send the file as the request body (with its Content-Length), or as multipart/form-data with a field named file"
            .into(),
    )
}

#[derive(Debug, Default, serde::Deserialize)]
struct FileName {
    filename: Option<String>,
}

/// Receives the file of an upload request, in either shape:
/// - a raw body (the file itself, any content type but multipart), named by the query's
///   `filename`. With a `Content-Length` its size is known before the first byte, so a file
///   over the limit is refused at once and the file goes to the blob store in one write
///   while it arrives;
/// - multipart/form-data with a field `file` (other fields before it are ignored).
///
/// Memory stays flat whatever the size. Where the store is better fed whole files, a body of
/// unknown size is received to local disk first. A local copy is kept while the file is small
/// enough to make previews from. On any failure, nothing is kept.
pub async fn receive_upload(
    request: axum::extract::Request,
    service: &dispatch::Service,
) -> Result<(Spooled, Option<String>), ReceiveError> {
    let into = Receiving {
        limit: service.settings().max_upload_bytes(),
        store: service.blobs().clone(),
        spool: service.spool_dir(),
    };
    let is_multipart = header(request.headers(), "content-type")
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("multipart/"));
    if is_multipart {
        let multipart =
            <Multipart as axum::extract::FromRequest<()>>::from_request(request, &()).await.map_err(|_| no_file())?;
        return receive_multipart(multipart, into).await;
    }
    let filename = Query::<FileName>::try_from_uri(request.uri()).map(|q| q.0).unwrap_or_default().filename;
    let declared = header(request.headers(), "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let chunks = request.into_body().into_data_stream().map_err(|e| match crate::limits::BodyTimeout::find(&e) {
        Some(why) => ReceiveError::TimedOut(why),
        None => ReceiveError::Bad(format!("the upload was cut off: {e}")),
    });
    Ok((spool_chunks(chunks, declared, into).await?, filename))
}

/// Where a received file goes: the size limit, the blob store, and the spool folder.
struct Receiving<'a> {
    limit: u64,
    store: std::sync::Arc<dyn dispatch::BlobStore>,
    spool: &'a std::path::Path,
}

/// Reads the multipart field `file` chunk by chunk (see [`receive_upload`]).
async fn receive_multipart(
    mut multipart: Multipart,
    into: Receiving<'_>,
) -> Result<(Spooled, Option<String>), ReceiveError> {
    let limit = into.limit;
    let field_error = |e: axum::extract::multipart::MultipartError| {
        if let Some(why) = crate::limits::BodyTimeout::find(&e) {
            ReceiveError::TimedOut(why)
        } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ReceiveError::TooLarge { limit }
        } else {
            ReceiveError::Bad(format!("the upload was cut off or is not valid multipart: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(field_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().map(str::to_string);
        return Ok((spool_chunks(field.map_err(field_error), None, into).await?, filename));
    }
    Err(no_file())
}

/// Receives a file's chunks into a spool: into the blob store as they arrive when the size
/// is declared or the store is better fed that way (with a local copy while the file is small
/// enough for previews), else to local disk. On any failure, nothing is kept.
async fn spool_chunks(
    chunks: impl futures_util::Stream<Item = Result<bytes::Bytes, ReceiveError>>,
    declared: Option<u64>,
    into: Receiving<'_>,
) -> Result<Spooled, ReceiveError> {
    let Receiving { limit, store, spool } = into;
    let spool = Spool::create(spool, limit).await?.images_only();
    let mut spool = match declared {
        Some(size) => spool.declared_size(size)?.streaming_to(store, dispatch::photo_copies::MAX_DECODE_BYTES),
        None if store.streams_uploads() => spool.streaming_to(store, dispatch::photo_copies::MAX_DECODE_BYTES),
        None => spool,
    };
    let mut chunks = std::pin::pin!(chunks);
    let received = async {
        while let Some(chunk) = chunks.try_next().await? {
            spool.write(chunk).await?;
        }
        Ok::<_, ReceiveError>(())
    }
    .await;
    if let Err(e) = received {
        spool.abort().await;
        return Err(e);
    }
    Ok(spool.finish().await?)
}

#[derive(Debug, serde::Deserialize)]
pub struct PhotoQuery {
    kind: Option<String>,
}

/// `POST /app/jobs/{ticket_id}/photos?kind=before|after|signature|other`: a photo from the
/// technician's phone (or the console), stored and attached in one request. The
/// `Idempotency-Key` header (one per file, kept across retries) makes a retry return the
/// first result instead of a second copy.
pub async fn upload_photo(
    State(state): State<AppState>,
    Extension(CurrentActor(actor)): Extension<CurrentActor>,
    Path(ticket_id): Path<String>,
    Query(q): Query<PhotoQuery>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let rid = request_id(&headers);
    // A plain HTML form post (a technician's phone without scripts): answered with the job
    // page again, which says what happened, instead of JSON.
    let plain = header(&headers, "accept").is_some_and(|a| a.contains("text/html"));
    let page = match actor.as_ref().map(|a| a.role) {
        Some(domain::Role::Technician) | None => format!("/tech/jobs/{}", app::api::ssr::path_segment(&ticket_id)),
        Some(_) => format!("/console/tickets/{}", app::api::ssr::path_segment(&ticket_id)),
    };
    let signed_in = actor.is_some();
    let result = async {
        let actor = actor.ok_or_else(|| {
            ApiError::new(&rid, ErrorCode::Unauthenticated, "your session ended; please sign in again")
        })?;
        let kind = match q.kind.as_deref().unwrap_or("other") {
            "before" => AttachmentKind::Before,
            "after" => AttachmentKind::After,
            "signature" => AttachmentKind::Signature,
            "other" => AttachmentKind::Other,
            _ => {
                return Err(ApiError::new(&rid, ErrorCode::InvalidRequest, "unknown photo kind")
                    .details(json!({"fields": [{"field": "kind", "code": "invalid",
                        "message": "one of before, after, signature, other"}]})))
            }
        };
        let ctx = CallContext { request_id: Some(rid.clone()), ..CallContext::new(actor) };
        // Role, reach and state first: a refused upload is answered before its first byte is read.
        let service = &state.service;
        if let Err(e) = service.may_add_photo(&ctx, &ticket_id).await {
            // A photo kept on the phone and refused when it arrived (the job was reassigned,
            // canceled or closed meanwhile) goes into the ticket's trail for the office.
            if let (Some(key), false) = (header(&headers, "idempotency-key"), e.code() == ErrorCode::InvalidRequest) {
                if let Err(err) =
                    service.record_field_refusal(&ctx, &ticket_id, domain::Action::CloseoutAddPhoto, &e, key).await
                {
                    tracing::error!(error = %err, "could not record a refused photo in the trail");
                }
            }
            return Err(ApiError::from_service(&rid, &e).by(&ctx.actor));
        }
        let (file, filename) = receive_upload(request, service).await.map_err(|e| e.into_api(&rid))?;
        let service_error = |e: dispatch::ServiceError| ApiError::from_service(&rid, &e).by(&ctx.actor);
        let upload = service
            .store_upload(&ctx, &file, filename.as_deref(), header(&headers, "idempotency-key"))
            .await
            .map_err(service_error)?;
        let case = service.attach_upload(&ctx, &ticket_id, &upload.upload_id, kind).await.map_err(service_error)?;
        let attachment = case.attachments.iter().find(|a| a.blob_key == upload.blob_key);
        Ok(json!({
            "request_id": rid,
            "upload": upload,
            "attachment_id": attachment.map(|a| a.id.clone()),
            "thumb_url": attachment.filter(|a| a.thumb_key.is_some()).map(|a| format!("/files/{}/thumb", a.id)),
            "version": case.version,
        }))
    }
    .await;
    let back = |to: String| (StatusCode::SEE_OTHER, [(h::LOCATION, to)]).into_response();
    match result {
        Ok(_) if plain => back(format!("{page}?done=photo")),
        Err(_) if plain && !signed_in => {
            back(format!("/login?next={}", app::api::ssr::path_segment(&format!("{page}?refused=signed_out"))))
        }
        Err(_) if plain => back(format!("{page}?refused=photo")),
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /files/{attachment_id}/{variant}`: an attachment's file, streamed, for whoever may
/// read its case (customers get the copy without metadata).
pub async fn download(
    State(state): State<AppState>,
    Extension(CurrentActor(actor)): Extension<CurrentActor>,
    Path((attachment_id, variant)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (ctx, rid) = match reader(actor, &headers) {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let variant: Variant = match variant.parse() {
        Ok(v) => v,
        Err(e) => return ApiError::from_service(&rid, &e).into_response(),
    };
    let file = match state.service.attachment_file(&ctx, &attachment_id, variant).await {
        Ok(f) => f,
        Err(e) => return ApiError::from_service(&rid, &e).by(&ctx.actor).into_response(),
    };
    if header(&headers, "if-none-match") == Some(file.etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(h::ETAG, file.etag)]).into_response();
    }
    let mut res = Body::from_stream(tokio_util::io::ReaderStream::new(file.reader.body)).into_response();
    let hs = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.content_type) {
        hs.insert(h::CONTENT_TYPE, v);
    }
    if let Some(size) = file.reader.size {
        hs.insert(h::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if let Ok(v) = HeaderValue::from_str(&file.etag) {
        hs.insert(h::ETAG, v);
    }
    // Keys never change content; only this browser may keep a copy.
    hs.insert(h::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    let name = domain::media::download_filename(file.filename.as_deref(), &attachment_id, &file.content_type);
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        hs.insert(h::CONTENT_DISPOSITION, v);
    }
    res
}

/// The call context of a signed-in reader of files, with the request id for error answers;
/// without a session, the 401 every file route gives.
// A handler's early answer is a whole response; boxing it would only move the allocation.
#[allow(clippy::result_large_err)]
pub(crate) fn reader(actor: Option<domain::Actor>, headers: &HeaderMap) -> Result<(CallContext, String), Response> {
    let rid = request_id(headers);
    let Some(actor) = actor else {
        return Err(ApiError::new(&rid, ErrorCode::Unauthenticated, "please sign in").into_response());
    };
    Ok((CallContext { request_id: Some(rid.clone()), ..CallContext::new(actor) }, rid))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PacketQuery {
    /// `customer` (the default) or `staff`.
    #[serde(default)]
    copy: Option<String>,
}

/// `GET /packets/{ticket_id}`: the ticket's current closeout packet PDF, for anyone who may
/// read the case (the customer by their portal session included): the customer's copy, the
/// one on record. `?copy=staff` (staff only) adds each file's SHA-256 and the verify command.
#[tracing::instrument(name = "packet.download", skip_all, fields(ticket = %ticket_id))]
pub async fn packet(
    State(state): State<AppState>,
    Extension(CurrentActor(actor)): Extension<CurrentActor>,
    Path(ticket_id): Path<String>,
    Query(q): Query<PacketQuery>,
    headers: HeaderMap,
) -> Response {
    let (ctx, rid) = match reader(actor, &headers) {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    match q.copy.as_deref() {
        None | Some("customer") => {}
        Some("staff") => return staff_packet(&state, &ctx, &rid, &ticket_id).await,
        Some(_) => {
            return ApiError::new(&rid, ErrorCode::InvalidRequest, "copy is customer or staff").into_response();
        }
    }
    let file = match state.service.packet_file(&ctx, &ticket_id).await {
        Ok(f) => f,
        Err(e) => return ApiError::from_service(&rid, &e).by(&ctx.actor).into_response(),
    };
    let etag = format!("\"{}\"", file.sha256);
    if header(&headers, "if-none-match") == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(h::ETAG, etag)]).into_response();
    }
    let mut res = Body::from_stream(tokio_util::io::ReaderStream::new(file.reader.body)).into_response();
    let hs = res.headers_mut();
    hs.insert(h::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Some(size) = file.reader.size {
        hs.insert(h::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        hs.insert(h::ETAG, v);
    }
    // A newer packet may replace this one: always ask again, but reuse on a matching ETag.
    hs.insert(h::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename)) {
        hs.insert(h::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&file.packet_id) {
        hs.insert("x-packet-id", v);
    }
    res
}

/// The staff copy of a packet, made on request (staff only).
async fn staff_packet(state: &AppState, ctx: &CallContext, rid: &str, ticket_id: &str) -> Response {
    let (filename, bytes) = match state.service.packet_staff_copy(ctx, ticket_id).await {
        Ok(copy) => copy,
        Err(e) => return ApiError::from_service(rid, &e).by(&ctx.actor).into_response(),
    };
    let mut res = Body::from(bytes).into_response();
    let hs = res.headers_mut();
    hs.insert(h::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    hs.insert(h::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        hs.insert(h::CONTENT_DISPOSITION, v);
    }
    res
}
