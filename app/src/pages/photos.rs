//! Photos on a case: thumbnails served through the app, and uploads from the phone's camera
//! or gallery with progress, shared by the technician's page and the console.

use domain::case::AttachmentKind;
use domain::job_view::JobPhoto;
use leptos::prelude::*;

/// One file on its way up.
#[derive(Clone, PartialEq)]
pub(crate) struct Sending {
    n: u32,
    name: String,
    /// The file's idempotency key: the page's outbox keeps a copy of the file under it.
    key: String,
    percent: u32,
    /// None while sending; Some(Ok) when stored; Some(Err((why, retryable))) when it failed.
    result: Option<Result<(), (String, bool)>>,
}

/// The upload state of one page.
#[derive(Clone, Copy)]
pub struct PhotoUploads {
    rows: RwSignal<Vec<Sending>>,
    /// What the next photos are (before/after/other).
    kind: RwSignal<String>,
    /// Bumped when an upload finishes: pages reload the case on it.
    pub done: RwSignal<u32>,
    #[cfg(feature = "hydrate")]
    uploader: browser::Uploader,
}

impl PhotoUploads {
    pub fn new() -> Self {
        let rows = RwSignal::new(vec![]);
        let done = RwSignal::new(0);
        PhotoUploads {
            rows,
            kind: RwSignal::new("before".to_string()),
            done,
            #[cfg(feature = "hydrate")]
            uploader: browser::Uploader::new(rows, done),
        }
    }
}

impl Default for PhotoUploads {
    fn default() -> Self {
        Self::new()
    }
}

/// A case's photos as thumbnails, and (when the case is open for them) adding more from the
/// camera or the gallery, each with its own progress bar and a retry that never duplicates.
#[component]
pub fn Photos(ticket_id: String, photos: Vec<JobPhoto>, up: PhotoUploads, can_add: bool) -> impl IntoView {
    let rows = up.rows;
    let kind = up.kind;
    let photos: Vec<_> = photos.into_iter().filter(|x| x.kind != AttachmentKind::Signature).collect();
    let url = StoredValue::new(format!("/app/jobs/{ticket_id}/photos"));
    #[cfg(feature = "hydrate")]
    let start = up.uploader;
    #[cfg(feature = "hydrate")]
    let on_files = move |ev: leptos::ev::Event| start.files(&ev, &url.get_value(), &kind.get_untracked());
    #[cfg(not(feature = "hydrate"))]
    let on_files = move |_ev: leptos::ev::Event| {
        let _ = (url, kind);
    };
    #[cfg(feature = "hydrate")]
    let retry = move |n: u32| start.retry(n);
    #[cfg(not(feature = "hydrate"))]
    let retry = move |_n: u32| {};
    view! {
        <section class="photos" id="photos">
            <h2>"Photos " <small>{photos.len()}</small></h2>
            {photos.is_empty().then(|| view! { <p class="muted" data-test="no-photos">"No photos yet."</p> })}
            <div class="thumbs">
                {photos.into_iter().map(|p| {
                    let label = match p.kind { AttachmentKind::Before => "before", AttachmentKind::After => "after", _ => "other" };
                    match p.previews {
                        true => view! {
                            <a href=format!("/files/{}/view", p.id) target="_blank" class="thumb" data-kind=label>
                                <img src=format!("/files/{}/thumb", p.id) alt=format!("{label} photo") loading="lazy" width="96" height="96"/>
                                <small>{label}</small>
                            </a>
                        }.into_any(),
                        false => view! {
                            <a href=format!("/files/{}/original", p.id) class="thumb none" data-kind=label>
                                <span>{p.content_type.clone()}</span><small>{label}</small>
                            </a>
                        }.into_any(),
                    }
                }).collect_view()}
            </div>
            {can_add.then(|| view! {
                <div class="photo-add">
                    <label class="field"><span>"These photos are"</span>
                        <select id="photo-kind" on:change=move |ev| kind.set(event_target_value(&ev)) prop:value=move || kind.get()>
                            <option value="before">"Before the work"</option>
                            <option value="after">"After the work"</option>
                            <option value="other">"Other"</option>
                        </select>
                    </label>
                    <label class="tap file-button">"Take a photo"
                        <input type="file" accept="image/*" capture="environment" id="photo-camera" on:change=on_files/>
                    </label>
                    <label class="tap file-button">"Choose photos"
                        <input type="file" accept="image/*" multiple=true id="photo-input" on:change=on_files/>
                    </label>
                </div>
            })}
            <ul class="sending" id="uploads">
                <For each=move || rows.get() key=|r| (r.n, r.percent, r.result.clone().map(|x| x.is_ok())) let:r>
                    <li class="upload" data-key=r.key.clone() data-state=match &r.result { None => "sending", Some(Ok(())) => "done", Some(Err(_)) => "failed" }>
                        <span class="name">{r.name.clone()}</span>
                        <progress max="100" value=r.percent.to_string()></progress>
                        {match r.result.clone() {
                            None => view! { <span>{format!("{} %", r.percent)}</span> }.into_any(),
                            Some(Ok(())) => view! { <span class="good">"Saved"</span> }.into_any(),
                            Some(Err((why, retryable))) => view! {
                                <span class="bad">{why}</span>
                                {retryable.then(|| view! { <button type="button" class="tap" on:click=move |_| retry(r.n)>"Retry"</button> })}
                            }.into_any(),
                        }}
                    </li>
                </For>
            </ul>
        </section>
    }
}

/// Reading chosen files and sending them, in the browser.
#[cfg(feature = "hydrate")]
mod browser {
    use super::Sending;
    use crate::upload::{new_key, send, Finished};
    use leptos::prelude::*;
    use std::collections::HashMap;
    use wasm_bindgen::JsCast;

    /// A file kept for retries, with the key that makes its retries harmless.
    struct Pending {
        blob: web_sys::Blob,
        name: String,
        key: String,
        url: String,
    }

    #[derive(Clone, Copy)]
    pub struct Uploader {
        rows: RwSignal<Vec<Sending>>,
        uploads: RwSignal<u32>,
        files: StoredValue<HashMap<u32, Pending>, LocalStorage>,
        next: StoredValue<u32>,
    }

    impl Uploader {
        pub fn new(rows: RwSignal<Vec<Sending>>, uploads: RwSignal<u32>) -> Self {
            Uploader { rows, uploads, files: StoredValue::new_local(HashMap::new()), next: StoredValue::new(0) }
        }

        /// Starts one upload per chosen file. The page's outbox (on the technician's page)
        /// has kept a copy of each file under a key it puts in `data-keys`: the upload uses
        /// the same key, so the file is stored once whichever copy arrives.
        pub fn files(self, ev: &leptos::ev::Event, url: &str, kind: &str) {
            let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
            let Some(list) = input.files() else { return };
            let kept = input.get_attribute("data-keys").unwrap_or_default();
            let mut kept = kept.split(',').filter(|k| !k.is_empty());
            for i in 0..list.length() {
                if let Some(file) = list.get(i) {
                    let name = file.name();
                    let key = kept.next().map_or_else(new_key, str::to_string);
                    self.add(file.into(), name, format!("{url}?kind={kind}"), key);
                }
            }
            let _ = input.remove_attribute("data-keys");
            // The same photo can be chosen again later.
            input.set_value("");
        }

        pub fn add(self, blob: web_sys::Blob, name: String, url: String, key: String) {
            let n = self.next.get_value();
            self.next.set_value(n + 1);
            self.rows.update(|r| r.push(Sending { n, name: name.clone(), key: key.clone(), percent: 0, result: None }));
            self.files.update_value(|f| {
                f.insert(n, Pending { blob, name, key, url });
            });
            self.retry(n);
        }

        /// Sends (or sends again, with the same key) file `n`.
        pub fn retry(self, n: u32) {
            let set = move |percent: Option<u32>, result: Option<Result<(), (String, bool)>>| {
                self.rows.update(|rows| {
                    if let Some(r) = rows.iter_mut().find(|r| r.n == n) {
                        if let Some(p) = percent {
                            r.percent = p;
                        }
                        r.result = result;
                    }
                });
            };
            set(Some(0), None);
            self.files.with_value(|files| {
                let Some(p) = files.get(&n) else { return };
                send(
                    &p.url,
                    &p.blob,
                    &p.name,
                    &p.key,
                    move |pct| set(Some(pct), None),
                    move |end| match end {
                        Finished::Done => {
                            set(Some(100), Some(Ok(())));
                            self.uploads.update(|u| *u += 1);
                        }
                        Finished::Failed(why, retryable) => set(None, Some(Err((why, retryable)))),
                    },
                );
            });
        }
    }
}
