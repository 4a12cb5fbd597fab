//! `real-dispatch backup` and `restore`, the real binary on both databases: a restored copy
//! passes `audit verify` and `audit replay`; the audit key is never in a backup and a restore
//! without it refuses; a damaged backup and a non-empty target are refused.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

use crate::support::s3_server;

/// The CLI over the data folder `dir` and, when given, a PostgreSQL database.
fn run(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Ran {
    run_with(dir, database_url, &[], args)
}

/// [`run`] with more environment (the S3 settings).
fn run_with(dir: &Path, database_url: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_real-dispatch"));
    cmd.args(args)
        .env("RD_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .env_remove("RD_S3_ENDPOINT")
        .env_remove("RD_AUDIT_KEY")
        .env_remove("RD_AUDIT_KEY_FILE")
        .env_remove("RD_AUDIT_TRUSTED_KEYS")
        .env_remove("RD_BACKUP_DIR");
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the cli");
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cli(dir: &Path, database_url: Option<&str>, args: &[&str]) -> String {
    let ran = run(dir, database_url, args);
    assert!(ran.ok, "{args:?}: {}{}", ran.stdout, ran.stderr);
    ran.stdout
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        if e.path().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// An empty, migrated PostgreSQL database's URL.
async fn fresh_postgres() -> String {
    let db = dispatch::testing::postgres_db().await;
    let url = db.url().to_string();
    db.close().await;
    url
}

#[tokio::test]
async fn a_backup_restores_through_the_command_line_and_verifies() {
    for postgres in [false, true] {
        let (source_url, target_url) =
            if postgres { (Some(fresh_postgres().await), Some(fresh_postgres().await)) } else { (None, None) };
        let (source_url, target_url) = (source_url.as_deref(), target_url.as_deref());
        let source = dispatch::testing::temp_dir();
        cli(&source, source_url, &["seed", "--demo"]);
        cli(&source, source_url, &["audit", "checkpoint"]);
        let backups = dispatch::testing::temp_dir().join("backups");
        let out = cli(&source, source_url, &["backup", "--to", &backups.display().to_string()]);
        assert!(out.contains("backup written to") && out.contains("the audit key is not in the backup"), "{out}");
        let in_backup = files(&backups);
        assert!(in_backup.iter().any(|f| f.ends_with("manifest.json")));
        let key = std::fs::read(source.join("audit-key")).expect("the source's key");
        for f in &in_backup {
            assert!(!f.to_string_lossy().contains("audit-key"), "{}", f.display());
            let bytes = std::fs::read(f).expect("read");
            assert!(!bytes.windows(key.len()).any(|w| w == key.as_slice()), "{} holds the key", f.display());
        }
        let from = backups.display().to_string();

        // Without the audit key the restore refuses, having written nothing.
        let target = dispatch::testing::temp_dir();
        let refused = run(&target, target_url, &["restore", "--from", &from]);
        assert!(!refused.ok && refused.stderr.contains("audit key"), "{}{}", refused.stdout, refused.stderr);
        assert!(!target.join("blobs").exists() || files(&target.join("blobs")).is_empty());

        std::fs::write(target.join("audit-key"), &key).expect("key in place");
        let restored = cli(&target, target_url, &["restore", "--from", &from]);
        assert!(restored.contains("restored in") && restored.contains("audit chain intact"), "{restored}");
        let verify = cli(&target, target_url, &["audit", "verify"]);
        assert!(verify.contains("audit chain intact") && verify.contains("checkpoints: 1 of 1 verified"), "{verify}");
        let replay = cli(&target, target_url, &["audit", "replay"]);
        assert!(replay.contains("replay matches"), "{replay}");
        assert_eq!(
            cli(&target, target_url, &["audit", "verify"]).lines().last(),
            cli(&source, source_url, &["audit", "verify"]).lines().last(),
            "the same chain"
        );

        // Restoring again into the now non-empty target is refused.
        let again = run(&target, target_url, &["restore", "--from", &from]);
        assert!(!again.ok && again.stderr.contains("already holds"), "{}", again.stderr);

        // A changed byte in the backup is refused, naming the file.
        let database_file = in_backup
            .iter()
            .find(|f| f.ends_with("database.sqlite") || f.ends_with("tickets.jsonl"))
            .expect("the database in the backup");
        let mut bytes = std::fs::read(database_file).expect("read");
        let at = bytes.len() / 2;
        bytes[at] ^= 0x20;
        std::fs::write(database_file, bytes).expect("damage");
        let other = dispatch::testing::temp_dir();
        std::fs::write(other.join("audit-key"), &key).expect("key in place");
        let other_url = if postgres { Some(fresh_postgres().await) } else { None };
        let damaged = run(&other, other_url.as_deref(), &["restore", "--from", &from]);
        assert!(!damaged.ok, "{}", damaged.stdout);
        assert!(damaged.stderr.contains("the backup is damaged, nothing was restored"), "{}", damaged.stderr);
        let name = database_file.file_name().expect("name").to_string_lossy().into_owned();
        assert!(damaged.stderr.contains(&name), "{}", damaged.stderr);
    }
}

/// The worker's schedule: a backup when none is recent enough, none while the newest is, and
/// only the newest `keep` are left.
#[tokio::test]
async fn the_worker_backs_up_when_due_and_keeps_the_newest() {
    use real_dispatch::backup_schedule::BackupSchedule;
    let service = dispatch::testing::service(dispatch::testing::sqlite_db().await);
    service.seed_demo().await.expect("demo");
    let config = real_dispatch::config::Config {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database_url: String::new(),
        data_dir: dispatch::testing::temp_dir(),
        site_root: dispatch::testing::temp_dir(),
        s3: None,
    };
    let dir = dispatch::testing::temp_dir().join("scheduled");
    let schedule =
        BackupSchedule { target: dir.display().to_string(), every: std::time::Duration::from_secs(3600), keep: 2 };
    let now = dispatch::ids::now_ms();
    let first = schedule.run_if_due(&service, &config, now).await.expect("first");
    assert!(first.is_some(), "no backup yet: one is made");
    assert_eq!(schedule.run_if_due(&service, &config, now + 60_000).await.expect("second"), None, "not due yet");
    for hours in 1..=3 {
        let later = now + hours * 3_600_000 + 60_000;
        assert!(schedule.run_if_due(&service, &config, later).await.expect("due").is_some());
    }
    let kept = dispatch::backup::list_backups(&dir).expect("list");
    assert_eq!(kept.len(), 2, "{kept:?}");
}

/// Attachments on S3, backups to another bucket on the same server, and back into a new
/// instance whose attachments go to a third bucket.
#[tokio::test]
async fn a_backup_goes_to_s3_and_comes_back_through_the_command_line() {
    let server = s3_server::start_s3().await;
    let s3 = |bucket: &'static str| {
        vec![
            ("RD_S3_ENDPOINT", server.endpoint.clone()),
            ("RD_S3_BUCKET", bucket.to_string()),
            ("AWS_ACCESS_KEY_ID", "rdtest".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "rdtest-secret-key".to_string()),
        ]
    };
    let ok = |dir: &Path, env: &[(&str, String)], args: &[&str]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ran = run_with(dir, None, &env, args);
        assert!(ran.ok, "{args:?}: {}{}", ran.stdout, ran.stderr);
        ran.stdout
    };
    let source = dispatch::testing::temp_dir();
    ok(&source, &s3("files"), &["seed", "--demo"]);
    ok(&source, &s3("files"), &["audit", "checkpoint"]);
    for n in 0..2 {
        let out = ok(&source, &s3("files"), &["backup", "--to", "s3://backups/shop", "--keep", "1"]);
        assert!(out.contains("backup written to s3://backups/shop/backup-"), "{out}");
        assert_eq!(out.contains("removed s3://backups/shop/backup-"), n == 1, "only the newest is kept: {out}");
    }
    assert!(!source.join("backup-staging").exists() || files(&source.join("backup-staging")).is_empty());
    let target = dispatch::testing::temp_dir();
    std::fs::copy(source.join("audit-key"), target.join("audit-key")).expect("key in place");
    let restored = ok(&target, &s3("restored"), &["restore", "--from", "s3://backups/shop"]);
    assert!(restored.contains("restored in") && restored.contains("audit chain intact"), "{restored}");
    assert!(ok(&target, &s3("restored"), &["audit", "verify"]).contains("checkpoints: 1 of 1 verified"));
    assert!(ok(&target, &s3("restored"), &["audit", "replay"]).contains("replay matches"));
}
