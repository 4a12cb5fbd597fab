//! The shop's logo over HTTP: the settings page's upload and removal (a plain multipart form
//! post, answered by the settings page again, so it works without the client), and the image
//! itself for pages (anyone may see it: it is on every packet the shop sends).

use crate::api_error::{header, request_id, ApiError};
use crate::state::AppState;
use axum::extract::{Multipart, State};
use axum::http::{header as h, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use base64::Engine;
use dispatch::users::CurrentActor;
use dispatch::{CallContext, ServiceError};
use domain::shop_profile::{LogoChange, ShopSettingsChange, MAX_LOGO_BYTES};
use domain::{Action, ActionInput, DomainError, ErrorCode};

/// The body limit of the upload: the largest logo and the form around it.
pub const BODY_LIMIT: usize = MAX_LOGO_BYTES + 64 * 1024;

/// `POST /app/settings/logo` (admins): multipart `file` (a new logo) or `remove=1`, run as
/// `shop.settings.set`. A browser's form post is sent back to the settings page, with the
/// problem to show next to the field; a client asking for JSON gets the API's answer.
#[tracing::instrument(name = "shop.logo.upload", skip_all)]
pub async fn upload(
    State(state): State<AppState>,
    Extension(CurrentActor(actor)): Extension<CurrentActor>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let rid = request_id(&headers);
    let wants_json = header(&headers, "accept").is_some_and(|a| a.contains("application/json"));
    let Some(actor) = actor else {
        return if wants_json {
            ApiError::new(&rid, ErrorCode::Unauthenticated, "please sign in").into_response()
        } else {
            Redirect::to("/login?next=/console/settings").into_response()
        };
    };
    let ctx = CallContext { request_id: Some(rid.clone()), ..CallContext::new(actor) };
    let result = async {
        // The role first: nobody else's file is read.
        state.service.permit(&ctx, Action::ShopSettingsSet)?;
        let change = read_form(multipart).await?;
        state.service.execute(&ctx, ActionInput::ShopSettingsSet(change)).await
    }
    .await;
    match (result, wants_json) {
        (Ok(done), true) => axum::Json(done.body(&rid)).into_response(),
        (Ok(_), false) => Redirect::to("/console/settings?logo=saved").into_response(),
        (Err(e), true) => ApiError::from_service(&rid, &e).by(&ctx.actor).into_response(),
        (Err(e @ (ServiceError::Forbidden(_) | ServiceError::NotAllowed { .. })), false) => {
            ApiError::from_service(&rid, &e).by(&ctx.actor).into_response()
        }
        (Err(e), false) => {
            let why = match &e {
                ServiceError::Domain(DomainError::Invalid(fields)) => {
                    fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; ")
                }
                other => other.public_message(),
            };
            let query: String = url_encode(&why);
            Redirect::to(&format!("/console/settings?logo_error={query}")).into_response()
        }
    }
}

/// The form's `file` (base64 for the action's input) or `remove`.
async fn read_form(
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<ShopSettingsChange, ServiceError> {
    let needed = || ServiceError::invalid("logo", "required", "choose an image file to upload");
    let mut multipart = multipart.map_err(|_| needed())?;
    let mut logo = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| needed())? {
        let name = field.name().map(str::to_string);
        match name.as_deref() {
            Some("remove") => logo = Some(LogoChange::Remove),
            Some("file") => {
                let filename = field.file_name().map(str::to_string);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| ServiceError::invalid("logo", "too_large", "a logo file of at most 5 MiB"))?;
                if bytes.is_empty() {
                    return Err(needed());
                }
                let content_base64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                logo = Some(LogoChange::Set { content_base64, filename });
            }
            _ => {}
        }
    }
    let logo = logo.ok_or_else(needed)?;
    Ok(ShopSettingsChange { logo: Some(logo), ..Default::default() })
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /shop/logo`: the shop's logo (a JPEG), or 404 when it has none.
pub async fn image(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let (logo, bytes) = match state.service.shop_logo().await {
        Ok(Some(found)) => found,
        Ok(None) => return (StatusCode::NOT_FOUND, "the shop has no logo").into_response(),
        Err(e) => return ApiError::from_service(&rid, &e).into_response(),
    };
    let etag = format!("\"{}\"", logo.sha256);
    if header(&headers, "if-none-match") == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(h::ETAG, etag)]).into_response();
    }
    let mut res = bytes.into_response();
    let hs = res.headers_mut();
    hs.insert(h::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        hs.insert(h::ETAG, v);
    }
    // Pages name it with its hash (`?v=`), but ask again so a plain `/shop/logo` stays current.
    hs.insert(h::CACHE_CONTROL, HeaderValue::from_static("public, no-cache"));
    res
}
