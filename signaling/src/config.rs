//! Settings of the signaling server. The binary fills them from flags and environment.

use std::net::SocketAddr;
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
    /// Set the `Secure` attribute on the session cookie (serve behind HTTPS).
    pub secure_cookies: bool,
    /// A call answered within this many seconds counts toward the service level.
    pub service_level_seconds: u32,
    /// The hall's local time offset from UTC in minutes (for "today" on the wallboard).
    pub utc_offset_minutes: i32,
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
            service_level_seconds: 20,
            utc_offset_minutes: 8 * 60,
        }
    }
}
