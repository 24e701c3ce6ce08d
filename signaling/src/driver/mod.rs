//! The thin async driver around the call-center core (`voicedesk-call-center`).
//!
//! One task owns the [`CallCenter`]. It feeds it inputs — WebSocket events, relay events, the
//! answers of earlier effects, timeouts — with the wall-clock time, and carries out the effects
//! it returns, **without awaiting any of them on the decision path**:
//!
//! - messages to clients go into each connection's bounded outbox (a full outbox drops the
//!   connection as too slow, and the core is told);
//! - writes of call records (the call, its audit entries and wrap-ups) go to a few writer tasks
//!   ([`writers_for`]): each takes every write queued for it and commits them in one
//!   transaction (group commit), so a burst of a thousand calls costs a few commits, not a
//!   thousand; one call's writes always go to the same writer, in the order the core emitted
//!   them; other store operations (messages, ratings, lookups) run on their own tasks at once.
//!   Each answer comes back to the core as an input, which decides what the client is told (the
//!   core emits a record's acknowledgement only after its write came back `Ok`);
//! - legs to create and recordings to start go to the relay concurrently, their answers come
//!   back as inputs; routing changes, hold and closing legs go to one ordered relay queue whose
//!   failures come back as inputs;
//! - the assistant's searches run on the blocking pool and come back as inputs;
//! - the one wait in the loop: an admin's catalogue change is read from the store before the
//!   next input, so a call placed after the change was acknowledged is routed by it;
//! - reports are logged, and invariant violations counted in `/metrics`.
//!
//! Every step reaches the core through a [`sequencer::Sequencer`]: alone, at once; in a
//! cluster, through the replicated log, and only the leader carries the effects out
//! (`crate::cluster`, [`takeover`]).
//!
//! Nothing here decides: every rule is in the core.

mod effects;
pub mod sequencer;
mod store_ops;
mod takeover;
mod timing;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use voicedesk_call_center::{
    CallCenter, CoreConfig, CoreStats, DayCounts, Input, LegEnd, LegId, SkillId, UnixMs,
    WallboardConfig,
};
use voicedesk_media_relay::{LegEndReason, RelayEvent, RelayHandle};
use voicedesk_protocol::{Role, ServerMessage, UserInfo};
use voicedesk_queue_engine::EngineConfig;
use voicedesk_store::Store;

pub use voicedesk_call_center::ConnId;

use crate::ServerConfig;
use crate::clock::now_ms;
use crate::metrics::SignalingStats;

/// How many group-commit writers a store gets: SQLite has one writer at a time anyway (more
/// would only wait for its lock); Postgres commits concurrently, and four writers keep its
/// connections busy while the next groups gather.
pub(crate) fn writers_for(store: &dyn Store) -> usize {
    match store.backend() {
        "sqlite" => 1,
        _ => 4,
    }
}

/// Who is behind a connection, as authenticated by the WebSocket handler.
#[derive(Debug, Clone)]
pub enum Identity {
    /// An anonymous citizen; `citizen_id` is derived from the session token.
    Citizen {
        /// Stable opaque id of the citizen's session.
        citizen_id: String,
    },
    /// A signed-in agent, staff member or admin.
    Member {
        /// The user.
        user: UserInfo,
        /// An agent's skills (read by the handler before the connection is handed in).
        skills: BTreeMap<SkillId, u8>,
        /// An agent's chat capacity as an admin set it (`None`: the default).
        chat_capacity: Option<u8>,
    },
}

/// What the driver is told by the HTTP side.
pub enum DriverInput {
    /// A connection opened; messages for it go into `outbox`.
    Connected {
        /// The connection.
        conn: ConnId,
        /// Who it is.
        identity: Identity,
        /// Its bounded outgoing queue.
        outbox: mpsc::Sender<ServerMessage>,
        /// Dropped when the core closes the connection: the handler stops reading.
        kick: oneshot::Sender<()>,
    },
    /// A citizen connection proved an earlier identity (the token was checked).
    Resumed {
        /// The connection.
        conn: ConnId,
        /// The earlier identity.
        citizen_id: String,
        /// The token to echo.
        citizen_token: String,
    },
    /// A decoded client message.
    Message {
        /// From whom.
        conn: ConnId,
        /// What.
        message: voicedesk_protocol::ClientMessage,
    },
    /// An admin changed the catalogue: it is read again and handed to the core.
    CatalogueChanged,
    /// A user signed out (or was signed out).
    SignedOut {
        /// The user.
        user_id: String,
    },
    /// A user to sign out once free (account disabled, password reset, sessions ended): an
    /// agent on an answered call finishes it first.
    SignOutWhenFree {
        /// The user.
        user_id: String,
    },
    /// The connection closed.
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// The core's state digest and the last log record applied (0 alone), for comparing a
    /// standby with its leader.
    Digest {
        /// Answered with `(applied record, digest)`.
        reply: oneshot::Sender<(u64, String)>,
    },
    /// End every call (recorded as `server_shutdown`) and stop. A cluster node stops without
    /// ending any: the other nodes go on with them.
    Shutdown {
        /// Answered when every call is ended and recorded.
        done: oneshot::Sender<()>,
    },
}

impl Identity {
    /// The core's identity, and the chat capacity an admin set for the member (fed to the core
    /// after the connection, for an agent: [`Driver::connected`]).
    pub(crate) fn into_core(self) -> (voicedesk_call_center::Identity, Option<u8>) {
        match self {
            Identity::Citizen { citizen_id } => {
                (voicedesk_call_center::Identity::Citizen { citizen_id }, None)
            }
            Identity::Member { user, skills, chat_capacity } => {
                (voicedesk_call_center::Identity::Member { user, skills }, chat_capacity)
            }
        }
    }
}

/// Sends inputs to the driver — in a cluster, the inputs of connections, sign-outs and
/// catalogue changes to the leader's, through this node's gateway.
#[derive(Clone)]
pub struct DriverHandle {
    inputs: mpsc::Sender<DriverInput>,
    gateway: Option<Arc<crate::gateway::Gateway>>,
}

impl DriverHandle {
    /// Queues an input; false if the driver has stopped (or, in a cluster, a connection
    /// cannot be served: no leader is known).
    pub async fn send(&self, input: DriverInput) -> bool {
        match (&self.gateway, input) {
            (_, input @ (DriverInput::Digest { .. } | DriverInput::Shutdown { .. }))
            | (None, input) => self.inputs.send(input).await.is_ok(),
            (Some(gateway), input) => gateway.forward(input).await,
        }
    }

    /// Ends every call and stops the driver; returns when that is done. A cluster node's
    /// gateway closes its connections (their clients resume at another node).
    pub async fn shutdown(&self) {
        if let Some(gateway) = &self.gateway {
            gateway.close_all("the node stops");
        }
        let (done, rx) = oneshot::channel();
        if self.inputs.send(DriverInput::Shutdown { done }).await.is_ok() {
            // The driver answers once every call is ended and recorded; a dropped sender
            // means it stopped first, which is the same for the caller.
            rx.await.unwrap_or(());
        }
    }
}

/// A connection's outgoing side.
enum Outbox {
    /// Terminated by this process (alone).
    Local {
        tx: mpsc::Sender<ServerMessage>,
        /// Dropping it ends the connection's handler.
        _kick: oneshot::Sender<()>,
    },
    /// Terminated by a gateway (a cluster; this node leads): its messages go there.
    Remote {
        /// The gateway's node.
        node: String,
        /// Its boot id: a gateway lost or restarted loses its connections.
        boot: u64,
        /// The number of the next input expected from the gateway (`Connected` was 0).
        next_in: u64,
        /// The number of the next message to it.
        next_out: u64,
    },
}

/// The driver's state: the core, and the handles its effects need.
pub(crate) struct Driver {
    core: CallCenter,
    store: Arc<dyn Store>,
    relay: RelayHandle,
    knowledge: Arc<voicedesk_knowledge::KnowledgeBase>,
    voice_dir: std::path::PathBuf,
    utc_offset_minutes: i32,
    always_open: bool,
    stats: Arc<SignalingStats>,
    outboxes: HashMap<ConnId, Outbox>,
    /// Answers of effects, back to the loop.
    results: mpsc::UnboundedSender<Input>,
    /// The ordered relay command queue.
    relay_commands: mpsc::UnboundedSender<voicedesk_call_center::RelayCommand>,
    /// The group-commit writers of call records.
    writers: Vec<mpsc::UnboundedSender<effects::StoreJob>>,
    /// Effects whose answers are still out (shutdown waits for them).
    outstanding: Arc<std::sync::atomic::AtomicUsize>,
    /// The core's counters last published.
    published: CoreStats,
    /// `poll_timeout` is in Unix ms; tokio sleeps on its own clock from this pair.
    epoch: (tokio::time::Instant, i64),
    /// Who orders the steps: at once, or the cluster's log.
    sequencer: sequencer::Sequencer,
    /// This node carries effects out: always alone; in a cluster, while it leads.
    leading: bool,
    /// A `Timeout` was submitted and not applied yet: not submitted again meanwhile.
    timeout_submitted: bool,
    /// The settings the core is built from again by a log's `Start`.
    core_config: CoreConfig,
    /// The core was built by a `Start` of the log (a cluster's first leader writes one).
    started_from_log: bool,
    /// Effects awaiting answers, for a takeover.
    open_ops: takeover::OpenOps,
    /// Entries of a takeover not applied yet: their relay commands are not sent.
    takeover_left: usize,
    /// The last log record applied (cluster), for [`DriverInput::Digest`].
    applied_seq: u64,
    /// Inputs produced while carrying effects out, fed once they are all handed out.
    follow_ups: Vec<Input>,
    /// Connections whose outbox was full, dropped once the effects are handed out.
    too_slow: Vec<ConnId>,
    /// After a takeover: when the old leader's consoles that did not come back are closed.
    foreign_grace: Option<tokio::time::Instant>,
    /// The reconnect grace (also the consoles' grace after a takeover).
    reconnect_grace: Duration,
    /// Set-up steps being timed for `/metrics`.
    timing: timing::Timing,
    /// A cluster's gateways: their inputs come from it while this node leads, and the
    /// messages of their connections go through it.
    link: Option<crate::gateway::LeaderLink>,
}

fn now() -> UnixMs {
    UnixMs(now_ms())
}

/// Ends the chats left open (by a crash, or a shutdown that could not write their end) as
/// `server_shutdown`: a core that starts knows no chat, so none can go on. Their texts stay.
pub(crate) async fn end_open_chats(store: &dyn Store) {
    let reason = voicedesk_protocol::EndReason::ServerShutdown.as_str();
    let open = match store.open_chats().await {
        Ok(open) => open,
        Err(e) => {
            tracing::error!(error = %e, "could not read open chats");
            return;
        }
    };
    for chat in &open {
        if let Err(e) = store.end_chat(&chat.id, reason, now_ms()).await {
            tracing::error!(chat = %chat.id, error = %e, "could not end an open chat");
        }
    }
    if !open.is_empty() {
        tracing::warn!(n = open.len(), "ended chats left open");
    }
}

/// Reads the catalogue and the signed-in agents' skills into an [`Input::Catalogue`].
async fn catalogue_input(
    store: &Arc<dyn Store>,
    agents: Vec<String>,
    utc_offset_minutes: i32,
    always_open: bool,
) -> Option<Input> {
    let catalogue = match store.catalogue().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not read the catalogue; routing unchanged");
            return None;
        }
    };
    let routing = crate::catalogue::routing(&catalogue, utc_offset_minutes, always_open);
    let mut agent_skills = BTreeMap::new();
    for user_id in agents {
        let skills = agent_skills_of(store.as_ref(), &user_id).await;
        agent_skills.insert(user_id, skills);
    }
    Some(Input::Catalogue { routing, agent_skills })
}

/// An agent's skills from the store (none if they cannot be read: the agent gets no calls
/// rather than the wrong ones).
pub(crate) async fn agent_skills_of(store: &dyn Store, user_id: &str) -> BTreeMap<SkillId, u8> {
    match store.agent_skills(user_id).await {
        Ok(skills) => skills
            .into_iter()
            .map(|s| (SkillId(s.skill_id), u8::try_from(s.level.clamp(1, 10)).unwrap_or(1)))
            .collect(),
        Err(e) => {
            tracing::error!(agent = user_id, error = %e, "could not read the agent's skills");
            BTreeMap::new()
        }
    }
}

/// Starts the driver task.
pub(crate) async fn spawn(
    store: Arc<dyn Store>,
    relay: RelayHandle,
    relay_events: mpsc::UnboundedReceiver<RelayEvent>,
    config: &ServerConfig,
    knowledge: Arc<voicedesk_knowledge::KnowledgeBase>,
    stats: Arc<SignalingStats>,
    mode: Mode,
) -> DriverHandle {
    let (sequencer, gateways) = match mode {
        Mode::Alone => (sequencer::Sequencer::Local, None),
        Mode::Cluster { replicated, gateways } => {
            (sequencer::Sequencer::Replicated(replicated), Some(gateways))
        }
    };
    let (inputs, rx) = mpsc::channel(4096);
    let started = now();
    let today =
        today_counts(store.as_ref(), config.utc_offset_minutes, config.service_level_seconds).await;
    let engine = EngineConfig::default()
        .with_ring_timeout(config.ring_timeout)
        .with_after_call_work(config.after_call_work)
        .with_max_missed_offers(config.max_missed_offers)
        .with_reconnect_grace(config.reconnect_grace);
    let mut core_config = CoreConfig::new(engine, rand::random());
    core_config.wallboard = WallboardConfig {
        service_level_seconds: config.service_level_seconds,
        service_level_target_pct: config.service_level_target_pct,
        utc_offset_minutes: config.utc_offset_minutes,
        today,
    };
    core_config.voice_max = config.voice_message_max;
    core_config.messages_per_citizen_per_day = config.limits.messages_per_citizen_per_day;
    let core = CallCenter::new(core_config.clone(), started, Instant::now());
    let leading = !sequencer.is_replicated();
    timing::start_series(&stats.histograms);
    let (results, results_rx) = mpsc::unbounded_channel();
    let outstanding = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let relay_commands =
        effects::spawn_relay_queue(relay.clone(), results.clone(), outstanding.clone());
    let writers = (0..writers_for(store.as_ref()))
        .map(|_| {
            effects::spawn_writer(
                store.clone(),
                relay.clone(),
                config.voice_dir.clone(),
                results.clone(),
                outstanding.clone(),
            )
        })
        .collect();
    let mut driver = Driver {
        core,
        store,
        relay,
        knowledge,
        voice_dir: config.voice_dir.clone(),
        utc_offset_minutes: config.utc_offset_minutes,
        always_open: config.always_open,
        stats,
        outboxes: HashMap::new(),
        results,
        relay_commands,
        writers,
        outstanding,
        published: CoreStats::default(),
        epoch: (tokio::time::Instant::now(), started.0),
        sequencer,
        leading,
        timeout_submitted: false,
        core_config,
        started_from_log: false,
        open_ops: takeover::OpenOps::default(),
        takeover_left: 0,
        applied_seq: 0,
        follow_ups: Vec::new(),
        too_slow: Vec::new(),
        foreign_grace: None,
        reconnect_grace: config.reconnect_grace,
        timing: timing::Timing::default(),
        link: None,
    };
    let (gateway, forwarded) = match gateways {
        Some(Gateways { gateway, link, forwarded }) => {
            driver.link = Some(link);
            (Some(gateway), Some(forwarded))
        }
        None => (None, None),
    };
    // A cluster's core gets its catalogue from the log, or reads it when it takes over.
    if leading
        && let Some(input) = catalogue_input(
            &driver.store,
            Vec::new(),
            driver.utc_offset_minutes,
            driver.always_open,
        )
        .await
    {
        driver.feed(input);
    }
    tokio::spawn(driver.run(rx, results_rx, relay_events, forwarded));
    DriverHandle { inputs, gateway }
}

/// One process alone, or one node of a cluster: the one place the driver is told which.
#[allow(clippy::large_enum_variant)] // made once per process
pub(crate) enum Mode {
    /// Every step applied at once; connections are this process's.
    Alone,
    /// Steps ordered by the replicated log; connections forwarded by the gateways.
    Cluster {
        /// The node's end of the log.
        replicated: crate::cluster::Replicated,
        /// Its gateway and the leader's link to every gateway.
        gateways: Gateways,
    },
}

/// A cluster node's gateway and the leader's end of the gateways' link.
pub(crate) struct Gateways {
    /// This node's gateway (where its `/ws` connections go).
    pub(crate) gateway: Arc<crate::gateway::Gateway>,
    /// The leader's end.
    pub(crate) link: crate::gateway::LeaderLink,
    /// The gateways' inputs while this node leads.
    pub(crate) forwarded: mpsc::UnboundedReceiver<crate::gateway::Forwarded>,
}

/// Today's answered and abandoned calls so far by queue, from the store (none if it cannot
/// say), each counted against its queue's service-level time.
async fn today_counts(
    store: &dyn Store,
    utc_offset_minutes: i32,
    service_level_seconds: u32,
) -> BTreeMap<String, DayCounts> {
    let day_start = local_day_start(now_ms(), utc_offset_minutes);
    let threshold = i64::from(service_level_seconds) * 1000;
    match store.call_counts_by_queue_since(day_start, threshold).await {
        Ok(by_queue) => by_queue
            .into_iter()
            .map(|(skill, c)| {
                let counts = DayCounts {
                    answered: c.answered,
                    answered_within: c.answered_within,
                    abandoned: c.abandoned,
                };
                (skill, counts)
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "could not load today's call counts");
            BTreeMap::new()
        }
    }
}

fn local_day_start(now_ms: i64, offset_minutes: i32) -> i64 {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let offset = i64::from(offset_minutes) * 60_000;
    (now_ms + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

impl Driver {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<DriverInput>,
        mut results: mpsc::UnboundedReceiver<Input>,
        mut relay_events: mpsc::UnboundedReceiver<RelayEvent>,
        mut forwarded: Option<mpsc::UnboundedReceiver<crate::gateway::Forwarded>>,
    ) {
        loop {
            // Only the leader times the core out; a standby applies the leader's timeouts.
            let deadline = match self.leading && !self.timeout_submitted {
                true => self.core.poll_timeout().map(|at| self.tokio_instant(at)),
                false => None,
            };
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(DriverInput::Shutdown { done }) => {
                        if self.sequencer.is_replicated() {
                            // The calls go on at the other nodes; this node's clients
                            // reconnect there.
                            self.outboxes.clear();
                            tracing::info!("left the cluster; calls go on at the other nodes");
                        } else {
                            self.shutdown(&mut results).await;
                        }
                        done.send(()).unwrap_or(());
                        return;
                    }
                    Some(DriverInput::Digest { reply }) => {
                        reply.send((self.applied_seq, self.core.state_digest())).unwrap_or(());
                    }
                    // Read before the next input: a call placed after the admin's change was
                    // acknowledged is routed by the new catalogue (a rare, short wait).
                    Some(DriverInput::CatalogueChanged) => self.reload_catalogue().await,
                    Some(input) => self.http_input(input),
                    None => return,
                },
                Some(input) = results.recv() => self.feed(input),
                Some(event) = relay_events.recv() => self.feed(relay_input(event)),
                Some(input) = next_forwarded(&mut forwarded) => self.forwarded(input).await,
                ordered = self.sequencer.next() => self.ordered(ordered).await,
                _ = sleep_until(self.foreign_grace) => {
                    self.foreign_grace = None;
                    if self.leading {
                        self.close_foreign_connections();
                    }
                }
                _ = sleep_until(deadline) => self.submit(sequencer::Step::Timeout),
            }
        }
    }

    fn tokio_instant(&self, at: UnixMs) -> tokio::time::Instant {
        let (base, base_ms) = self.epoch;
        base + Duration::from_millis(u64::try_from(at.0 - base_ms).unwrap_or(0))
    }

    /// A connection opened (here or at a gateway): the core learns who it is, and an agent's
    /// chat capacity as an admin set it.
    fn connected(
        &mut self,
        conn: ConnId,
        identity: voicedesk_call_center::Identity,
        chat_capacity: Option<u8>,
    ) {
        let agent = match &identity {
            voicedesk_call_center::Identity::Member { user, .. } if user.role == Role::Agent => {
                Some(user.id.clone())
            }
            _ => None,
        };
        self.feed(Input::Connected { conn, identity });
        if let Some(user_id) = agent {
            let capacities = BTreeMap::from([(user_id, chat_capacity)]);
            self.feed(Input::ChatCapacities { capacities });
        }
    }

    fn http_input(&mut self, input: DriverInput) {
        match input {
            DriverInput::Connected { conn, identity, outbox, kick } => {
                self.outboxes.insert(conn, Outbox::Local { tx: outbox, _kick: kick });
                let (identity, chat_capacity) = identity.into_core();
                self.connected(conn, identity, chat_capacity);
            }
            DriverInput::Resumed { conn, citizen_id, citizen_token } => {
                self.feed(Input::Resumed { conn, citizen_id, citizen_token })
            }
            DriverInput::Message { conn, message } => self.feed(Input::Client { conn, message }),
            DriverInput::SignedOut { user_id } => self.feed(Input::SignedOut { user_id }),
            DriverInput::SignOutWhenFree { user_id } => {
                self.feed(Input::SignOutWhenFree { user_id })
            }
            DriverInput::Disconnected { conn } => {
                if self.outboxes.contains_key(&conn) {
                    self.feed(Input::Disconnected { conn });
                }
            }
            DriverInput::CatalogueChanged
            | DriverInput::Shutdown { .. }
            | DriverInput::Digest { .. } => {}
        }
    }

    /// An input of a gateway (this node leads): handled as this node's own, with the
    /// connection's messages sent back to its gateway.
    async fn forwarded(&mut self, input: crate::gateway::Forwarded) {
        use crate::gateway::{Forwarded, FromGateway, ToLeader};
        if !self.leading {
            return;
        }
        // A connection's inputs come numbered: one lost on the way (core NATS does not resend)
        // cannot be recovered, so the connection is ended and its client resumes.
        if let Forwarded::Input(FromGateway { seq, input }) = &input
            && let seq = *seq
            && let Some(conn) = input.conn()
            && let Some(Outbox::Remote { next_in, .. }) = self.outboxes.get_mut(&conn)
        {
            if *next_in != seq {
                tracing::warn!(?conn, seq, expected = *next_in, "an input from a gateway was lost");
                self.drop_outbox(conn);
                self.feed(Input::Disconnected { conn });
                return;
            }
            *next_in += 1;
        }
        let input = match input {
            Forwarded::Input(FromGateway { input, .. }) => Ok(input),
            Forwarded::GatewayLost { node, boot } => Err((node, boot)),
        };
        match input {
            Ok(ToLeader::Connected { conn, node, boot, identity, chat_capacity }) => {
                self.outboxes.insert(conn, Outbox::Remote { node, boot, next_in: 1, next_out: 0 });
                self.connected(conn, identity, chat_capacity);
            }
            Ok(ToLeader::Resumed { conn, citizen_id, citizen_token }) => {
                self.feed(Input::Resumed { conn, citizen_id, citizen_token })
            }
            Ok(ToLeader::Message { conn, message }) => self.feed(Input::Client { conn, message }),
            Ok(ToLeader::Disconnected { conn }) => {
                if self.outboxes.contains_key(&conn) {
                    self.feed(Input::Disconnected { conn });
                }
            }
            Ok(ToLeader::SignedOut { user_id }) => self.feed(Input::SignedOut { user_id }),
            Ok(ToLeader::SignOutWhenFree { user_id }) => {
                self.feed(Input::SignOutWhenFree { user_id })
            }
            Ok(ToLeader::CatalogueChanged) => self.reload_catalogue().await,
            Err((node, boot)) => {
                let gone: Vec<ConnId> = self
                    .outboxes
                    .iter()
                    .filter(|(_, out)| {
                        matches!(out, Outbox::Remote { node: n, boot: b, .. } if *n == node && *b == boot)
                    })
                    .map(|(conn, _)| *conn)
                    .collect();
                tracing::warn!(gateway = %node, connections = gone.len(), "a gateway was lost");
                for conn in gone {
                    self.outboxes.remove(&conn);
                    self.feed(Input::Disconnected { conn });
                }
            }
        }
    }

    /// Forgets a connection's outbox; a gateway's connection is closed there (after what was
    /// sent to it before).
    pub(super) fn drop_outbox(&mut self, conn: ConnId) -> bool {
        match self.outboxes.remove(&conn) {
            Some(Outbox::Remote { node, next_out, .. }) => {
                if let Some(link) = &self.link {
                    link.close(&node, conn, next_out);
                }
                true
            }
            Some(Outbox::Local { .. }) => true,
            None => false,
        }
    }

    /// Reads the catalogue and the signed-in agents' skills again and hands them to the core.
    async fn reload_catalogue(&mut self) {
        let agents = self.core.signed_in_agents();
        let (offset, always_open) = (self.utc_offset_minutes, self.always_open);
        let mut capacities = BTreeMap::new();
        for user_id in &agents {
            match self.store.chat_capacity(user_id).await {
                Ok(capacity) => {
                    capacities.insert(user_id.clone(), capacity);
                }
                Err(e) => tracing::error!(%user_id, error = %e, "could not read a chat capacity"),
            }
        }
        if let Some(input) = catalogue_input(&self.store, agents, offset, always_open).await {
            self.feed(input);
        }
        if !capacities.is_empty() {
            self.feed(Input::ChatCapacities { capacities });
        }
    }

    /// Hands one input to the core (through the sequencer) and carries out what it decided.
    fn feed(&mut self, input: Input) {
        self.submit(sequencer::Step::Input(input));
    }

    /// Submits a step now; applies it at once when the sequencer says so.
    fn submit(&mut self, step: sequencer::Step) {
        if matches!(step, sequencer::Step::Timeout) {
            self.timeout_submitted = true;
        }
        let entry = sequencer::Entry { at: now(), step };
        if let Some(entry) = self.sequencer.submit(entry) {
            self.apply(entry, true);
        }
    }

    /// Applies one ordered step to the core; carries the effects out when `execute` (this
    /// node leads), drops them otherwise (a standby).
    fn apply(&mut self, entry: sequencer::Entry, execute: bool) {
        let started = Instant::now();
        let sequencer::Entry { at, step } = entry;
        let mut closed = None;
        let mut client = false;
        let kind = match step {
            sequencer::Step::Start { id_seed, today } => {
                self.start_core(at, id_seed, today);
                "start"
            }
            sequencer::Step::Input(input) => {
                let kind = input_kind(&input);
                if self.sequencer.is_replicated() {
                    self.open_ops.answered(&input);
                }
                let histograms = &self.stats.histograms;
                match &input {
                    Input::Client { conn, message } => {
                        self.timing.client(histograms, started, *conn, message);
                        client = true;
                    }
                    Input::Disconnected { conn } => {
                        self.timing.gone(*conn);
                        closed = Some(*conn);
                    }
                    Input::Store { op, result } => {
                        self.timing.store_answer(histograms, *op, result.is_ok());
                    }
                    _ => {}
                }
                self.core.handle(at, input);
                kind
            }
            sequencer::Step::Timeout => {
                self.timeout_submitted = false;
                self.core.handle_timeout(at);
                "timeout"
            }
        };
        let relay = match self.takeover_left {
            0 => true,
            _ => {
                self.takeover_left -= 1;
                false
            }
        };
        if execute {
            self.carried_out(kind, started, relay);
            if client {
                timing::message_handled(&self.stats.histograms, kind, started.elapsed());
            }
        } else {
            while let Some(effect) = self.core.poll_effect() {
                self.open_ops.emitted(&effect);
            }
        }
        // A connection with a message in flight is kept until it is answered (the core then
        // emits `Close`); its writer flushes the answer, then closes.
        if let Some(conn) = closed
            && !self.core.has_connection(conn)
        {
            self.drop_outbox(conn);
        }
    }

    /// A log's `Start`: the core is built again, as every replica builds it.
    fn start_core(&mut self, at: UnixMs, id_seed: u64, today: BTreeMap<String, DayCounts>) {
        let mut config = self.core_config.clone();
        config.id_seed = id_seed;
        config.wallboard.today = today;
        self.core = CallCenter::new(config, at, Instant::now());
        self.epoch = (tokio::time::Instant::now(), now_ms());
        self.open_ops.clear();
        self.published = CoreStats::default();
        self.started_from_log = true;
    }

    /// What the cluster's order brought: entries to apply, or a change of role.
    async fn ordered(&mut self, ordered: sequencer::Ordered) {
        match ordered {
            sequencer::Ordered::Apply { entries, execute, seq } => {
                for entry in entries {
                    self.apply(entry, execute);
                }
                self.applied_seq = seq;
            }
            sequencer::Ordered::Leading { epoch } => {
                self.leading = true;
                let mut first = 0;
                if !self.started_from_log {
                    let config = &self.core_config.wallboard;
                    let today = today_counts(
                        self.store.as_ref(),
                        config.utc_offset_minutes,
                        config.service_level_seconds,
                    )
                    .await;
                    self.submit(sequencer::Step::Start { id_seed: rand::random(), today });
                    first = 1;
                }
                self.takeover_left = first + self.take_over(epoch);
                self.foreign_grace = Some(tokio::time::Instant::now() + self.reconnect_grace);
                self.reload_catalogue().await;
                // Announced only now: a gateway's connection opened under this epoch is
                // submitted after the takeover's entries.
                if let Some(link) = &mut self.link {
                    link.lead(epoch);
                }
            }
            sequencer::Ordered::Following => {
                if let Some(link) = &mut self.link {
                    link.follow();
                }
                tracing::warn!(
                    connections = self.outboxes.len(),
                    "no longer leading: effects stop, this node's clients reconnect elsewhere"
                );
                self.leading = false;
                self.timeout_submitted = false;
                self.takeover_left = 0;
                self.foreign_grace = None;
                self.outboxes.clear();
            }
        }
    }

    /// Carries out what the core decided, and logs (debug) how long deciding and handing the
    /// effects out took: the driver's own share of every input's latency. `relay`: false
    /// while a takeover's inputs are applied (their relay commands name the old node's legs).
    fn carried_out(&mut self, kind: &'static str, started: Instant, relay: bool) {
        let decided = started.elapsed();
        self.carry_out(relay);
        tracing::debug!(
            input = kind,
            decide_us = decided.as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64,
            waiting_answers = self.outstanding.load(Ordering::Relaxed),
            "input handled"
        );
    }

    /// Ends every call, waits for the writes that record it (and tells everyone), then closes
    /// what was left open.
    async fn shutdown(&mut self, results: &mut mpsc::UnboundedReceiver<Input>) {
        self.feed(Input::Shutdown);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            // An answer is queued before it stops counting as outstanding (a writer hands a
            // whole group back at once): take every queued one before looking at the count.
            while let Ok(input) = results.try_recv() {
                self.feed(input);
            }
            if self.outstanding.load(Ordering::Acquire) == 0 {
                break;
            }
            match tokio::time::timeout_at(deadline, results.recv()).await {
                Ok(Some(input)) => self.feed(input),
                _ => break,
            }
        }
        match self
            .store
            .end_open_calls(now_ms(), voicedesk_protocol::EndReason::ServerShutdown.as_str())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(n, "ended call records left open"),
            Err(e) => tracing::error!(error = %e, "could not close open call records"),
        }
        end_open_chats(self.store.as_ref()).await;
        self.outboxes.clear();
        tracing::info!("call center stopped: every call ended and recorded");
    }

    fn publish(&mut self) {
        let s = self.core.stats();
        let p = self.published;
        let add = |counter: &std::sync::atomic::AtomicU64, now: u64, before: u64| {
            counter.fetch_add(now.saturating_sub(before), Ordering::Relaxed);
        };
        add(&self.stats.calls_total, s.calls_total, p.calls_total);
        add(&self.stats.calls_answered, s.calls_answered, p.calls_answered);
        add(&self.stats.client_errors, s.client_errors, p.client_errors);
        add(&self.stats.sides_lost, s.sides_lost, p.sides_lost);
        add(&self.stats.sides_back, s.sides_back, p.sides_back);
        add(&self.stats.invariant_violations, s.invariant_violations, p.invariant_violations);
        add(&self.stats.store_failures, s.store_failures, p.store_failures);
        self.published = s;
        let (waiting, live) = self.core.gauges();
        self.stats.queue_length.store(waiting as i64, Ordering::Relaxed);
        self.stats.active_calls.store(live as i64, Ordering::Relaxed);
    }
}

/// An input's kind, for the timing log.
fn input_kind(input: &Input) -> &'static str {
    match input {
        Input::Connected { .. } => "connected",
        Input::Resumed { .. } => "resumed",
        Input::Client { message, .. } => message.type_name(),
        Input::Disconnected { .. } => "disconnected",
        Input::SignedOut { .. } => "signed_out",
        Input::SignOutWhenFree { .. } => "sign_out_when_free",
        Input::Catalogue { .. } => "catalogue",
        Input::ChatCapacities { .. } => "chat_capacities",
        Input::LegCreated { .. } => "leg_created",
        Input::LegConnected { .. } => "leg_connected",
        Input::LegEnded { .. } => "leg_ended",
        Input::RelayFailed { .. } => "relay_failed",
        Input::Store { .. } => "store",
        Input::OfferChecked { .. } => "offer_checked",
        Input::RecordingStarted { .. } => "recording_started",
        Input::Searched { .. } => "searched",
        Input::Shutdown => "shutdown",
    }
}

fn relay_input(event: RelayEvent) -> Input {
    match event {
        RelayEvent::LegConnected { leg } => Input::LegConnected { leg: LegId(leg.0) },
        RelayEvent::LegEnded { leg, reason } => Input::LegEnded {
            leg: LegId(leg.0),
            reason: match reason {
                LegEndReason::ConnectTimeout => LegEnd::ConnectTimeout,
                LegEndReason::Failed | LegEndReason::Disconnected | LegEndReason::Silence => {
                    LegEnd::Lost
                }
            },
        },
    }
}

/// The next input of a gateway (never, alone).
async fn next_forwarded(
    forwarded: &mut Option<mpsc::UnboundedReceiver<crate::gateway::Forwarded>>,
) -> Option<crate::gateway::Forwarded> {
    match forwarded {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
