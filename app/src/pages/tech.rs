//! The technician's page: their own jobs (the service shows nobody else's).

use crate::api::{job_case, my_jobs};
use crate::pages::session::TopBar;
use crate::pages::when;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TechJobsPage() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| my_jobs());
    view! {
        <TopBar title="My jobs"/>
        <main class="tech">
            <Transition fallback=|| view! { <p class="muted">"Loading your jobs…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No jobs assigned to you right now."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="job-list" id="job-list">
                                {list.into_iter().map(|j| view! {
                                    <li data-ticket=j.number.clone()>
                                        <a href=format!("/tech/jobs/{}", j.id)>
                                            <strong>{j.number.clone()}</strong> " · " {j.state.label()}
                                            <br/>{j.site_address.clone().unwrap_or_default()}
                                            <br/><small>{j.appointment.map(|w| when(w.start_ms)).unwrap_or_default()}</small>
                                        </a>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="bad">{format!("Could not load your jobs: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
pub fn TechJobPage() -> impl IntoView {
    let params = use_params_map();
    let job = Resource::new(move || params.with(|p| p.get("id").unwrap_or_default()), job_case);
    view! {
        <TopBar title="Job"/>
        <main class="tech">
            <p><a href="/tech">"← My jobs"</a></p>
            <Transition fallback=|| view! { <p class="muted">"Loading the job…"</p> }>
                {move || Suspend::new(async move {
                    match job.await {
                        Ok(c) => view! {
                            <article class="job" data-ticket=c.number.clone()>
                                <h1>{c.number.clone()} " · " {c.state.label()}</h1>
                                <p>{c.problem_summary.clone().unwrap_or_default()}</p>
                                <p>{c.site.as_ref().map(|s| s.address.clone()).unwrap_or_default()}</p>
                                <p class="muted">{c.site.as_ref().and_then(|s| s.access_notes.clone()).unwrap_or_default()}</p>
                                <p>{c.customer.name.clone()} " " {c.customer.phones.first().cloned().unwrap_or_default()}</p>
                            </article>
                        }.into_any(),
                        Err(e) => view! { <p class="bad" data-test="job-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}
