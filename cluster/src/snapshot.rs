//! Snapshots: a blob of the application's state with the log sequence it covers, so a node
//! starting (or a standby catching up) replays only what came after it.
//!
//! Kept in a JetStream object store (chunked, replicated like the log): a core's state for a
//! city can outgrow one NATS message (1 MiB by default), which a KV value cannot. The object
//! `latest` is replaced by each save; JetStream writes the new chunks before the new metadata,
//! so a reader sees the old snapshot or the new one, never a mix.

use async_nats::jetstream::{self, object_store, stream::StorageType};
use serde::{Serialize, de::DeserializeOwned};
use tokio::io::AsyncReadExt;

use crate::log::{InputLog, Replay, ReplayError};

/// The one object name: only the latest snapshot matters for a replay.
const LATEST: &str = "latest";
/// The object metadata key holding the covered sequence.
const COVERS: &str = "covers-sequence";

/// A saved state and the last log sequence folded into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The state includes every record up to and including this sequence.
    pub covers: u64,
    /// The state, encoded by the application.
    pub data: Vec<u8>,
}

/// Why a snapshot could not be saved or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// NATS refused or did not answer.
    #[error("snapshot store: {0}")]
    Store(String),
    /// The stored object lacks its covered sequence (not written by [`Snapshots::save`]).
    #[error("the stored snapshot has no valid `{COVERS}` metadata")]
    Corrupt,
}

fn store_error(e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Store(e.to_string())
}

/// The snapshot store of one log. Cheap to clone. Only the leader saves.
#[derive(Clone)]
pub struct Snapshots {
    store: object_store::ObjectStore,
}

/// Where a node resumes: the latest snapshot (if any) and the log from just after it.
pub struct Resume<E> {
    /// The state to start from; `None` means start from the empty state.
    pub snapshot: Option<Snapshot>,
    /// The records after the snapshot, in order, then new ones as they come.
    pub replay: Replay<E>,
}

impl Snapshots {
    /// Creates the object store bucket if needed (file storage, `replicas` copies).
    pub async fn open(
        client: async_nats::Client,
        bucket: &str,
        replicas: usize,
    ) -> Result<Self, SnapshotError> {
        let js = jetstream::new(client);
        let store = match js.get_object_store(bucket).await {
            Ok(store) => store,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: bucket.to_owned(),
                    storage: StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .map_err(store_error)?,
        };
        Ok(Self { store })
    }

    /// Saves `data` as the state after record `covers`, replacing the previous snapshot.
    pub async fn save(&self, covers: u64, data: &[u8]) -> Result<(), SnapshotError> {
        let meta = object_store::ObjectMetadata {
            name: LATEST.to_owned(),
            metadata: [(COVERS.to_owned(), covers.to_string())].into(),
            ..Default::default()
        };
        let mut reader = data;
        self.store.put(meta, &mut reader).await.map_err(store_error)?;
        Ok(())
    }

    /// The latest snapshot, or `None` when none was ever saved.
    pub async fn latest(&self) -> Result<Option<Snapshot>, SnapshotError> {
        let mut object = match self.store.get(LATEST).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_error(e)),
        };
        let covers = object
            .info()
            .metadata
            .get(COVERS)
            .and_then(|v| v.parse().ok())
            .ok_or(SnapshotError::Corrupt)?;
        let mut data = Vec::with_capacity(object.info().size);
        object.read_to_end(&mut data).await.map_err(store_error)?;
        Ok(Some(Snapshot { covers, data }))
    }

    /// The latest snapshot and a replay of `log` from the record after it.
    pub async fn resume<E: Serialize + DeserializeOwned>(
        &self,
        log: &InputLog<E>,
    ) -> Result<Resume<E>, ResumeError> {
        let snapshot = self.latest().await?;
        let from = snapshot.as_ref().map_or(1, |s| s.covers + 1);
        let replay = log.replay(from).await?;
        Ok(Resume { snapshot, replay })
    }
}

/// Why a node could not resume from the latest snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// Reading the snapshot failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Starting the replay after it failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
}
