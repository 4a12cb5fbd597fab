//! Work on site and its evidence: `job.check_in`, `job.complete_work`, `closeout.add_photo`,
//! `closeout.add_note`, `closeout.checklist_complete`, labor and parts.

use crate::error::ServiceError;
use crate::ids::new_id;
use crate::service::{CallContext, Outcome, Service};
use crate::store::case_writes::{NewAttachment, NewLabor, NewPart};
use crate::uploads::{PhotoBody, StoredPhoto};
use base64::Engine;
use domain::case::closeout_missing;
use domain::commands::{AddNote, AddPhoto, ChecklistComplete, JobRef, RecordLabor, RecordPart};
use domain::{Action, CaseState, FieldError};

/// Where a photo's bytes come from.
pub(crate) enum PhotoSource {
    /// The bytes and their content type, as sniffed from them.
    Bytes(Vec<u8>, &'static str),
    Upload(crate::uploads::Upload),
}

/// Largest photo accepted through a JSON body (base64 decoded).
pub const MAX_INLINE_PHOTO: usize = 10 * 1024 * 1024;

impl Service {
    /// `job.check_in`: the technician is on site (dispatched -> onsite).
    #[tracing::instrument(name = "job.check_in", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn check_in(&self, ctx: &CallContext, input: &JobRef) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::JobCheckIn)?;
        let o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        self.finish(ctx, o, Action::JobCheckIn, Some(CaseState::Onsite), serde_json::json!({}), vec![]).await
    }

    /// `job.complete_work`: the work is done (onsite -> work_performed).
    #[tracing::instrument(name = "job.complete_work", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn complete_work(&self, ctx: &CallContext, input: &JobRef) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::JobCompleteWork)?;
        let o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        self.finish(ctx, o, Action::JobCompleteWork, Some(CaseState::WorkPerformed), serde_json::json!({}), vec![])
            .await
    }

    /// `closeout.add_photo` with the image bytes inline (base64). The blob is written before
    /// the transaction; a blob whose row never commits is removed again.
    #[tracing::instrument(name = "closeout.add_photo", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn add_photo(&self, ctx: &CallContext, input: &AddPhoto) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::CloseoutAddPhoto)?;
        let mut errors = vec![];
        let filename = domain::media::stored_filename(input.filename.as_deref());
        let source = match (&input.content_base64, &input.upload_id) {
            (Some(b64), None) => {
                if b64.len() > MAX_INLINE_PHOTO / 3 * 4 + 8 {
                    return Err(ServiceError::invalid(
                        "content_base64",
                        "too_large",
                        "at most 10 MiB; use an upload for larger files",
                    ));
                }
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| {
                    ServiceError::invalid("content_base64", "invalid_base64", "standard base64 of the image file")
                })?;
                let sniffed = domain::media::sniff_image(&bytes);
                let defect = sniffed.and_then(domain::image_check::IntegrityCheck::new).and_then(|mut check| {
                    check.feed(&bytes);
                    check.finish().err()
                });
                if let (Some(real), Some(declared)) = (sniffed, input.content_type.as_deref()) {
                    if declared != real {
                        errors.push(FieldError::new(
                            "content_type",
                            "type_mismatch",
                            format!("the file is {real}, not {declared}"),
                        ));
                    }
                }
                if let Err(e) = crate::spool::image_verdict("content_base64", sniffed, defect) {
                    errors.push(e);
                }
                PhotoSource::Bytes(bytes, sniffed.unwrap_or("application/octet-stream"))
            }
            (None, Some(id)) => PhotoSource::Upload(self.unused_upload(ctx, id).await?),
            _ => {
                return Err(ServiceError::invalid(
                    "content_base64",
                    "one_of",
                    "send exactly one of content_base64 or upload_id",
                ));
            }
        };
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        // An upload keeps the name it was sent with unless the call gives another.
        let filename = match &source {
            PhotoSource::Upload(u) => filename.or_else(|| u.filename.clone()),
            PhotoSource::Bytes(..) => filename,
        };
        self.attach(ctx, &input.ticket_id, input.kind, filename, source, Action::CloseoutAddPhoto).await
    }

    /// Stores a file (unless it is an upload, already stored) and records it on the ticket in
    /// one audited action. A blob whose row does not commit is removed again.
    pub(crate) async fn attach(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
        kind: domain::case::AttachmentKind,
        filename: Option<String>,
        source: PhotoSource,
        tool: Action,
    ) -> Result<Outcome, ServiceError> {
        // Check access and state before writing anything to the store.
        {
            let case = self.visible_case(ctx, ticket_id).await?;
            Self::require_state(&case, tool)?;
        }
        let id = new_id("att");
        let (stored, sha256, size, content_type, upload_id, fresh_blob) = match source {
            PhotoSource::Bytes(bytes, content_type) => {
                use sha2::Digest;
                let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
                let size = bytes.len() as i64;
                let base = format!("attachments/{}/{id}", ticket_id.trim());
                let stored = self.put_photo(&base, content_type, PhotoBody::Bytes(bytes), "content_base64").await?;
                (stored, sha256, size, content_type.to_string(), None, true)
            }
            PhotoSource::Upload(u) => {
                let stored = StoredPhoto { blob_key: u.blob_key, thumb_key: u.thumb_key, view_key: u.view_key };
                (stored, u.sha256, u.size, u.content_type, Some(u.upload_id), false)
            }
        };
        let key = stored.blob_key.clone();
        let result = async {
            let mut o = self.open(ctx, ticket_id, None).await?;
            Self::require_state(&o.before, tool)?;
            if let Some(upload) = &upload_id {
                if !o.use_upload(upload, &ctx.actor.id).await? {
                    return Err(ServiceError::invalid("upload_id", "unknown_upload", "this upload was already used"));
                }
            }
            o.add_attachment(&NewAttachment {
                id: &id,
                kind,
                sha256: &sha256,
                size,
                content_type: &content_type,
                filename: filename.as_deref(),
                blob_key: &key,
                thumb_key: stored.thumb_key.as_deref(),
                view_key: stored.view_key.as_deref(),
                uploaded_by: &ctx.actor.id,
            });
            let reference = serde_json::json!({"id": id, "sha256": sha256, "size": size, "content_type": content_type});
            let data =
                serde_json::json!({ "attachment_id": id, "sha256": sha256, "size": size, "upload_id": upload_id });
            self.finish(ctx, o, tool, None, data, vec![reference]).await
        }
        .await;
        if result.is_err() && fresh_blob {
            self.forget_blobs(&stored).await;
        }
        result
    }

    /// `closeout.add_note`: a note, or the work summary the closeout needs.
    #[tracing::instrument(name = "closeout.add_note", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn add_note(&self, ctx: &CallContext, input: &AddNote) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::CloseoutAddNote)?;
        let text = input.validate()?;
        let mut o = self.open(ctx, &input.ticket_id, None).await?;
        Self::require_state(&o.before, Action::CloseoutAddNote)?;
        let id = new_id("not");
        o.add_note(&id, input.kind, &text, &ctx.actor.name);
        self.finish(ctx, o, Action::CloseoutAddNote, None, serde_json::json!({ "note_id": id }), vec![]).await
    }

    /// `closeout.checklist_complete`: ticks items; with `finalize`, submits the closeout
    /// (work_performed -> closeout_ready) if every evidence gate is met, else nothing changes.
    #[tracing::instrument(name = "closeout.checklist_complete", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn checklist_complete(
        &self,
        ctx: &CallContext,
        input: &ChecklistComplete,
    ) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::CloseoutChecklistComplete)?;
        input.validate()?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::CloseoutChecklistComplete)?;
        let named = input.items.iter().map(|k| ("items", k)).chain(input.untick.iter().map(|k| ("untick", k)));
        let unknown: Vec<FieldError> = named
            .filter(|(_, k)| !o.before.checklist.iter().any(|i| &i.key == *k))
            .map(|(field, k)| {
                FieldError::new(field, "unknown_item", format!("'{k}' is not on this ticket's checklist"))
            })
            .collect();
        if !unknown.is_empty() {
            return Err(domain::DomainError::Invalid(unknown).into());
        }
        o.tick_checklist(&input.items, &ctx.actor.name);
        o.untick_checklist(&input.untick);
        let to = if input.finalize {
            if o.before.state != CaseState::WorkPerformed {
                return Err(ServiceError::transition(o.before.state, CaseState::CloseoutReady));
            }
            // The evidence as it will be once the items are ticked.
            let mut now_case = o.before.clone();
            for item in now_case.checklist.iter_mut() {
                if input.items.contains(&item.key) {
                    item.done = true;
                } else if input.untick.contains(&item.key) {
                    item.done = false;
                }
            }
            let missing = closeout_missing(&now_case);
            if !missing.is_empty() {
                return Err(ServiceError::CloseoutIncomplete { missing });
            }
            Some(CaseState::CloseoutReady)
        } else {
            None
        };
        self.finish(ctx, o, Action::CloseoutChecklistComplete, to, serde_json::json!({}), vec![]).await
    }

    /// `job.record_labor`: time worked, at the shop rate unless given.
    pub async fn record_labor(&self, ctx: &CallContext, input: &RecordLabor) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::JobRecordLabor)?;
        let description = input.validate()?;
        let rate = input.rate_cents.unwrap_or(self.shop().await.profile.labor_rate_cents);
        let amount = domain::invoice::labor_amount(rate, input.minutes)
            .ok_or_else(|| ServiceError::invalid("minutes", "out_of_range", "amount too large"))?;
        let mut o = self.open(ctx, &input.ticket_id, None).await?;
        Self::require_state(&o.before, Action::JobRecordLabor)?;
        let id = new_id("lab");
        let technician =
            ctx.actor.technician_id.clone().or_else(|| o.before.assignment.as_ref().map(|a| a.technician_id.clone()));
        o.add_labor(&NewLabor {
            id: &id,
            technician_id: technician.as_deref(),
            description: &description,
            minutes: input.minutes,
            rate_cents: rate,
            amount_cents: amount,
        });
        self.finish(ctx, o, Action::JobRecordLabor, None, serde_json::json!({ "labor_id": id }), vec![]).await
    }

    /// `job.record_part`: parts used on the job.
    pub async fn record_part(&self, ctx: &CallContext, input: &RecordPart) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::JobRecordPart)?;
        let description = input.validate()?;
        let amount = domain::invoice::part_amount(input.unit_price_cents, input.quantity)
            .ok_or_else(|| ServiceError::invalid("quantity", "out_of_range", "amount too large"))?;
        let mut o = self.open(ctx, &input.ticket_id, None).await?;
        Self::require_state(&o.before, Action::JobRecordPart)?;
        let id = new_id("prt");
        o.add_part(&NewPart {
            id: &id,
            sku: input.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            description: &description,
            quantity: input.quantity,
            unit_price_cents: input.unit_price_cents,
            amount_cents: amount,
        });
        self.finish(ctx, o, Action::JobRecordPart, None, serde_json::json!({ "part_id": id }), vec![]).await
    }
}
