//! Where the audit signing key is kept, outside the database it vouches for.
//!
//! `RD_AUDIT_KEY` (the 32-byte seed as 64 hex digits) wins; else the key file
//! `RD_AUDIT_KEY_FILE` (default `audit-key` in the data folder), created on first use,
//! readable by its owner only. Keys retired by a rotation stay trusted: their public halves are
//! listed one per line in the trusted-keys file next to the key file (`audit-key.trusted`) and
//! in `RD_AUDIT_TRUSTED_KEYS` (separated by commas or spaces).

use crate::audit_seal::{parse_public_key, AuditKeys, SealKey};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("RD_AUDIT_KEY is set, so the key is rotated where it is kept: see README, Security notes")]
    KeyFromEnv,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.display().to_string(), source }
}

/// Where the key comes from, read from the environment once.
#[derive(Clone)]
pub struct KeySource {
    /// `RD_AUDIT_KEY`: the seed itself (never logged).
    inline: Option<String>,
    pub file: PathBuf,
    /// `RD_AUDIT_TRUSTED_KEYS`.
    trusted_env: Option<String>,
}

/// Never shows the seed itself.
impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("inline", &self.inline.as_ref().map(|_| "<RD_AUDIT_KEY>"))
            .field("file", &self.file)
            .field("trusted_env", &self.trusted_env)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl KeySource {
    pub fn from_env(data_dir: &Path) -> KeySource {
        KeySource {
            inline: env("RD_AUDIT_KEY"),
            file: env("RD_AUDIT_KEY_FILE").map(PathBuf::from).unwrap_or_else(|| data_dir.join("audit-key")),
            trusted_env: env("RD_AUDIT_TRUSTED_KEYS"),
        }
    }

    /// A source that reads and writes only `file` (tests, and callers that configure it).
    pub fn file(file: PathBuf) -> KeySource {
        KeySource { inline: None, file, trusted_env: None }
    }

    /// Whether a signing key is configured or already on disk (loading would not create one).
    pub fn exists(&self) -> bool {
        self.inline.is_some() || self.file.is_file()
    }

    /// The public keys of retired signing keys: `<key file>.trusted`.
    pub fn trusted_file(&self) -> PathBuf {
        let mut name = self.file.clone().into_os_string();
        name.push(".trusted");
        PathBuf::from(name)
    }

    /// The signing key and every trusted key; the key file is created if there is none.
    #[tracing::instrument(name = "audit.key.load", skip_all, fields(file = %self.file.display()))]
    pub fn load_or_create(&self) -> Result<AuditKeys, KeyError> {
        let signer = match &self.inline {
            Some(seed) => SealKey::from_seed_hex(seed)
                .map_err(|e| KeyError::Invalid { what: "RD_AUDIT_KEY".into(), reason: e.to_string() })?,
            None => self.read_or_create_file()?,
        };
        let mut retired = vec![];
        let listed = std::fs::read_to_string(self.trusted_file()).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(String::new()),
            _ => Err(e),
        });
        let listed = listed.map_err(io(&self.trusted_file()))?;
        let from_file = listed.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty());
        let from_env = self.trusted_env.iter().flat_map(|v| v.split(|c: char| c == ',' || c.is_whitespace()));
        for (i, text) in from_file.chain(from_env.filter(|t| !t.is_empty())).enumerate() {
            let key = parse_public_key(text).map_err(|e| KeyError::Invalid {
                what: format!(
                    "trusted audit key #{} ({} or RD_AUDIT_TRUSTED_KEYS)",
                    i + 1,
                    self.trusted_file().display()
                ),
                reason: e.to_string(),
            })?;
            retired.push(key);
        }
        Ok(AuditKeys::new(signer, retired))
    }

    /// Trusts more public keys, such as the keys that signed the checkpoints of an imported
    /// export: those not trusted yet are appended to the trusted-keys file with `note`.
    /// Returns the keys added. Every key is checked before anything is written.
    pub fn trust(&self, keys: &[String], note: &str) -> Result<Vec<String>, KeyError> {
        let mut wanted = vec![];
        for text in keys {
            let key = parse_public_key(text).map_err(|e| KeyError::Invalid {
                what: format!("public key {}", text.trim()),
                reason: e.to_string(),
            })?;
            wanted.push(hex::encode(key.as_bytes()));
        }
        let known = self.load_or_create()?.trusted_hex();
        let mut added: Vec<String> = vec![];
        for key in wanted {
            if !known.contains(&key) && !added.contains(&key) {
                added.push(key);
            }
        }
        if added.is_empty() {
            return Ok(added);
        }
        use std::io::Write;
        let trusted = self.trusted_file();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&trusted).map_err(io(&trusted))?;
        for key in &added {
            writeln!(f, "{key}  # {note}").map_err(io(&trusted))?;
        }
        f.sync_all().map_err(io(&trusted))?;
        tracing::warn!(keys = added.len(), file = %trusted.display(), "audit keys trusted: {note}");
        Ok(added)
    }

    fn read_or_create_file(&self) -> Result<SealKey, KeyError> {
        match read_key_file(&self.file) {
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let key = SealKey::generate();
        match write_key_file(&self.file, &key, false) {
            Ok(()) => {
                tracing::warn!(
                    file = %self.file.display(),
                    public_key = %key.public_hex(),
                    "created a new audit signing key: back it up (README, Security notes)"
                );
                Ok(key)
            }
            // Another process (the worker next to the server) created it first: use theirs.
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                read_key_file(&self.file)
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the key file's key with a new one; the old public key is appended to the
    /// trusted-keys file first, so checkpoints it signed still verify. Returns (old, new)
    /// public keys.
    #[tracing::instrument(name = "audit.key.rotate", skip_all, fields(file = %self.file.display()))]
    pub fn rotate(&self, at_ms: i64) -> Result<(String, String), KeyError> {
        if self.inline.is_some() {
            return Err(KeyError::KeyFromEnv);
        }
        let old = read_key_file(&self.file)?;
        let trusted = self.trusted_file();
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&trusted).map_err(io(&trusted))?;
            writeln!(f, "{}  # retired at unix ms {at_ms}", old.public_hex()).map_err(io(&trusted))?;
            f.sync_all().map_err(io(&trusted))?;
        }
        let new = SealKey::generate();
        write_key_file(&self.file, &new, true)?;
        tracing::warn!(old = %old.public_hex(), new = %new.public_hex(), "audit signing key rotated: back up the new key file");
        Ok((old.public_hex(), new.public_hex()))
    }
}

fn read_key_file(path: &Path) -> Result<SealKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    warn_if_readable_by_others(path);
    let seed = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    SealKey::from_seed_hex(seed)
        .map_err(|e| KeyError::Invalid { what: format!("audit key file {}", path.display()), reason: e.to_string() })
}

/// Writes the key readable by its owner only. A new file is created exclusively (two
/// processes starting together keep one key); a replacement is written aside and renamed over,
/// so a crash leaves the old key or the new one, never half of one.
fn write_key_file(path: &Path, key: &SealKey, replace: bool) -> Result<(), KeyError> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let target = if replace {
        let mut aside = path.to_path_buf().into_os_string();
        aside.push(".new");
        PathBuf::from(aside)
    } else {
        path.to_path_buf()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&target).map_err(io(&target))?;
    let body = format!(
        "# Real Dispatch audit signing key (Ed25519 seed). Secret: back it up, never share it.\n# Public key: {}\n{}\n",
        key.public_hex(),
        key.seed_hex()
    );
    f.write_all(body.as_bytes()).map_err(io(&target))?;
    f.sync_all().map_err(io(&target))?;
    if replace {
        std::fs::rename(&target, path).map_err(io(path))?;
    }
    Ok(())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "the audit key file is readable by others: chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join("real-dispatch-tests").join(crate::ids::new_id("key"));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn the_key_file_is_created_once_owner_only_and_reread() {
        let src = KeySource::file(dir().join("keys").join("audit-key"));
        let first = src.load_or_create().expect("create");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&src.file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = src.load_or_create().expect("read");
        assert_eq!(first.signer().public_hex(), again.signer().public_hex());
        assert_eq!(again.trusted_hex(), vec![first.signer().public_hex()]);
    }

    #[test]
    fn rotation_keeps_the_old_key_trusted() {
        let src = KeySource::file(dir().join("audit-key"));
        let old = src.load_or_create().expect("create");
        let sealed = old.signer().seal(5, &"ab".repeat(32), 1);
        let (was, now) = src.rotate(2).expect("rotate");
        assert_eq!(was, old.signer().public_hex());
        let keys = src.load_or_create().expect("reload");
        assert_eq!(keys.signer().public_hex(), now);
        assert_ne!(now, was);
        assert_eq!(keys.check(&sealed), Ok(()));
    }

    #[test]
    fn trusted_keys_are_added_once_and_checked_first() {
        let src = KeySource::file(dir().join("audit-key"));
        let other = crate::audit_seal::SealKey::generate().public_hex();
        let own = src.load_or_create().expect("create").signer().public_hex();
        assert_eq!(src.trust(&[other.clone(), own, other.clone()], "imported").expect("trust"), vec![other.clone()]);
        assert_eq!(src.trust(std::slice::from_ref(&other), "again").expect("again"), Vec::<String>::new());
        assert!(src.load_or_create().expect("reload").trusted_hex().contains(&other));
        let before = std::fs::read_to_string(src.trusted_file()).expect("file");
        assert!(src.trust(&["not-a-key".into()], "bad").is_err());
        assert_eq!(std::fs::read_to_string(src.trusted_file()).expect("file"), before, "nothing written");
    }

    #[test]
    fn a_damaged_key_file_is_an_error() {
        let src = KeySource::file(dir().join("audit-key"));
        std::fs::write(&src.file, "# nothing here\nnot-hex\n").expect("write");
        assert!(matches!(src.load_or_create(), Err(KeyError::Invalid { .. })));
        let ok = KeySource::file(dir().join("audit-key"));
        ok.load_or_create().expect("create");
        std::fs::write(ok.trusted_file(), "# retired\nnot-a-key\n").expect("write");
        assert!(matches!(ok.load_or_create(), Err(KeyError::Invalid { .. })));
    }
}
