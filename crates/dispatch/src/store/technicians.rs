//! The roster: technicians, their time off, their bookings, and the week's schedule.

use crate::error::ServiceError;
use domain::views::AgendaItem;
use domain::window::{TimeWindow, WorkingHours, MINUTE_MS};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Technician {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub skills: Vec<String>,
    pub zone: Option<String>,
    pub working_hours: WorkingHours,
    pub active: bool,
}

fn technician(r: &sqlx::any::AnyRow) -> Result<Technician, ServiceError> {
    let bad = |what: &str, e: serde_json::Error| ServiceError::Internal(format!("stored technician {what}: {e}"));
    Ok(Technician {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        skills: serde_json::from_str(&r.try_get::<String, _>("skills_json")?).map_err(|e| bad("skills", e))?,
        zone: r.try_get("zone")?,
        working_hours: serde_json::from_str(&r.try_get::<String, _>("working_hours_json")?)
            .map_err(|e| bad("hours", e))?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

const TECH_COLUMNS: &str = "id, name, phone, email, skills_json, zone, working_hours_json, active";

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Technician>, ServiceError> {
    let row = sqlx::query(&format!("SELECT {TECH_COLUMNS} FROM technicians WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(technician).transpose()
}

pub async fn all(pool: &AnyPool) -> Result<Vec<Technician>, ServiceError> {
    let rows = sqlx::query(&format!("SELECT {TECH_COLUMNS} FROM technicians ORDER BY name")).fetch_all(pool).await?;
    rows.iter().map(technician).collect()
}

/// The active technicians, or the one named (active or not).
pub async fn roster(conn: &mut AnyConnection, only: Option<&str>) -> Result<Vec<Technician>, ServiceError> {
    let rows = match only {
        Some(id) => {
            sqlx::query(&format!("SELECT {TECH_COLUMNS} FROM technicians WHERE id = $1"))
                .bind(id)
                .fetch_all(conn)
                .await?
        }
        None => {
            sqlx::query(&format!("SELECT {TECH_COLUMNS} FROM technicians WHERE active = 1")).fetch_all(conn).await?
        }
    };
    rows.iter().map(technician).collect()
}

pub async fn insert(tx: &mut crate::db::WriteTx, t: &Technician, now: i64) -> Result<(), ServiceError> {
    sqlx::query(&format!(
        "INSERT INTO technicians ({TECH_COLUMNS}, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)"
    ))
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.phone)
    .bind(&t.email)
    .bind(serde_json::to_string(&t.skills).unwrap_or_default())
    .bind(&t.zone)
    .bind(serde_json::to_string(&t.working_hours).unwrap_or_default())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the skills, zone, hours and active flag (the name stays).
pub async fn update(tx: &mut crate::db::WriteTx, t: &Technician) -> Result<(), ServiceError> {
    sqlx::query(
        "UPDATE technicians SET skills_json = $1, zone = $2, working_hours_json = $3, active = $4 WHERE id = $5",
    )
    .bind(serde_json::to_string(&t.skills).unwrap_or_default())
    .bind(&t.zone)
    .bind(serde_json::to_string(&t.working_hours).unwrap_or_default())
    .bind(i64::from(t.active))
    .bind(&t.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn add_time_off(
    tx: &mut crate::db::WriteTx,
    id: &str,
    technician_id: &str,
    window: TimeWindow,
    reason: Option<&str>,
) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO technician_time_off (id, technician_id, start_ms, end_ms, reason) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(technician_id)
    .bind(window.start_ms)
    .bind(window.end_ms)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the technician's row lock for a booking, so two bookings of one technician are
/// decided one after the other; false when there is no such technician.
pub async fn lock(conn: &mut AnyConnection, id: &str) -> Result<bool, ServiceError> {
    let locked =
        sqlx::query("UPDATE technicians SET version = version + 1 WHERE id = $1").bind(id).execute(conn).await?;
    Ok(locked.rows_affected() == 1)
}

/// Each technician's time off and active bookings around `range` (bookings of `except_ticket`
/// left out: a reschedule may reuse its time), for everyone or the one named, in two queries
/// however many technicians there are.
pub async fn busy(
    conn: &mut AnyConnection,
    range: TimeWindow,
    except_ticket: &str,
    only: Option<&str>,
) -> Result<(Vec<(String, TimeWindow)>, Vec<(String, TimeWindow)>), ServiceError> {
    let windows = |rows: Vec<sqlx::any::AnyRow>| -> Result<Vec<(String, TimeWindow)>, sqlx::Error> {
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("technician_id")?,
                    TimeWindow { start_ms: r.try_get("start_ms")?, end_ms: r.try_get("end_ms")? },
                ))
            })
            .collect()
    };
    let one = |n: usize| only.map(|_| format!(" AND technician_id = ${n}")).unwrap_or_default();
    let off_sql = format!(
        "SELECT technician_id, start_ms, end_ms FROM technician_time_off WHERE start_ms < $1 AND end_ms > $2{}",
        one(3)
    );
    let mut off_query = sqlx::query(&off_sql).bind(range.end_ms).bind(range.start_ms);
    let booked_sql = format!(
        "SELECT technician_id, start_ms, end_ms FROM appointments WHERE status = 'active' \
         AND end_ms > $2 AND start_ms < $1 AND ticket_id <> $3 AND technician_id IS NOT NULL{}",
        one(4)
    );
    // A day either side: the travel buffer of a booking just outside the range still counts.
    let mut booked_query = sqlx::query(&booked_sql)
        .bind(range.end_ms + 24 * 60 * MINUTE_MS)
        .bind(range.start_ms - 24 * 60 * MINUTE_MS)
        .bind(except_ticket);
    if let Some(id) = only {
        off_query = off_query.bind(id);
        booked_query = booked_query.bind(id);
    }
    let off = windows(off_query.fetch_all(&mut *conn).await?)?;
    let booked = windows(booked_query.fetch_all(&mut *conn).await?)?;
    Ok((off, booked))
}

/// Every active appointment overlapping `[from_ms, to_ms)`, by technician and start.
pub async fn agenda(pool: &AnyPool, from_ms: i64, to_ms: i64) -> Result<Vec<AgendaItem>, ServiceError> {
    let rows = sqlx::query(
        "SELECT a.technician_id, tech.name AS technician_name, t.id AS ticket_id, t.number, t.state, a.start_ms, \
         a.end_ms, c.name AS customer_name, s.address AS site_address FROM appointments a \
         JOIN tickets t ON t.id = a.ticket_id JOIN customers c ON c.id = t.customer_id \
         LEFT JOIN sites s ON s.id = t.site_id JOIN technicians tech ON tech.id = a.technician_id \
         WHERE a.status = 'active' AND a.end_ms > $1 AND a.start_ms < $2 ORDER BY tech.name, a.start_ms",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let state: String = r.try_get("state")?;
            Ok(AgendaItem {
                technician_id: r.try_get("technician_id")?,
                technician_name: r.try_get("technician_name")?,
                ticket_id: r.try_get("ticket_id")?,
                number: domain::case::ticket_number(r.try_get("number")?),
                state: state.parse().map_err(|_| ServiceError::Internal(format!("stored state '{state}'")))?,
                start_ms: r.try_get("start_ms")?,
                end_ms: r.try_get("end_ms")?,
                customer_name: r.try_get("customer_name")?,
                site_address: r.try_get("site_address")?,
            })
        })
        .collect()
}

/// Every technician's time off overlapping `[from_ms, to_ms)`, by start.
pub async fn time_off(pool: &AnyPool, from_ms: i64, to_ms: i64) -> Result<Vec<domain::records::TimeOff>, ServiceError> {
    let rows = sqlx::query(
        "SELECT technician_id, start_ms, end_ms, reason FROM technician_time_off \
         WHERE start_ms < $1 AND end_ms > $2 ORDER BY start_ms, technician_id",
    )
    .bind(to_ms)
    .bind(from_ms)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(domain::records::TimeOff {
                technician_id: r.try_get("technician_id")?,
                start_ms: r.try_get("start_ms")?,
                end_ms: r.try_get("end_ms")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}
