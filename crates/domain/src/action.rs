//! The one table of actions: every change anyone can make to the shop's data, once, with who
//! may make it, where it may start, where it leads and which door publishes it.
//!
//! Everything that lists actions derives from [`actions!`] below: the agents' allowlists, the
//! tool API (`GET /tools/v1`, OpenAPI, the plugin's `tools.json`), the browser's "actions legal
//! now", page guards, and the lifecycle's transition list (the `moves` of all rows, checked
//! against [`crate::state::TRANSITIONS`] and the database's copy). Adding an action is one row
//! here, one input type and one arm of the service's `execute`, which the compiler demands.

use crate::actor::Role;
use crate::state::CaseState;
use std::fmt;
use std::str::FromStr;

/// What every action's input says about the ticket it is for (none for records, accounts,
/// inbound deliveries). The action table demands it of every input type.
pub trait Scoped {
    fn ticket_id(&self) -> Option<&str> {
        None
    }
}

macro_rules! about_a_ticket {
    ($($t:ty),* $(,)?) => {
        $(impl Scoped for $t {
            fn ticket_id(&self) -> Option<&str> {
                Some(&self.ticket_id)
            }
        })*
    };
}

macro_rules! about_no_ticket {
    ($($t:ty),* $(,)?) => {
        $(impl Scoped for $t {})*
    };
}

about_a_ticket!(
    crate::commands::AddMessage,
    crate::commands::SetPriority,
    crate::commands::ProposeSlots,
    crate::commands::ConfirmSlot,
    crate::commands::AssignTech,
    crate::commands::BookSlot,
    crate::commands::SetEta,
    crate::commands::AddPhoto,
    crate::commands::AddNote,
    crate::commands::ChecklistComplete,
    crate::commands::TicketRef,
    crate::commands::RecordLabor,
    crate::commands::RecordPart,
    crate::commands::CancelTicket,
    crate::commands::EditInvoiceDraft,
    crate::commands::RecordPayment,
    crate::commands::CreateLink,
    crate::approval::SetFlag,
);

about_no_ticket!(
    crate::commands::RevokeLink,
    crate::commands::Inbound,
    crate::records::NewCustomerRecord,
    crate::records::CustomerEdit,
    crate::records::NewSiteRecord,
    crate::records::SiteEdit,
    crate::records::TemplateItem,
    crate::records::TemplateItemRef,
    crate::records::NewTechnician,
    crate::records::TechnicianEdit,
    crate::records::TimeOff,
    crate::records::NewAccount,
    crate::records::AccountDisabled,
    crate::records::PasswordReset,
    crate::approval::ApprovalDecision,
    crate::approval::GatePolicy,
    crate::updates::UpdateSettings,
    crate::shop_profile::ShopSettingsChange,
);

impl Scoped for crate::command::CreateTicket {
    fn ticket_id(&self) -> Option<&str> {
        self.lead_ticket_id.as_deref()
    }
}

impl Scoped for crate::autonomy::AutonomyChange {
    fn ticket_id(&self) -> Option<&str> {
        self.ticket_id.as_deref()
    }
}

/// Which door publishes an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The tool API (`POST /tools/v1/{name}` with an `Idempotency-Key`, listed in
    /// `GET /tools/v1` and OpenAPI) for the token roles among its `roles`; the agents among
    /// them are offered it as a model tool by the OpenClaw plugin. The web app uses it too.
    Tools,
    /// The tool API only, not offered to models and not listed as a tool: calls that carry
    /// their own deduplication (a channel's message id) or a secret shown once (portal links).
    Api,
    /// The web app alone (records, accounts, the roster): people at a screen, never a token.
    App,
}

/// How the table says a caller is refused in the wrong state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRule {
    /// Any state, or no ticket at all (records, accounts).
    Any,
    /// The action always moves the case to `to`: refused as an illegal transition.
    Moves { to: CaseState },
    /// The action may or may not move the case: refused as not possible in this state.
    Within,
}

/// Everything the table says about one row (see [`Action::spec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Who may call it at all; technicians and customers are further held to their own
    /// jobs and tickets by the service's scope check.
    pub roles: &'static [Role],
    /// States a case must be in; empty for actions that are not about one case, or legal in
    /// every state.
    pub from: &'static [CaseState],
    /// The lifecycle moves the action makes (a subset of `from` × the states it leads to).
    pub moves: &'static [(CaseState, CaseState)],
    pub audience: Audience,
}

macro_rules! actions {
    (
        changes { $(
            $(#[doc = $doc:literal])*
            $variant:ident = $name:literal ($input:ty) {
                roles: [$($role:ident),* $(,)?],
                from: [$($from:ident),* $(,)?],
                moves: [$($mf:ident => $mt:ident),* $(,)?],
                audience: $audience:ident,
                about: $about:literal $(,)?
            }
        )* }
        reads { $(
            $(#[doc = $rdoc:literal])*
            $rvariant:ident = $rname:literal {
                roles: [$($rrole:ident),* $(,)?],
                about: $rabout:literal $(,)?
            }
        )* }
    ) => {
        /// Every action of the table: changes (with an input, run by the service's `execute`)
        /// and reads (authorised by the same roles).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($(#[doc = $doc])* $variant,)*
            $($(#[doc = $rdoc])* $rvariant,)*
        }

        /// A change with its typed input: what the service's `execute` runs.
        #[derive(Debug, Clone)]
        pub enum ActionInput {
            $($variant($input),)*
        }

        impl Action {
            /// Every row, changes first, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)* $(Action::$rvariant,)*];

            /// The changes only (rows with an input).
            pub const CHANGES: &'static [Action] = &[$(Action::$variant,)*];

            pub const fn spec(self) -> ActionSpec {
                use CaseState::*;
                use Role::*;
                let _ = (Lead, Admin);
                match self {
                    $(Action::$variant => ActionSpec {
                        name: $name,
                        description: $about,
                        roles: &[$($role),*],
                        from: &[$($from),*],
                        moves: &[$(($mf, $mt)),*],
                        audience: Audience::$audience,
                    },)*
                    $(Action::$rvariant => ActionSpec {
                        name: $rname,
                        description: $rabout,
                        roles: &[$($rrole),*],
                        from: &[],
                        moves: &[],
                        audience: Audience::App,
                    },)*
                }
            }

            /// Parses a JSON body into this action's input; `None` for reads.
            pub fn parse_input(self, body: serde_json::Value) -> Option<Result<ActionInput, serde_json::Error>> {
                match self {
                    $(Action::$variant => Some(serde_json::from_value::<$input>(body).map(ActionInput::$variant)),)*
                    _ => None,
                }
            }

            /// The input's JSON Schema in `generator` (a `$ref` when it keeps definitions);
            /// `None` for reads.
            pub fn input_schema_in(self, generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
                match self {
                    $(Action::$variant => Some(generator.subschema_for::<$input>()),)*
                    _ => None,
                }
            }
        }

        impl ActionInput {
            pub fn action(&self) -> Action {
                match self {
                    $(ActionInput::$variant(_) => Action::$variant,)*
                }
            }

            /// The input as JSON, as a caller would send it.
            pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                match self {
                    $(ActionInput::$variant(i) => serde_json::to_value(i),)*
                }
            }

            /// The ticket the action is about, if one.
            pub fn ticket_id(&self) -> Option<&str> {
                match self {
                    $(ActionInput::$variant(i) => Scoped::ticket_id(i).map(str::trim),)*
                }
            }
        }
    };
}

actions! {
    changes {
        TicketCreate = "ticket.create" (crate::command::CreateTicket) {
            roles: [Admin, Operator, IntakeAgent],
            from: [Lead],
            moves: [Lead => Intake],
            audience: Tools,
            about: "Open a ticket from a customer request (contact, site, problem); lands in intake when complete, else lead. With lead_ticket_id, completes that lead.",
        }
        TicketAddMessage = "ticket.add_message" (crate::commands::AddMessage) {
            roles: [Admin, Operator, Technician, Customer, IntakeAgent, SchedulingAgent, TechLiaisonAgent, CloseoutAgent],
            from: [],
            moves: [],
            audience: Tools,
            about: "Add a message to the ticket's thread (inbound from the customer, outbound to them, or internal).",
        }
        TicketSetPriority = "ticket.set_priority" (crate::commands::SetPriority) {
            roles: [Admin, Operator, IntakeAgent],
            from: [Lead, Intake, Scheduled, Dispatched, Onsite, WorkPerformed, CloseoutReady, InvoiceReady],
            moves: [],
            audience: Tools,
            about: "Set the ticket's priority: standard, urgent or emergency.",
        }
        ScheduleProposeSlots = "schedule.propose_slots" (crate::commands::ProposeSlots) {
            roles: [Admin, Operator, SchedulingAgent],
            from: [Intake, Scheduled],
            moves: [],
            audience: Tools,
            about: "Compute candidate appointment slots from technicians' skills, zones, hours and bookings. Books nothing.",
        }
        ScheduleConfirm = "schedule.confirm" (crate::commands::ConfirmSlot) {
            roles: [Admin, Operator, SchedulingAgent],
            from: [Intake, Scheduled],
            moves: [Intake => Scheduled, Scheduled => Scheduled],
            audience: Tools,
            about: "Book an appointment slot (intake -> scheduled). Moving an existing appointment needs reschedule: true.",
        }
        DispatchAssignTech = "dispatch.assign_tech" (crate::commands::AssignTech) {
            roles: [Admin, Operator, SchedulingAgent],
            from: [Scheduled],
            moves: [Scheduled => Dispatched],
            audience: Tools,
            about: "Assign a qualified, free technician to the scheduled job (scheduled -> dispatched).",
        }
        TicketBook = "ticket.book" (crate::commands::BookSlot) {
            roles: [Admin, Operator, SchedulingAgent],
            from: [Intake, Scheduled, Dispatched],
            moves: [Intake => Dispatched, Scheduled => Dispatched, Dispatched => Dispatched],
            audience: Tools,
            about: "Book a proposed slot with its technician in one step (intake or scheduled -> dispatched). Moving an existing appointment, or a dispatched job to another time or technician, needs reschedule: true.",
        }
        DispatchSetEta = "dispatch.set_eta" (crate::commands::SetEta) {
            roles: [Admin, Operator, Technician, SchedulingAgent, TechLiaisonAgent],
            from: [Scheduled, Dispatched],
            moves: [],
            audience: Tools,
            about: "Record when the technician will arrive.",
        }
        CloseoutAddPhoto = "closeout.add_photo" (crate::commands::AddPhoto) {
            roles: [Admin, Operator, Technician, TechLiaisonAgent, CloseoutAgent],
            from: [Dispatched, Onsite, WorkPerformed],
            moves: [],
            audience: Tools,
            about: "Attach a before/after photo (JPEG, PNG, WebP, HEIC) as base64 or an upload id.",
        }
        CloseoutAddNote = "closeout.add_note" (crate::commands::AddNote) {
            roles: [Admin, Operator, Technician, TechLiaisonAgent, CloseoutAgent],
            from: [Dispatched, Onsite, WorkPerformed],
            moves: [],
            audience: Tools,
            about: "Add a note, or the work summary (kind: work_summary) that closeout requires.",
        }
        CloseoutChecklistComplete = "closeout.checklist_complete" (crate::commands::ChecklistComplete) {
            roles: [Admin, Operator, Technician, TechLiaisonAgent, CloseoutAgent],
            from: [Onsite, WorkPerformed],
            moves: [WorkPerformed => CloseoutReady],
            audience: Tools,
            about: "Tick checklist items (untick: ones ticked by mistake); with finalize: true, submit the closeout (work_performed -> closeout_ready) once all evidence is there.",
        }
        BillingGenerateInvoiceDraft = "billing.generate_invoice_draft" (crate::commands::TicketRef) {
            roles: [Admin, Operator, CloseoutAgent],
            from: [CloseoutReady],
            moves: [CloseoutReady => InvoiceReady],
            audience: Tools,
            about: "Create the invoice draft from recorded labor and parts (closeout_ready -> invoice_ready).",
        }
        BillingCompileCloseoutPacket = "billing.compile_closeout_packet" (crate::commands::TicketRef) {
            roles: [Admin, Operator, CloseoutAgent],
            from: [InvoiceReady, PaidOrAr],
            moves: [],
            audience: Tools,
            about: "Compile the closeout packet (photos, notes, checklist, labor, parts, invoice) with a hash manifest.",
        }
        JobCheckIn = "job.check_in" (crate::commands::TicketRef) {
            roles: [Admin, Operator, Technician],
            from: [Dispatched],
            moves: [Dispatched => Onsite],
            audience: Tools,
            about: "Check the technician in on site (dispatched -> onsite).",
        }
        JobCompleteWork = "job.complete_work" (crate::commands::TicketRef) {
            roles: [Admin, Operator, Technician],
            from: [Onsite],
            moves: [Onsite => WorkPerformed],
            audience: Tools,
            about: "Mark the work done (onsite -> work_performed).",
        }
        JobRecordLabor = "job.record_labor" (crate::commands::RecordLabor) {
            roles: [Admin, Operator, Technician],
            from: [Onsite, WorkPerformed],
            moves: [],
            audience: Tools,
            about: "Record labor time on the job.",
        }
        JobRecordPart = "job.record_part" (crate::commands::RecordPart) {
            roles: [Admin, Operator, Technician],
            from: [Onsite, WorkPerformed],
            moves: [],
            audience: Tools,
            about: "Record a part used on the job.",
        }
        TicketCancel = "ticket.cancel" (crate::commands::CancelTicket) {
            roles: [Admin, Operator, IntakeAgent, SchedulingAgent],
            from: [Lead, Intake, Scheduled, Dispatched],
            moves: [Lead => Canceled, Intake => Canceled, Scheduled => Canceled, Dispatched => Canceled],
            audience: Tools,
            about: "Cancel the ticket (possible until a technician is on site). An agent's cancel waits for a person's approval when the shop says so (202 APPROVAL_REQUIRED).",
        }
        TicketSetFlag = "ticket.set_flag" (crate::approval::SetFlag) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: Tools,
            about: "Mark the ticket VIP or complaint, or clear the mark: agents' steps on a marked ticket wait for a person.",
        }
        ApprovalApprove = "approval.approve" (crate::approval::ApprovalDecision) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: Tools,
            about: "Approve an agent's call held for a person: it runs once, as the agent asked.",
        }
        ApprovalReject = "approval.reject" (crate::approval::ApprovalDecision) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: Tools,
            about: "Reject an agent's call held for a person, saying why (the agent is told).",
        }
        CustomerUpdatesSet = "customer_updates.set" (crate::updates::UpdateSettings) {
            roles: [Admin],
            from: [],
            moves: [],
            audience: App,
            about: "Choose which updates customers get (appointment confirmed, on the way, ETA changed, work done, invoice ready) and their words.",
        }
        ApprovalGateSet = "approval_gate.set" (crate::approval::GatePolicy) {
            roles: [Admin],
            from: [],
            moves: [],
            audience: App,
            about: "Choose which agent calls wait for a person: cancels, invoices above an amount, late reschedules, flagged tickets.",
        }
        ShopSettingsSet = "shop.settings.set" (crate::shop_profile::ShopSettingsChange) {
            roles: [Admin],
            from: [],
            moves: [],
            audience: App,
            about: "Change the shop's profile: name, address, phone, e-mail, logo, time zone, currency, tax and labor rates, payment terms, working days and hours, the appointment grid and travel buffer.",
        }
        BillingEditInvoiceDraft = "billing.edit_invoice_draft" (crate::commands::EditInvoiceDraft) {
            roles: [Admin, Operator],
            from: [InvoiceReady],
            moves: [],
            audience: Tools,
            about: "Replace the invoice draft's lines and tax rate (invoice_ready, until a closeout packet is compiled).",
        }
        BillingRecordPayment = "billing.record_payment" (crate::commands::RecordPayment) {
            roles: [Admin, Operator],
            from: [InvoiceReady],
            moves: [InvoiceReady => PaidOrAr],
            audience: Tools,
            about: "Record payment: paid, or accounts receivable with a due date (invoice_ready -> paid_or_ar).",
        }
        PortalCreateLink = "portal.create_link" (crate::commands::CreateLink) {
            roles: [Admin, Operator, IntakeAgent, SchedulingAgent, TechLiaisonAgent, CloseoutAgent],
            from: [],
            moves: [],
            audience: Api,
            about: "A signed, expiring link to the ticket's page for its customer (the path is shown once).",
        }
        PortalRevokeLink = "portal.revoke_link" (crate::commands::RevokeLink) {
            roles: [Admin, Operator, IntakeAgent, SchedulingAgent, TechLiaisonAgent, CloseoutAgent],
            from: [],
            moves: [],
            audience: Api,
            about: "Revoke a portal link: it and every session opened with it stop working.",
        }
        PortalSendLink = "portal.send_link" (crate::commands::TicketRef) {
            roles: [Admin, Operator, IntakeAgent, SchedulingAgent, TechLiaisonAgent, CloseoutAgent],
            from: [],
            moves: [],
            audience: Api,
            about: "Text or e-mail the customer a new link to the ticket's page, through their channel (a customer update of kind ticket_link).",
        }
        AutonomyPause = "autonomy.pause" (crate::autonomy::AutonomyChange) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: Tools,
            about: "Pause the agents: all of them, one agent role, or those on one ticket. Their calls then change nothing (409 AUTONOMY_PAUSED) until resumed.",
        }
        AutonomyResume = "autonomy.resume" (crate::autonomy::AutonomyChange) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: Tools,
            about: "Resume agents paused with autonomy.pause (the same scope).",
        }
        InboundDeliver = "inbound" (crate::commands::Inbound) {
            roles: [Admin, Operator, IntakeAgent],
            from: [],
            moves: [],
            audience: Api,
            about: "A message as a channel delivered it: stored, deduplicated, screened, and attached to the sender's open ticket or turned into a lead.",
        }
        CustomerCreate = "customer.create" (crate::records::NewCustomerRecord) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Add a customer (and a first site) before any ticket.",
        }
        CustomerUpdate = "customer.update" (crate::records::CustomerEdit) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Rename a customer, add a phone or e-mail, or set the preferred channel.",
        }
        SiteCreate = "site.create" (crate::records::NewSiteRecord) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Add a site (an address where work is done) to a customer.",
        }
        SiteUpdate = "site.update" (crate::records::SiteEdit) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Change a site's address, access notes or zone.",
        }
        TemplatePutItem = "checklist_template.put_item" (crate::records::TemplateItem) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Add or change one item of a job type's closeout checklist.",
        }
        TemplateRemoveItem = "checklist_template.remove_item" (crate::records::TemplateItemRef) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Remove one item from a job type's closeout checklist.",
        }
        TechnicianCreate = "technician.create" (crate::records::NewTechnician) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Add a technician to the roster.",
        }
        TechnicianUpdate = "technician.update" (crate::records::TechnicianEdit) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Change a technician's skills, zone, working hours or availability.",
        }
        TechnicianAddTimeOff = "technician.add_time_off" (crate::records::TimeOff) {
            roles: [Admin, Operator],
            from: [],
            moves: [],
            audience: App,
            about: "Block time off for a technician; slots are no longer proposed in it.",
        }
        AccountCreate = "account.create" (crate::records::NewAccount) {
            roles: [Admin],
            from: [],
            moves: [],
            audience: App,
            about: "Create a sign-in account for a person.",
        }
        AccountSetDisabled = "account.set_disabled" (crate::records::AccountDisabled) {
            roles: [Admin],
            from: [],
            moves: [],
            audience: App,
            about: "Disable or enable an account; disabling ends its sessions.",
        }
        AccountResetPassword = "account.reset_password" (crate::records::PasswordReset) {
            roles: [Admin],
            from: [],
            moves: [],
            audience: App,
            about: "Set a new password on an account; its sessions end.",
        }
    }
    reads {
        CaseRead = "case.read" {
            roles: [Admin, Operator, IntakeAgent, SchedulingAgent, TechLiaisonAgent, CloseoutAgent],
            about: "Read one canonical case (technicians read their job's view, customers their ticket's).",
        }
        BoardRead = "board.read" {
            roles: [Admin, Operator],
            about: "The dispatch board, case histories and message threads.",
        }
        RosterRead = "roster.read" {
            roles: [Admin, Operator, IntakeAgent, SchedulingAgent, TechLiaisonAgent, CloseoutAgent],
            about: "The technicians with their skills, zones, hours and contact details.",
        }
        RecordsRead = "records.read" {
            roles: [Admin, Operator],
            about: "Customers, sites, checklist templates, the roster and the schedule.",
        }
        DataExport = "data.export" {
            roles: [Admin],
            about: "Export everything, or one customer's part, in the documented export format: records, cases, the audit trail and every file.",
        }
        ShopSettingsRead = "shop.settings.read" {
            roles: [Admin, Operator],
            about: "The shop's profile in force, and where each value comes from (saved, or the environment's default).",
        }
        AccountsRead = "accounts.read" {
            roles: [Admin],
            about: "The accounts list.",
        }
        JobsRead = "jobs.read" {
            roles: [Technician],
            about: "A technician's own jobs (the technician page).",
        }
        PortalRead = "portal.read" {
            roles: [Customer],
            about: "A customer's own tickets (the portal).",
        }
        ApprovalsRead = "approvals.read" {
            roles: [Admin, Operator],
            about: "Agent calls waiting for a person, and the shop's approval rules.",
        }
        OwnAccount = "account.own" {
            roles: [Admin, Operator, Technician, Customer],
            about: "One's own account: sign out, change the password.",
        }
    }
}

impl Action {
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    pub const fn description(self) -> &'static str {
        self.spec().description
    }

    pub const fn audience(self) -> Audience {
        self.spec().audience
    }

    pub fn allowed_for(self, role: Role) -> bool {
        self.spec().roles.contains(&role)
    }

    /// Reachable through the tool API by `role`.
    pub fn is_api_for(self, role: Role) -> bool {
        self.audience() != Audience::App && role.is_token_role() && self.allowed_for(role)
    }

    /// Listed for `role` in `GET /tools/v1` (and offered to it as a model tool, for agents).
    pub fn is_tool_for(self, role: Role) -> bool {
        self.audience() == Audience::Tools && self.is_api_for(role)
    }

    /// The agent tools: rows of the tool API that at least one agent role may call.
    pub fn agent_tools() -> impl Iterator<Item = Action> {
        Action::CHANGES
            .iter()
            .copied()
            .filter(|a| a.audience() == Audience::Tools && Role::ALL.iter().any(|r| r.is_agent() && a.allowed_for(*r)))
    }

    /// Whether the action may start from `state` (actions with no `from` list: any state).
    pub fn legal_in(self, state: CaseState) -> bool {
        let from = self.spec().from;
        from.is_empty() || from.contains(&state)
    }

    /// How a call in a state outside `from` is refused.
    pub fn state_rule(self) -> StateRule {
        let spec = self.spec();
        if spec.from.is_empty() {
            return StateRule::Any;
        }
        let always_moves = spec.from.iter().all(|f| spec.moves.iter().any(|(mf, _)| mf == f));
        match spec.moves.first() {
            Some((_, to)) if always_moves && spec.moves.iter().all(|(_, t)| t == to) => StateRule::Moves { to: *to },
            _ => StateRule::Within,
        }
    }

    /// The roles that may call the action.
    pub fn roles(self) -> &'static [Role] {
        self.spec().roles
    }

    /// Every lifecycle move any action makes: the transition list, derived.
    pub fn all_moves() -> Vec<(CaseState, CaseState)> {
        let mut moves: Vec<_> = Action::ALL.iter().flat_map(|a| a.spec().moves.iter().copied()).collect();
        moves.sort();
        moves.dedup();
        moves
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL.iter().copied().find(|a| a.name() == s).ok_or(())
    }
}

impl serde::Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn tools_for(role: Role) -> Vec<&'static str> {
        Action::agent_tools().filter(|a| a.allowed_for(role)).map(Action::name).collect()
    }

    #[test]
    fn agent_allowlists_match_the_contract() {
        assert_eq!(
            tools_for(Role::IntakeAgent),
            ["ticket.create", "ticket.add_message", "ticket.set_priority", "ticket.cancel"]
        );
        assert_eq!(
            tools_for(Role::SchedulingAgent),
            [
                "ticket.add_message",
                "schedule.propose_slots",
                "schedule.confirm",
                "dispatch.assign_tech",
                "ticket.book",
                "dispatch.set_eta",
                "ticket.cancel"
            ]
        );
        assert_eq!(
            tools_for(Role::TechLiaisonAgent),
            [
                "ticket.add_message",
                "dispatch.set_eta",
                "closeout.add_photo",
                "closeout.add_note",
                "closeout.checklist_complete"
            ]
        );
        assert_eq!(
            tools_for(Role::CloseoutAgent),
            [
                "ticket.add_message",
                "closeout.add_photo",
                "closeout.add_note",
                "closeout.checklist_complete",
                "billing.generate_invoice_draft",
                "billing.compile_closeout_packet"
            ]
        );
    }

    #[test]
    fn every_row_is_complete_and_named_once() {
        let mut names = BTreeSet::new();
        for a in Action::ALL {
            let s = a.spec();
            assert!(names.insert(s.name), "{} twice", s.name);
            assert!(!s.description.is_empty() && !s.roles.is_empty(), "{}", s.name);
            assert_eq!(s.name.parse(), Ok(*a));
            for (from, to) in s.moves {
                assert!(s.from.contains(from), "{}: moves from {from} outside its from list", s.name);
                assert!(from.can_transition_to(*to), "{}: {from} -> {to} is not in TRANSITIONS", s.name);
            }
            let changes = Action::CHANGES.contains(a);
            assert_eq!(a.parse_input(serde_json::json!({})).is_some(), changes, "{}", s.name);
            let mut generator = schemars::SchemaGenerator::default();
            assert_eq!(a.input_schema_in(&mut generator).is_some(), changes, "{}", s.name);
        }
        assert_eq!("ticket.delete".parse::<Action>(), Err(()));
    }

    #[test]
    fn the_transition_list_is_the_moves_of_the_table() {
        let mut transitions = crate::state::TRANSITIONS.to_vec();
        transitions.sort();
        assert_eq!(Action::all_moves(), transitions);
    }

    #[test]
    fn every_state_has_a_next_step_or_is_terminal() {
        for st in CaseState::ALL {
            let tools: Vec<_> = Action::agent_tools().filter(|a| !a.spec().from.is_empty() && a.legal_in(st)).collect();
            if st == CaseState::Canceled || st == CaseState::PaidOrAr {
                assert!(tools.iter().all(|a| a.spec().moves.is_empty()), "{st}: {tools:?}");
            } else if st != CaseState::Dispatched && st != CaseState::Onsite {
                // Check-in and completion are people's steps; every other state has an agent's.
                assert!(tools.iter().any(|a| !a.spec().moves.is_empty()) || st == CaseState::InvoiceReady, "{st}");
            }
        }
    }

    #[test]
    fn refusals_follow_the_moves() {
        assert_eq!(Action::JobCheckIn.state_rule(), StateRule::Moves { to: CaseState::Onsite });
        assert_eq!(Action::ScheduleConfirm.state_rule(), StateRule::Moves { to: CaseState::Scheduled });
        assert_eq!(Action::TicketCancel.state_rule(), StateRule::Moves { to: CaseState::Canceled });
        assert_eq!(Action::CloseoutChecklistComplete.state_rule(), StateRule::Within);
        assert_eq!(Action::JobRecordLabor.state_rule(), StateRule::Within);
        assert_eq!(Action::TicketAddMessage.state_rule(), StateRule::Any);
        assert_eq!(Action::CustomerCreate.state_rule(), StateRule::Any);
    }

    #[test]
    fn people_and_tokens_reach_what_the_table_says() {
        assert!(Action::JobCheckIn.is_tool_for(Role::Operator));
        assert!(!Action::JobCheckIn.is_tool_for(Role::Technician), "technicians have no tokens");
        assert!(!Action::CustomerCreate.is_api_for(Role::Operator), "records are the web app's");
        assert!(
            Action::InboundDeliver.is_api_for(Role::IntakeAgent)
                && !Action::InboundDeliver.is_tool_for(Role::IntakeAgent)
        );
        assert!(Action::AccountCreate.allowed_for(Role::Admin) && !Action::AccountCreate.allowed_for(Role::Operator));
    }
}
