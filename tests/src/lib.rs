//! Shared harness of the end-to-end tests: the real server (signaling, relay, store) on
//! port 0 in this process, and Rust clients built on the `webrtc` crate talking to it over
//! real sockets on loopback.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use voicedesk_media_relay::{RelayConfig, RelayTimeouts};
use voicedesk_protocol::{AgentActivity, AgentAvailability, ClientMessage, ServerMessage};
use voicedesk_signaling::limits::RateLimits;
use voicedesk_signaling::{RunningServer, ServerConfig};
use voicedesk_softphone::{MediaLeg, SignalingClient};
use voicedesk_store::Store;

pub use voicedesk_signaling::demo::DEMO_PASSWORD;

/// How long any single expected event may take in a test.
pub const STEP: Duration = Duration::from_secs(10);

/// A running server and the store behind it.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The store the server writes to.
    pub store: Arc<dyn Store>,
    /// The server.
    pub server: Option<RunningServer>,
    /// The store's URL (SQLite file or Postgres), for tests that reach behind the server.
    pub database_url: String,
    /// Where the server keeps voice messages.
    pub voice_dir: std::path::PathBuf,
    /// The server's clock of sign-in slow-downs and locks: `advance` it instead of waiting.
    pub clock: voicedesk_signaling::Clock,
    /// With TLS: a client configuration trusting the server's certificate file as it was at
    /// start (clients of this server pass it; `base_url` is then `https://…`).
    pub tls: Option<voicedesk_softphone::ClientTls>,
    _data_dir: TempDir,
}

/// Knobs the tests change.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Ring timeout of offers.
    pub ring_timeout: Duration,
    /// Silence limit of media legs.
    pub media_silence: Duration,
    /// How long a media leg may take to connect.
    pub media_connect: Duration,
    /// A `postgres://` URL, or `None` for SQLite in a fresh temporary directory.
    pub database_url: Option<String>,
    /// Ignore business hours (true by default: tests run at any hour).
    pub always_open: bool,
    /// After-call work after each answered call (zero by default: agents are available again
    /// at once, as most tests expect).
    pub after_call_work: Duration,
    /// How long a waiting citizen's dropped connection keeps the place.
    pub reconnect_grace: Duration,
    /// Rate limits: generous by default (every test client comes from 127.0.0.1); the abuse
    /// tests tighten them.
    pub limits: RateLimits,
    /// The connection cap.
    pub max_connections: usize,
    /// How long a request's headers may take.
    pub header_read_timeout: Duration,
    /// How long a WebSocket may stay silent.
    pub ws_idle_timeout: Duration,
    /// Messages queued per WebSocket before a client that does not read is dropped.
    pub outgoing_queue: usize,
    /// Serve HTTPS with these files (see [`TestServer::tls`]).
    pub tls: Option<voicedesk_signaling::tls::TlsFiles>,
    /// With TLS: a plain-HTTP redirect on another port of 127.0.0.1.
    pub http_redirect: bool,
    /// TURN servers handed out by `/api/ice-servers`.
    pub turn: Option<voicedesk_signaling::ice::TurnConfig>,
}

/// Limits no ordinary test reaches.
pub fn generous_limits() -> RateLimits {
    RateLimits {
        messages_per_connection: 100_000,
        messages_per_address: 1_000_000,
        strikes_before_close: 100_000,
        connections_per_address_per_minute: 1_000_000,
        ticket_checks_per_address_per_minute: 100_000,
        ticket_checks_per_ticket_per_hour: 100_000,
        messages_per_citizen_per_day: 10_000,
    }
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(15),
            media_silence: Duration::from_secs(15),
            media_connect: Duration::from_secs(20),
            database_url: None,
            always_open: true,
            after_call_work: Duration::ZERO,
            reconnect_grace: Duration::from_secs(60),
            limits: generous_limits(),
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            ws_idle_timeout: Duration::from_secs(600),
            outgoing_queue: 128,
            tls: None,
            http_redirect: false,
            turn: None,
        }
    }
}

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

impl TestServer {
    /// Starts a server with default options and the demo accounts.
    pub async fn start() -> Result<Self> {
        Self::start_with(TestOptions::default()).await
    }

    /// Starts a server with `options` and the demo accounts.
    pub async fn start_with(options: TestOptions) -> Result<Self> {
        init_tracing();
        let dir = std::env::temp_dir().join(format!("voicedesk-e2e-{}", uuid_like()));
        std::fs::create_dir_all(&dir)?;
        let url = options
            .database_url
            .unwrap_or_else(|| format!("sqlite:{}", dir.join("voicedesk.db").display()));
        let voice_dir = dir.join("voice");
        let store = voicedesk_store::open(&url).await.context("open store")?;
        voicedesk_signaling::demo::ensure_demo_accounts(store.as_ref()).await?;
        let relay = voicedesk_media_relay::start(RelayConfig {
            listen: "127.0.0.1:0".parse()?,
            public_ip: None,
            timeouts: RelayTimeouts {
                silence: options.media_silence,
                connect: options.media_connect,
            },
        })
        .await?;
        let clock = voicedesk_signaling::Clock::default();
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            clock: clock.clone(),
            ring_timeout: options.ring_timeout,
            always_open: options.always_open,
            after_call_work: options.after_call_work,
            reconnect_grace: options.reconnect_grace,
            voice_dir: voice_dir.clone(),
            limits: options.limits,
            max_connections: options.max_connections,
            header_read_timeout: options.header_read_timeout,
            ws_idle_timeout: options.ws_idle_timeout,
            outgoing_queue: options.outgoing_queue,
            http_redirect_listen: options.http_redirect.then(|| ([127, 0, 0, 1], 0).into()),
            tls: options.tls.clone(),
            turn: options.turn.clone(),
            ..Default::default()
        };
        let tls = match &options.tls {
            Some(files) => Some(voicedesk_softphone::ClientTls::trusting(
                &std::fs::read_to_string(&files.cert)?,
            )?),
            None => None,
        };
        let server = voicedesk_signaling::start(config, store.clone(), relay).await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(Self {
            tls,
            base_url: format!("{scheme}://{}", server.local_addr),
            store,
            server: Some(server),
            database_url: url,
            voice_dir,
            clock,
            _data_dir: TempDir(dir),
        })
    }

    /// The WebSocket URL for citizens.
    pub fn citizen_ws(&self) -> String {
        format!("{}/ws", self.base_url.replacen("http", "ws", 1))
    }

    /// The WebSocket URL for agents.
    pub fn agent_ws(&self) -> String {
        format!("{}/ws?role=agent", self.base_url.replacen("http", "ws", 1))
    }

    /// The media port of the relay.
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("running").relay.local_addr()
    }

    /// Opens a citizen connection and reads `welcome`.
    pub async fn citizen(&self) -> Result<SignalingClient> {
        let mut ws = SignalingClient::connect_tls(
            &self.citizen_ws(),
            &self.base_url,
            None,
            self.tls.as_ref(),
        )
        .await?;
        match ws.recv(STEP).await? {
            ServerMessage::Welcome { citizen_token: Some(_), .. } => Ok(ws),
            other => bail!("expected a citizen welcome, got {other:?}"),
        }
    }

    /// Signs a member (agent or staff) in on `ws_url` and connects the headset.
    async fn signed_in_with_headset(&self, username: &str, ws_url: &str) -> Result<Agent> {
        let tls = self.tls.as_ref();
        let cookie =
            voicedesk_softphone::login_tls(&self.base_url, username, DEMO_PASSWORD, tls).await?;
        let mut ws =
            SignalingClient::connect_tls(ws_url, &self.base_url, Some(&cookie), tls).await?;
        let user = match ws.recv(STEP).await? {
            ServerMessage::Welcome { user: Some(user), .. } => user,
            other => bail!("expected a member welcome, got {other:?}"),
        };
        let media = MediaLeg::new(username, 2).await?;
        let offer = media.create_offer().await?;
        ws.send(&ClientMessage::MediaConnect { sdp: offer }).await?;
        let answer =
            match ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. })).await? {
                ServerMessage::MediaAnswer { sdp } => sdp,
                _ => unreachable!(),
            };
        media.apply_answer(&answer).await?;
        media.wait_connected(STEP).await?;
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaState { .. })).await?;
        Ok(Agent { ws, media, user_id: user.id, cookie })
    }

    /// Signs an agent in, connects the headset and makes the agent available.
    pub async fn ready_agent(&self, username: &str) -> Result<Agent> {
        let mut agent = self.signed_in_with_headset(username, &self.agent_ws()).await?;
        agent
            .ws
            .send(&ClientMessage::SetState { state: AgentAvailability::Available, reason: None })
            .await?;
        agent
            .ws
            .recv_until(STEP, |m| {
                matches!(m, ServerMessage::AgentState { state: AgentActivity::Available, .. })
            })
            .await?;
        Ok(agent)
    }

    /// Signs a staff member (or admin) in with a connected headset.
    pub async fn ready_staff(&self, username: &str) -> Result<Agent> {
        let url = format!("{}/ws?role=staff", self.base_url.replacen("http", "ws", 1));
        self.signed_in_with_headset(username, &url).await
    }

    /// Stops the server cleanly.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// A signed-in agent or staff member with a connected headset.
pub struct Agent {
    /// Its signaling connection.
    pub ws: SignalingClient,
    /// Its headset.
    pub media: MediaLeg,
    /// The user id (agent id in records).
    pub user_id: String,
    /// The session cookie value.
    pub cookie: String,
}

/// A citizen's call in progress.
pub struct CitizenCall {
    /// Signaling.
    pub ws: SignalingClient,
    /// Media.
    pub media: MediaLeg,
    /// The call id from `call_queued`.
    pub call_id: String,
}

/// Places a call: offer → `call_queued` → answer applied → media connected.
pub async fn place_call(server: &TestServer, service: &str) -> Result<CitizenCall> {
    place_call_tls(&server.base_url, service, server.tls.as_ref()).await
}

/// [`place_call`] on the server at `base_url` (e.g. a `voicedesk` process).
pub async fn place_call_at(base_url: &str, service: &str) -> Result<CitizenCall> {
    place_call_tls(base_url, service, None).await
}

/// [`place_call_at`] checking an `https://` server's certificate with `tls`.
pub async fn place_call_tls(
    base_url: &str,
    service: &str,
    tls: Option<&voicedesk_softphone::ClientTls>,
) -> Result<CitizenCall> {
    let ws_url = format!("{}/ws", base_url.replacen("http", "ws", 1));
    let mut ws = SignalingClient::connect_tls(&ws_url, base_url, None, tls).await?;
    match ws.recv(STEP).await? {
        ServerMessage::Welcome { citizen_token: Some(_), .. } => {}
        other => bail!("expected a citizen welcome, got {other:?}"),
    }
    let media = MediaLeg::new("citizen", 2).await?;
    let offer = media.create_offer().await?;
    ws.send(&ClientMessage::Call { service: Some(service.to_owned()), sdp: offer }).await?;
    let (call_id, answer) = match ws.recv(STEP).await? {
        ServerMessage::CallQueued { call_id, sdp } => (call_id, sdp),
        other => bail!("expected call_queued, got {other:?}"),
    };
    media.apply_answer(&answer).await?;
    media.wait_connected(STEP).await?;
    Ok(CitizenCall { ws, media, call_id })
}

/// Signs `username` in with `password` at `base_url`, connects the headset and makes the agent
/// available.
pub async fn ready_agent_at(base_url: &str, username: &str, password: &str) -> Result<Agent> {
    let cookie = voicedesk_softphone::login(base_url, username, password).await?;
    let ws_url = format!("{}/ws?role=agent", base_url.replacen("http", "ws", 1));
    let mut ws = SignalingClient::connect(&ws_url, base_url, Some(&cookie)).await?;
    let user = match ws.recv(STEP).await? {
        ServerMessage::Welcome { user: Some(user), .. } => user,
        other => bail!("expected a member welcome, got {other:?}"),
    };
    let media = MediaLeg::new(username, 2).await?;
    ws.send(&ClientMessage::MediaConnect { sdp: media.create_offer().await? }).await?;
    let answer =
        match ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. })).await? {
            ServerMessage::MediaAnswer { sdp } => sdp,
            _ => unreachable!(),
        };
    media.apply_answer(&answer).await?;
    media.wait_connected(STEP).await?;
    // The server may learn of the headset after this side does: `available` waits for its word.
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaState { .. })).await?;
    ws.send(&ClientMessage::SetState { state: AgentAvailability::Available, reason: None }).await?;
    ws.recv_until(STEP, |m| {
        matches!(m, ServerMessage::AgentState { state: AgentActivity::Available, .. })
    })
    .await?;
    Ok(Agent { ws, media, user_id: user.id, cookie })
}

/// Waits for `call_offered` at an agent and returns the call id.
pub async fn wait_offer(agent: &mut Agent) -> Result<String> {
    match agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallOffered { .. })).await? {
        ServerMessage::CallOffered { call_id, .. } => Ok(call_id),
        _ => unreachable!(),
    }
}

/// Waits for `call_ended` and returns its reason.
pub async fn wait_ended(ws: &mut SignalingClient) -> Result<voicedesk_protocol::EndReason> {
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallEnded { .. })).await? {
        ServerMessage::CallEnded { reason, .. } => Ok(reason),
        _ => unreachable!(),
    }
}

/// One stream a test watches: a media leg's receive slot and the tag of the sender it counts.
pub type Stream<'a> = (&'a MediaLeg, usize, voicedesk_softphone::Tag);

/// How many packets each `watched` stream received while the `witness` stream received
/// `packets` more. The witness is a stream that must be flowing, so the window is measured in
/// delivered media, not in wall-clock time: "nothing arrived on X" means "nothing arrived on X
/// while Y delivered `packets` packets through the same relay".
pub async fn counts_while(
    witness: Stream<'_>,
    packets: u64,
    watched: &[Stream<'_>],
) -> Result<Vec<u64>> {
    let (leg, slot, tag) = witness;
    let before: Vec<u64> = watched.iter().map(|(m, s, t)| m.received(*s).count(t)).collect();
    let target = leg.received(slot).count(&tag) + packets;
    leg.wait_tag_count(slot, tag, target, STEP).await?;
    Ok(watched.iter().zip(before).map(|((m, s, t), b)| m.received(*s).count(t) - b).collect())
}

/// Lets packets routed before a change drain: returns once the `witness` stream has delivered
/// a few more packets (100 ms of audio) through the relay.
pub async fn settle(witness: Stream<'_>) -> Result<()> {
    counts_while(witness, 5, &[]).await.map(drop)
}

/// Returns once `leg` has sent `packets` more packets: a clock in media time, for windows in
/// which a test proves that nothing arrives.
pub async fn sent_more(leg: &MediaLeg, packets: u64) -> Result<()> {
    leg.wait_sent(leg.sent().packets + packets, STEP).await.map(drop)
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// A minimal HTTP/1.1 request over a TCP socket (the tests need no HTTP client crate);
/// returns the status and the body.
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> Result<(u16, String)> {
    http_json(base, method, path, cookie, None).await
}

/// [`http`] for a binary body (e.g. a voice message): the status and the body's bytes.
pub async fn http_bytes(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let cookie = cookie.map(|c| format!("Cookie: vd_session={c}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")?;
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    Ok((status, response[end + 4..].to_vec()))
}

/// [`http`] with an optional JSON body.
pub async fn http_json(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<(u16, String)> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let content_type = (!body.is_empty()).then_some("application/json");
    http_text(base, method, path, cookie, content_type, &body).await
}

/// A request with extra headers (e.g. `Origin`) and a body as given: the status and the body.
pub async fn http_with_headers(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &str,
) -> Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: vd_session={c}\r\n"));
    }
    if let Some(t) = content_type {
        head.push_str(&format!("Content-Type: {t}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let request =
        format!("{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status =
        response.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// [`http`] with a body as given (e.g. broken JSON) and its content type.
pub async fn http_text(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let cookie = cookie.map(|c| format!("Cookie: vd_session={c}\r\n")).unwrap_or_default();
    let content_type = content_type.map(|t| format!("Content-Type: {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status =
        response.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}
