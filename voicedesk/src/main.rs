//! `voicedesk`: the whole service on one machine — signaling, media relay and store.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use voicedesk_media_relay::{RelayConfig, RelayTimeouts};
use voicedesk_signaling::ServerConfig;
use voicedesk_signaling::ice::{TurnConfig, TurnSecret};
use voicedesk_signaling::tls::TlsFiles;
mod user_cmd;

use voicedesk_signaling::demo::{
    DEMO_ACCOUNTS, DEMO_PASSWORD, ensure_bench_agents, ensure_demo_accounts,
};

/// The voice-consultation service of the online social-insurance service hall.
#[derive(Debug, Parser)]
#[command(name = "voicedesk", version)]
struct Args {
    /// HTTP and WebSocket address.
    #[arg(long, env = "VOICEDESK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Log lines as readable text or as one JSON object per line (for log collectors).
    #[arg(long, env = "VOICEDESK_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    /// The one UDP port all media uses.
    #[arg(long, env = "VOICEDESK_MEDIA_LISTEN", default_value = "127.0.0.1:7900")]
    media_listen: SocketAddr,
    /// The address written into ICE candidates (the address browsers can reach the media
    /// port at). Defaults to the media listen address, or 127.0.0.1 when that is 0.0.0.0.
    #[arg(long, env = "VOICEDESK_PUBLIC_IP")]
    public_ip: Option<IpAddr>,
    /// Where the SQLite database lives (when no --database-url is given).
    #[arg(long, env = "VOICEDESK_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; a Postgres URL switches the store to Postgres.
    #[arg(long, env = "VOICEDESK_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Create demo accounts and print them at start.
    #[arg(long, env = "VOICEDESK_DEMO")]
    demo: bool,
    /// Also create this many `bench-agent-<n>` accounts (password "demo") for load tests.
    #[arg(long, env = "VOICEDESK_BENCH_AGENTS", default_value_t = 0)]
    bench_agents: usize,
    /// Extra origins allowed to open the WebSocket (comma-separated), e.g. behind a proxy.
    #[arg(long, env = "VOICEDESK_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// Seconds an offer rings at an agent before it moves on.
    #[arg(long, env = "VOICEDESK_RING_TIMEOUT_SECS", default_value_t = 15)]
    ring_timeout_secs: u64,
    /// Seconds without any packet from a connected participant before the leg is ended.
    #[arg(long, env = "VOICEDESK_MEDIA_SILENCE_SECS", default_value_t = 15)]
    media_silence_secs: u64,
    /// A call answered within this many seconds counts toward the wallboard's service level.
    #[arg(long, env = "VOICEDESK_SERVICE_LEVEL_SECONDS", default_value_t = 20)]
    service_level_seconds: u32,
    /// The share of calls (percent) to answer within the service-level time, for queues
    /// without a target of their own.
    #[arg(long, env = "VOICEDESK_SERVICE_LEVEL_TARGET_PCT", default_value_t = 80,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    service_level_target_pct: u32,
    /// The hall's local time offset from UTC in minutes, for "today" on the wallboard.
    #[arg(
        long,
        env = "VOICEDESK_UTC_OFFSET_MINUTES",
        default_value_t = 480,
        allow_negative_numbers = true
    )]
    utc_offset_minutes: i32,
    /// Seconds of after-call work (wrap-up) after every answered call; 0 = available at once.
    #[arg(long, env = "VOICEDESK_AFTER_CALL_WORK_SECS", default_value_t = 30)]
    after_call_work_secs: u64,
    /// Consecutive unanswered offers after which an agent is set away ("missed_calls").
    #[arg(long, env = "VOICEDESK_MAX_MISSED_OFFERS", default_value_t = 2)]
    max_missed_offers: u32,
    /// Seconds a queued citizen whose page reloaded or whose connection dropped keeps their
    /// place.
    #[arg(long, env = "VOICEDESK_RECONNECT_GRACE_SECS", default_value_t = 60)]
    reconnect_grace_secs: u64,
    /// Ignore business hours: every queue is open around the clock (implied by --demo, so a
    /// first try works at any hour).
    #[arg(long, env = "VOICEDESK_ALWAYS_OPEN")]
    always_open: bool,
    /// The longest voice message kept, in seconds (stored in <data-dir>/voice).
    #[arg(long, env = "VOICEDESK_VOICE_MESSAGE_MAX_SECS", default_value_t = 120)]
    voice_message_max_secs: u64,
    /// Mark the session cookie Secure (when served behind HTTPS; implied by --tls-cert).
    #[arg(long, env = "VOICEDESK_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Serve HTTPS on --listen with this certificate chain (PEM); reloaded on SIGHUP.
    #[arg(
        long,
        env = "VOICEDESK_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "VOICEDESK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for these names (comma-separated DNS names
    /// or IP addresses), kept in <data-dir>/tls-self-signed; for a trial on a LAN.
    #[arg(long, env = "VOICEDESK_TLS_SELF_SIGNED", value_delimiter = ',')]
    tls_self_signed: Vec<String>,
    /// With TLS: also listen for plain HTTP here and redirect every request to HTTPS.
    #[arg(long, env = "VOICEDESK_HTTP_REDIRECT_LISTEN")]
    http_redirect_listen: Option<SocketAddr>,
    /// Open client connections (HTTP and WebSocket) at most; more are refused with 503.
    /// Default: the file limit (raised to its hard limit at start) less an eighth, at least
    /// 64, for the store, the relay and voice files.
    #[arg(long, env = "VOICEDESK_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Seconds a request's headers may take to arrive (slow clients are disconnected).
    #[arg(long, env = "VOICEDESK_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds a WebSocket may stay silent (no message, no pong to the server's pings) before
    /// it is closed.
    #[arg(long, env = "VOICEDESK_WS_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    ws_idle_timeout_secs: u64,
    /// WebSocket messages one connection may send per second (bursts of twice that).
    #[arg(long, env = "VOICEDESK_WS_MESSAGES_PER_SEC", default_value_t = 20)]
    ws_messages_per_sec: u32,
    /// WebSocket messages one client address may send per second over all its connections.
    /// Behind a reverse proxy every client has the proxy's address: raise this there.
    #[arg(long, env = "VOICEDESK_ADDRESS_MESSAGES_PER_SEC", default_value_t = 200)]
    address_messages_per_sec: u32,
    /// WebSocket connections one client address may open per minute.
    #[arg(long, env = "VOICEDESK_ADDRESS_CONNECTIONS_PER_MIN", default_value_t = 60)]
    address_connections_per_min: u32,
    /// Ticket code checks one client address may make per minute.
    #[arg(long, env = "VOICEDESK_TICKET_CHECKS_PER_MIN", default_value_t = 10)]
    ticket_checks_per_min: u32,
    /// Messages one citizen may leave in 24 hours.
    #[arg(long, env = "VOICEDESK_MESSAGES_PER_CITIZEN_PER_DAY", default_value_t = 5)]
    messages_per_citizen_per_day: u32,
    /// TURN servers handed to clients (repeatable or comma-separated), e.g.
    /// `turn:turn.example.org:3478?transport=udp,turns:turn.example.org:443?transport=tcp`.
    #[arg(long, env = "VOICEDESK_TURN_URI", value_delimiter = ',', requires = "turn_secret")]
    turn_uri: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`), at least 16
    /// characters. Prefer the environment variable to the flag (process lists show flags).
    #[arg(long, env = "VOICEDESK_TURN_SECRET", hide_env_values = true, requires = "turn_uri")]
    turn_secret: Option<String>,
    /// Seconds one TURN credential stays valid; clients renew it before it expires.
    #[arg(long, env = "VOICEDESK_TURN_CREDENTIAL_TTL_SECS", default_value_t = 3600)]
    turn_credential_ttl_secs: u64,
    /// Cluster mode.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Without a command: run the service.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Cluster mode (`docs/cluster.md`).
#[derive(Debug, clap::Args)]
struct ClusterArgs {
    /// Join a cluster: the NATS servers (comma-separated `nats://host:port`) whose JetStream
    /// keeps the call center's replicated input log and leader lease. Needs a Postgres
    /// `--database-url` shared by every node. Without it: one process, nothing shared.
    #[arg(long, env = "VOICEDESK_CLUSTER", value_delimiter = ',')]
    cluster: Vec<String>,
    /// This node's roles in the cluster: `gateway,core,relay` (for now all three, `core,relay`
    /// or `gateway` alone).
    #[arg(long, env = "VOICEDESK_ROLES", default_value = "gateway,core,relay")]
    roles: String,
    /// This node's name in the cluster (lease holder, epoch markers); unique per node.
    /// Default: `node-<HTTP port>-<process id>`.
    #[arg(long, env = "VOICEDESK_NODE_NAME")]
    node_name: Option<String>,
    /// Milliseconds the leader's lease lasts unless renewed (renewed every third of it): a
    /// standby leads about 1.25 times this after the leader's loss.
    #[arg(long, env = "VOICEDESK_CLUSTER_LEASE_MS", default_value_t = 1500)]
    cluster_lease_ms: u64,
    /// The JetStream stream of the call center's input log (the lease bucket is
    /// `<stream>_leases`); one per city.
    #[arg(long, env = "VOICEDESK_CLUSTER_STREAM", default_value = "voicedesk_core")]
    cluster_stream: String,
    /// Copies JetStream keeps of the log and the lease (3 on a three-server NATS cluster).
    #[arg(long, env = "VOICEDESK_CLUSTER_REPLICAS", default_value_t = 3)]
    cluster_replicas: usize,
}

/// Raises the soft limit of open files to the hard limit and returns the new soft limit.
fn raise_file_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return 1024 };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        tracing::info!(from = soft, to = hard, "raised the open file limit");
        return hard;
    }
    soft
}

/// The connection cap for a file limit: an eighth (at least 64) kept for everything else.
fn connection_cap(file_limit: u64) -> usize {
    let reserve = (file_limit / 8).max(64);
    file_limit.saturating_sub(reserve).max(16).min(1_000_000) as usize
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line (timestamp, level, target, fields incl. `call`, message):
    /// for log collectors (Loki, Elasticsearch, journald forwarders).
    Json,
}

/// Starts the log subscriber (to stderr; also takes `log` records). `RUST_LOG` filters as
/// usual.
fn init_logs(format: LogFormat) {
    use tracing_subscriber::util::SubscriberInitExt;
    use voicedesk_signaling::logs;
    match format {
        LogFormat::Text => logs::text(logs::filter(), std::io::stderr).init(),
        LogFormat::Json => logs::json(logs::filter(), std::io::stderr).init(),
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Manage accounts from the shell: add, list, disable, enable, reset-password, unlock.
    #[command(subcommand)]
    User(user_cmd::UserCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logs(args.log_format);

    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&args.data_dir).with_context(|| {
                format!("cannot create data directory {}", args.data_dir.display())
            })?;
            format!("sqlite:{}", args.data_dir.join("voicedesk.db").display())
        }
    };
    let store = voicedesk_store::open(&database_url).await.context("cannot open the store")?;
    tracing::info!(backend = store.backend(), "store ready");
    if let Some(Command::User(command)) = args.command {
        return user_cmd::run(store.as_ref(), command).await;
    }
    if args.demo {
        ensure_demo_accounts(store.as_ref()).await.context("cannot create demo accounts")?;
    }
    if args.bench_agents > 0 {
        ensure_bench_agents(store.as_ref(), args.bench_agents)
            .await
            .context("cannot create bench agents")?;
    }

    let has_admin = store
        .accounts()
        .await
        .context("cannot read the accounts")?
        .iter()
        .any(|a| a.role == voicedesk_protocol::Role::Admin && a.disabled_at_ms.is_none());

    let relay = voicedesk_media_relay::start(RelayConfig {
        listen: args.media_listen,
        public_ip: args.public_ip,
        timeouts: RelayTimeouts {
            silence: Duration::from_secs(args.media_silence_secs),
            ..Default::default()
        },
    })
    .await?;
    let media = relay.handle.advertised_addr();

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert: cert.clone(), key: key.clone() }),
        _ if !args.tls_self_signed.is_empty() => {
            let dir = args.data_dir.join("tls-self-signed");
            let (files, made) =
                voicedesk_signaling::tls::self_signed_in(&dir, &args.tls_self_signed)
                    .context("cannot make the self-signed certificate")?;
            tracing::info!(dir = %dir.display(), made, "self-signed certificate");
            Some(files)
        }
        _ => None,
    };
    let turn = match args.turn_secret.clone() {
        Some(secret) => Some(
            TurnSecret::new(secret)
                .and_then(|secret| {
                    TurnConfig::new(
                        args.turn_uri.clone(),
                        secret,
                        Duration::from_secs(args.turn_credential_ttl_secs),
                    )
                })
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    if args.http_redirect_listen.is_some() && tls.is_none() {
        anyhow::bail!("--http-redirect-listen needs --tls-cert/--tls-key or --tls-self-signed");
    }

    let cluster = cluster_config(&args.cluster, args.listen, &database_url)?;
    let file_limit = raise_file_limit();
    let max_connections = args.max_connections.unwrap_or_else(|| connection_cap(file_limit));
    tracing::info!(file_limit, max_connections, "connection cap");
    let config = ServerConfig {
        listen: args.listen,
        allowed_origins: args.allowed_origins,
        ring_timeout: Duration::from_secs(args.ring_timeout_secs),
        secure_cookies: args.secure_cookies,
        tls,
        http_redirect_listen: args.http_redirect_listen,
        turn,
        service_level_seconds: args.service_level_seconds,
        service_level_target_pct: args.service_level_target_pct,
        utc_offset_minutes: args.utc_offset_minutes,
        after_call_work: Duration::from_secs(args.after_call_work_secs),
        max_missed_offers: args.max_missed_offers,
        reconnect_grace: Duration::from_secs(args.reconnect_grace_secs),
        always_open: args.always_open || args.demo,
        voice_dir: args.data_dir.join("voice"),
        voice_message_max: Duration::from_secs(args.voice_message_max_secs),
        max_connections,
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.max(1)),
        ws_idle_timeout: Duration::from_secs(args.ws_idle_timeout_secs.max(3)),
        limits: voicedesk_signaling::limits::RateLimits {
            messages_per_connection: args.ws_messages_per_sec,
            messages_per_address: args.address_messages_per_sec,
            connections_per_address_per_minute: args.address_connections_per_min,
            ticket_checks_per_address_per_minute: args.ticket_checks_per_min,
            messages_per_citizen_per_day: args.messages_per_citizen_per_day,
            ..Default::default()
        },
        cluster,
        ..Default::default()
    };
    let server =
        voicedesk_signaling::start(config, store, relay).await.context("cannot start HTTP")?;
    let scheme = if server.is_tls() { "https" } else { "http" };
    let url = format!("{scheme}://{}", server.local_addr);
    if !has_admin {
        println!("no administrator yet: create one with");
        println!("    voicedesk user add --role admin <username>");
        println!("(same --data-dir or --database-url), then sign in at the admin console below");
    }
    // The tests read this exact line to find the port.
    println!("voicedesk listening on {url}");
    println!("  hall:          {url}/");
    println!("  agent console: {url}/agent");
    println!("  staff console: {url}/staff");
    println!("  admin console: {url}/admin");
    println!("  media (UDP):   {media}");
    if let Some(cert) = server.tls_cert() {
        print_certificate(&cert);
    }
    if !args.turn_uri.is_empty() {
        println!("  TURN:          {}", args.turn_uri.join(" "));
    }
    if let Some(redirect) = server.redirect_addr {
        println!("  HTTP redirect: http://{redirect} -> HTTPS");
    }
    if args.demo {
        println!("  demo accounts (password \"{DEMO_PASSWORD}\"):");
        for (username, name, role) in DEMO_ACCOUNTS {
            println!("    {username:<8} {:<7} {name}", role.as_str());
        }
        println!("  demo mode: every queue is open around the clock (--always-open)");
    }

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot install a SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hangup.recv() => match server.reload_tls() {
                Ok(cert) => {
                    tracing::info!(sha256 = %cert.sha256_fingerprint, "TLS certificate reloaded");
                    // The tests read this line.
                    println!("TLS certificate reloaded");
                    print_certificate(&cert);
                }
                Err(e) => tracing::error!(error = %e, "SIGHUP: certificate not reloaded; the old one stays"),
            },
        }
    }
    tracing::info!("shutting down: ending calls");
    server.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// The cluster settings from the flags (`None` without `--cluster`); refuses what cannot
/// work: no shared Postgres, roles not yet supported apart.
fn cluster_config(
    args: &ClusterArgs,
    listen: SocketAddr,
    database_url: &str,
) -> anyhow::Result<Option<voicedesk_signaling::cluster::ClusterConfig>> {
    use voicedesk_signaling::cluster::{ClusterConfig, Roles};
    if args.cluster.is_empty() {
        return Ok(None);
    }
    if !database_url.starts_with("postgres") {
        anyhow::bail!(
            "--cluster needs a Postgres --database-url shared by every node (the system of record)"
        );
    }
    let roles = Roles::parse(&args.roles).map_err(anyhow::Error::msg)?;
    // Until relay-only nodes, the leader places every leg on its own relay: a core needs one,
    // and a relay without a core would carry nothing.
    if roles.core != roles.relay {
        anyhow::bail!(
            "--roles {}: for now a core runs with its relay (core,relay, with or without gateway), or a node is a gateway alone; relay-only nodes come next (docs/cluster.md)",
            roles.names()
        );
    }
    if args.cluster_lease_ms < 300 {
        anyhow::bail!("--cluster-lease-ms must be at least 300");
    }
    let node = args
        .node_name
        .clone()
        .unwrap_or_else(|| format!("node-{}-{}", listen.port(), std::process::id()));
    // The name is part of NATS subjects (a gateway's messages: `<stream>.node.<name>`).
    if node.is_empty() || !node.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        anyhow::bail!("--node-name {node:?}: letters, digits, '-' and '_' only");
    }
    Ok(Some(ClusterConfig {
        nats: args.cluster.clone(),
        node,
        roles,
        lease_ttl: Duration::from_millis(args.cluster_lease_ms),
        stream: args.cluster_stream.clone(),
        replicas: args.cluster_replicas.max(1),
    }))
}

/// The fingerprints a person compares and the pin a test browser trusts.
fn print_certificate(cert: &voicedesk_signaling::tls::CertInfo) {
    println!("  certificate SHA-256: {}", cert.sha256_fingerprint);
    println!("  certificate SPKI pin: {}", cert.spki_sha256_base64);
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can install a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
