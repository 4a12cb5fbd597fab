//! The technician's page, made for a phone in a basement: their own jobs (the service shows
//! nobody else's), and one job's flow — check in, checklist, photos, notes, labor, parts,
//! signature, work done. Everything reads without JavaScript; hydration adds uploads with
//! progress and the signature pad.

use crate::api::FormOutcome;
use crate::field_api::{
    tech_job_view, tech_jobs, TechCheck, TechJob, TechJobPage, TechLabor, TechNote, TechPart, TechStep, TechSubmit,
};
use crate::pages::photos::{PhotoUploads, Photos};
use crate::pages::session::TopBar;
use crate::pages::{day_time, field_error, window_text};
use domain::job_view::JobView;
use domain::validate::phone_for_people;
use domain::{Action, CaseState};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A link that opens the phone's maps app at an address.
fn maps_href(address: &str) -> String {
    let q: String = address
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("https://www.google.com/maps/search/?api=1&query={q}")
}

/// `tel:`/`sms:` want the number without spaces or punctuation.
fn dial(phone: &str) -> String {
    phone.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect()
}

#[component]
pub fn TechJobsPage() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| tech_jobs());
    view! {
        <TopBar title="My jobs"/>
        <main class="tech">
            // Filled by the page's outbox script (/outbox.js): what waits to be sent.
            <div id="outbox" class="outbox"></div>
            <Transition fallback=|| view! { <p class="muted">"Loading your jobs…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No jobs assigned to you right now."</p> }.into_any(),
                        Ok(list) => view! { <JobList list/> }.into_any(),
                        Err(e) => view! { <p class="bad">{format!("Could not load your jobs: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn JobList(list: Vec<TechJob>) -> impl IntoView {
    let mut days: Vec<(String, Vec<TechJob>)> = vec![];
    for job in list {
        match days.last_mut() {
            Some((day, jobs)) if *day == job.day => jobs.push(job),
            _ => days.push((job.day.clone(), vec![job])),
        }
    }
    view! {
        <div id="job-list">
            {days.into_iter().map(|(day, jobs)| view! {
                <h2 class="day">{day}</h2>
                <ul class="job-list">
                    {jobs.into_iter().map(|j| view! { <JobCard j/> }).collect_view()}
                </ul>
            }).collect_view()}
        </div>
    }
}

#[component]
fn JobCard(j: TechJob) -> impl IntoView {
    let progress = (j.checklist_total > 0).then(|| format!("Checklist {}/{}", j.checklist_done, j.checklist_total));
    view! {
        <li class="job-card" data-ticket=j.number.clone()>
            <a class="job-open" href=format!("/tech/jobs/{}", j.id)>
                <strong>{j.number.clone()}</strong>
                <span class=format!("state state-{}", j.state.as_str())>{j.word.clone()}</span>
                <span class="when">{j.appointment.map(|w| window_text(w.start_ms, w.end_ms)).unwrap_or_default()}</span>
                <span class="problem">{j.problem.clone().unwrap_or_default()}</span>
                <span class="muted">{j.customer_name.clone()}</span>
                {progress.map(|p| view! { <span class="progress-text">{p}</span> })}
            </a>
            <div class="quick">
                {j.address.clone().map(|a| { let href = maps_href(&a); view! { <a class="tap" href=href rel="noopener" target="_blank">"Map: " {a}</a> } })}
                {j.phone.clone().map(|p| { let href = format!("tel:{}", dial(&p)); view! { <a class="tap" href=href>"Call " {phone_for_people(&p)}</a> } })}
            </div>
            {j.access_notes.clone().map(|n| view! { <p class="access">"Access: " {n}</p> })}
        </li>
    }
}

/// The actions of one job; the page reloads the job when any of them succeeds (a failed one
/// leaves the page, and what was typed, as it is).
#[derive(Clone, Copy)]
struct JobActions {
    step: ServerAction<TechStep>,
    check: ServerAction<TechCheck>,
    note: ServerAction<TechNote>,
    labor: ServerAction<TechLabor>,
    part: ServerAction<TechPart>,
    submit: ServerAction<TechSubmit>,
    /// Photos and the signature on their way up; kept at page level, so reloading the case
    /// keeps their progress.
    photos: PhotoUploads,
    /// The note being written: kept through reloads and failures, cleared once saved.
    draft: RwSignal<String>,
    /// Set by the first action taken on the page: from then on the page's own messages say
    /// what happened, not the address it was opened at.
    acted: RwSignal<bool>,
}

/// Whether a step's answer is a success.
fn succeeded<T>(r: &Option<Result<FormOutcome<T>, ServerFnError>>) -> bool {
    matches!(r, Some(Ok(FormOutcome::Done(_))))
}

/// What went wrong with a step, in words a technician can act on: no signal, or the server's
/// own refusal. `kept` says what is still on the page and what to tap again.
fn failure_words<T>(r: Option<Result<FormOutcome<T>, ServerFnError>>, kept: &str) -> Option<String> {
    match r? {
        Ok(FormOutcome::Done(_)) => None,
        // The service's refusal of the step for the job's sake (canceled, changed, no longer
        // theirs), said as a clause: tapping again would not help, seeing the job as it is now
        // does. The page's own sentences (what is still needed) start with a capital.
        Ok(FormOutcome::Invalid { message, fields })
            if fields.is_empty() && message.starts_with(char::is_lowercase) =>
        {
            Some(format!("Not saved: {message}. Pull down to see the job as it is now."))
        }
        Ok(FormOutcome::Invalid { message, fields }) => {
            let detail = fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; ");
            Some(if detail.is_empty() { message } else { format!("{message} {detail}") })
        }
        Err(ServerFnError::Request(_)) => Some(format!("No signal \u{2014} {kept}")),
        Err(ServerFnError::ServerError(message)) => Some(format!("Not saved: {message}. {kept}")),
        Err(_) => Some(format!("The answer did not arrive whole \u{2014} {kept}")),
    }
}

#[component]
pub fn TechJobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let a = JobActions {
        step: ServerAction::new(),
        check: ServerAction::new(),
        note: ServerAction::new(),
        labor: ServerAction::new(),
        part: ServerAction::new(),
        submit: ServerAction::new(),
        photos: PhotoUploads::new(),
        draft: RwSignal::new(String::new()),
        acted: RwSignal::new(false),
    };
    // Reload after a success only: a step that failed for want of signal must not take the
    // page (and what was typed) with it.
    let saved = RwSignal::new(0u32);
    let bump = move |ok: bool| {
        if ok {
            saved.update(|n| *n += 1);
        }
    };
    Effect::new(move |_| bump(succeeded(&a.step.value().get())));
    Effect::new(move |_| bump(succeeded(&a.check.value().get())));
    Effect::new(move |_| bump(succeeded(&a.labor.value().get())));
    Effect::new(move |_| bump(succeeded(&a.part.value().get())));
    Effect::new(move |_| bump(succeeded(&a.submit.value().get())));
    Effect::new(move |_| {
        if succeeded(&a.note.value().get()) {
            a.draft.set(String::new());
            saved.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        let busy = [
            a.step.version().get(),
            a.check.version().get(),
            a.note.version().get(),
            a.labor.version().get(),
            a.part.version().get(),
            a.submit.version().get(),
        ];
        if busy.iter().any(|v| *v > 0) {
            a.acted.set(true);
        }
    });
    let job = Resource::new(move || (id(), saved.get(), a.photos.done.get()), |(id, _, _)| tech_job_view(id));
    // The job as last read: a reload that cannot reach the server shows it again.
    let last = StoredValue::new(None::<TechJobPage>);
    view! {
        <TopBar title="Job"/>
        <main class="tech">
            // A full page load (rel="external"), not the client's router: with no signal the
            // saved copy of the list opens.
            <p><a class="back tap" href="/tech" rel="external">"← My jobs"</a></p>
            <Transition fallback=|| view! { <p class="muted">"Loading the job…"</p> }>
                {move || Suspend::new(async move {
                    match job.await {
                        Ok(p) => {
                            last.set_value(Some(p.clone()));
                            view! { <Job p a/> }.into_any()
                        }
                        Err(e) => match last.get_value() {
                            Some(p) => view! {
                                <p class="bad" role="alert" data-test="job-stale">
                                    "No signal \u{2014} this is the job as last loaded; it will update when you have signal."
                                </p>
                                <Job p a/>
                            }.into_any(),
                            None => view! { <p class="bad" data-test="job-error">{failure_words::<()>(Some(Err(e)), "pull down to reload when you have signal.")}</p> }.into_any(),
                        },
                    }
                })}
            </Transition>
        </main>
    }
}

/// What a plain form post did, as the address it returned to says (`?done=note`): only words
/// of this list are shown, whatever the address holds.
fn plain_outcome(c: &JobView, done: Option<&str>, refused: Option<&str>) -> Option<(bool, String)> {
    if let Some(done) = done {
        let text = match done {
            "check_in" => "Checked in. You are on site.",
            "note" => "Note saved.",
            "checklist" => "Checklist saved.",
            "labor" => "Time saved.",
            "photo" => "Photo saved.",
            "part" => "Part saved.",
            "complete_work" => "Marked as work done.",
            "closeout" => "Closed out and sent to the office.",
            _ => return None,
        };
        return Some((true, text.to_string()));
    }
    let text = match refused? {
        "closeout" if !c.still_needed.is_empty() => {
            domain::job_view::still_needed_sentence(&c.missing_in_words(&c.still_needed))
        }
        "invalid" => "Not saved: please check what you typed and try again.".into(),
        "photo" => "Not saved: the photo was not accepted (a JPEG, PNG, WebP or HEIC picture is needed).".into(),
        "signed_out" => "Not saved: you had been signed out. You are signed in again; please do it again.".into(),
        "changed" | "closeout" => {
            "Not saved: this job changed in the meantime. Here it is as it stands now; try again if it is still needed."
                .into()
        }
        _ => "Not saved: the server could not do it just now. Try again in a moment.".into(),
    };
    Some((false, text))
}

#[component]
fn Job(p: TechJobPage, a: JobActions) -> impl IntoView {
    let TechJobPage { job: c, next } = p;
    let legal = |a: Action| a.legal_in(c.state);
    let id = c.id.clone();
    let site = c.site.clone();
    let phone = c.customer.phones.first().cloned();
    let working = matches!(c.state, CaseState::Onsite | CaseState::WorkPerformed);
    let closed = matches!(c.state, CaseState::CloseoutReady | CaseState::InvoiceReady | CaseState::PaidOrAr);
    let query = use_query_map();
    let (done, refused) = query.with_untracked(|q| (q.get("done"), q.get("refused")));
    let notice = plain_outcome(&c, done.as_deref(), refused.as_deref());
    let acted = a.acted;
    let still_needed = (c.state == CaseState::WorkPerformed && !c.still_needed.is_empty())
        .then(|| c.missing_in_words(&c.still_needed).join(", "));
    view! {
        <article class="job" data-ticket=c.number.clone() data-state=c.state.as_str() data-job=c.id.clone()
            data-version=c.version.to_string()>
            // Filled by the outbox script: steps waiting for signal, sent, or refused.
            <div id="outbox" class="outbox"></div>
            {notice.map(|(good, text)| view! {
                <Show when=move || !acted.get()>
                    <p class=if good { "notice good" } else { "notice bad" } role="status" data-test="plain-outcome">{text.clone()}</p>
                </Show>
            })}
            <h1>{c.number.clone()} " " <span class=format!("state state-{}", c.state.as_str()) data-test="field-word">{c.field_word()}</span></h1>
            <p class="problem">{c.problem_summary.clone().unwrap_or_default()}</p>
            {c.appointment.as_ref().map(|ap| view! { <p class="when" data-test="window">{window_text(ap.start_ms, ap.end_ms)}</p> })}
            {closed.then(|| view! { <Closed next=next.clone()/> })}
            {site.map(|s| view! {
                <section class="where">
                    <a class="tap" href=maps_href(&s.address) rel="noopener" target="_blank">"Map: " {s.address.clone()}</a>
                    {s.access_notes.clone().map(|n| view! { <p class="access">"Access: " {n}</p> })}
                </section>
            })}
            <section class="who">
                <p>{c.customer.name.clone()}</p>
                {phone.map(|p| view! {
                    <div class="quick">
                        <a class="tap" href=format!("tel:{}", dial(&p))>"Call " {phone_for_people(&p)}</a>
                        <a class="tap" href=format!("sms:{}", dial(&p))>"Text"</a>
                    </div>
                })}
            </section>
            {(c.state == CaseState::Dispatched).then(|| view! {
                <Step id=id.clone() version=c.version step="check_in" label="Check in — I'm on site"
                    kept="you are not checked in yet. Tap Check in to try again." a/>
                <OfflineKit c=c.clone()/>
            }.into_any())}
            {(!c.checklist.is_empty()).then(|| view! { <Checklist c=c.clone() a editable=legal(Action::CloseoutChecklistComplete) && working/> })}
            <Photos ticket_id=id.clone() photos=c.photos.clone() up=a.photos can_add=legal(Action::CloseoutAddPhoto) && working/>
            <Notes c=c.clone() a can_add=legal(Action::CloseoutAddNote)/>
            {working.then(|| view! { <LaborAndParts c=c.clone() a/> })}
            {working.then(|| view! { <Signature id=id.clone() a signed=c.signed()/> })}
            // Without scripts the camera buttons and the signature pad cannot work: they are
            // hidden (style/main.css); a plain upload form takes photos instead.
            {working.then(|| view! { <PlainPhotoForm id=id.clone()/> }.into_any())}
            {(c.state == CaseState::Onsite).then(|| view! {
                <Step id=id.clone() version=c.version step="complete_work" label="Work done"
                    kept="not marked done yet. Tap Work done to try again." a/>
            })}
            {still_needed.map(|s| view! { <p class="muted" data-test="still-needed">"Before closeout: " {s}</p> })}
            {(c.state == CaseState::WorkPerformed).then(|| view! { <Submit id=id.clone() a/> })}
        </article>
    }
}

/// The job's on-site tools for a job not yet checked in: hidden, and shown by the outbox
/// script when a check-in made with no signal waits to be sent, so the rest of the job can be
/// done in the basement too. Plain forms: the script keeps each step on the phone and sends it
/// when there is signal (without JavaScript the section stays hidden).
#[component]
fn OfflineKit(c: JobView) -> AnyView {
    let id = c.id.clone();
    let hidden = |name: &'static str, value: String| view! { <input type="hidden" name=name value=value/> };
    view! {
        <section id="offline-kit" class="offline-kit" hidden=true>
            <section class="checklist" id="kit-checklist">
                <h2>"Checklist"</h2>
                <ul>
                    {c.checklist.iter().map(|item| view! {
                        <li data-key=item.key.clone()>
                            <form method="post" action=TechCheck::PATH class="check">
                                {hidden("ticket_id", id.clone())}
                                {hidden("key", item.key.clone())}
                                <input type="hidden" name="mark" value="done"/>
                                <button type="submit" class="tap" aria-pressed="false" title="Tap when done">
                                    "○ " <span>{item.label.clone()}</span>
                                    {item.required.then(|| view! { <span class="required" title="required">" *required"</span> })}
                                </button>
                            </form>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="photos" id="kit-photos">
                <h2>"Photos"</h2>
                <div class="photo-add">
                    <label class="field"><span>"These photos are"</span>
                        <select id="kit-photo-kind">
                            <option value="before">"Before the work"</option>
                            <option value="after">"After the work"</option>
                            <option value="other">"Other"</option>
                        </select>
                    </label>
                    <label class="tap file-button">"Take a photo"
                        <input type="file" accept="image/*" capture="environment" id="kit-photo-camera" data-photos=id.clone()/>
                    </label>
                    <label class="tap file-button">"Choose photos"
                        <input type="file" accept="image/*" multiple=true id="kit-photo-input" data-photos=id.clone()/>
                    </label>
                </div>
            </section>
            <section class="labor" id="kit-labor">
                <h2>"Time and parts"</h2>
                <form method="post" action=TechLabor::PATH class="form compact" id="kit-labor-form">
                    {hidden("ticket_id", id.clone())}
                    <label class="field"><span>"Minutes"</span><input name="minutes" inputmode="numeric" required=true/></label>
                    <label class="field"><span>"Work done"</span><input name="description" required=true/></label>
                    <button type="submit" class="primary">"Add time"</button>
                </form>
                <form method="post" action=TechPart::PATH class="form compact" id="kit-part-form">
                    {hidden("ticket_id", id.clone())}
                    <label class="field"><span>"Part"</span><input name="description" required=true/></label>
                    <label class="field"><span>"Qty"</span><input name="quantity" inputmode="numeric" value="1" required=true/></label>
                    <label class="field"><span>"Unit price"</span><input name="unit_price" inputmode="decimal" placeholder="12.50" required=true/></label>
                    <button type="submit" class="primary">"Add part"</button>
                </form>
            </section>
            <section class="signature" id="kit-signature">
                <h2>"Customer signature"</h2>
                <canvas width="600" height="200" class="pad kit-pad" data-signature=id.clone()
                    aria-label="Signature pad: sign with a finger"></canvas>
                <div class="quick">
                    <button type="button" class="tap" data-signature-clear="">"Clear"</button>
                    <button type="button" class="tap primary" id="kit-save-signature" data-signature-save="">"Save signature"</button>
                </div>
                <p class="muted" role="status" data-signature-status=""></p>
            </section>
            <form method="post" action=TechStep::PATH class="step" id="kit-step-complete_work">
                {hidden("ticket_id", id.clone())}
                <input type="hidden" name="step" value="complete_work"/>
                {hidden("version", c.version.to_string())}
                <button type="submit" class="primary big">"Work done"</button>
            </form>
        </section>
    }
    .into_any()
}

/// Photos without scripts: a plain multipart form to the same upload door, which answers a
/// plain post with this page again (`?done=photo`). Shown only when scripts do not run.
#[component]
fn PlainPhotoForm(id: String) -> AnyView {
    let url = format!("/app/jobs/{id}/photos");
    view! {
        <form class="no-js-only form" method="post" enctype="multipart/form-data" action=format!("{url}?kind=after")
            id="plain-photo-form">
            <label class="field"><span>"Add a photo"</span>
                <input type="file" name="file" accept="image/*" required=true/></label>
            <div class="quick">
                <button type="submit" class="tap" formaction=format!("{url}?kind=before")>"Send as before the work"</button>
                <button type="submit" class="tap primary" formaction=format!("{url}?kind=after")>"Send as after the work"</button>
            </div>
            <p class="muted" data-test="needs-js">"The customer's signature needs JavaScript turned on in this browser."</p>
        </form>
    }
    .into_any()
}

/// After the closeout: it went, and where to go next.
#[component]
fn Closed(next: Option<TechJob>) -> impl IntoView {
    view! {
        <section class="closed" data-test="closed-out">
            <p class="good">"Closed out \u{2014} sent to the office. Thank you!"</p>
            {match next {
                Some(j) => {
                    let when = j.appointment.map(|w| window_text(w.start_ms, w.end_ms));
                    view! {
                        <a class="tap primary big" href=format!("/tech/jobs/{}", j.id) rel="external" data-test="next-job">
                            "Next job: " {j.number.clone()} {when.map(|w| format!(" \u{b7} {w}"))}
                            {j.address.clone().map(|ad| format!(" \u{b7} {ad}"))}
                        </a>
                    }.into_any()
                }
                None => view! { <p data-test="no-next-job">"No more open jobs. " <a class="tap" href="/tech" rel="external">"My jobs"</a></p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Step(
    id: String,
    version: i64,
    step: &'static str,
    label: &'static str,
    kept: &'static str,
    a: JobActions,
) -> impl IntoView {
    view! {
        <ActionForm action=a.step attr:class="step" attr:id=format!("step-{step}")>
            <input type="hidden" name="ticket_id" value=id/>
            <input type="hidden" name="step" value=step/>
            <input type="hidden" name="version" value=version.to_string()/>
            <button type="submit" class="primary big" disabled=move || a.step.pending().get()>{label}</button>
            <p class="bad" role="alert">{move || failure_words(a.step.value().get(), kept)}</p>
        </ActionForm>
    }
}

#[component]
fn Checklist(c: JobView, a: JobActions, editable: bool) -> impl IntoView {
    let id = StoredValue::new(c.id.clone());
    let done = c.checklist.iter().filter(|i| i.done).count();
    view! {
        <section class="checklist" id="checklist">
            <h2>"Checklist " <small>{format!("{done}/{}", c.checklist.len())}</small></h2>
            <ul>
                {c.checklist.into_iter().map(|item| {
                    let label = view! {
                        <span>{item.label.clone()}</span>
                        {item.required.then(|| view! { <span class="required" title="required">" *required"</span> })}
                    };
                    let class = if item.done { "done" } else { "" };
                    if !editable {
                        view! { <li class=class data-key=item.key.clone()>{if item.done { "✔ " } else { "○ " }} {label}</li> }.into_any()
                    } else {
                        // Tapping a ticked item unticks it (ticked by mistake).
                        let mark = if item.done { "not_done" } else { "done" };
                        let key = item.key.clone();
                        view! {
                            <li class=class data-key=item.key.clone()>
                                <ActionForm action=a.check attr:class="check">
                                    <input type="hidden" name="ticket_id" value=id.get_value()/>
                                    <input type="hidden" name="key" value=key/>
                                    <input type="hidden" name="mark" value=mark/>
                                    <button type="submit" class="tap" aria-pressed=item.done.to_string()
                                        title=if item.done { "Ticked: tap to untick" } else { "Tap when done" }>
                                        {if item.done { "✔ " } else { "○ " }} {label}
                                    </button>
                                </ActionForm>
                            </li>
                        }.into_any()
                    }
                }).collect_view()}
            </ul>
            <p class="bad" role="alert">{move || failure_words(a.check.value().get(), "the tick was not saved. Tap the item again to try again.")}</p>
        </section>
    }
}

#[component]
fn Notes(c: JobView, a: JobActions, can_add: bool) -> impl IntoView {
    let id = c.id.clone();
    let draft = a.draft;
    view! {
        <section class="notes" id="notes">
            <h2>"Notes"</h2>
            <ul>
                {c.notes.into_iter().map(|n| view! {
                    <li><small>{day_time(n.created_at_ms)} " · " {n.author.clone()} {(n.kind == domain::case::NoteKind::WorkSummary).then_some(" · work summary")}</small><br/>{n.text.clone()}</li>
                }).collect_view()}
            </ul>
            {can_add.then(|| view! {
                <ActionForm action=a.note attr:class="form" attr:id="note-form">
                    <input type="hidden" name="ticket_id" value=id.clone()/>
                    <label class="field"><span>"Note"</span>
                        <textarea name="text" rows="3" required=true
                            prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea></label>
                    <label class="field"><span>"Kind"</span>
                        <select name="kind"><option value="note">"Note"</option><option value="work_summary">"Work summary (for the customer)"</option></select>
                    </label>
                    <button type="submit" class="primary" disabled=move || a.note.pending().get()>
                        {move || if a.note.pending().get() { "Saving…" } else { "Save" }}
                    </button>
                    <p class="bad" role="alert" data-test="note-error">{move || failure_words(a.note.value().get(), "your note is still here. Tap Save to try again.")}</p>
                    <p class="good" role="status" data-test="note-saved">{move || succeeded(&a.note.value().get()).then_some("Note saved.")}</p>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn LaborAndParts(c: JobView, a: JobActions) -> impl IntoView {
    let id = c.id.clone();
    let id2 = c.id.clone();
    let money = |cents: i64| format!("${}.{:02}", cents / 100, cents % 100);
    view! {
        <section class="labor" id="labor">
            <h2>"Time and parts"</h2>
            <ul>
                {c.labor.iter().map(|l| view! { <li>{format!("{} min · {}", l.minutes, l.description)}</li> }).collect_view()}
                {c.parts.iter().map(|p| view! { <li>{format!("{} × {} · {}", p.quantity, p.description, money(p.unit_price_cents))}</li> }).collect_view()}
            </ul>
            <ActionForm action=a.labor attr:class="form compact" attr:id="labor-form">
                <input type="hidden" name="ticket_id" value=id.clone()/>
                <label class="field"><span>"Minutes"</span><input name="minutes" inputmode="numeric" required=true/>
                    <small class="field-error" role="alert">{move || field_error(a.labor.value().get(), &["minutes"])}</small></label>
                <label class="field"><span>"Work done"</span><input name="description" required=true/></label>
                <button type="submit" class="primary">"Add time"</button>
                <p class="bad" role="alert">{move || failure_words(a.labor.value().get(), "what you typed is still here. Tap Add time to try again.")}</p>
            </ActionForm>
            <ActionForm action=a.part attr:class="form compact" attr:id="part-form">
                <input type="hidden" name="ticket_id" value=id2/>
                <label class="field"><span>"Part"</span><input name="description" required=true/></label>
                <label class="field"><span>"Qty"</span><input name="quantity" inputmode="numeric" value="1" required=true/></label>
                <label class="field"><span>"Unit price"</span><input name="unit_price" inputmode="decimal" placeholder="12.50" required=true/>
                    <small class="field-error" role="alert" data-test="price-error">{move || field_error(a.part.value().get(), &["unit_price", "unit_price_cents"])}</small></label>
                <button type="submit" class="primary">"Add part"</button>
                <p class="bad" role="alert">{move || failure_words(a.part.value().get(), "what you typed is still here. Tap Add part to try again.")}</p>
            </ActionForm>
        </section>
    }
}

#[component]
fn Signature(id: String, a: JobActions, signed: bool) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let status = RwSignal::new(if signed { "Signature saved.".to_string() } else { String::new() });
    #[cfg(feature = "hydrate")]
    let pad = browser::Pad::new(canvas, format!("/app/jobs/{id}/photos?kind=signature"), status, a.photos.done);
    #[cfg(not(feature = "hydrate"))]
    let _ = (&id, a);
    let down = move |_e: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        pad.down(&_e);
    };
    let moved = move |_e: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        pad.draw(&_e);
    };
    let up = move |_e: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        pad.up();
    };
    let clear = move |_| {
        #[cfg(feature = "hydrate")]
        pad.clear();
    };
    let save = move |_| {
        #[cfg(feature = "hydrate")]
        pad.save();
    };
    view! {
        <section class="signature" id="signature" data-signed=signed.to_string()>
            <h2>"Customer signature"</h2>
            <canvas node_ref=canvas width="600" height="200" class="pad" aria-label="Signature pad: sign with a finger"
                on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointerleave=up></canvas>
            <div class="quick">
                <button type="button" class="tap" on:click=clear>"Clear"</button>
                <button type="button" class="tap primary" id="save-signature" on:click=save>"Save signature"</button>
            </div>
            <p class="muted" role="status" id="signature-status">{move || status.get()}</p>
        </section>
    }
}

#[component]
fn Submit(id: String, a: JobActions) -> impl IntoView {
    view! {
        <ActionForm action=a.submit attr:class="step" attr:id="submit-form">
            <input type="hidden" name="ticket_id" value=id/>
            <button type="submit" class="primary big" disabled=move || a.submit.pending().get()>"Submit for closeout"</button>
            <p class="bad" role="alert" data-test="submit-error">{move || failure_words(a.submit.value().get(), "not sent yet. Tap Submit for closeout to try again.")}</p>
        </ActionForm>
    }
}

/// What only a browser can do: read chosen files, send them with progress, draw.
#[cfg(feature = "hydrate")]
mod browser {
    use crate::upload::{new_key, send, Finished};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    /// The signature pad: strokes follow the finger; saving sends a PNG like any photo.
    #[derive(Clone, Copy)]
    pub struct Pad {
        canvas: NodeRef<leptos::html::Canvas>,
        url: StoredValue<String>,
        status: RwSignal<String>,
        uploads: RwSignal<u32>,
        last: StoredValue<Option<(f64, f64)>>,
        inked: StoredValue<bool>,
        key: StoredValue<String>,
    }

    impl Pad {
        pub fn new(
            canvas: NodeRef<leptos::html::Canvas>,
            url: String,
            status: RwSignal<String>,
            uploads: RwSignal<u32>,
        ) -> Self {
            Pad {
                canvas,
                url: StoredValue::new(url),
                status,
                uploads,
                last: StoredValue::new(None),
                inked: StoredValue::new(false),
                key: StoredValue::new(new_key()),
            }
        }

        fn context(&self) -> Option<(web_sys::HtmlCanvasElement, web_sys::CanvasRenderingContext2d)> {
            let canvas = self.canvas.get_untracked()?;
            let ctx = canvas.get_context("2d").ok()??.dyn_into::<web_sys::CanvasRenderingContext2d>().ok()?;
            Some((canvas, ctx))
        }

        /// The pointer's place in canvas pixels (the canvas is scaled by CSS).
        fn point(&self, e: &web_sys::PointerEvent) -> Option<(f64, f64)> {
            let (canvas, _) = self.context()?;
            let rect = canvas.get_bounding_client_rect();
            if rect.width() <= 0.0 || rect.height() <= 0.0 {
                return None;
            }
            let x = (f64::from(e.client_x()) - rect.left()) * f64::from(canvas.width()) / rect.width();
            let y = (f64::from(e.client_y()) - rect.top()) * f64::from(canvas.height()) / rect.height();
            Some((x, y))
        }

        pub fn down(&self, e: &web_sys::PointerEvent) {
            e.prevent_default();
            self.last.set_value(self.point(e));
        }

        pub fn draw(&self, e: &web_sys::PointerEvent) {
            let Some(from) = self.last.get_value() else { return };
            let (Some(to), Some((_, ctx))) = (self.point(e), self.context()) else { return };
            ctx.set_line_width(3.0);
            ctx.set_line_cap("round");
            ctx.set_stroke_style_str("#111");
            ctx.begin_path();
            ctx.move_to(from.0, from.1);
            ctx.line_to(to.0, to.1);
            ctx.stroke();
            self.last.set_value(Some(to));
            self.inked.set_value(true);
        }

        pub fn up(&self) {
            self.last.set_value(None);
        }

        pub fn clear(&self) {
            if let Some((canvas, ctx)) = self.context() {
                ctx.clear_rect(0.0, 0.0, f64::from(canvas.width()), f64::from(canvas.height()));
            }
            self.inked.set_value(false);
            self.key.set_value(new_key());
            self.status.set(String::new());
        }

        pub fn save(self) {
            if !self.inked.get_value() {
                self.status.set("Ask the customer to sign in the box first.".into());
                return;
            }
            let Some((canvas, _)) = self.context() else { return };
            self.status.set("Saving the signature…".into());
            let done = wasm_bindgen::closure::Closure::once(move |blob: Option<web_sys::Blob>| {
                let Some(blob) = blob else {
                    self.status.set("The signature could not be read; please try again.".into());
                    return;
                };
                let status = self.status;
                send(
                    &self.url.get_value(),
                    &blob,
                    "signature.png",
                    &self.key.get_value(),
                    move |pct| status.set(format!("Saving the signature… {pct} %")),
                    move |end| match end {
                        Finished::Done => {
                            status.set("Signature saved.".into());
                            self.uploads.update(|u| *u += 1);
                        }
                        Finished::Failed(why, _) => status.set(format!("Not saved: {why}")),
                    },
                );
            });
            if canvas.to_blob(done.as_ref().unchecked_ref()).is_err() {
                self.status.set("The signature could not be read; please try again.".into());
            }
            done.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(message: &str, fields: Vec<domain::FieldError>) -> Option<Result<FormOutcome<()>, ServerFnError>> {
        Some(Ok(FormOutcome::Invalid { message: message.into(), fields }))
    }

    #[test]
    fn a_step_refused_for_the_job_says_so_and_does_not_ask_for_a_tap_again() {
        let kept = "you are not checked in yet. Tap Check in to try again.";
        let canceled = failure_words(refused("the office canceled this job", vec![]), kept).expect("words");
        assert_eq!(canceled, "Not saved: the office canceled this job. Pull down to see the job as it is now.");
        // The page's own sentences stand as they are.
        let missing = "Not sent yet \u{2014} still needed: a photo after the work.";
        assert_eq!(failure_words(refused(missing, vec![]), kept).as_deref(), Some(missing));
        // What to fix is said with the field's words.
        let field = domain::FieldError::new("minutes", "invalid", "whole minutes, e.g. 45");
        let fix = failure_words(refused("Please correct the highlighted fields.", vec![field]), kept).expect("words");
        assert_eq!(fix, "Please correct the highlighted fields. whole minutes, e.g. 45");
        assert_eq!(failure_words::<()>(Some(Ok(FormOutcome::Done(()))), kept), None);
    }
}
