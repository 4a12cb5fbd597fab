//! Signed checkpoints of the audit chain, without I/O: the bytes a checkpoint signs, signing
//! them, and checking a checkpoint against the public keys an operator trusts.
//!
//! The hash chain proves that events were not edited one by one, but whoever can write to the
//! database can edit an event and re-hash everything after it. A checkpoint pins the chain's
//! head (seq and hash) with an Ed25519 signature by a key the database never holds, so such a
//! rewrite no longer matches the head a checkpoint signed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The first line of every signed payload: a signature over anything else (another program's
/// message, a later format) never reads as a checkpoint.
pub const PAYLOAD_TAG: &str = "real-dispatch audit checkpoint v1";

/// One checkpoint as stored (database row and blob copy): the head it pins, when, the public
/// key that signed it and the signature, both hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub head_hash: String,
    pub at_ms: i64,
    pub public_key: String,
    pub signature: String,
}

impl Checkpoint {
    /// The signed key's first 16 hex digits: enough to tell keys apart in a report.
    pub fn key_id(&self) -> &str {
        self.public_key.get(..16).unwrap_or(&self.public_key)
    }
}

/// The exact bytes a checkpoint signs: a fixed tag and one `name value` line per field, in a
/// fixed order, so the form never depends on a serializer's choices.
pub fn payload(seq: i64, head_hash: &str, at_ms: i64) -> Vec<u8> {
    format!("{PAYLOAD_TAG}\nseq {seq}\nhead {head_hash}\nat_ms {at_ms}\n").into_bytes()
}

/// Why a checkpoint does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("signed by key {0}, which is not among the trusted audit keys")]
    UnknownKey(String),
    #[error("the signature does not match its content (forged or edited)")]
    BadSignature,
}

/// An audit signing key. Its `Debug` shows only the public half.
pub struct SealKey(SigningKey);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SealKey").field(&self.public_hex()).finish()
    }
}

impl SealKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> SealKey {
        use rand_core::RngCore;
        let mut seed = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut seed);
        let key = SealKey(SigningKey::from_bytes(&seed));
        seed.fill(0);
        key
    }

    /// A key from its 32-byte seed written as 64 hex digits.
    pub fn from_seed_hex(text: &str) -> Result<SealKey, SealError> {
        let seed: [u8; 32] = fixed_hex(text.trim(), "audit key")?;
        Ok(SealKey(SigningKey::from_bytes(&seed)))
    }

    /// The seed as 64 hex digits, to be written to the key file.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// Signs the head `(seq, head_hash)` as it was at `at_ms`.
    pub fn seal(&self, seq: i64, head_hash: &str, at_ms: i64) -> Checkpoint {
        let signature = self.0.sign(&payload(seq, head_hash, at_ms));
        Checkpoint {
            seq,
            head_hash: head_hash.to_string(),
            at_ms,
            public_key: self.public_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// A public key from 64 hex digits (as listed in `RD_AUDIT_TRUSTED_KEYS` or the trusted-keys
/// file).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, SealError> {
    let bytes: [u8; 32] = fixed_hex(text.trim(), "public key")?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| SealError::Malformed(format!("'{}' is not an Ed25519 public key", text.trim())))
}

/// The key that signs new checkpoints and every key whose checkpoints are still accepted: the
/// current key's own public half and the public halves of the keys it replaced.
#[derive(Debug)]
pub struct AuditKeys {
    signer: SealKey,
    trusted: Vec<VerifyingKey>,
}

impl AuditKeys {
    pub fn new(signer: SealKey, retired: Vec<VerifyingKey>) -> AuditKeys {
        let mut trusted = vec![signer.public_key()];
        for k in retired {
            if !trusted.contains(&k) {
                trusted.push(k);
            }
        }
        AuditKeys { signer, trusted }
    }

    pub fn signer(&self) -> &SealKey {
        &self.signer
    }

    /// Every trusted public key, the current one first, as hex.
    pub fn trusted_hex(&self) -> Vec<String> {
        self.trusted.iter().map(|k| hex::encode(k.as_bytes())).collect()
    }

    /// Checks that a trusted key signed exactly this checkpoint. Only the listed keys count:
    /// the key named in the checkpoint is just which one to try, since anyone can sign with a
    /// key of their own.
    pub fn check(&self, c: &Checkpoint) -> Result<(), SealError> {
        let named = parse_public_key(&c.public_key)?;
        let key = self.trusted.iter().find(|k| **k == named).ok_or_else(|| SealError::UnknownKey(c.key_id().into()))?;
        let signature = Signature::from_bytes(&fixed_hex(&c.signature, "signature")?);
        // Strict: no second valid signature for the same content, no weak keys.
        key.verify_strict(&payload(c.seq, &c.head_hash, c.at_ms), &signature).map_err(|_| SealError::BadSignature)
    }
}

/// Exactly `N` bytes written as `2N` hex digits.
fn fixed_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], SealError> {
    let bytes = hex::decode(text).map_err(|_| SealError::Malformed(format!("the {what} is not hex")))?;
    bytes.try_into().map_err(|_| SealError::Malformed(format!("the {what} is not {} hex digits", 2 * N)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const HEAD: &str = "5b1c9ac7e9a1d0c0a4a2bb3c95b5b8c6c3c1e2b3a4d5e6f708192a3b4c5d6e7f";

    fn key() -> SealKey {
        SealKey::from_seed_hex(SEED).expect("seed")
    }

    #[test]
    fn the_payload_has_one_fixed_form() {
        assert_eq!(
            String::from_utf8(payload(42, HEAD, 1_700_000_000_123)).expect("utf-8"),
            format!("real-dispatch audit checkpoint v1\nseq 42\nhead {HEAD}\nat_ms 1700000000123\n")
        );
        // A field's digits cannot slide into the next field.
        assert_ne!(payload(1, "2", 3), payload(12, "", 3));
    }

    #[test]
    fn the_key_is_rfc_8032_ed25519() {
        // RFC 8032, section 7.1, test 1: this seed's public key.
        assert_eq!(key().public_hex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert_eq!(key().seed_hex(), SEED);
    }

    #[test]
    fn a_seal_verifies_with_its_key_and_is_deterministic() {
        let keys = AuditKeys::new(key(), vec![]);
        let c = key().seal(7, HEAD, 1_000);
        assert_eq!(keys.check(&c), Ok(()));
        assert_eq!(c, key().seal(7, HEAD, 1_000));
        assert_eq!(c.key_id(), "d75a980182b10ab7");
        let round: Checkpoint = serde_json::from_str(&serde_json::to_string(&c).expect("json")).expect("json");
        assert_eq!(round, c);
    }

    #[test]
    fn any_edit_breaks_the_signature() {
        let keys = AuditKeys::new(key(), vec![]);
        let c = key().seal(7, HEAD, 1_000);
        let edits = [
            Checkpoint { seq: 8, ..c.clone() },
            Checkpoint { at_ms: 1_001, ..c.clone() },
            Checkpoint { head_hash: HEAD.replace('5', "6"), ..c.clone() },
        ];
        for edited in edits {
            assert_eq!(keys.check(&edited), Err(SealError::BadSignature), "{edited:?}");
        }
        let mut sig = hex::decode(&c.signature).expect("hex");
        sig[10] ^= 1;
        assert_eq!(keys.check(&Checkpoint { signature: hex::encode(sig), ..c }), Err(SealError::BadSignature));
    }

    #[test]
    fn only_trusted_keys_count() {
        let keys = AuditKeys::new(key(), vec![]);
        let stranger = SealKey::generate();
        let forged = stranger.seal(7, HEAD, 1_000);
        assert_eq!(keys.check(&forged), Err(SealError::UnknownKey(forged.key_id().into())));
        // Naming the trusted key does not help a signature made with another one.
        let claimed = Checkpoint { public_key: key().public_hex(), ..forged };
        assert_eq!(keys.check(&claimed), Err(SealError::BadSignature));
    }

    #[test]
    fn retired_keys_still_verify_their_checkpoints() {
        let old = SealKey::generate();
        let before_rotation = old.seal(3, HEAD, 500);
        let keys = AuditKeys::new(key(), vec![old.public_key(), key().public_key()]);
        assert_eq!(keys.check(&before_rotation), Ok(()));
        assert_eq!(keys.trusted_hex(), vec![key().public_hex(), old.public_hex()]);
        let retired_hex = old.public_hex();
        assert_eq!(parse_public_key(&format!(" {retired_hex}\n")), Ok(old.public_key()));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(matches!(SealKey::from_seed_hex("abc"), Err(SealError::Malformed(_))));
        assert!(matches!(SealKey::from_seed_hex(&"zz".repeat(32)), Err(SealError::Malformed(_))));
        assert!(matches!(parse_public_key(""), Err(SealError::Malformed(_))));
        let keys = AuditKeys::new(key(), vec![]);
        let c = key().seal(1, HEAD, 1);
        assert!(matches!(
            keys.check(&Checkpoint { signature: "00".into(), ..c.clone() }),
            Err(SealError::Malformed(_))
        ));
        assert!(matches!(keys.check(&Checkpoint { public_key: "xyz".into(), ..c }), Err(SealError::Malformed(_))));
    }
}
