//! The closeout packet: compiled once per request into a PDF in the blob store, recorded with
//! its SHA-256 and manifest in the audit trail, readable by the case's own people, and
//! verifiable later against the trail and the stored files (`real-dispatch packet verify`).

use crate::audit;
use crate::blob::BlobReader;
use crate::error::ServiceError;
use crate::ids::new_id;
use crate::packet_pdf::{self, ManifestEntry, PacketCopy, PacketImage, PacketInput, PacketShop};
use crate::service::{CallContext, Outcome, Service};
use crate::settings::Shop;
use crate::store::packets;
use domain::case::{Attachment, AttachmentKind};
use domain::commands::TicketRef;
use domain::{Action, Case};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

pub const PACKET_ACTION: Action = Action::BillingCompileCloseoutPacket;

/// What `packet verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketCheck {
    pub packet_id: Option<String>,
    pub ticket_id: Option<String>,
    pub sha256: String,
    /// Attachments re-read from the store and found identical.
    pub files_ok: usize,
    pub problems: Vec<String>,
}

impl PacketCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The current packet of a ticket, opened for download.
#[derive(Debug)]
pub struct PacketFile {
    pub packet_id: String,
    pub filename: String,
    pub sha256: String,
    pub reader: BlobReader,
}

fn manifest_of(case: &Case) -> Vec<ManifestEntry> {
    case.attachments
        .iter()
        .map(|a| ManifestEntry {
            id: a.id.clone(),
            kind: a.kind,
            sha256: a.sha256.clone(),
            size: a.size,
            content_type: a.content_type.clone(),
        })
        .collect()
}

fn caption(a: &Attachment, when: &str) -> String {
    let what = match a.kind {
        AttachmentKind::Before => "Before",
        AttachmentKind::After => "After",
        AttachmentKind::Signature => "Customer signature",
        AttachmentKind::Other => "Photo",
    };
    let name = a.filename.as_deref().map(|f| format!(" · {f}")).unwrap_or_default();
    format!("{what} · {when}{name}")
}

/// Width, height and colour components of a JPEG, from its header.
fn jpeg_shape(bytes: &[u8]) -> Option<(u32, u32, u8)> {
    use image::ImageDecoder;
    let d = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes)).ok()?;
    let (w, h) = d.dimensions();
    let components = match d.color_type() {
        image::ColorType::L8 => 1,
        image::ColorType::Rgb8 => 3,
        _ => return None,
    };
    Some((w, h, components))
}

async fn sha256_of(mut reader: BlobReader) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.body.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

impl Service {
    /// The JPEG copies placed in the packet. A photo without a copy (HEIC, or too large to
    /// decode) is listed in the manifest but not pictured.
    async fn packet_images(&self, case: &Case, shop: &Shop) -> Vec<PacketImage> {
        let mut images = vec![];
        for a in &case.attachments {
            let Some(key) = &a.view_key else { continue };
            let bytes = match self.blobs.get(key).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(attachment = %a.id, error = %e, "photo copy unreadable; left out of the packet");
                    continue;
                }
            };
            let Some((width, height, components)) = jpeg_shape(&bytes) else {
                tracing::warn!(attachment = %a.id, "photo copy is not a plain JPEG; left out of the packet");
                continue;
            };
            images.push(PacketImage {
                attachment_id: a.id.clone(),
                kind: a.kind,
                caption: caption(a, &shop.time_label(a.created_at_ms)),
                jpeg: bytes,
                width,
                height,
                components,
            });
        }
        images
    }

    /// The shop's letterhead and terms, with its logo when it has one that reads.
    async fn packet_shop(&self, shop: &Shop) -> PacketShop {
        let p = &shop.profile;
        let logo = match self.shop_logo().await {
            Ok(Some((logo, jpeg))) => match jpeg_shape(&jpeg) {
                Some((width, height, components)) => Some(PacketImage {
                    attachment_id: logo.blob_key,
                    kind: AttachmentKind::Other,
                    caption: String::new(),
                    jpeg,
                    width,
                    height,
                    components,
                }),
                None => None,
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the shop's logo is unreadable; the packet goes without it");
                None
            }
        };
        PacketShop {
            name: p.business_name.clone(),
            address: p.address.clone(),
            phone: p.phone.clone(),
            email: p.email.clone(),
            payment_terms: p.payment_terms.clone(),
            logo,
        }
    }

    /// `billing.compile_closeout_packet`: one PDF of everything the job produced, with a
    /// manifest of every attachment's hash; stored in the blob store, its hash and manifest
    /// written into the audit trail.
    #[tracing::instrument(name = "billing.compile_closeout_packet", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn compile_closeout_packet(&self, ctx: &CallContext, input: &TicketRef) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::BillingCompileCloseoutPacket)?;
        let case = self.case(ctx, &input.ticket_id).await?;
        Self::require_state(&case, Action::BillingCompileCloseoutPacket)?;
        if input.expected_version.is_some_and(|v| v != case.version) {
            return Err(ServiceError::stale());
        }
        let id = new_id("pkt");
        let manifest = manifest_of(&case);
        let shop = self.shop().await;
        let images = self.packet_images(&case, &shop).await;
        let letterhead = self.packet_shop(&shop).await;
        let compiled_by = if ctx.actor.name.is_empty() { ctx.actor.id.clone() } else { ctx.actor.name.clone() };
        let bytes = {
            let (id, case, manifest) = (id.clone(), case.clone(), manifest.clone());
            tokio::task::spawn_blocking(move || {
                let time = |ms: i64| shop.time_label(ms);
                let money = |cents: i64| shop.money(cents);
                packet_pdf::render(&PacketInput {
                    copy: PacketCopy::Customer,
                    packet_id: &id,
                    shop: &letterhead,
                    case: &case,
                    compiled_by: &compiled_by,
                    compiled_at: shop.time_label(crate::ids::now_ms()),
                    images: &images,
                    manifest: &manifest,
                    time: &time,
                    money: &money,
                })
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("packet rendering failed: {e}")))?
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let key = format!("packets/{}/{id}.pdf", case.id);
        let meta = self.blobs.put(&key, "application/pdf", bytes).await?;
        let manifest_json = serde_json::to_value(&manifest).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let result = async {
            let mut o = self.open(ctx, &case.id, Some(case.version)).await?;
            o.add_packet(&id, &key, &sha, meta.size as i64, &manifest_json.to_string());
            let mut refs: Vec<serde_json::Value> = manifest
                .iter()
                .map(|m| serde_json::json!({"id": m.id, "sha256": m.sha256, "size": m.size, "content_type": m.content_type}))
                .collect();
            refs.push(serde_json::json!({"id": id, "sha256": sha, "size": meta.size, "content_type": "application/pdf"}));
            let data = serde_json::json!({
                "packet_id": id,
                "sha256": sha,
                "size": meta.size,
                "attachments": manifest.len(),
                "manifest": manifest_json,
            });
            self.finish(ctx, o, PACKET_ACTION, None, data, refs).await
        }
        .await;
        if result.is_err() {
            let _ = self.blobs.delete(&key).await;
        }
        result
    }

    /// The ticket's current packet PDF, for anyone who may read the case (customers included:
    /// the packet shows only the re-encoded copies of photos).
    #[tracing::instrument(name = "packet.read", skip(self, ctx), fields(actor = %ctx.actor.id))]
    pub async fn packet_file(&self, ctx: &CallContext, ticket_id: &str) -> Result<PacketFile, ServiceError> {
        let case = self.visible_case(ctx, ticket_id).await?;
        let packet = case.packet.ok_or_else(|| {
            ServiceError::invalid("ticket_id", "no_packet", "no closeout packet has been compiled yet")
        })?;
        let reader = self.blobs.open(&packet.blob_key).await?;
        Ok(PacketFile {
            filename: format!("{}-closeout-packet.pdf", case.number),
            packet_id: packet.id,
            sha256: packet.sha256,
            reader,
        })
    }

    /// The staff copy of the ticket's current packet (staff only): the same job, with each
    /// file's SHA-256 and the command that checks a copy. Made on request from the record; the
    /// customer's copy is the one stored and hashed.
    #[tracing::instrument(name = "packet.staff_copy", skip(self, ctx), fields(actor = %ctx.actor.id))]
    pub async fn packet_staff_copy(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
    ) -> Result<(String, Vec<u8>), ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        let case = self.case(ctx, ticket_id).await?;
        let packet = case.packet.clone().ok_or_else(|| {
            ServiceError::invalid("ticket_id", "no_packet", "no closeout packet has been compiled yet")
        })?;
        let shop = self.shop().await;
        let images = self.packet_images(&case, &shop).await;
        let letterhead = self.packet_shop(&shop).await;
        let manifest = manifest_of(&case);
        let filename = format!("{}-closeout-packet-staff.pdf", case.number);
        let bytes = tokio::task::spawn_blocking(move || {
            let time = |ms: i64| shop.time_label(ms);
            let money = |cents: i64| shop.money(cents);
            packet_pdf::render(&PacketInput {
                copy: PacketCopy::Staff,
                packet_id: &packet.id,
                shop: &letterhead,
                case: &case,
                compiled_by: "the office",
                compiled_at: shop.time_label(packet.created_at_ms),
                images: &images,
                manifest: &manifest,
                time: &time,
                money: &money,
            })
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("packet rendering failed: {e}")))?;
        Ok((filename, bytes))
    }

    /// Checks a packet file: its hash against the one the audit trail recorded when it was
    /// compiled (the trail itself is hash-chained), and every attachment in that recorded
    /// manifest against the store, byte for byte.
    #[tracing::instrument(name = "packet.verify", skip_all)]
    pub async fn verify_packet(&self, bytes: &[u8]) -> Result<PacketCheck, ServiceError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let claimed = packet_pdf::packet_id_of(bytes);
        let mut check =
            PacketCheck { packet_id: None, ticket_id: None, sha256: sha.clone(), files_ok: 0, problems: vec![] };
        let row = match (packets::by_sha256(self.db.pool(), &sha).await?, &claimed) {
            (Some(r), _) => Some(r),
            (None, Some(id)) => packets::by_id(self.db.pool(), id).await?,
            (None, None) => None,
        };
        let Some(row) = row else {
            check.packet_id = claimed;
            check.problems.push(match &check.packet_id {
                Some(id) => format!("packet {id} is not on record here"),
                None => "this file is not a closeout packet on record here (no packet has this SHA-256)".into(),
            });
            return Ok(check);
        };
        let (packet_id, ticket_id) = (row.id, row.ticket_id);
        check.packet_id = Some(packet_id.clone());
        check.ticket_id = Some(ticket_id.clone());

        let events = audit::events_for_ticket(self.db.pool(), &ticket_id).await?;
        let event = events.iter().find(|e| {
            e.action == PACKET_ACTION.name()
                && e.detail_json
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .is_some_and(|d| d["packet_id"] == packet_id.as_str())
        });
        let Some(event) = event else {
            check.problems.push(format!("no audit event records the compiling of packet {packet_id}"));
            return Ok(check);
        };
        if event.computed_hash() != event.hash {
            check.problems.push(format!("audit event {} that records the packet was altered", event.id));
        }
        let detail: serde_json::Value =
            serde_json::from_str(event.detail_json.as_deref().unwrap_or("{}")).unwrap_or_default();
        let recorded = detail["sha256"].as_str().unwrap_or_default();
        if recorded != sha {
            check.problems.push(format!(
                "the file's SHA-256 {sha} differs from the {recorded} recorded when packet {packet_id} was compiled: \
                 the file was changed"
            ));
        }
        let manifest: Vec<ManifestEntry> = serde_json::from_value(detail["manifest"].clone()).unwrap_or_default();
        for m in &manifest {
            let key = packets::attachment_blob(self.db.pool(), &m.id).await?;
            let Some(key) = key else {
                check.problems.push(format!("file {} ({:?}) is no longer on record", m.id, m.kind));
                continue;
            };
            let found = match self.blobs.open(&key).await {
                Ok(reader) => sha256_of(reader).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match found {
                Ok((got, size)) if got == m.sha256 && size as i64 == m.size => check.files_ok += 1,
                Ok((got, _)) => check
                    .problems
                    .push(format!("file {} changed in the store: SHA-256 {got}, the packet lists {}", m.id, m.sha256)),
                Err(e) => check.problems.push(format!("file {} could not be read from the store: {e}", m.id)),
            }
        }
        Ok(check)
    }
}
