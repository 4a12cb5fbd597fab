//! The closed toolset and who may use which tool.

use crate::actor::Role;
use crate::state::CaseState;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Tool {
    #[serde(rename = "ticket.create")]
    TicketCreate,
    #[serde(rename = "ticket.add_message")]
    TicketAddMessage,
    #[serde(rename = "ticket.set_priority")]
    TicketSetPriority,
    #[serde(rename = "schedule.propose_slots")]
    ScheduleProposeSlots,
    #[serde(rename = "schedule.confirm")]
    ScheduleConfirm,
    #[serde(rename = "dispatch.assign_tech")]
    DispatchAssignTech,
    #[serde(rename = "dispatch.set_eta")]
    DispatchSetEta,
    #[serde(rename = "closeout.add_photo")]
    CloseoutAddPhoto,
    #[serde(rename = "closeout.add_note")]
    CloseoutAddNote,
    #[serde(rename = "closeout.checklist_complete")]
    CloseoutChecklistComplete,
    #[serde(rename = "billing.generate_invoice_draft")]
    BillingGenerateInvoiceDraft,
    #[serde(rename = "billing.compile_closeout_packet")]
    BillingCompileCloseoutPacket,
}

use Tool::*;

impl Tool {
    pub const ALL: [Tool; 12] = [
        TicketCreate,
        TicketAddMessage,
        TicketSetPriority,
        ScheduleProposeSlots,
        ScheduleConfirm,
        DispatchAssignTech,
        DispatchSetEta,
        CloseoutAddPhoto,
        CloseoutAddNote,
        CloseoutChecklistComplete,
        BillingGenerateInvoiceDraft,
        BillingCompileCloseoutPacket,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            TicketCreate => "ticket.create",
            TicketAddMessage => "ticket.add_message",
            TicketSetPriority => "ticket.set_priority",
            ScheduleProposeSlots => "schedule.propose_slots",
            ScheduleConfirm => "schedule.confirm",
            DispatchAssignTech => "dispatch.assign_tech",
            DispatchSetEta => "dispatch.set_eta",
            CloseoutAddPhoto => "closeout.add_photo",
            CloseoutAddNote => "closeout.add_note",
            CloseoutChecklistComplete => "closeout.checklist_complete",
            BillingGenerateInvoiceDraft => "billing.generate_invoice_draft",
            BillingCompileCloseoutPacket => "billing.compile_closeout_packet",
        }
    }

    /// One line for an agent's tool list.
    pub const fn description(self) -> &'static str {
        match self {
            TicketCreate => "Open a ticket from a customer request (contact, site, problem); lands in intake when complete, else lead. With lead_ticket_id, completes that lead.",
            TicketAddMessage => "Add a message to the ticket's thread (inbound from the customer, outbound to them, or internal).",
            TicketSetPriority => "Set the ticket's priority: standard, urgent or emergency.",
            ScheduleProposeSlots => "Compute candidate appointment slots from technicians' skills, zones, hours and bookings. Books nothing.",
            ScheduleConfirm => "Book an appointment slot (intake -> scheduled). Moving an existing appointment needs reschedule: true.",
            DispatchAssignTech => "Assign a qualified, free technician to the scheduled job (scheduled -> dispatched).",
            DispatchSetEta => "Record when the technician will arrive.",
            CloseoutAddPhoto => "Attach a before/after photo (JPEG, PNG, WebP, HEIC) as base64 or an upload id.",
            CloseoutAddNote => "Add a note, or the work summary (kind: work_summary) that closeout requires.",
            CloseoutChecklistComplete => "Tick checklist items; with finalize: true, submit the closeout (work_performed -> closeout_ready) once all evidence is there.",
            BillingGenerateInvoiceDraft => "Create the invoice draft from recorded labor and parts (closeout_ready -> invoice_ready).",
            BillingCompileCloseoutPacket => "Compile the closeout packet (photos, notes, checklist, labor, parts, invoice) with a hash manifest.",
        }
    }

    /// States in which the tool makes sense; the service refuses it elsewhere.
    pub fn legal_states(self) -> &'static [CaseState] {
        use CaseState::*;
        match self {
            TicketCreate => &[Lead],
            TicketAddMessage => &CaseState::ALL,
            TicketSetPriority => {
                &[Lead, Intake, Scheduled, Dispatched, Onsite, WorkPerformed, CloseoutReady, InvoiceReady]
            }
            ScheduleProposeSlots | ScheduleConfirm => &[Intake, Scheduled],
            DispatchAssignTech => &[Scheduled],
            DispatchSetEta => &[Scheduled, Dispatched],
            CloseoutAddPhoto | CloseoutAddNote => &[Dispatched, Onsite, WorkPerformed],
            CloseoutChecklistComplete => &[Onsite, WorkPerformed],
            BillingGenerateInvoiceDraft => &[CloseoutReady],
            BillingCompileCloseoutPacket => &[InvoiceReady, PaidOrAr],
        }
    }

    /// The tool allowlist of each API-token role (design §3). Human roles are authorised by
    /// the service on their own terms (ownership of the job or the ticket).
    pub fn allowed_for(self, role: Role) -> bool {
        match role {
            Role::Admin | Role::Operator => true,
            Role::IntakeAgent => matches!(self, TicketCreate | TicketAddMessage | TicketSetPriority),
            Role::SchedulingAgent => matches!(
                self,
                ScheduleProposeSlots | ScheduleConfirm | DispatchAssignTech | DispatchSetEta | TicketAddMessage
            ),
            Role::TechLiaisonAgent => matches!(
                self,
                DispatchSetEta | CloseoutAddNote | CloseoutAddPhoto | CloseoutChecklistComplete | TicketAddMessage
            ),
            Role::CloseoutAgent => matches!(
                self,
                CloseoutAddPhoto
                    | CloseoutAddNote
                    | CloseoutChecklistComplete
                    | BillingGenerateInvoiceDraft
                    | BillingCompileCloseoutPacket
                    | TicketAddMessage
            ),
            Role::Technician => matches!(
                self,
                DispatchSetEta | CloseoutAddNote | CloseoutAddPhoto | CloseoutChecklistComplete | TicketAddMessage
            ),
            Role::Customer => matches!(self, TicketAddMessage),
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tool {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tool::ALL.into_iter().find(|t| t.name() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(role: Role) -> Vec<&'static str> {
        Tool::ALL.into_iter().filter(|t| t.allowed_for(role)).map(Tool::name).collect()
    }

    #[test]
    fn agent_allowlists_match_the_contract() {
        assert_eq!(allowed(Role::IntakeAgent), ["ticket.create", "ticket.add_message", "ticket.set_priority"]);
        assert_eq!(
            allowed(Role::SchedulingAgent),
            [
                "ticket.add_message",
                "schedule.propose_slots",
                "schedule.confirm",
                "dispatch.assign_tech",
                "dispatch.set_eta"
            ]
        );
        assert_eq!(
            allowed(Role::TechLiaisonAgent),
            [
                "ticket.add_message",
                "dispatch.set_eta",
                "closeout.add_photo",
                "closeout.add_note",
                "closeout.checklist_complete"
            ]
        );
        assert_eq!(
            allowed(Role::CloseoutAgent),
            [
                "ticket.add_message",
                "closeout.add_photo",
                "closeout.add_note",
                "closeout.checklist_complete",
                "billing.generate_invoice_draft",
                "billing.compile_closeout_packet"
            ]
        );
        assert_eq!(allowed(Role::Operator).len(), 12);
    }

    #[test]
    fn every_state_has_a_next_step_tool_or_is_terminal() {
        for st in CaseState::ALL {
            let tools: Vec<_> = Tool::ALL.into_iter().filter(|t| t.legal_states().contains(&st)).collect();
            assert!(tools.contains(&Tool::TicketAddMessage), "{st}");
            if matches!(st, CaseState::Canceled) {
                assert_eq!(tools, vec![Tool::TicketAddMessage]);
            }
        }
        assert!(Tool::DispatchAssignTech.legal_states() == [CaseState::Scheduled]);
        assert!(Tool::ALL.iter().all(|t| !t.description().is_empty()));
    }

    #[test]
    fn names_round_trip() {
        for t in Tool::ALL {
            assert_eq!(t.name().parse(), Ok(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(serde_json::json!(t.name())));
        }
        assert_eq!("ticket.delete".parse::<Tool>(), Err(()));
    }
}
