//! Throwaway databases for tests: a fresh SQLite file or a fresh PostgreSQL database per call,
//! so tests never see each other's data. Enabled by the `test-support` feature.

use crate::blob::LocalBlobStore;
use crate::db::Db;
use crate::ids::new_id;
use crate::service::Service;
use std::sync::Arc;

/// Where the PostgreSQL test server is; each test creates its own database on it.
pub fn pg_admin_url() -> String {
    std::env::var("RD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("real-dispatch-tests").join(new_id("t"));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub async fn sqlite_db() -> Db {
    let dir = temp_dir();
    let db = Db::connect(&format!("sqlite://{}/test.db?mode=rwc", dir.display())).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    db
}

pub async fn postgres_db() -> Db {
    let admin_url = pg_admin_url();
    let admin = Db::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL for tests is not reachable at {admin_url} ({e}); run `make test`"));
    let name = format!("rdtest_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.expect("create test database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    let db = Db::connect(&format!("{base}/{name}")).await.expect("connect test database");
    db.migrate().await.expect("migrate postgres");
    db
}

/// One fresh database per backend: every contract test runs on both.
pub async fn each_backend() -> Vec<Db> {
    vec![sqlite_db().await, postgres_db().await]
}

pub fn service(db: Db) -> Service {
    let blobs = LocalBlobStore::new(temp_dir().join("blobs")).expect("blob dir");
    Service::new(db, Arc::new(blobs))
}
