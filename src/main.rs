//! `real-dispatch`: the server and its administration commands.

use clap::{Parser, Subcommand};
use domain::Role;
use real_dispatch::config::Config;
use real_dispatch::{server, telemetry, BoxError};
use std::process::ExitCode;

/// Real Dispatch: dispatch and closeout system of record for field-service companies.
///
/// Configuration comes from the environment: RD_BIND, DATABASE_URL, RD_DATA_DIR, RD_SITE_ROOT,
/// RD_S3_ENDPOINT, RD_S3_BUCKET, RD_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, RUST_LOG.
#[derive(Parser)]
#[command(name = "real-dispatch", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and the tool API (the default).
    Serve,
    /// Exit 0 when `url` answers 2xx within 5 s (container health checks; the image has no curl).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:3000/readyz")]
        url: String,
    },
    /// Run follow-up and escalation timers (several workers may run at once).
    Worker {
        /// Seconds between passes.
        #[arg(long, default_value_t = 15)]
        tick_seconds: u64,
        /// Run one pass and exit (for cron or a check).
        #[arg(long)]
        once: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed {
        /// Demo technicians, customers and tickets, and an operator login (new database only).
        #[arg(long)]
        demo: bool,
    },
    /// Manage human accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for agents.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Pause or resume the agents (all, one role, or one ticket), or list the pauses.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Agent calls that wait for a person: list, approve, reject, and the rules that hold them.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// What customers are told: updates that could not be sent, and each kind's switch and words.
    #[command(subcommand)]
    Updates(UpdatesCommand),
    /// The shop's settings (name, contacts, logo, currency, rates, terms, zone, hours): show
    /// them with where each value comes from, or save one (saved values win over RD_* variables).
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Technician profiles (the people jobs are assigned to).
    #[command(subcommand)]
    Technician(TechnicianCommand),
    /// The attachment store.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Back up the database, every file it names and the audit checkpoints into a new folder
    /// `backup-<time>` under --to, while the server keeps serving. The audit key is not
    /// included: keep it apart (README, Backups).
    Backup {
        /// The folder that holds the backups, or s3://bucket/prefix on the configured S3 server.
        #[arg(long)]
        to: String,
        /// Afterwards, remove all but the newest N backups in that folder.
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Restore a backup into an empty database and blob store (the server stopped), then check
    /// the audit chain, every case and every file; exits 2 if any check fails.
    Restore {
        /// A backup folder, or a folder of backups (the newest is restored); or the same on
        /// S3 as s3://bucket/prefix.
        #[arg(long)]
        from: String,
    },
    /// Export everything, or one customer's part, into a new folder in the documented export
    /// format (docs/export-format.md): JSON Lines per kind of record, every file, a manifest.
    Export {
        /// The folder to create (it must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
        /// Only this customer (cus_...): their records, tickets, messages, files and the
        /// audit events of those tickets (a privacy request).
        #[arg(long)]
        customer: Option<String>,
    },
    /// Load data: a whole export into an empty instance (--all --from DIR), or a customer or
    /// technician list (CSV).
    Import(ImportArgs),
    /// Closeout packets.
    #[command(subcommand)]
    Packet(PacketCommand),
    /// The OpenClaw plugin (integrations/openclaw).
    #[command(subcommand)]
    Openclaw(OpenclawCommand),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ImportArgs {
    /// Everything in an export made by `export --to`, into an empty database and blob store
    /// (the server stopped); then the audit chain, every case and every file are checked
    /// (exit code 2 if a check fails).
    #[arg(long, requires = "from")]
    all: bool,
    /// The export's folder.
    #[arg(long, requires = "all")]
    from: Option<std::path::PathBuf>,
    #[command(subcommand)]
    list: Option<ImportList>,
}

#[derive(Subcommand)]
enum ImportList {
    /// A customer list: Jobber's or Housecall Pro's customer export, or name,phone,email,address
    /// (README, Export and import). A customer who has one of a row's phones or e-mails gets
    /// what they lack; anyone else is created. Bad rows are refused with the reason.
    Customers {
        file: std::path::PathBuf,
        /// Plan every row and print the report, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// jobber, housecallpro, simple or auto (told by the header).
        #[arg(long, default_value = "auto")]
        format: String,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A technician list: name,phone,email,skills,zone (skills separated by semicolons).
    Technicians {
        file: std::path::PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum OpenclawCommand {
    /// Write the plugin's tools.json and openclaw.plugin.json from the server's tool types.
    Generate {
        #[arg(long, default_value = "integrations/openclaw")]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum PacketCommand {
    /// Check a closeout packet PDF against the audit trail, and every file it lists against
    /// the store; exits 2 if anything differs.
    Verify {
        /// The packet file (as downloaded from the portal or the console).
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum BlobsCommand {
    /// Remove blobs no row names (left by a crash between file and row) and uploads never
    /// attached. The server also does this every hour.
    Sweep {
        /// Blobs younger than this are kept: their row may be about to commit.
        #[arg(long, default_value_t = 60)]
        grace_minutes: i64,
        /// Uploads not attached within this many hours are removed.
        #[arg(long, default_value_t = 24)]
        upload_ttl_hours: i64,
    },
}

#[derive(Subcommand)]
enum TechnicianCommand {
    /// Create a technician who works the shop's default hours; prints the id.
    Create {
        #[arg(long)]
        name: String,
        /// A trade the technician is qualified for (repeat for several).
        #[arg(long = "skill")]
        skills: Vec<String>,
        #[arg(long)]
        zone: Option<String>,
        /// Works every day around the clock (on-call technicians; load tests), instead of the
        /// default Monday to Friday, 08:00–17:00.
        #[arg(long)]
        all_hours: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from RD_PASSWORD, else prompted for.
    Create {
        #[arg(long)]
        email: String,
        /// admin, operator, technician or customer.
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
        /// For technician accounts: the technician profile (tec_...).
        #[arg(long)]
        technician: Option<String>,
        /// For customer accounts: the customer record (cus_...).
        #[arg(long)]
        customer: Option<String>,
    },
    /// List accounts.
    List,
    /// Disable an account; its sessions end at once.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Set a new password (RD_PASSWORD, else prompted for); the account's sessions end.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, on the last line of stdout.
    Create {
        /// intake_agent, scheduling_agent, tech_liaison_agent, closeout_agent or operator.
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
        /// Its own budget of tool calls per minute in place of RD_TOOL_RATE_PER_MINUTE
        /// (0: unlimited, for load tests and trusted importers).
        #[arg(long)]
        calls_per_minute: Option<u32>,
    },
    /// Revoke a token by its id (tok_...).
    Revoke { id: String },
}

/// Which agents: every one (neither flag), one role, or those on one ticket.
#[derive(clap::Args)]
struct AgentScope {
    /// One agent role: intake_agent, scheduling_agent, tech_liaison_agent or closeout_agent.
    #[arg(long, conflicts_with = "ticket")]
    role: Option<Role>,
    /// One ticket (tkt_...).
    #[arg(long)]
    ticket: Option<String>,
}

impl AgentScope {
    fn scope(&self) -> domain::autonomy::PauseScope {
        use domain::autonomy::PauseScope;
        match (&self.role, &self.ticket) {
            (Some(role), _) => PauseScope::Role { role: *role },
            (None, Some(t)) => PauseScope::Ticket { ticket_id: t.clone() },
            (None, None) => PauseScope::All,
        }
    }
}

#[derive(Subcommand)]
enum AgentsCommand {
    /// Pause: the agents' calls change nothing (409 AUTONOMY_PAUSED) until resumed.
    Pause {
        #[command(flatten)]
        scope: AgentScope,
        /// Why (the agents and the office see it).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume agents paused with the same scope.
    Resume {
        #[command(flatten)]
        scope: AgentScope,
    },
    /// List the pauses in force.
    Status,
}

#[derive(Subcommand)]
enum UpdatesCommand {
    /// Updates given up after every attempt failed (call or text these customers yourself).
    Undelivered,
    /// Show each kind of update, or change one: `--kind on_the_way --enabled false`.
    Rules {
        /// appointment_confirmed, on_the_way, eta_changed, work_done or invoice_ready.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, requires = "kind")]
        enabled: Option<bool>,
        /// The words, with placeholders such as {customer}, {window}, {eta}, {portal_link}.
        #[arg(long, requires = "kind")]
        template: Option<String>,
    },
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Every setting in force, and where it comes from: database (saved), environment or default.
    Show,
    /// Save one setting, e.g. `tax_rate 8.25`, `labor_rate 120`, `working_hours "Mon-Fri 08:00-17:00"`;
    /// or the logo with --logo FILE (JPEG, PNG or WebP), or --remove-logo.
    Set {
        /// business_name, address, phone, email, timezone, currency, tax_rate (percent),
        /// labor_rate (per hour), payment_terms, working_hours, slot_step_minutes or
        /// travel_buffer_minutes.
        #[arg(required_unless_present_any = ["logo", "remove_logo"], conflicts_with_all = ["logo", "remove_logo"])]
        key: Option<String>,
        /// The value, as you would type it in the settings page.
        #[arg(requires = "key", allow_hyphen_values = true)]
        value: Option<String>,
        /// A new logo image.
        #[arg(long, conflicts_with = "remove_logo")]
        logo: Option<std::path::PathBuf>,
        /// No logo any more.
        #[arg(long)]
        remove_logo: bool,
    },
}

#[derive(Subcommand)]
enum ApprovalsCommand {
    /// The calls waiting for a person, then the latest decisions.
    List,
    /// Approve: the call runs once, as the agent asked.
    Approve {
        /// The approval (apr_...).
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject, saying why (the agent is told).
    Reject {
        id: String,
        #[arg(long)]
        note: String,
    },
    /// Show the rules, or change some of them.
    Rules {
        /// Whether every cancel an agent asks for waits.
        #[arg(long)]
        cancel: Option<bool>,
        /// Invoices above this many dollars wait; `none`: never.
        #[arg(long)]
        invoice_above: Option<String>,
        /// Moving an appointment that starts within this many minutes waits; `none`: never.
        #[arg(long)]
        reschedule_within: Option<String>,
        /// Whether anything on a ticket marked VIP or complaint waits.
        #[arg(long)]
        flagged: Option<bool>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-hash the whole chain and check every signed checkpoint against it; exits non-zero if
    /// any event was altered, removed or reordered, or a checkpoint is forged or missing.
    Verify,
    /// Sign the chain's current head now (the server and the worker do it every minute).
    Checkpoint,
    /// Show the public key that signs checkpoints and the retired ones still trusted.
    Keys,
    /// Replace the key file's signing key; the old public key stays trusted.
    RotateKey,
    /// Rebuild every case from its events alone and compare with the stored state.
    Replay,
}

/// What the checkpoints say, after the problems `audit verify` lists.
fn print_seals(s: &dispatch::audit_checkpoints::SealReport) {
    use dispatch::audit_checkpoints::when;
    match &s.last_valid {
        Some(c) => println!(
            "checkpoints: {} of {} verified; last valid: seq {}, signed {} (key {})",
            s.verified,
            s.checkpoints,
            c.seq,
            when(c.at_ms),
            c.key_id()
        ),
        None if s.checkpoints > 0 => println!("checkpoints: none of {} verified", s.checkpoints),
        None => {}
    }
    if let Some((from, to)) = s.rewritten {
        println!("first event after the last valid checkpoint that does not match: one of seq {from}..={to}");
    }
    for n in &s.notes {
        println!("note: {n}");
    }
    if s.unsealed_events > 0 && s.checkpoints > 0 {
        println!("note: {} events after the last valid checkpoint are not signed yet", s.unsealed_events);
    }
}

/// Each runtime thread's stack: 8 MiB, as a process's main thread has (tokio's default is 2).
const WORKER_STACK: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let long_running = matches!(cli.command, None | Some(Command::Serve) | Some(Command::Worker { .. }));
    let telemetry = telemetry::init(long_running);
    // A request's future is polled on a worker's stack; an unoptimised build (`make run`'s
    // default) needs several times the stack of a release one for the same request.
    let runtime = match tokio::runtime::Builder::new_multi_thread().thread_stack_size(WORKER_STACK).enable_all().build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    };
    drop(runtime);
    telemetry.shutdown();
    code
}

async fn run(cli: Cli) -> Result<ExitCode, BoxError> {
    let config = Config::from_env()?;
    tracing::debug!(?config, "configuration");
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::serve(config).await?,
        Command::Healthcheck { url } => {
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
            match client.get(&url).send().await {
                Ok(res) if res.status().is_success() => println!("{url}: {}", res.status()),
                Ok(res) => return Err(format!("{url}: {}", res.status()).into()),
                Err(e) => return Err(format!("{url}: {e}").into()),
            }
        }
        Command::Worker { tick_seconds, once } => {
            let rules = dispatch::followups::FollowupRules::from_env()?;
            let hook = real_dispatch::worker::Hook::from_env()?;
            let backups = real_dispatch::backup_schedule::BackupSchedule::from_env()?;
            if hook.is_none() {
                tracing::warn!("RD_OPENCLAW_HOOK_URL is not set: follow-ups are audited but nobody is told");
            }
            let service = server::open_service(&config).await?;
            if once {
                let worker = format!("worker:{}:once", std::process::id());
                let r = real_dispatch::worker::pass(&service, &rules, hook.as_ref(), &worker, dispatch::ids::now_ms())
                    .await?;
                println!(
                    "planned {}, claimed {}, fired {}, dropped {}, retrying {}, given up {}, held {}; updates sent {}, failed {}",
                    r.planned, r.claimed, r.fired, r.dropped, r.retried, r.failed, r.held, r.updates_sent, r.updates_failed
                );
            } else {
                let tick = std::time::Duration::from_secs(tick_seconds.max(1));
                let backups = backups.map(|b| (b, config.clone()));
                real_dispatch::worker::run(service, rules, hook, tick, backups, server::shutdown_signal()).await;
            }
        }
        Command::Migrate => {
            server::open_service(&config).await?;
            println!("database is up to date");
        }
        Command::Seed { demo } => {
            if !demo {
                return Err("nothing to seed: pass --demo".into());
            }
            let service = server::open_service(&config).await?;
            let report = service.seed_demo().await?;
            match report.operator {
                Some((email, password)) => {
                    println!("Seeded {} demo tickets.", report.tickets);
                    println!("Operator login (shown once): {email} / {password}");
                }
                None => println!("Database already has data; demo not seeded."),
            }
        }
        Command::User(cmd) => {
            let service = server::open_service(&config).await?;
            let admin = dispatch::CallContext::new(domain::Actor::system("cli"));
            let password_for = |email: &str| -> Result<String, BoxError> {
                match std::env::var("RD_PASSWORD") {
                    Ok(p) if !p.is_empty() => Ok(p),
                    _ => Ok(rpassword::prompt_password(format!("Password for {email}: "))?),
                }
            };
            match cmd {
                UserCommand::Create { email, role, name, technician, customer } => {
                    let input = dispatch::users::NewUser {
                        password: password_for(&email)?,
                        email,
                        name,
                        role: Some(role),
                        technician_id: technician,
                        customer_id: customer,
                    };
                    let u = service.create_user(&admin, &input).await?;
                    println!("created user {} ({}, {})", u.id, u.email, u.role);
                }
                UserCommand::List => {
                    for u in service.users(&admin).await? {
                        let state = if u.disabled { "disabled" } else { "active" };
                        println!("{}  {:<32} {:<11} {:<8} {}", u.id, u.email, u.role, state, u.name);
                    }
                }
                UserCommand::Disable { email } => {
                    let u = service.user_by_email(&admin, &email).await?;
                    service.set_user_disabled(&admin, &u.id, true).await?;
                    println!("disabled {email}; its sessions have ended");
                }
                UserCommand::Enable { email } => {
                    let u = service.user_by_email(&admin, &email).await?;
                    service.set_user_disabled(&admin, &u.id, false).await?;
                    println!("enabled {email}");
                }
                UserCommand::ResetPassword { email } => {
                    let u = service.user_by_email(&admin, &email).await?;
                    service.reset_password(&admin, &u.id, &password_for(&email)?).await?;
                    println!("password of {email} replaced; its sessions have ended");
                }
            }
        }
        Command::Technician(TechnicianCommand::Create { name, skills, zone, all_hours }) => {
            let service = server::open_service(&config).await?;
            let admin = dispatch::CallContext::new(domain::Actor::system("cli"));
            let input = dispatch::scheduling::NewTechnician {
                name,
                phone: None,
                email: None,
                skills,
                zone,
                working_hours: all_hours.then(|| domain::window::WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]))),
            };
            let t = service.create_technician(&admin, &input).await?;
            println!("{}", t.id);
        }
        Command::Token(TokenCommand::Create { role, name, calls_per_minute }) => {
            let service = server::open_service(&config).await?;
            let token = service.create_token_with_budget(role, &name, calls_per_minute).await?;
            println!("created token {} for role {role}; store it now, it is not shown again:", token.id);
            println!("{}", token.token);
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            let service = server::open_service(&config).await?;
            if !service.revoke_token(&id).await? {
                return Err(format!("no active token {id}").into());
            }
            println!("revoked {id}");
        }
        Command::Agents(cmd) => {
            let service = server::open_service(&config).await?;
            let ctx = dispatch::CallContext::new(domain::Actor::system("cli"));
            match cmd {
                AgentsCommand::Pause { scope, reason } => {
                    let input = domain::autonomy::AutonomyChange::new(&scope.scope(), reason.as_deref());
                    let p = service.pause_agents(&ctx, &input).await?;
                    println!("paused {}{}", p.scope, p.reason.map(|r| format!(": {r}")).unwrap_or_default());
                }
                AgentsCommand::Resume { scope } => {
                    let input = domain::autonomy::AutonomyChange::new(&scope.scope(), None);
                    let p = service.resume_agents(&ctx, &input).await?;
                    println!("resumed {}", p.scope);
                }
                AgentsCommand::Status => {
                    let pauses = service.pauses(&ctx).await?;
                    if pauses.is_empty() {
                        println!("agents are running: nothing is paused");
                    }
                    for p in pauses {
                        println!(
                            "paused {} by {}{}",
                            p.scope,
                            p.paused_by,
                            p.reason.map(|r| format!(": {r}")).unwrap_or_default()
                        );
                    }
                }
            }
        }
        Command::Updates(cmd) => {
            let service = server::open_service(&config).await?;
            let ctx = dispatch::CallContext::new(domain::Actor::system("cli"));
            updates_command(&service, &ctx, cmd).await?;
        }
        Command::Settings(cmd) => {
            let service = server::open_service(&config).await?;
            let ctx = dispatch::CallContext::new(domain::Actor::system("cli"));
            settings_command(&service, &ctx, cmd).await?;
        }
        Command::Approvals(cmd) => {
            let service = server::open_service(&config).await?;
            let ctx = dispatch::CallContext::new(domain::Actor::system("cli"));
            approvals_command(&service, &ctx, cmd).await?;
        }
        Command::Audit(AuditCommand::Verify) => {
            let service = server::open_service(&config).await?;
            let v = service.verify_audit().await?;
            for p in &v.problems {
                println!("TAMPERED: {p}");
            }
            print_seals(&v.seals);
            if v.problems.is_empty() {
                println!("audit chain intact: {} events", v.events);
            } else {
                println!("audit chain broken: {} problems in {} events", v.problems.len(), v.events);
                return Ok(ExitCode::from(2));
            }
        }
        Command::Audit(AuditCommand::Checkpoint) => {
            let service = server::open_service(&config).await?;
            match service.checkpoint_audit(dispatch::ids::now_ms()).await? {
                Some(c) => println!("checkpoint signed: seq {} head {} (key {})", c.seq, c.head_hash, c.key_id()),
                None => println!("nothing to sign: the last checkpoint already covers the newest event"),
            }
        }
        Command::Audit(AuditCommand::Keys) => {
            let service = server::open_service(&config).await?;
            let keys = service.audit_keys().ok_or("no audit key is configured")?;
            for (i, k) in keys.trusted_hex().iter().enumerate() {
                println!("{}  {k}", if i == 0 { "signing" } else { "retired" });
            }
        }
        Command::Audit(AuditCommand::RotateKey) => {
            let source = dispatch::audit_key::KeySource::from_env(&config.data_dir);
            let (old, new) = source.rotate(dispatch::ids::now_ms())?;
            println!("audit key rotated: {new} signs from now on");
            println!("{old} stays trusted (listed in {})", source.trusted_file().display());
            println!("back up {} again, then restart the server and the worker", source.file.display());
            let service = server::open_service(&config).await?;
            if let Some(c) = service.checkpoint_audit(dispatch::ids::now_ms()).await? {
                println!("checkpoint signed with the new key: seq {}", c.seq);
            }
        }
        Command::Blobs(BlobsCommand::Sweep { grace_minutes, upload_ttl_hours }) => {
            let service = server::open_service(&config).await?;
            let r = service
                .sweep_blobs(
                    dispatch::ids::now_ms(),
                    grace_minutes.max(0) * 60_000,
                    upload_ttl_hours.max(0) * 3_600_000,
                )
                .await?;
            println!(
                "swept {} blobs: {} orphans removed, {} orphans younger than {grace_minutes} min kept, {} unused uploads expired, {} orphan spool files removed",
                r.scanned, r.orphans_removed, r.orphans_too_young, r.uploads_expired, r.spool_removed
            );
        }
        Command::Backup { to, keep } => {
            let service = server::open_service(&config).await?;
            let place = real_dispatch::backups::Place::parse(&config, &to).await?;
            let started = std::time::Instant::now();
            let (dest, m) = place.backup(&service, &config).await?;
            println!(
                "backup written to {dest} in {:.1} s: {} rows in {} tables, {} files ({} bytes), audit head seq {}, {} checkpoints",
                started.elapsed().as_secs_f64(),
                m.tables.values().sum::<i64>(),
                m.tables.len(),
                m.blob_count(),
                m.bytes(),
                m.audit_head.seq,
                m.checkpoints
            );
            if let Some(keep) = keep {
                for old in place.prune(keep).await? {
                    println!("removed {old}");
                }
            }
            let key = dispatch::audit_key::KeySource::from_env(&config.data_dir);
            println!(
                "the audit key is not in the backup: keep a copy of {} (or RD_AUDIT_KEY) apart from it",
                key.file.display()
            );
        }
        Command::Restore { from } => return restore(&config, &from).await,
        Command::Export { to, customer } => {
            let service = server::open_service(&config).await?;
            let ctx = dispatch::CallContext::new(domain::Actor::system("cli"));
            let scope = match customer {
                Some(customer_id) => dispatch::export::ExportScope::Customer { customer_id },
                None => dispatch::export::ExportScope::All,
            };
            let started = std::time::Instant::now();
            let m = service.export(&ctx, &to, &scope).await?;
            println!(
                "exported to {} in {:.1} s: {} records in {} files, {} stored files ({} bytes in all), audit head seq {}",
                to.display(),
                started.elapsed().as_secs_f64(),
                m.rows(),
                m.records.len(),
                m.stored_files().count(),
                m.bytes(),
                m.source.audit_head.seq
            );
        }
        Command::Import(args) => return import(&config, args).await,
        Command::Openclaw(OpenclawCommand::Generate { dir }) => {
            for path in
                real_dispatch::openclaw::write(&dir).map_err(|e| format!("cannot write into {}: {e}", dir.display()))?
            {
                println!("wrote {path}");
            }
        }
        Command::Packet(PacketCommand::Verify { file }) => {
            let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let service = server::open_service(&config).await?;
            let check = service.verify_packet(&bytes).await?;
            let name = check.packet_id.as_deref().unwrap_or("(unknown packet)");
            for p in &check.problems {
                println!("FAILED: {p}");
            }
            if check.ok() {
                println!(
                    "packet {name} verified: SHA-256 {} matches the audit trail; {} files match the manifest",
                    check.sha256, check.files_ok
                );
            } else {
                println!("packet {name} NOT verified: {} problems", check.problems.len());
                return Ok(ExitCode::from(2));
            }
        }
        Command::Audit(AuditCommand::Replay) => {
            let service = server::open_service(&config).await?;
            let r = service.replay().await?;
            for m in &r.mismatches {
                println!("MISMATCH: {m}");
            }
            if r.mismatches.is_empty() {
                println!("replay matches: {} cases rebuilt from {} events", r.cases, r.events);
            } else {
                println!("replay differs: {} problems across {} cases", r.mismatches.len(), r.cases);
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `restore`: checks the backup, refuses without the audit key its checkpoints need, restores
/// into the configured database and blob store, and checks the result.
async fn restore(config: &Config, from: &str) -> Result<ExitCode, BoxError> {
    let started = std::time::Instant::now();
    let place = real_dispatch::backups::Place::parse(config, from).await?;
    // For a bucket, the staging folder holding the download lives until the restore is done.
    let (dir, _staging) = place.fetch(config).await?;
    println!("checking {from}: {}", dir.display());
    let manifest = dispatch::backup::check_backup(&dir).await?;
    let key = dispatch::audit_key::KeySource::from_env(&config.data_dir);
    let trusted = std::env::var("RD_AUDIT_TRUSTED_KEYS").is_ok_and(|v| !v.trim().is_empty());
    if manifest.checkpoints > 0 && !key.exists() && !trusted {
        return Err(format!(
            "the backup has {} signed audit checkpoints, and no audit key is configured to check them: put the \
             key file that signed them at {} (or set RD_AUDIT_KEY) first; backups never contain it. If it is lost, \
             list its public key in RD_AUDIT_TRUSTED_KEYS (a new key is then made)",
            manifest.checkpoints,
            key.file.display()
        )
        .into());
    }
    let blobs = server::open_blobs(config).await?;
    let restored = dispatch::backup::restore_checked(&dir, manifest, &config.database_url, blobs.as_ref()).await?;
    let manifest = restored.manifest;
    let service = server::service_over(config, restored.db, blobs)?;
    let check = service.check_restore(&manifest).await?;
    for p in &check.problems {
        println!("FAILED: {p}");
    }
    if !check.problems.is_empty() {
        println!("restored, but {} checks failed", check.problems.len());
        return Ok(ExitCode::from(2));
    }
    println!(
        "restored in {:.1} s: {} rows, {} files; audit chain intact ({} events, head seq {}), {} cases replay, {} file hashes match",
        started.elapsed().as_secs_f64(),
        manifest.tables.values().sum::<i64>(),
        restored.blobs,
        check.events,
        manifest.audit_head.seq,
        check.cases,
        check.files_checked
    );
    Ok(ExitCode::SUCCESS)
}

/// `import`: a whole export (`--all --from`), or a customer or technician list.
async fn import(config: &Config, args: ImportArgs) -> Result<ExitCode, BoxError> {
    let (file, dry_run, json, format, customers) = match (args.all, args.from, args.list) {
        (true, Some(from), None) => return import_export(config, &from).await,
        (_, _, Some(ImportList::Customers { file, dry_run, format, json })) => (file, dry_run, json, format, true),
        (_, _, Some(ImportList::Technicians { file, dry_run, json })) => (file, dry_run, json, String::new(), false),
        _ => return Err("say what to import: --all --from DIR, customers FILE.csv or technicians FILE.csv".into()),
    };
    let text = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let text = String::from_utf8(text)
        .map_err(|_| format!("{} is not UTF-8 text: save it from the spreadsheet as CSV UTF-8", file.display()))?;
    let service = server::open_service(config).await?;
    let ctx = dispatch::CallContext::new(domain::Actor::system("cli"));
    let report = if customers {
        let format = match format.as_str() {
            "auto" => None,
            named => Some(named.parse::<domain::import_map::ListFormat>()?),
        };
        service.import_customers(&ctx, &text, format, dry_run).await?
    } else {
        service.import_technicians(&ctx, &text, dry_run).await?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

/// `import --all`: checks the export, loads it into the configured (empty) database and blob
/// store, trusts the keys that signed its checkpoints, and proves the result.
async fn import_export(config: &Config, from: &std::path::Path) -> Result<ExitCode, BoxError> {
    let started = std::time::Instant::now();
    println!("checking {}", from.display());
    let manifest = dispatch::import::check_export(from).await?;
    let keys = dispatch::import::signing_keys(from).await?;
    for k in &keys {
        dispatch::audit_seal::parse_public_key(k).map_err(|e| format!("audit_keys.jsonl: {e}"))?;
    }
    let blobs = server::open_blobs(config).await?;
    let imported = dispatch::import::import_all(from, manifest, &config.database_url, blobs.as_ref()).await?;
    let source = dispatch::audit_key::KeySource::from_env(&config.data_dir);
    let note = format!("signed checkpoints of an export imported at unix ms {}", dispatch::ids::now_ms());
    for k in source.trust(&keys, &note)? {
        println!(
            "trusting the exporting instance's audit key {k} (added to {}): compare it with `audit keys` there",
            source.trusted_file().display()
        );
    }
    let service = server::service_over(config, imported.db.clone(), blobs)?;
    let check = service.check_import(&imported.manifest).await?;
    for p in &check.problems {
        println!("FAILED: {p}");
    }
    if !check.problems.is_empty() {
        println!("imported, but {} checks failed", check.problems.len());
        return Ok(ExitCode::from(2));
    }
    service.record_import(&dispatch::CallContext::new(domain::Actor::system("cli")), &imported).await?;
    println!(
        "imported in {:.1} s: {} records, {} files; audit chain intact ({} events, {} checkpoints verified), {} cases replay, {} file hashes match",
        started.elapsed().as_secs_f64(),
        imported.rows,
        imported.files,
        check.events,
        check.checkpoints_verified,
        check.cases,
        check.files_checked
    );
    println!("accounts came without passwords: set them with `real-dispatch user reset-password --email …`");
    Ok(ExitCode::SUCCESS)
}

async fn approvals_command(
    service: &dispatch::Service,
    ctx: &dispatch::CallContext,
    cmd: ApprovalsCommand,
) -> Result<(), BoxError> {
    use domain::approval::{Approval, ApprovalDecision};
    let show = |a: &Approval| {
        let note = a.decision_note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        format!("{} {} {} on {}: {}{} [{}]", a.id, a.status, a.action, a.ticket_id, a.reason, note, a.requested_role)
    };
    match cmd {
        ApprovalsCommand::List => {
            let queue = service.approvals(ctx).await?;
            if queue.is_empty() {
                println!("nothing waits for a person");
            }
            for q in queue {
                println!("{} · {} · {}", show(&q.approval), q.ticket_number, q.customer_name);
            }
        }
        ApprovalsCommand::Approve { id, note } => {
            let a = service.approve(ctx, &ApprovalDecision { approval_id: id, note }).await?;
            println!("{}", show(&a));
            if a.status == domain::approval::ApprovalStatus::Failed {
                return Err("approved, but the call could not run".into());
            }
        }
        ApprovalsCommand::Reject { id, note } => {
            let a = service.reject(ctx, &ApprovalDecision { approval_id: id, note: Some(note) }).await?;
            println!("{}", show(&a));
        }
        ApprovalsCommand::Rules { cancel, invoice_above, reschedule_within, flagged } => {
            let mut p = service.approval_rules(ctx).await?;
            let changing =
                cancel.is_some() || invoice_above.is_some() || reschedule_within.is_some() || flagged.is_some();
            if let Some(c) = cancel {
                p.cancel = c;
            }
            if let Some(f) = flagged {
                p.flagged_tickets = f;
            }
            if let Some(raw) = invoice_above {
                p.invoice_above_cents = match raw.as_str() {
                    "none" => None,
                    r => Some(domain::money::Money::parse("invoice_above", r).map_err(|e| e.message)?.cents()),
                };
            }
            if let Some(raw) = reschedule_within {
                p.reschedule_within_minutes = match raw.as_str() {
                    "none" => None,
                    r => Some(r.parse().map_err(|_| "reschedule-within: minutes, or none")?),
                };
            }
            if changing {
                p = service.set_gate_policy(ctx, &p).await?;
            }
            let money =
                |c: Option<i64>| c.map(|c| domain::money::Money(c).to_string()).unwrap_or_else(|| "never".into());
            println!("agent cancels wait: {}", if p.cancel { "yes" } else { "no" });
            println!("invoices above: {}", money(p.invoice_above_cents));
            println!(
                "moves of appointments starting within: {}",
                p.reschedule_within_minutes.map(|m| format!("{m} min")).unwrap_or_else(|| "never".into())
            );
            println!("anything on VIP/complaint tickets: {}", if p.flagged_tickets { "yes" } else { "no" });
        }
    }
    Ok(())
}

async fn settings_command(
    service: &dispatch::Service,
    ctx: &dispatch::CallContext,
    cmd: SettingsCommand,
) -> Result<(), BoxError> {
    use domain::shop_profile::{LogoChange, ShopKey, ShopSettingsChange};
    let view = match cmd {
        SettingsCommand::Show => service.shop_settings(ctx).await?,
        SettingsCommand::Set { key, value, logo, remove_logo } => {
            let mut change = ShopSettingsChange::default();
            if let Some(path) = logo {
                use base64::Engine;
                let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let filename = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let content_base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                change.logo = Some(LogoChange::Set { content_base64, filename });
            } else if remove_logo {
                change.logo = Some(LogoChange::Remove);
            } else if let Some(key) = key {
                let key: ShopKey = key.parse().map_err(|e: domain::FieldError| e.message)?;
                let value = value.ok_or_else(|| format!("give the value of {key}"))?;
                change.set_text(key, &value).map_err(|e| format!("{key}: {}", e.message))?;
            }
            service.set_shop_settings(ctx, &change).await?
        }
    };
    for e in &view.entries {
        let origin = match (e.source, e.key.env()) {
            (domain::shop_profile::Source::Database, _) => format!(
                "database, saved by {} {}",
                e.updated_by.as_deref().unwrap_or("?"),
                e.updated_at_ms.map(dispatch::audit_checkpoints::when).unwrap_or_default()
            ),
            (domain::shop_profile::Source::Environment, Some(var)) => format!("environment, {var}"),
            (domain::shop_profile::Source::Environment, None) => "environment".into(),
            (domain::shop_profile::Source::Default, Some(var)) => format!("default ({var} not set)"),
            (domain::shop_profile::Source::Default, None) => "default".into(),
        };
        let text = if e.text.is_empty() { "(none)".to_string() } else { e.text.replace('\n', ", ") };
        println!("{:<22} {text}  [{origin}]", e.key.as_str());
    }
    Ok(())
}

async fn updates_command(
    service: &dispatch::Service,
    ctx: &dispatch::CallContext,
    cmd: UpdatesCommand,
) -> Result<(), BoxError> {
    match cmd {
        UpdatesCommand::Undelivered => {
            let dead = service.undelivered_updates(ctx).await?;
            if dead.is_empty() {
                println!("every update reached its customer or is on its way");
            }
            for u in dead {
                println!(
                    "{} {} on {} to {}: {} ({} attempts: {})",
                    u.id,
                    u.kind,
                    u.ticket_id,
                    u.to.unwrap_or_default(),
                    u.body,
                    u.attempts,
                    u.last_error.unwrap_or_default()
                );
            }
        }
        UpdatesCommand::Rules { kind, enabled, template } => {
            let mut settings = service.update_rules(ctx).await?;
            if let Some(kind) = kind {
                let kind: domain::updates::UpdateKind =
                    kind.parse().map_err(|()| format!("unknown kind {kind}: appointment_confirmed, on_the_way, eta_changed, work_done or invoice_ready"))?;
                let mut rule = settings.rule(kind);
                if let Some(e) = enabled {
                    rule.enabled = e;
                }
                if let Some(t) = template {
                    rule.template = t;
                }
                settings.rules.retain(|r| r.kind != kind);
                settings.rules.push(rule);
                settings = service.set_update_settings(ctx, &settings).await?;
            }
            for kind in domain::updates::UpdateKind::ALL {
                let r = settings.rule(kind);
                println!("{} [{}]: {}", kind, if r.enabled { "on" } else { "off" }, r.template);
            }
        }
    }
    Ok(())
}
