//! The `/ws` endpoint: origin check, binding the connection to a session, frame limits, rate
//! limits, and the per-connection reader and writer.
//!
//! How a connection ends, and what its peer is told (close code):
//! - the peer closed, or the core forgot it (signed out, replaced): `1000`;
//! - a frame above [`HARD_FRAME_LIMIT`]: `1009`;
//! - too many messages refused for speed ([`crate::limits`]): `1008`;
//! - nothing heard (not even a pong) for `ws_idle_timeout`: `1001`;
//! - replies the peer does not read fill its outgoing queue: the socket is dropped at once,
//!   whether the replies came from the core or from the reader (`pong`, errors).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use voicedesk_protocol::{
    ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Role, ServerMessage,
    decode_client_message,
};

use crate::AppState;
use crate::auth::{self, user_info};
use crate::driver::{ConnId, DriverInput, Identity};
use crate::limits::{ConnectionLimiter, Verdict, retry_after_secs};
use crate::listener::ConnectionPermit;

/// Frames above this close the connection (close code 1009); messages between
/// [`MAX_MESSAGE_BYTES`] and this get an `error` and the connection stays.
const HARD_FRAME_LIMIT: usize = 4 * MAX_MESSAGE_BYTES;

/// How long one frame may take to go out before the connection is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a peer the server closed on (abuse, a frame too large) may take to answer the
/// close frame, while what it still sends is read and discarded.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// A cluster node numbers its connections from a random base (the high 32 bits), so the
/// connections of two nodes never share an id in the replicated core.
pub(crate) fn number_connections_from_random_base() {
    let base = u64::from(rand::random::<u32>().max(1)) << 32;
    NEXT_CONN.store(base, Ordering::Relaxed);
}

/// `?role=agent` asks for the signed-in session in the cookie; anything else is a citizen.
#[derive(Debug, Deserialize)]
pub(crate) struct WsQuery {
    role: Option<String>,
}

/// `429` with `Retry-After`.
fn too_many(wait: Duration, what: &str) -> Response {
    let secs = retry_after_secs(wait);
    let mut response =
        (StatusCode::TOO_MANY_REQUESTS, format!("{what}; try again in {secs} s")).into_response();
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Upgrades `/ws` after checking the origin, the address's connection rate and, for agents,
/// the session.
pub(crate) async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    permit: Option<Extension<ConnectionPermit>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !crate::origin::origin_allowed(&headers, &app.config.allowed_origins) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    // A cluster node without the gateway role serves no clients.
    if let Some(cluster) = &app.cluster
        && !cluster.roles.gateway
    {
        return (StatusCode::NOT_FOUND, "this node serves no clients (not a gateway)")
            .into_response();
    }
    // A cluster's gateway forwards to the leader: with none known (a takeover under way),
    // the client tries again shortly.
    if let Some(gateway) = &app.gateway
        && gateway.leader().is_none()
    {
        let mut response =
            (StatusCode::SERVICE_UNAVAILABLE, "no node leads the call center now; try again")
                .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    if let Err(wait) = app.limiters.open_connection(peer.ip()) {
        app.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        return too_many(wait, "too many connections from your address");
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::session_cookie)
        .map(str::to_owned);
    let identity = match query.role.as_deref() {
        Some("agent") => Some(authenticate_member(&app, cookie.as_deref(), Role::Agent).await),
        Some("staff") => Some(authenticate_member(&app, cookie.as_deref(), Role::Staff).await),
        _ => None,
    };
    let identity = match identity {
        Some(Ok(identity)) => Some(identity),
        Some(Err(response)) => return response,
        None => None,
    };
    ws.max_frame_size(HARD_FRAME_LIMIT)
        .max_message_size(HARD_FRAME_LIMIT)
        // tungstenite's defaults (128 KiB read buffer) would dominate an idle connection.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            // The socket counts against the connection cap until it closes.
            let _permit = permit;
            serve(app, socket, identity, peer.ip()).await
        })
}

/// A signed-in member asking for `wanted`: agents for `agent`; staff and admins for `staff`.
async fn authenticate_member(
    app: &AppState,
    cookie: Option<&str>,
    wanted: Role,
) -> Result<Identity, Response> {
    let expired =
        || (StatusCode::UNAUTHORIZED, "session expired or invalid; sign in again").into_response();
    let token = cookie.ok_or_else(expired)?;
    let found = app.sessions.authenticate(token).await.map_err(|e| {
        tracing::error!(error = %e, "session lookup failed");
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
    })?;
    if found.as_ref().is_some_and(|a| a.must_change_password) {
        return Err((StatusCode::FORBIDDEN, "choose a new password first").into_response());
    }
    match found.and_then(|a| a.user) {
        Some(user) if user.role == wanted || (wanted == Role::Staff && user.role.is_staff()) => {
            // An agent's skills are read here, beside the socket, so the core gets the agent
            // whole and the driver never waits for the store.
            let (skills, chat_capacity) = if user.role == Role::Agent {
                let skills = crate::driver::agent_skills_of(app.store.as_ref(), &user.id).await;
                // Unreadable: the default capacity (the agent still gets chats).
                let capacity = app.store.chat_capacity(&user.id).await.unwrap_or(None);
                (skills, capacity)
            } else {
                Default::default()
            };
            Ok(Identity::Member { user: user_info(&user), skills, chat_capacity })
        }
        Some(_) => Err((
            StatusCode::FORBIDDEN,
            format!("this account cannot sign in as {}", wanted.as_str()),
        )
            .into_response()),
        None => Err(expired()),
    }
}

/// Why the reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The peer closed, the stream ended or broke.
    Closed,
    /// The core forgot the connection.
    Kicked,
    /// A frame above [`HARD_FRAME_LIMIT`].
    TooLarge,
    /// Too many messages refused for speed.
    Abusive,
    /// Nothing heard for the idle timeout.
    Idle,
    /// The outgoing queue is full: the peer does not read.
    NotReading,
}

impl Ending {
    /// The server closed on a peer that is still sending: its close is awaited (and what it
    /// sends meanwhile discarded) before the socket is dropped.
    fn awaits_the_peers_close(self) -> bool {
        matches!(self, Ending::Abusive | Ending::TooLarge)
    }

    /// What the writer does once the reader has stopped.
    fn control(self) -> Control {
        let close = |code: u16, reason: &'static str| {
            Control::Close(CloseFrame { code, reason: reason.into() })
        };
        match self {
            Ending::Closed | Ending::Kicked => close(1000, "bye"),
            Ending::TooLarge => close(1009, "frame too large"),
            Ending::Abusive => close(1008, "too many messages too fast"),
            Ending::Idle => close(1001, "idle"),
            Ending::NotReading => Control::Abort,
        }
    }
}

/// Frames the writer sends besides the core's messages.
#[derive(Debug)]
enum Control {
    /// A WebSocket ping (the idle check).
    Ping,
    /// Send the remaining messages, then this close frame.
    Close(CloseFrame),
    /// Stop now: the peer is not reading.
    Abort,
}

async fn serve(app: AppState, socket: WebSocket, identity: Option<Identity>, peer: IpAddr) {
    let conn = ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed));
    let (outbox, outgoing) = mpsc::channel(app.config.outgoing_queue);
    // A citizen's session made for this connection: deleted when it closes unless something
    // was left on it to come back to (see `Usage`).
    let mut fresh_token = None;
    let welcome = match identity {
        Some(Identity::Member { user, skills, chat_capacity }) => {
            let welcome = ServerMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                role: user.role,
                citizen_token: None,
                user: Some(user.clone()),
            };
            (Identity::Member { user, skills, chat_capacity }, welcome)
        }
        _ => match app.sessions.open(Role::Citizen, None).await {
            Ok(token) => {
                let citizen_id = citizen_id_of(&token);
                fresh_token = Some(token.clone());
                let welcome = ServerMessage::Welcome {
                    protocol: PROTOCOL_VERSION,
                    role: Role::Citizen,
                    citizen_token: Some(token),
                    user: None,
                };
                (Identity::Citizen { citizen_id }, welcome)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not open a citizen session");
                return;
            }
        },
    };
    let (identity, welcome) = welcome;
    let role = match &identity {
        Identity::Citizen { .. } => Role::Citizen,
        Identity::Member { user, .. } => user.role,
    };
    let _ = outbox.try_send(welcome);
    let (kick, kicked) = oneshot::channel();
    if !app.hub.send(DriverInput::Connected { conn, identity, outbox: outbox.clone(), kick }).await
    {
        return;
    }
    app.stats.connections.fetch_add(1, Ordering::Relaxed);
    let (sink, mut stream) = socket.split();
    let (control, controls) = mpsc::channel(4);
    let writer = tokio::spawn(write_loop(sink, outgoing, controls));
    let mut usage = Usage::default();
    let reader = Reader {
        app: &app,
        conn,
        role,
        peer,
        control: &control,
        limiter: app.limiters.connection(),
    };
    let ending = reader.run(&mut stream, outbox.clone(), kicked, &mut usage).await;
    if ending != Ending::Closed && ending != Ending::Kicked {
        app.stats.connections_dropped.fetch_add(1, Ordering::Relaxed);
        tracing::info!(?conn, %peer, ?ending, "connection closed by the server");
    }
    app.hub.send(DriverInput::Disconnected { conn }).await;
    if let Some(token) = fresh_token
        && !usage.keeps_session()
        && let Err(e) = app.sessions.logout(&token).await
    {
        tracing::warn!(error = %e, "could not delete an unused citizen session");
    }
    // Only now may the writer finish (it ends when every outbox is gone): a client that sees
    // the close knows the connection's session row is settled.
    match ending.control() {
        // The writer is likely stuck sending to a peer that does not read: stop it now, so
        // the socket closes at once.
        Control::Abort => writer.abort(),
        control_frame => {
            let _ = control.send(control_frame).await;
        }
    }
    drop(outbox);
    drop(control);
    let _ = writer.await;
    if ending.awaits_the_peers_close() {
        finish_close_handshake(&mut stream).await;
    }
    app.stats.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Reads and discards what the peer still sends until its close frame (or the stream's end,
/// or [`CLOSE_HANDSHAKE_TIMEOUT`]). A socket closed with unread data is reset by the kernel,
/// and the reset discards what the server had queued for the peer: the refusals and the
/// close frame that say why the connection ended.
async fn finish_close_handshake(stream: &mut futures::stream::SplitStream<WebSocket>) {
    let drain = async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, drain).await;
}

/// What a citizen connection did with the session it was given, to decide whether the
/// session must outlive it. Pings, questions to the assistant and a `resume` (which moves the
/// connection to an earlier session) leave nothing to come back to; anything else might (a
/// call to rejoin, a call to rate) and keeps the session until it expires.
#[derive(Debug, Default)]
struct Usage {
    used: bool,
}

impl Usage {
    fn note(&mut self, message: &ClientMessage) {
        if !matches!(
            message,
            ClientMessage::Ping | ClientMessage::Ask { .. } | ClientMessage::Resume { .. }
        ) {
            self.used = true;
        }
    }

    fn keeps_session(&self) -> bool {
        self.used
    }
}

/// The citizen id stored with call records: derived from the token's hash, so it is stable
/// across a resume and reveals nothing of the token.
fn citizen_id_of(token: &str) -> String {
    format!("c-{}", &auth::token_hash(token)[..16])
}

async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<ServerMessage>,
    mut controls: mpsc::Receiver<Control>,
) {
    let mut close = CloseFrame { code: 1000, reason: "bye".into() };
    let mut controls_open = true;
    loop {
        let frame = tokio::select! {
            biased;
            control = controls.recv(), if controls_open => match control {
                Some(Control::Ping) => Message::Ping(Default::default()),
                Some(Control::Close(frame)) => {
                    close = frame;
                    continue;
                }
                Some(Control::Abort) => return,
                None => {
                    controls_open = false;
                    continue;
                }
            },
            message = outgoing.recv() => match message {
                Some(message) => {
                    let text = serde_json::to_string(&message).expect("server messages always serialize");
                    Message::Text(text.into())
                }
                None => break,
            },
        };
        // A peer that stops reading must not hold this task forever.
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(frame)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(close)))).await;
}

/// The reading half of one connection.
struct Reader<'a> {
    app: &'a AppState,
    conn: ConnId,
    role: Role,
    peer: IpAddr,
    control: &'a mpsc::Sender<Control>,
    limiter: ConnectionLimiter,
}

/// A reply from the reader could not be queued: the peer does not read.
struct Full;

impl Reader<'_> {
    async fn run(
        &self,
        stream: &mut futures::stream::SplitStream<WebSocket>,
        outbox: mpsc::Sender<ServerMessage>,
        mut kicked: oneshot::Receiver<()>,
        usage: &mut Usage,
    ) -> Ending {
        let reply = |message: ServerMessage| outbox.try_send(message).map_err(|_| Full);
        let refuse = |code: ErrorCode, text: String, request: Option<&str>| {
            self.app.stats.client_errors.fetch_add(1, Ordering::Relaxed);
            reply(ServerMessage::error(code, text, request))
        };
        let idle = self.app.config.ws_idle_timeout;
        let ping_after = idle / 3;
        let mut heard = Instant::now();
        let mut pinged = false;
        loop {
            let wake = if pinged { heard + idle } else { heard + ping_after };
            let frame = tokio::select! {
                frame = stream.next() => frame,
                // The core forgot this connection: stop reading; the writer flushes and closes.
                _ = &mut kicked => return Ending::Kicked,
                _ = tokio::time::sleep_until(wake) => {
                    if pinged {
                        return Ending::Idle;
                    }
                    pinged = true;
                    let _ = self.control.try_send(Control::Ping);
                    continue;
                }
            };
            heard = Instant::now();
            pinged = false;
            let Some(frame) = frame else { return Ending::Closed };
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(Message::Binary(_)) => {
                    if self.rate_limit(&reply).is_err() {
                        return Ending::NotReading;
                    }
                    let refused = refuse(
                        ErrorCode::BadJson,
                        "binary frames are not part of the protocol; send JSON text".into(),
                        None,
                    );
                    if refused.is_err() {
                        return Ending::NotReading;
                    }
                    continue;
                }
                Ok(Message::Close(_)) => return Ending::Closed,
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(conn = ?self.conn, error = %e, "websocket read ended");
                    return if frame_too_large(e) { Ending::TooLarge } else { Ending::Closed };
                }
            };
            match self.rate_limit(&reply) {
                Ok(Verdict::Allowed) => {}
                Ok(Verdict::Refused) => continue,
                Ok(Verdict::Close) => return Ending::Abusive,
                Err(Full) => return Ending::NotReading,
            }
            let handled = self.handle(&text, &reply, &refuse, usage).await;
            match handled {
                Ok(true) => {}
                Ok(false) => return Ending::Closed,
                Err(Full) => return Ending::NotReading,
            }
        }
    }

    /// Counts one message against the limits; a refusal is told to the peer.
    fn rate_limit(
        &self,
        reply: &impl Fn(ServerMessage) -> Result<(), Full>,
    ) -> Result<Verdict, Full> {
        let verdict = self.app.limiters.message(self.peer, &self.limiter);
        if verdict != Verdict::Allowed {
            self.app.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        if verdict == Verdict::Refused {
            let rate = self.app.limiters.settings().messages_per_connection;
            reply(ServerMessage::error(
                ErrorCode::RateLimited,
                format!(
                    "too many messages: at most {rate} a second; this one was dropped, and going on closes the connection"
                ),
                None,
            ))?;
        }
        Ok(verdict)
    }

    /// One text frame. `Ok(false)`: the driver has stopped.
    async fn handle(
        &self,
        text: &str,
        reply: &impl Fn(ServerMessage) -> Result<(), Full>,
        refuse: &impl Fn(ErrorCode, String, Option<&str>) -> Result<(), Full>,
        usage: &mut Usage,
    ) -> Result<bool, Full> {
        let app = self.app;
        if text.len() > MAX_MESSAGE_BYTES {
            refuse(
                ErrorCode::MessageTooLarge,
                format!(
                    "messages are limited to {MAX_MESSAGE_BYTES} bytes; this one had {}",
                    text.len()
                ),
                None,
            )?;
            return Ok(true);
        }
        let message = match decode_client_message(text) {
            Ok(message) => message,
            Err(e) => {
                refuse(e.code, e.message, e.request_type.as_deref())?;
                return Ok(true);
            }
        };
        // Who may send what is the core's rule; only the two messages answered here (ping,
        // resume) are checked here, with the same table.
        if matches!(message, ClientMessage::Ping | ClientMessage::Resume { .. })
            && !message.allowed_for(self.role)
        {
            refuse(
                ErrorCode::Forbidden,
                format!(
                    "\"{}\" is not allowed for a {} connection",
                    message.type_name(),
                    self.role.as_str()
                ),
                Some(message.type_name()),
            )?;
            return Ok(true);
        }
        if let ClientMessage::Rate { ticket: Some(ticket), .. } = &message
            && let Err(wait) = app.limiters.ticket_check(self.peer, ticket)
        {
            app.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            refuse(
                ErrorCode::RateLimited,
                format!("too many ticket code attempts; try again in {} s", retry_after_secs(wait)),
                Some("rate"),
            )?;
            return Ok(true);
        }
        usage.note(&message);
        match message {
            ClientMessage::Ping => reply(ServerMessage::Pong)?,
            ClientMessage::Resume { citizen_token } => {
                match app.sessions.authenticate(&citizen_token).await {
                    Ok(Some(found)) if found.session.role == Role::Citizen => {
                        let citizen_id = citizen_id_of(&citizen_token);
                        let conn = self.conn;
                        app.hub
                            .send(DriverInput::Resumed { conn, citizen_id, citizen_token })
                            .await;
                    }
                    Ok(_) => refuse(
                        ErrorCode::SessionExpired,
                        "that citizen session is unknown or expired; carry on with the new one"
                            .into(),
                        Some("resume"),
                    )?,
                    Err(e) => {
                        tracing::error!(error = %e, "session lookup failed");
                        refuse(
                            ErrorCode::Internal,
                            "could not check the session; try again".into(),
                            Some("resume"),
                        )?;
                    }
                }
            }
            message => {
                if !app.hub.send(DriverInput::Message { conn: self.conn, message }).await {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// Whether a read error is tungstenite refusing a frame or message above the size limits.
fn frame_too_large(error: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    error.into_inner().downcast_ref::<Error>().is_some_and(|e| matches!(e, Error::Capacity(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::origin_allowed;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn only_the_own_origin_and_configured_ones_may_connect() {
        let allowed = vec!["https://hall.example.gov.cn".to_owned()];
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            &allowed
        ));
        assert!(origin_allowed(
            &headers(Some("https://hall.example.gov.cn"), "10.0.0.1:8080"),
            &allowed
        ));
        assert!(!origin_allowed(&headers(Some("http://evil.example"), "127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed(&headers(None, "127.0.0.1:8080"), &allowed));
    }
}
