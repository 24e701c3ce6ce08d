//! Cluster mode (issue 15): the call-center core's inputs ordered through the replicated log
//! of `voicedesk-cluster` on NATS JetStream. See `docs/cluster.md`.
//!
//! One task per node ([`run`]) owns the log, the election and the leader's writer:
//! - **following**: it replays the log from the record after the last one applied and hands
//!   every record's entries to the driver, which applies them and drops the effects;
//! - **leading** (`LeaderElection` said so, and every record up to the epoch marker has been
//!   handed over): the driver's submissions are appended — what waited while the previous
//!   append was in flight goes as one record (group commit) — and each acknowledged record is
//!   handed back to be applied *and executed*. An append that is fenced (a newer leader's
//!   marker), or whose outcome is unknown, ends leading at once: the driver stops executing,
//!   the election is restarted (the lease runs out), and the task replays again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use voicedesk_cluster::{
    InputLog, LeaderElection, Lease, LeaseConfig, LogConfig, Record, Replay, Role,
};

use crate::driver::sequencer::{Entry, Ordered};

/// What a node does. A node with `core` takes part in the election and replays the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Terminates HTTP and WebSocket.
    pub gateway: bool,
    /// Runs the call-center core (leader or standby).
    pub core: bool,
    /// Runs a media relay.
    pub relay: bool,
}

impl Roles {
    /// Every role (the default).
    pub const ALL: Roles = Roles { gateway: true, core: true, relay: true };

    /// Parses `gateway,core,relay` (any non-empty subset, any order).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut roles = Roles { gateway: false, core: false, relay: false };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "gateway" => roles.gateway = true,
                "core" => roles.core = true,
                "relay" => roles.relay = true,
                other => {
                    return Err(format!("unknown role {other:?} (gateway, core, relay)"));
                }
            }
        }
        if roles == (Roles { gateway: false, core: false, relay: false }) {
            return Err("no role given (gateway, core, relay)".into());
        }
        Ok(roles)
    }

    /// `gateway,core,relay` as given.
    pub fn names(&self) -> String {
        [(self.gateway, "gateway"), (self.core, "core"), (self.relay, "relay")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// NATS servers (`nats://host:port`), any of them; the client moves to another when one
    /// is lost.
    pub nats: Vec<String>,
    /// This node's name (in the lease and the epoch markers); unique in the cluster.
    pub node: String,
    /// Its roles.
    pub roles: Roles,
    /// How long the leader's lease lasts unless renewed: a standby leads about this long (plus
    /// a quarter) after the leader's loss.
    pub lease_ttl: Duration,
    /// The log's stream name (the lease bucket and key are derived from it).
    pub stream: String,
    /// Copies JetStream keeps of the log and the lease (3 on a three-server cluster).
    pub replicas: usize,
}

/// What `/healthz` and `/metrics` say about the node's place in the cluster.
pub struct ClusterStatus {
    /// The node's name.
    pub node: String,
    /// Its roles.
    pub roles: Roles,
    /// It leads (executes the core's effects) now.
    pub leading: AtomicBool,
    /// The epoch it leads or last led (0: never).
    pub epoch: AtomicU64,
    /// The last log record applied to this node's core.
    pub applied: AtomicU64,
    /// Times this node became leader.
    pub takeovers: AtomicU64,
    log: InputLog<Entry>,
}

impl ClusterStatus {
    /// Records in the log not yet applied here (`None` when NATS does not answer, or the node
    /// has no core).
    pub async fn replay_lag(&self) -> Option<u64> {
        if !self.roles.core {
            return None;
        }
        let last = self.log.last_sequence().await.ok()?;
        Some(last.saturating_sub(self.applied.load(Ordering::Acquire)))
    }
}

/// The driver's end of the cluster task.
pub(crate) struct Replicated {
    submits: mpsc::UnboundedSender<Entry>,
    ordered: mpsc::UnboundedReceiver<Ordered>,
    status: Arc<ClusterStatus>,
}

impl Replicated {
    pub(crate) fn submit(&mut self, entry: Entry) {
        // The task stops only with the node.
        self.submits.send(entry).unwrap_or(());
    }

    /// The next thing for the driver. `leading` (`/healthz`) is set here, when the driver
    /// takes the lead over.
    pub(crate) async fn next(&mut self) -> Option<Ordered> {
        let ordered = self.ordered.recv().await?;
        if let Ordered::Leading { .. } = ordered {
            self.status.leading.store(true, Ordering::Release);
        }
        Some(ordered)
    }
}

/// Errors joining the cluster.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// No NATS server answered.
    #[error("cannot connect to NATS ({0})")]
    Connect(String),
    /// The log or the lease bucket could not be opened.
    #[error("cannot open the cluster's {0}")]
    Open(String),
}

/// How long a starting node keeps trying to open the log and the lease (the NATS servers may
/// be forming their cluster and electing a JetStream meta leader).
const JOIN_DEADLINE: Duration = Duration::from_secs(30);

/// Connects to NATS, opens the log and the lease, and starts the node's cluster task.
pub(crate) async fn join(
    config: &ClusterConfig,
) -> Result<(Replicated, Arc<ClusterStatus>, voicedesk_cluster::async_nats::Client), JoinError> {
    // A client that keeps reconnecting, to another server when one is gone.
    let client = voicedesk_cluster::local_cluster::connect(&config.nats)
        .await
        .map_err(|e| JoinError::Connect(e.to_string()))?;
    let started = std::time::Instant::now();
    let (log, lease) = loop {
        match open(client.clone(), config).await {
            Ok(opened) => break opened,
            Err(e) if started.elapsed() < JOIN_DEADLINE => {
                tracing::warn!(error = %e, "cluster not ready; trying again");
                tokio::time::sleep(REREAD_PAUSE * 5).await;
            }
            Err(e) => return Err(e),
        }
    };
    let status = Arc::new(ClusterStatus {
        node: config.node.clone(),
        roles: config.roles,
        leading: AtomicBool::new(false),
        epoch: AtomicU64::new(0),
        applied: AtomicU64::new(0),
        takeovers: AtomicU64::new(0),
        log: log.clone(),
    });
    let (submits, submits_rx) = mpsc::unbounded_channel();
    let (ordered_tx, ordered) = mpsc::unbounded_channel();
    // A node without the core role (a gateway alone) neither replays nor stands for election:
    // its driver's core stays empty and idle, and its gateway forwards to the leader.
    if config.roles.core {
        tokio::spawn(run(log, lease, submits_rx, ordered_tx, status.clone()));
    }
    Ok((Replicated { submits, ordered, status: status.clone() }, status, client))
}

/// Opens (creating if needed) the log's stream and the lease bucket.
async fn open(
    client: voicedesk_cluster::async_nats::Client,
    config: &ClusterConfig,
) -> Result<(InputLog<Entry>, Lease), JoinError> {
    let log = InputLog::<Entry>::open(
        client.clone(),
        LogConfig::new(config.stream.clone(), config.replicas),
    )
    .await
    .map_err(|e| JoinError::Open(format!("log: {e}")))?;
    let lease = Lease::open(
        client,
        LeaseConfig {
            bucket: format!("{}_leases", config.stream),
            key: "core".into(),
            ttl: config.lease_ttl,
            replicas: config.replicas,
        },
        config.node.clone(),
    )
    .await
    .map_err(|e| JoinError::Open(format!("lease: {e}")))?;
    Ok((log, lease))
}

/// The most entries one record carries (an entry with an SDP offer is a few KiB; NATS takes
/// 1 MiB per message).
const MAX_BATCH: usize = 64;

/// Pause before reading the log again after a read failed (NATS electing a stream leader).
const REREAD_PAUSE: Duration = Duration::from_millis(200);

/// The node's cluster task: follow, lead when elected, follow again when that ends.
async fn run(
    log: InputLog<Entry>,
    lease: Lease,
    mut submits: mpsc::UnboundedReceiver<Entry>,
    ordered: mpsc::UnboundedSender<Ordered>,
    status: Arc<ClusterStatus>,
) {
    let mut election = LeaderElection::start(lease.clone(), log.clone());
    let mut applied = 0u64;
    loop {
        // ----- following: replay until the election says this node leads --------------------
        let Some((epoch, marker)) =
            follow(&log, &mut election, &mut submits, &ordered, &status, &mut applied).await
        else {
            return;
        };
        // ----- leading ------------------------------------------------------------------------
        let mut writer = log.writer(epoch, marker);
        status.epoch.store(epoch, Ordering::Release);
        status.takeovers.fetch_add(1, Ordering::Relaxed);
        // Whatever was submitted while following was never ordered: dropped.
        while submits.try_recv().is_ok() {}
        if ordered.send(Ordered::Leading { epoch }).is_err() {
            return;
        }
        tracing::info!(node = %status.node, epoch, marker, "leading the core");
        let mut batch = Vec::new();
        let stepped_down = loop {
            tokio::select! {
                entry = submits.recv() => {
                    let Some(entry) = entry else { return };
                    batch.push(entry);
                    while batch.len() < MAX_BATCH && let Ok(entry) = submits.try_recv() {
                        batch.push(entry);
                    }
                    match writer.append_batch(&batch).await {
                        Ok(seq) => {
                            applied = seq;
                            status.applied.store(seq, Ordering::Release);
                            let entries = std::mem::take(&mut batch);
                            if ordered.send(Ordered::Apply { entries, execute: true, seq }).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(node = %status.node, epoch, error = %e,
                                entries = batch.len(), "append failed: no longer leading");
                            // The lease may still be ours: a new election lets it run out.
                            break true;
                        }
                    }
                }
                role = election.next() => match role {
                    Some(Role::Following) => break false,
                    Some(Role::Leading { .. }) => {}
                    None => return,
                },
            }
        };
        status.leading.store(false, Ordering::Release);
        if ordered.send(Ordered::Following).is_err() {
            return;
        }
        if stepped_down {
            election = LeaderElection::start(lease.clone(), log.clone());
        }
    }
}

/// Replays from `applied + 1`, handing every record's entries over, until the election makes
/// this node leader and the record of its epoch marker has been handed over; returns the
/// epoch and the marker's sequence (`None`: the node is stopping).
async fn follow(
    log: &InputLog<Entry>,
    election: &mut LeaderElection,
    submits: &mut mpsc::UnboundedReceiver<Entry>,
    ordered: &mpsc::UnboundedSender<Ordered>,
    status: &ClusterStatus,
    applied: &mut u64,
) -> Option<(u64, u64)> {
    let mut replay: Option<Replay<Entry>> = None;
    let mut leading: Option<(u64, u64)> = None;
    loop {
        if let Some((epoch, marker)) = leading
            && *applied >= marker
        {
            return Some((epoch, marker));
        }
        let Some(reader) = replay.as_mut() else {
            match log.replay(*applied + 1).await {
                Ok(r) => replay = Some(r),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the log; trying again");
                    tokio::time::sleep(REREAD_PAUSE).await;
                }
            }
            continue;
        };
        tokio::select! {
            item = reader.next() => match item {
                Some(Ok(item)) => {
                    // The ordered consumer may hand a record again after recreating itself.
                    if item.seq <= *applied {
                        continue;
                    }
                    *applied = item.seq;
                    status.applied.store(item.seq, Ordering::Release);
                    if let Record::Entries(entries) = item.record {
                        ordered.send(Ordered::Apply { entries, execute: false, seq: item.seq }).ok()?;
                    }
                }
                Some(Err(e)) => {
                    // A record that cannot be decoded cannot be skipped: the core would
                    // diverge. Read again (a newer binary may be needed; the log says which).
                    tracing::error!(error = %e, applied = *applied, "log record not applied");
                    replay = None;
                    tokio::time::sleep(REREAD_PAUSE).await;
                }
                None => replay = None,
            },
            role = election.next() => match role {
                Some(Role::Leading { epoch, last_seq }) => leading = Some((epoch, last_seq)),
                // Lost again before the marker was reached: keep following.
                Some(Role::Following) => leading = None,
                None => return None,
            },
            entry = submits.recv() => {
                // `None`: the driver stopped, and so does the node's cluster task.
                entry.as_ref()?;
                tracing::debug!("input submitted while following: dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Roles;

    #[test]
    fn roles_parse_any_subset_and_refuse_unknown_or_empty_lists() {
        assert_eq!(Roles::parse("gateway,core,relay"), Ok(Roles::ALL));
        assert_eq!(Roles::parse(" relay , core ").map(|r| r.names()), Ok("core,relay".into()));
        let unknown = Roles::parse("gateway,router").unwrap_err();
        assert!(unknown.contains("\"router\""), "{unknown}");
        assert!(Roles::parse(" , ").unwrap_err().contains("no role"));
    }
}
