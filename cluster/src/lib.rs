//! The cluster's foundation on NATS JetStream: a replicated input log, a leader lease with epoch
//! fencing, and snapshots. Generic over the entry type, so it knows nothing of the call-center
//! core; the core's driver (next step of issue 15) appends the core's `(now, input)` entries as
//! the leader and replays them as a standby.
//!
//! - [`log`]: [`InputLog`] — append with `expected_last_sequence` fencing, replay then follow.
//! - [`lease`]: [`Lease`] — a KV key taken with `create`, renewed by revision, expiring.
//! - [`election`]: [`LeaderElection`] — lease + epoch marker → `Leading` / `Following`.
//! - [`snapshot`]: [`Snapshots`] — state blobs with the sequence they cover; resume after one.
//! - [`local_cluster`]: three real `nats-server`s on loopback for tests and benchmarks.
//!
//! `docs/cluster.md` describes the design.

/// The NATS client the cluster is built on, for users that pass a client around (one version).
pub use async_nats;

pub mod election;
pub mod lease;
pub mod local_cluster;
pub mod log;
pub mod snapshot;

pub use election::{ElectionTiming, LeaderElection, Role};
pub use lease::{Lease, LeaseConfig, LeaseError};
pub use log::{
    AppendError, EpochMarker, InputLog, LogConfig, LogWriter, Record, Replay, ReplayError, Replayed,
};
pub use snapshot::{Resume, Snapshot, SnapshotError, Snapshots};
