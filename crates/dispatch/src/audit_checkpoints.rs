//! Sealing the audit chain: taking signed checkpoints of its head, and checking them against
//! the events (`audit verify`). Each checkpoint is stored twice, in the database and in the
//! blob store, so removing the rows alone does not erase the evidence.

use crate::audit_seal::{AuditKeys, Checkpoint};
use crate::error::ServiceError;
use crate::service::Service;
use crate::store::{audit, audit_checkpoints};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where checkpoint copies live in the blob store; the seq is zero-padded so keys sort by it.
pub const BLOB_PREFIX: &str = "audit/checkpoints/";

pub fn blob_key(seq: i64) -> String {
    format!("{BLOB_PREFIX}{seq:020}.json")
}

/// What was found of one checkpoint: its database row, its blob copy, and the trail's
/// [mark](audit::fold_mark) after the event at its seq (None when that event is gone).
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub db: Option<Checkpoint>,
    pub blob: Option<Checkpoint>,
    pub mark: Option<String>,
}

/// What the checkpoints say about the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Distinct checkpoints found (database rows and blob copies).
    pub checkpoints: u64,
    /// Checkpoints signed by a trusted key whose seq still holds the hash they signed.
    pub verified: u64,
    pub last_valid: Option<Checkpoint>,
    /// The events between the last valid checkpoint before a failed one and that failed one,
    /// `(first, last)`: the rewrite starts in this range. The lowest such range.
    pub rewritten: Option<(i64, i64)>,
    /// Events after the last valid checkpoint, not sealed yet (not a failure).
    pub unsealed_events: u64,
    pub problems: Vec<String>,
    /// Worth knowing, not a failure.
    pub notes: Vec<String>,
}

/// `audit verify`'s answer: the chain and its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    pub events: u64,
    /// Everything wrong: the chain's problems, then the checkpoints'.
    pub problems: Vec<String>,
    pub seals: SealReport,
}

/// A checkpoint's time for people (RFC 3339, UTC).
pub fn when(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms).map(|t| t.to_string()).unwrap_or_else(|_| format!("unix ms {at_ms}"))
}

/// Judges every checkpoint found against the trusted keys and the events. `events_after(seq)`
/// counts the events after a seq (seqs have gaps where an action rolled back).
pub fn judge(keys: Option<&AuditKeys>, found: &BTreeMap<i64, Found>, events_after: &dyn Fn(i64) -> u64) -> SealReport {
    let mut r = SealReport { checkpoints: found.len() as u64, ..Default::default() };
    let mut valid: Vec<&Checkpoint> = vec![];
    let mut unmatched: Vec<(i64, &Checkpoint, bool)> = vec![];
    let mut without_copy = 0;
    for (seq, f) in found {
        let copies: Vec<(&str, &Checkpoint)> = [("database", f.db.as_ref()), ("blob store", f.blob.as_ref())]
            .into_iter()
            .filter_map(|(w, c)| Some((w, c?)))
            .collect();
        if copies.is_empty() {
            continue;
        }
        match (&f.db, &f.blob) {
            // Still evidence of what the chain was: it counts, and its row's absence is reported.
            (None, Some(_)) => {
                r.problems.push(format!("checkpoint seq {seq}: in the blob store but not in the database (deleted?)"))
            }
            (Some(_), None) => without_copy += 1,
            (Some(d), Some(b)) if d != b => r
                .problems
                .push(format!("checkpoint seq {seq}: the database row differs from its copy in the blob store")),
            _ => {}
        }
        // Only copies a trusted key signed for this seq say anything about the chain.
        let mut sound: Vec<&Checkpoint> = vec![];
        for (place, c) in &copies {
            let checked = match keys {
                Some(keys) => keys.check(c).map_err(|e| e.to_string()),
                None => Err("no audit key is configured to check it with".to_string()),
            };
            let checked = checked.and_then(|()| {
                if c.seq == *seq {
                    Ok(())
                } else {
                    Err(format!("stored under seq {seq} but signed for seq {}", c.seq))
                }
            });
            match checked {
                Ok(()) => sound.push(c),
                Err(e) => r.problems.push(format!("checkpoint seq {seq} ({place}): {e}")),
            }
        }
        let Some(first) = sound.first().copied() else { continue };
        match &f.mark {
            None => {
                r.problems.push(format!("checkpoint seq {seq}: the event seq {seq} it sealed is missing (deleted?)"));
                unmatched.push((*seq, first, true));
            }
            Some(h) if sound.iter().any(|c| c.head_hash != *h) => unmatched.push((*seq, first, false)),
            Some(_) => valid.push(first),
        }
    }
    for (seq, c, missing) in &unmatched {
        let from = valid.iter().rev().find(|v| v.seq < *seq).map_or(1, |v| v.seq + 1);
        if r.rewritten.is_none() {
            r.rewritten = Some((from, *seq));
        }
        if !missing {
            r.problems.push(format!(
                "checkpoint seq {seq} (signed {} by key {}): event seq {seq} no longer has the hash it sealed: \
                 the chain was rewritten after it was sealed; the first event after the last valid checkpoint \
                 that does not match is among seq {from}..={seq}",
                when(c.at_ms),
                c.key_id()
            ));
        }
    }
    if without_copy > 0 {
        r.notes.push(format!("{without_copy} checkpoints have no copy in the blob store"));
    }
    r.verified = valid.len() as u64;
    r.last_valid = valid.last().map(|c| (*c).clone());
    r.unsealed_events = events_after(r.last_valid.as_ref().map_or(0, |c| c.seq));
    r
}

impl Service {
    /// This service with the key that signs checkpoints and the keys whose checkpoints it trusts.
    pub fn with_audit_keys(mut self, keys: AuditKeys) -> Self {
        self.audit_keys = Some(Arc::new(keys));
        self
    }

    pub fn audit_keys(&self) -> Option<&AuditKeys> {
        self.audit_keys.as_deref()
    }

    /// Signs the trail's mark at its newest settled seq, unless a checkpoint already covers
    /// it; returns the new checkpoint. The mark is folded on from the last checkpoint this
    /// instance trusts, reading only the events since.
    #[tracing::instrument(name = "audit.checkpoint", skip_all)]
    pub async fn checkpoint_audit(&self, now_ms: i64) -> Result<Option<Checkpoint>, ServiceError> {
        let keys = self
            .audit_keys()
            .ok_or_else(|| ServiceError::Internal("no audit key is configured: checkpoints cannot be signed".into()))?;
        let pool = self.db.pool();
        let Some(seq) = audit_checkpoints::settled_seq(&self.db, SETTLE_WAIT_MS).await? else { return Ok(None) };
        let last = audit_checkpoints::last(pool).await?;
        if last.as_ref().is_some_and(|c| c.seq >= seq) {
            return Ok(None);
        }
        // A checkpoint this instance cannot vouch for is no base: fold from the first event.
        let (from, mut mark) = match last.filter(|c| keys.check(c).is_ok()) {
            Some(c) => (c.seq, c.head_hash),
            None => (0, audit::GENESIS.to_string()),
        };
        for (_, legacy, hash) in audit_checkpoints::hashes_between(pool, from, seq).await? {
            mark = audit::fold_mark(&mark, &hash, legacy);
        }
        let c = keys.signer().seal(seq, &mark, now_ms);
        if !audit_checkpoints::insert(&self.db, &c).await? {
            return Ok(None);
        }
        // Only the instance whose row went in writes the copy, so row and copy always agree.
        let body = serde_json::to_vec_pretty(&c).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if let Err(e) = self.blobs.put(&blob_key(seq), "application/json", body).await {
            tracing::warn!(seq, error = %e, "audit checkpoint stored without its blob-store copy");
        }
        tracing::info!(seq, key = c.key_id(), "audit checkpoint signed");
        Ok(Some(c))
    }

    /// `audit verify`: re-hashes the whole trail, then checks every checkpoint against the
    /// marks of that same pass.
    #[tracing::instrument(name = "audit.verify", skip_all)]
    pub async fn verify_audit(&self) -> Result<AuditVerification, ServiceError> {
        let pool = self.db.pool();
        let mut found: BTreeMap<i64, Found> = BTreeMap::new();
        for c in audit_checkpoints::all(pool).await? {
            found.insert(c.seq, Found { db: Some(c), ..Default::default() });
        }
        let mut unreadable = vec![];
        for listed in self.blobs.list(BLOB_PREFIX).await? {
            let bytes = self.blobs.get(&listed.key).await?;
            match serde_json::from_slice::<Checkpoint>(&bytes) {
                Ok(c) => {
                    let seq = listed_seq(&listed.key).unwrap_or(c.seq);
                    found.entry(seq).or_default().blob = Some(c);
                }
                Err(e) => unreadable.push(format!("{}: not a checkpoint ({e})", listed.key)),
            }
        }
        let chain = audit::verify_with_marks(pool, &found.keys().copied().collect()).await?;
        for (seq, f) in found.iter_mut() {
            f.mark = chain.marks.get(seq).cloned();
        }
        let mut seals = judge(self.audit_keys(), &found, &|seq| chain.events_after(seq));
        seals.problems.extend(unreadable);
        if seals.checkpoints == 0 && chain.events > 0 {
            seals.notes.push(
                "no checkpoints yet: nothing signed vouches for the chain (`real-dispatch audit checkpoint`)".into(),
            );
        }
        let mut problems = chain.problems;
        problems.extend(seals.problems.iter().cloned());
        Ok(AuditVerification { events: chain.events, problems, seals })
    }
}

/// How long taking a checkpoint may wait for appends in flight before it gives up until the
/// next round (appends wait behind it meanwhile, so it stays short).
const SETTLE_WAIT_MS: u32 = 200;

/// The seq a copy's key names (`audit/checkpoints/000…42.json`): a copy is filed under it.
fn listed_seq(key: &str) -> Option<i64> {
    key.strip_prefix(BLOB_PREFIX)?.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_seal::SealKey;

    fn keys() -> AuditKeys {
        AuditKeys::new(SealKey::from_seed_hex(&"11".repeat(32)).expect("seed"), vec![])
    }

    fn h(n: i64) -> String {
        format!("{n:064x}")
    }

    /// Checkpoints at `seqs`, each stored in both places, over an untouched chain.
    fn sealed(keys: &AuditKeys, seqs: &[i64]) -> BTreeMap<i64, Found> {
        seqs.iter()
            .map(|&s| {
                let c = keys.signer().seal(s, &h(s), 1_000 * s);
                (s, Found { db: Some(c.clone()), blob: Some(c), mark: Some(h(s)) })
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies_and_counts_what_is_not_sealed_yet() {
        let keys = keys();
        let r = judge(Some(&keys), &sealed(&keys, &[3, 7]), &|s| (9 - s).max(0) as u64);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!((r.checkpoints, r.verified, r.unsealed_events), (2, 2, 2));
        assert_eq!(r.last_valid.map(|c| c.seq), Some(7));
        assert_eq!(r.rewritten, None);
    }

    #[test]
    fn a_rewrite_names_the_range_after_the_last_valid_checkpoint() {
        let keys = keys();
        let mut found = sealed(&keys, &[3, 7, 10]);
        // Event 5 rewritten and everything after it re-hashed: 7 and 10 hold other hashes.
        for s in [7, 10] {
            found.get_mut(&s).expect("seq").mark = Some(h(100 + s));
        }
        let r = judge(Some(&keys), &found, &|s| (12 - s).max(0) as u64);
        assert_eq!(r.verified, 1);
        assert_eq!(r.last_valid.map(|c| c.seq), Some(3));
        assert_eq!(r.rewritten, Some((4, 7)));
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems[0].contains("seq 4..=7"), "{:?}", r.problems);
        assert_eq!(r.unsealed_events, 9);
    }

    #[test]
    fn forged_missing_and_deleted_checkpoints_are_problems() {
        let keys = keys();
        let mut found = sealed(&keys, &[2, 4, 6]);
        let stranger = SealKey::generate();
        found.get_mut(&2).expect("seq").db = Some(stranger.seal(2, &h(2), 1));
        found.get_mut(&2).expect("seq").blob = None;
        found.get_mut(&4).expect("seq").db = None;
        found.get_mut(&6).expect("seq").mark = None;
        let r = judge(Some(&keys), &found, &|s| (5 - s).max(0) as u64);
        assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
        assert!(r.problems[0].contains("seq 2") && r.problems[0].contains("not among the trusted"), "{:?}", r.problems);
        assert!(r.problems[1].contains("seq 4") && r.problems[1].contains("not in the database"), "{:?}", r.problems);
        assert!(r.problems[2].contains("event seq 6") && r.problems[2].contains("missing"), "{:?}", r.problems);
        assert_eq!(r.verified, 1);
        assert_eq!(r.rewritten, Some((5, 6)));
    }

    #[test]
    fn a_copy_filed_under_another_seq_is_a_problem() {
        let keys = keys();
        let c = keys.signer().seal(5, &h(5), 1);
        let found = BTreeMap::from([(9, Found { db: None, blob: Some(c), mark: Some(h(5)) })]);
        let r = judge(Some(&keys), &found, &|s| (9 - s).max(0) as u64);
        assert!(r.problems.iter().any(|p| p.contains("signed for seq 5")), "{:?}", r.problems);
        assert_eq!(listed_seq(&blob_key(42)), Some(42));
        assert_eq!(blob_key(42), "audit/checkpoints/00000000000000000042.json");
    }
}
