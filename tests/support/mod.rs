//! What the HTTP test suites share: a real server on a loopback port over a test database.
#![allow(dead_code)]

use dispatch::testing::service;
use dispatch::Service;
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = Config {
        bind: addr,
        database_url: String::new(),
        data_dir: dispatch::testing::temp_dir(),
        site_root: dispatch::testing::temp_dir(),
        s3: None,
    };
    let app = match per_minute {
        Some(n) => server::router_with_rate(service.clone(), server::leptos_options(&config), n),
        None => server::router(service.clone(), server::leptos_options(&config)),
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    Server { base: format!("http://{addr}"), service }
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
