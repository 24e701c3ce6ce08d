//! The hub: one task that owns the queueing engine, every connection's outbox, the calls and
//! which media leg belongs to whom.
//!
//! WebSocket handlers and the relay talk to it only through messages ([`HubInput`], relay
//! events), so all call state changes happen in one place, in order. The engine decides
//! (pure); the hub carries the decisions out: it writes the call record, re-routes the relay
//! and tells each side. A call record step is committed before the client hears of it.

mod calls;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use voicedesk_media_relay::{LegId, RelayEvent, RelayHandle};
use voicedesk_protocol::{ClientMessage, ErrorCode, ServerMessage, UserInfo};
use voicedesk_queue_engine::{AgentId, CallId, Engine, EngineConfig};
use voicedesk_store::Store;

use crate::metrics::SignalingStats;

/// A WebSocket connection, numbered by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Who is behind a connection, as authenticated by the WebSocket handler.
#[derive(Debug, Clone)]
pub enum Identity {
    /// An anonymous citizen; `citizen_id` is derived from the session token and stored with
    /// the call records.
    Citizen {
        /// Stable opaque id of the citizen's session.
        citizen_id: String,
    },
    /// A signed-in agent.
    Agent {
        /// The user.
        user: UserInfo,
    },
}

/// What the hub is told.
pub enum HubInput {
    /// A connection opened; the hub sends it messages through `outbox`.
    Connected {
        /// The connection.
        conn: ConnId,
        /// Who it is.
        identity: Identity,
        /// Its bounded outgoing queue.
        outbox: mpsc::Sender<ServerMessage>,
        /// Dropped by the hub when it forgets the connection (signed out, too slow): the
        /// handler then stops reading and closes the socket.
        kick: oneshot::Sender<()>,
    },
    /// A citizen connection proved an earlier identity (the token was checked by the caller).
    Resumed {
        /// The connection.
        conn: ConnId,
        /// The earlier identity.
        citizen_id: String,
        /// The token to echo in the reply.
        citizen_token: String,
    },
    /// A decoded, role-checked client message.
    Message {
        /// From whom.
        conn: ConnId,
        /// What.
        message: ClientMessage,
    },
    /// A user signed out (or was signed out): their open connections end now.
    SignedOut {
        /// The user.
        user_id: String,
    },
    /// The connection closed.
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// End every call (recorded as `server_shutdown`) and stop.
    Shutdown {
        /// Answered when every call is ended and recorded.
        done: oneshot::Sender<()>,
    },
}

/// Sends inputs to the hub.
#[derive(Clone)]
pub struct HubHandle {
    inputs: mpsc::Sender<HubInput>,
}

impl HubHandle {
    /// Queues an input; false if the hub has stopped.
    pub async fn send(&self, input: HubInput) -> bool {
        self.inputs.send(input).await.is_ok()
    }

    /// Ends every call and stops the hub; returns when that is done.
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.inputs.send(HubInput::Shutdown { done }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// A connection as the hub sees it.
struct Conn {
    identity: Identity,
    outbox: mpsc::Sender<ServerMessage>,
    /// Dropping it ends the connection's handler.
    _kick: oneshot::Sender<()>,
    /// Citizen: the call this citizen has in progress.
    call: Option<CallId>,
}

/// A signed-in agent's presence.
struct AgentPresence {
    conn: ConnId,
    display_name: String,
    /// The headset leg, kept for the whole session.
    leg: Option<LegId>,
    leg_connected: bool,
}

/// A call between its arrival and its end.
struct ActiveCall {
    citizen_conn: ConnId,
    citizen_leg: LegId,
    /// The agent it is ringing at or connected to.
    agent: Option<AgentId>,
    /// Bridged in the relay.
    connected: bool,
}

/// Whose a media leg is.
#[derive(Debug, Clone)]
enum LegOwner {
    Citizen(CallId),
    Agent(AgentId),
}

/// The hub's state. See the module documentation.
pub(crate) struct Hub {
    store: Arc<dyn Store>,
    relay: RelayHandle,
    engine: Engine,
    stats: Arc<SignalingStats>,
    conns: HashMap<ConnId, Conn>,
    agents: HashMap<AgentId, AgentPresence>,
    calls: HashMap<CallId, ActiveCall>,
    legs: HashMap<LegId, LegOwner>,
    /// Connections whose outbox overflowed while handling the current input; dropped after it.
    too_slow: Vec<ConnId>,
    /// Maps engine `Instant`s to wall-clock milliseconds for clients.
    epoch: (Instant, i64),
}

/// Starts the hub task.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    relay: RelayHandle,
    relay_events: mpsc::UnboundedReceiver<RelayEvent>,
    ring_timeout: Duration,
    stats: Arc<SignalingStats>,
) -> HubHandle {
    let (inputs, rx) = mpsc::channel(4096);
    let hub = Hub {
        store,
        relay,
        engine: Engine::new(EngineConfig::default().with_ring_timeout(ring_timeout)),
        stats,
        conns: HashMap::new(),
        agents: HashMap::new(),
        calls: HashMap::new(),
        legs: HashMap::new(),
        too_slow: Vec::new(),
        epoch: (Instant::now(), crate::clock::now_ms()),
    };
    tokio::spawn(hub.run(rx, relay_events));
    HubHandle { inputs }
}

impl Hub {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<HubInput>,
        mut relay_events: mpsc::UnboundedReceiver<RelayEvent>,
    ) {
        loop {
            let deadline = self.engine.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(HubInput::Shutdown { done }) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(input) => self.handle_input(input).await,
                    None => return,
                },
                Some(event) = relay_events.recv() => self.handle_relay_event(event).await,
                _ = sleep_until(deadline) => {
                    self.engine.handle_timeout(Instant::now());
                    self.carry_out().await;
                }
            }
            self.drop_slow_connections().await;
            self.publish_gauges();
        }
    }

    async fn handle_input(&mut self, input: HubInput) {
        match input {
            HubInput::Connected { conn, identity, outbox, kick } => {
                self.connected(conn, identity, outbox, kick).await
            }
            HubInput::Resumed { conn, citizen_id, citizen_token } => {
                self.resumed(conn, citizen_id, citizen_token)
            }
            HubInput::Message { conn, message } => {
                let request = message.type_name();
                if let Err((code, text)) = self.handle_message(conn, message).await {
                    self.stats.client_errors.fetch_add(1, Ordering::Relaxed);
                    self.send(conn, ServerMessage::error(code, text, Some(request)));
                }
            }
            HubInput::SignedOut { user_id } => {
                let agent = AgentId(user_id);
                if let Some(conn) = self.agents.get(&agent).map(|p| p.conn) {
                    self.send(
                        conn,
                        ServerMessage::error(ErrorCode::SessionExpired, "signed out", None),
                    );
                    // Forgetting the connection drops its outbox: the writer closes the socket.
                    self.disconnected(conn).await;
                }
            }
            HubInput::Disconnected { conn } => self.disconnected(conn).await,
            HubInput::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    async fn connected(
        &mut self,
        conn: ConnId,
        identity: Identity,
        outbox: mpsc::Sender<ServerMessage>,
        kick: oneshot::Sender<()>,
    ) {
        if let Identity::Agent { user } = &identity {
            let agent = AgentId(user.id.clone());
            // The newest connection of an agent wins (a reloaded console); the old one is
            // logged out first.
            if let Some(old) = self.agents.get(&agent).map(|p| p.conn) {
                self.send(
                    old,
                    ServerMessage::error(
                        ErrorCode::SessionExpired,
                        "this agent signed in from another window",
                        None,
                    ),
                );
                self.disconnected(old).await;
            }
            if let Err(e) = self.engine.handle_input(
                Instant::now(),
                voicedesk_queue_engine::Input::AgentLoggedIn { agent: agent.clone() },
            ) {
                tracing::warn!(%agent, error = %e, "agent login refused by the engine");
            }
            self.agents.insert(
                agent,
                AgentPresence {
                    conn,
                    display_name: user.display_name.clone(),
                    leg: None,
                    leg_connected: false,
                },
            );
        }
        self.conns.insert(conn, Conn { identity, outbox, _kick: kick, call: None });
        self.carry_out().await;
    }

    fn resumed(&mut self, conn: ConnId, citizen_id: String, citizen_token: String) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.call.is_some() {
            self.send(
                conn,
                ServerMessage::error(
                    ErrorCode::InvalidState,
                    "cannot resume another identity during a call",
                    Some("resume"),
                ),
            );
            return;
        }
        c.identity = Identity::Citizen { citizen_id };
        self.send(conn, ServerMessage::Resumed { citizen_token });
    }

    async fn disconnected(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else { return };
        match c.identity {
            Identity::Citizen { .. } => {
                if let Some(call) = c.call {
                    self.citizen_left(&call).await;
                }
            }
            Identity::Agent { user } => {
                let agent = AgentId(user.id);
                if self.agents.get(&agent).is_some_and(|p| p.conn == conn) {
                    let _ = self.engine.handle_input(
                        Instant::now(),
                        voicedesk_queue_engine::Input::AgentLoggedOut { agent: agent.clone() },
                    );
                    self.carry_out().await;
                    if let Some(presence) = self.agents.remove(&agent)
                        && let Some(leg) = presence.leg
                    {
                        self.legs.remove(&leg);
                        let _ = self.relay.close_leg(leg).await;
                    }
                }
            }
        }
    }

    /// Queues a message for a connection; a full outbox marks the connection too slow.
    fn send(&mut self, conn: ConnId, message: ServerMessage) {
        let Some(c) = self.conns.get(&conn) else { return };
        match c.outbox.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(?conn, "outgoing queue full; dropping the connection");
                self.too_slow.push(conn);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    async fn drop_slow_connections(&mut self) {
        while let Some(conn) = self.too_slow.pop() {
            // Dropping the outbox ends the connection's writer, which closes the socket.
            self.disconnected(conn).await;
        }
    }

    fn publish_gauges(&self) {
        self.stats.queue_length.store(
            (self.engine.queue_len() + self.engine.ringing_count()) as i64,
            Ordering::Relaxed,
        );
        self.stats.active_calls.store(self.calls.len() as i64, Ordering::Relaxed);
    }

    /// Converts an engine instant into Unix epoch milliseconds.
    fn wall_ms(&self, at: Instant) -> u64 {
        let (base_instant, base_ms) = self.epoch;
        let ms = if at >= base_instant {
            base_ms + at.duration_since(base_instant).as_millis() as i64
        } else {
            base_ms - base_instant.duration_since(at).as_millis() as i64
        };
        ms.max(0) as u64
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
