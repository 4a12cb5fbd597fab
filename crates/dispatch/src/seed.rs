//! Demo data for a new database: technicians, customers, tickets across the lifecycle, and
//! an operator login. Every ticket is created and moved through the service, so the demo
//! carries a complete, verifiable audit trail like real data.

use crate::error::ServiceError;
use crate::scheduling::NewTechnician;
use crate::service::{CallContext, Service};
use domain::case::NoteKind;
use domain::commands::{AddNote, AssignTech, CancelTicket, ConfirmSlot, ProposeSlots, RecordLabor, SetEta, TicketRef};
use domain::slots::Slot;
use domain::window::WorkingHours;
use domain::{Actor, CaseState, CreateTicket, NewCustomer, NewSite, Priority, Role, SourceChannel};
use rand_core::{OsRng, RngCore};

pub const DEMO_OPERATOR_EMAIL: &str = "operator@demo.realdispatch.local";

pub struct SeedReport {
    /// `None` when the database already had data and nothing was seeded.
    pub operator: Option<(String, String)>,
    pub tickets: usize,
}

struct Demo {
    name: &'static str,
    phone: &'static str,
    address: Option<&'static str>,
    problem: Option<&'static str>,
    trade: &'static str,
    priority: Priority,
    channel: SourceChannel,
    /// Moves after creation, in order.
    path: &'static [CaseState],
}

const DEMO: &[Demo] = &[
    Demo {
        name: "Ana Ruiz",
        phone: "555-010-4477",
        address: Some("12 Elm St, Springfield"),
        problem: Some("Furnace blows cold air, house at 58°F"),
        trade: "hvac",
        priority: Priority::Urgent,
        channel: SourceChannel::Sms,
        path: &[],
    },
    Demo {
        name: "Marcus Lee",
        phone: "555-010-2231",
        address: None,
        problem: Some("Water heater leaking in garage"),
        trade: "plumbing",
        priority: Priority::Standard,
        channel: SourceChannel::Whatsapp,
        path: &[],
    },
    Demo {
        name: "Priya Shah",
        phone: "555-010-9012",
        address: Some("48 Oak Ave, Springfield"),
        problem: Some("Breaker trips when the dryer runs"),
        trade: "electrical",
        priority: Priority::Standard,
        channel: SourceChannel::Voice,
        path: &[CaseState::Scheduled],
    },
    Demo {
        name: "Tom Becker",
        phone: "555-010-7788",
        address: Some("3 Birch Ct, Shelbyville"),
        problem: Some("AC not cooling, compressor clicks"),
        trade: "hvac",
        priority: Priority::Urgent,
        channel: SourceChannel::Webchat,
        path: &[CaseState::Scheduled, CaseState::Dispatched],
    },
    Demo {
        name: "Grace Kim",
        phone: "555-010-3344",
        address: Some("902 Pine Rd, Springfield"),
        problem: Some("Dishwasher will not drain"),
        trade: "appliance",
        priority: Priority::Standard,
        channel: SourceChannel::Email,
        path: &[CaseState::Scheduled, CaseState::Dispatched, CaseState::Onsite],
    },
    Demo {
        name: "Luis Ortega",
        phone: "555-010-5566",
        address: Some("77 Cedar Ln, Shelbyville"),
        problem: Some("Burst pipe under kitchen sink"),
        trade: "plumbing",
        priority: Priority::Emergency,
        channel: SourceChannel::Voice,
        path: &[CaseState::Scheduled, CaseState::Dispatched, CaseState::Onsite, CaseState::WorkPerformed],
    },
    Demo {
        name: "Hannah Novak",
        phone: "555-010-6677",
        address: Some("15 Maple Dr, Springfield"),
        problem: Some("Annual boiler service"),
        trade: "hvac",
        priority: Priority::Standard,
        channel: SourceChannel::Email,
        path: &[CaseState::Canceled],
    },
];

const TECHNICIANS: &[(&str, &str, &[&str], &str)] = &[
    ("Dana Whitfield", "555-020-1001", &["hvac", "electrical"], "north"),
    ("Sam Okafor", "555-020-1002", &["plumbing", "hvac"], "north"),
    ("Rita Alvarez", "555-020-1003", &["appliance", "hvac", "plumbing", "electrical"], "north"),
];

fn random_password() -> String {
    let mut raw = [0u8; 9];
    OsRng.fill_bytes(&mut raw);
    // 12 characters from an unambiguous alphabet (no 0/O, 1/l).
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bits: u128 = 0;
    for b in raw {
        bits = (bits << 8) | u128::from(b);
    }
    (0..12).map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize % ALPHABET.len()] as char).collect()
}

impl Service {
    /// Moves a demo case one step through the real actions.
    async fn demo_step(
        &self,
        ctx: &CallContext,
        case: &domain::Case,
        to: CaseState,
    ) -> Result<domain::Case, ServiceError> {
        let id = case.id.clone();
        let outcome = match to {
            CaseState::Scheduled => {
                let proposed =
                    self.propose_slots(ctx, &ProposeSlots { ticket_id: id.clone(), ..Default::default() }).await?;
                let slot: Slot = serde_json::from_value(proposed.data["slots"][0].clone())
                    .map_err(|_| ServiceError::Internal("no free slot for the demo".into()))?;
                let confirm = ConfirmSlot {
                    ticket_id: id,
                    start_ms: slot.start_ms,
                    end_ms: slot.end_ms,
                    technician_id: Some(slot.technician_id),
                    reschedule: false,
                    expected_version: None,
                };
                self.confirm_slot(ctx, &confirm).await?
            }
            CaseState::Dispatched => {
                let tech = case.appointment.as_ref().and_then(|a| a.technician_id.clone()).unwrap_or_default();
                let out = self
                    .assign_tech(
                        ctx,
                        &AssignTech { ticket_id: id.clone(), technician_id: tech, expected_version: None },
                    )
                    .await?;
                let eta = out.case.appointment.as_ref().map(|a| a.start_ms).unwrap_or_default();
                self.set_eta(
                    ctx,
                    &SetEta { ticket_id: id, eta_ms: eta, note: Some("On schedule".into()), late_reason: None },
                )
                .await?
            }
            CaseState::Onsite => self.check_in(ctx, &TicketRef { ticket_id: id, expected_version: None }).await?,
            CaseState::WorkPerformed => {
                self.add_note(
                    ctx,
                    &AddNote {
                        ticket_id: id.clone(),
                        kind: NoteKind::WorkSummary,
                        text: "Replaced the failed part and tested the system.".into(),
                    },
                )
                .await?;
                self.record_labor(
                    ctx,
                    &RecordLabor {
                        ticket_id: id.clone(),
                        minutes: 75,
                        description: "Diagnosis and repair".into(),
                        rate_cents: None,
                    },
                )
                .await?;
                self.complete_work(ctx, &TicketRef { ticket_id: id, expected_version: None }).await?
            }
            CaseState::Canceled => {
                self.cancel_ticket(
                    ctx,
                    &CancelTicket {
                        ticket_id: id,
                        reason: "Customer postponed to next season".into(),
                        expected_version: None,
                    },
                )
                .await?
            }
            other => return Err(ServiceError::Internal(format!("the demo does not move cases to {other}"))),
        };
        Ok(outcome.case)
    }

    /// Seeds the demo only into an empty database; returns what it did.
    pub async fn seed_demo(&self) -> Result<SeedReport, ServiceError> {
        if !crate::case_store::is_empty(self.db.pool()).await? {
            return Ok(SeedReport { operator: None, tickets: 0 });
        }
        let system = Actor::system("seed");
        let admin = CallContext::new(system.clone());
        // Long days, every day, so the demo has free slots whenever it is started.
        let every_day = WorkingHours([(); 7].map(|()| vec![(7 * 60, 19 * 60)]));
        let mut techs = vec![];
        for (name, phone, skills, zone) in TECHNICIANS {
            let t = self
                .create_technician(
                    &admin,
                    &NewTechnician {
                        name: (*name).into(),
                        phone: Some((*phone).into()),
                        email: None,
                        skills: skills.iter().map(|s| s.to_string()).collect(),
                        zone: Some((*zone).into()),
                        working_hours: Some(every_day.clone()),
                    },
                )
                .await?;
            techs.push(t);
        }
        for d in DEMO {
            let ctx = CallContext { channel: d.channel, ..CallContext::new(system.clone()) };
            let input = CreateTicket {
                customer: NewCustomer {
                    name: Some(d.name.into()),
                    phone: Some(d.phone.into()),
                    email: None,
                    preferred_channel: Some(d.channel),
                    known_contact: None,
                },
                site: d.address.map(|a| NewSite {
                    address: Some(a.into()),
                    zone: Some("north".into()),
                    ..Default::default()
                }),
                problem_summary: d.problem.map(Into::into),
                trade: Some(d.trade.into()),
                priority: Some(d.priority),
                ..Default::default()
            };
            let mut case = self.create_ticket(&ctx, &input).await?.case;
            for to in d.path {
                case = self.demo_step(&ctx, &case, *to).await?;
            }
        }
        let password = random_password();
        let operator = crate::users::NewUser {
            email: DEMO_OPERATOR_EMAIL.into(),
            name: "Demo Operator".into(),
            role: Some(Role::Operator),
            password: password.clone(),
            ..Default::default()
        };
        self.create_user(&CallContext::new(system), &operator).await?;
        Ok(SeedReport { operator: Some((DEMO_OPERATOR_EMAIL.to_string(), password)), tickets: DEMO.len() })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_long_and_vary() {
        let a = super::random_password();
        assert_eq!(a.chars().count(), 12);
        assert_ne!(a, super::random_password());
    }
}
