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
use sqlx::{Any, AnyPool, Executor};
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
    #[error(
        "the PostgreSQL server has no connection to spare for this instance ({0}); raise max_connections \
         or the role's or database's CONNECTION LIMIT, or stop another client"
    )]
    NoRoom(String),
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
    /// handler, which polls with growing sleeps. The slot holds the writing connection itself,
    /// taken out of `writer_pool` once: a pool tests every connection given back to it with a
    /// round trip to the connection's thread (and a task to run it), which on the write path
    /// was one hand-off in six.
    writer: Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>,
    /// Alive while any clone of this handle is; background tasks stop when it is gone.
    alive: Arc<()>,
}

/// A snapshot of the pool (see [`Db::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
}

impl PoolStatus {
    /// Every connection the pool may open is open and lent out: the next caller waits.
    pub fn saturated(&self) -> bool {
        self.in_use >= self.max
    }
}

/// A write transaction; on SQLite it also holds this process's writer slot until it ends.
///
/// `BEGIN`, `COMMIT` and `ROLLBACK` are sent by hand rather than through sqlx's
/// `Transaction`: on SQLite so they can ride in the same round trip as the action's first and
/// last statement (each statement is a hand-off to the connection's thread and back); on
/// PostgreSQL because sqlx 0.8 loses track of a `BEGIN` whose caller is dropped while it
/// waits for the answer (a client that gives up at that moment): the connection went back to
/// the pool inside a transaction nobody owned, holding whatever the next borrower locked.
/// Here the transaction counts as open from before `BEGIN` is sent, so whatever happens to
/// the caller, the connection is rolled back (or closed) before anyone else gets it.
pub struct WriteTx {
    conn: Option<TxConn>,
    /// Writes that need nothing back, run with the commit (see [`WriteTx::defer`]).
    deferred: Batch,
    backend: Backend,
    /// Neither COMMIT nor ROLLBACK has run since BEGIN (or since BEGIN may have been sent).
    open: bool,
}

/// The connection of a write transaction.
enum TxConn {
    /// From the pool (PostgreSQL; SQLite in memory, which has no separate writer), with
    /// SQLite's writer slot if it is SQLite's.
    Pooled {
        conn: sqlx::pool::PoolConnection<Any>,
        /// Given back after the connection (fields drop in order).
        _slot: Option<tokio::sync::OwnedMutexGuard<Option<sqlx::AnyConnection>>>,
    },
    /// SQLite's writer slot and the connection it holds (always `Some` while lent out).
    Held(tokio::sync::OwnedMutexGuard<Option<sqlx::AnyConnection>>),
}

impl TxConn {
    fn get(&self) -> Option<&sqlx::AnyConnection> {
        match self {
            TxConn::Pooled { conn, .. } => Some(conn),
            TxConn::Held(slot) => slot.as_ref(),
        }
    }

    fn get_mut(&mut self) -> Option<&mut sqlx::AnyConnection> {
        match self {
            TxConn::Pooled { conn, .. } => Some(conn),
            TxConn::Held(slot) => slot.as_mut(),
        }
    }

    /// Discards the connection, and with it any transaction it is in.
    fn discard(self) {
        match self {
            TxConn::Pooled { mut conn, .. } => conn.close_on_drop(),
            // The next writer opens a new one.
            TxConn::Held(mut slot) => drop(slot.take()),
        }
    }
}

impl Drop for WriteTx {
    /// An action that fails (or is dropped) rolls back before the writer slot and the
    /// connection are given back, so the next borrower never starts inside this transaction.
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(mut conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    // Waits out whatever the dropped caller left in flight, then rolls back.
                    let rolled_back = match conn.get_mut() {
                        Some(c) => c.execute("ROLLBACK").await,
                        None => return,
                    };
                    if let Err(e) = rolled_back {
                        tracing::warn!(error = %e, "rollback failed; the connection is closed instead");
                        conn.discard();
                    }
                });
            }
            // No runtime to roll back on: closing the connection discards the transaction.
            Err(_) => conn.discard(),
        }
    }
}

impl WriteTx {
    /// A connection marked open, so that anything from here on (the BEGIN included) is rolled
    /// back if the caller does not commit.
    fn open(conn: TxConn, backend: Backend) -> WriteTx {
        WriteTx { conn: Some(conn), deferred: Batch::default(), backend, open: true }
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let deferred = std::mem::take(&mut self.deferred);
        deferred.run(&mut self).await?;
        self.conn_mut()?.execute("COMMIT").await?;
        self.open = false;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether [`WriteTx::execute_and_commit`] takes SQL that ends with its own `; COMMIT`
    /// (SQLite) or plain SQL (PostgreSQL, which takes one statement per prepared query).
    pub fn fuses_commit(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// A write that needs nothing back and that no later statement of the transaction reads,
    /// run with the commit: on SQLite in the commit's own round trip (see
    /// [`WriteTx::take_deferred`]). `sql` is numbered `$1..$n` for its `n` binds.
    pub(crate) fn defer(&mut self, sql: impl Into<std::borrow::Cow<'static, str>>, binds: Vec<Bind>) {
        self.deferred.push(sql, binds);
    }

    /// The deferred writes, for a last statement that carries them: on SQLite it puts
    /// [`Batch::sql_from`] before its `; COMMIT` and binds [`Batch::bind`] after its own
    /// parameters; on PostgreSQL it runs [`Batch::run`] first.
    pub(crate) fn take_deferred(&mut self) -> Batch {
        std::mem::take(&mut self.deferred)
    }

    /// Runs the last statement of the transaction and commits: on SQLite `query` must end with
    /// `; COMMIT` (see [`WriteTx::fuses_commit`]) and both go in one round trip. Writes still
    /// deferred run first.
    pub async fn execute_and_commit<'q>(
        mut self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<(), sqlx::Error> {
        let deferred = std::mem::take(&mut self.deferred);
        deferred.run(&mut self).await?;
        query.execute(&mut *self).await?;
        if self.fuses_commit() {
            self.open = false;
            Ok(())
        } else {
            self.commit().await
        }
    }

    fn conn_mut(&mut self) -> Result<&mut sqlx::AnyConnection, sqlx::Error> {
        self.conn.as_mut().and_then(TxConn::get_mut).ok_or(sqlx::Error::PoolClosed)
    }
}

/// Writes stated now and run later with another statement: on SQLite in that statement's
/// round trip (their parameters numbered after its own), on PostgreSQL one by one beside it.
/// A case's staged writes ride with its compare-and-swap (on PostgreSQL just after it), a
/// transaction's deferred writes with its commit (on PostgreSQL just before it).
#[derive(Default)]
pub(crate) struct Batch(Vec<(std::borrow::Cow<'static, str>, Vec<Bind>)>);

impl Batch {
    /// Adds a write, numbered `$1..$n` for its `n` binds.
    pub(crate) fn push(&mut self, sql: impl Into<std::borrow::Cow<'static, str>>, binds: Vec<Bind>) {
        let sql = sql.into();
        debug_assert!(binds.is_empty() || sql.contains(&format!("${}", binds.len())), "{sql}");
        self.0.push((sql, binds));
    }

    /// The statements, each after `"; "`, their parameters numbered from `$first`.
    pub(crate) fn sql_from(&self, first: usize) -> String {
        let mut sql = String::new();
        let mut used = first - 1;
        for (statement, binds) in &self.0 {
            sql.push_str("; ");
            sql.push_str(&renumber_params(statement, used));
            used += binds.len();
        }
        sql
    }

    /// Binds the statements' values, in [`Batch::sql_from`]'s order.
    pub(crate) fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        for (_, binds) in &self.0 {
            q = bind_all(q, binds);
        }
        q
    }

    /// Runs the statements one by one in `tx`.
    pub(crate) async fn run(&self, tx: &mut WriteTx) -> Result<(), sqlx::Error> {
        for (statement, binds) in &self.0 {
            bind_all(sqlx::query(statement.as_ref()), binds).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        // `conn` is only taken by Drop, and a held slot is lent out only with its connection.
        self.conn.as_ref().and_then(TxConn::get).expect("a live transaction has its connection")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_mut().and_then(TxConn::get_mut).expect("a live transaction has its connection")
    }
}

/// A value bound to a statement written later than it is stated (a case's staged writes, the
/// writes deferred to a commit).
pub(crate) enum Bind {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(Some(v.to_string()))
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(Some(v))
    }
}

impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Self {
        Bind::Text(v)
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(Some(v))
    }
}

impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Self {
        Bind::Int(v)
    }
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(v) => q.bind(v.as_deref()),
            Bind::Int(v) => q.bind(*v),
        };
    }
    q
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
                .acquire_timeout(acquire_timeout())
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
            Backend::Postgres => {
                let size = pg_pool_size_that_fits(url).await?;
                (connect(AnyPoolOptions::new().max_connections(size)).await?, None)
            }
        };
        let db = Db {
            pool,
            writer_pool,
            backend,
            url: url.to_string(),
            writer: Arc::new(tokio::sync::Mutex::new(None)),
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
            Backend::Postgres => {
                let mut tx =
                    WriteTx::open(TxConn::Pooled { conn: self.pool.acquire().await?, _slot: None }, Backend::Postgres);
                tx.execute("BEGIN").await?;
                Ok(tx)
            }
        }
    }

    /// Begins a write and reads one row in it by a text key: on SQLite in one round trip.
    /// `sql` is the query alone, with the key as `$1`.
    pub async fn begin_write_reading(&self, sql: &str, key: &str) -> Result<(WriteTx, Option<AnyRow>), sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let (tx, rows) = self.begin_write_fetching(sql, |q| q.bind(key.to_string())).await?;
                Ok((tx, rows.into_iter().next()))
            }
            Backend::Postgres => {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(sql).bind(key).fetch_optional(&mut *tx).await?;
                Ok((tx, row))
            }
        }
    }

    /// SQLite: begins a write and runs `sql` (one or more statements, their parameters numbered
    /// across them) in the same round trip, returning every row they give.
    pub async fn begin_write_fetching(
        &self,
        sql: &str,
        bind: impl for<'q> FnOnce(
            sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<(WriteTx, Vec<AnyRow>), sqlx::Error> {
        debug_assert_eq!(self.backend, Backend::Sqlite);
        let mut tx = self.sqlite_writer().await?;
        // fetch_optional would stop at BEGIN's empty result; fetch_all reads on.
        let fused = format!("BEGIN IMMEDIATE; {sql}");
        let rows = bind(sqlx::query(&fused)).fetch_all(&mut *tx).await?;
        Ok((tx, rows))
    }

    /// The writer slot and connection, marked open so that anything from here on (the BEGIN
    /// included) is rolled back if the caller does not commit.
    async fn sqlite_writer(&self) -> Result<WriteTx, sqlx::Error> {
        let mut slot = self.writer.clone().lock_owned().await;
        let Some(writers) = &self.writer_pool else {
            let conn = self.pool.acquire().await?;
            return Ok(WriteTx::open(TxConn::Pooled { conn, _slot: Some(slot) }, Backend::Sqlite));
        };
        if slot.is_none() {
            // The first write, or the first after a connection was discarded.
            *slot = Some(writers.acquire().await?.detach());
        }
        Ok(WriteTx::open(TxConn::Held(slot), Backend::Sqlite))
    }

    /// How full the pool is, for readiness checks: open connections, idle ones, and the most it
    /// may open.
    pub fn pool_status(&self) -> PoolStatus {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX).min(size);
        PoolStatus { size, idle, in_use: size - idle, max: self.pool.options().get_max_connections() }
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
        if let Some(held) = self.writer.lock().await.take() {
            if let Err(e) = sqlx::Connection::close(held).await {
                tracing::debug!(error = %e, "closing the writer connection failed");
            }
        }
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

/// How long a caller waits for a pooled connection (`RD_DB_ACQUIRE_TIMEOUT_SECS`, default 2)
/// before it is answered BUSY. A caller still waiting after that is better told to come back
/// than held: a client gives up long before sqlx's default of 30 s, and a queue that long only
/// grows.
pub fn acquire_timeout() -> Duration {
    let secs = std::env::var("RD_DB_ACQUIRE_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs.min(600.0))
}

/// What the server lets this instance open, from one probe connection: the server's own
/// `max_connections` (less the superuser reserve, for other roles), the role's and the
/// database's `CONNECTION LIMIT`, each less the connections open now. The probe counts itself
/// among those, and closes before the pool opens, so it is added back.
async fn pg_room(url: &str) -> Result<PgRoom, DbError> {
    use sqlx::Connection;
    use sqlx::Row;
    let connect_error = |source: sqlx::Error| match &source {
        sqlx::Error::Database(e) if e.code().as_deref() == Some("53300") => DbError::NoRoom(e.message().to_string()),
        _ => DbError::Connect { backend: "postgres", source },
    };
    let mut probe = sqlx::AnyConnection::connect(url).await.map_err(connect_error)?;
    let row = sqlx::query(
        "SELECT current_setting('max_connections')::bigint AS max_connections, \
                current_setting('superuser_reserved_connections')::bigint AS reserved, \
                (SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS in_use, \
                r.rolsuper AS superuser, r.rolconnlimit::bigint AS role_limit, \
                (SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend' \
                    AND usename = current_user) AS role_in_use, \
                d.datconnlimit::bigint AS database_limit, \
                (SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend' \
                    AND datname = current_database()) AS database_in_use \
         FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
    )
    .fetch_one(&mut probe)
    .await
    .map_err(connect_error)?;
    let get = |name: &str| row.try_get::<i64, _>(name).map_err(connect_error);
    let superuser = row.try_get::<bool, _>("superuser").map_err(connect_error)?;
    let reserved = if superuser { 0 } else { get("reserved")? };
    let server = get("max_connections")? - reserved - get("in_use")? + 1;
    let limited = |limit: i64, in_use: i64| if limit < 0 { i64::MAX } else { limit - in_use + 1 };
    let role = limited(get("role_limit")?, get("role_in_use")?);
    let database = limited(get("database_limit")?, get("database_in_use")?);
    if let Err(e) = probe.close().await {
        tracing::debug!(error = %e, "closing the probe connection failed");
    }
    Ok(PgRoom { server, role, database })
}

/// Connections this instance may open, by each limit that applies.
#[derive(Debug, Clone, Copy)]
struct PgRoom {
    server: i64,
    role: i64,
    database: i64,
}

impl PgRoom {
    fn fits(self) -> i64 {
        self.server.min(self.role).min(self.database)
    }
}

/// [`pg_pool_size`], cut to what the server allows now: a pool larger than that only turns
/// load into "too many connections" retries and stalls. Refuses to start when not even one
/// connection fits.
async fn pg_pool_size_that_fits(url: &str) -> Result<u32, DbError> {
    let wanted = pg_pool_size();
    let room = pg_room(url).await?;
    let fits = room.fits();
    if fits < 1 {
        return Err(DbError::NoRoom(format!(
            "server {} free, role {} free, database {} free",
            room.server, room.role, room.database
        )));
    }
    let size = wanted.min(u32::try_from(fits).unwrap_or(u32::MAX));
    let show = |n: i64| if n == i64::MAX { "no limit".to_string() } else { n.to_string() };
    if size < wanted {
        tracing::warn!(
            wanted,
            size,
            server_free = %show(room.server),
            role_free = %show(room.role),
            database_free = %show(room.database),
            "the database allows fewer connections than this instance wants: the pool is cut to fit"
        );
    } else {
        tracing::info!(
            size,
            server_free = %show(room.server),
            role_free = %show(room.role),
            database_free = %show(room.database),
            "connection pool sized"
        );
    }
    Ok(size)
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
