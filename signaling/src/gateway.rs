//! Gateways (issue 15): every cluster node serves `/ws`, whichever node leads the core.
//! See `docs/cluster.md` ("Gateways").
//!
//! - **Who leads.** The leader announces `{node, epoch}` on `<prefix>.leader` every
//!   [`HEARTBEAT`] from the moment its takeover's entries are submitted. A gateway follows the
//!   highest epoch it heard; a lower one (a stale leader waking up) is ignored. A gateway that
//!   has heard no leader for [`LEADER_SILENCE`] knows none. Without a leader `/ws` answers 503.
//! - **A connection is pinned to one epoch.** Its inputs go to `<prefix>.core.<epoch>` of the
//!   leader it was opened under, to which only that leader subscribes. When a gateway hears a
//!   new epoch (or its leader falls silent) it closes every connection it holds: the clients
//!   reconnect and `resume` at the new leader, whose takeover parked their calls or keeps their
//!   consoles for the grace. So a connection never talks to two leaders, and an input in flight
//!   across a takeover is either in the log (the new leader replayed it) or lost unanswered —
//!   never told: the core tells a client only after the log has its input.
//! - **Messages back.** The leader sends each connection's messages and its close on
//!   `<prefix>.node.<gateway>`, tagged with its epoch; a gateway drops those of another epoch.
//! - **A gateway's loss.** Gateways say they are alive on `<prefix>.gateways` (name and a
//!   random boot id) every [`HEARTBEAT`]; the leader ends the connections of a gateway silent
//!   for [`GATEWAY_SILENCE`], or restarted under the same name, as if each had closed.
//!
//! Everything goes through the leader's core, including the connections the leader's own node
//! terminates: one path, and a takeover treats every node's connections alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use voicedesk_call_center::ConnId;
use voicedesk_cluster::async_nats::Client;
use voicedesk_protocol::{ClientMessage, ServerMessage};

use crate::driver::DriverInput;

/// How often the leader announces itself and gateways say they are alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(250);
/// A gateway that has not heard its leader for this long closes its connections and refuses
/// new ones until a leader announces itself.
pub(crate) const LEADER_SILENCE: Duration = Duration::from_secs(3);
/// The leader ends the connections of a gateway not heard for this long.
pub(crate) const GATEWAY_SILENCE: Duration = Duration::from_secs(3);

/// The NATS subjects of one cluster (prefix: the log's stream name).
#[derive(Clone)]
struct Subjects(String);

impl Subjects {
    fn leader(&self) -> String {
        format!("{}.leader", self.0)
    }
    fn core(&self, epoch: u64) -> String {
        format!("{}.core.{epoch}", self.0)
    }
    fn node(&self, node: &str) -> String {
        format!("{}.node.{node}", self.0)
    }
    fn gateways(&self) -> String {
        format!("{}.gateways", self.0)
    }
}

/// The leader's announcement.
#[derive(Serialize, Deserialize)]
struct Announce {
    node: String,
    epoch: u64,
}

/// A gateway's heartbeat.
#[derive(Serialize, Deserialize)]
struct Alive {
    node: String,
    boot: u64,
}

/// What a gateway forwards to the leader.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ToLeader {
    /// A connection opened at gateway `node` (boot `boot`).
    Connected {
        conn: ConnId,
        node: String,
        boot: u64,
        identity: voicedesk_call_center::Identity,
        /// An agent's chat capacity as an admin set it (`None`: the default).
        #[serde(default)]
        chat_capacity: Option<u8>,
    },
    /// A citizen connection proved an earlier identity.
    Resumed { conn: ConnId, citizen_id: String, citizen_token: String },
    /// A client message.
    Message { conn: ConnId, message: ClientMessage },
    /// The connection closed.
    Disconnected { conn: ConnId },
    /// A user signed out.
    SignedOut { user_id: String },
    /// A user to sign out once free.
    SignOutWhenFree { user_id: String },
    /// An admin changed the catalogue.
    CatalogueChanged,
}

/// A gateway's input as sent: numbered per connection (`Connected` is 0), so the leader
/// sees one that was lost on the way; 0 for inputs of no connection.
#[derive(Serialize, Deserialize)]
pub(crate) struct FromGateway {
    pub(crate) seq: u64,
    pub(crate) input: ToLeader,
}

impl ToLeader {
    /// The connection the input is about (none: a sign-out, a catalogue change).
    pub(crate) fn conn(&self) -> Option<ConnId> {
        match self {
            ToLeader::Connected { conn, .. }
            | ToLeader::Resumed { conn, .. }
            | ToLeader::Message { conn, .. }
            | ToLeader::Disconnected { conn } => Some(*conn),
            ToLeader::SignedOut { .. }
            | ToLeader::SignOutWhenFree { .. }
            | ToLeader::CatalogueChanged => None,
        }
    }
}

/// What the leader tells a gateway about one of its connections, numbered per connection
/// from 0.
#[derive(Serialize, Deserialize)]
struct ToGateway {
    epoch: u64,
    conn: ConnId,
    seq: u64,
    out: Out,
}

#[derive(Serialize, Deserialize)]
enum Out {
    Send(ServerMessage),
    Close,
}

/// What the leader's link hands the driver.
pub(crate) enum Forwarded {
    /// A gateway's input.
    Input(FromGateway),
    /// Gateway `node` (boot `boot`) is gone: its connections are closed.
    GatewayLost { node: String, boot: u64 },
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("gateway messages always serialize")
}

// ----- the gateway ------------------------------------------------------------------------

/// A node's gateway: its WebSocket connections, forwarded to the leader.
pub struct Gateway {
    client: Client,
    subjects: Subjects,
    node: String,
    /// Tells the leader this process from an earlier one of the same name.
    boot: u64,
    state: Mutex<GatewayState>,
}

#[derive(Default)]
struct GatewayState {
    /// The leader followed now: node and epoch (`None`: none heard lately).
    leader: Option<(String, u64)>,
    /// When it was last heard.
    heard: Option<Instant>,
    /// The highest epoch ever heard: lower announcements are stale.
    highest: u64,
    /// This node's connections, each with the epoch it was opened under.
    conns: HashMap<ConnId, Local>,
}

struct Local {
    epoch: u64,
    /// The number of this connection's next input to the leader (`Connected` is 0).
    sent: u64,
    /// The number of the next message expected from the leader.
    received: u64,
    outbox: mpsc::Sender<ServerMessage>,
    /// Dropping it ends the connection's handler.
    _kick: oneshot::Sender<()>,
}

impl GatewayState {
    /// Closes every connection (dropping the outbox and the kick ends each handler).
    fn close_all(&mut self, why: &str) {
        if !self.conns.is_empty() {
            tracing::info!(connections = self.conns.len(), why, "gateway closes its connections");
        }
        self.conns.clear();
    }
}

impl Gateway {
    /// Starts the gateway of node `node` on the cluster whose subjects start with `prefix`.
    pub(crate) fn start(client: Client, prefix: &str, node: &str) -> Arc<Gateway> {
        let gateway = Arc::new(Gateway {
            client,
            subjects: Subjects(prefix.to_owned()),
            node: node.to_owned(),
            boot: rand::random(),
            state: Mutex::new(GatewayState::default()),
        });
        tokio::spawn(gateway.clone().run());
        gateway
    }

    /// The leader this gateway forwards to now: node and epoch.
    pub fn leader(&self) -> Option<(String, u64)> {
        self.lock().leader.clone()
    }

    /// Closes every connection of this node (it stops).
    pub(crate) fn close_all(&self, why: &str) {
        self.lock().close_all(why);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GatewayState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forwards an input of this node's HTTP side to the leader. False when a connection
    /// cannot be served (no leader known).
    pub(crate) async fn forward(&self, input: DriverInput) -> bool {
        let (to, input) = {
            let mut state = self.lock();
            // A connection's epoch and the number of this input of it.
            let numbered = |state: &mut GatewayState, conn: &ConnId| {
                state.conns.get_mut(conn).map(|local| {
                    local.sent += 1;
                    (local.epoch, local.sent - 1)
                })
            };
            let leader = |state: &GatewayState| state.leader.as_ref().map(|(_, epoch)| (*epoch, 0));
            match input {
                DriverInput::Connected { conn, identity, outbox, kick } => {
                    let Some((_, epoch)) = state.leader.clone() else { return false };
                    let local = Local { epoch, sent: 1, received: 0, outbox, _kick: kick };
                    state.conns.insert(conn, local);
                    let (node, boot) = (self.node.clone(), self.boot);
                    let (identity, chat_capacity) = identity.into_core();
                    let connected =
                        ToLeader::Connected { conn, node, boot, identity, chat_capacity };
                    (Some((epoch, 0)), connected)
                }
                DriverInput::Resumed { conn, citizen_id, citizen_token } => (
                    numbered(&mut state, &conn),
                    ToLeader::Resumed { conn, citizen_id, citizen_token },
                ),
                DriverInput::Message { conn, message } => {
                    (numbered(&mut state, &conn), ToLeader::Message { conn, message })
                }
                // Kept until the leader closes it: an answer still on its way is delivered.
                DriverInput::Disconnected { conn } => {
                    (numbered(&mut state, &conn), ToLeader::Disconnected { conn })
                }
                DriverInput::SignedOut { user_id } => {
                    (leader(&state), ToLeader::SignedOut { user_id })
                }
                DriverInput::SignOutWhenFree { user_id } => {
                    (leader(&state), ToLeader::SignOutWhenFree { user_id })
                }
                DriverInput::CatalogueChanged => (leader(&state), ToLeader::CatalogueChanged),
                DriverInput::Digest { .. } | DriverInput::Shutdown { .. } => return true,
            }
        };
        // A connection closed here (a new leader) has nothing more to say; a sign-out without
        // a leader reaches none (the session is gone from the store anyway).
        let Some((epoch, seq)) = to else {
            tracing::debug!(?input, "no leader to forward to");
            return true;
        };
        self.publish(self.subjects.core(epoch), encode(&FromGateway { seq, input })).await;
        true
    }

    async fn publish(&self, subject: String, payload: Vec<u8>) {
        if let Err(e) = self.client.publish(subject, payload.into()).await {
            tracing::warn!(error = %e, "gateway could not publish");
        }
    }

    async fn run(self: Arc<Self>) {
        let (mut announcements, mut outputs) = loop {
            let leader = self.client.subscribe(self.subjects.leader()).await;
            let node = self.client.subscribe(self.subjects.node(&self.node)).await;
            match (leader, node) {
                (Ok(leader), Ok(node)) => break (leader, node),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(error = %e, "gateway cannot subscribe; trying again");
                    tokio::time::sleep(HEARTBEAT).await;
                }
            }
        };
        let alive = encode(&Alive { node: self.node.clone(), boot: self.boot });
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                Some(message) = announcements.next() => {
                    match serde_json::from_slice::<Announce>(&message.payload) {
                        Ok(announce) => self.announced(announce),
                        Err(e) => tracing::warn!(error = %e, "unreadable leader announcement"),
                    }
                }
                Some(message) = outputs.next() => {
                    match serde_json::from_slice::<ToGateway>(&message.payload) {
                        Ok(output) => self.deliver(output).await,
                        Err(e) => tracing::warn!(error = %e, "unreadable message for a connection"),
                    }
                }
                _ = tick.tick() => {
                    self.publish(self.subjects.gateways(), alive.clone()).await;
                    self.check_leader_heard();
                }
            }
        }
    }

    /// A leader not heard for [`LEADER_SILENCE`] is gone: its connections are closed.
    fn check_leader_heard(&self) {
        let mut state = self.lock();
        if state.leader.is_some()
            && state.heard.is_some_and(|heard| heard.elapsed() > LEADER_SILENCE)
        {
            tracing::warn!(leader = ?state.leader, "the leader fell silent");
            state.leader = None;
            state.close_all("the leader fell silent");
        }
    }

    fn announced(&self, announce: Announce) {
        let mut state = self.lock();
        if announce.epoch < state.highest {
            return;
        }
        if announce.epoch > state.highest {
            tracing::info!(leader = %announce.node, epoch = announce.epoch, "a new leader");
            state.highest = announce.epoch;
            state.close_all("a new leader: clients resume there");
        }
        state.leader = Some((announce.node, announce.epoch));
        state.heard = Some(Instant::now());
    }

    /// A message or a close from the leader for one of this node's connections.
    async fn deliver(&self, output: ToGateway) {
        let ToGateway { epoch, conn, seq, out } = output;
        let dropped = {
            let mut state = self.lock();
            let Some(local) = state.conns.get_mut(&conn) else { return };
            // A message of another leader's.
            if local.epoch != epoch {
                return;
            }
            // One lost on the way (core NATS does not resend, e.g. while this node's client
            // moves to another server): the client cannot be told what it missed, so it is
            // closed and resumes, and the leader is told.
            if seq != local.received {
                tracing::warn!(
                    ?conn,
                    seq,
                    expected = local.received,
                    "a message to a connection was lost"
                );
                let sent = local.sent;
                state.conns.remove(&conn);
                Some(sent)
            } else {
                local.received += 1;
                let sent = local.sent;
                match out {
                    Out::Send(message) => {
                        let full = matches!(
                            local.outbox.try_send(message),
                            Err(mpsc::error::TrySendError::Full(_))
                        );
                        if full {
                            tracing::warn!(?conn, "outgoing queue full; dropping the connection");
                            state.conns.remove(&conn);
                        }
                        full.then_some(sent)
                    }
                    Out::Close => {
                        state.conns.remove(&conn);
                        None
                    }
                }
            }
        };
        // Dropped here (its handler's own `Disconnected` finds it gone): the leader is told.
        if let Some(seq) = dropped {
            let message = FromGateway { seq, input: ToLeader::Disconnected { conn } };
            self.publish(self.subjects.core(epoch), encode(&message)).await;
        }
    }
}

// ----- the leader's side ------------------------------------------------------------------

/// The leader's end: receives the gateways' inputs while this node leads, and sends each
/// connection's messages to its gateway.
pub(crate) struct LeaderLink {
    client: Client,
    subjects: Subjects,
    node: String,
    forwarded: mpsc::UnboundedSender<Forwarded>,
    /// To the publishing task: subject and payload, in the order the driver sent them.
    outgoing: mpsc::UnboundedSender<(String, Vec<u8>)>,
    /// Serving while leading: subscribed to the epoch's subject, announcing.
    serving: Option<tokio::task::JoinHandle<()>>,
    /// The epoch led (0: not leading).
    epoch: u64,
}

impl LeaderLink {
    /// The link of node `node`; its inputs come out of the receiver.
    pub(crate) fn new(
        client: Client,
        prefix: &str,
        node: &str,
    ) -> (LeaderLink, mpsc::UnboundedReceiver<Forwarded>) {
        let (forwarded, inputs) = mpsc::unbounded_channel();
        let (outgoing, mut to_publish) = mpsc::unbounded_channel::<(String, Vec<u8>)>();
        let publisher = client.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = to_publish.recv().await {
                if let Err(e) = publisher.publish(subject, payload.into()).await {
                    tracing::warn!(error = %e, "could not send to a gateway");
                }
            }
        });
        let link = LeaderLink {
            client,
            subjects: Subjects(prefix.to_owned()),
            node: node.to_owned(),
            forwarded,
            outgoing,
            serving: None,
            epoch: 0,
        };
        (link, inputs)
    }

    /// This node leads `epoch` (its takeover's entries are submitted): take the gateways'
    /// inputs and announce it.
    pub(crate) fn lead(&mut self, epoch: u64) {
        self.follow();
        self.epoch = epoch;
        let (client, subjects) = (self.client.clone(), self.subjects.clone());
        let (node, forwarded) = (self.node.clone(), self.forwarded.clone());
        self.serving = Some(tokio::spawn(serve(client, subjects, node, epoch, forwarded)));
    }

    /// This node no longer leads: no more inputs, no more announcements.
    pub(crate) fn follow(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
        self.epoch = 0;
    }

    /// Message number `seq` for connection `conn` at gateway `node`.
    pub(crate) fn send(&self, node: &str, conn: ConnId, seq: u64, message: ServerMessage) {
        self.output(node, conn, seq, Out::Send(message));
    }

    /// Closes connection `conn` at gateway `node` (after what was sent before; `seq`: the
    /// number after the last message).
    pub(crate) fn close(&self, node: &str, conn: ConnId, seq: u64) {
        self.output(node, conn, seq, Out::Close);
    }

    fn output(&self, node: &str, conn: ConnId, seq: u64, out: Out) {
        let payload = encode(&ToGateway { epoch: self.epoch, conn, seq, out });
        // The publishing task stops only with the node.
        self.outgoing.send((self.subjects.node(node), payload)).unwrap_or(());
    }
}

/// While leading `epoch`: the gateways' inputs to the driver, announcements every heartbeat,
/// and the gateways' liveness.
async fn serve(
    client: Client,
    subjects: Subjects,
    node: String,
    epoch: u64,
    forwarded: mpsc::UnboundedSender<Forwarded>,
) {
    let (mut inputs, mut alive) = loop {
        let inputs = client.subscribe(subjects.core(epoch)).await;
        let alive = client.subscribe(subjects.gateways()).await;
        match (inputs, alive) {
            (Ok(inputs), Ok(alive)) => break (inputs, alive),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "leader cannot subscribe; trying again");
                tokio::time::sleep(HEARTBEAT).await;
            }
        }
    };
    // Announced only once the server has the subscriptions: nothing sent to the epoch's
    // subject after a gateway heard of it is missed.
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, "leader could not flush its subscriptions");
    }
    let announce = encode(&Announce { node, epoch });
    let mut gateways: HashMap<String, (u64, Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            Some(message) = inputs.next() => {
                match serde_json::from_slice::<FromGateway>(&message.payload) {
                    Ok(input) => {
                        if forwarded.send(Forwarded::Input(input)).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable input from a gateway"),
                }
            }
            Some(message) = alive.next() => {
                let Ok(Alive { node, boot }) = serde_json::from_slice(&message.payload) else {
                    continue;
                };
                if let Some((old, _)) = gateways.insert(node.clone(), (boot, Instant::now()))
                    && old != boot
                {
                    tracing::info!(gateway = %node, "a gateway restarted");
                    forwarded.send(Forwarded::GatewayLost { node, boot: old }).unwrap_or(());
                }
            }
            _ = tick.tick() => {
                if let Err(e) = client.publish(subjects.leader(), announce.clone().into()).await {
                    tracing::warn!(error = %e, "could not announce the leader");
                }
                let silent: Vec<String> = gateways
                    .iter()
                    .filter(|(_, (_, heard))| heard.elapsed() > GATEWAY_SILENCE)
                    .map(|(node, _)| node.clone())
                    .collect();
                for node in silent {
                    if let Some((boot, _)) = gateways.remove(&node) {
                        tracing::warn!(gateway = %node, "a gateway fell silent: its connections are closed");
                        forwarded.send(Forwarded::GatewayLost { node, boot }).unwrap_or(());
                    }
                }
            }
        }
    }
}
