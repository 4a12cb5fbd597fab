//! The Real Dispatch web app: one Leptos app, server-rendered and hydrated, with the operator
//! console, the technician page and the customer portal. Server functions are thin calls into
//! the `dispatch` service, which authorises and validates everything.

#![recursion_limit = "256"]

pub mod api;
pub mod clock;
pub mod field_api;
pub mod pages;
#[cfg(feature = "hydrate")]
pub mod upload;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use leptos_router::SsrMode;

/// The nonce the server chose for this page's inline scripts (its Content-Security-Policy
/// names it); put in the request's extensions by the server.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// The client's files as the pages name them (URL paths). The build names them by their
/// content and lists them in the site root's `assets.json`; the server reads that once and
/// provides this to every page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ClientFiles {
    pub js: String,
    pub wasm: String,
    pub css: String,
    /// The phone pages' smaller client (`FieldApp`); without it they load the whole one.
    #[serde(default)]
    pub field_js: Option<String>,
    #[serde(default)]
    pub field_wasm: Option<String>,
}

impl ClientFiles {
    /// Whether every name is a plain absolute URL path (letters, digits, `.`, `_`, `-`, `/`),
    /// safe to write into a page as it is.
    pub fn is_plain(&self) -> bool {
        let plain = |s: &str| {
            s.starts_with('/') && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        };
        self.names().all(plain)
    }

    /// Every file named: the whole client's, the stylesheet, and the phone client's if built.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.js, &self.wasm, &self.css]
            .into_iter()
            .map(String::as_str)
            .chain(self.field_js.as_deref().into_iter().chain(self.field_wasm.as_deref()))
    }

    /// The script and module for the page at `path`: the field client's on the phone pages
    /// (see `FieldApp`), when the build made one.
    pub fn client_for(&self, path: &str) -> (&str, &str) {
        match (&self.field_js, &self.field_wasm) {
            (Some(js), Some(wasm)) if is_field_page(path) => (js, wasm),
            _ => (&self.js, &self.wasm),
        }
    }
}

impl Default for ClientFiles {
    /// The unhashed names, for a site root built without `assets.json`: wasm-bindgen's, or
    /// cargo-leptos's (which drops the `_bg` and says so at compile time).
    fn default() -> Self {
        let wasm =
            if option_env!("LEPTOS_OUTPUT_NAME").is_some() { "real-dispatch.wasm" } else { "real-dispatch_bg.wasm" };
        ClientFiles {
            js: "/pkg/real-dispatch.js".into(),
            wasm: format!("/pkg/{wasm}"),
            css: "/pkg/real-dispatch.css".into(),
            field_js: None,
            field_wasm: None,
        }
    }
}

/// Whether the page at `path` loads the wasm client. Pages that work entirely as HTML (plain
/// links and form posts) do without it: the start page, the sign-in page and a technician's
/// job list (on a phone, 600 KB less before the list can be read; the job page loads it).
pub fn page_loads_client(path: &str) -> bool {
    !matches!(path, "/" | "/login" | "/tech")
}

/// Whether the page at `path` is one of `FieldApp`'s: the technician's job page and the
/// customer's portal, the pages opened on a phone.
pub fn is_field_page(path: &str) -> bool {
    path.starts_with("/tech/jobs/") || path == "/portal" || path.starts_with("/portal/tickets/")
}

/// The HTML document around the app (server side only).
pub fn shell(_options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(nonce) = use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned()) {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
    // The shop's clock for every time on the page; the browser reads it back from the meta tag.
    #[cfg(feature = "ssr")]
    let clock = use_context::<dispatch::Service>()
        .map(|s| clock::from_zone(&s.shop_now().timezone, dispatch::ids::now_ms()))
        .unwrap_or_else(clock::ShopClock::utc);
    #[cfg(feature = "ssr")]
    let clock_json = serde_json::to_string(&clock).unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let (clock, clock_json) = (clock::ShopClock::utc(), String::new());
    provide_context(clock);
    let files = use_context::<ClientFiles>().unwrap_or_default();
    #[cfg(feature = "ssr")]
    let path = use_context::<http::request::Parts>().map(|p| p.uri.path().to_string()).unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let path = String::new();
    let client = page_loads_client(&path).then(|| client_scripts(files.client_for(&path)));
    // The technician's pages install as an app and keep working with no signal: the outbox
    // script (plain JavaScript, before and beside the client) queues their steps and
    // registers the service worker that keeps the pages for offline reading.
    let field = (path == "/tech" || path.starts_with("/tech/")).then(|| {
        view! {
            <link rel="manifest" href="/manifest.webmanifest"/>
            <link rel="apple-touch-icon" href="/icons/icon-192.png"/>
            <script src="/outbox.js" defer=true></script>
        }
    });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="theme-color" content="#1d3557"/>
                <meta name=clock::META_NAME content=clock_json/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" href=files.css.clone()/>
                {client}
                {field}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// What both apps provide their pages: the head's tags and, in the browser, the clock the
/// server wrote into the page (the server's shell provides it there).
fn provide_app_context() {
    provide_meta_context();
    #[cfg(feature = "hydrate")]
    provide_context(browser_clock());
}

#[component]
pub fn App() -> impl IntoView {
    provide_app_context();
    view! {
        <Title text="Real Dispatch"/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::Home/>
                <Route path=path!("/login") view=pages::session::LoginPage/>
                <Route path=path!("/account") view=pages::session::AccountPage/>
                // In order, like the ticket page: the board's columns arrive as HTML.
                <Route path=path!("/console") view=pages::console::ConsolePage ssr=SsrMode::InOrder/>
                <Route path=path!("/console/accounts") view=pages::accounts::AccountsPage/>
                <Route path=path!("/console/settings") view=pages::settings::SettingsPage ssr=SsrMode::InOrder/>
                <Route path=path!("/console/approvals") view=pages::approvals::ApprovalsPage ssr=SsrMode::InOrder/>
                // In order: the whole ticket, its actions included, arrives as plain HTML, so the
                // page works before (and without) the client.
                <Route path=path!("/console/tickets/:id") view=pages::ticket::TicketPage ssr=SsrMode::InOrder/>
                <Route path=path!("/console/technicians") view=pages::records::TechniciansPage/>
                // In order: the calendar's rows and the tickets to book arrive as HTML.
                <Route path=path!("/console/schedule") view=pages::calendar::CalendarPage ssr=SsrMode::InOrder/>
                <Route path=path!("/console/customers") view=pages::records::CustomersPage ssr=SsrMode::InOrder/>
                <Route path=path!("/console/customers/:id") view=pages::customer::CustomerPage ssr=SsrMode::InOrder/>
                <Route path=path!("/console/checklists") view=pages::records::ChecklistsPage/>
                // The technician's and the customer's pages render in order too: the job, its
                // actions (plain form posts) and the portal's ticket are there before (and
                // without) the client, on a phone with a slow link.
                <Route path=path!("/tech") view=pages::tech::TechJobsPage ssr=SsrMode::InOrder/>
                <Route path=path!("/tech/jobs/:id") view=pages::tech::TechJobPage ssr=SsrMode::InOrder/>
                <Route path=path!("/portal") view=pages::portal::PortalPage ssr=SsrMode::InOrder/>
                <Route path=path!("/portal/tickets/:id") view=pages::portal::PortalTicketPage ssr=SsrMode::InOrder/>
            </Routes>
        </Router>
    }
}

/// Loads the client and hydrates the page: the JavaScript glue and the wasm are fetched in
/// parallel while the HTML is read (what Leptos's `HydrationScripts` does, with the build's
/// file names).
fn client_scripts((js, wasm): (&str, &str)) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    // The names are plain URL paths (the server checks them), so a quoted Rust string is a
    // JavaScript one.
    let script =
        format!("import init, {{ hydrate }} from {js:?}; init({{ module_or_path: {wasm:?} }}).then(() => hydrate());");
    view! {
        <link rel="modulepreload" href=js.to_string()/>
        <link rel="preload" href=wasm.to_string() r#as="fetch" r#type="application/wasm" crossorigin="anonymous"/>
        <script type="module" nonce=nonce>{script}</script>
    }
}

/// The phone pages alone, for the field client (`hydrate_field`): the same routes as in `App`,
/// so the HTML the server made with `App` hydrates as it is. A link to any other page loads
/// that page from the server.
#[component]
pub fn FieldApp() -> impl IntoView {
    provide_app_context();
    view! {
        <Title text="Real Dispatch"/>
        <Router>
            <Routes fallback=ElsewhereOnTheSite>
                <Route path=path!("/tech/jobs/:id") view=pages::tech::TechJobPage ssr=SsrMode::InOrder/>
                <Route path=path!("/portal") view=pages::portal::PortalPage ssr=SsrMode::InOrder/>
                <Route path=path!("/portal/tickets/:id") view=pages::portal::PortalTicketPage ssr=SsrMode::InOrder/>
            </Routes>
        </Router>
    }
}

/// A page the field client does not have: the browser loads it from the server (the address
/// the router was asked for, which it may not have put in the address bar yet).
#[component]
fn ElsewhereOnTheSite() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let at = leptos_router::hooks::use_location();
        // The router keeps the query without its `?`, and the fragment with or without `#`.
        let (search, hash) = (at.search.get_untracked(), at.hash.get_untracked());
        let mut href = at.pathname.get_untracked();
        if !search.is_empty() {
            href.push('?');
            href.push_str(&search);
        }
        if !hash.is_empty() {
            if !hash.starts_with('#') {
                href.push('#');
            }
            href.push_str(&hash);
        }
        let _ = window().location().replace(&href);
    }
    view! { <main><p class="muted">"Opening…"</p></main> }
}

#[cfg(feature = "hydrate")]
fn browser_clock() -> clock::ShopClock {
    let meta = document().query_selector(&format!("meta[name=\"{}\"]", clock::META_NAME)).ok().flatten();
    meta.and_then(|m| m.get_attribute("content"))
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_else(clock::ShopClock::utc)
}

/// Browser entry point, called by the wasm client crate once the module is loaded.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_body(App);
    hydrated();
}

/// The phone pages' entry point, called by the field client crate.
#[cfg(feature = "hydrate")]
pub fn hydrate_field() {
    leptos::mount::hydrate_body(FieldApp);
    hydrated();
}

/// Lets tests and support staff tell a live page from a static one.
#[cfg(feature = "hydrate")]
fn hydrated() {
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phone_pages_load_the_field_client_when_the_build_made_one() {
        let whole: ClientFiles =
            serde_json::from_str(r#"{"js": "/pkg/a.js", "wasm": "/pkg/a.wasm", "css": "/pkg/a.css"}"#).unwrap();
        assert_eq!(whole.client_for("/tech/jobs/t1"), ("/pkg/a.js", "/pkg/a.wasm"), "no field client: the whole one");
        let both: ClientFiles = serde_json::from_str(
            r#"{"js": "/pkg/a.js", "wasm": "/pkg/a.wasm", "css": "/pkg/a.css",
                "field_js": "/pkg/f.js", "field_wasm": "/pkg/f.wasm"}"#,
        )
        .unwrap();
        assert!(both.is_plain());
        for path in ["/tech/jobs/t1", "/portal", "/portal/tickets/t1"] {
            assert_eq!(both.client_for(path), ("/pkg/f.js", "/pkg/f.wasm"), "{path}");
        }
        for path in ["/console", "/console/tickets/t1", "/account", "/tech", "/portals", "/tech/jobs"] {
            assert_eq!(both.client_for(path), ("/pkg/a.js", "/pkg/a.wasm"), "{path}");
        }
        let sneaky: ClientFiles = serde_json::from_str(
            r#"{"js": "/pkg/a.js", "wasm": "/pkg/a.wasm", "css": "/pkg/a.css", "field_js": "/pkg/f.js\"><script>"}"#,
        )
        .unwrap();
        assert!(!sneaky.is_plain(), "every name is checked before it is written into pages");
    }
}
