//! The hub: one task that owns the queueing engine, every connection's outbox, the calls, the
//! signed-in agents and staff, and which media leg belongs to whom.
//!
//! WebSocket handlers and the relay talk to it only through messages ([`HubInput`], relay
//! events), so every call state change happens in one place, in order. The engine decides
//! (pure); the hub carries the decisions out: it writes the record, re-routes the relay and
//! tells each side. A record step is committed before any client hears of it; an audited
//! support action is committed before it takes effect.
//!
//! - `calls.rs`: client messages, the citizen's call, the engine's commands, ending calls.
//! - `queueing.rs`: the catalogue in the engine (queues, calendar, agents' skills), transfer,
//!   wrap-up, and the agents' queue status.
//! - `reconnect.rs`: lost connections: parking a waiting call, keeping an answered call for the
//!   grace period, and a new offer that replaces a side's media leg.
//! - `media.rs`: headsets (agents' and staff's one media connection) and relay events.
//! - `support.rs`: staff joining calls in a mode, help requests, take over.
//! - `wallboard.rs`: the live figures pushed to staff.

mod calls;
mod fallback;
mod media;
mod queueing;
mod reconnect;
mod support;
mod wallboard;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use voicedesk_media_relay::{LegId, RelayEvent, RelayHandle};
use voicedesk_protocol::{EndReason, ErrorCode, Role, ServerMessage, SupportMode, UserInfo};
use voicedesk_queue_engine::{AgentId, CallId, ClockAnchor, Engine, EngineConfig, Input};
use voicedesk_store::Store;

use crate::ServerConfig;
use crate::catalogue::Routing;
use crate::metrics::SignalingStats;

/// The away reason the hub sets for an agent whose headset is gone (like the engine's own
/// `missed_calls`, agents do not pick it).
pub(crate) const HEADSET_AWAY_REASON: &str = "headset_disconnected";

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
    /// A signed-in agent, staff member or admin; `user.role` says which.
    Member {
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
    /// Another connection still carrying a call of that identity is closed: the newest wins.
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
        message: voicedesk_protocol::ClientMessage,
    },
    /// An admin changed the catalogue (services, skills, agents' skills, holidays): reload it
    /// into the engine.
    CatalogueChanged,
    /// A user signed out (or was signed out): their open connection ends now.
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
    /// Citizen: the self-service conversation, messages and ratings on this connection.
    citizen: fallback::CitizenSide,
}

/// A signed-in agent or staff member.
struct Member {
    conn: ConnId,
    name: String,
    role: Role,
    /// The headset leg, kept for the whole session (like a headset plugged in).
    leg: Option<LegId>,
    /// ICE and DTLS of the headset are up.
    leg_connected: bool,
    /// Staff: the call this member supports (one at a time: one headset).
    supporting: Option<CallId>,
    /// Agent: the calls handled in this session that may still be wrapped up, newest last.
    handled: Vec<CallId>,
    /// Agent: the queue status last sent, to push only changes.
    queue_status: Vec<voicedesk_protocol::QueueSummary>,
}

/// A staff member on a call.
#[derive(Debug, Clone)]
struct Support {
    user_id: String,
    mode: SupportMode,
}

/// An agent's open request for help.
#[derive(Debug, Clone)]
struct HelpRequest {
    reason: String,
    at_ms: i64,
}

/// A call between its arrival and its end.
struct ActiveCall {
    /// The citizen's connection; while parked or lost, possibly the one that went away (sends
    /// to it are dropped).
    citizen_conn: ConnId,
    /// The citizen's media leg; `None` while parked or lost (until a new offer).
    citizen_leg: Option<LegId>,
    /// The citizen's anonymous identity: a reconnect with it may rejoin a parked call.
    citizen_id: String,
    /// The citizen's connection (or media) dropped while waiting; the engine keeps the place
    /// and the media leg is closed until `rejoin_call`.
    parked: bool,
    service: Option<String>,
    /// The queue it waits (or waited) in.
    skill: String,
    /// Transfers so far.
    transfers: u32,
    /// The citizen's conversation with the self-service assistant, shown to the agent.
    transcript: Vec<voicedesk_protocol::TranscriptLine>,
    queued_at_ms: i64,
    answered_at_ms: Option<i64>,
    /// The agent it rings at or talks to; `None` after a take over.
    agent: Option<AgentId>,
    /// Bridged in the relay.
    connected: bool,
    /// Staff on the call, in joining order.
    supporters: Vec<Support>,
    /// The staff member who took the call over; from then on the engine no longer knows it.
    taken_over_by: Option<String>,
    /// The agent asked for help.
    help: Option<HelpRequest>,
    /// The supporters the citizen was last told about (only those the citizen hears).
    citizen_heard: Vec<voicedesk_protocol::Supporter>,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// It closed, dropped, was too slow, or a newer one replaced it: an agent's call in
    /// progress waits for the agent's return.
    Dropped,
    /// The user signed out: whatever they had ends now.
    SignedOut,
}

/// Whose a media leg is.
#[derive(Debug, Clone)]
enum LegOwner {
    Citizen(CallId),
    Member(String),
}

/// The hub's state. See the module documentation.
pub(crate) struct Hub {
    store: Arc<dyn Store>,
    /// The self-service assistant's knowledge base (shared with the admin API).
    knowledge: Arc<voicedesk_knowledge::KnowledgeBase>,
    relay: RelayHandle,
    engine: Engine,
    /// Services → queues, and the queues' settings, from the catalogue.
    routing: Routing,
    /// Where voice messages are stored, and their longest length.
    voice_dir: std::path::PathBuf,
    voice_max: Duration,
    /// Messages one citizen may leave in 24 hours (`RateLimits::messages_per_citizen_per_day`).
    messages_per_citizen: u32,
    /// Local time offset and demo "always open", for rebuilding `routing`.
    utc_offset_minutes: i32,
    always_open: bool,
    stats: Arc<SignalingStats>,
    conns: HashMap<ConnId, Conn>,
    /// Agents and staff by user id.
    members: HashMap<String, Member>,
    calls: HashMap<CallId, ActiveCall>,
    legs: HashMap<LegId, LegOwner>,
    /// Sides of answered calls whose connection is lost, with the end of their grace period
    /// (see `reconnect.rs`).
    lost: BTreeMap<(CallId, reconnect::Side), Instant>,
    /// Agents who just left a call; those whose console is gone are signed out after the
    /// current input.
    freed_agents: Vec<String>,
    /// Connections whose outbox overflowed while handling the current input; dropped after it.
    too_slow: Vec<ConnId>,
    /// Maps engine `Instant`s to wall-clock milliseconds for clients.
    epoch: (Instant, i64),
    wallboard: wallboard::WallboardState,
}

/// Starts the hub task.
pub(crate) async fn spawn(
    store: Arc<dyn Store>,
    relay: RelayHandle,
    relay_events: mpsc::UnboundedReceiver<RelayEvent>,
    config: &ServerConfig,
    knowledge: Arc<voicedesk_knowledge::KnowledgeBase>,
    stats: Arc<SignalingStats>,
) -> HubHandle {
    let (inputs, rx) = mpsc::channel(4096);
    let wallboard = wallboard::WallboardConfig {
        service_level_seconds: config.service_level_seconds,
        utc_offset_minutes: config.utc_offset_minutes,
    };
    let wallboard = wallboard::WallboardState::load(wallboard, store.as_ref()).await;
    let engine_config = EngineConfig::default()
        .with_ring_timeout(config.ring_timeout)
        .with_after_call_work(config.after_call_work)
        .with_max_missed_offers(config.max_missed_offers)
        .with_reconnect_grace(config.reconnect_grace)
        .with_away_reasons(
            EngineConfig::DEFAULT_AWAY_REASONS.iter().copied().chain([HEADSET_AWAY_REASON]),
        );
    let anchor = ClockAnchor { instant: Instant::now(), unix_ms: crate::clock::now_ms() };
    let mut hub = Hub {
        store,
        knowledge,
        relay,
        engine: Engine::new(engine_config, anchor),
        routing: Routing::default(),
        utc_offset_minutes: config.utc_offset_minutes,
        always_open: config.always_open,
        voice_dir: config.voice_dir.clone(),
        voice_max: config.voice_message_max,
        messages_per_citizen: config.limits.messages_per_citizen_per_day,
        stats,
        conns: HashMap::new(),
        members: HashMap::new(),
        calls: HashMap::new(),
        legs: HashMap::new(),
        lost: BTreeMap::new(),
        freed_agents: Vec::new(),
        too_slow: Vec::new(),
        epoch: (Instant::now(), crate::clock::now_ms()),
        wallboard,
    };
    hub.reload_catalogue().await;
    tokio::spawn(hub.run(rx, relay_events));
    HubHandle { inputs }
}

impl Hub {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<HubInput>,
        mut relay_events: mpsc::UnboundedReceiver<RelayEvent>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.engine.poll_timeout().map(tokio::time::Instant::from_std);
            let grace = self.next_grace_deadline().map(tokio::time::Instant::from_std);
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
                _ = sleep_until(grace) => self.grace_expired(Instant::now()).await,
                _ = tick.tick() => {
                    self.wallboard_tick();
                    self.push_queue_status();
                    continue;
                }
            }
            self.drop_slow_connections().await;
            self.after_agents_freed().await;
            self.publish_gauges();
            self.wallboard.dirty = true;
        }
    }

    async fn handle_input(&mut self, input: HubInput) {
        match input {
            HubInput::Connected { conn, identity, outbox, kick } => {
                self.connected(conn, identity, outbox, kick).await
            }
            HubInput::Resumed { conn, citizen_id, citizen_token } => {
                self.resumed(conn, citizen_id, citizen_token).await
            }
            HubInput::Message { conn, message } => {
                let request = message.type_name();
                if let Err((code, text)) = self.handle_message(conn, message).await {
                    self.stats.client_errors.fetch_add(1, Ordering::Relaxed);
                    self.send(conn, ServerMessage::error(code, text, Some(request)));
                }
            }
            HubInput::CatalogueChanged => self.reload_catalogue().await,
            HubInput::SignedOut { user_id } => {
                let Some((conn, role)) = self.members.get(&user_id).map(|m| (m.conn, m.role))
                else {
                    return;
                };
                if self.conns.contains_key(&conn) {
                    let expired =
                        ServerMessage::error(ErrorCode::SessionExpired, "signed out", None);
                    self.send(conn, expired);
                    // Forgetting the connection drops its outbox: the writer closes the socket.
                    self.disconnected(conn, Departure::SignedOut).await;
                } else {
                    // A console lost during a call, waited for: signing out ends the wait.
                    self.member_gone(&user_id, role, None).await;
                }
            }
            HubInput::Disconnected { conn } => self.disconnected(conn, Departure::Dropped).await,
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
        let mut reattached = None;
        if let Identity::Member { user } = &identity {
            // The newest connection of a member wins (a reloaded console); the old one is
            // dropped first.
            if let Some(old) = self.members.get(&user.id).map(|m| m.conn)
                && self.conns.contains_key(&old)
            {
                let replaced = ServerMessage::error(
                    ErrorCode::SessionExpired,
                    "signed in from another window",
                    None,
                );
                self.send(old, replaced);
                self.disconnected(old, Departure::Dropped).await;
            }
            if let Some(m) = self.members.get_mut(&user.id) {
                // Still there: an agent whose console was lost during a call, waited for. This
                // connection takes the call back (the engine never saw the agent leave).
                m.conn = conn;
                m.queue_status.clear();
                reattached = Some(user.id.clone());
            } else if user.role == Role::Agent {
                let agent = AgentId(user.id.clone());
                let skills = self.agent_skills(&user.id).await;
                if let Err(e) =
                    self.engine.handle_input(Instant::now(), Input::AgentLoggedIn { agent, skills })
                {
                    tracing::warn!(user = %user.username, error = %e, "agent login refused by the engine");
                }
            }
            if reattached.is_none() {
                self.members.insert(
                    user.id.clone(),
                    Member {
                        conn,
                        name: user.display_name.clone(),
                        role: user.role,
                        leg: None,
                        leg_connected: false,
                        supporting: None,
                        handled: Vec::new(),
                        queue_status: Vec::new(),
                    },
                );
            }
        }
        let is_staff = matches!(&identity, Identity::Member { user } if user.role.is_staff());
        let citizen = fallback::CitizenSide::default();
        self.conns.insert(conn, Conn { identity, outbox, _kick: kick, call: None, citizen });
        self.carry_out().await;
        if is_staff {
            let board = self.wallboard_snapshot();
            self.send(conn, ServerMessage::Wallboard(board));
        }
        if let Some(user_id) = reattached {
            self.agent_reattached(&user_id, conn);
        }
    }

    async fn resumed(&mut self, conn: ConnId, citizen_id: String, citizen_token: String) {
        let Some(c) = self.conns.get(&conn) else { return };
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
        // The newest connection wins: one the server still holds for a call of this identity
        // (a reload or a network change noticed here first) is dropped, as if it had closed.
        let stale: Vec<ConnId> = self
            .calls
            .values()
            .filter(|c| c.citizen_id == citizen_id && c.citizen_conn != conn)
            .map(|c| c.citizen_conn)
            .filter(|old| self.conns.contains_key(old))
            .collect();
        for old in stale {
            let replaced = ServerMessage::error(
                ErrorCode::SessionExpired,
                "this session was resumed on another connection",
                None,
            );
            self.send(old, replaced);
            self.disconnected(old, Departure::Dropped).await;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.identity = Identity::Citizen { citizen_id: citizen_id.clone() };
        }
        let parked_call = self.parked_call_of(&citizen_id);
        let active_call = self.active_call_of(&citizen_id);
        self.send(conn, ServerMessage::Resumed { citizen_token, parked_call, active_call });
    }

    async fn disconnected(&mut self, conn: ConnId, departure: Departure) {
        self.citizen_gone(conn).await;
        let Some(c) = self.conns.remove(&conn) else { return };
        match c.identity {
            Identity::Citizen { .. } => {
                if let Some(call) = c.call {
                    self.citizen_connection_lost(&call).await;
                }
            }
            Identity::Member { user } => {
                if self.members.get(&user.id).is_none_or(|m| m.conn != conn) {
                    return;
                }
                // An agent's console lost during a call: the call waits for the agent.
                if departure == Departure::Dropped
                    && user.role == Role::Agent
                    && let Some(call) = self.member_call(&user.id)
                {
                    self.agent_detached(&user.id, &call).await;
                    return;
                }
                self.member_gone(&user.id, user.role, None).await;
            }
        }
    }

    /// An agent or staff member leaves for good: the engine logs the agent out (a call in
    /// progress ends, as `end_override` if given, else `agent_disconnected`), staff leave
    /// their call, the headset is closed.
    pub(super) async fn member_gone(
        &mut self,
        user_id: &str,
        role: Role,
        end_override: Option<EndReason>,
    ) {
        if role == Role::Agent {
            let agent = AgentId(user_id.to_owned());
            let _ = self.engine.handle_input(Instant::now(), Input::AgentLoggedOut { agent });
            self.carry_out_with(end_override).await;
        } else {
            self.staff_gone(user_id, "disconnected").await;
        }
        if let Some(leg) = self.members.remove(user_id).and_then(|m| m.leg) {
            self.legs.remove(&leg);
            let _ = self.relay.close_leg(leg).await;
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

    /// Sends to a member by user id, if signed in.
    fn send_to_member(&mut self, user_id: &str, message: ServerMessage) {
        if let Some(conn) = self.members.get(user_id).map(|m| m.conn) {
            self.send(conn, message);
        }
    }

    async fn drop_slow_connections(&mut self) {
        while let Some(conn) = self.too_slow.pop() {
            // Dropping the outbox ends the connection's writer, which closes the socket.
            self.disconnected(conn, Departure::Dropped).await;
        }
    }

    /// Agents who just left a call: one whose console was lost meanwhile is signed out
    /// (nobody is there to take the next call); one whose headset is not back is set away
    /// (the next call could not be bridged).
    async fn after_agents_freed(&mut self) {
        while let Some(user_id) = self.freed_agents.pop() {
            if self.member_call(&user_id).is_some() {
                continue;
            }
            let Some((conn, role, headset_up)) =
                self.members.get(&user_id).map(|m| (m.conn, m.role, m.leg_connected))
            else {
                continue;
            };
            if !self.conns.contains_key(&conn) {
                tracing::info!(agent = %user_id, "call over while the agent's console was gone; signed out");
                self.member_gone(&user_id, role, None).await;
            } else if !headset_up && role == Role::Agent {
                let away = Input::AgentAway {
                    agent: AgentId(user_id),
                    reason: Some(HEADSET_AWAY_REASON.into()),
                };
                let _ = self.engine.handle_input(Instant::now(), away);
                self.carry_out().await;
            }
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
