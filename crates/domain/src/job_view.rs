//! The technician's view of a job: what the work needs (where, who, what, the evidence so far)
//! and nothing of the office's books. Storage keys, account and technician ids, the invoice,
//! the packet and the payment never reach a technician's phone; photos are named by their
//! attachment id, which the file routes check again.

use crate::case::{AttachmentKind, Case, NoteKind};
use crate::state::CaseState;
use crate::window::TimeWindow;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub number: String,
    pub state: CaseState,
    /// For the compare-and-swap of the job's steps.
    pub version: i64,
    pub problem_summary: Option<String>,
    pub appointment: Option<TimeWindow>,
    pub eta_ms: Option<i64>,
    pub site: Option<JobSite>,
    pub customer: JobContact,
    pub checklist: Vec<JobCheck>,
    pub notes: Vec<JobNote>,
    /// Photos and the signature, oldest first.
    pub photos: Vec<JobPhoto>,
    pub labor: Vec<JobLabor>,
    pub parts: Vec<JobPart>,
    /// What the closeout still needs, by the keys `closeout_missing` gives (empty once it
    /// could be submitted).
    pub still_needed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSite {
    pub address: String,
    pub access_notes: Option<String>,
}

/// Who to call at the door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobContact {
    pub name: String,
    /// Primary first.
    pub phones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCheck {
    pub key: String,
    pub label: String,
    pub required: bool,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobNote {
    pub kind: NoteKind,
    pub text: String,
    /// The writer's name as the office knows it.
    pub author: String,
    pub created_at_ms: i64,
}

/// A photo or signature: served by `/files/{id}/{thumb|view|original}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPhoto {
    pub id: String,
    pub kind: AttachmentKind,
    pub content_type: String,
    /// A thumbnail and a shared copy exist (HEIC and very large files have none).
    pub previews: bool,
    pub created_at_ms: i64,
}

impl JobPhoto {
    pub fn of(a: &crate::case::Attachment) -> JobPhoto {
        JobPhoto {
            id: a.id.clone(),
            kind: a.kind,
            content_type: a.content_type.clone(),
            previews: a.thumb_key.is_some(),
            created_at_ms: a.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLabor {
    pub minutes: i64,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPart {
    pub description: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// The phones a technician calls, the caller's first: the person who asked for the visit
/// expects the call, even when the customer on file is someone else.
fn phones_to_call(c: &Case) -> Vec<String> {
    let mut phones: Vec<String> = c.contact.iter().filter_map(|p| p.phone.clone()).collect();
    for p in &c.customer.phones {
        if !phones.contains(p) {
            phones.push(p.clone());
        }
    }
    phones
}

impl JobView {
    pub fn of(c: &Case) -> JobView {
        JobView {
            id: c.id.clone(),
            number: c.number.clone(),
            state: c.state,
            version: c.version,
            problem_summary: c.problem_summary.clone(),
            appointment: c.appointment.as_ref().map(|a| TimeWindow { start_ms: a.start_ms, end_ms: a.end_ms }),
            eta_ms: c.eta.as_ref().map(|e| e.eta_ms),
            site: c.site.as_ref().map(|s| JobSite { address: s.address.clone(), access_notes: s.access_notes.clone() }),
            customer: JobContact { name: c.customer.name.clone(), phones: phones_to_call(c) },
            checklist: c
                .checklist
                .iter()
                .map(|i| JobCheck { key: i.key.clone(), label: i.label.clone(), required: i.required, done: i.done })
                .collect(),
            notes: c
                .notes
                .iter()
                .map(|n| JobNote {
                    kind: n.kind,
                    text: n.text.clone(),
                    author: n.author.clone(),
                    created_at_ms: n.created_at_ms,
                })
                .collect(),
            photos: c.attachments.iter().map(JobPhoto::of).collect(),
            labor: c
                .labor
                .iter()
                .map(|l| JobLabor { minutes: l.minutes, description: l.description.clone() })
                .collect(),
            parts: c
                .parts
                .iter()
                .map(|p| JobPart {
                    description: p.description.clone(),
                    quantity: p.quantity,
                    unit_price_cents: p.unit_price_cents,
                })
                .collect(),
            still_needed: crate::case::closeout_missing(c),
        }
    }

    pub fn signed(&self) -> bool {
        self.photos.iter().any(|p| p.kind == AttachmentKind::Signature)
    }

    /// The job's state in the technician's words ("Booked", "On the way", "On site", ...).
    pub fn field_word(&self) -> &'static str {
        self.state.field_word(self.eta_ms.is_some())
    }

    /// The closeout's missing evidence (the service's keys, as `closeout_missing` names them)
    /// in the words on the technician's page: checklist items by their labels.
    pub fn missing_in_words(&self, missing: &[String]) -> Vec<String> {
        missing
            .iter()
            .map(|key| match key.as_str() {
                "after_photo" => "a photo after the work".to_string(),
                "work_summary" => "the work summary (a note of kind \"Work summary\")".to_string(),
                other => {
                    let item = other.strip_prefix("checklist:").unwrap_or(other);
                    self.checklist
                        .iter()
                        .find(|c| c.key == item)
                        .map_or_else(|| item.replace('_', " "), |c| c.label.clone())
                }
            })
            .collect()
    }
}

/// A closeout refused for missing evidence, as one sentence: `Not sent yet — still needed: the
/// filter checked, a photo after the work and the work summary.`
pub fn still_needed_sentence(items: &[String]) -> String {
    let list = match items {
        [] => return "Not sent yet — something is still missing.".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    format!("Not sent yet \u{2014} still needed: {list}.")
}

/// Why the server refused a technician's step because of the job itself (not what was typed),
/// in the technician's words: from the refusal's code and the job as it stands now (`None`:
/// the job is no longer theirs to see). `None` for refusals that say what to fix themselves.
pub fn step_refused_because(code: crate::ErrorCode, now: Option<&JobView>) -> Option<String> {
    use crate::ErrorCode as C;
    if !said_from_the_job(code) {
        return None;
    }
    Some(match now {
        None => "this job is no longer on your list (the office took it off or gave it to someone else)".into(),
        Some(job) if job.state == CaseState::Canceled => "the office canceled this job".into(),
        Some(_) if code == C::Conflict => "the job was changed at the office before this step arrived".into(),
        Some(job) => format!("the job is now marked \"{}\"", job.field_word()),
    })
}

/// Whether [`step_refused_because`] has words for a refusal of this code: the ones the job as it
/// now stands explains (worth reading the job again for).
pub fn said_from_the_job(code: crate::ErrorCode) -> bool {
    use crate::ErrorCode as C;
    matches!(code, C::Conflict | C::InvalidStateTransition | C::TicketNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal_view::tests::busy_case;

    #[test]
    fn the_caller_is_called_first() {
        let mut c = busy_case("dispatched", false);
        c.contact = Some(crate::ContactPerson {
            id: "per_1".into(),
            name: "Liam Quinlan".into(),
            phone: Some("+13125550199".into()),
            email: None,
        });
        assert_eq!(JobView::of(&c).customer.phones, vec!["+13125550199".to_string(), "+13125550100".to_string()]);
        // A caller on the customer's own line is not listed twice.
        if let Some(p) = c.contact.as_mut() {
            p.phone = Some("+13125550100".into());
        }
        assert_eq!(JobView::of(&c).customer.phones, vec!["+13125550100".to_string()]);
    }

    #[test]
    fn a_technician_sees_the_work_not_the_books() {
        let view = JobView::of(&busy_case("invoice_ready", true));
        let text = serde_json::to_string(&view).expect("json");
        for secret in ["SECRET", "uploads/", "packets/", "INV-000042", "9500", "7125"] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
        assert_eq!(view.customer.phones, vec!["+13125550100".to_string()]);
        assert_eq!(view.notes.len(), 2, "the office's notes are for the technician too");
        assert_eq!(view.photos.len(), 1);
        assert!(view.photos[0].previews);
        assert_eq!(view.labor[0].minutes, 45);
        assert!(!view.signed());
    }

    #[test]
    fn missing_closeout_items_read_as_their_labels() {
        let mut view = JobView::of(&busy_case("work_performed", false));
        view.checklist = vec![JobCheck {
            key: "filter_checked".into(),
            label: "Filter checked".into(),
            required: true,
            done: false,
        }];
        let missing: Vec<String> = ["checklist:filter_checked", "after_photo", "work_summary", "checklist:gone_item"]
            .map(String::from)
            .to_vec();
        let words = view.missing_in_words(&missing);
        assert_eq!(words[0], "Filter checked");
        assert_eq!(words[1], "a photo after the work");
        assert!(words[2].starts_with("the work summary"), "{}", words[2]);
        assert_eq!(words[3], "gone item", "an unknown key still reads without its underscore");
        let sentence = still_needed_sentence(&words[..2]);
        assert_eq!(sentence, "Not sent yet \u{2014} still needed: Filter checked and a photo after the work.");
        assert!(!still_needed_sentence(&words).contains("checklist:"));
    }

    #[test]
    fn a_refused_step_is_explained_by_the_job_as_it_now_stands() {
        use crate::ErrorCode as C;
        let mut view = JobView::of(&busy_case("onsite", false));
        let stale = step_refused_because(C::Conflict, Some(&view)).expect("words");
        assert_eq!(stale, "the job was changed at the office before this step arrived");
        let twice = step_refused_because(C::InvalidStateTransition, Some(&view)).expect("words");
        assert_eq!(twice, "the job is now marked \"On site\"");
        view.state = CaseState::Canceled;
        for code in [C::Conflict, C::InvalidStateTransition] {
            assert_eq!(step_refused_because(code, Some(&view)).as_deref(), Some("the office canceled this job"));
        }
        let gone = step_refused_because(C::TicketNotFound, None).expect("words");
        assert!(gone.starts_with("this job is no longer on your list"), "{gone}");
        for own_words in [C::CloseoutRequirementsIncomplete, C::InvalidRequest, C::Internal] {
            assert_eq!(step_refused_because(own_words, Some(&view)), None, "{own_words:?}");
        }
        // Nothing of the API's wording reaches the technician.
        for words in [stale, twice, gone] {
            assert!(!words.contains("read") && !words.contains("ticket"), "{words}");
        }
    }
}
