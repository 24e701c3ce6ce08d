//! The leader lease: one key in a JetStream KV bucket, renewed by revision.
//!
//! - **Acquire** with `create(key)`: succeeds only when the key holds no value (never written,
//!   or released). The revision it returns is the holder's proof, and — being a stream sequence,
//!   strictly increasing — the new leader's epoch.
//! - **Renew** with `update(key, value, revision)`: succeeds only while the key's last revision
//!   is still ours.
//! - **Take over** with `update(key, value, revision)` at a revision the candidate saw unchanged
//!   for a TTL of successful reads (`election::ElectionCore`): a holder that stops renewing
//!   (crashed, paused, cut off) loses the key after one TTL.
//!
//! Why values do not expire on the server (no `max_age`, no per-key TTL): a server-side expiry
//! runs on while the KV stream has no leader — for the 4–9 s JetStream takes to elect one when
//! the server leading it is killed — so the key was gone when the stream came back and a
//! candidate's `create` raced the holder's renewal: a NATS server's loss moved the lease. A
//! candidate's count of unchanged reads starts again at every failed read instead, and the
//! holder's renewal comes first. Reads go to the stream's leader (no direct get), for the same
//! reason: a follower answering while there is no leader would let the count run on.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    kv::{self, CreateErrorKind, UpdateErrorKind},
    stream::{self, DiscardPolicy, StorageType},
};
use bytes::Bytes;

/// Where the lease lives and how long it lasts.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The KV bucket (one per cluster; holds only leases).
    pub bucket: String,
    /// The key within it (one per leader role: `core`).
    pub key: String,
    /// How long a lease lasts unless renewed; the longest the cluster goes without a leader
    /// when one dies (plus a candidate's retry interval).
    pub ttl: Duration,
    /// Copies JetStream keeps (3 on a three-server cluster).
    pub replicas: usize,
}

/// Why a lease operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another node holds the lease now (our revision is no longer the key's last): this node
    /// is not the leader, whatever it believed.
    #[error("the lease is held by another node")]
    Lost,
    /// NATS did not answer (no KV stream leader yet, timeout); the lease may still be ours.
    #[error("lease request failed: {0}")]
    Unavailable(String),
}

/// This node's handle on the lease. Cheap to clone.
#[derive(Clone)]
pub struct Lease {
    kv: kv::Store,
    config: LeaseConfig,
    /// This node's name, written as the key's value (so an operator sees who leads).
    node: String,
}

impl Lease {
    /// Creates the bucket if needed (history 1, values never expire, reads through the stream's
    /// leader, file storage, `replicas` copies).
    pub async fn open(
        client: async_nats::Client,
        config: LeaseConfig,
        node: impl Into<String>,
    ) -> Result<Self, LeaseError> {
        let js = jetstream::new(client);
        // The bucket's stream is created here, as `create_key_value` would, because that call
        // first asks for the account's info, which async-nats 0.52 cannot parse from a 2.9
        // server (the fallback); `get_key_value` then reads it as a KV bucket.
        js.get_or_create_stream(stream::Config {
            name: format!("KV_{}", config.bucket),
            subjects: vec![format!("$KV.{}.>", config.bucket)],
            max_messages_per_subject: 1,
            storage: StorageType::File,
            num_replicas: config.replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: false,
            discard: DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| LeaseError::Unavailable(format!("creating the lease bucket: {e}")))?;
        let kv = js
            .get_key_value(&config.bucket)
            .await
            .map_err(|e| LeaseError::Unavailable(format!("opening the lease bucket: {e}")))?;
        Ok(Self { kv, config, node: node.into() })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The lease's TTL.
    pub fn ttl(&self) -> Duration {
        self.config.ttl
    }

    /// Takes the lease if nobody holds it: `Ok(revision)`, or [`LeaseError::Lost`] when
    /// another node does.
    pub async fn acquire(&self) -> Result<u64, LeaseError> {
        self.kv.create(&self.config.key, Bytes::from(self.node.clone())).await.map_err(|e| match e
            .kind()
        {
            CreateErrorKind::AlreadyExists => LeaseError::Lost,
            _ => LeaseError::Unavailable(e.to_string()),
        })
    }

    /// Renews the lease held at `revision`; returns the new revision to renew next time.
    pub async fn renew(&self, revision: u64) -> Result<u64, LeaseError> {
        self.kv.update(&self.config.key, Bytes::from(self.node.clone()), revision).await.map_err(
            |e| match e.kind() {
                UpdateErrorKind::WrongLastRevision => LeaseError::Lost,
                _ => LeaseError::Unavailable(e.to_string()),
            },
        )
    }

    /// Takes the lease from a holder that left it at `revision`: `Ok(new revision)`, or
    /// [`LeaseError::Lost`] when the key moved on (renewed, or taken by another candidate).
    pub async fn take_over(&self, revision: u64) -> Result<u64, LeaseError> {
        self.renew(revision).await
    }

    /// Gives the lease up at once (a graceful shutdown or upgrade), if it is still ours.
    pub async fn release(&self, revision: u64) -> Result<(), LeaseError> {
        self.kv
            .purge_expect_revision(&self.config.key, Some(revision))
            .await
            .map_err(|e| LeaseError::Unavailable(e.to_string()))
    }

    /// Who holds the lease now, by node name, and at which revision.
    pub async fn holder(&self) -> Result<Option<(String, u64)>, LeaseError> {
        let entry = self
            .kv
            .entry(&self.config.key)
            .await
            .map_err(|e| LeaseError::Unavailable(e.to_string()))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| (String::from_utf8_lossy(&e.value).into_owned(), e.revision)))
    }
}
