//! What the HTTP test suites share: a real server on a loopback port over a test database.
#![allow(dead_code)]

pub mod process;
/// The real S3 server (s3s-fs) the dispatch crate's tests use too.
#[path = "../../../crates/dispatch/tests/s3_server/mod.rs"]
pub mod s3_server;

use dispatch::testing::service;
use dispatch::users::NewUser;
use dispatch::{CallContext, Service};
use domain::commands::{AssignTech, ConfirmSlot};
use domain::window::HOUR_MS;
use domain::{Actor, CreateTicket, NewCustomer, NewSite, Role};
use real_dispatch::config::Config;
use real_dispatch::server;

pub struct Server {
    pub base: String,
    pub service: Service,
}

pub async fn start(db: dispatch::Db) -> Server {
    start_with(service(db)).await
}

pub async fn start_with(service: Service) -> Server {
    start_with_rate(service, None).await
}

/// [`start_with`] with an explicit per-token tool-call rate (calls per minute).
pub async fn start_with_rate(service: Service, per_minute: Option<u32>) -> Server {
    let (listener, addr, config) = loopback().await;
    let app = match per_minute {
        Some(n) => server::router_with_rate(service.clone(), server::leptos_options(&config), n),
        None => server::router(service.clone(), server::leptos_options(&config)),
    };
    tokio::spawn(async move {
        let _ = server::serve_on(listener, app).await;
    });
    Server { base: format!("http://{addr}"), service }
}

/// [`start`] serving the static files of `site_root` (a site laid out by `scripts/site.sh`).
pub async fn start_with_site(db: dispatch::Db, site_root: &std::path::Path) -> Server {
    let service = service(db);
    let (listener, addr, mut config) = loopback().await;
    config.site_root = site_root.to_path_buf();
    let app = server::router(service.clone(), server::leptos_options(&config));
    tokio::spawn(async move {
        let _ = server::serve_on(listener, app).await;
    });
    Server { base: format!("http://{addr}"), service }
}

/// [`start_with`] under explicit connection and request limits (short ones, in tests).
pub async fn start_with_limits(service: Service, limits: real_dispatch::limits::Limits) -> Server {
    start_until(service, limits, std::future::pending()).await.0
}

/// [`start_with_limits`], serving until `signal` completes; the task ends once the server has
/// shut down gracefully.
pub async fn start_until(
    service: Service,
    limits: real_dispatch::limits::Limits,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> (Server, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (listener, addr, config) = loopback().await;
    let web = server::WebSettings { limits, ..server::WebSettings::from_env() };
    let app = server::router_with(service.clone(), server::leptos_options(&config), web);
    let serving = tokio::spawn(server::serve_on_with(listener, app, limits).with_graceful_shutdown(signal));
    (Server { base: format!("http://{addr}"), service }, serving)
}

/// A listener on a free loopback port, and a configuration of throwaway folders for it.
async fn loopback() -> (tokio::net::TcpListener, std::net::SocketAddr, Config) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = Config {
        bind: addr,
        database_url: String::new(),
        data_dir: dispatch::testing::temp_dir(),
        site_root: dispatch::testing::temp_dir(),
        s3: None,
    };
    (listener, addr, config)
}

/// Files in the blob store's upload and attachment folders.
pub async fn blob_count(s: &Server) -> usize {
    let mut n = 0;
    for prefix in ["uploads/", "attachments/"] {
        n += s.service.blobs().list(prefix).await.expect("list").len();
    }
    n
}

/// A technician with `skill` who works around the clock.
pub async fn technician(service: &Service, skill: &str) -> String {
    let ctx = dispatch::CallContext::new(domain::Actor::system("test"));
    let all_day = domain::window::WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]));
    let input = dispatch::scheduling::NewTechnician {
        name: format!("{skill} tech"),
        phone: None,
        email: None,
        skills: vec![skill.into()],
        zone: None,
        working_hours: Some(all_day),
    };
    service.create_technician(&ctx, &input).await.expect("technician").id
}

/// A browser without JavaScript: remembers the session cookie, does not follow redirects,
/// and marks its posts as same-origin as a real browser does.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub location: String,
    pub set_cookie: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(s: &Server) -> Self {
        // A request that hangs fails the test with its URL instead of stalling the whole run.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("client");
        Browser { base: s.base.clone(), http, cookie: None }
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Reply {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", format!("rd_session={c}")),
            None => req,
        };
        let res = req.send().await.expect("send");
        let headers = res.headers().clone();
        let set_cookie: Vec<String> =
            headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect();
        for c in &set_cookie {
            if let Some(v) = c.strip_prefix("rd_session=") {
                let v = v.split(';').next().unwrap_or_default();
                self.cookie = if v.is_empty() || c.contains("Max-Age=0") { None } else { Some(v.to_string()) };
            }
        }
        let status = res.status().as_u16();
        let location = headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        Reply { status, location, set_cookie, headers, body: res.text().await.unwrap_or_default() }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// A server function call as the hydrated page makes it.
    pub async fn call(&mut self, endpoint: &str, form: &[(&str, &str)]) -> Reply {
        let req = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
            .form(form);
        self.send(req).await
    }

    /// A GET whose body is bytes (files).
    pub async fn get_bytes(&mut self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("rd_session={c}"));
        }
        let res = req.send().await.expect("send");
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Reply {
        self.call("login", &[("email", email), ("password", password), ("next", "")]).await
    }
}

pub fn system() -> CallContext {
    CallContext::new(Actor::system("test"))
}

pub async fn account(s: &Server, email: &str, role: Role, technician_id: Option<&str>, customer_id: Option<&str>) {
    let input = NewUser {
        email: email.into(),
        name: format!("{} Person", role.as_str()),
        role: Some(role),
        password: "correct horse battery".into(),
        technician_id: technician_id.map(Into::into),
        customer_id: customer_id.map(Into::into),
    };
    s.service.create_user(&system(), &input).await.expect("account");
}

/// A ticket dispatched to `tech`, for customer "Ada" (phone +15550001111).
pub async fn dispatched_ticket(svc: &Service, tech: &str, hour: i64) -> domain::Case {
    let op = system();
    let input = CreateTicket {
        customer: NewCustomer {
            name: Some("Ada Lovelace".into()),
            phone: Some("+15550001111".into()),
            ..Default::default()
        },
        site: Some(NewSite { address: Some("1 Main St".into()), ..Default::default() }),
        problem_summary: Some("No heat".into()),
        trade: Some("hvac".into()),
        ..Default::default()
    };
    let case = svc.create_ticket(&op, &input).await.expect("ticket").case;
    dispatch_to(svc, &case, tech, 48 + hour).await
}

/// Books `case` with `tech` `hours_ahead` whole hours from now, for one hour, and dispatches it.
pub async fn dispatch_to(svc: &Service, case: &domain::Case, tech: &str, hours_ahead: i64) -> domain::Case {
    let op = system();
    let start = (dispatch::ids::now_ms() / HOUR_MS + hours_ahead) * HOUR_MS;
    let confirm = ConfirmSlot {
        ticket_id: case.id.clone(),
        start_ms: start,
        end_ms: start + HOUR_MS,
        technician_id: Some(tech.into()),
        reschedule: false,
        expected_version: None,
    };
    svc.confirm_slot(&op, &confirm).await.expect("confirm");
    let assign = AssignTech { ticket_id: case.id.clone(), technician_id: tech.into(), expected_version: None };
    svc.assign_tech(&op, &assign).await.expect("assign").case
}

/// Drives a dispatched ticket through the work (with `labor_minutes` of labor, if any),
/// closeout, invoice and packet, as the office.
pub async fn closed_out(svc: &Service, case: &domain::Case, labor_minutes: Option<i64>) -> domain::Case {
    use base64::Engine;
    use domain::case::{AttachmentKind, NoteKind};
    use domain::commands::*;
    let op = system();
    let r = || TicketRef { ticket_id: case.id.clone(), expected_version: None };
    svc.check_in(&op, &r()).await.expect("check in");
    let png = base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png());
    let photo = AddPhoto {
        ticket_id: case.id.clone(),
        kind: AttachmentKind::After,
        content_type: None,
        filename: None,
        content_base64: Some(png),
        upload_id: None,
    };
    svc.add_photo(&op, &photo).await.expect("photo");
    let note = AddNote { ticket_id: case.id.clone(), kind: NoteKind::WorkSummary, text: "Relit the pilot".into() };
    svc.add_note(&op, &note).await.expect("note");
    if let Some(minutes) = labor_minutes {
        let labor = RecordLabor { ticket_id: case.id.clone(), minutes, description: "Repair".into(), rate_cents: None };
        svc.record_labor(&op, &labor).await.expect("labor");
    }
    svc.complete_work(&op, &r()).await.expect("done");
    close_out(svc, &op, &case.id).await;
    svc.generate_invoice_draft(&op, &r()).await.expect("invoice");
    svc.compile_closeout_packet(&op, &r()).await.expect("packet").case
}

/// Ticks every checklist item of a ticket whose work is done, and closes it out.
pub async fn close_out(svc: &Service, op: &CallContext, ticket_id: &str) {
    let items = svc.case(op, ticket_id).await.expect("case").checklist.into_iter().map(|i| i.key).collect();
    let check = domain::commands::ChecklistComplete {
        ticket_id: ticket_id.to_string(),
        items,
        untick: vec![],
        finalize: true,
        expected_version: None,
    };
    svc.checklist_complete(op, &check).await.expect("closeout");
}

/// A phone of the customer's own: intake asks who is calling when one number comes with
/// another name, and these tests want separate customers.
pub fn phone_of(name: &str) -> String {
    let n = name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    format!("+1555{:07}", n % 10_000_000)
}
