//! Photo uploads from the browser, with progress. `fetch` reports no upload progress, so this
//! uses XMLHttpRequest. Each file carries an idempotency key chosen once, so a retry after a
//! lost answer never stores the photo twice.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// How an upload ended.
pub enum Finished {
    Done,
    /// Why, and whether sending it again can help (no connection, a server hiccup) or not
    /// (the server refused this file).
    Failed(String, bool),
}

/// A fresh random key (crypto.getRandomValues works on plain-http LAN addresses too, where
/// crypto.randomUUID does not exist).
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    if bytes == [0u8; 16] {
        // No crypto at all: time and Math.random still keep two files apart.
        let seed = (js_sys::Date::now() as u64) ^ ((js_sys::Math::random() * 1e15) as u64);
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `blob` as the request body to `url`, named by the `filename` query parameter. The
/// browser declares its exact size, so the server can pass it on to the store while it
/// arrives. `progress` gets whole percents; `done` is called once.
pub fn send(
    url: &str,
    blob: &web_sys::Blob,
    filename: &str,
    key: &str,
    progress: impl Fn(u32) + 'static,
    done: impl FnOnce(Finished) + 'static,
) {
    let fail = |msg: &str| Finished::Failed(msg.to_string(), false);
    let Ok(xhr) = web_sys::XmlHttpRequest::new() else { return done(fail("this browser cannot upload files")) };
    let separator = if url.contains('?') { '&' } else { '?' };
    let named = format!("{url}{separator}filename={}", String::from(js_sys::encode_uri_component(filename)));
    if xhr.open("POST", &named).is_err() {
        return done(fail("the file could not be read"));
    }
    let _ = xhr.set_request_header("Idempotency-Key", key);
    let _ = xhr.set_request_header("Accept", "application/json");
    // An upload hung on a connection that passes nothing would show "sending" for ever: it
    // ends as a failure Retry can mend once it has taken 30 s plus its size at 64 kbit/s (the
    // outbox's kept copies wait as long).
    xhr.set_timeout(wait_ms(blob.size()));

    let on_progress = Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            progress(((e.loaded() / e.total()) * 100.0).floor().min(100.0) as u32);
        }
    });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    on_progress.forget();

    // load and error/timeout each settle the upload; whichever comes first wins.
    let done = std::rc::Rc::new(std::cell::RefCell::new(Some(done)));
    let finish = {
        let done = done.clone();
        move |f: Finished| {
            if let Some(d) = done.borrow_mut().take() {
                d(f);
            }
        }
    };
    let on_load = {
        let xhr = xhr.clone();
        let finish = finish.clone();
        Closure::<dyn Fn()>::new(move || {
            let status = xhr.status().unwrap_or(0);
            if status == 200 {
                finish(Finished::Done);
            } else {
                let retryable = status == 0 || status == 408 || status == 429 || status >= 500;
                finish(Finished::Failed(error_message(status, xhr.response_text().ok().flatten()), retryable));
            }
        })
    };
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();
    let on_error = Closure::<dyn Fn()>::new(move || {
        finish(Finished::Failed("no connection: the photo is kept here, tap Retry when you have signal".into(), true))
    });
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    if xhr.send_with_opt_blob(Some(blob)).is_err() {
        if let Some(d) = done.borrow_mut().take() {
            d(Finished::Failed("the upload could not start".into(), true));
        }
    }
}

/// How long an upload of `size` bytes may take before it is given up on: 30 s, plus its
/// size at 8 bytes a millisecond.
fn wait_ms(size: f64) -> u32 {
    (30_000.0 + (size.max(0.0) / 8.0).ceil()).min(f64::from(u32::MAX)) as u32
}

/// The server's own words for a refusal (its field messages are written for people).
fn error_message(status: u16, body: Option<String>) -> String {
    let parsed = body.as_deref().and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
    let field =
        parsed.as_ref().and_then(|v| v["error"]["details"]["fields"][0]["message"].as_str().map(str::to_string));
    let message = parsed.as_ref().and_then(|v| v["error"]["message"].as_str().map(str::to_string));
    field.or(message).unwrap_or_else(|| format!("the server answered {status}"))
}
