//! One connection pool over SQLite or PostgreSQL, chosen by URL at start-up.
//!
//! The SQL is written once in the dialect both engines accept (`$1` placeholders, `RETURNING`,
//! TEXT ids, BIGINT unix-ms times); the few real differences live in this module.
//!
//! On SQLite, several statements may go in one query (`BEGIN IMMEDIATE; SELECT ...`,
//! `UPDATE ...; INSERT ...; SELECT ...`, `INSERT ...; COMMIT`): sqlx-sqlite 0.8 runs them in
//! turn, binding each `$N` by its number, in one hand-off to the connection's thread. Such
//! queries are read with `fetch_all` or `execute` (`fetch_optional` stops at the first
//! statement's empty result). PostgreSQL takes one statement per prepared query.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How often the SQLite write-ahead log is folded back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite: or postgres:// (got '{0}')")]
    UnsupportedUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("cannot connect to the {backend} database: {source}")]
    Connect { backend: &'static str, source: sqlx::Error },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// SQLite only: the one connection that writes. Keeping writes on one connection keeps its
    /// page cache valid across transactions (another connection's commit would invalidate it).
    writer_pool: Option<AnyPool>,
    backend: Backend,
    url: String,
    /// SQLite has one writer: queueing writers here (FIFO, no sleeping) beats SQLite's busy
    /// handler, which polls with growing sleeps.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Alive while any clone of this handle is; background tasks stop when it is gone.
    alive: Arc<()>,
}

/// A write transaction; on SQLite it also holds this process's writer slot until it ends.
pub struct WriteTx {
    inner: TxInner,
}

enum TxInner {
    /// PostgreSQL: sqlx's own transaction.
    Sqlx(Transaction<'static, Any>),
    /// SQLite: `BEGIN IMMEDIATE` and `COMMIT` are sent by hand on the writer connection, so
    /// they can ride in the same round trip as the action's first and last statement (each
    /// statement is a hand-off to the connection's thread and back).
    Lite(LiteTx),
}

struct LiteTx {
    conn: Option<sqlx::pool::PoolConnection<Any>>,
    writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Neither COMMIT nor ROLLBACK has run since BEGIN.
    open: bool,
}

impl Drop for LiteTx {
    /// An action that fails (or is dropped) rolls back before the writer slot and the
    /// connection are given back, so the next writer never starts inside this transaction.
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let (Some(mut conn), writer) = (self.conn.take(), self.writer.take()) else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = conn.execute("ROLLBACK").await {
                        tracing::warn!(error = %e, "rollback failed; the writer connection is closed instead");
                        conn.close_on_drop();
                    }
                    drop(conn);
                    drop(writer);
                });
            }
            // No runtime to roll back on: closing the connection discards the transaction.
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.inner {
            TxInner::Lite(mut lite) => {
                lite.conn_mut()?.execute("COMMIT").await?;
                lite.open = false;
                Ok(())
            }
            TxInner::Sqlx(tx) => tx.commit().await,
        }
    }

    /// Whether [`WriteTx::execute_and_commit`] takes SQL that ends with its own `; COMMIT`
    /// (SQLite) or plain SQL (PostgreSQL, which takes one statement per prepared query).
    pub fn fuses_commit(&self) -> bool {
        matches!(self.inner, TxInner::Lite(_))
    }

    /// Runs the last statement of the transaction and commits: on SQLite `query` must end with
    /// `; COMMIT` (see [`WriteTx::fuses_commit`]) and both go in one round trip.
    pub async fn execute_and_commit<'q>(
        mut self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<(), sqlx::Error> {
        query.execute(&mut *self).await?;
        match self.inner {
            TxInner::Lite(mut lite) => {
                lite.open = false;
                Ok(())
            }
            TxInner::Sqlx(tx) => tx.commit().await,
        }
    }
}

impl LiteTx {
    fn conn_mut(&mut self) -> Result<&mut sqlx::pool::PoolConnection<Any>, sqlx::Error> {
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        match &self.inner {
            TxInner::Sqlx(tx) => tx,
            // `conn` is only taken by Drop.
            TxInner::Lite(lite) => lite.conn.as_deref().expect("a live transaction has its connection"),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match &mut self.inner {
            TxInner::Sqlx(tx) => tx,
            TxInner::Lite(lite) => lite.conn.as_deref_mut().expect("a live transaction has its connection"),
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(redact_url(url)));
        };
        let connect = |options: AnyPoolOptions| async move {
            options
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|source| DbError::Connect { backend: backend.as_str(), source })
        };
        let (pool, writer_pool) = match backend {
            Backend::Sqlite => {
                ensure_sqlite_folder(url)?;
                let pool = connect(sqlite_options(8)).await?;
                // An in-memory database exists per connection: it cannot have a separate writer.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let writer = if in_memory { None } else { Some(connect(sqlite_options(1)).await?) };
                (pool, writer)
            }
            Backend::Postgres => (connect(AnyPoolOptions::new().max_connections(pg_pool_size())).await?, None),
        };
        let db = Db {
            pool,
            writer_pool,
            backend,
            url: url.to_string(),
            writer: Arc::new(tokio::sync::Mutex::new(())),
            alive: Arc::new(()),
        };
        if db.writer_pool.is_some() {
            db.spawn_checkpointer();
        }
        Ok(db)
    }

    /// Copies the write-ahead log back into the database file off the write path. Writers do
    /// not checkpoint (`wal_autocheckpoint = 0`): a checkpoint syncs the file, and doing it
    /// inside a write made one call in a hundred take 15 ms instead of 1.
    ///
    /// The log only starts over from its beginning once every frame is copied, which never
    /// happens while writes keep coming: it grew by 45 MB a second under the benchmark, and
    /// each write then extended the file (fresh zeroed pages) and lengthened every reader's
    /// search of it. So after the copy, this process's writers are held for a moment while
    /// the few frames written meanwhile are copied too; the next writer restarts the log.
    fn spawn_checkpointer(&self) {
        let pool = self.pool.clone();
        let writer = self.writer.clone();
        let alive = Arc::downgrade(&self.alive);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let checkpoint = || sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool);
            loop {
                tick.tick().await;
                if alive.upgrade().is_none() || pool.is_closed() {
                    break;
                }
                let done = match checkpoint().await {
                    Ok(_) => {
                        let _writers_wait = writer.lock().await;
                        checkpoint().await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    tracing::warn!(error = %e, "write-ahead log checkpoint failed");
                }
            }
        });
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The newest migration this release has for `backend` (the schema version it runs).
    pub fn latest_migration(backend: Backend) -> i64 {
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The URL the pool was opened with (for side pools such as the session store).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A transaction that will write. SQLite takes the write lock up front (`BEGIN
    /// IMMEDIATE`) so two writers queue instead of failing when the reader upgrades.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let mut tx = self.sqlite_writer().await?;
                tx.execute("BEGIN IMMEDIATE").await?;
                Ok(tx)
            }
            Backend::Postgres => Ok(WriteTx { inner: TxInner::Sqlx(self.pool.begin().await?) }),
        }
    }

    /// Begins a write and reads one row in it by a text key: on SQLite in one round trip.
    /// `sql` is the query alone, with the key as `$1`.
    pub async fn begin_write_reading(&self, sql: &str, key: &str) -> Result<(WriteTx, Option<AnyRow>), sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let mut tx = self.sqlite_writer().await?;
                // fetch_optional would stop at BEGIN's empty result; fetch_all reads on.
                let fused = format!("BEGIN IMMEDIATE; {sql}");
                let row = sqlx::query(&fused).bind(key).fetch_all(&mut *tx).await?.into_iter().next();
                Ok((tx, row))
            }
            Backend::Postgres => {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(sql).bind(key).fetch_optional(&mut *tx).await?;
                Ok((tx, row))
            }
        }
    }

    /// The writer slot and connection, marked open so that anything from here on (the BEGIN
    /// included) is rolled back if the caller does not commit.
    async fn sqlite_writer(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = self.writer.clone().lock_owned().await;
        let conn = self.writer_pool.as_ref().unwrap_or(&self.pool).acquire().await?;
        Ok(WriteTx { inner: TxInner::Lite(LiteTx { conn: Some(conn), writer: Some(guard), open: true }) })
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let _: Option<AnyRow> = sqlx::query("SELECT 1").fetch_optional(&self.pool).await?;
        Ok(())
    }

    /// Creates a database beside this one (PostgreSQL; the tests' throwaway databases). The
    /// name must be a plain identifier.
    pub async fn create_database(&self, name: &str) -> Result<(), sqlx::Error> {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(sqlx::Error::Protocol(format!("not a plain database name: {name}")));
        }
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(w) = &self.writer_pool {
            w.close().await;
        }
        self.pool.close().await;
    }
}

/// PostgreSQL connections per instance (`RD_DB_MAX_CONNECTIONS`, default twice the cores,
/// 4 to 16). More connections than the database has cores only adds lock queueing inside
/// PostgreSQL; waiting tasks queue more cheaply in this pool. On 2 cores with 32 concurrent
/// callers, 4 connections gave 1.5x the throughput of 10.
fn pg_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2);
    std::env::var("RD_DB_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or((2 * cores).clamp(4, 16))
}

/// WAL lets readers run beside the single writer; writers queue on busy_timeout (other
/// processes) and on [`Db::begin_write`]'s queue (this one). Memory-mapped reads spare a
/// system call and a copy per page.
fn sqlite_options(max_connections: u32) -> AnyPoolOptions {
    // A local file cannot go stale between uses: no ping before each checkout.
    AnyPoolOptions::new().max_connections(max_connections).test_before_acquire(false).after_connect(|conn, _| {
        Box::pin(async move {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                 PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = 0; \
                 PRAGMA journal_size_limit = 67108864;",
            )
            .await?;
            Ok(())
        })
    })
}

/// `sql` with each parameter `$k` renumbered `$(k + offset)`, so that it can follow
/// statements that use the first `offset` parameters in one batch. The project's SQL has no
/// `$` outside parameters.
pub fn renumber_params(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(k) => out.push_str(&format!("${}", k + offset)),
            Err(_) => out.push('$'),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    out
}

fn ensure_sqlite_folder(url: &str) -> Result<(), DbError> {
    let Ok(opts) = sqlx::sqlite::SqliteConnectOptions::from_str(url) else { return Ok(()) };
    let path = opts.get_filename();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|source| DbError::Folder { path: parent.display().to_string(), source })?;
    }
    Ok(())
}

/// The file of a SQLite URL (None for other URLs and in-memory databases).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some(opts.get_filename().to_path_buf())
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_renumbered() {
        assert_eq!(
            super::renumber_params("INSERT INTO x (a, b) VALUES ($1, $2), ($10, $2)", 4),
            "INSERT INTO x (a, b) VALUES ($5, $6), ($14, $6)"
        );
        assert_eq!(super::renumber_params("SELECT 1", 3), "SELECT 1");
        assert_eq!(super::renumber_params("SELECT '$'", 3), "SELECT '$'");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(super::redact_url("sqlite://data/x.db?mode=rwc"), "sqlite://data/x.db?mode=rwc");
    }
}
