//! Signing in and out, and the header every signed-in page shares.

use crate::api::FormOutcome;
use crate::api::{whoami, ChangePassword, Login, Logout};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    // Without the client, a refused sign-in comes back here as `?failed=1` (see `api::login`).
    #[cfg(feature = "ssr")]
    let refused = query.with_untracked(|q| q.get("failed")).map(|_| crate::api::login_failed_message());
    #[cfg(not(feature = "ssr"))]
    let refused: Option<String> = None;
    view! {
        <main class="narrow login">
            <h1>"Sign in to Real Dispatch"</h1>
            <ActionForm action=login attr:id="login-form" attr:class="form">
                <input type="hidden" name="next" value=next/>
                <label class="field">
                    <span>"E-mail"</span>
                    <input type="email" name="email" autocomplete="username" required=true autofocus=true/>
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input type="password" name="password" autocomplete="current-password" required=true/>
                </label>
                <button type="submit" class="primary" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <p class="form-status" role="status" aria-live="polite">
                {move || match login.value().get() {
                    Some(Ok(message)) if !message.is_empty() => view! { <span class="bad" data-test="login-error">{message}</span> }.into_any(),
                    Some(Err(e)) => view! { <span class="bad" data-test="login-error">{e.to_string()}</span> }.into_any(),
                    _ => match refused.clone() {
                        Some(message) => view! { <span class="bad" data-test="login-error">{message}</span> }.into_any(),
                        None => ().into_any(),
                    },
                }}
            </p>
            <p class="muted">"Customers: use the link the office sent you; no password is needed."</p>
        </main>
    }
}

/// The bar at the top of signed-in pages: where you are, who you are, sign out.
#[component]
pub fn TopBar(title: &'static str) -> impl IntoView {
    let who = Resource::new(|| (), |_| whoami());
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Real Dispatch"</a>
            <span class="topbar-title">{title}</span>
            <span class="spacer"></span>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match who.await {
                        Ok(Some(me)) => {
                            let show_password = !me.by_link;
                            let staff = matches!(me.role, domain::Role::Operator | domain::Role::Admin);
                            view! {
                                {staff.then(|| view! {
                                    <nav class="topnav" aria-label="Console">
                                        <a href="/console">"Board"</a>
                                        <a href="/console/approvals" data-test="nav-approvals">"Approvals"</a>
                                        <a href="/console/schedule">"Schedule"</a>
                                        <a href="/console/technicians">"Technicians"</a>
                                        <a href="/console/customers">"Customers"</a>
                                        <a href="/console/checklists">"Checklists"</a>
                                        {(me.role == domain::Role::Admin).then(|| view! {
                                            <a href="/console/accounts">"Accounts"</a>
                                            <a href="/console/settings" data-test="nav-settings">"Settings"</a>
                                        })}
                                    </nav>
                                })}
                                <span class="whoami" data-test="whoami" data-me=me.mark.clone()>{me.name} " · " {me.role.as_str()}</span>
                                {show_password.then(|| view! { <a class="topbar-link" href="/account">"Password"</a> })}
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link" data-test="logout">"Sign out"</button>
                                </ActionForm>
                            }.into_any()
                        }
                        _ => view! { <a class="topbar-link" href="/login">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    view! {
        <TopBar title="Your account"/>
        <main class="narrow">
            <h1>"Change your password"</h1>
            <p class="muted">"Every other place you are signed in will be signed out."</p>
            <ActionForm action=change attr:id="password-form" attr:class="form">
                <label class="field"><span>"Current password"</span>
                    <input type="password" name="current_password" autocomplete="current-password" required=true/></label>
                <label class="field"><span>"New password (at least 10 characters)"</span>
                    <input type="password" name="new_password" autocomplete="new-password" minlength="10" required=true/></label>
                <button type="submit" class="primary">"Change password"</button>
            </ActionForm>
            <p class="form-status" role="status" aria-live="polite">
                {move || match change.value().get() {
                    Some(Ok(FormOutcome::Done(()))) => view! { <span class="ok" data-test="password-changed">"Password changed."</span> }.into_any(),
                    other => crate::pages::failure_text(other).map(|t| view! { <span class="bad">{t}</span> }).into_any(),
                }}
            </p>
        </main>
    }
}
