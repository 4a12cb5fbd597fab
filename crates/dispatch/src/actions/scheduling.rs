//! Technicians and scheduling: `schedule.propose_slots`, `schedule.confirm`,
//! `dispatch.assign_tech`, `dispatch.set_eta`.

use crate::audit::{self, NewEvent};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, CaseTx, Outcome, Service};
use crate::store::technicians;
use domain::commands::{AssignTech, BookSlot, ConfirmSlot, ProposeSlots, SetEta};
use domain::slots::{self, Candidate, SlotQuery, Unavailable};
use domain::window::{TimeWindow, WorkingHours, MINUTE_MS};
use domain::{Action, CaseState, FieldError};
use sqlx::AnyConnection;

pub use crate::store::technicians::Technician;

pub use domain::records::{NewTechnician, TechnicianEdit};

/// Working hours as UTC intervals overlapping `range`, in the shop's time zone.
pub fn working_intervals(hours: &WorkingHours, tz: &jiff::tz::TimeZone, range: TimeWindow) -> Vec<TimeWindow> {
    let mut out = vec![];
    let Ok(first) = jiff::Timestamp::from_millisecond(range.start_ms) else { return out };
    let mut date = first.to_zoned(tz.clone()).date();
    // One day before covers a shift that started yesterday and runs into the range.
    if let Ok(d) = date.yesterday() {
        date = d;
    }
    for _ in 0..64 {
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        for &(start_min, end_min) in &hours.0[weekday] {
            let at = |minute: u16| -> Option<i64> {
                let midnight = date.to_datetime(jiff::civil::Time::midnight());
                let dt = midnight.checked_add(jiff::Span::new().minutes(i64::from(minute))).ok()?;
                Some(dt.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
            };
            if let (Some(s), Some(e)) = (at(start_min), at(end_min)) {
                let w = TimeWindow { start_ms: s, end_ms: e };
                if w.overlaps(range) {
                    out.push(w);
                }
            }
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
        let day_start = date
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond());
        if day_start.map_or(true, |s| s >= range.end_ms) {
            break;
        }
    }
    out
}

/// The shop's local midnights from the day holding `range.start_ms` to the first one at or
/// after `range.end_ms`: the days a technician's load is counted in.
pub fn local_midnights(tz: &jiff::tz::TimeZone, range: TimeWindow) -> Vec<i64> {
    let mut out = vec![];
    let Ok(first) = jiff::Timestamp::from_millisecond(range.start_ms) else { return out };
    let mut date = first.to_zoned(tz.clone()).date();
    // At most the 31-day search window plus its edges.
    for _ in 0..40 {
        let Ok(midnight) = date.to_datetime(jiff::civil::Time::midnight()).to_zoned(tz.clone()) else { break };
        let ms = midnight.timestamp().as_millisecond();
        out.push(ms);
        if ms >= range.end_ms {
            break;
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }
    out
}

/// Skills, zone and hours as both the create and the edit accept them.
pub(crate) fn roster_fields(
    skills: &[String],
    zone: Option<&str>,
    hours: &WorkingHours,
    errors: &mut Vec<FieldError>,
) -> (Vec<String>, Option<String>) {
    let skills: Vec<String> = skills.iter().filter_map(|s| domain::command::slug("skills", Some(s), errors)).collect();
    if skills.is_empty() {
        errors.push(FieldError::new("skills", "required", "at least one trade, like hvac"));
    }
    let zone = domain::command::slug("zone", zone, errors);
    if let Err(e) = hours.validate("working_hours") {
        errors.push(e);
    }
    (skills, zone)
}

impl Service {
    /// Changes a technician's skills, zone, working hours or availability. Bookings already made
    /// stay; new slot proposals and assignments follow the new record at once.
    pub async fn update_technician(
        &self,
        ctx: &CallContext,
        input: &TechnicianEdit,
    ) -> Result<Technician, ServiceError> {
        self.authorize(ctx, Action::TechnicianUpdate)?;
        let mut errors = vec![];
        let (skills, zone) = roster_fields(&input.skills, input.zone.as_deref(), &input.working_hours, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let mut tx = self.db.begin_write().await?;
        let before = technicians::get(&mut tx, input.technician_id.trim())
            .await?
            .ok_or_else(|| ServiceError::invalid("technician_id", "not_found", "no technician with this id"))?;
        let after = Technician {
            skills,
            zone,
            working_hours: input.working_hours.clone(),
            active: input.active,
            ..before.clone()
        };
        technicians::update(&mut tx, &after).await?;
        let json = |t: &Technician| serde_json::to_value(t).map_err(|e| ServiceError::Internal(e.to_string()));
        audit::append(
            &mut tx,
            ctx,
            NewEvent {
                action: "technician.update".into(),
                before: Some(json(&before)?),
                after: Some(json(&after)?),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn create_technician(
        &self,
        ctx: &CallContext,
        input: &NewTechnician,
    ) -> Result<Technician, ServiceError> {
        self.authorize(ctx, Action::TechnicianCreate)?;
        let mut errors = vec![];
        let name = domain::validate::required_text("name", Some(&input.name), 200, &mut errors);
        let phone = input
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| domain::validate::Phone::parse("phone", p).map_err(|e| errors.push(e)).ok());
        let email = input
            .email
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| domain::validate::Email::parse("email", p).map_err(|e| errors.push(e)).ok());
        // Without hours of their own, a new technician works the shop's.
        let hours = match &input.working_hours {
            Some(h) => h.clone(),
            None => self.shop().await.profile.working_hours.clone(),
        };
        let (skills, zone) = roster_fields(&input.skills, input.zone.as_deref(), &hours, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let t = Technician {
            id: new_id("tec"),
            name: name.unwrap_or_default(),
            phone: phone.map(|p| p.as_str().to_string()),
            email: email.map(|e| e.as_str().to_string()),
            skills,
            zone,
            working_hours: hours,
            active: true,
        };
        let mut tx = self.db.begin_write().await?;
        technicians::insert(&mut tx, &t, now_ms()).await?;
        let after = serde_json::to_value(&t).map_err(|e| ServiceError::Internal(e.to_string()))?;
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "technician.create".into(), after: Some(after), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Time off (vacation, sick day): no slots are offered and no bookings accepted in it.
    pub async fn add_time_off(
        &self,
        ctx: &CallContext,
        technician_id: &str,
        start_ms: i64,
        end_ms: i64,
        reason: Option<&str>,
    ) -> Result<String, ServiceError> {
        self.authorize(ctx, Action::TechnicianAddTimeOff)?;
        let window = TimeWindow::parse("end_ms", start_ms, end_ms, 366 * 24 * 60 * MINUTE_MS)
            .map_err(|e| domain::DomainError::Invalid(vec![e]))?;
        let mut errors = vec![];
        let reason = domain::validate::optional_text("reason", reason, 200, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let mut tx = self.db.begin_write().await?;
        if technicians::get(&mut tx, technician_id).await?.is_none() {
            return Err(ServiceError::invalid("technician_id", "not_found", "no technician with this id"));
        }
        let id = new_id("off");
        technicians::add_time_off(&mut tx, &id, technician_id, window, reason.as_deref()).await?;
        let after = serde_json::json!({"id": id, "technician_id": technician_id, "window": window, "reason": reason});
        audit::append(
            &mut tx,
            ctx,
            NewEvent { action: "technician.time_off".into(), after: Some(after), ..Default::default() },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The roster, for staff and agents (it holds technicians' contact details).
    pub async fn technicians(&self, ctx: &CallContext) -> Result<Vec<Technician>, ServiceError> {
        self.authorize(ctx, Action::RosterRead)?;
        technicians::all(self.db.pool()).await
    }

    /// Technicians with their free time and bookings in `range`, ignoring `except_ticket`'s
    /// own appointment (a reschedule may reuse its time).
    async fn candidates(
        &self,
        conn: &mut AnyConnection,
        only: Option<&str>,
        range: TimeWindow,
        except_ticket: &str,
    ) -> Result<Vec<(Technician, Candidate)>, ServiceError> {
        let roster = technicians::roster(conn, only).await?;
        let (all_off, all_booked) = technicians::busy(conn, range, except_ticket, only).await?;
        let of = |all: &[(String, TimeWindow)], id: &str| -> Vec<TimeWindow> {
            all.iter().filter(|(t, _)| t == id).map(|(_, w)| *w).collect()
        };
        let mut out = vec![];
        // Inside the action's transaction: the copy of the profile its `open` brought up to date.
        let tz = self.shop_now().timezone.clone();
        for t in roster {
            let off = of(&all_off, &t.id);
            let booked = of(&all_booked, &t.id);
            let working = domain::window::subtract(&working_intervals(&t.working_hours, &tz, range), &off);
            let c = Candidate {
                technician_id: t.id.clone(),
                technician_name: t.name.clone(),
                skills: t.skills.clone(),
                zone: t.zone.clone(),
                working,
                booked,
            };
            out.push((t, c));
        }
        Ok(out)
    }

    /// Locks the technician's row (so two bookings of one technician serialise) and checks
    /// that they can take `window` for this job.
    async fn check_technician(
        &self,
        conn: &mut AnyConnection,
        technician_id: &str,
        window: TimeWindow,
        trade: Option<&str>,
        zone: Option<&str>,
        ticket_id: &str,
    ) -> Result<Technician, ServiceError> {
        if !technicians::lock(conn, technician_id).await? {
            return Err(ServiceError::invalid("technician_id", "not_found", "no technician with this id"));
        }
        let mut found = self.candidates(conn, Some(technician_id), window, ticket_id).await?;
        let (t, c) = found
            .pop()
            .ok_or_else(|| ServiceError::invalid("technician_id", "not_found", "no technician with this id"))?;
        let unavailable = |reason: Unavailable| ServiceError::TechUnavailable {
            technician_id: t.id.clone(),
            reason: reason.as_str(),
        };
        if !t.active {
            return Err(unavailable(Unavailable::Inactive));
        }
        c.qualifies(trade, zone).map_err(unavailable)?;
        c.can_take(window, self.shop_now().profile.travel_buffer_minutes * MINUTE_MS).map_err(unavailable)?;
        Ok(t)
    }

    /// `schedule.propose_slots`: real candidates, recorded in the audit trail as proposed.
    #[tracing::instrument(name = "schedule.propose_slots", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn propose_slots(&self, ctx: &CallContext, input: &ProposeSlots) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::ScheduleProposeSlots)?;
        let q = input.validate(now_ms())?;
        let shop = self.shop().await;
        let mut o = self.open(ctx, &input.ticket_id, None).await?;
        Self::require_state(&o.before, Action::ScheduleProposeSlots)?;
        let day_starts = local_midnights(&self.shop_now().timezone, q.range);
        // Whole days, so a day's load counts the jobs before the search starts too.
        let days = match (day_starts.first(), day_starts.last()) {
            (Some(&s), Some(&e)) if s < e => TimeWindow { start_ms: s, end_ms: e.max(q.range.end_ms) },
            _ => q.range,
        };
        let candidates: Vec<Candidate> =
            self.candidates(&mut o.tx, None, days, &o.before.id).await?.into_iter().map(|(_, c)| c).collect();
        let query = SlotQuery {
            trade: o.before.trade.clone(),
            zone: o.before.site.as_ref().and_then(|s| s.zone.clone()),
            range: q.range,
            duration_ms: q.duration_ms,
            step_ms: shop.profile.slot_step_minutes * MINUTE_MS,
            buffer_ms: shop.profile.travel_buffer_minutes * MINUTE_MS,
            max_slots: q.max_slots,
            day_starts,
        };
        let slots = slots::propose(&query, &candidates);
        let data = serde_json::json!({ "slots": slots });
        self.finish(ctx, o, Action::ScheduleProposeSlots, None, data, vec![]).await
    }

    /// `schedule.confirm`: books the appointment (intake -> scheduled, or a reschedule).
    #[tracing::instrument(name = "schedule.confirm", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn confirm_slot(&self, ctx: &CallContext, input: &ConfirmSlot) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::ScheduleConfirm)?;
        let window = input.validate(now_ms())?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::ScheduleConfirm)?;
        self.stage_booking(&mut o, window, input.technician_id.as_deref(), input.reschedule).await?;
        self.finish(ctx, o, Action::ScheduleConfirm, Some(CaseState::Scheduled), serde_json::json!({}), vec![]).await
    }

    /// `ticket.book`: the slot and its technician in one transaction (intake or scheduled ->
    /// dispatched): what `schedule.confirm` then `dispatch.assign_tech` do, with no moment in
    /// between where another booking can take the technician. With `reschedule`, it also moves
    /// a dispatched job to another time or technician (the dispatch calendar's drag and drop).
    #[tracing::instrument(name = "ticket.book", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn book(&self, ctx: &CallContext, input: &BookSlot) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::TicketBook)?;
        let confirm = input.as_confirm();
        let window = confirm.validate(now_ms())?;
        let tech = input.technician_id.trim().to_string();
        if tech.is_empty() {
            return Err(ServiceError::invalid("technician_id", "required", "the id of a technician (tec_...)"));
        }
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::TicketBook)?;
        self.stage_booking(&mut o, window, Some(&tech), input.reschedule).await?;
        // An arrival time given for the old window says nothing about the new one: it goes,
        // and whoever dispatches the moved job gives a new one.
        let moved =
            o.before.appointment.as_ref().is_some_and(|a| (a.start_ms, a.end_ms) != (window.start_ms, window.end_ms));
        if o.before.eta.is_some() && moved {
            o.clear_eta();
        }
        o.assign(&tech, None);
        self.finish(ctx, o, Action::TicketBook, Some(CaseState::Dispatched), serde_json::json!({}), vec![]).await
    }

    /// The appointment of a confirm or a booking: a second one needs `reschedule`, the
    /// technician (if named) must be qualified and free, and the old appointment is superseded.
    async fn stage_booking(
        &self,
        o: &mut CaseTx,
        window: TimeWindow,
        technician_id: Option<&str>,
        reschedule: bool,
    ) -> Result<(), ServiceError> {
        if matches!(o.before.state, CaseState::Scheduled | CaseState::Dispatched) && !reschedule {
            return Err(ServiceError::Conflict(
                "the ticket already has a confirmed appointment; send reschedule: true to move it".into(),
            ));
        }
        let zone = o.before.site.as_ref().and_then(|s| s.zone.clone());
        if let Some(tech) = technician_id {
            self.check_technician(&mut o.tx, tech, window, o.before.trade.as_deref(), zone.as_deref(), &o.before.id)
                .await?;
        }
        o.book(&new_id("apt"), technician_id, window);
        Ok(())
    }

    /// `dispatch.assign_tech`: scheduled -> dispatched, with a qualified, free technician.
    #[tracing::instrument(name = "dispatch.assign_tech", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn assign_tech(&self, ctx: &CallContext, input: &AssignTech) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::DispatchAssignTech)?;
        if input.technician_id.trim().is_empty() {
            return Err(ServiceError::invalid("technician_id", "required", "the id of a technician (tec_...)"));
        }
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::DispatchAssignTech)?;
        let appointment = o
            .before
            .appointment
            .clone()
            .ok_or_else(|| ServiceError::Internal("scheduled ticket without appointment".into()))?;
        let window = TimeWindow { start_ms: appointment.start_ms, end_ms: appointment.end_ms };
        let zone = o.before.site.as_ref().and_then(|s| s.zone.clone());
        let tech = input.technician_id.trim().to_string();
        self.check_technician(&mut o.tx, &tech, window, o.before.trade.as_deref(), zone.as_deref(), &o.before.id)
            .await?;
        o.assign(&tech, Some(&appointment.id));
        self.finish(ctx, o, Action::DispatchAssignTech, Some(CaseState::Dispatched), serde_json::json!({}), vec![])
            .await
    }

    /// `dispatch.set_eta`: when the technician will arrive, within the booked window — or
    /// after it, with the running-late reason the customer is told.
    #[tracing::instrument(name = "dispatch.set_eta", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn set_eta(&self, ctx: &CallContext, input: &SetEta) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::DispatchSetEta)?;
        let texts = input.validate(now_ms())?;
        let mut o = self.open(ctx, &input.ticket_id, None).await?;
        Self::require_state(&o.before, Action::DispatchSetEta)?;
        domain::eta::check(input.eta_ms, o.before.appointment.as_ref(), texts.late_reason.as_deref())
            .map_err(|r| self.eta_refusal(input.eta_ms, r))?;
        // A reason is kept only for an arrival that is in fact late.
        let late = domain::eta::fit(input.eta_ms, o.before.appointment.as_ref()) == domain::eta::EtaFit::Late;
        let late_reason = texts.late_reason.filter(|_| late);
        let detail = match &late_reason {
            Some(r) => serde_json::json!({ "late_reason": r }),
            None => serde_json::json!({}),
        };
        o.set_eta(input.eta_ms, texts.note, late_reason);
        self.finish(ctx, o, Action::DispatchSetEta, None, detail, vec![]).await
    }

    /// The instant of a shop-local time of day (minutes after midnight, as "09:30" is typed):
    /// on the booked day when the job has a window ([`domain::eta::on_booking_day`]), else its
    /// next occurrence from an hour ago.
    pub fn eta_at_time_of_day(&self, now_ms: i64, minute_of_day: i64, booked_start_ms: Option<i64>) -> i64 {
        let tz = self.shop_now().timezone.clone();
        let midnight = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .ok()
                .and_then(|t| t.to_zoned(tz.clone()).start_of_day().ok())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(ms - ms.rem_euclid(86_400_000))
        };
        match booked_start_ms {
            Some(start) => domain::eta::on_booking_day(start, minute_of_day, midnight),
            None => domain::eta::next_at(now_ms, minute_of_day, midnight),
        }
    }

    /// The refusal of an ETA outside the window, in the shop's zone.
    fn eta_refusal(&self, eta_ms: i64, r: domain::eta::EtaRefusal) -> ServiceError {
        let shop = self.shop_now();
        let (eta, window) = (shop.time_label(eta_ms), shop.window_label(r.start_ms, r.end_ms));
        let late = r.fit == domain::eta::EtaFit::Late;
        let message = if late {
            format!(
                "the ETA {eta} is after the booked window ({window}); give a running-late reason to set it, and the customer is told why"
            )
        } else {
            format!("the ETA {eta} is before the booked window ({window}); reschedule the appointment to come earlier")
        };
        ServiceError::EtaOutsideWindow { message, eta_ms, window_start_ms: r.start_ms, window_end_ms: r.end_ms, late }
    }
}

impl Service {
    /// Every active appointment overlapping `[from_ms, to_ms)`, by technician and start, for
    /// the console's schedule (staff only).
    pub async fn agenda(
        &self,
        ctx: &CallContext,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<domain::views::AgendaItem>, ServiceError> {
        self.authorize(ctx, Action::RecordsRead)?;
        if to_ms <= from_ms || to_ms - from_ms > 62 * 24 * 60 * MINUTE_MS {
            return Err(ServiceError::invalid("to_ms", "invalid_range", "a range of up to 62 days"));
        }
        technicians::agenda(self.db.pool(), from_ms, to_ms).await
    }

    /// Every technician's time off overlapping `[from_ms, to_ms)`, for the dispatch calendar
    /// (staff only): shown on the technician's row, and named when a booking is refused in it.
    pub async fn time_off(
        &self,
        ctx: &CallContext,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<domain::records::TimeOff>, ServiceError> {
        self.authorize(ctx, Action::RecordsRead)?;
        if to_ms <= from_ms || to_ms - from_ms > 62 * 24 * 60 * MINUTE_MS {
            return Err(ServiceError::invalid("to_ms", "invalid_range", "a range of up to 62 days"));
        }
        technicians::time_off(self.db.pool(), from_ms, to_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_hours_follow_the_time_zone_and_dst() {
        let tz = jiff::tz::TimeZone::get("America/Chicago").expect("tz");
        let hours = WorkingHours::weekdays_8_to_5();
        // Monday 2026-03-09 (after the DST change on 2026-03-08): 08:00 CDT = 13:00 UTC.
        let monday: jiff::Timestamp = "2026-03-09T00:00:00Z".parse().expect("ts");
        let range =
            TimeWindow { start_ms: monday.as_millisecond(), end_ms: monday.as_millisecond() + 7 * 24 * 60 * MINUTE_MS };
        let got = working_intervals(&hours, &tz, range);
        assert_eq!(got.len(), 5, "{got:?}");
        let first = jiff::Timestamp::from_millisecond(got[0].start_ms).expect("ts");
        assert_eq!(first.to_string(), "2026-03-09T13:00:00Z");
        assert_eq!(got[0].duration_ms(), 9 * 60 * MINUTE_MS);
        // Friday before the change: 08:00 CST = 14:00 UTC.
        let friday: jiff::Timestamp = "2026-03-06T00:00:00Z".parse().expect("ts");
        let r = TimeWindow { start_ms: friday.as_millisecond(), end_ms: friday.as_millisecond() + 24 * 60 * MINUTE_MS };
        let got = working_intervals(&hours, &tz, r);
        let starts: Vec<String> =
            got.iter().map(|w| jiff::Timestamp::from_millisecond(w.start_ms).expect("ts").to_string()).collect();
        assert!(starts.contains(&"2026-03-06T14:00:00Z".to_string()), "{starts:?}");
    }
}
