pub mod console;

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <main class="home">
            <h1>"Real Dispatch"</h1>
            <p>"Dispatch and closeout for field-service teams."</p>
            <nav class="home-links">
                <A href="/console">"Operator console"</A>
            </nav>
        </main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="not-found">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the start page"</a></p>
        </main>
    }
}
