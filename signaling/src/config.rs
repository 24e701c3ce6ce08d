//! Settings of the signaling server. The binary fills them from flags and environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of the signaling server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HTTP and WebSocket address.
    pub listen: SocketAddr,
    /// Origins allowed to open `/ws` besides the server's own (`http://<Host>`), e.g.
    /// `https://hall.example.gov.cn` behind a TLS proxy.
    pub allowed_origins: Vec<String>,
    /// Lifetime of agent and citizen sessions.
    pub session_ttl: Duration,
    /// How long an offer rings at an agent before it goes to the next.
    pub ring_timeout: Duration,
    /// Outgoing messages a WebSocket may have queued before the server drops it as too slow.
    pub outgoing_queue: usize,
    /// Set the `Secure` attribute on the session cookie (serve behind HTTPS). Always set when
    /// [`Self::tls`] is.
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate and key (PEM) instead of plain HTTP; HSTS and
    /// `Secure` cookies come with it.
    pub tls: Option<crate::tls::TlsFiles>,
    /// With TLS: a plain-HTTP address whose every request is redirected to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// TURN servers handed to clients with short-lived credentials (`/api/ice-servers`).
    pub turn: Option<crate::ice::TurnConfig>,
    /// A call answered within this many seconds counts toward the service level.
    pub service_level_seconds: u32,
    /// The share of calls (percent) to answer within it, for queues without their own target.
    pub service_level_target_pct: u32,
    /// The hall's local time offset from UTC in minutes (business hours, holidays, and
    /// "today" on the wallboard).
    pub utc_offset_minutes: i32,
    /// After-call work after every answered call; zero makes the agent available at once.
    pub after_call_work: Duration,
    /// Consecutive unanswered offers after which an agent is set away ("missed_calls").
    pub max_missed_offers: u32,
    /// How long a queued citizen whose connection dropped keeps their place.
    pub reconnect_grace: Duration,
    /// Ignore business hours (every queue open around the clock): demo mode and tests.
    /// Holidays and limits still apply to queues with hours when this is off.
    pub always_open: bool,
    /// Where voice messages are kept (Ogg/Opus files; the database references them).
    pub voice_dir: PathBuf,
    /// The longest voice message kept.
    pub voice_message_max: Duration,
    /// Open client connections (HTTP and WebSocket) at most; more get `503` at once. Keep it
    /// below the process's file limit, less what the store, the relay and the voice files
    /// need (the binary derives it from `RLIMIT_NOFILE`).
    pub max_connections: usize,
    /// How long a request's headers (and the next request on a kept-alive connection) may
    /// take to arrive.
    pub header_read_timeout: Duration,
    /// A WebSocket that sends nothing (not even the pong to the server's pings) for this long
    /// is closed (1001). The server pings after a third of it.
    pub ws_idle_timeout: Duration,
    /// Rate limits and caps against abuse.
    pub limits: crate::limits::RateLimits,
    /// When failed sign-ins slow and lock further attempts.
    pub sign_in: crate::signin_guard::SignInPolicy,
    /// The clock of sign-in slow-downs and locks (tests move it forward).
    pub clock: crate::clock::Clock,
    /// Cluster mode (`--cluster`): the core's inputs go through a replicated log on NATS
    /// JetStream. `None`: one process, nothing shared.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl ServerConfig {
    /// Whether the session cookie carries `Secure`: asked for, or served over TLS.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies || self.tls.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allowed_origins: Vec::new(),
            session_ttl: Duration::from_secs(12 * 3600),
            ring_timeout: Duration::from_secs(15),
            outgoing_queue: 128,
            secure_cookies: false,
            tls: None,
            http_redirect_listen: None,
            turn: None,
            service_level_seconds: 20,
            service_level_target_pct: 80,
            utc_offset_minutes: 8 * 60,
            after_call_work: Duration::from_secs(30),
            max_missed_offers: 2,
            reconnect_grace: Duration::from_secs(60),
            always_open: false,
            voice_dir: PathBuf::from("./data/voice"),
            voice_message_max: Duration::from_secs(120),
            max_connections: 896,
            header_read_timeout: Duration::from_secs(10),
            ws_idle_timeout: Duration::from_secs(60),
            limits: crate::limits::RateLimits::default(),
            sign_in: Default::default(),
            clock: Default::default(),
            cluster: None,
        }
    }
}
