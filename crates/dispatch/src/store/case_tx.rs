//! The write of one case: a transaction that read the case, the writes an action adds to it,
//! and the compare-and-swap that commits them only if the case is still as it was read. On
//! SQLite the writes, the swap, the audit head and the read-back go in one round trip.

pub(crate) use crate::db::Bind;
use crate::db::{Backend, Batch, Db};
use crate::error::ServiceError;
use crate::ids::now_ms;
use crate::store::case_store::{case_by_id, case_from_row, case_select, load_case, with_column};
use crate::store::{audit, idempotency};
use domain::{Case, CaseState};
use idempotency::IdempotencyKey;
use sqlx::any::AnyRow;
use sqlx::Row;

/// An action on one case in progress: the write transaction, the case as it was, and the
/// writes the action adds. The action states them through typed methods (the case writes
/// below and in `store::case_writes`); [`CaseTx::swap`] runs them with the compare-and-swap.
pub struct CaseTx {
    pub tx: crate::db::WriteTx,
    pub before: Case,
    pub now: i64,
    backend: Backend,
    /// Set by actions that add to the case's collections (notes, photos, checklist, lines,
    /// contacts); the others let [`CaseTx::swap`] re-read only the ticket row.
    pub collections_changed: bool,
    /// Ticket columns the action sets; written by the compare-and-swap update in
    /// [`CaseTx::swap`], saving a statement per action.
    ticket_sets: Vec<(&'static str, SetValue)>,
    /// Writes the action adds (new rows whose failure can only be an internal error), run by
    /// [`CaseTx::swap`]: on SQLite in the same round trip as the compare-and-swap.
    staged: Batch,
}

/// A value for one ticket column in [`Open::ticket_sets`].
pub(crate) enum SetValue {
    Text(Option<String>),
    Int(Option<i64>),
    /// A fixed SQL expression over the row (`message_count + 1`).
    Expr(&'static str),
}

impl CaseTx {
    /// Opens the write transaction and reads the case, locking it for the action.
    /// Opens the write transaction of one ticket, reading its case. Writers of one ticket take
    /// turns from here: on PostgreSQL the read locks the ticket's row (SQLite's write lock is
    /// already held), so a second writer waits and then reads what the first committed, and a
    /// change that names no version never fails for a race it could not see.
    ///
    /// With `claim`, the call's idempotency key is claimed in the transaction, as its first
    /// write (on SQLite in the same round trip): `AlreadyProcessed` when another call holds it.
    pub async fn begin(db: &Db, id: &str, claim: Option<&IdempotencyKey>) -> Result<CaseTx, ServiceError> {
        let (tx, row, claimed) = match db.backend() {
            Backend::Sqlite => match claim {
                None => {
                    let (tx, row) = db.begin_write_reading(case_by_id(false, true), id).await?;
                    (tx, row, true)
                }
                Some(k) => {
                    let sql = format!("{}; {}", idempotency::claim_sql(2), case_by_id(false, true));
                    let (tx, rows) =
                        db.begin_write_fetching(&sql, |q| idempotency::bind_claim(q.bind(id.to_string()), k)).await?;
                    let mut rows = rows.into_iter().peekable();
                    let claimed = rows.next_if(idempotency::is_claim_row).is_some();
                    (tx, rows.next(), claimed)
                }
            },
            Backend::Postgres => {
                // The lock is its own statement: a read that waited for a lock sees the locked
                // row anew but the rest of its query (the notes, the photos) as it began.
                let mut tx = db.begin_write().await?;
                sqlx::query("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut *tx).await?;
                match claim {
                    None => {
                        let row = sqlx::query(case_by_id(true, true)).bind(id).fetch_optional(&mut *tx).await?;
                        (tx, row, true)
                    }
                    // The claim rides with the read. A missing ticket's claim goes with the
                    // transaction, which its refusal rolls back.
                    Some(k) => {
                        let q = idempotency::bind_claim(sqlx::query(reading_and_claiming()).bind(id.to_string()), k);
                        let row = q.fetch_optional(&mut *tx).await?;
                        let claimed = match &row {
                            Some(r) => r.try_get::<i64, _>("claimed")? == 1,
                            None => true,
                        };
                        (tx, row, claimed)
                    }
                }
            }
        };
        let row = row.ok_or_else(|| ServiceError::TicketNotFound(id.to_string()))?;
        if !claimed {
            return Err(ServiceError::AlreadyProcessed);
        }
        let before = case_from_row(&row, None)?;
        // Each change of a ticket gets a later time than the last, even within one millisecond:
        // what it adds (notes, messages, photos) is listed by time, so the stored order is the
        // order of the changes, as a replay of the audit trail rebuilds it.
        let now = now_ms().max(before.updated_at_ms + 1);
        Ok(CaseTx {
            tx,
            before,
            now,
            backend: db.backend(),
            collections_changed: false,
            ticket_sets: vec![],
            staged: Batch::default(),
        })
    }

    /// Runs the action's writes with the compare-and-swap of the ticket row (moving it to `to`
    /// if given), and reads the case back; on SQLite also the audit chain's head, in the same
    /// round trip. `CONFLICT` when someone changed the case since it was read.
    pub async fn swap(&mut self, to: Option<CaseState>) -> Result<(Case, Option<AnyRow>), ServiceError> {
        // Compare-and-swap: commits only if nobody changed the case since it was read (the row
        // lock taken at the read makes this hold; the check stays as the guarantee).
        let mut sql =
            String::from("UPDATE tickets SET version = version + 1, updated_at_ms = $1, state = COALESCE($2, state)");
        let mut n = 2;
        for (column, value) in &self.ticket_sets {
            match value {
                SetValue::Expr(e) => sql.push_str(&format!(", {column} = {e}")),
                _ => {
                    n += 1;
                    sql.push_str(&format!(", {column} = ${n}"));
                }
            }
        }
        sql.push_str(&format!(" WHERE id = ${} AND version = ${}", n + 1, n + 2));
        // The staged writes follow. On SQLite they ride in the swap's round trip, then the
        // event's place in the audit trail is taken and the case read back, all in it (by the
        // same id parameter).
        let fused = self.backend == crate::db::Backend::Sqlite;
        if fused {
            sql.push_str(&self.staged.sql_from(n + 3));
            sql.push_str(&format!(
                "; {}; {} WHERE t.id = ${}",
                audit::take_place_sqlite(n + 1),
                case_select(false, self.collections_changed),
                n + 1
            ));
        }
        let mut q = sqlx::query(&sql).bind(self.now).bind(to.map(CaseState::as_str));
        for (_, value) in &self.ticket_sets {
            q = match value {
                SetValue::Text(v) => q.bind(v.clone()),
                SetValue::Int(v) => q.bind(*v),
                SetValue::Expr(_) => q,
            };
        }
        let q = q.bind(&self.before.id).bind(self.before.version);
        let q = if fused { self.staged.bind(q) } else { q };
        let kept = if self.collections_changed { None } else { Some(&self.before) };
        let (after, head) = if fused {
            // The version read back tells whether the update took: SQLite's write lock is held
            // since the case was read, so only this update can have moved it.
            // fetch_optional would stop at the update's empty result; fetch_all reads on.
            let mut rows = q.fetch_all(&mut *self.tx).await?.into_iter();
            let (Some(head), Some(row)) = (rows.next(), rows.next()) else { return Err(ServiceError::stale()) };
            let after = case_from_row(&row, kept)?;
            if after.version != self.before.version + 1 {
                return Err(ServiceError::stale());
            }
            (after, Some(head))
        } else {
            if q.execute(&mut *self.tx).await?.rows_affected() != 1 {
                return Err(ServiceError::stale());
            }
            // After the swap, as on SQLite: a write that holds a row other tickets' actions
            // need (the invoice counter) holds it for as few statements as it can.
            self.staged.run(&mut self.tx).await?;
            let after = match kept {
                Some(before) => crate::case_store::reload_case_row(&mut self.tx, before).await?,
                None => load_case(&mut self.tx, &self.before.id).await?,
            };
            (after, None)
        };
        Ok((after, head))
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn set(&mut self, column: &'static str, value: SetValue) {
        self.ticket_sets.push((column, value));
    }

    /// Adds a write to the action, numbered `$1..$n` for its `n` binds (see [`Open::staged`]).
    pub(crate) fn stage(&mut self, sql: impl Into<std::borrow::Cow<'static, str>>, binds: Vec<Bind>) {
        self.staged.push(sql, binds);
    }
}

/// PostgreSQL: the case by id (`$1`) with the call's idempotency key claimed in the same
/// statement (`claimed` is 1 when this call took it, 0 when another call holds it).
fn reading_and_claiming() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let read = with_column(case_by_id(true, true), "(SELECT count(*) FROM claim) AS claimed");
        format!("WITH claim AS ({}) {read}", idempotency::claim_sql(2))
    })
}
